//! Backups: a consistent copy of an open (or stopped) data directory streamed to one file, and
//! the restore that turns such a file back into a data directory.
//!
//! Consistency: the copy is the state a crash at one instant would have left — every record
//! tree as of that instant, the stored blocks and series as of that instant, and the log's
//! records up to it — so a restore starts like a recovery after that crash, which the engine's
//! crash tests already cover. Writes are held only while the record trees are copied (they are
//! small); the blocks are copied while writes go on, with seals held off (see
//! `Engine::backup_phases`).
//!
//! File layout (integers little-endian):
//! ```text
//! header  "WISPMON-BACKUP\n" | backup format u32 (1) | storage format u32
//! frame   kind u8 | body length u32 | body | crc32 of kind and body u32
//!   kind 1, tree entry:  tree name length u16 | tree name | key length u32 | key | value
//!   kind 2, log bytes:   segment file name length u16 | name | bytes (at most 1 MiB a frame)
//!   kind 3, end:         entries u64 | log bytes u64
//! ```
//! A file without its end frame, or with any checksum failing, restores nothing.

use super::engine::BLOCKS;
use super::error::StorageError;
use super::kv::{BatchOp, Kv, SledKv};
use super::meta::FORMAT_VERSION;
use super::record::Record;
use super::series::SeriesRecord;
use crate::config::StorageConfig;
use std::io::{self, Read, Write};
use std::ops::Bound;
use std::path::{Path, PathBuf};

const MAGIC: &[u8] = b"WISPMON-BACKUP\n";
const BACKUP_FORMAT: u32 = 1;
const KIND_ENTRY: u8 = 1;
const KIND_LOG: u8 = 2;
const KIND_END: u8 = 3;
/// Largest frame accepted on read, so a damaged length cannot make a restore allocate wildly.
const MAX_FRAME: usize = 256 << 20;
const LOG_CHUNK: usize = 1 << 20;
/// Entries are written to the new database in batches of about this many bytes.
const RESTORE_BATCH_BYTES: usize = 16 << 20;

/// What a backup or restore copied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackupSummary {
    /// Tree entries (records, catalog, series, blocks).
    pub entries: u64,
    /// Bytes of write-ahead log (acknowledged writes not yet sealed into blocks).
    pub log_bytes: u64,
    /// Bytes of the backup file.
    pub file_bytes: u64,
}

/// Trees copied after writes resume: only seals and block rewrites change them.
fn copied_late(tree: &str) -> bool {
    tree == BLOCKS || tree == SeriesRecord::TREE
}

struct FrameWriter<'a> {
    out: &'a mut dyn Write,
    bytes: u64,
    body: Vec<u8>,
}

impl FrameWriter<'_> {
    fn frame(&mut self, kind: u8) -> io::Result<()> {
        let len = u32::try_from(self.body.len())
            .ok()
            .filter(|&l| (l as usize) <= MAX_FRAME)
            .ok_or_else(|| io::Error::other("backup frame too large"))?;
        let mut crc = crc32fast::Hasher::new();
        crc.update(&[kind]);
        crc.update(&self.body);
        self.out.write_all(&[kind])?;
        self.out.write_all(&len.to_le_bytes())?;
        self.out.write_all(&self.body)?;
        self.out.write_all(&crc.finalize().to_le_bytes())?;
        self.bytes += 9 + self.body.len() as u64;
        self.body.clear();
        Ok(())
    }

    fn entry(&mut self, tree: &str, key: &[u8], value: &[u8]) -> Result<(), StorageError> {
        let name_len = u16::try_from(tree.len())
            .map_err(|_| StorageError::Invalid(format!("tree name {tree:?} too long")))?;
        let key_len = u32::try_from(key.len())
            .map_err(|_| StorageError::Invalid("key too long for a backup".into()))?;
        self.body.extend_from_slice(&name_len.to_le_bytes());
        self.body.extend_from_slice(tree.as_bytes());
        self.body.extend_from_slice(&key_len.to_le_bytes());
        self.body.extend_from_slice(key);
        self.body.extend_from_slice(value);
        self.frame(KIND_ENTRY).map_err(write_err)
    }

    fn tree(&mut self, kv: &dyn Kv, tree: &str) -> Result<u64, StorageError> {
        let mut n = 0;
        for item in kv.range(tree, (Bound::Unbounded, Bound::Unbounded))? {
            let (k, v) = item?;
            self.entry(tree, &k, &v)?;
            n += 1;
        }
        Ok(n)
    }
}

