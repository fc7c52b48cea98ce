//! The key-value backend: the only module that uses `sled`.
//!
//! Owns: opening sled 0.34 with a bounded cache, named trees, point reads and writes, atomic
//! batches, ordered range scans and durability (`flush`). [`MemKv`] is an in-memory twin with
//! the same contract for tests. Must not: interpret keys or values.
//!
//! Contract: after [`Kv::flush`] returns `Ok`, every write made before the call survives a
//! crash of the process and a power loss (sled's flush fsyncs its log). Writes not yet flushed
//! may be lost, but a batch is all-or-nothing.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Bound;
use std::path::Path;

use std::sync::Arc;

use parking_lot::{Mutex, RwLock, RwLockWriteGuard};

use super::error::KvError;

/// An owned key or value.
pub(crate) type Bytes = Vec<u8>;

/// One entry of an atomic batch: `Some(value)` inserts, `None` removes.
pub(crate) type BatchOp = (Bytes, Option<Bytes>);

/// An ordered scan's items.
pub(crate) type KvIter<'a> = Box<dyn Iterator<Item = Result<(Bytes, Bytes), KvError>> + 'a>;

/// Ordered key-value trees with atomic batches and explicit durability.
pub(crate) trait Kv: Send + Sync + fmt::Debug {
    /// The value under `key` in `tree`.
    fn get(&self, tree: &str, key: &[u8]) -> Result<Option<Bytes>, KvError>;
    /// Sets `key` to `value`.
    fn insert(&self, tree: &str, key: &[u8], value: &[u8]) -> Result<(), KvError>;
    /// Sets `key` to `value` only if `key` is absent; `true` when it was set.
    fn insert_if_absent(&self, tree: &str, key: &[u8], value: &[u8]) -> Result<bool, KvError>;
    /// Removes `key`.
    fn remove(&self, tree: &str, key: &[u8]) -> Result<(), KvError>;
    /// Applies every op of `batch` atomically.
    fn apply(&self, tree: &str, batch: Vec<BatchOp>) -> Result<(), KvError>;
    /// Entries with keys in `range`, in key order.
    fn range(&self, tree: &str, range: (Bound<Bytes>, Bound<Bytes>))
    -> Result<KvIter<'_>, KvError>;
    /// The entry with the greatest key in `range` (a backend that can seek backwards
    /// overrides this scan).
    fn last_in(
        &self,
        tree: &str,
        range: (Bound<Bytes>, Bound<Bytes>),
    ) -> Result<Option<(Bytes, Bytes)>, KvError> {
        self.range(tree, range)?.last().transpose()
    }
    /// Makes every earlier write durable.
    fn flush(&self) -> Result<(), KvError>;
    /// Bytes the backend occupies on disk (0 in memory).
    fn size_on_disk(&self) -> Result<u64, KvError>;
    /// Names of the trees that exist.
    fn tree_names(&self) -> Result<Vec<String>, KvError>;
}

/// A backend whose writes can be held still for a moment: every mutation runs under the
/// gate's shared side, and [`Gated::hold`] takes the exclusive side, so a backup reads every
/// tree as of one instant while reads go on.
#[derive(Debug)]
pub(crate) struct Gated {
    inner: Arc<dyn Kv>,
    gate: RwLock<()>,
}

impl Gated {
    pub(crate) fn new(inner: Arc<dyn Kv>) -> Self {
        Gated {
            inner,
            gate: RwLock::new(()),
        }
    }

    /// Blocks every mutation until the guard drops. Callers must not write through this
    /// backend while holding it.
    pub(crate) fn hold(&self) -> RwLockWriteGuard<'_, ()> {
        self.gate.write()
    }
}

impl Kv for Gated {
    fn get(&self, tree: &str, key: &[u8]) -> Result<Option<Bytes>, KvError> {
        self.inner.get(tree, key)
    }

    fn insert(&self, tree: &str, key: &[u8], value: &[u8]) -> Result<(), KvError> {
        let _g = self.gate.read();
        self.inner.insert(tree, key, value)
    }

    fn insert_if_absent(&self, tree: &str, key: &[u8], value: &[u8]) -> Result<bool, KvError> {
        let _g = self.gate.read();
        self.inner.insert_if_absent(tree, key, value)
    }

    fn remove(&self, tree: &str, key: &[u8]) -> Result<(), KvError> {
        let _g = self.gate.read();
        self.inner.remove(tree, key)
    }

