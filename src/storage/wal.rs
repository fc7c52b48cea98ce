//! The write-ahead log: acknowledged batches not yet sealed into blocks, in append-only
//! segment files of the data directory (not in sled: transient multi-KiB records churn sled's
//! log and blob files, which it reclaims late; measured 92 bytes/value on disk that way).
//!
//! ```text
//! <data_dir>/wal/<segment id, 16 hex digits>.wal
//! record: magic u8 (0xA7) | payload len u32 LE | seq u64 LE | crc32 u32 LE | payload
//!         (the CRC covers seq and payload; payload = a record-store encoded WalRecord)
//! ```
//! Durability: a group of records is appended with one `write`; once it returns the records
//! survive the process being killed (they are in the kernel's page cache). With `fsync` the
//! file is also `fdatasync`ed before returning, so they survive power loss.
//!
//! Recovery reads every segment in order. A damaged record at the very end of the last
//! segment is a write cut short by a crash (never acknowledged) and is cut off; damage
//! anywhere else is corruption and is reported with its segment and offset.
//!
//! Segments rotate when the head is frozen for sealing, so the records of a frozen head are
//! exactly the closed segments, which are deleted once its blocks are durable.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use super::error::StorageError;

const MAGIC: u8 = 0xA7;
const HEADER: usize = 1 + 4 + 8 + 4;
/// Largest record accepted on read, so a damaged length cannot make recovery allocate wildly.
pub(crate) const MAX_RECORD: usize = 256 << 20;

/// A record read back at recovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Replayed {
    pub(crate) seq: u64,
    pub(crate) payload: Vec<u8>,
}

/// Damage found while reading the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WalDamage {
    pub(crate) segment: String,
    pub(crate) offset: u64,
    pub(crate) detail: String,
}

/// The log: on disk, or in memory for tests (where it outlives an engine to model a crash).
#[derive(Debug, Clone)]
pub(crate) enum Wal {
    File(Arc<FileWal>),
    Memory(Arc<MemWal>),
}

/// In-memory log: segments of encoded records.
#[derive(Debug, Default)]
pub(crate) struct MemWal {
    segments: Mutex<BTreeMap<u64, Vec<Replayed>>>,
}

#[derive(Debug)]
pub(crate) struct FileWal {
    dir: PathBuf,
    fsync: bool,
    inner: Mutex<FileInner>,
}

#[derive(Debug)]
struct FileInner {
    current: u64,
    file: File,
    /// Bytes of the current segment known to hold whole records.
    len: u64,
    /// Segment id → highest sequence number in it (0 = none yet).
    segments: BTreeMap<u64, u64>,
}

fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:016x}.wal"))
}

fn io_err(action: &'static str, path: &Path, source: std::io::Error) -> StorageError {
    StorageError::File {
        action,
        path: path.to_owned(),
        source,
    }
}

fn encode_record(out: &mut Vec<u8>, seq: u64, payload: &[u8]) -> Result<(), StorageError> {
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|&l| (l as usize) <= MAX_RECORD)
        .ok_or_else(|| {
            StorageError::Invalid(format!("batch of {} bytes is too large", payload.len()))
        })?;
    let mut h = crc32fast::Hasher::new();
    h.update(&seq.to_le_bytes());
    h.update(payload);
    out.push(MAGIC);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&h.finalize().to_le_bytes());
    out.extend_from_slice(payload);
    Ok(())
}

/// Parses the records of one segment; returns them, and where and why parsing stopped early.
fn parse_segment(bytes: &[u8]) -> (Vec<Replayed>, Option<(u64, String)>) {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < bytes.len() {
        let rest = &bytes[pos..];
        if rest.len() < HEADER {
            return (out, Some((pos as u64, "truncated record header".into())));
        }
        if rest[0] != MAGIC {
            return (
                out,
                Some((pos as u64, format!("bad magic byte {:#04x}", rest[0]))),
            );
        }
        let len = u32::from_le_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
        let mut seq_b = [0u8; 8];
        seq_b.copy_from_slice(&rest[5..13]);
        let seq = u64::from_le_bytes(seq_b);
        let crc = u32::from_le_bytes([rest[13], rest[14], rest[15], rest[16]]);
        if len > MAX_RECORD || rest.len() < HEADER + len {
            return (
                out,
                Some((
                    pos as u64,
                    format!("record of {len} bytes runs past the end"),
                )),
            );
        }
        let payload = &rest[HEADER..HEADER + len];
        let mut h = crc32fast::Hasher::new();
        h.update(&seq_b);
        h.update(payload);
        if h.finalize() != crc {
            return (out, Some((pos as u64, "checksum mismatch".into())));
        }
        out.push(Replayed {
            seq,
            payload: payload.to_vec(),
        });
        pos += HEADER + len;
    }
    (out, None)
}

