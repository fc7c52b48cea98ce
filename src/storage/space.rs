//! Free space of the data directory's file system, and the rule that keeps the disk from
//! filling under the engine: writes are refused while less than `[storage] min_free_space`
//! is free, and sealing and record writes wait while less than a quarter of it is. sled
//! cannot recover from a failed write of its own without a restart (every later read answers
//! the same I/O error), so it must never be the one that meets a full disk; the write-ahead
//! log, which fails cleanly, is.
//!
//! Owns the `rustix` dependency (statvfs without `unsafe`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::error::StorageError;

/// How long a reading of the free space is reused: a write path check costs no syscall.
const FRESH: Duration = Duration::from_millis(250);

/// The data directory's free space, checked against a floor.
#[derive(Debug)]
pub(crate) struct Space {
    dir: PathBuf,
    min_free: u64,
    last: Mutex<Option<(Instant, u64)>>,
}

impl Space {
    /// The guard of `dir`, refusing writes below `min_free` bytes free (0 turns it off).
    pub(crate) fn new(dir: &Path, min_free: u64) -> Space {
        Space {
            dir: dir.to_owned(),
            min_free,
            last: Mutex::new(None),
        }
    }

    /// Bytes an unprivileged process may still write there (a fresh or recent reading).
    pub(crate) fn free(&self) -> std::io::Result<u64> {
        let mut last = self.last.lock();
        if let Some((at, free)) = *last
            && at.elapsed() < FRESH
        {
            return Ok(free);
        }
        let s = rustix::fs::statvfs(&self.dir).map_err(std::io::Error::from)?;
        let free = s.f_bavail.saturating_mul(s.f_frsize);
        *last = Some((Instant::now(), free));
        Ok(free)
    }

    fn below(&self, floor: u64) -> Result<(), StorageError> {
        if self.min_free == 0 {
            return Ok(());
        }
        // A file system that cannot say does not stop writes: the log would fail cleanly.
        let Ok(free) = self.free() else {
            return Ok(());
        };
        if free < floor {
            return Err(StorageError::DiskFull {
                free,
                needed: floor,
                path: self.dir.clone(),
            });
        }
        Ok(())
    }

    /// Whether a point write may go ahead (`min_free_space` free).
    pub(crate) fn check_write(&self) -> Result<(), StorageError> {
        self.below(self.min_free)
    }

    /// Whether sled may be written (a quarter of `min_free_space` free): sealing and records.
    pub(crate) fn check_backend(&self) -> Result<(), StorageError> {
        self.below(self.min_free / 4)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_refuses_and_zero_turns_it_off() {
        let dir = tempfile::tempdir().unwrap();
        let free = Space::new(dir.path(), 1).free().unwrap();
        assert!(free > 0);
        Space::new(dir.path(), 1).check_write().unwrap();
        Space::new(dir.path(), 0).check_write().unwrap();
        let e = Space::new(dir.path(), u64::MAX).check_write().unwrap_err();
        assert!(
            e.to_string().contains("disk full"),
            "the error says what happened: {e}"
        );
        // The backend's floor is lower: a quarter.
        let s = Space::new(dir.path(), free.saturating_mul(2));
        assert!(s.check_write().is_err());
        s.check_backend().unwrap();
    }
}
