//! Errors of the monitoring domain.

use crate::storage::StorageError;

/// A failure of a domain operation.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// The storage below failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A value given by an operator is not acceptable.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// Which field.
        field: &'static str,
        /// Why, lowercase.
        reason: String,
    },
    /// The object does not exist, or the caller may not see it (the same answer, so that
    /// existence does not leak across organizations).
    #[error("not found")]
    NotFound,
    /// A request refused with a message shown as is (chart parameters: upstream answers a
    /// one-element JSON list).
    #[error("{0}")]
    Refused(String),
    /// A chart could not be rendered (a registry override that does not fit the metric).
    #[error("chart failed: {0}")]
    Chart(String),
    /// The caller may see the object but not change it.
    #[error("permission denied")]
    Forbidden,
    /// Password hashing failed (a bug or an exhausted system).
    #[error("password hashing failed: {0}")]
    PasswordHash(String),
    /// The remote timeseries store failed or answered what it should not (a remote InfluxDB
    /// down, refusing, or out of its protocol).
    #[error("timeseries backend failed: {0}")]
    Backend(String),
    /// The operating system's random source failed.
    #[error("random source failed: {0}")]
    Random(String),
}
