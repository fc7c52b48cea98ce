//! A device's monitoring sample (a validated NetJSON DeviceMonitoring document) → the metric
//! writes of spec §3.4, the `device_data` snapshot, and the metric records they belong to.
//!
//! Owns: the measurement, tag and field names written (exactly upstream's, so the OpenWISP
//! Python stack reading our InfluxDB API sees the same series), the sample's effective time,
//! and the order of the writes. Every write is durable before the device gets its 200.
//!
//! Write order, chosen so a crash or a retried POST never double-counts traffic: raw interface
//! counters first ([`super::counters`]), then the metric points, then the snapshot. A crash
//! after the counters loses at most that sample's traffic points, and the agent's retry of the
//! same sample (it retries anything but 200) finds its counters stored and writes them.
//!
//! Departures from upstream, on purpose (see `docs/compatibility.md`): the snapshot is stored
//! at the sample's time, not at the server's (a backlog flushed after an outage must not
//! become the "current" status); traffic is computed against the predecessor in sample time
//! and the first sample of an interface writes no traffic; disk usage with no size is the
//! float 100.0, not the integer 100 (a field type change would refuse the measurement's later
//! writes); a device clock before 2000 or more than a day ahead is replaced by the server's.

use super::counters::{self, COUNTERS_DB, Raw};
use super::device::Device;
use super::error::DomainError;
use super::metric::{self, AlertSettings, MetricSpec};
use super::netjson::{Document, Sample};
use super::registry::clean_timeseries_data_key;
use super::timeseries::{SHORT_RP, Timeseries};
use crate::storage::{FieldValue, Point};

/// Content type of device metrics (`<app_label>.<model>` of openwisp-controller's Device).
pub const DEVICE_CONTENT_TYPE: &str = "config.device";
/// Samples older than this are "historical": stored, but never change health (spec §3.3).
pub const HISTORICAL_NS: i64 = 5 * 60 * 1_000_000_000;
/// Earliest believable sample time: 2000-01-01T00:00:00Z.
const EARLIEST_NS: i64 = 946_684_800 * 1_000_000_000;
/// How far ahead of the server a device clock may be.
const MAX_AHEAD_NS: i64 = 86_400 * 1_000_000_000;

/// The time a sample is stored at: the agent's `time`, or the server's clock when absent or
/// unbelievable (a router without a real-time clock before NTP sync says 1970).
pub fn effective_time(given: Option<i64>, now: i64) -> i64 {
    match given {
        Some(t) if (EARLIEST_NS..=now.saturating_add(MAX_AHEAD_NS)).contains(&t) => t,
        _ => now,
    }
}

/// What one sample produced.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IngestOutcome {
    /// Points stored (metrics, counters and snapshot).
    pub points: usize,
    /// Metrics created by this sample.
    pub created_metrics: usize,
    /// The sample is historical (older than five minutes).
    pub historical: bool,
}

/// The organization, location and floor-plan tags of a device's metrics (spec §3.4).
fn extra_tags(d: &Device) -> Vec<(String, String)> {
    let mut t = vec![("organization_id".to_owned(), d.organization.to_string())];
    if let Some(l) = d.location {
        t.push(("location_id".to_owned(), l.to_string()));
        if let Some(f) = d.floorplan {
            t.push(("floorplan_id".to_owned(), f.to_string()));
        }
    }
    t
}

fn clamp_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Builds points and metric specs; `with_tags` makes the tag set of a metric point.
struct Builder<'a> {
    device: &'a Device,
    object_id: String,
    extra: Vec<(String, String)>,
    points: Vec<Point>,
    specs: Vec<MetricSpec>,
}

impl Builder<'_> {
    fn tags(&self, main: &[(String, String)], extra: bool) -> Vec<(String, String)> {
        let mut t = vec![
            ("content_type".to_owned(), DEVICE_CONTENT_TYPE.to_owned()),
            ("object_id".to_owned(), self.object_id.clone()),
        ];
        t.extend(main.iter().cloned());
        if extra {
            t.extend(self.extra.iter().cloned());
        }
        t.sort();
        t
    }

    fn spec(
        &mut self,
        configuration: &str,
        name: String,
        key: &str,
        field_name: &str,
        main: Vec<(String, String)>,
        extra: bool,
    ) {
        self.specs.push(MetricSpec {
            configuration: configuration.to_owned(),
            name,
            key: key.to_owned(),
            field_name: field_name.to_owned(),
            object_id: Some(self.device.id),
            main_tags: main,
            extra_tags: if extra {
                self.extra.clone()
            } else {
                Vec::new()
            },
            charts: Vec::new(),
            alert: None,
        });
    }

    fn point(
        &mut self,
        m: &str,
        tags: Vec<(String, String)>,
        fields: Vec<(&str, FieldValue)>,
        t: i64,
    ) {
        self.points.push(Point {
            measurement: m.to_owned(),
            tags,
            fields: fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            time: t,
        });
    }
}

