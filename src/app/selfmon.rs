//! `[telemetry] database`: the numbers `/metrics` serves, also written every `interval` into
//! a database of the timeseries backend (embedded or remote), so the UI's Grafana-style
//! queries and Grafana itself can chart wispmon: request rates and latencies, points
//! written, check runs, engine sizes, memory. One point per metric and label set per
//! interval, under the metric's Prometheus name.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::config::TelemetryConfig;
use crate::domain::Domain;
use crate::storage::{Engine, FieldValue, Point};
use crate::time::SharedClock;

/// The running writer.
#[derive(Debug)]
pub struct SelfMonitor {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// The snapshot of every self-monitoring number at `time`, as points.
pub fn snapshot(engine: &Engine, time: i64) -> Vec<Point> {
    let gauges = crate::api::gauges(engine);
    crate::telemetry::global()
        .samples(&gauges)
        .into_iter()
        .map(|s| Point {
            measurement: s.measurement.to_owned(),
            tags: s
                .tags
                .into_iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            fields: s
                .fields
                .into_iter()
                .map(|(k, v)| (k.to_owned(), FieldValue::Float(v)))
                .collect(),
            time,
        })
        .collect()
}

impl SelfMonitor {
    /// Creates the database and starts writing, unless `cfg.database` is empty.
    ///
    /// # Errors
    /// The database cannot be created.
    pub async fn start(
        domain: &Domain,
        engine: Arc<Engine>,
        cfg: &TelemetryConfig,
        clock: SharedClock,
    ) -> anyhow::Result<Option<SelfMonitor>> {
        if cfg.database.is_empty() {
            return Ok(None);
        }
        let (db, retention) = (cfg.database.clone(), cfg.retention);
        let ts = domain.timeseries().clone();
        tokio::task::spawn_blocking(move || ts.ensure_database(&db, retention))
            .await
            .context("self-monitoring database task failed")?
            .with_context(|| format!("creating the self-monitoring database {}", cfg.database))?;
        info!(database = %cfg.database, interval = ?cfg.interval, "writing self-monitoring numbers");
        let (stop, mut stopped) = oneshot::channel();
        let (db, period) = (cfg.database.clone(), cfg.interval);
        let ts = domain.timeseries().clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = tick.tick() => {}
                }
                let (engine, ts, db, clock) =
                    (engine.clone(), ts.clone(), db.clone(), clock.clone());
                let written = tokio::task::spawn_blocking(move || {
                    let points = snapshot(&engine, clock.now().as_nanos());
                    ts.write(&db, None, points)
                })
                .await;
                match written {
                    Ok(Ok(_)) => {}
                    // A failed snapshot is lost, not retried: the next one carries the same
                    // (cumulative) numbers.
                    Ok(Err(e)) => warn!(error = %e, "writing self-monitoring numbers failed"),
                    Err(e) => warn!(error = %e, "self-monitoring task failed"),
                }
            }
        });
        Ok(Some(SelfMonitor { stop, task }))
    }

    /// Stops after the write in progress, if any.
    pub async fn stop(self, limit: Duration) {
        let _ = self.stop.send(());
        let mut task = self.task;
        if tokio::time::timeout(limit, &mut task).await.is_err() {
            task.abort();
        }
    }
}
