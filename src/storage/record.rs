//! The record store: typed, versioned, checksummed values in named trees, for the monitoring
//! domain's relational data (organizations, users, devices, ...).
//!
//! Value layout (little-endian):
//! ```text
//! +---------+----------------------+-----------+
//! | version | bincode 2 payload    | crc32     |
//! | u8      | (standard config)    | u32 LE    |
//! +---------+----------------------+-----------+
//! ```
//! The CRC covers version and payload. A record whose version this build does not know, or
//! whose checksum fails, is reported as corruption with its key; it is never skipped.
//! Every mutating call is durable when it returns, except the staging calls, whose
//! [`Unsynced`] result says so.

use std::ops::Bound;
use std::sync::Arc;

use super::error::{StorageError, hex_key};
use super::kv::Kv;

/// A type stored in the record store.
pub trait Record: bincode::Encode + bincode::Decode<()> {
    /// The tree (table) it lives in.
    const TREE: &'static str;
    /// Its encoding version; bump it (and keep a decoder for the old one) on any layout change.
    const VERSION: u8;
}

/// Typed access to the record trees.
#[derive(Debug, Clone)]
pub struct Records {
    kv: Arc<dyn Kv>,
    /// The data directory's free-space guard: records are not written when sled could meet a
    /// full disk (none in memory).
    space: Option<Arc<super::space::Space>>,
}

/// Records written by [`Records::stage_all`] that are not yet durable.
#[must_use = "staged records are not durable until `sync` is called"]
#[derive(Debug)]
pub struct Unsynced<'a> {
    records: &'a Records,
    dirty: bool,
}

impl Unsynced<'_> {
    /// Both stagings as one, to be made durable by one flush.
    pub fn and(self, other: Unsynced<'_>) -> Self {
        Unsynced {
            records: self.records,
            dirty: self.dirty || other.dirty,
        }
    }

    /// Waits until the staged records (and everything written before them) are durable.
    ///
    /// # Errors
    /// Backend failure.
    pub fn sync(self) -> Result<(), StorageError> {
        if self.dirty {
            self.records.kv.flush()?;
        }
        Ok(())
    }
}

fn config() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// Largest record accepted on decode, so a damaged length cannot make bincode allocate wildly.
const MAX_RECORD_BYTES: usize = 16 << 20;

impl Records {
    pub(crate) fn new(kv: Arc<dyn Kv>) -> Self {
        Records { kv, space: None }
    }

    /// Records whose writes are refused with [`StorageError::DiskFull`] while less than a
    /// quarter of the configured free space is left (the floor sealing waits at), so sled
    /// never meets a full disk. Removals go ahead: they are how space comes back.
    pub(crate) fn guarded(kv: Arc<dyn Kv>, space: Arc<super::space::Space>) -> Self {
        Records {
            kv,
            space: Some(space),
        }
    }

    fn check_space(&self) -> Result<(), StorageError> {
        match &self.space {
            Some(s) => s.check_backend(),
            None => Ok(()),
        }
    }

    pub(crate) fn encode<R: Record>(r: &R) -> Result<Vec<u8>, StorageError> {
        Self::encode_as::<R>(r)
    }

    /// Encodes `value` as a record of type `R`: `value` must encode exactly as an `R` does
    /// (a borrowed twin of `R`, so writers need not build an owned copy).
    pub(crate) fn encode_as<R: Record>(
        value: &impl bincode::Encode,
    ) -> Result<Vec<u8>, StorageError> {
        let mut out = vec![R::VERSION];
        bincode::encode_into_std_write(value, &mut out, config()).map_err(|e| {
            StorageError::Encode {
                what: R::TREE,
                detail: e.to_string(),
            }
        })?;
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        Ok(out)
    }