impl super::Domain {
    /// Fills in what the registry says a new metric of `spec`'s configuration comes with:
    /// its charts (per `AUTO_CHARTS`) and its alert settings.
    pub(super) fn complete_spec(&self, spec: &mut MetricSpec) {
        let Some(cfg) = self.settings.registry.metric(&spec.configuration) else {
            return;
        };
        spec.charts = cfg
            .charts_to_create(&self.settings.auto_charts)
            .into_iter()
            .map(str::to_owned)
            .collect();
        if cfg.creates_alert_settings() {
            spec.alert = Some(AlertSettings {
                is_active: !cfg.alert_settings_inactive,
                custom_operator: None,
                custom_threshold: None,
                custom_tolerance: None,
            });
        }
    }

    /// The field a metric's threshold is evaluated on: its configuration's `alert_field`, or
    /// its main field.
    pub(super) fn alert_field(&self, configuration: &str, field_name: &str) -> String {
        self.settings
            .registry
            .metric(configuration)
            .and_then(|c| c.alert_field.clone())
            .unwrap_or_else(|| field_name.to_owned())
    }

    /// Stores one sample of `device` taken at `t` (see [`effective_time`]).
    ///
    /// # Errors
    /// Storage failure; the device then gets a 5xx and retries.
    pub fn ingest(
        &self,
        device: &Device,
        mut doc: Document,
        t: i64,
    ) -> Result<IngestOutcome, DomainError> {
        let _serial =
            self.ingest_locks[usize::from(device.id.0[15]) % self.ingest_locks.len()].lock();
        let now = self.now_ns();
        if let Some(lookup) = &self.settings.mac_vendors {
            doc.set_vendors(|mac| lookup.vendor(mac));
        }
        let sample: &Sample = doc.sample();
        let mut b = Builder {
            device,
            object_id: device.id.to_string(),
            extra: extra_tags(device),
            points: Vec::new(),
            specs: Vec::new(),
        };
        let mut counter_points = Vec::new();
        let mut noted = Vec::new();

        for iface in &sample.interfaces {
            let ifname = clean_timeseries_data_key(&iface.name);
            let main = vec![("ifname".to_owned(), ifname.clone())];
            if let Some(tr) = &iface.traffic {
                b.spec(
                    "traffic",
                    format!("{} traffic", iface.name),
                    "traffic",
                    "rx_bytes",
                    main.clone(),
                    true,
                );
                let raw = Raw {
                    t,
                    rx: tr.rx_bytes,
                    tx: tr.tx_bytes,
                    uptime: sample.uptime,
                };
                let placed = self
                    .counters
                    .place(&self.engine, device.id, &iface.name, raw)?;
                let tags = b.tags(&main, true);
                if let Some((rx, tx)) = placed.own {
                    b.point(
                        "traffic",
                        tags.clone(),
                        vec![
                            ("rx_bytes", FieldValue::Integer(clamp_i64(rx))),
                            ("tx_bytes", FieldValue::Integer(clamp_i64(tx))),
                        ],
                        t,
                    );
                }
                if let Some((st, rx, tx)) = placed.successor {
                    b.point(
                        "traffic",
                        tags,
                        vec![
                            ("rx_bytes", FieldValue::Integer(clamp_i64(rx))),
                            ("tx_bytes", FieldValue::Integer(clamp_i64(tx))),
                        ],
                        st,
                    );
                }
                counter_points.push(counters::point(device.id, &iface.name, &raw));
                noted.push((iface.name.clone(), raw));
            }
            if let Some(w) = &iface.wireless
                && !w.clients.is_empty()
            {
                b.spec(
                    "clients",
                    format!("{} wifi clients", iface.name),
                    "wifi_clients",
                    "clients",
                    main.clone(),
                    true,
                );
                let tags = b.tags(&main, true);
                // The n-th client 1 µs after the (n-1)-th, so the points do not overwrite
                // each other (spec §3.4).
                for (n, c) in w.clients.iter().enumerate() {
                    let at = t.saturating_add(i64::try_from(n).unwrap_or(0).saturating_mul(1000));
                    b.point(
                        "wifi_clients",
                        tags.clone(),
                        vec![("clients", FieldValue::String(c.mac.clone()))],
                        at,
                    );
                }
            }
            if let Some(sig) = iface.mobile.as_ref().and_then(|m| m.signal.as_ref()) {
                let mut fields: Vec<(&str, FieldValue)> = Vec::new();
                if sig.signal_strength.is_some() || sig.signal_power.is_some() {
                    b.spec(
                        "signal_strength",
                        "signal strength".into(),
                        "signal",
                        "signal_strength",
                        main.clone(),
                        false,
                    );
                }
                if sig.signal_quality.is_some() || sig.snr.is_some() {
                    b.spec(
                        "signal_quality",
                        "signal quality".into(),
                        "signal",
                        "signal_quality",
                        main.clone(),
                        false,
                    );
                }
                b.spec(
                    "access_tech",
                    "access technology".into(),
                    "signal",
                    "access_tech",
                    main.clone(),
                    false,
                );
                for (k, v) in [
                    ("signal_strength", sig.signal_strength),
                    ("signal_power", sig.signal_power),
                    ("signal_quality", sig.signal_quality),
                    ("snr", sig.snr),
                ] {
                    if let Some(v) = v {
                        fields.push((k, FieldValue::Float(v)));
                    }
                }
                fields.push((
                    "access_tech",
                    FieldValue::Integer(i64::from(sig.access_tech.index())),
                ));
                let tags = b.tags(&main, false);
                b.point("signal", tags, fields, t);
            }
        }
        if let Some(cpu) = &sample.cpu {
            b.spec(
                "cpu",
                "CPU usage".into(),
                "cpu",
                "cpu_usage",
                Vec::new(),
                false,
            );
            let tags = b.tags(&[], false);
            b.point(
                "cpu",
                tags,
                vec![
                    ("cpu_usage", FieldValue::Float(cpu.cpu_usage)),
                    ("load_1", FieldValue::Float(cpu.load_1)),
                    ("load_5", FieldValue::Float(cpu.load_5)),
                    ("load_15", FieldValue::Float(cpu.load_15)),
                ],
                t,
            );
        }
        if let Some(used) = sample.disk {
            b.spec(
                "disk",
                "Disk usage".into(),
                "disk",
                "used_disk",
                Vec::new(),
                false,
            );
            let tags = b.tags(&[], false);
            b.point(
                "disk",
                tags,
                vec![("used_disk", FieldValue::Float(used))],
                t,
            );
        }
        if let Some(m) = &sample.memory {
            b.spec(
                "memory",
                "Memory usage".into(),
                "memory",
                "percent_used",
                Vec::new(),
                false,
            );
            let mut fields = vec![
                ("percent_used", FieldValue::Float(m.percent_used)),
                ("total_memory", FieldValue::Integer(clamp_i64(m.total))),
                ("free_memory", FieldValue::Integer(clamp_i64(m.free))),
                (
                    "buffered_memory",
                    FieldValue::Integer(clamp_i64(m.buffered)),
                ),
                ("shared_memory", FieldValue::Integer(clamp_i64(m.shared))),
            ];
            if let Some(c) = m.cached {
                fields.push(("cached_memory", FieldValue::Integer(clamp_i64(c))));
            }
            if let Some(a) = m.available {
                fields.push(("available_memory", FieldValue::Integer(clamp_i64(a))));
            }
            let tags = b.tags(&[], false);
            b.point("memory", tags, fields, t);
        }

        let mut out = IngestOutcome {
            historical: t < now.saturating_sub(HISTORICAL_NS),
            ..IngestOutcome::default()
        };
        if self.settings.wifi_sessions && !out.historical {
            super::wifi::update_sessions(&self.records, device.id, device.organization, sample, t)?;
        }
        // 1. Raw counters (see the module documentation for the order).
        if !counter_points.is_empty() {
            out.points += self.local.write(COUNTERS_DB, None, counter_points)?;
            for (ifname, raw) in noted {
                self.counters.note(device.id, &ifname, raw);
            }
        }
        // 2. Metric records (one flush for all), then their points.
        let Builder {
            points,
            specs: mut all_specs,
            ..
        } = b;
        for spec in &mut all_specs {
            self.complete_spec(spec);
        }
        // What to evaluate once the points are durable: metrics with alert settings, with
        // the value of their alert field (spec §5.1). Historical samples change no health.
        let mut evaluations = Vec::new();
        if !out.historical {
            for spec in all_specs.iter().filter(|s| s.alert.is_some()) {
                let field = self.alert_field(&spec.configuration, &spec.field_name);
                let value = points
                    .iter()
                    .filter(|p| p.measurement == spec.key)
                    .filter(|p| spec.main_tags.iter().all(|t| p.tags.contains(t)))
                    .find_map(|p| p.fields.iter().find(|(k, _)| *k == field))
                    .and_then(|(_, v)| v.as_f64());
                if let Some(v) = value {
                    let mut main = spec.main_tags.clone();
                    main.sort();
                    let rk = metric::record_key(spec.object_id, &spec.key, &spec.field_name, &main);
                    evaluations.push((rk, v));
                }
            }
        }
        out.created_metrics =
            metric::get_or_create_all(&self.records, &self.metrics, all_specs, now)?;
        let db = self.settings.database.clone();
        out.points += self.write(&db, None, points)?;
        let evaluations: Vec<super::status::Evaluation<'_>> = evaluations
            .iter()
            .map(|(rk, value)| super::status::Evaluation {
                record_key: rk,
                value: *value,
                time: t,
                retention_policy: None,
                send_alert: true,
            })
            .collect();
        self.evaluate_all(&evaluations)?;
        // 3. The snapshot, unless it is already beyond the short policy.
        let snapshot = Point {
            measurement: "device_data".to_owned(),
            tags: vec![("pk".to_owned(), device.id.to_string())],
            fields: vec![("data".to_owned(), FieldValue::String(doc.to_json()))],
            time: t,
        };
        out.points += self.write(&db, Some(SHORT_RP), vec![snapshot])?;
        Ok(out)
    }

