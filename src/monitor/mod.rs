//! The monitor: the check scheduler and the check runners (ping, configuration applied, data
//! collected, WiFi clients).
//!
//! Owns: every background task that runs checks, and stopping them. Must not: talk HTTP or
//! read sled; it reads check specs from `domain`, probes with `net`, and records through
//! `domain`.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::domain::Domain;

/// The running monitor: a task group with a stop signal.
#[derive(Debug)]
pub struct Monitor {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl Monitor {
    /// Starts the monitor's tasks. No check type is implemented yet, so the group is empty;
    /// check runners join it as they arrive.
    pub fn start(_domain: Domain) -> Self {
        let (stop, _) = watch::channel(false);
        Monitor {
            stop,
            tasks: JoinSet::new(),
        }
    }

    /// Number of tasks running.
    pub fn task_count(&self) -> usize {
        self.tasks.len()
    }

    /// Signals every task to stop and waits for them up to `grace`; tasks still running after
    /// that are aborted. Returns how many had to be aborted.
    pub async fn stop(mut self, grace: Duration) -> usize {
        let _ = self.stop.send(true);
        let drained = tokio::time::timeout(grace, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_ok() {
            return 0;
        }
        let left = self.tasks.len();
        self.tasks.shutdown().await;
        left
    }
}