    pub(crate) fn decode<R: Record>(key: &[u8], bytes: &[u8]) -> Result<R, StorageError> {
        let corrupted = |detail: String| StorageError::Corrupted {
            what: format!("record in tree {}", R::TREE),
            key: hex_key(key),
            detail,
        };
        if bytes.len() < 5 || bytes.len() > MAX_RECORD_BYTES {
            return Err(corrupted(format!("record of {} bytes", bytes.len())));
        }
        let (body, crc) = bytes.split_at(bytes.len() - 4);
        let stored = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
        let computed = crc32fast::hash(body);
        if stored != computed {
            return Err(corrupted(format!(
                "checksum mismatch: stored {stored:08x}, computed {computed:08x}"
            )));
        }
        if body[0] != R::VERSION {
            return Err(corrupted(format!(
                "unknown record version {} (this build reads {})",
                body[0],
                R::VERSION
            )));
        }
        let cfg = config().with_limit::<MAX_RECORD_BYTES>();
        let (r, used) = bincode::decode_from_slice(&body[1..], cfg)
            .map_err(|e| corrupted(format!("undecodable: {e}")))?;
        if used != body.len() - 1 {
            return Err(corrupted(format!(
                "{} trailing bytes",
                body.len() - 1 - used
            )));
        }
        Ok(r)
    }

    /// The record under `key`.
    ///
    /// # Errors
    /// Backend failure, or corruption of the stored value.
    pub fn get<R: Record>(&self, key: &[u8]) -> Result<Option<R>, StorageError> {
        match self.kv.get(R::TREE, key)? {
            None => Ok(None),
            Some(bytes) => Self::decode(key, &bytes).map(Some),
        }
    }

    /// Stores `r` under `key`, replacing any previous record; durable on return.
    ///
    /// # Errors
    /// Backend failure, an unencodable record, or a nearly full disk.
    pub fn put<R: Record>(&self, key: &[u8], r: &R) -> Result<(), StorageError> {
        self.stage(key, r)?.sync()
    }

    /// Stores several records, replacing previous ones, with one flush: durable on return.
    ///
    /// # Errors
    /// Backend failure, an unencodable record, or a nearly full disk.
    pub fn put_all<R: Record>(&self, items: &[(Vec<u8>, R)]) -> Result<(), StorageError> {
        self.stage_all(items)?.sync()
    }

