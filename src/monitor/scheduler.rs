//! The check scheduler: every active check runs once per period, at a steady offset within
//! it, with bounded concurrency.
//!
//! Owns: the deadline set, the spreading of a round over the period, the order of a round
//! (a device's offset follows the root of its parent chain, and children come a few seconds
//! after their parent, so a dead router is found down before its site's checks fail), the
//! immediate runs the domain asks for (`Event::RunChecks`: new devices and checks, recovery
//! detection), and one run of a check: ping through a [`Prober`], the data checks through
//! the domain on a blocking thread. Must not: decide skip rules or store anything itself —
//! the domain does both.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::domain::check::CheckType;
use crate::domain::events::Event;
use crate::domain::id::Id;
use crate::domain::runs::{PingParams, PingStats, PingTarget, RunOutcome, ScheduledCheck};
use crate::domain::{Domain, DomainError};

/// How a ping check probes an address; the ICMP pinger in production, a stand-in in tests.
pub trait Prober: Send + Sync + 'static {
    /// One fping-like round to `target`. An error means we could not probe at all (no
    /// socket): nothing is stored, the device is not declared down for our own failure.
    fn ping(
        &self,
        target: IpAddr,
        params: PingParams,
    ) -> Pin<Box<dyn Future<Output = Result<PingStats, String>> + Send + '_>>;
}

/// Scheduler settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchedulerSettings {
    /// How often each check runs (`[checks] period`).
    pub period: Duration,
    /// Most checks running at once (`[checks] concurrency`).
    pub concurrency: usize,
}

/// How often the list of checks is read again (new devices whose event was lost, deleted
/// ones).
const RESYNC_EVERY: Duration = Duration::from_secs(60);
/// How often due checks and events are looked at.
const TICK: Duration = Duration::from_millis(250);
/// A child's offset after its parent's, per level of the chain.
const CHILD_LAG: Duration = Duration::from_secs(5);
/// A check asked to run again within this of its last start is not run again (every post of
/// a device still critical asks for its critical checks).
const DEBOUNCE: Duration = Duration::from_secs(10);
/// Checks found by a resync and not seen before start within this (their event was lost).
const NEW_CHECK_SPREAD: Duration = Duration::from_secs(10);
/// Data checks run on blocking threads: at most this many at once on a 2-core box.
const DATA_CHECKS_AT_ONCE: usize = 2;

/// What became of one run, for the log and for `run-checks`.
#[derive(Debug)]
pub enum RunResult {
    /// Stored a result.
    Stored,
    /// Skipped by the domain's rules.
    Skipped,
    /// Could not run (no ICMP socket, storage failure).
    Failed(String),
}

/// Where in the period a check runs: spread by the root of its device's parent chain (ids
/// are random), children a little after their parent.
fn offset(s: &ScheduledCheck, period: Duration) -> Duration {
    let mut b = [0u8; 8];
    b.copy_from_slice(&s.root.0[..8]);
    let period_ms = u64::try_from(period.as_millis()).unwrap_or(u64::MAX).max(1);
    let lag = u64::try_from(CHILD_LAG.as_millis()).unwrap_or(0) * u64::from(s.depth);
    Duration::from_millis((u64::from_be_bytes(b) % period_ms + lag) % period_ms)
}

/// Runs one check: begins it through the domain (which may skip it), probes or computes,
/// stores through the domain.
pub async fn run_one(domain: &Domain, prober: &dyn Prober, s: &ScheduledCheck) -> RunResult {
    let started = std::time::Instant::now();
    let result = run_one_untimed(domain, prober, s).await;
    let kind = s
        .check_type
        .class_path()
        .rsplit('.')
        .next()
        .unwrap_or("check")
        .to_ascii_lowercase();
    let t = crate::telemetry::global();
    let outcome = match &result {
        RunResult::Stored => "stored",
        RunResult::Skipped => "skipped",
        RunResult::Failed(_) => "failed",
    };
    t.check_runs.with(&[&kind, outcome]).inc();
    if !matches!(result, RunResult::Skipped) {
        t.check_duration.with(&[&kind]).observe(started.elapsed());
    }
    result
}

