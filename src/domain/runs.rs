//! Check runs (spec §6): which checks are due to run, what a ping check probes, and the
//! checks computed from stored data (monitoring data collected, WiFi clients, configuration
//! applied). The scheduler and the ICMP probing live in `monitor`; results come back here
//! and go through [`super::Domain::record_check_result`] like every other value, so alerts
//! and health follow.
//!
//! Owns: upstream's skip rules (deactivated devices, disabled organizations, `unknown` and
//! `critical` devices for the data checks), ping's target choice, the ping parameters of a
//! check merged over the configured defaults, the snooze schedule of the WiFi clients check,
//! and the order of a round (parents before their children, so a site behind a dead router
//! finds it down before its own checks fail).

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use super::check::{self, Check, CheckType};
use super::controller::{self, ConfigState};
use super::device::{self, Device, HealthStatus};
use super::error::DomainError;
use super::id::Id;
use super::ingest::DEVICE_CONTENT_TYPE;
use super::timeseries::FieldQuery;
use super::{metric, org, silence};
use crate::storage::{FieldValue, Point};

/// Measurements written by checks; a device's other measurements are "passive" (spec §6.1).
const ACTIVE_KEYS: [&str; 6] = [
    "ping",
    "config_applied",
    "data_collected",
    "wifi_clients_min",
    "wifi_clients_max",
    "iperf3",
];

/// Where each individual round-trip time of a ping round goes, for the latency distribution
/// chart: one point per reply, 1 µs apart.
pub const PING_RTT_MEASUREMENT: &str = "ping_rtt";

/// A check as the scheduler sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledCheck {
    /// The check.
    pub id: Id,
    /// Its device.
    pub device: Id,
    /// What it does.
    pub check_type: CheckType,
    /// The top of the device's parent chain (the device itself without a parent).
    pub root: Id,
    /// How many parents are above the device.
    pub depth: u8,
}

/// Ping parameters of one check (spec §6.2), milliseconds and bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PingParams {
    /// Probes sent.
    pub count: u32,
    /// Time between two probes, ms.
    pub interval_ms: u32,
    /// Payload size, bytes.
    pub bytes: u32,
    /// Time a probe waits for its reply, ms.
    pub timeout_ms: u32,
}

/// What a ping check does for a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PingTarget {
    /// Probe this address.
    Address(IpAddr),
    /// No address and the device was never assessed: do nothing (spec §6.2).
    Nothing,
    /// No address: store an unreachable result (spec §6.2's "simulated down").
    Unreachable,
}

/// The statistics of one ping round, as fping reports them.
#[derive(Debug, Clone, PartialEq)]
pub struct PingStats {
    /// Loss, percent.
    pub loss: f64,
    /// Round-trip times of the replies, ms: (min, avg, max); `None` when none came back.
    pub rtt: Option<(f64, f64, f64)>,
    /// Mean difference between consecutive round-trip times, ms (two replies or more).
    pub jitter: Option<f64>,
    /// Each reply's round-trip time, ms, in probe order (lost probes left out).
    pub rtts: Vec<f64>,
}

/// Why a check did not run, or what it stored.
#[derive(Debug, Clone, PartialEq)]
pub enum RunOutcome {
    /// The check or its device is gone, inactive or not to be run now.
    Skipped(&'static str),
    /// Stored these values.
    Stored(Vec<(String, f64)>),
}

/// A check about to run, with its device as it is now.
#[derive(Debug, Clone)]
pub struct CheckRun {
    /// The check.
    pub check: Check,
    /// Its device.
    pub device: Device,
}

impl super::Domain {
    /// Every active check of every device that is not deactivated and whose organization is
    /// active, parents before children (iperf3 is not run yet).
    ///
    /// # Errors
    /// Storage failure.
    pub fn scheduled_checks(&self) -> Result<Vec<ScheduledCheck>, DomainError> {
        let active_orgs: HashSet<Id> = org::list(&self.records)?
            .into_iter()
            .filter(|o| o.is_active)
            .map(|o| o.id)
            .collect();
        let devices: HashMap<Id, Device> = device::list(&self.records)?
            .into_iter()
            .filter(|d| !d.is_deactivated && active_orgs.contains(&d.organization))
            .map(|d| (d.id, d))
            .collect();
        let parents = silence::parents(&self.records)?;
        let mut out = Vec::new();
        for c in check::all(&self.records)? {
            if !c.is_active || c.check_type == CheckType::Iperf3 || !devices.contains_key(&c.device)
            {
                continue;
            }
            let (root, depth) = silence::root_of(&parents, c.device);
            out.push(ScheduledCheck {
                id: c.id,
                device: c.device,
                check_type: c.check_type,
                root,
                depth,
            });
        }
        out.sort_by_key(|s| s.depth);
        Ok(out)
    }