    /// Writes points durably; points refused by the engine (beyond retention: a sample older
    /// than its policy) are logged and skipped, as InfluxDB drops them.
    pub(super) fn write(
        &self,
        db: &str,
        rp: Option<&str>,
        points: Vec<Point>,
    ) -> Result<usize, DomainError> {
        self.series.write(db, rp, points)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::domain::access::Principal;
    use crate::domain::device::DeviceInput;
    use crate::domain::org::OrganizationInput;
    use crate::domain::{Domain, DomainSettings, netjson};
    use crate::storage::Storage;
    use crate::time::{MockClock, Timestamp};

    const T0: i64 = 1_790_000_000 * 1_000_000_000;

    #[test]
    fn the_latest_snapshot_is_found_however_old_and_clocks_are_sanitised() {
        let clock = Arc::new(MockClock::new(Timestamp::from_nanos(T0)));
        let storage = Storage::in_memory(clock.clone());
        let settings = DomainSettings::defaults("openwisp2");
        let d = Domain::new(&storage, settings, clock.clone());
        d.ensure_timeseries(&crate::config::Config::default().timeseries)
            .unwrap();
        let root = Principal {
            username: "root".into(),
            is_superuser: true,
            memberships: Vec::new(),
        };
        let org = d
            .create_organization(
                &root,
                OrganizationInput {
                    name: Some("o".into()),
                    ..Default::default()
                },
            )
            .unwrap();
        let dev = d
            .create_device(
                &root,
                DeviceInput {
                    organization: Some(org.id),
                    name: Some("r".into()),
                    mac_address: Some("00:00:00:00:00:01".into()),
                    ..Default::default()
                },
            )
            .unwrap();
        let doc =
            netjson::parse_document(br#"{"type":"DeviceMonitoring","general":{"hostname":"r1"}}"#)
                .unwrap();
        d.ingest(&dev, doc, T0 - 60_000_000_000).unwrap();
        assert_eq!(
            d.latest_snapshot(dev.id).unwrap().unwrap()["general"]["hostname"],
            "r1"
        );
        // Two hours later the snapshot is outside the recent window, still found.
        clock.advance(Duration::from_secs(7200));
        assert_eq!(
            d.latest_snapshot(dev.id).unwrap().unwrap()["general"]["hostname"],
            "r1"
        );
        // Unbelievable device clocks become the server's.
        let now = T0 + 7_200_000_000_000;
        assert_eq!(effective_time(Some(72_000_000_000), now), now);
        assert_eq!(effective_time(Some(now + 2 * MAX_AHEAD_NS), now), now);
        assert_eq!(effective_time(Some(now - 1), now), now - 1);
        assert_eq!(effective_time(None, now), now);
    }
}