impl Wal {
    /// An in-memory log.
    pub(crate) fn memory() -> Wal {
        Wal::Memory(Arc::new(MemWal::default()))
    }

    /// Opens the log in `dir`, returning every intact record in order and the damage found.
    /// A torn tail of the last segment is truncated away.
    pub(crate) fn open(
        dir: &Path,
        fsync: bool,
    ) -> Result<(Wal, Vec<Replayed>, Vec<WalDamage>), StorageError> {
        fs::create_dir_all(dir).map_err(|e| io_err("creating log directory", dir, e))?;
        let mut ids: Vec<u64> = fs::read_dir(dir)
            .map_err(|e| io_err("reading log directory", dir, e))?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                u64::from_str_radix(name.strip_suffix(".wal")?, 16).ok()
            })
            .collect();
        ids.sort_unstable();
        let mut records = Vec::new();
        let mut damage = Vec::new();
        let mut segments = BTreeMap::new();
        for (i, &id) in ids.iter().enumerate() {
            let path = segment_path(dir, id);
            let mut bytes = Vec::new();
            File::open(&path)
                .and_then(|mut f| f.read_to_end(&mut bytes))
                .map_err(|e| io_err("reading log segment", &path, e))?;
            let (recs, stop) = parse_segment(&bytes);
            segments.insert(id, recs.iter().map(|r| r.seq).max().unwrap_or(0));
            records.extend(recs);
            if let Some((offset, detail)) = stop {
                let last = i + 1 == ids.len();
                if last {
                    // A write cut short by a crash: it was never acknowledged.
                    let f = OpenOptions::new()
                        .write(true)
                        .open(&path)
                        .map_err(|e| io_err("opening log segment", &path, e))?;
                    f.set_len(offset)
                        .map_err(|e| io_err("truncating torn log tail", &path, e))?;
                    f.sync_all()
                        .map_err(|e| io_err("syncing log segment", &path, e))?;
                    tracing::warn!(segment = %path.display(), offset, detail, "cut off a torn write at the end of the log");
                } else {
                    damage.push(WalDamage {
                        segment: path.display().to_string(),
                        offset,
                        detail,
                    });
                }
            }
        }
        let current = ids.last().map_or(1, |l| l + 1);
        let path = segment_path(dir, current);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| io_err("creating log segment", &path, e))?;
        sync_dir(dir)?;
        segments.insert(current, 0);
        let len = 0;
        let wal = FileWal {
            dir: dir.to_owned(),
            fsync,
            inner: Mutex::new(FileInner {
                current,
                file,
                len,
                segments,
            }),
        };
        Ok((Wal::File(Arc::new(wal)), records, damage))
    }

    /// Records of an in-memory log, for a reopened engine.
    #[cfg(test)]
    pub(crate) fn replay_memory(&self) -> Vec<Replayed> {
        match self {
            Wal::Memory(m) => m.segments.lock().values().flatten().cloned().collect(),
            Wal::File(_) => Vec::new(),
        }
    }

    /// Appends `records` (seq, payload) as one write; durable per the sync policy on return.
    pub(crate) fn append(&self, records: &[(u64, Vec<u8>)]) -> Result<(), StorageError> {
        if records.is_empty() {
            return Ok(());
        }
        match self {
            Wal::Memory(m) => {
                let mut segs = m.segments.lock();
                let id = segs.keys().next_back().copied().unwrap_or(1);
                let seg = segs.entry(id).or_default();
                seg.extend(records.iter().map(|(seq, p)| Replayed {
                    seq: *seq,
                    payload: p.clone(),
                }));
                Ok(())
            }
            Wal::File(f) => {
                let mut buf =
                    Vec::with_capacity(records.iter().map(|(_, p)| p.len() + HEADER).sum());
                for (seq, p) in records {
                    encode_record(&mut buf, *seq, p)?;
                }
                let mut inner = f.inner.lock();
                let path = segment_path(&f.dir, inner.current);
                let written = inner.file.write_all(&buf).and_then(|()| {
                    if f.fsync {
                        inner.file.sync_data()
                    } else {
                        Ok(())
                    }
                });
                if let Err(e) = written {
                    // A partial record must not stay in front of later ones: cut it off, or
                    // if that fails too, continue in a fresh segment.
                    let len = inner.len;
                    if inner.file.set_len(len).is_err() {
                        f.start_segment(&mut inner)?;
                    }
                    return Err(io_err("appending to the log", &path, e));
                }
                inner.len += buf.len() as u64;
                let max = records.iter().map(|(s, _)| *s).max().unwrap_or(0);
                let cur = inner.current;
                if let Some(m) = inner.segments.get_mut(&cur) {
                    *m = (*m).max(max);
                }
                Ok(())
            }
        }
    }

    /// Starts a new segment; records appended from now on are not in the closed ones.
    pub(crate) fn rotate(&self) -> Result<(), StorageError> {
        match self {
            Wal::Memory(m) => {
                let mut segs = m.segments.lock();
                let next = segs.keys().next_back().map_or(1, |l| l + 1);
                segs.insert(next, Vec::new());
                Ok(())
            }
            Wal::File(f) => {
                let mut inner = f.inner.lock();
                if inner.segments.get(&inner.current) == Some(&0) {
                    return Ok(()); // the current segment is still empty
                }
                f.start_segment(&mut inner)
            }
        }
    }

    /// Deletes closed segments whose records all have `seq <= through`.
    pub(crate) fn remove_through(&self, through: u64) -> Result<(), StorageError> {
        match self {
            Wal::Memory(m) => {
                let mut segs = m.segments.lock();
                let last = segs.keys().next_back().copied();
                segs.retain(|id, recs| Some(*id) == last || recs.iter().any(|r| r.seq > through));
                Ok(())
            }
            Wal::File(f) => {
                let mut inner = f.inner.lock();
                let current = inner.current;
                let done: Vec<u64> = inner
                    .segments
                    .iter()
                    .filter(|(id, max)| **id != current && **max <= through)
                    .map(|(id, _)| *id)
                    .collect();
                for id in &done {
                    let path = segment_path(&f.dir, *id);
                    match fs::remove_file(&path) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(io_err("removing sealed log segment", &path, e)),
                    }
                    inner.segments.remove(id);
                }
                if !done.is_empty() {
                    sync_dir(&f.dir)?;
                }
                Ok(())
            }
        }
    }

    /// A cut of the log for a backup: each segment's file and how many of its bytes hold the
    /// records appended so far. Callers hold off appends (the engine's commit lock) while
    /// taking it, and removals (the seal lock) until they have read the bytes.
    pub(crate) fn cut(&self) -> Result<Vec<(PathBuf, u64)>, StorageError> {
        match self {
            Wal::Memory(_) => Err(StorageError::Invalid(
                "an in-memory log cannot be backed up".into(),
            )),
            Wal::File(f) => {
                let inner = f.inner.lock();
                let mut out = Vec::with_capacity(inner.segments.len());
                for id in inner.segments.keys() {
                    let path = segment_path(&f.dir, *id);
                    let len = if *id == inner.current {
                        inner.len
                    } else {
                        fs::metadata(&path)
                            .map_err(|e| io_err("reading log segment size", &path, e))?
                            .len()
                    };
                    out.push((path, len));
                }
                Ok(out)
            }
        }
    }

    /// Bytes the log holds on disk.
    pub(crate) fn size(&self) -> u64 {
        match self {
            Wal::Memory(m) => m
                .segments
                .lock()
                .values()
                .flatten()
                .map(|r| r.payload.len() as u64)
                .sum(),
            Wal::File(f) => {
                let inner = f.inner.lock();
                inner
                    .segments
                    .keys()
                    .filter_map(|id| fs::metadata(segment_path(&f.dir, *id)).ok())
                    .map(|m| m.len())
                    .sum()
            }
        }
    }
}