async fn run_one_untimed(domain: &Domain, prober: &dyn Prober, s: &ScheduledCheck) -> RunResult {
    let (d, dev, id) = (domain.clone(), s.device, s.id);
    let run = match blocking(move || d.begin_check(dev, id)).await {
        Ok(Some(run)) => run,
        Ok(None) => return RunResult::Skipped,
        Err(e) => return RunResult::Failed(e),
    };
    let started = std::time::Instant::now();
    let outcome = if run.check.check_type == CheckType::Ping {
        let stats = match domain.ping_target(&run.device) {
            PingTarget::Nothing => return RunResult::Skipped,
            PingTarget::Unreachable => None,
            PingTarget::Address(a) => match prober.ping(a, domain.ping_params(&run.check)).await {
                Ok(stats) => Some(stats),
                Err(e) => return RunResult::Failed(e),
            },
        };
        let d = domain.clone();
        blocking(move || d.record_ping(&run.device, stats.as_ref())).await
    } else {
        let d = domain.clone();
        blocking(move || d.run_data_check(&run)).await
    };
    match outcome {
        Ok(RunOutcome::Stored(values)) => {
            tracing::debug!(
                check = %s.id, device = %s.device, kind = ?s.check_type, ?values,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "check executed"
            );
            RunResult::Stored
        }
        Ok(RunOutcome::Skipped(_)) => RunResult::Skipped,
        Err(e) => RunResult::Failed(e),
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, DomainError> + Send + 'static,
) -> Result<T, String> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(format!("check task failed: {e}")),
    }
}

/// The scheduler's state: which check runs when.
#[derive(Debug, Default)]
struct Deadlines {
    /// Check → (its deadline, what it is).
    checks: HashMap<Id, (Instant, ScheduledCheck)>,
    /// (deadline, check), earliest first.
    queue: BTreeSet<(Instant, Id)>,
    /// Checks running now → when they started.
    running: HashMap<Id, Instant>,
    /// Last start of each check, for the debounce.
    started: HashMap<Id, Instant>,
    /// Checks asked to run again while running.
    again: BTreeSet<Id>,
}

impl Deadlines {
    fn set(&mut self, s: ScheduledCheck, at: Instant) {
        if let Some((old, _)) = self.checks.remove(&s.id) {
            self.queue.remove(&(old, s.id));
        }
        self.queue.insert((at, s.id));
        self.checks.insert(s.id, (at, s));
    }

    /// Replaces the list of checks: new ones get `first(s)`, known ones keep their deadline,
    /// gone ones are dropped.
    fn sync(&mut self, list: Vec<ScheduledCheck>, first: impl Fn(&ScheduledCheck) -> Instant) {
        let mut keep: HashMap<Id, (Instant, ScheduledCheck)> = HashMap::with_capacity(list.len());
        for s in list {
            let at = match self.checks.get(&s.id) {
                Some((at, _)) => *at,
                None => first(&s),
            };
            keep.insert(s.id, (at, s));
        }
        self.queue = keep.iter().map(|(id, (at, _))| (*at, *id)).collect();
        self.checks = keep;
    }

    /// Takes the next due check not already running.
    fn pop_due(&mut self, now: Instant) -> Option<ScheduledCheck> {
        let (at, id) = *self
            .queue
            .iter()
            .find(|(at, id)| *at <= now && !self.running.contains_key(id))?;
        self.queue.remove(&(at, id));
        let (_, s) = self.checks.get(&id)?;
        Some(s.clone())
    }
}