    /// Stores several records like [`Records::put_all`] (nothing at all for none) but returns
    /// before they are durable: the caller finishes with [`Unsynced::sync`] before
    /// acknowledging anything.
    ///
    /// For read-change-write sections under a caller's lock: the lock orders the changes,
    /// the wait for the disk happens after it is released, and writers that queued behind
    /// the lock then share one flush instead of taking turns at it.
    ///
    /// # Errors
    /// Backend failure, an unencodable record, or a nearly full disk.
    pub fn stage_all<R: Record>(
        &self,
        items: &[(Vec<u8>, R)],
    ) -> Result<Unsynced<'_>, StorageError> {
        if !items.is_empty() {
            self.check_space()?;
            for (key, r) in items {
                let bytes = Self::encode(r)?;
                self.kv.insert(R::TREE, key, &bytes)?;
            }
        }
        Ok(Unsynced {
            records: self,
            dirty: !items.is_empty(),
        })
    }

    /// [`Records::stage_all`] for one record.
    ///
    /// # Errors
    /// Backend failure, an unencodable record, or a nearly full disk.
    pub fn stage<R: Record>(&self, key: &[u8], r: &R) -> Result<Unsynced<'_>, StorageError> {
        self.check_space()?;
        let bytes = Self::encode(r)?;
        self.kv.insert(R::TREE, key, &bytes)?;
        Ok(Unsynced {
            records: self,
            dirty: true,
        })
    }

    /// Stores `r` under `key` only if the key is free; `true` when stored. Durable on return.
    ///
    /// # Errors
    /// Backend failure, an unencodable record, or a nearly full disk.
    pub fn insert_new<R: Record>(&self, key: &[u8], r: &R) -> Result<bool, StorageError> {
        self.check_space()?;
        let bytes = Self::encode(r)?;
        let stored = self.kv.insert_if_absent(R::TREE, key, &bytes)?;
        if stored {
            self.kv.flush()?;
        }
        Ok(stored)
    }

    /// Removes the record under `key`; durable on return.
    ///
    /// # Errors
    /// Backend failure.
    pub fn remove<R: Record>(&self, key: &[u8]) -> Result<(), StorageError> {
        self.kv.remove(R::TREE, key)?;
        self.kv.flush()?;
        Ok(())
    }

    /// Every record of type `R`, in key order.
    ///
    /// # Errors
    /// Backend failure, or the first corrupted record met.
    pub fn list<R: Record>(&self) -> Result<Vec<(Vec<u8>, R)>, StorageError> {
        self.kv
            .range(R::TREE, (Bound::Unbounded, Bound::Unbounded))?
            .map(|item| {
                let (k, v) = item?;
                let r = Self::decode(&k, &v)?;
                Ok((k, r))
            })
            .collect()
    }

    /// Every record of type `R` whose key starts with `prefix`, in key order.
    ///
    /// # Errors
    /// Backend failure, or the first corrupted record met.
    pub fn list_prefix<R: Record>(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, R)>, StorageError> {
        let end = match super::keys::prefix_end(prefix) {
            Some(e) => Bound::Excluded(e),
            None => Bound::Unbounded,
        };
        self.kv
            .range(R::TREE, (Bound::Included(prefix.to_vec()), end))?
            .map(|item| {
                let (k, v) = item?;
                let r = Self::decode(&k, &v)?;
                Ok((k, r))
            })
            .collect()
    }

    /// Whether any record of type `R` exists.
    ///
    /// # Errors
    /// Backend failure.
    pub fn is_empty<R: Record>(&self) -> Result<bool, StorageError> {
        let mut it = self
            .kv
            .range(R::TREE, (Bound::Unbounded, Bound::Unbounded))?;
        Ok(it.next().transpose()?.is_none())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::kv::MemKv;

    #[derive(Debug, PartialEq, bincode::Encode, bincode::Decode)]
    struct Thing {
        name: String,
        n: u64,
    }

    impl Record for Thing {
        const TREE: &'static str = "things";
        const VERSION: u8 = 1;
    }

    #[test]
    fn records_round_trip_and_list_in_key_order() {
        let kv: Arc<dyn Kv> = Arc::new(MemKv::default());
        let r = Records::new(kv);
        assert!(r.is_empty::<Thing>().unwrap());
        let a = Thing {
            name: "a".into(),
            n: 1,
        };
        assert!(r.insert_new(b"k2", &a).unwrap());
        assert!(!r.insert_new(b"k2", &a).unwrap());
        r.put(
            b"k1",
            &Thing {
                name: "b".into(),
                n: 2,
            },
        )
        .unwrap();
        assert_eq!(r.get::<Thing>(b"k2").unwrap(), Some(a));
        let keys: Vec<_> = r
            .list::<Thing>()
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys, [b"k1".to_vec(), b"k2".to_vec()]);
        r.remove::<Thing>(b"k1").unwrap();
        assert_eq!(r.get::<Thing>(b"k1").unwrap(), None);
    }

    #[test]
    fn damaged_records_are_reported_with_their_key() {
        let kv: Arc<dyn Kv> = Arc::new(MemKv::default());
        let r = Records::new(kv.clone());
        r.put(
            b"k",
            &Thing {
                name: "x".into(),
                n: 9,
            },
        )
        .unwrap();
        let mut raw = kv.get("things", b"k").unwrap().unwrap();
        raw[2] ^= 0xff;
        kv.insert("things", b"k", &raw).unwrap();
        let e = r.get::<Thing>(b"k").unwrap_err().to_string();
        assert!(e.contains("checksum mismatch") && e.contains("6b"), "{e}");

        // A valid checksum over an unknown version is still refused.
        let mut body = vec![9u8, 0];
        body.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        kv.insert("things", b"v", &body).unwrap();
        let e = r.get::<Thing>(b"v").unwrap_err().to_string();
        assert!(e.contains("unknown record version 9"), "{e}");

        for junk in [&b""[..], b"\x01", b"\x01\x02\x03\x04"] {
            kv.insert("things", b"j", junk).unwrap();
            assert!(r.get::<Thing>(b"j").is_err());
        }
    }
}
