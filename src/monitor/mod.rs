//! The monitor: the check scheduler and the check runners (ping, configuration applied, data
//! collected, WiFi clients).
//!
//! Owns: every background task that runs checks, and stopping them. Must not: talk HTTP or
//! read sled; it reads check specs from `domain`, probes with `net`, and records through
//! `domain`.

mod icmp;
pub mod scheduler;

use std::time::Duration;

use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::domain::{Domain, contact};
use scheduler::{Prober, SchedulerSettings};

/// Stores devices' last contacts every [`contact::FLUSH_EVERY`] until stopped, then once more.
async fn flush_contacts(domain: Domain, mut stopped: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(contact::FLUSH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let stopping = tokio::select! {
            _ = tick.tick() => false,
            _ = stopped.changed() => true,
        };
        let d = domain.clone();
        match tokio::task::spawn_blocking(move || d.flush_contacts()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "storing device contacts failed; retrying later")
            }
            Err(e) => tracing::warn!(error = %e, "device contact task failed"),
        }
        if stopping {
            return;
        }
    }
}

/// How often held alerts are looked at: a maintenance window's end or a parent's recovery is
/// told within this.
const RELEASE_EVERY: Duration = Duration::from_secs(10);

/// Tells held alerts whose silence has ended (see `domain::silence`) until stopped.
async fn release_held_alerts(domain: Domain, mut stopped: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(RELEASE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped.changed() => return,
        }
        let d = domain.clone();
        match tokio::task::spawn_blocking(move || d.release_held_alerts()).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(alerts = n, "held alerts told after their silence ended"),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "releasing held alerts failed; retrying later")
            }
            Err(e) => tracing::warn!(error = %e, "held alert task failed"),
        }
    }
}

/// The running monitor: a task group with a stop signal.
#[derive(Debug)]
pub struct Monitor {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl Monitor {
    /// Starts the monitor's tasks: the check scheduler (when `checks` is given), the periodic
    /// store of device contacts and the release of held alerts.
    pub fn start(domain: Domain, checks: Option<(Arc<dyn Prober>, SchedulerSettings)>) -> Self {
        let (stop, stopped) = watch::channel(false);
        let mut tasks = JoinSet::new();
        if let Some((prober, settings)) = checks {
            tasks.spawn(scheduler::run(
                domain.clone(),
                prober,
                settings,
                stopped.clone(),
            ));
        }
        tasks.spawn(release_held_alerts(domain.clone(), stopped.clone()));
        tasks.spawn(flush_contacts(domain, stopped));
        Monitor { stop, tasks }
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
