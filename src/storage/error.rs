//! Errors of the storage layer, one enum per family of operations.

use std::path::PathBuf;

/// A failure of the key-value backend (sled, or the in-memory twin).
#[derive(Debug, thiserror::Error)]
pub enum KvError {
    /// The backend reported an I/O error (disk full, permissions, device error).
    #[error("storage I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The backend found its own files damaged.
    #[error("storage backend reports corruption: {0}")]
    Corrupted(String),
    /// Another process holds the database (sled takes an exclusive file lock).
    #[error("the data directory is in use by another process: {0}")]
    Locked(String),
}

/// A failure of [`crate::storage::Storage`] as a whole.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The backend failed.
    #[error(transparent)]
    Kv(#[from] KvError),
    /// A file in the data directory could not be created, read or removed.
    #[error("{action} {path}: {source}")]
    File {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Stored bytes fail their checksum or cannot be decoded; never skipped silently.
    #[error("corrupted {what} at key {key}: {detail}")]
    Corrupted {
        /// What kind of value (record tree name, block, log record).
        what: String,
        /// The key, hex-encoded.
        key: String,
        /// What check failed.
        detail: String,
    },
    /// The data directory was written by a newer (or unknown) format.
    #[error(
        "data directory has storage format version {found}; this build reads version {supported}"
    )]
    UnsupportedFormat {
        /// The version found on disk.
        found: u32,
        /// The version this build writes.
        supported: u32,
    },
    /// The database does not exist (InfluxDB's wording).
    #[error("database not found: \"{name}\"")]
    DatabaseNotFound {
        /// The name asked for.
        name: String,
    },
    /// The retention policy does not exist (InfluxDB's wording).
    #[error("retention policy not found: {name}")]
    RetentionPolicyNotFound {
        /// The name asked for.
        name: String,
    },
    /// A retention policy of that name exists with other settings.
    #[error("retention policy already exists")]
    RetentionPolicyConflict,
    /// A request the engine refuses (bad name, bad duration, bad window).
    #[error("{0}")]
    Invalid(String),
    /// Too little free space on the data directory's file system to take more data (before
    /// it is entirely full, so nothing is left half-written).
    #[error(
        "disk full: {free} bytes free on the file system of {path}, below the {needed} bytes [storage] min_free_space keeps; free space or grow the disk, writes resume by themselves"
    )]
    DiskFull {
        /// Bytes free.
        free: u64,
        /// The floor.
        needed: u64,
        /// The data directory.
        path: PathBuf,
    },
    /// A group write failed on the backend; every batch of the group gets this.
    #[error("write failed: {0}")]
    WriteFailed(String),
    /// The engine is shutting down or stopped.
    #[error("storage is closed")]
    Closed,
    /// A value to be stored could not be encoded.
    #[error("encoding {what}: {detail}")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// The encoder's message.
        detail: String,
    },
}

/// Hex form of a key for error messages, truncated so a huge key cannot bloat a log line.
pub(crate) fn hex_key(key: &[u8]) -> String {
    const MAX: usize = 64;
    let mut s: String = key.iter().take(MAX).map(|b| format!("{b:02x}")).collect();
    if key.len() > MAX {
        s.push('…');
    }
    s
}
