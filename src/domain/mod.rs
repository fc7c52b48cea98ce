//! The monitoring domain: organizations, users, devices, metrics, charts, alerts and health.
//!
//! Owns: the product's rules as plain functions and records kept through `storage`'s record
//! store; alert evaluation and health status are pure and testable without tokio. Must not:
//! touch sockets, HTTP or sled, or read the wall clock other than through `time::Clock`.

mod error;
pub mod registry;
pub mod timeseries;
pub mod user;

pub use error::DomainError;

use crate::storage::{Records, Storage};
use crate::time::SharedClock;

/// The domain's handle: records plus the clock, shared by the API and the monitor.
#[derive(Debug, Clone)]
pub struct Domain {
    records: Records,
    clock: SharedClock,
}

impl Domain {
    /// The domain over an open storage.
    pub fn new(storage: &Storage, clock: SharedClock) -> Self {
        Domain {
            records: storage.records(),
            clock,
        }
    }

    /// Creates the administrator account on the very first start (see [`user::bootstrap_admin`]).
    ///
    /// # Errors
    /// As [`user::bootstrap_admin`].
    pub fn bootstrap_admin(
        &self,
        given_password: Option<&str>,
    ) -> Result<user::AdminBootstrap, DomainError> {
        user::bootstrap_admin(&self.records, given_password, self.clock.now())
    }

    /// The active user with these credentials.
    ///
    /// # Errors
    /// Storage failure.
    pub fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<user::User>, DomainError> {
        user::authenticate(&self.records, username, password)
    }
}