    /// The check and its device if the check is to run now (`perform_check`'s rules): it
    /// exists and is active, the device is not deactivated and its organization is active.
    ///
    /// # Errors
    /// Storage failure.
    pub fn begin_check(&self, device: Id, id: Id) -> Result<Option<CheckRun>, DomainError> {
        let Some(c) = check::get(&self.records, device, id)? else {
            tracing::warn!(check = %id, "The check with uuid {id} has been deleted");
            return Ok(None);
        };
        if !c.is_active {
            return Ok(None);
        }
        let Some(d) = device::get(&self.records, device)? else {
            return Ok(None);
        };
        if d.is_deactivated || d.status == HealthStatus::Deactivated {
            return Ok(None);
        }
        if !org::get(&self.records, d.organization)?.is_some_and(|o| o.is_active) {
            return Ok(None);
        }
        Ok(Some(CheckRun {
            check: c,
            device: d,
        }))
    }

    /// What a ping check probes (spec §6.2): the management IP, else the last IP when
    /// `management_ip_only` is off; without an address, nothing for a device never assessed,
    /// an unreachable result otherwise. An address that does not parse counts as none.
    pub fn ping_target(&self, d: &Device) -> PingTarget {
        let parse = |s: &Option<String>| s.as_deref().and_then(|a| a.trim().parse::<IpAddr>().ok());
        let addr = parse(&d.management_ip).or_else(|| {
            if self.settings.checks.management_ip_only {
                None
            } else {
                parse(&d.last_ip)
            }
        });
        match addr {
            Some(a) => PingTarget::Address(a),
            None if d.status == HealthStatus::Unknown => PingTarget::Nothing,
            None => PingTarget::Unreachable,
        }
    }

    /// A ping check's parameters: its own over the configured defaults.
    pub fn ping_params(&self, c: &Check) -> PingParams {
        let p = &self.settings.checks.ping_check_config;
        let own: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&c.params).unwrap_or_default();
        let get = |name: &str, default: u32| {
            own.get(name)
                .and_then(serde_json::Value::as_u64)
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(default)
        };
        PingParams {
            count: get("count", p.count.default),
            interval_ms: get("interval", p.interval.default),
            bytes: get("bytes", p.bytes.default),
            timeout_ms: get("timeout", p.timeout.default),
        }
    }