    fn apply(&self, tree: &str, batch: Vec<BatchOp>) -> Result<(), KvError> {
        let _g = self.gate.read();
        self.inner.apply(tree, batch)
    }

    fn range(
        &self,
        tree: &str,
        range: (Bound<Bytes>, Bound<Bytes>),
    ) -> Result<KvIter<'_>, KvError> {
        self.inner.range(tree, range)
    }

    fn last_in(
        &self,
        tree: &str,
        range: (Bound<Bytes>, Bound<Bytes>),
    ) -> Result<Option<(Bytes, Bytes)>, KvError> {
        self.inner.last_in(tree, range)
    }

    fn flush(&self) -> Result<(), KvError> {
        self.inner.flush()
    }

    fn size_on_disk(&self) -> Result<u64, KvError> {
        self.inner.size_on_disk()
    }

    fn tree_names(&self) -> Result<Vec<String>, KvError> {
        self.inner.tree_names()
    }
}

/// sled 0.34, on disk.
pub(crate) struct SledKv {
    db: sled::Db,
}

impl fmt::Debug for SledKv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SledKv").finish_non_exhaustive()
    }
}

fn sled_err(e: sled::Error) -> KvError {
    match e {
        sled::Error::Io(io) if io.kind() == std::io::ErrorKind::WouldBlock => {
            KvError::Locked(io.to_string())
        }
        sled::Error::Io(io) => {
            // sled reports the lock held by another process as a plain I/O error.
            let msg = io.to_string();
            if msg.contains("lock") {
                KvError::Locked(msg)
            } else {
                KvError::Io(io)
            }
        }
        sled::Error::Corruption { at, .. } => KvError::Corrupted(format!("at {at:?}")),
        other => KvError::Corrupted(other.to_string()),
    }
}

impl SledKv {
    /// Opens (or creates) the database in `dir` with a page cache of `cache_bytes`.
    pub(crate) fn open(dir: &Path, cache_bytes: u64) -> Result<Self, KvError> {
        let config = sled::Config::new()
            .path(dir)
            .cache_capacity(cache_bytes)
            // Durability is explicit (flush before acknowledging); the background flusher only
            // bounds how much unacknowledged work sits in memory.
            .flush_every_ms(Some(1000))
            // Our values are few and large and rewritten by seals and compaction; favour
            // reclaiming the space of old versions over raw write throughput.
            .mode(sled::Mode::LowSpace);
        // A handle closed by this process a moment ago may still hold the file lock until its
        // flusher thread ends (reopening after close, vacuum): retry that case briefly. Another
        // process holding the lock still fails after the last try.
        let mut tries = 0;
        loop {
            match config.open() {
                Ok(db) => return Ok(SledKv { db }),
                Err(e) if tries < 50 && e.to_string().contains("lock") => {
                    tries += 1;
                    #[allow(clippy::disallowed_methods)] // a short, bounded wait on a plain thread
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => return Err(sled_err(e)),
            }
        }
    }

    fn tree(&self, name: &str) -> Result<sled::Tree, KvError> {
        self.db.open_tree(name).map_err(sled_err)
    }
}

impl Kv for SledKv {
    fn get(&self, tree: &str, key: &[u8]) -> Result<Option<Bytes>, KvError> {
        Ok(self
            .tree(tree)?
            .get(key)
            .map_err(sled_err)?
            .map(|v| v.to_vec()))
    }

    fn insert(&self, tree: &str, key: &[u8], value: &[u8]) -> Result<(), KvError> {
        self.tree(tree)?.insert(key, value).map_err(sled_err)?;
        Ok(())
    }

    fn insert_if_absent(&self, tree: &str, key: &[u8], value: &[u8]) -> Result<bool, KvError> {
        let r = self
            .tree(tree)?
            .compare_and_swap(key, None as Option<&[u8]>, Some(value))
            .map_err(sled_err)?;
        Ok(r.is_ok())
    }

    fn remove(&self, tree: &str, key: &[u8]) -> Result<(), KvError> {
        self.tree(tree)?.remove(key).map_err(sled_err)?;
        Ok(())
    }

    fn apply(&self, tree: &str, batch: Vec<BatchOp>) -> Result<(), KvError> {
        let mut b = sled::Batch::default();
        for (k, v) in batch {
            match v {
                Some(v) => b.insert(k, v),
                None => b.remove(k),
            }
        }
        self.tree(tree)?.apply_batch(b).map_err(sled_err)
    }

