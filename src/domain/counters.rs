//! Interface byte counters → traffic per sample, right even when samples arrive out of order.
//!
//! Routers report lifetime counters; charts want bytes per period. Upstream subtracts the
//! counters of the last sample *received*, so a backlog flushed after an outage (sent in file
//! name order, `dd-mm-YYYY`, which is not time order across a month end) produces wrong
//! deltas, and the first sample of an interface stores its whole lifetime as one spike.
//!
//! Here the raw counters of every sample are kept in the embedded engine (database
//! [`COUNTERS_DB`], written durably just before the sample's metric points; a crash between
//! the two leaves the sample unacknowledged, and the agent's retry stores the same counters
//! and so the same traffic again, as `tests/crash_http.rs` checks), and a sample's traffic is
//! computed against its predecessor **in sample time**:
//! - no predecessor within [`MAX_GAP`]: no traffic point (unknown, not a spike);
//! - a reboot between the two samples (uptime shorter than the time between them, or
//!   decreasing): the counters since boot;
//! - a counter smaller than before without a reboot (interface re-created): the new value;
//! - otherwise the difference.
//!
//! When a sample lands before an already stored one (its successor), the successor's traffic
//! is recomputed against the new sample and rewritten at the same time stamp (last write wins
//! per field), so totals over a backlog are exact whatever the arrival order.
//!
//! Owns: that rule, the counters database's layout, and a per-interface cache of the newest
//! sample so the common in-order case reads nothing.

use std::collections::HashMap;

use parking_lot::Mutex;

use super::error::DomainError;
use super::id::Id;
use crate::storage::{ColumnValues, Engine, FieldValue, Point};

/// The internal database holding raw counters (not listed by `SHOW DATABASES`).
pub const COUNTERS_DB: &str = crate::storage::INTERNAL_DB_PREFIX;
/// Its measurement.
pub const COUNTERS_MEASUREMENT: &str = "interface_counters";
/// How long raw counters are kept.
pub const COUNTERS_RETENTION: std::time::Duration = std::time::Duration::from_secs(7 * 86_400);
/// The largest gap between two samples whose counters are subtracted.
pub const MAX_GAP: i64 = 2 * 86_400 * 1_000_000_000;
/// Clock slack allowed when comparing uptime with the time between samples.
const UPTIME_SLACK_NS: i64 = 60 * 1_000_000_000;

/// One sample's counters of one interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Raw {
    /// Sample time, ns.
    pub t: i64,
    /// Received bytes since boot.
    pub rx: u64,
    /// Sent bytes since boot.
    pub tx: u64,
    /// Device uptime at the sample, seconds, when reported.
    pub uptime: Option<u64>,
}

/// Bytes between `prev` and `cur` (see the module documentation).
pub fn delta(prev: &Raw, cur: &Raw) -> (u64, u64) {
    let elapsed = cur.t.saturating_sub(prev.t);
    let rebooted = match (prev.uptime, cur.uptime) {
        (Some(p), Some(c)) => {
            let c_ns = i64::try_from(c)
                .unwrap_or(i64::MAX / 2)
                .saturating_mul(1_000_000_000);
            c < p || c_ns.saturating_add(UPTIME_SLACK_NS) < elapsed
        }
        _ => false,
    };
    let one = |p: u64, c: u64| if rebooted || c < p { c } else { c - p };
    (one(prev.rx, cur.rx), one(prev.tx, cur.tx))
}

/// Where a new sample falls among the stored ones.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Placement {
    /// This sample's traffic, when a predecessor is known.
    pub own: Option<(u64, u64)>,
    /// The successor's time and recomputed traffic, when one exists.
    pub successor: Option<(i64, u64, u64)>,
}

/// The counters cache and lookups.
#[derive(Debug, Default)]
pub struct Counters {
    newest: Mutex<HashMap<(Id, String), Raw>>,
}

impl Counters {
    /// Places `cur` for interface `ifname` (raw name) of `device`.
    ///
    /// # Errors
    /// Engine failure reading stored counters.
    pub fn place(
        &self,
        engine: &Engine,
        device: Id,
        ifname: &str,
        cur: Raw,
    ) -> Result<Placement, DomainError> {
        if let Some(n) = self.newest.lock().get(&(device, ifname.to_owned()))
            && n.t < cur.t
        {
            return Ok(Placement {
                own: (cur.t - n.t <= MAX_GAP).then(|| delta(n, &cur)),
                successor: None,
            });
        }
        let stored = stored(engine, device, ifname, cur.t - MAX_GAP, cur.t + MAX_GAP)?;
        let prev = stored.iter().rev().find(|r| r.t < cur.t);
        let next = stored.iter().find(|r| r.t > cur.t);
        if let Some(n) = stored.last() {
            self.note(device, ifname, *n);
        }
        Ok(Placement {
            own: prev.map(|p| delta(p, &cur)),
            successor: next.map(|s| {
                let (rx, tx) = delta(&cur, s);
                (s.t, rx, tx)
            }),
        })
    }