fn write_err(e: io::Error) -> StorageError {
    StorageError::File {
        action: "writing the backup",
        path: PathBuf::from("<backup>"),
        source: e,
    }
}

fn read_err(e: io::Error) -> StorageError {
    StorageError::File {
        action: "reading the backup",
        path: PathBuf::from("<backup>"),
        source: e,
    }
}

fn bad(detail: impl Into<String>) -> StorageError {
    StorageError::Corrupted {
        what: "backup file".into(),
        key: String::new(),
        detail: detail.into(),
    }
}

/// Streams a consistent backup of `kv` and the engine's log to `out`. `hold` blocks every
/// record-store mutation while the guard lives.
pub(crate) fn write_backup<G>(
    kv: &dyn Kv,
    hold: impl FnOnce() -> G,
    engine: &super::Engine,
    out: &mut dyn Write,
) -> Result<BackupSummary, StorageError> {
    let mut w = FrameWriter {
        out,
        bytes: 0,
        body: Vec::new(),
    };
    w.out.write_all(MAGIC).map_err(write_err)?;
    w.out
        .write_all(&BACKUP_FORMAT.to_le_bytes())
        .map_err(write_err)?;
    w.out
        .write_all(&FORMAT_VERSION.to_le_bytes())
        .map_err(write_err)?;
    w.bytes = (MAGIC.len() + 8) as u64;
    let (mut w, mut summary) = engine.backup_phases(
        move |cut| {
            let mut summary = BackupSummary::default();
            let _held = hold();
            let trees = kv.tree_names()?;
            for t in trees.iter().filter(|t| !copied_late(t)) {
                summary.entries += w.tree(kv, t)?;
            }
            Ok((cut, w, summary))
        },
        |(cut, mut w, mut summary)| {
            for t in [SeriesRecord::TREE, BLOCKS] {
                summary.entries += w.tree(kv, t)?;
            }
            for (path, len) in cut {
                summary.log_bytes += copy_log(&mut w, &path, len)?;
            }
            Ok((w, summary))
        },
    )?;
    w.body.extend_from_slice(&summary.entries.to_le_bytes());
    w.body.extend_from_slice(&summary.log_bytes.to_le_bytes());
    w.frame(KIND_END).map_err(write_err)?;
    w.out.flush().map_err(write_err)?;
    summary.file_bytes = w.bytes;
    Ok(summary)
}

fn copy_log(w: &mut FrameWriter<'_>, path: &Path, len: u64) -> Result<u64, StorageError> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| StorageError::Invalid(format!("log segment {}", path.display())))?
        .to_owned();
    let file = std::fs::File::open(path).map_err(|e| StorageError::File {
        action: "reading log segment",
        path: path.to_owned(),
        source: e,
    })?;
    let mut rest = file.take(len);
    let mut copied = 0u64;
    let mut chunk = vec![0u8; LOG_CHUNK];
    loop {
        let n = read_full(&mut rest, &mut chunk).map_err(|e| StorageError::File {
            action: "reading log segment",
            path: path.to_owned(),
            source: e,
        })?;
        if n == 0 && copied > 0 {
            break;
        }
        // Name length fits: segment names are 20 bytes.
        w.body
            .extend_from_slice(&u16::try_from(name.len()).unwrap_or(0).to_le_bytes());
        w.body.extend_from_slice(name.as_bytes());
        w.body.extend_from_slice(&chunk[..n]);
        w.frame(KIND_LOG).map_err(write_err)?;
        copied += n as u64;
        if n < chunk.len() {
            break;
        }
    }
    if copied != len {
        return Err(StorageError::Invalid(format!(
            "log segment {} is shorter than its cut ({copied} of {len} bytes)",
            path.display()
        )));
    }
    Ok(copied)
}

/// Reads until `buf` is full or the input ends.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// A log segment's file name as the log writes it: 16 hex digits and `.wal`. Anything else
/// (a path, `..`) is refused, so a crafted backup cannot write outside the log directory.
fn valid_segment_name(name: &str) -> bool {
    name.len() == 20 && name.ends_with(".wal") && name[..16].bytes().all(|b| b.is_ascii_hexdigit())
}

fn take_u16(b: &mut &[u8]) -> Option<u16> {
    let (h, t) = b.split_first_chunk::<2>()?;
    *b = t;
    Some(u16::from_le_bytes(*h))
}

fn take_u32(b: &mut &[u8]) -> Option<u32> {
    let (h, t) = b.split_first_chunk::<4>()?;
    *b = t;
    Some(u32::from_le_bytes(*h))
}