    fn range(
        &self,
        tree: &str,
        range: (Bound<Bytes>, Bound<Bytes>),
    ) -> Result<KvIter<'_>, KvError> {
        let it = self.tree(tree)?.range::<Bytes, _>(range);
        Ok(Box::new(it.map(|r| {
            r.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(sled_err)
        })))
    }

    fn last_in(
        &self,
        tree: &str,
        range: (Bound<Bytes>, Bound<Bytes>),
    ) -> Result<Option<(Bytes, Bytes)>, KvError> {
        self.tree(tree)?
            .range::<Bytes, _>(range)
            .next_back()
            .transpose()
            .map(|e| e.map(|(k, v)| (k.to_vec(), v.to_vec())))
            .map_err(sled_err)
    }

    fn flush(&self) -> Result<(), KvError> {
        self.db.flush().map_err(sled_err)?;
        Ok(())
    }

    fn size_on_disk(&self) -> Result<u64, KvError> {
        self.db.size_on_disk().map_err(sled_err)
    }

    fn tree_names(&self) -> Result<Vec<String>, KvError> {
        Ok(self
            .db
            .tree_names()
            .into_iter()
            .filter(|n| n.as_ref() != SLED_DEFAULT_TREE)
            .map(|n| String::from_utf8_lossy(&n).into_owned())
            .collect())
    }
}

/// sled's unnamed default tree; wispmon keeps nothing there.
const SLED_DEFAULT_TREE: &[u8] = b"__sled__default";

/// Copies every tree of the sled database in `dir` into a fresh one and swaps it in, so the
/// space of deleted and overwritten data is returned to the file system (sled reuses freed
/// space but never shrinks its file). Offline: the caller holds no open database.
///
/// Crash safety: the copy is flushed before any rename; [`finish_interrupted_vacuum`] at the
/// next open completes or undoes a swap cut short.
pub(crate) fn vacuum(dir: &Path, cache_bytes: u64) -> Result<(), KvError> {
    let fresh = dir.with_extension("vacuum");
    if fresh.exists() {
        std::fs::remove_dir_all(&fresh)?;
    }
    {
        let old = SledKv::open(dir, cache_bytes)?;
        let new = SledKv::open(&fresh, cache_bytes)?;
        for name in old.db.tree_names() {
            let from = old.db.open_tree(&name).map_err(sled_err)?;
            let to = new.db.open_tree(&name).map_err(sled_err)?;
            let mut batch = sled::Batch::default();
            let mut bytes = 0usize;
            for item in from.iter() {
                let (k, v) = item.map_err(sled_err)?;
                bytes += k.len() + v.len();
                batch.insert(k, v);
                if bytes > 16 << 20 {
                    to.apply_batch(std::mem::take(&mut batch))
                        .map_err(sled_err)?;
                    bytes = 0;
                }
            }
            to.apply_batch(batch).map_err(sled_err)?;
        }
        new.db.flush().map_err(sled_err)?;
    }
    let old = dir.with_extension("old");
    std::fs::rename(dir, &old)?;
    std::fs::rename(&fresh, dir)?;
    std::fs::remove_dir_all(&old)?;
    Ok(())
}

/// Completes or undoes a [`vacuum`] that a crash interrupted.
pub(crate) fn finish_interrupted_vacuum(dir: &Path) -> Result<(), KvError> {
    let fresh = dir.with_extension("vacuum");
    let old = dir.with_extension("old");
    if dir.exists() {
        // Either the swap finished (only the old copy is left) or it never started.
        if old.exists() {
            std::fs::remove_dir_all(&old)?;
        }
        if fresh.exists() {
            std::fs::remove_dir_all(&fresh)?;
        }
    } else if old.exists() {
        // Cut between the two renames: the fresh copy was complete (flushed) before either.
        if fresh.exists() {
            std::fs::rename(&fresh, dir)?;
            std::fs::remove_dir_all(&old)?;
        } else {
            std::fs::rename(&old, dir)?;
        }
    }
    Ok(())
}

/// In-memory twin of [`SledKv`] for tests; same ordering and atomicity, nothing durable.
#[derive(Debug, Default)]
pub(crate) struct MemKv {
    trees: Mutex<BTreeMap<String, BTreeMap<Bytes, Bytes>>>,
}

impl Kv for MemKv {
    fn get(&self, tree: &str, key: &[u8]) -> Result<Option<Bytes>, KvError> {
        Ok(self
            .trees
            .lock()
            .get(tree)
            .and_then(|t| t.get(key).cloned()))
    }