/// Runs the scheduler until `stopped`.
pub async fn run(
    domain: Domain,
    prober: Arc<dyn Prober>,
    settings: SchedulerSettings,
    mut stopped: watch::Receiver<bool>,
) {
    let events = domain.events().subscribe();
    let period = settings.period.max(Duration::from_secs(1));
    let start = Instant::now();
    let mut state = Deadlines::default();
    let mut tasks: JoinSet<(ScheduledCheck, Instant, RunResult)> = JoinSet::new();
    let data_slots = Arc::new(tokio::sync::Semaphore::new(DATA_CHECKS_AT_ONCE));
    let mut last_sync: Option<Instant> = None;
    let mut first_sync = true;
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failures_logged = 0u32;
    let mut wanted: BTreeSet<Id> = BTreeSet::new();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                if let Ok((s, deadline, result)) = done {
                    state.running.remove(&s.id);
                    if let RunResult::Failed(e) = &result {
                        // One line per failing check would flood the log when ICMP is
                        // unavailable: the first few, then every thousandth.
                        failures_logged = failures_logged.wrapping_add(1);
                        if failures_logged <= 5 || failures_logged % 1000 == 0 {
                            tracing::warn!(check = %s.id, device = %s.device, error = %e, "check failed");
                        }
                    }
                    let now = Instant::now();
                    let next = if state.again.remove(&s.id) {
                        now
                    } else {
                        // Keep the check's place in the period; an overrun starts soon.
                        let next = deadline + period;
                        if next < now { now + offset(&s, Duration::from_secs(5)) } else { next }
                    };
                    if state.checks.contains_key(&s.id) {
                        state.set(s, next);
                    }
                }
                continue;
            }
            _ = stopped.changed() => break,
        }
        let now = Instant::now();
        // Checks the domain wants now; one it names that is not known yet (a new device)
        // waits for the next resync, at most a second away.
        for e in events.try_iter() {
            if let Event::RunChecks { checks, .. } = e {
                wanted.extend(checks);
            }
        }
        let unknown = wanted.iter().any(|id| !state.checks.contains_key(id));
        let since_sync = last_sync.map(|t| now.duration_since(t));
        let resync_due = since_sync.is_none_or(|d| d >= RESYNC_EVERY)
            || (unknown && since_sync.is_none_or(|d| d >= Duration::from_secs(1)));
        let mut synced = false;
        if resync_due {
            let d = domain.clone();
            match blocking(move || d.scheduled_checks()).await {
                Ok(list) => {
                    let fresh = first_sync;
                    state.sync(list, |s| {
                        if fresh {
                            // After a start the whole round is spread over one period.
                            start + offset(s, period)
                        } else {
                            now + offset(s, NEW_CHECK_SPREAD)
                        }
                    });
                    first_sync = false;
                    last_sync = Some(now);
                    synced = true;
                }
                Err(e) => tracing::warn!(error = %e, "reading the checks failed; retrying"),
            }
        }
        for id in std::mem::take(&mut wanted) {
            if state.running.contains_key(&id) {
                state.again.insert(id);
                continue;
            }
            if state
                .started
                .get(&id)
                .is_some_and(|t| now.duration_since(*t) < DEBOUNCE)
            {
                continue;
            }
            match state.checks.get(&id).cloned() {
                Some((_, s)) => state.set(s, now),
                // Still unknown after a resync: inactive, gone or of a device not checked.
                None if synced => {}
                None => {
                    wanted.insert(id);
                }
            }
        }
        while tasks.len() < settings.concurrency.max(1) {
            let Some(s) = state.pop_due(now) else {
                break;
            };
            let deadline = state.checks.get(&s.id).map_or(now, |(at, _)| *at);
            state.running.insert(s.id, now);
            state.started.insert(s.id, now);
            let (d, p, slots) = (domain.clone(), prober.clone(), data_slots.clone());
            tasks.spawn(async move {
                let _slot = if s.check_type == CheckType::Ping {
                    None
                } else {
                    slots.acquire_owned().await.ok()
                };
                let r = run_one(&d, p.as_ref(), &s).await;
                (s, deadline, r)
            });
        }
    }
    // Checks in flight finish (they are short); the monitor's grace period bounds this.
    while tasks.join_next().await.is_some() {}
}

/// Summary of [`run_all_once`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RoundSummary {
    /// Checks that stored a result.
    pub stored: usize,
    /// Checks skipped by the rules.
    pub skipped: usize,
    /// Checks that could not run.
    pub failed: usize,
}

/// Runs every scheduled check once, `concurrency` at a time (`wispmon run-checks`).
///
/// # Errors
/// The list of checks cannot be read.
pub async fn run_all_once(
    domain: &Domain,
    prober: Arc<dyn Prober>,
    concurrency: usize,
) -> Result<RoundSummary, String> {
    let d = domain.clone();
    let list = blocking(move || d.scheduled_checks()).await?;
    let mut summary = RoundSummary::default();
    let mut tasks = JoinSet::new();
    let mut pending = list.into_iter();
    loop {
        while tasks.len() < concurrency.max(1) {
            let Some(s) = pending.next() else { break };
            let (d, p) = (domain.clone(), prober.clone());
            tasks.spawn(async move { run_one(&d, p.as_ref(), &s).await });
        }
        let Some(done) = tasks.join_next().await else {
            break;
        };
        match done {
            Ok(RunResult::Stored) => summary.stored += 1,
            Ok(RunResult::Skipped) => summary.skipped += 1,
            Ok(RunResult::Failed(e)) => {
                summary.failed += 1;
                tracing::warn!(error = %e, "check failed");
            }
            Err(e) => {
                summary.failed += 1;
                tracing::warn!(error = %e, "check task failed");
            }
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests;