fn take_u64(b: &mut &[u8]) -> Option<u64> {
    let (h, t) = b.split_first_chunk::<8>()?;
    *b = t;
    Some(u64::from_le_bytes(*h))
}

fn take_bytes<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if b.len() < n {
        return None;
    }
    let (h, t) = b.split_at(n);
    *b = t;
    Some(h)
}

/// Restores a backup into `data_dir`, which must not hold a database yet. The new database
/// and log are built beside their final places and moved in only once the whole file has
/// been read and checked, so a damaged or cut-off file leaves no half-restored directory.
pub(crate) fn restore(
    input: &mut dyn Read,
    data_dir: &Path,
    cfg: &StorageConfig,
) -> Result<BackupSummary, StorageError> {
    let db = data_dir.join("db");
    let wal = data_dir.join("wal");
    for p in [&db, &wal] {
        if p.exists() {
            return Err(StorageError::Invalid(format!(
                "{} already exists: restore into a data directory without a database (move \
                 the old one away first)",
                p.display()
            )));
        }
    }
    super::create_private_dir(data_dir)?;
    let db_tmp = data_dir.join("db.restoring");
    let wal_tmp = data_dir.join("wal.restoring");
    for p in [&db_tmp, &wal_tmp] {
        if p.exists() {
            std::fs::remove_dir_all(p).map_err(|e| StorageError::File {
                action: "removing an interrupted restore",
                path: p.clone(),
                source: e,
            })?;
        }
    }
    let result = restore_into(input, &db_tmp, &wal_tmp, cfg);
    match result {
        Ok(summary) => {
            for (from, to) in [(&wal_tmp, &wal), (&db_tmp, &db)] {
                std::fs::rename(from, to).map_err(|e| StorageError::File {
                    action: "moving the restored data in place",
                    path: to.clone(),
                    source: e,
                })?;
            }
            Ok(summary)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&db_tmp);
            let _ = std::fs::remove_dir_all(&wal_tmp);
            Err(e)
        }
    }
}

fn restore_into(
    input: &mut dyn Read,
    db_dir: &Path,
    wal_dir: &Path,
    cfg: &StorageConfig,
) -> Result<BackupSummary, StorageError> {
    std::fs::create_dir_all(wal_dir).map_err(|e| StorageError::File {
        action: "creating log directory",
        path: wal_dir.to_owned(),
        source: e,
    })?;
    let kv = SledKv::open(db_dir, cfg.cache_capacity.0)?;
    let mut pending: Option<(String, Vec<BatchOp>, usize)> = None;
    let flush = |kv: &SledKv, p: &mut Option<(String, Vec<BatchOp>, usize)>| {
        if let Some((tree, ops, _)) = p.take() {
            kv.apply(&tree, ops)?;
        }
        Ok::<(), StorageError>(())
    };
    let mut log: Option<(String, std::fs::File)> = None;
    let summary = read_frames(input, |frame| {
        match frame {
            Frame::Entry { tree, key, value } => {
                if pending.as_ref().is_none_or(|(t, _, _)| t != tree) {
                    flush(&kv, &mut pending)?;
                    pending = Some((tree.to_owned(), Vec::new(), 0));
                }
                let full = pending.as_mut().is_some_and(|(_, ops, bytes)| {
                    *bytes += key.len() + value.len();
                    ops.push((key.to_vec(), Some(value.to_vec())));
                    *bytes > RESTORE_BATCH_BYTES
                });
                if full {
                    flush(&kv, &mut pending)?;
                }
            }
            Frame::Log { segment, bytes } => {
                if log.as_ref().is_none_or(|(n, _)| n != segment) {
                    if let Some((_, f)) = log.take() {
                        f.sync_all().map_err(read_err)?;
                    }
                    let path = wal_dir.join(segment);
                    let f = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&path)
                        .map_err(|e| StorageError::File {
                            action: "writing restored log segment",
                            path,
                            source: e,
                        })?;
                    log = Some((segment.to_owned(), f));
                }
                if let Some((_, f)) = log.as_mut() {
                    f.write_all(bytes).map_err(read_err)?;
                }
            }
        }
        Ok(())
    })?;
    flush(&kv, &mut pending)?;
    if let Some((_, f)) = log.take() {
        f.sync_all().map_err(read_err)?;
    }
    kv.flush()?;
    super::meta::check_format(&kv)?;
    Ok(summary)
}

/// One frame's content, as [`read_frames`] hands it over.
enum Frame<'a> {
    Entry {
        tree: &'a str,
        key: &'a [u8],
        value: &'a [u8],
    },
    Log {
        segment: &'a str,
        bytes: &'a [u8],
    },
}