impl FileWal {
    /// Closes the current segment and appends to a new, empty one from now on.
    fn start_segment(&self, inner: &mut FileInner) -> Result<(), StorageError> {
        let next = inner.current + 1;
        let path = segment_path(&self.dir, next);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| io_err("creating log segment", &path, e))?;
        sync_dir(&self.dir)?;
        inner.file = file;
        inner.current = next;
        inner.len = 0;
        inner.segments.insert(next, 0);
        Ok(())
    }
}

fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err("syncing directory", dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recs(r: std::ops::Range<u64>) -> Vec<(u64, Vec<u8>)> {
        r.map(|s| (s, format!("payload {s}").into_bytes()))
            .collect()
    }

    #[test]
    fn file_wal_appends_rotates_replays_and_removes() {
        let dir = tempfile::tempdir().unwrap();
        let (w, r, d) = Wal::open(dir.path(), false).unwrap();
        assert!(r.is_empty() && d.is_empty());
        w.append(&recs(1..4)).unwrap();
        w.rotate().unwrap();
        w.append(&recs(4..6)).unwrap();
        drop(w);
        let (w, r, d) = Wal::open(dir.path(), true).unwrap();
        assert!(d.is_empty());
        assert_eq!(r.iter().map(|x| x.seq).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
        assert_eq!(r[4].payload, b"payload 5");
        w.remove_through(3).unwrap();
        drop(w);
        let (_, r, _) = Wal::open(dir.path(), false).unwrap();
        assert_eq!(r.iter().map(|x| x.seq).collect::<Vec<_>>(), [4, 5]);
    }

    #[test]
    fn torn_tail_is_cut_and_damage_elsewhere_reported() {
        let dir = tempfile::tempdir().unwrap();
        let (w, _, _) = Wal::open(dir.path(), false).unwrap();
        w.append(&recs(1..3)).unwrap();
        drop(w);
        let seg = segment_path(dir.path(), 1);
        let full = fs::read(&seg).unwrap();
        // Cut the last record in half: a crash mid-write.
        fs::write(&seg, &full[..full.len() - 4]).unwrap();
        let (w, r, d) = Wal::open(dir.path(), false).unwrap();
        assert_eq!(r.len(), 1);
        assert!(d.is_empty());
        w.append(&recs(7..8)).unwrap();
        drop(w);
        // Now flip a byte in the first (closed) segment: that is corruption, reported.
        let mut bytes = fs::read(&seg).unwrap();
        bytes[HEADER + 2] ^= 1;
        fs::write(&seg, &bytes).unwrap();
        let (_, r, d) = Wal::open(dir.path(), false).unwrap();
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].detail, "checksum mismatch");
        assert_eq!(r.iter().map(|x| x.seq).collect::<Vec<_>>(), [7]);
    }

    #[test]
    fn parse_never_panics_on_junk() {
        let mut seed = 7u64;
        for n in 0..2000 {
            let bytes: Vec<u8> = (0..n % 97)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            let _ = parse_segment(&bytes);
        }
        let mut one = Vec::new();
        encode_record(&mut one, 9, b"abc").unwrap();
        for cut in 0..one.len() {
            let (r, stop) = parse_segment(&one[..cut]);
            assert!(r.is_empty() && (cut == 0 || stop.is_some()));
        }
    }

    #[test]
    fn memory_wal_behaves_like_the_file_one() {
        let w = Wal::memory();
        w.append(&recs(1..3)).unwrap();
        w.rotate().unwrap();
        w.append(&recs(3..4)).unwrap();
        w.remove_through(2).unwrap();
        assert_eq!(
            w.replay_memory().iter().map(|r| r.seq).collect::<Vec<_>>(),
            [3]
        );
    }
}
