//! The data directory's bookkeeping: the storage format version record and the
//! unclean-shutdown marker.
//!
//! The marker is a file written (and fsynced) when storage opens and removed only after a clean
//! close has flushed everything; finding it at start means the previous run crashed or was
//! killed, and recovery must verify what it reads.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::error::StorageError;
use super::kv::Kv;

/// The storage format this build writes and reads.
pub(crate) const FORMAT_VERSION: u32 = 1;

/// Tree holding bookkeeping records.
pub(crate) const META_TREE: &str = "meta";
const FORMAT_KEY: &[u8] = b"format_version";

/// Name of the marker file inside the data directory.
pub const UNCLEAN_MARKER: &str = "unclean-shutdown";

/// Checks the format version record, writing it into a fresh database.
pub(crate) fn check_format(kv: &dyn Kv) -> Result<(), StorageError> {
    let ours = FORMAT_VERSION.to_le_bytes();
    if kv.insert_if_absent(META_TREE, FORMAT_KEY, &ours)? {
        return Ok(());
    }
    let found = kv.get(META_TREE, FORMAT_KEY)?.unwrap_or_default();
    let found: [u8; 4] = found
        .as_slice()
        .try_into()
        .map_err(|_| StorageError::Corrupted {
            what: "format version record".into(),
            key: "meta/format_version".into(),
            detail: format!("expected 4 bytes, found {}", found.len()),
        })?;
    let found = u32::from_le_bytes(found);
    if found != FORMAT_VERSION {
        return Err(StorageError::UnsupportedFormat {
            found,
            supported: FORMAT_VERSION,
        });
    }
    Ok(())
}

/// The unclean-shutdown marker of an open data directory.
#[derive(Debug)]
pub(crate) struct Marker {
    path: PathBuf,
}

impl Marker {
    /// Writes the marker; returns it and whether one was already there (an unclean shutdown).
    pub(crate) fn create(dir: &Path) -> Result<(Marker, bool), StorageError> {
        let path = dir.join(UNCLEAN_MARKER);
        let existed = path.exists();
        let file_err = |action, source| StorageError::File {
            action,
            path: path.clone(),
            source,
        };
        let mut f = fs::File::create(&path).map_err(|e| file_err("creating", e))?;
        writeln!(f, "pid {}", std::process::id()).map_err(|e| file_err("writing", e))?;
        f.sync_all().map_err(|e| file_err("syncing", e))?;
        sync_dir(dir)?;
        Ok((Marker { path }, existed))
    }

    /// Removes the marker; call only once everything is flushed.
    pub(crate) fn remove(self) -> Result<(), StorageError> {
        fs::remove_file(&self.path).map_err(|source| StorageError::File {
            action: "removing",
            path: self.path.clone(),
            source,
        })?;
        if let Some(dir) = self.path.parent() {
            sync_dir(dir)?;
        }
        Ok(())
    }
}

/// Makes a directory entry change (create/remove) durable.
fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| StorageError::File {
            action: "syncing directory",
            path: dir.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::kv::MemKv;

    #[test]
    fn format_version_is_written_once_and_checked() {
        let kv = MemKv::default();
        check_format(&kv).unwrap();
        check_format(&kv).unwrap();
        kv.insert(META_TREE, FORMAT_KEY, &7u32.to_le_bytes())
            .unwrap();
        assert!(matches!(
            check_format(&kv),
            Err(StorageError::UnsupportedFormat {
                found: 7,
                supported: 1
            })
        ));
        kv.insert(META_TREE, FORMAT_KEY, b"xy").unwrap();
        assert!(matches!(
            check_format(&kv),
            Err(StorageError::Corrupted { .. })
        ));
    }

    #[test]
    fn marker_reports_a_previous_unclean_run() {
        let dir = tempfile::tempdir().unwrap();
        let (m, existed) = Marker::create(dir.path()).unwrap();
        assert!(!existed);
        drop(m); // a crash: never removed
        let (m, existed) = Marker::create(dir.path()).unwrap();
        assert!(existed);
        m.remove().unwrap();
        assert!(!dir.path().join(UNCLEAN_MARKER).exists());
    }
}