/// Checks a backup from start to end frame without restoring it.
pub(crate) fn verify(input: &mut dyn Read) -> Result<BackupSummary, StorageError> {
    read_frames(input, |_| Ok(()))
}

/// Reads a backup's header and frames, checking every checksum and the end frame's counts,
/// and hands each entry and log chunk to `on_frame`. Succeeds only at a matching end frame.
fn read_frames(
    input: &mut dyn Read,
    mut on_frame: impl FnMut(Frame<'_>) -> Result<(), StorageError>,
) -> Result<BackupSummary, StorageError> {
    let mut head = [0u8; 15 + 8];
    input.read_exact(&mut head).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            bad("too short to be a wispmon backup")
        } else {
            read_err(e)
        }
    })?;
    if &head[..15] != MAGIC {
        return Err(bad("not a wispmon backup (bad magic)"));
    }
    let mut rest = &head[15..];
    let format = take_u32(&mut rest).unwrap_or(0);
    let storage = take_u32(&mut rest).unwrap_or(0);
    if format != BACKUP_FORMAT {
        return Err(bad(format!(
            "backup format {format}, this build reads {BACKUP_FORMAT}"
        )));
    }
    if storage != FORMAT_VERSION {
        return Err(StorageError::UnsupportedFormat {
            found: storage,
            supported: FORMAT_VERSION,
        });
    }
    let mut summary = BackupSummary {
        file_bytes: head.len() as u64,
        ..BackupSummary::default()
    };
    loop {
        let mut fh = [0u8; 5];
        input.read_exact(&mut fh).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                bad("the file ends before its end frame (a cut-off backup)")
            } else {
                read_err(e)
            }
        })?;
        let kind = fh[0];
        let len = u32::from_le_bytes([fh[1], fh[2], fh[3], fh[4]]) as usize;
        if len > MAX_FRAME {
            return Err(bad(format!("frame of {len} bytes")));
        }
        let mut body = Vec::new();
        (&mut *input)
            .take(len as u64 + 4)
            .read_to_end(&mut body)
            .map_err(read_err)?;
        if body.len() != len + 4 {
            return Err(bad("the file ends inside a frame (a cut-off backup)"));
        }
        let crc_bytes = body.split_off(len);
        let stored = u32::from_le_bytes([crc_bytes[0], crc_bytes[1], crc_bytes[2], crc_bytes[3]]);
        let mut crc = crc32fast::Hasher::new();
        crc.update(&[kind]);
        crc.update(&body);
        if crc.finalize() != stored {
            return Err(bad(format!(
                "checksum mismatch in the frame at byte {}",
                summary.file_bytes
            )));
        }
        summary.file_bytes += 9 + len as u64;
        let mut b = body.as_slice();
        match kind {
            KIND_ENTRY => {
                let tree = take_u16(&mut b)
                    .and_then(|n| take_bytes(&mut b, n as usize))
                    .and_then(|t| std::str::from_utf8(t).ok())
                    .ok_or_else(|| bad("damaged tree name"))?;
                let key = take_u32(&mut b)
                    .and_then(|n| take_bytes(&mut b, n as usize))
                    .ok_or_else(|| bad("damaged key"))?;
                on_frame(Frame::Entry {
                    tree,
                    key,
                    value: b,
                })?;
                summary.entries += 1;
            }
            KIND_LOG => {
                let segment = take_u16(&mut b)
                    .and_then(|n| take_bytes(&mut b, n as usize))
                    .and_then(|t| std::str::from_utf8(t).ok())
                    .filter(|n| valid_segment_name(n))
                    .ok_or_else(|| bad("damaged log segment name"))?;
                summary.log_bytes += b.len() as u64;
                on_frame(Frame::Log { segment, bytes: b })?;
            }
            KIND_END => {
                let entries = take_u64(&mut b).ok_or_else(|| bad("damaged end frame"))?;
                let log_bytes = take_u64(&mut b).ok_or_else(|| bad("damaged end frame"))?;
                if entries != summary.entries || log_bytes != summary.log_bytes {
                    return Err(bad(format!(
                        "the end frame counts {entries} entries and {log_bytes} log bytes, \
                         the file holds {} and {}",
                        summary.entries, summary.log_bytes
                    )));
                }
                return Ok(summary);
            }
            other => return Err(bad(format!("unknown frame kind {other}"))),
        }
    }
}

#[cfg(test)]
mod tests;
