//! Self-monitoring: the process-wide counters and histograms every layer bumps, and their
//! rendering in Prometheus' text format (served at `/metrics`).
//!
//! Owns: the metric names, their help texts and label sets. A foundation module (like `time`)
//! so storage, the monitor, notification delivery and the HTTP layer can all count without
//! depending on each other. One registry per process ([`global`]): the numbers describe the
//! process, as Prometheus expects.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use parking_lot::RwLock;

/// A monotonically increasing count.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// Adds one.
    pub fn inc(&self) {
        self.add(1);
    }

    /// The count so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Upper bounds (seconds) of the latency buckets: from a cached GET to a slow 365-day chart.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A distribution of durations in fixed buckets (cumulative on render, as Prometheus wants).
#[derive(Debug)]
pub struct Histogram {
    counts: Vec<AtomicU64>,
    sum_us: AtomicU64,
    count: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: LATENCY_BUCKETS.iter().map(|_| AtomicU64::new(0)).collect(),
            sum_us: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }
}

impl Histogram {
    /// Records one duration.
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        if let Some(i) = LATENCY_BUCKETS.iter().position(|b| secs <= *b) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
        self.sum_us.fetch_add(
            u64::try_from(d.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

/// Metrics of one kind told apart by label values (in the order of the family's names).
#[derive(Debug)]
pub struct Family<M> {
    labels: &'static [&'static str],
    members: RwLock<BTreeMap<Vec<String>, Arc<M>>>,
}

/// Most label sets a family keeps; beyond it, new ones share one `"other"` member, so a
/// client inventing paths or statuses cannot grow memory without bound.
const MAX_MEMBERS: usize = 2048;

impl<M: Default> Family<M> {
    fn new(labels: &'static [&'static str]) -> Self {
        Family {
            labels,
            members: RwLock::new(BTreeMap::new()),
        }
    }

    /// The member for `values` (one per label), created on first use.
    pub fn with(&self, values: &[&str]) -> Arc<M> {
        let key: Vec<String> = values.iter().map(|v| (*v).to_owned()).collect();
        if let Some(m) = self.members.read().get(&key) {
            return m.clone();
        }
        let mut members = self.members.write();
        let key = if members.len() >= MAX_MEMBERS && !members.contains_key(&key) {
            vec!["other".to_owned(); self.labels.len()]
        } else {
            key
        };
        members.entry(key).or_default().clone()
    }

    fn snapshot(&self) -> Vec<(Vec<String>, Arc<M>)> {
        self.members
            .read()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// Every metric the process keeps.
#[derive(Debug)]
pub struct Telemetry {
    /// HTTP requests by route template, method and status.
    pub http_requests: Family<Counter>,
    /// HTTP time to response headers by route template.
    pub http_duration: Family<Histogram>,
    /// Points stored by the timeseries engine (line protocol, device samples, checks).
    pub points_written: Counter,
    /// Points refused one by one (type conflicts, beyond retention, invalid).
    pub points_rejected: Counter,
    /// Write batches that failed as a whole (nothing acknowledged).
    pub write_errors: Counter,
    /// Check runs by check type and result (`stored`, `skipped`, `failed`).
    pub check_runs: Family<Counter>,
    /// Check run durations by check type.
    pub check_duration: Family<Histogram>,
    /// Notification delivery attempts by channel and result (`delivered`, `failed`).
    pub notification_deliveries: Family<Counter>,
}

/// The process's metrics.
pub fn global() -> &'static Telemetry {
    static T: OnceLock<Telemetry> = OnceLock::new();
    T.get_or_init(Telemetry::new)
}

/// A value read at scrape time (sizes, memory), rendered as a gauge.
#[derive(Debug, Clone)]
pub struct Gauge {
    /// Metric name.
    pub name: &'static str,
    /// Help text.
    pub help: &'static str,
    /// The value.
    pub value: f64,
}

/// One measurement of a snapshot, as written into a database (`[telemetry] database`).
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The metric's Prometheus name (`wispmon_http_requests_total`).
    pub measurement: &'static str,
    /// Label names and values.
    pub tags: Vec<(&'static str, String)>,
    /// `value` for counters and gauges; `count` and `sum` (seconds) for histograms.
    pub fields: Vec<(&'static str, f64)>,
}

/// Escapes a label value: backslash, double quote and newline.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn labels(names: &[&str], values: &[String], extra: Option<(&str, &str)>) -> String {
    let mut parts: Vec<String> = names
        .iter()
        .zip(values)
        .map(|(n, v)| format!("{n}=\"{}\"", escape(v)))
        .collect();
    if let Some((n, v)) = extra {
        parts.push(format!("{n}=\"{v}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

/// Prometheus' rendering of a float: Go's shortest form, `+Inf` for infinity.
fn num(v: f64) -> String {
    if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else if v.is_nan() {
        "NaN".into()
    } else {
        format!("{v}")
    }
}

impl Telemetry {
    fn new() -> Self {
        Telemetry {
            http_requests: Family::new(&["route", "method", "status"]),
            http_duration: Family::new(&["route"]),
            points_written: Counter::default(),
            points_rejected: Counter::default(),
            write_errors: Counter::default(),
            check_runs: Family::new(&["check", "result"]),
            check_duration: Family::new(&["check"]),
            notification_deliveries: Family::new(&["channel", "result"]),
        }
    }

    /// Every metric: its name, help text and what holds its numbers. The one list both
    /// [`Telemetry::render`] and [`Telemetry::samples`] walk.
    fn metrics(&self) -> [(&'static str, &'static str, Metric<'_>); 8] {
        [
            (
                "wispmon_http_requests_total",
                "HTTP requests answered, by route template, method and status.",
                Metric::Counters(&self.http_requests),
            ),
            (
                "wispmon_http_request_duration_seconds",
                "Time from request to response headers, by route template.",
                Metric::Histograms(&self.http_duration),
            ),
            (
                "wispmon_points_written_total",
                "Points stored by the timeseries engine.",
                Metric::Counter(&self.points_written),
            ),
            (
                "wispmon_points_rejected_total",
                "Points refused one by one (type conflict, beyond retention, invalid).",
                Metric::Counter(&self.points_rejected),
            ),
            (
                "wispmon_write_errors_total",
                "Write batches that failed as a whole.",
                Metric::Counter(&self.write_errors),
            ),
            (
                "wispmon_check_runs_total",
                "Active check runs, by check type and result.",
                Metric::Counters(&self.check_runs),
            ),
            (
                "wispmon_check_duration_seconds",
                "Active check run durations, by check type.",
                Metric::Histograms(&self.check_duration),
            ),
            (
                "wispmon_notification_deliveries_total",
                "Notification delivery attempts, by channel and result.",
                Metric::Counters(&self.notification_deliveries),
            ),
        ]
    }

    /// Every metric as of now, then `gauges`, as database samples: the numbers `/metrics`
    /// shows, histograms reduced to their count and sum (enough for rates and mean
    /// latencies).
    #[allow(clippy::cast_precision_loss)] // counts far below 2^53
    pub fn samples(&self, gauges: &[Gauge]) -> Vec<Sample> {
        let mut out = Vec::new();
        for (name, _, metric) in self.metrics() {
            let tagged = |labels: &'static [&'static str], values: Vec<String>| {
                labels.iter().copied().zip(values).collect()
            };
            match metric {
                Metric::Counter(c) => out.push(Sample {
                    measurement: name,
                    tags: Vec::new(),
                    fields: vec![("value", c.get() as f64)],
                }),
                Metric::Counters(f) => {
                    for (values, c) in f.snapshot() {
                        out.push(Sample {
                            measurement: name,
                            tags: tagged(f.labels, values),
                            fields: vec![("value", c.get() as f64)],
                        });
                    }
                }
                Metric::Histograms(f) => {
                    for (values, h) in f.snapshot() {
                        out.push(Sample {
                            measurement: name,
                            tags: tagged(f.labels, values),
                            fields: vec![
                                ("count", h.count.load(Ordering::Relaxed) as f64),
                                ("sum", h.sum_us.load(Ordering::Relaxed) as f64 / 1e6),
                            ],
                        });
                    }
                }
            }
        }
        out.extend(gauges.iter().map(|g| Sample {
            measurement: g.name,
            tags: Vec::new(),
            fields: vec![("value", g.value)],
        }));
        out
    }

    /// Renders every metric, then `gauges`, in Prometheus' text exposition format 0.0.4.
    pub fn render(&self, gauges: &[Gauge]) -> String {
        let mut out = String::with_capacity(16 << 10);
        for (name, help, metric) in self.metrics() {
            match metric {
                Metric::Counter(c) => {
                    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
                    let _ = writeln!(out, "{name} {}", c.get());
                }
                Metric::Counters(f) => family_counters(&mut out, name, help, f),
                Metric::Histograms(f) => family_histograms(&mut out, name, help, f),
            }
        }
        for g in gauges {
            let _ = writeln!(
                out,
                "# HELP {} {}\n# TYPE {} gauge\n{} {}",
                g.name,
                g.help,
                g.name,
                g.name,
                num(g.value)
            );
        }
        out
    }
}

/// What holds one metric's numbers.
enum Metric<'a> {
    Counter(&'a Counter),
    Counters(&'a Family<Counter>),
    Histograms(&'a Family<Histogram>),
}

fn family_counters(out: &mut String, name: &str, help: &str, f: &Family<Counter>) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
    for (values, c) in f.snapshot() {
        let _ = writeln!(out, "{name}{} {}", labels(f.labels, &values, None), c.get());
    }
}

fn family_histograms(out: &mut String, name: &str, help: &str, f: &Family<Histogram>) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
    for (values, h) in f.snapshot() {
        let mut cumulative = 0;
        for (b, c) in LATENCY_BUCKETS.iter().zip(&h.counts) {
            cumulative += c.load(Ordering::Relaxed);
            let le = num(*b);
            let _ = writeln!(
                out,
                "{name}_bucket{} {cumulative}",
                labels(f.labels, &values, Some(("le", &le)))
            );
        }
        let count = h.count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "{name}_bucket{} {count}",
            labels(f.labels, &values, Some(("le", "+Inf")))
        );
        #[allow(clippy::cast_precision_loss)] // microseconds: exact far beyond any uptime
        let sum = h.sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        let l = labels(f.labels, &values, None);
        let _ = writeln!(out, "{name}_sum{l} {}\n{name}_count{l} {count}", num(sum));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh() -> Telemetry {
        Telemetry::new()
    }

    #[test]
    fn renders_counters_histograms_and_gauges_in_the_text_format() {
        let t = fresh();
        t.http_requests.with(&["/write", "POST", "204"]).add(3);
        t.http_requests.with(&["/a\"b", "GET", "404"]).inc();
        let h = t.http_duration.with(&["/write"]);
        h.observe(Duration::from_micros(800));
        h.observe(Duration::from_millis(30));
        h.observe(Duration::from_secs(60));
        t.points_written.add(42);
        let text = t.render(&[Gauge {
            name: "wispmon_head_bytes",
            help: "Bytes.",
            value: 1024.0,
        }]);
        assert!(text.contains("# TYPE wispmon_http_requests_total counter\n"));
        assert!(text.contains(
            "wispmon_http_requests_total{route=\"/write\",method=\"POST\",status=\"204\"} 3\n"
        ));
        assert!(text.contains("route=\"/a\\\"b\""), "quotes escaped: {text}");
        assert!(text.contains(
            "wispmon_http_request_duration_seconds_bucket{route=\"/write\",le=\"0.001\"} 1\n"
        ));
        assert!(text.contains(
            "wispmon_http_request_duration_seconds_bucket{route=\"/write\",le=\"0.05\"} 2\n"
        ));
        assert!(text.contains(
            "wispmon_http_request_duration_seconds_bucket{route=\"/write\",le=\"+Inf\"} 3\n"
        ));
        assert!(text.contains("wispmon_http_request_duration_seconds_count{route=\"/write\"} 3\n"));
        assert!(
            text.contains("wispmon_http_request_duration_seconds_sum{route=\"/write\"} 60.0308\n")
        );
        assert!(text.contains("wispmon_points_written_total 42\n"));
        assert!(text.contains("# TYPE wispmon_head_bytes gauge\nwispmon_head_bytes 1024\n"));
        // Every sample line is `name{labels} value` or `name value`.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, v) = line.rsplit_once(' ').unwrap();
            assert!(v == "+Inf" || v.parse::<f64>().is_ok(), "{line}");
        }
    }

    #[test]
    fn samples_carry_the_numbers_of_the_text_format() {
        let t = fresh();
        t.http_requests.with(&["/write", "POST", "204"]).add(3);
        t.http_duration
            .with(&["/write"])
            .observe(Duration::from_millis(1500));
        t.points_written.add(7);
        let s = t.samples(&[Gauge {
            name: "wispmon_engine_series",
            help: "Series.",
            value: 12.0,
        }]);
        let find = |m: &str| s.iter().find(|x| x.measurement == m).unwrap().clone();
        assert_eq!(
            find("wispmon_http_requests_total"),
            Sample {
                measurement: "wispmon_http_requests_total",
                tags: vec![
                    ("route", "/write".into()),
                    ("method", "POST".into()),
                    ("status", "204".into())
                ],
                fields: vec![("value", 3.0)],
            }
        );
        assert_eq!(
            find("wispmon_http_request_duration_seconds").fields,
            vec![("count", 1.0), ("sum", 1.5)]
        );
        assert_eq!(
            find("wispmon_points_written_total").fields,
            vec![("value", 7.0)]
        );
        assert_eq!(find("wispmon_engine_series").fields, vec![("value", 12.0)]);
    }

    #[test]
    fn a_family_stops_growing_at_its_bound() {
        let t = fresh();
        for i in 0..MAX_MEMBERS + 100 {
            t.http_requests
                .with(&[&format!("/p{i}"), "GET", "404"])
                .inc();
        }
        assert_eq!(t.http_requests.snapshot().len(), MAX_MEMBERS + 1);
        let other = t.http_requests.with(&["/new", "GET", "404"]);
        assert!(other.get() >= 100);
    }
}