    /// Stores a ping round (`None`: no address, simulated down): `reachable`, `loss` and,
    /// when something came back, `rtt_min/avg/max` (and `jitter`) in `ping`; each reply's
    /// time in [`PING_RTT_MEASUREMENT`].
    ///
    /// # Errors
    /// Storage failure.
    pub fn record_ping(
        &self,
        d: &Device,
        stats: Option<&PingStats>,
    ) -> Result<RunOutcome, DomainError> {
        let now = self.now_ns();
        let loss = stats.map_or(100.0, |s| s.loss);
        let reachable = i64::from(loss < 100.0);
        let mut fields = vec![
            ("reachable".to_owned(), FieldValue::Integer(reachable)),
            ("loss".to_owned(), FieldValue::Float(loss)),
        ];
        let mut shown = vec![
            ("reachable".to_owned(), reachable as f64),
            ("loss".to_owned(), loss),
        ];
        if let Some((min, avg, max)) = stats.and_then(|s| s.rtt) {
            for (k, v) in [("rtt_min", min), ("rtt_avg", avg), ("rtt_max", max)] {
                fields.push((k.to_owned(), FieldValue::Float(v)));
                shown.push((k.to_owned(), v));
            }
        }
        if let Some(j) = stats.and_then(|s| s.jitter) {
            fields.push(("jitter".to_owned(), FieldValue::Float(j)));
        }
        self.record_check_result(d, "ping", fields, Some(now), true)?;
        if let Some(s) = stats.filter(|s| !s.rtts.is_empty()) {
            let tags = vec![
                ("content_type".to_owned(), DEVICE_CONTENT_TYPE.to_owned()),
                ("object_id".to_owned(), d.id.to_string()),
            ];
            let points = s
                .rtts
                .iter()
                .enumerate()
                .map(|(i, rtt)| Point {
                    measurement: PING_RTT_MEASUREMENT.to_owned(),
                    tags: tags.clone(),
                    fields: vec![("rtt".to_owned(), FieldValue::Float(*rtt))],
                    time: now.saturating_add(i64::try_from(i).unwrap_or(0).saturating_mul(1000)),
                })
                .collect();
            let db = self.settings.database.clone();
            self.write(&db, None, points)?;
        }
        Ok(RunOutcome::Stored(shown))
    }

    /// Runs a check computed from stored data (every type but ping and iperf3) and stores
    /// its result.
    ///
    /// # Errors
    /// Storage failure.
    pub fn run_data_check(&self, run: &CheckRun) -> Result<RunOutcome, DomainError> {
        match run.check.check_type {
            CheckType::DataCollected => self.run_data_collected(&run.device),
            CheckType::WifiClients => self.run_wifi_clients(&run.device),
            CheckType::ConfigApplied => self.run_config_applied(&run.device),
            CheckType::Ping | CheckType::Iperf3 => Ok(RunOutcome::Skipped("not a data check")),
        }
    }

    /// Monitoring Data Collected (spec §6.4): 1 when any passive metric of the device has a
    /// point within `data_collected_check_interval`. Alerts are held back while the device
    /// is critical (ping already told).
    fn run_data_collected(&self, d: &Device) -> Result<RunOutcome, DomainError> {
        let now = self.now_ns();
        let window = i64::try_from(
            self.settings
                .checks
                .data_collected_check_interval
                .as_nanos(),
        )
        .unwrap_or(i64::MAX);
        let lo = now.saturating_sub(window);
        let db = self.settings.database.as_str();
        let mut found = false;
        let passive: Vec<(String, String)> = metric::of_object(&self.records, d.id)?
            .into_iter()
            .filter(|m| !ACTIVE_KEYS.contains(&m.key.as_str()))
            .map(|m| (m.key, m.field_name))
            .collect();
        let eqs = [("object_id".to_owned(), vec![d.id.to_string()])];
        // Points up to a day ahead count: a router's clock may run a little fast.
        let hi = now.saturating_add(86_400_000_000_000);
        for (key, field) in &passive {
            let q = FieldQuery {
                db,
                rp: None,
                measurement: key,
                tags: &eqs,
                field,
                lo,
                hi,
            };
            if self.series.any(&q)? {
                found = true;
                break;
            }
        }
        let v = i64::from(found);
        self.record_check_result(
            d,
            "data_collected",
            vec![("data_collected".to_owned(), FieldValue::Integer(v))],
            Some(now),
            d.status != HealthStatus::Critical,
        )?;
        Ok(RunOutcome::Stored(vec![(
            "data_collected".into(),
            v as f64,
        )]))
    }