    /// Records that `cur` was stored.
    pub fn note(&self, device: Id, ifname: &str, cur: Raw) {
        let mut m = self.newest.lock();
        let e = m.entry((device, ifname.to_owned())).or_insert(cur);
        if e.t <= cur.t {
            *e = cur;
        }
    }

    /// Forgets a device (deleted).
    pub fn forget(&self, device: Id) {
        self.newest.lock().retain(|(d, _), _| *d != device);
    }
}

/// The point that stores `cur`.
pub fn point(device: Id, ifname: &str, cur: &Raw) -> Point {
    let mut fields = vec![
        ("rx".to_owned(), FieldValue::Unsigned(cur.rx)),
        ("tx".to_owned(), FieldValue::Unsigned(cur.tx)),
    ];
    if let Some(u) = cur.uptime {
        fields.push(("uptime".to_owned(), FieldValue::Unsigned(u)));
    }
    Point {
        measurement: COUNTERS_MEASUREMENT.to_owned(),
        tags: vec![
            ("ifname".to_owned(), ifname.to_owned()),
            ("object_id".to_owned(), device.to_string()),
        ],
        fields,
        time: cur.t,
    }
}

/// The stored counters of one interface within `lo..=hi`, in time order.
fn stored(
    engine: &Engine,
    device: Id,
    ifname: &str,
    lo: i64,
    hi: i64,
) -> Result<Vec<Raw>, DomainError> {
    if engine.database(COUNTERS_DB).is_none() {
        return Ok(Vec::new());
    }
    let ids = engine.series_with_tag(
        COUNTERS_DB,
        COUNTERS_MEASUREMENT,
        "object_id",
        &device.to_string(),
    )?;
    let Some(series) = ids.into_iter().find(|&id| {
        engine
            .series_info(id)
            .is_some_and(|s| s.tags.iter().any(|(k, v)| k == "ifname" && v == ifname))
    }) else {
        return Ok(Vec::new());
    };
    let read = |field: &str| -> Result<Vec<(i64, u64)>, DomainError> {
        Ok(
            match engine.read(COUNTERS_DB, None, series, field, lo, hi)? {
                Some(c) => match c.values {
                    ColumnValues::Unsigned(v) => c.ts.into_iter().zip(v).collect(),
                    _ => Vec::new(),
                },
                None => Vec::new(),
            },
        )
    };
    let rx = read("rx")?;
    let tx: HashMap<i64, u64> = read("tx")?.into_iter().collect();
    let up: HashMap<i64, u64> = read("uptime")?.into_iter().collect();
    Ok(rx
        .into_iter()
        .map(|(t, rx)| Raw {
            t,
            rx,
            tx: tx.get(&t).copied().unwrap_or(0),
            uptime: up.get(&t).copied(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    fn raw(t: i64, rx: u64, tx: u64, uptime: Option<u64>) -> Raw {
        Raw {
            t: t * S,
            rx,
            tx,
            uptime,
        }
    }

    #[test]
    fn deltas_handle_resets_and_reboots() {
        let a = raw(0, 1000, 500, Some(10_000));
        assert_eq!(delta(&a, &raw(300, 1600, 800, Some(10_300))), (600, 300));
        // Counter went down without a reboot: the new value counts whole.
        assert_eq!(delta(&a, &raw(300, 100, 900, Some(10_300))), (100, 400));
        // Uptime went down: rebooted, counters since boot.
        assert_eq!(delta(&a, &raw(300, 5000, 9000, Some(200))), (5000, 9000));
        // Uptime grew past the old one but is shorter than the gap: rebooted in between.
        let long_gap = raw(86_400, 5000, 9000, Some(20_000));
        assert_eq!(delta(&a, &long_gap), (5000, 9000));
        // No uptime: plain difference.
        assert_eq!(
            delta(&raw(0, 10, 10, None), &raw(300, 15, 30, None)),
            (5, 20)
        );
    }
}