    fn insert(&self, tree: &str, key: &[u8], value: &[u8]) -> Result<(), KvError> {
        self.trees
            .lock()
            .entry(tree.to_owned())
            .or_default()
            .insert(key.to_vec(), value.to_vec());
        Ok(())
    }

    fn insert_if_absent(&self, tree: &str, key: &[u8], value: &[u8]) -> Result<bool, KvError> {
        let mut trees = self.trees.lock();
        let t = trees.entry(tree.to_owned()).or_default();
        if t.contains_key(key) {
            return Ok(false);
        }
        t.insert(key.to_vec(), value.to_vec());
        Ok(true)
    }

    fn remove(&self, tree: &str, key: &[u8]) -> Result<(), KvError> {
        if let Some(t) = self.trees.lock().get_mut(tree) {
            t.remove(key);
        }
        Ok(())
    }

    fn apply(&self, tree: &str, batch: Vec<BatchOp>) -> Result<(), KvError> {
        let mut trees = self.trees.lock();
        let t = trees.entry(tree.to_owned()).or_default();
        for (k, v) in batch {
            match v {
                Some(v) => t.insert(k, v),
                None => t.remove(&k),
            };
        }
        Ok(())
    }

    fn range(
        &self,
        tree: &str,
        range: (Bound<Bytes>, Bound<Bytes>),
    ) -> Result<KvIter<'_>, KvError> {
        // Snapshot the range so the lock is not held while the caller iterates.
        let items: Vec<(Bytes, Bytes)> = self
            .trees
            .lock()
            .get(tree)
            .map(|t| {
                t.range(range)
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Box::new(items.into_iter().map(Ok)))
    }

    fn flush(&self) -> Result<(), KvError> {
        Ok(())
    }

    fn size_on_disk(&self) -> Result<u64, KvError> {
        Ok(0)
    }

    fn tree_names(&self) -> Result<Vec<String>, KvError> {
        Ok(self.trees.lock().keys().cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One contract, run against both backends.
    fn exercise(kv: &dyn Kv) {
        assert_eq!(kv.get("t", b"a").unwrap(), None);
        kv.insert("t", b"a", b"1").unwrap();
        kv.insert("u", b"a", b"other tree").unwrap();
        assert_eq!(kv.get("t", b"a").unwrap().as_deref(), Some(&b"1"[..]));
        assert!(!kv.insert_if_absent("t", b"a", b"2").unwrap());
        assert!(kv.insert_if_absent("t", b"b", b"2").unwrap());
        kv.apply(
            "t",
            vec![
                (b"c".to_vec(), Some(b"3".to_vec())),
                (b"a".to_vec(), None),
                (b"d".to_vec(), Some(b"4".to_vec())),
            ],
        )
        .unwrap();
        let keys: Vec<Bytes> = kv
            .range(
                "t",
                (
                    Bound::Included(b"b".to_vec()),
                    Bound::Excluded(b"d".to_vec()),
                ),
            )
            .unwrap()
            .map(|r| r.unwrap().0)
            .collect();
        assert_eq!(keys, [b"b".to_vec(), b"c".to_vec()]);
        let last = |lo: &[u8], hi: &[u8]| {
            kv.last_in(
                "t",
                (Bound::Included(lo.to_vec()), Bound::Excluded(hi.to_vec())),
            )
            .unwrap()
        };
        assert_eq!(last(b"a", b"d"), Some((b"c".to_vec(), b"3".to_vec())));
        assert_eq!(last(b"a", b"c"), Some((b"b".to_vec(), b"2".to_vec())));
        assert_eq!(last(b"a", b"b"), None);
        kv.remove("t", b"b").unwrap();
        let all = kv
            .range("t", (Bound::Unbounded, Bound::Unbounded))
            .unwrap()
            .count();
        assert_eq!(all, 2);
        kv.flush().unwrap();
    }

    #[test]
    fn mem_kv_meets_the_contract() {
        exercise(&MemKv::default());
    }

    #[test]
    fn sled_kv_meets_the_contract_and_persists() {
        let dir = tempfile::tempdir().unwrap();
        {
            let kv = SledKv::open(dir.path(), 1 << 20).unwrap();
            exercise(&kv);
        }
        let kv = SledKv::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(kv.get("t", b"c").unwrap().as_deref(), Some(&b"3"[..]));
        assert_eq!(
            kv.get("u", b"a").unwrap().as_deref(),
            Some(&b"other tree"[..])
        );
    }
}