    /// WiFi Clients (spec §6.5): unique client MACs over all interfaces of the device in the
    /// short window (maximum) and the long one (minimum). Skipped for `unknown` and
    /// `critical` devices and while the snooze schedule says so.
    fn run_wifi_clients(&self, d: &Device) -> Result<RunOutcome, DomainError> {
        if matches!(d.status, HealthStatus::Unknown | HealthStatus::Critical) {
            return Ok(RunOutcome::Skipped("device unknown or critical"));
        }
        let now = self.now_ns();
        if self.wifi_clients_snoozed(now) {
            return Ok(RunOutcome::Skipped("snoozed"));
        }
        let checks = &self.settings.checks;
        let ns = |d: std::time::Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
        let max = self.unique_clients(
            d,
            now.saturating_sub(ns(checks.wifi_clients_max_check_interval)),
            now,
        )?;
        let min = self.unique_clients(
            d,
            now.saturating_sub(ns(checks.wifi_clients_min_check_interval)),
            now,
        )?;
        for (cfg, v) in [("wifi_clients_max", max), ("wifi_clients_min", min)] {
            self.record_check_result(
                d,
                cfg,
                vec![(
                    "clients".to_owned(),
                    FieldValue::Integer(i64::try_from(v).unwrap_or(i64::MAX)),
                )],
                Some(now),
                true,
            )?;
        }
        Ok(RunOutcome::Stored(vec![
            ("wifi_clients_min".into(), min as f64),
            ("wifi_clients_max".into(), max as f64),
        ]))
    }

    /// Client MACs seen from `lo` on (upstream's query has no upper bound: clients of one
    /// sample sit 1 µs apart, and a router's clock may run a little fast).
    fn unique_clients(&self, d: &Device, lo: i64, now: i64) -> Result<usize, DomainError> {
        let hi = now.saturating_add(86_400_000_000_000);
        let db = self.settings.database.as_str();
        let eqs = [("object_id".to_owned(), vec![d.id.to_string()])];
        let q = FieldQuery {
            db,
            rp: None,
            measurement: "wifi_clients",
            tags: &eqs,
            field: "clients",
            lo,
            hi,
        };
        let macs: HashSet<String> = self
            .series
            .points(&q)?
            .into_iter()
            .filter_map(|(_, v)| match v {
                FieldValue::String(m) => Some(m.to_ascii_lowercase()),
                _ => None,
            })
            .collect();
        Ok(macs.len())
    }

    /// Whether the WiFi clients check sleeps at `t` (the snooze schedule, in `[checks]
    /// time_zone`).
    pub fn wifi_clients_snoozed(&self, t: i64) -> bool {
        let checks = &self.settings.checks;
        if checks.wifi_clients_check_snooze_schedule.is_empty() {
            return false;
        }
        let zone = crate::time::Zone::named(&checks.time_zone)
            .unwrap_or_else(|_| crate::time::Zone::utc());
        let (mo, d, h, mi) = zone.wall_clock(t);
        checks
            .wifi_clients_check_snooze_schedule
            .iter()
            .any(|r| r.contains(mo, d, h, mi))
    }

    /// Configuration Applied (spec §6.3): 1 when the agent reported the configuration
    /// applied, or it is `modified` since less than `config_check_interval` (an `error`
    /// report counts at once). Skipped for `critical`
    /// and `unknown` devices and for devices without a configuration (never registered nor
    /// polling). Alerts are held back on `error`: the report already said it, but health
    /// still changes.
    fn run_config_applied(&self, d: &Device) -> Result<RunOutcome, DomainError> {
        if matches!(d.status, HealthStatus::Unknown | HealthStatus::Critical) {
            return Ok(RunOutcome::Skipped("device unknown or critical"));
        }
        let Some(cs) = controller::status_of(&self.records, d.id)? else {
            return Ok(RunOutcome::Skipped("device has no configuration"));
        };
        let now = self.now_ns();
        let grace = i64::try_from(self.settings.checks.config_check_interval.as_nanos())
            .unwrap_or(i64::MAX);
        let applied = match cs.state {
            ConfigState::Applied => true,
            ConfigState::Modified => now.saturating_sub(cs.modified_ns) < grace,
            ConfigState::Error | ConfigState::Deactivating | ConfigState::Deactivated => false,
        };
        let v = i64::from(applied);
        self.record_check_result(
            d,
            "config_applied",
            vec![("config_applied".to_owned(), FieldValue::Integer(v))],
            Some(now),
            cs.state != ConfigState::Error,
        )?;
        Ok(RunOutcome::Stored(vec![(
            "config_applied".into(),
            v as f64,
        )]))
    }
}

#[cfg(test)]
mod tests;
