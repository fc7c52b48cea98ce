//! Configuration: the validated [`Config`] and how it is assembled.
//!
//! Owns: reading the TOML file, `WISPMON_*` environment variables and command-line flags, merging
//! them with precedence CLI > env > file > defaults, and validating the result into typed
//! sub-configs, reporting **every** problem with its key path. Must not: open files other than the
//! config file, or know how a component uses its settings.
//!
//! Environment variables name keys with `__` between sections: `WISPMON_LISTEN`,
//! `WISPMON_MONITORING__TOLERANCE_INTERVAL=10m`. A value is read as a TOML value when it is one
//! (`false`, `["wan"]`), else as a string. `WISPMON_CONFIG` and `WISPMON_ADMIN_PASSWORD` are not
//! settings and are skipped.
//!
//! The settings of OpenWISP Monitoring (spec §8) keep their defaults and take snake_case names
//! without the `OPENWISP_MONITORING_` prefix. Left out, because wispmon has no such mechanism:
//! `CACHE_TIMEOUT` (no caches to expire), `WRITE_RETRY_OPTIONS` and `TIMESERIES_RETRY_OPTIONS`
//! (writes go to the embedded engine synchronously), `API_URLCONF` (Django only), the
//! connection fields of `TIMESERIES_DATABASE` other than the database name (the engine is built
//! in) and `CHECK_CLASSES` (check types are compiled in; the `auto_*` flags choose them).

mod cli;
mod reader;
mod types;

pub use cli::{Cli, Command, Overrides};
pub use reader::Problem;
pub use types::{
    ByteSize, ChartTime, ListenAddr, LogLevel, SnoozePoint, SnoozeRange, TimeseriesBackend,
    parse_snooze_range,
};

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reader::{Section, type_name};

use crate::time::format_duration;

/// Environment variables with the `WISPMON_` prefix that are not settings.
const NON_SETTING_ENV: &[&str] = &["WISPMON_CONFIG", "WISPMON_ADMIN_PASSWORD"];

/// The whole validated configuration. Immutable after start; each component gets its part.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Where all data lives (`./wispmon-data` by default).
    pub data_dir: PathBuf,
    /// The single HTTP listener (InfluxDB's port 8086 by default).
    pub listen: ListenAddr,
    /// Log verbosity; `RUST_LOG` overrides it.
    pub log_level: LogLevel,
    /// Reverse proxies in front of wispmon: a request from one of these addresses is taken
    /// to come from the address its `X-Forwarded-For` names (devices' `last_ip`).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// The storage engine's settings.
    pub storage: StorageConfig,
    /// The InfluxDB 1.x HTTP API.
    pub influx: InfluxConfig,
    /// Limits of the HTTP listener.
    pub http: HttpConfig,
    /// The timeseries database the monitoring domain writes to.
    pub timeseries: TimeseriesConfig,
    /// Alerting, health and dashboard settings.
    pub monitoring: MonitoringConfig,
    /// Active checks.
    pub checks: ChecksConfig,
    /// Notification texts and delivery (e-mail, webhook).
    pub notifications: NotificationsConfig,
    /// The web UI.
    pub ui: UiConfig,
    /// Writing wispmon's own numbers into a database.
    pub telemetry: TelemetryConfig,
}

/// `[telemetry]`: the numbers of `/metrics` also written, every `interval`, into `database`
/// of the timeseries backend, so the UI and Grafana can chart wispmon itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetryConfig {
    /// Database written to; empty turns the writes off.
    pub database: String,
    /// How often a snapshot is written.
    pub interval: Duration,
    /// How long the snapshots are kept (the database's default retention policy).
    pub retention: Duration,
}

/// `[ui]`: the web UI. Empty strings mean "not set".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UiConfig {
    /// Map tiles (`https://tiles.example.net/{z}/{x}/{y}.png`); empty: the offline basemap
    /// shipped in the binary, for air-gapped LANs.
    pub tile_url: String,
    /// Attribution shown on the map for `tile_url`'s tiles.
    pub tile_attribution: String,
    /// Maximum zoom the tile server serves.
    pub tile_max_zoom: u8,
}

/// `[notifications]`: texts and the optional delivery channels. Empty strings mean "not set".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationsConfig {
    /// `{site.name}` in subjects (`[wispmon] PROBLEM: ...`).
    pub site_name: String,
    /// Address of the web UI for links in notifications; empty: `http://<listen>`.
    pub base_url: String,
    /// SMTP relay; off while `host` is empty.
    pub smtp: SmtpConfig,
    /// Webhook; off while `url` is empty.
    pub webhook: WebhookConfig,
}

/// `[notifications.smtp]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    /// Relay host; empty turns e-mail off.
    pub host: String,
    /// Relay port.
    pub port: u16,
    /// `none`, `starttls` or `tls`.
    pub security: String,
    /// AUTH user; empty: no authentication.
    pub username: String,
    /// AUTH password.
    pub password: String,
    /// Sender.
    pub from: String,
    /// Limit of each connect and reply.
    pub timeout: Duration,
    /// Extra trust anchors (PEM), for a relay with a private CA.
    pub ca_file: String,
    /// Allow AUTH over an unencrypted connection.
    pub allow_insecure_auth: bool,
}

/// `[notifications.webhook]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    /// `http://` or `https://` address; empty turns the webhook off.
    pub url: String,
    /// Extra request headers (`Authorization`, ...).
    pub headers: BTreeMap<String, String>,
    /// Limit of one call.
    pub timeout: Duration,
    /// Extra trust anchors (PEM).
    pub ca_file: String,
}

/// Settings of `storage/`.
#[derive(Debug, Clone, PartialEq)]
pub struct StorageConfig {
    /// Memory sled may use for its page cache (sled's own default is 1 GiB; too much for an
    /// appliance that shares a small box).
    pub cache_capacity: ByteSize,
    /// Unsealed points are sealed into blocks when they hold more memory than this; writers
    /// wait when they hold twice as much.
    pub head_memory_limit: ByteSize,
    /// Unsealed points are sealed at least this often.
    pub seal_interval: Duration,
    /// How often shards past their retention are dropped.
    pub retention_check_interval: Duration,
    /// New series beyond this many per database are refused (InfluxDB's default).
    pub max_series_per_database: usize,
    /// `fdatasync` the write-ahead log before acknowledging a write. Off: an acknowledged
    /// write survives the process being killed; on: it also survives power loss.
    pub wal_fsync: bool,
    /// Points are refused (a clear "disk full" error) while less than this is free on the data
    /// directory's file system, and sealing waits below a quarter of it, so the disk never
    /// fills under the database. 0 turns the guard off.
    pub min_free_space: ByteSize,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Config::default().storage
    }
}

/// `[http]`: limits of the HTTP listener, so that slow or numerous clients cannot exhaust the
/// appliance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// Connections served at once; beyond, a new connection gets a 503 with `Retry-After`
    /// (agents retry it) and is closed.
    pub max_connections: u32,
    /// Longest wait for a request's headers (also on an idle kept-alive connection): a client
    /// that sends them slower is disconnected (slow-loris).
    pub header_read_timeout: Duration,
    /// Longest time from a request's arrival to its answer's headers: a body sent too slowly
    /// or a query that runs too long is answered 503. A streamed answer (chunked query, live
    /// events) is not cut once started.
    pub request_timeout: Duration,
}

/// The InfluxDB 1.x HTTP API (`/ping`, `/write`, `/query`).
#[derive(Debug, Clone, PartialEq)]
pub struct InfluxConfig {
    /// Require credentials (`u`/`p`, Basic or `Token user:pass`) of a superuser; off by
    /// default, as in InfluxDB.
    pub auth_enabled: bool,
    /// Largest accepted request body (after gzip decompression), InfluxDB's default 25 MB.
    pub max_body_size: ByteSize,
    /// A SELECT still running after this long stops with InfluxDB's "query-timeout limit
    /// exceeded" (its `query-timeout`), so an abandoned query stops using the CPU; 0 turns it
    /// off.
    pub query_timeout: Duration,
    /// Most rows one `/query` answers (InfluxDB's `max-row-limit`): the series past it are cut
    /// and the cut one says `"partial":true`, later statements are not run. Bounds the
    /// memory of an answer, which wispmon builds whole (chunked ones too); 0 turns it off.
    pub max_row_limit: usize,
}

/// Default `[influx] max_row_limit`: a year of 5-minute points of one series (105,120 rows)
/// fits twice; at the limit, two fields' answer is 9 MiB of JSON (`benches/RESULTS.md`).
pub const DEFAULT_MAX_ROW_LIMIT: usize = 250_000;

/// The database the monitoring domain uses (upstream `TIMESERIES_DATABASE` and retention).
#[derive(Debug, Clone, PartialEq)]
pub struct TimeseriesConfig {
    /// Database name (upstream `TIMESERIES_DATABASE.NAME`).
    pub database: String,
    /// Duration of the default retention policy `autogen` (upstream 3 years).
    pub default_retention_policy: Duration,
    /// Duration of the retention policy `short`.
    pub short_retention_policy: Duration,
    /// Where the timeseries live: the embedded engine, or a remote InfluxDB 1.x.
    pub backend: TimeseriesBackend,
    /// The remote InfluxDB's `http://host:port` (backend `influxdb`).
    pub url: String,
    /// User name for the remote InfluxDB (empty: no authentication).
    pub username: String,
    /// Password for the remote InfluxDB.
    pub password: String,
    /// Longest wait for one answer of the remote InfluxDB.
    pub timeout: Duration,
}

/// One entry of `critical_device_metrics`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CriticalMetric {
    /// Metric key, such as `ping`.
    pub key: String,
    /// Field whose health counts, such as `reachable`.
    pub field_name: String,
    /// Check type re-run on recovery detection, such as `ping`.
    pub check: Option<String>,
}

/// Alerting, health status and dashboard settings (spec §5, §7, §8).
#[derive(Debug, Clone, PartialEq)]
pub struct MonitoringConfig {
    /// Tolerances below it count as zero; slack for the tolerance window.
    pub tolerance_interval: Duration,
    /// A device is critical when all of these metrics are unhealthy.
    pub critical_device_metrics: Vec<CriticalMetric>,
    /// Display labels of the health statuses.
    pub health_status_labels: BTreeMap<String, String>,
    /// Clear the management IP when a device becomes critical.
    pub auto_clear_management_ip: bool,
    /// Re-run critical checks on any authenticated device contact.
    pub device_recovery_detection: bool,
    /// Look up MAC vendors for clients, neighbors and leases.
    pub mac_vendor_detection: bool,
    /// Show the geographic map on the dashboard.
    pub dashboard_map: bool,
    /// Window in which a device's status changes are counted for the flapping indicator.
    pub flapping_window: Duration,
    /// Status changes within `flapping_window` that make a device "flapping" (0 turns the
    /// indicator off).
    pub flapping_changes: u32,
    /// WiFi clients and sessions feature.
    pub wifi_sessions_enabled: bool,
    /// Interfaces summed by the General Traffic chart, per organization UUID or `__all__`.
    pub dashboard_traffic_chart: BTreeMap<String, Vec<String>>,
    /// Metric configuration overrides (deep merge); validated by the metric registry.
    pub metrics: toml::Table,
    /// Chart configuration overrides (deep merge); validated by the chart registry.
    pub charts: toml::Table,
    /// Charts created together with their metrics.
    pub auto_charts: Vec<String>,
    /// Default chart timeframe.
    pub default_chart_time: ChartTime,
}

/// Default, minimum and maximum of one ping parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PingParam {
    /// Value used when a check sets none.
    pub default: u32,
    /// Smallest accepted value.
    pub minimum: u32,
    /// Largest accepted value.
    pub maximum: u32,
}

/// The ping parameter schema (spec §6.2), overridable by `ping_check_config`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PingCheckConfig {
    /// Pings per check.
    pub count: PingParam,
    /// Milliseconds between a target's pings.
    pub interval: PingParam,
    /// Payload bytes.
    pub bytes: PingParam,
    /// Milliseconds to wait for each reply.
    pub timeout: PingParam,
}

impl Default for PingCheckConfig {
    fn default() -> Self {
        let p = |default, minimum, maximum| PingParam {
            default,
            minimum,
            maximum,
        };
        PingCheckConfig {
            count: p(5, 2, 20),
            interval: p(25, 10, 1000),
            bytes: p(56, 12, 65508),
            timeout: p(800, 5, 1500),
        }
    }
}

/// Active checks (spec §6).
#[derive(Debug, Clone, PartialEq)]
pub struct ChecksConfig {
    /// How often every check runs (upstream: celery beat every 5 minutes).
    pub period: Duration,
    /// Auto-create Ping checks.
    pub auto_ping: bool,
    /// Auto-create Configuration Applied checks.
    pub auto_device_config_check: bool,
    /// Auto-create Monitoring Data Collected checks (and make `data_collected` critical).
    pub auto_data_collected_check: bool,
    /// Auto-create WiFi Clients checks.
    pub auto_wifi_clients_check: bool,
    /// Auto-create Iperf3 checks.
    pub auto_iperf3: bool,
    /// Ping only the management IP (false allows the last IP; air-gapped LANs run that way).
    pub management_ip_only: bool,
    /// The ping parameter schema.
    pub ping_check_config: PingCheckConfig,
    /// Grace period after a device change before "configuration not applied".
    pub config_check_interval: Duration,
    /// Look-back window of the data collected check.
    pub data_collected_check_interval: Duration,
    /// Ranges during which WiFi clients checks do not run.
    pub wifi_clients_check_snooze_schedule: Vec<SnoozeRange>,
    /// Window of the max-clients count.
    pub wifi_clients_max_check_interval: Duration,
    /// Window of the min-clients count.
    pub wifi_clients_min_check_interval: Duration,
    /// Per-organization iperf3 parameters; validated by the iperf3 check.
    pub iperf3_check_config: toml::Table,
    /// Per-server iperf3 lock expiry.
    pub iperf3_check_lock_expire: Duration,
    /// Time zone of the snooze schedule (upstream: Django's `TIME_ZONE`).
    pub time_zone: String,
    /// Most checks running at once.
    pub concurrency: u32,
    /// Delete the RSA key file from the device after an iperf3 test.
    pub iperf3_check_delete_rsa_key: bool,
}

/// Whether `url` is `http://host[:port]` (no path): what the remote backend connects to.
fn valid_influx_url(url: &str) -> bool {
    url.strip_prefix("http://")
        .map(|r| r.trim_end_matches('/'))
        .is_some_and(|r| !r.is_empty() && !r.contains('/'))
}

const fn mins(m: u64) -> Duration {
    Duration::from_secs(m * 60)
}

impl Default for Config {
    fn default() -> Self {
        Config::from_table(toml::Table::new(), &[]).expect("invariant: the defaults are valid")
    }
}

impl Config {
    /// Validates a merged TOML table; `origins` maps key paths to where they were set.
    ///
    /// # Errors
    /// Every problem found, each with its key path.
    pub fn from_table(
        table: toml::Table,
        origins: &[(String, String)],
    ) -> Result<Config, Vec<Problem>> {
        let mut problems = Vec::new();
        let mut root = Section::root(table, &mut problems, origins);
        let data_dir = PathBuf::from(root.string("data_dir", "./wispmon-data".to_owned()));
        let listen = root.parsed(
            "listen",
            ListenAddr(std::net::SocketAddr::from(([127, 0, 0, 1], 8086))),
        );
        let log_level = root.parsed("log_level", LogLevel::Info);
        let trusted_proxies = root.value("trusted_proxies", Vec::new(), |v| {
            let list = v.as_array().ok_or_else(|| {
                format!("expected a list of IP addresses, found {}", type_name(v))
            })?;
            list.iter()
                .map(|e| {
                    e.as_str()
                        .and_then(|a| a.parse::<std::net::IpAddr>().ok())
                        .ok_or_else(|| format!("{e} is not an IP address"))
                })
                .collect()
        });

        let storage = {
            let mut s = root.section("storage");
            let cache_capacity = s.parsed("cache_capacity", ByteSize(64 << 20));
            let head_memory_limit = s.parsed("head_memory_limit", ByteSize(64 << 20));
            if head_memory_limit.0 < 1 << 20 {
                s.problem("head_memory_limit", "must be at least 1MiB");
            }
            let seal_interval = s.duration("seal_interval", mins(30));
            if seal_interval < Duration::from_secs(1) {
                s.problem("seal_interval", "must be at least 1s");
            }
            let retention_check_interval = s.duration("retention_check_interval", mins(30));
            let max_series_per_database = s.value("max_series_per_database", 1_000_000, |v| {
                v.as_integer()
                    .and_then(|i| usize::try_from(i).ok())
                    .filter(|&i| i > 0)
                    .ok_or_else(|| format!("expected a positive integer, found {v}"))
            });
            let cfg = StorageConfig {
                cache_capacity,
                head_memory_limit,
                seal_interval,
                retention_check_interval,
                max_series_per_database,
                wal_fsync: s.bool("wal_fsync", false),
                min_free_space: s.parsed("min_free_space", ByteSize(64 << 20)),
            };
            s.finish();
            cfg
        };

        let http = {
            let mut s = root.section("http");
            let max_connections = s.value("max_connections", 1024, |v| {
                v.as_integer()
                    .and_then(|i| u32::try_from(i).ok())
                    .filter(|&i| i > 0)
                    .ok_or_else(|| format!("expected a positive integer, found {v}"))
            });
            let cfg = HttpConfig {
                max_connections,
                header_read_timeout: s.duration("header_read_timeout", Duration::from_secs(10)),
                request_timeout: s.duration("request_timeout", Duration::from_secs(120)),
            };
            if cfg.header_read_timeout < Duration::from_secs(1) {
                s.problem("header_read_timeout", "must be at least 1s");
            }
            if cfg.request_timeout < Duration::from_secs(1) {
                s.problem("request_timeout", "must be at least 1s");
            }
            s.finish();
            cfg
        };

        let influx = {
            let mut s = root.section("influx");
            let max_body_size = s.parsed("max_body_size", ByteSize(25_000_000));
            if max_body_size.0 < 1024 {
                s.problem("max_body_size", "must be at least 1KiB");
            }
            let cfg = InfluxConfig {
                auth_enabled: s.bool("auth_enabled", false),
                max_body_size,
                query_timeout: s.duration("query_timeout", mins(2)),
                max_row_limit: s.value("max_row_limit", DEFAULT_MAX_ROW_LIMIT, |v| {
                    v.as_integer()
                        .and_then(|i| usize::try_from(i).ok())
                        .ok_or_else(|| format!("expected a non-negative integer, found {v}"))
                }),
            };
            s.finish();
            cfg
        };

        let timeseries = {
            let mut s = root.section("timeseries");
            let database = s.string("database", "openwisp2".to_owned());
            if database.is_empty() {
                s.problem("database", "must not be empty");
            }
            let cfg = TimeseriesConfig {
                database,
                default_retention_policy: s.duration(
                    "default_retention_policy",
                    Duration::from_secs(26280 * 3600),
                ),
                short_retention_policy: s
                    .duration("short_retention_policy", Duration::from_secs(24 * 3600)),
                backend: s.parsed("backend", TimeseriesBackend::Embedded),
                url: s.string("url", String::new()),
                username: s.string("username", String::new()),
                password: s.string("password", String::new()),
                timeout: s.duration("timeout", Duration::from_secs(30)),
            };
            if cfg.backend == TimeseriesBackend::Influxdb && !valid_influx_url(&cfg.url) {
                s.problem(
                    "url",
                    "backend \"influxdb\" needs the InfluxDB's address as http://host[:port]",
                );
            }
            if cfg.timeout < Duration::from_secs(1) {
                s.problem("timeout", "must be at least 1s");
            }
            s.finish();
            cfg
        };

        let checks = read_checks(root.section("checks"));
        let monitoring =
            read_monitoring(root.section("monitoring"), checks.auto_data_collected_check);
        let notifications = read_notifications(root.section("notifications"));
        let ui = read_ui(root.section("ui"));
        let telemetry = {
            let mut s = root.section("telemetry");
            let cfg = TelemetryConfig {
                database: s.string("database", String::new()),
                interval: s.duration("interval", Duration::from_secs(60)),
                retention: s.duration("retention", Duration::from_secs(30 * 86_400)),
            };
            if cfg.interval < Duration::from_secs(1) {
                s.problem("interval", "must be at least 1s");
            }
            if cfg.retention < Duration::from_secs(3600) {
                s.problem("retention", "must be at least 1h");
            }
            if cfg.database == timeseries.database {
                s.problem("database", "must differ from [timeseries] database");
            }
            // `_` names are the store's own (`_internal`, `_wispmon…`).
            if cfg.database.starts_with('_') {
                s.problem("database", "must not start with \"_\"");
            }
            s.finish();
            cfg
        };
        root.finish();

        if problems.is_empty() {
            Ok(Config {
                data_dir,
                listen,
                log_level,
                trusted_proxies,
                storage,
                http,
                influx,
                timeseries,
                monitoring,
                checks,
                notifications,
                ui,
                telemetry,
            })
        } else {
            Err(problems)
        }
    }

    /// The configuration as a TOML table; parsing it back gives an equal `Config`.
    pub fn to_table(&self) -> toml::Table {
        use toml::Value as V;
        let s = |x: &str| V::String(x.to_owned());
        let d = |x: Duration| V::String(format_duration(x));
        let list = |xs: &[String]| V::Array(xs.iter().map(|x| s(x)).collect());
        let mut root = toml::Table::new();
        root.insert("data_dir".into(), s(&self.data_dir.to_string_lossy()));
        root.insert("listen".into(), s(&self.listen.to_string()));
        root.insert("log_level".into(), s(self.log_level.as_str()));
        root.insert(
            "trusted_proxies".into(),
            V::Array(
                self.trusted_proxies
                    .iter()
                    .map(|a| s(&a.to_string()))
                    .collect(),
            ),
        );

        let mut st = toml::Table::new();
        st.insert(
            "cache_capacity".into(),
            s(&self.storage.cache_capacity.to_string()),
        );
        st.insert(
            "head_memory_limit".into(),
            s(&self.storage.head_memory_limit.to_string()),
        );
        st.insert("seal_interval".into(), d(self.storage.seal_interval));
        st.insert(
            "retention_check_interval".into(),
            d(self.storage.retention_check_interval),
        );
        st.insert("wal_fsync".into(), V::Boolean(self.storage.wal_fsync));
        st.insert(
            "min_free_space".into(),
            s(&self.storage.min_free_space.to_string()),
        );
        st.insert(
            "max_series_per_database".into(),
            V::Integer(i64::try_from(self.storage.max_series_per_database).unwrap_or(i64::MAX)),
        );
        root.insert("storage".into(), V::Table(st));

        let mut ht = toml::Table::new();
        ht.insert(
            "max_connections".into(),
            V::Integer(self.http.max_connections.into()),
        );
        ht.insert(
            "header_read_timeout".into(),
            d(self.http.header_read_timeout),
        );
        ht.insert("request_timeout".into(), d(self.http.request_timeout));
        root.insert("http".into(), V::Table(ht));

        let mut it = toml::Table::new();
        it.insert("auth_enabled".into(), V::Boolean(self.influx.auth_enabled));
        it.insert(
            "max_body_size".into(),
            s(&self.influx.max_body_size.to_string()),
        );
        it.insert("query_timeout".into(), d(self.influx.query_timeout));
        it.insert(
            "max_row_limit".into(),
            V::Integer(i64::try_from(self.influx.max_row_limit).unwrap_or(i64::MAX)),
        );
        root.insert("influx".into(), V::Table(it));

        let mut ts = toml::Table::new();
        ts.insert("database".into(), s(&self.timeseries.database));
        ts.insert(
            "default_retention_policy".into(),
            d(self.timeseries.default_retention_policy),
        );
        ts.insert(
            "short_retention_policy".into(),
            d(self.timeseries.short_retention_policy),
        );
        ts.insert("backend".into(), s(self.timeseries.backend.as_str()));
        ts.insert("url".into(), s(&self.timeseries.url));
        ts.insert("username".into(), s(&self.timeseries.username));
        ts.insert("password".into(), s(&self.timeseries.password));
        ts.insert("timeout".into(), d(self.timeseries.timeout));
        root.insert("timeseries".into(), V::Table(ts));

        let m = &self.monitoring;
        let mut mt = toml::Table::new();
        mt.insert("tolerance_interval".into(), d(m.tolerance_interval));
        mt.insert(
            "critical_device_metrics".into(),
            V::Array(
                m.critical_device_metrics
                    .iter()
                    .map(|c| {
                        let mut t = toml::Table::new();
                        t.insert("key".into(), s(&c.key));
                        t.insert("field_name".into(), s(&c.field_name));
                        if let Some(check) = &c.check {
                            t.insert("check".into(), s(check));
                        }
                        V::Table(t)
                    })
                    .collect(),
            ),
        );
        mt.insert(
            "health_status_labels".into(),
            V::Table(
                m.health_status_labels
                    .iter()
                    .map(|(k, v)| (k.clone(), s(v)))
                    .collect(),
            ),
        );
        mt.insert("flapping_window".into(), d(m.flapping_window));
        mt.insert(
            "flapping_changes".into(),
            V::Integer(i64::from(m.flapping_changes)),
        );
        mt.insert(
            "auto_clear_management_ip".into(),
            V::Boolean(m.auto_clear_management_ip),
        );
        mt.insert(
            "device_recovery_detection".into(),
            V::Boolean(m.device_recovery_detection),
        );
        mt.insert(
            "mac_vendor_detection".into(),
            V::Boolean(m.mac_vendor_detection),
        );
        mt.insert("dashboard_map".into(), V::Boolean(m.dashboard_map));
        mt.insert(
            "wifi_sessions_enabled".into(),
            V::Boolean(m.wifi_sessions_enabled),
        );
        mt.insert(
            "dashboard_traffic_chart".into(),
            V::Table(
                m.dashboard_traffic_chart
                    .iter()
                    .map(|(k, v)| (k.clone(), list(v)))
                    .collect(),
            ),
        );
        mt.insert("metrics".into(), V::Table(m.metrics.clone()));
        mt.insert("charts".into(), V::Table(m.charts.clone()));
        mt.insert("auto_charts".into(), list(&m.auto_charts));
        mt.insert(
            "default_chart_time".into(),
            s(m.default_chart_time.as_str()),
        );
        root.insert("monitoring".into(), V::Table(mt));

        let c = &self.checks;
        let mut ct = toml::Table::new();
        ct.insert("period".into(), d(c.period));
        ct.insert("time_zone".into(), s(&c.time_zone));
        ct.insert("concurrency".into(), V::Integer(i64::from(c.concurrency)));
        for (k, v) in [
            ("auto_ping", c.auto_ping),
            ("auto_device_config_check", c.auto_device_config_check),
            ("auto_data_collected_check", c.auto_data_collected_check),
            ("auto_wifi_clients_check", c.auto_wifi_clients_check),
            ("auto_iperf3", c.auto_iperf3),
            ("management_ip_only", c.management_ip_only),
            ("iperf3_check_delete_rsa_key", c.iperf3_check_delete_rsa_key),
        ] {
            ct.insert(k.into(), V::Boolean(v));
        }
        let mut pt = toml::Table::new();
        let p = c.ping_check_config;
        for (name, param) in [
            ("count", p.count),
            ("interval", p.interval),
            ("bytes", p.bytes),
            ("timeout", p.timeout),
        ] {
            let mut t = toml::Table::new();
            t.insert("default".into(), V::Integer(param.default.into()));
            t.insert("minimum".into(), V::Integer(param.minimum.into()));
            t.insert("maximum".into(), V::Integer(param.maximum.into()));
            pt.insert(name.into(), V::Table(t));
        }
        ct.insert("ping_check_config".into(), V::Table(pt));
        ct.insert("config_check_interval".into(), d(c.config_check_interval));
        ct.insert(
            "data_collected_check_interval".into(),
            d(c.data_collected_check_interval),
        );
        ct.insert(
            "wifi_clients_check_snooze_schedule".into(),
            V::Array(
                c.wifi_clients_check_snooze_schedule
                    .iter()
                    .map(|r| V::Array(vec![s(&r.start.to_string()), s(&r.end.to_string())]))
                    .collect(),
            ),
        );
        ct.insert(
            "wifi_clients_max_check_interval".into(),
            d(c.wifi_clients_max_check_interval),
        );
        ct.insert(
            "wifi_clients_min_check_interval".into(),
            d(c.wifi_clients_min_check_interval),
        );
        ct.insert(
            "iperf3_check_config".into(),
            V::Table(c.iperf3_check_config.clone()),
        );
        ct.insert(
            "iperf3_check_lock_expire".into(),
            d(c.iperf3_check_lock_expire),
        );
        root.insert("checks".into(), V::Table(ct));

        let n = &self.notifications;
        let mut nt = toml::Table::new();
        nt.insert("site_name".into(), s(&n.site_name));
        nt.insert("base_url".into(), s(&n.base_url));
        let mut st = toml::Table::new();
        st.insert("host".into(), s(&n.smtp.host));
        st.insert("port".into(), V::Integer(n.smtp.port.into()));
        st.insert("security".into(), s(&n.smtp.security));
        st.insert("username".into(), s(&n.smtp.username));
        st.insert("password".into(), s(&n.smtp.password));
        st.insert("from".into(), s(&n.smtp.from));
        st.insert("timeout".into(), d(n.smtp.timeout));
        st.insert("ca_file".into(), s(&n.smtp.ca_file));
        st.insert(
            "allow_insecure_auth".into(),
            V::Boolean(n.smtp.allow_insecure_auth),
        );
        nt.insert("smtp".into(), V::Table(st));
        let mut wt = toml::Table::new();
        wt.insert("url".into(), s(&n.webhook.url));
        wt.insert(
            "headers".into(),
            V::Table(
                n.webhook
                    .headers
                    .iter()
                    .map(|(k, v)| (k.clone(), s(v)))
                    .collect(),
            ),
        );
        wt.insert("timeout".into(), d(n.webhook.timeout));
        wt.insert("ca_file".into(), s(&n.webhook.ca_file));
        nt.insert("webhook".into(), V::Table(wt));
        root.insert("notifications".into(), V::Table(nt));
        let mut ut = toml::Table::new();
        ut.insert("tile_url".into(), s(&self.ui.tile_url));
        ut.insert("tile_attribution".into(), s(&self.ui.tile_attribution));
        ut.insert(
            "tile_max_zoom".into(),
            V::Integer(self.ui.tile_max_zoom.into()),
        );
        root.insert("ui".into(), V::Table(ut));

        let mut tt = toml::Table::new();
        tt.insert("database".into(), s(&self.telemetry.database));
        tt.insert("interval".into(), d(self.telemetry.interval));
        tt.insert("retention".into(), d(self.telemetry.retention));
        root.insert("telemetry".into(), V::Table(tt));
        root
    }

    /// Assembles the configuration from a config file (if any), the environment and the
    /// command-line overrides, in that order of increasing precedence.
    ///
    /// # Errors
    /// [`LoadError`] when the file cannot be read or parsed, or when validation finds problems.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: &Overrides,
    ) -> Result<Config, LoadError> {
        let mut table = match file {
            None => toml::Table::new(),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                text.parse::<toml::Table>().map_err(|e| LoadError::Syntax {
                    path: path.to_owned(),
                    message: e.to_string(),
                })?
            }
        };
        let mut origins = Vec::new();
        let mut env: Vec<(String, String)> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("WISPMON_") && !NON_SETTING_ENV.contains(&k.as_str()))
            .collect();
        env.sort();
        for (name, raw) in env {
            let path: Vec<String> = name["WISPMON_".len()..]
                .split("__")
                .map(str::to_ascii_lowercase)
                .collect();
            let value = parse_env_value(&raw);
            origins.push((path.join("."), format!("env {name}")));
            if let Err(key) = set_path(&mut table, &path, value) {
                return Err(LoadError::Invalid(vec![Problem {
                    key,
                    message: "is not a table, cannot set a key inside it".into(),
                    origin: Some(format!("env {name}")),
                }]));
            }
        }
        for (key, flag, value) in overrides.entries() {
            origins.push((key.to_owned(), flag.to_owned()));
            table.insert(key.to_owned(), toml::Value::String(value));
        }
        Config::from_table(table, &origins).map_err(LoadError::Invalid)
    }
}

impl fmt::Display for Config {
    /// Prints the configuration as TOML.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = toml::to_string_pretty(&self.to_table()).map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The config file could not be read.
    #[error("reading config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The config file is not valid TOML.
    #[error("config file {path} is not valid TOML: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// Validation found problems; all of them are listed.
    #[error("invalid configuration:\n{}", .0.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
}

fn parse_env_value(raw: &str) -> toml::Value {
    match format!("v = {raw}").parse::<toml::Table>() {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(raw.to_owned())),
        Err(_) => toml::Value::String(raw.to_owned()),
    }
}

/// Sets `path` in `table`, creating intermediate tables. Errors with the key path that is in
/// the way when an intermediate key holds a non-table value.
fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    let Some((last, parents)) = path.split_last() else {
        return Ok(());
    };
    let mut cur = table;
    for (i, p) in parents.iter().enumerate() {
        let entry = cur
            .entry(p.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        cur = match entry {
            toml::Value::Table(t) => t,
            _ => return Err(path[..=i].join(".")),
        };
    }
    cur.insert(last.clone(), value);
    Ok(())
}

fn read_monitoring(mut s: Section<'_>, data_collected_is_critical: bool) -> MonitoringConfig {
    let tolerance_interval = s.duration("tolerance_interval", Duration::from_secs(300));
    let mut critical_default = vec![CriticalMetric {
        key: "ping".into(),
        field_name: "reachable".into(),
        check: Some("ping".into()),
    }];
    if data_collected_is_critical {
        critical_default.push(CriticalMetric {
            key: "data_collected".into(),
            field_name: "data_collected".into(),
            check: Some("data_collected".into()),
        });
    }
    let critical_device_metrics = s.value(
        "critical_device_metrics",
        critical_default,
        read_critical_metrics,
    );

    let mut labels: BTreeMap<String, String> = HEALTH_STATUSES
        .iter()
        .map(|k| ((*k).to_owned(), (*k).to_owned()))
        .collect();
    // A partial override is merged over the defaults, as upstream does.
    if let Some(v) = s.raw("health_status_labels") {
        match v {
            toml::Value::Table(t) => {
                for (k, v) in t {
                    if !HEALTH_STATUSES.contains(&k.as_str()) {
                        s.problem(
                            &format!("health_status_labels.{k}"),
                            "unknown health status: expected one of unknown, ok, problem, critical, deactivated",
                        );
                    } else if let Some(label) = v.as_str() {
                        labels.insert(k, label.to_owned());
                    } else {
                        s.problem(
                            &format!("health_status_labels.{k}"),
                            format!("expected a string, found {}", type_name(&v)),
                        );
                    }
                }
            }
            other => s.problem(
                "health_status_labels",
                format!("expected a table, found {}", type_name(&other)),
            ),
        }
    }

    let mut traffic: BTreeMap<String, Vec<String>> = BTreeMap::new();
    traffic.insert(
        "__all__".into(),
        vec!["wan".into(), "eth1".into(), "eth0.2".into()],
    );
    // Merged over the default `__all__` entry, as upstream does.
    for (org, v) in s.table("dashboard_traffic_chart") {
        match v.as_array().and_then(|a| {
            a.iter()
                .map(|e| e.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
        }) {
            Some(ifaces) => {
                traffic.insert(org, ifaces);
            }
            None => s.problem(
                &format!("dashboard_traffic_chart.{org}"),
                "expected a list of interface names",
            ),
        }
    }

    let cfg = MonitoringConfig {
        tolerance_interval,
        critical_device_metrics,
        health_status_labels: labels,
        auto_clear_management_ip: s.bool("auto_clear_management_ip", true),
        device_recovery_detection: s.bool("device_recovery_detection", true),
        mac_vendor_detection: s.bool("mac_vendor_detection", true),
        dashboard_map: s.bool("dashboard_map", true),
        flapping_window: s.duration("flapping_window", mins(60)),
        flapping_changes: s.value("flapping_changes", 4, non_negative_u32),
        wifi_sessions_enabled: s.bool("wifi_sessions_enabled", true),
        dashboard_traffic_chart: traffic,
        metrics: s.table("metrics"),
        charts: s.table("charts"),
        auto_charts: s.string_list(
            "auto_charts",
            [
                "traffic",
                "wifi_clients",
                "uptime",
                "packet_loss",
                "rtt",
                "memory",
                "cpu",
                "disk",
            ]
            .map(String::from)
            .to_vec(),
        ),
        default_chart_time: s.parsed("default_chart_time", ChartTime::D7),
    };
    s.finish();
    cfg
}

const HEALTH_STATUSES: [&str; 5] = ["unknown", "ok", "problem", "critical", "deactivated"];

/// The check types wispmon runs; upstream's Python class paths are accepted as aliases.
const CHECK_TYPES: [(&str, &str); 5] = [
    ("ping", "openwisp_monitoring.check.classes.Ping"),
    (
        "config_applied",
        "openwisp_monitoring.check.classes.ConfigApplied",
    ),
    (
        "data_collected",
        "openwisp_monitoring.check.classes.DataCollected",
    ),
    (
        "wifi_clients",
        "openwisp_monitoring.check.classes.WifiClients",
    ),
    ("iperf3", "openwisp_monitoring.check.classes.Iperf3"),
];

fn read_critical_metrics(v: &toml::Value) -> Result<Vec<CriticalMetric>, String> {
    let arr = v
        .as_array()
        .ok_or_else(|| format!("expected a list of tables, found {}", type_name(v)))?;
    arr.iter()
        .enumerate()
        .map(|(i, e)| {
            let t = e
                .as_table()
                .ok_or_else(|| format!("entry {i}: expected a table, found {}", type_name(e)))?;
            let get = |k: &str| t.get(k).and_then(|v| v.as_str()).map(str::to_owned);
            if let Some(unknown) = t
                .keys()
                .find(|k| !["key", "field_name", "check"].contains(&k.as_str()))
            {
                return Err(format!("entry {i}: unknown key {unknown:?}"));
            }
            let key = get("key").ok_or_else(|| format!("entry {i}: missing string \"key\""))?;
            let field_name = get("field_name")
                .ok_or_else(|| format!("entry {i}: missing string \"field_name\""))?;
            let check = match get("check") {
                None => None,
                Some(c) => Some(
                    CHECK_TYPES
                        .iter()
                        .find(|(short, long)| c == *short || c == *long)
                        .map(|(short, _)| (*short).to_owned())
                        .ok_or_else(|| {
                            format!(
                                "entry {i}: unknown check {c:?}: expected one of ping, config_applied, data_collected, wifi_clients, iperf3"
                            )
                        })?,
                ),
            };
            Ok(CriticalMetric {
                key,
                field_name,
                check,
            })
        })
        .collect()
}

fn read_ui(mut s: Section<'_>) -> UiConfig {
    let tile_url = s.string("tile_url", String::new());
    if !tile_url.is_empty()
        && (!(tile_url.starts_with("http://") || tile_url.starts_with("https://"))
            || !["{z}", "{x}", "{y}"].iter().all(|p| tile_url.contains(p)))
    {
        s.problem(
            "tile_url",
            "expected an http:// or https:// address with {z}, {x} and {y}",
        );
    }
    let tile_max_zoom = s.value("tile_max_zoom", 19u8, |v| {
        v.as_integer()
            .and_then(|i| u8::try_from(i).ok())
            .filter(|z| (1..=24).contains(z))
            .ok_or_else(|| format!("expected a zoom level from 1 to 24, found {v}"))
    });
    let cfg = UiConfig {
        tile_url,
        tile_attribution: s.string("tile_attribution", String::new()),
        tile_max_zoom,
    };
    s.finish();
    cfg
}

fn read_notifications(mut s: Section<'_>) -> NotificationsConfig {
    let site_name = s.string("site_name", "wispmon".to_owned());
    let base_url = s.string("base_url", String::new());
    if !base_url.is_empty() && !base_url.starts_with("http://") && !base_url.starts_with("https://")
    {
        s.problem("base_url", "expected an http:// or https:// address");
    }
    let smtp = {
        let mut t = s.section("smtp");
        let port = t.value("port", 587u16, |v| {
            v.as_integer()
                .and_then(|i| u16::try_from(i).ok())
                .filter(|&p| p > 0)
                .ok_or_else(|| format!("expected a port number, found {v}"))
        });
        let security = t.string("security", "starttls".to_owned());
        if !["none", "starttls", "tls"].contains(&security.as_str()) {
            t.problem("security", "expected one of none, starttls, tls");
        }
        let cfg = SmtpConfig {
            host: t.string("host", String::new()),
            port,
            security,
            username: t.string("username", String::new()),
            password: t.string("password", String::new()),
            from: t.string("from", "wispmon@localhost".to_owned()),
            timeout: t.duration("timeout", Duration::from_secs(30)),
            ca_file: t.string("ca_file", String::new()),
            allow_insecure_auth: t.bool("allow_insecure_auth", false),
        };
        if !cfg.host.is_empty() && !cfg.from.contains('@') {
            t.problem("from", "expected an e-mail address");
        }
        t.finish();
        cfg
    };
    let webhook = {
        let mut t = s.section("webhook");
        let url = t.string("url", String::new());
        if !url.is_empty() && !url.starts_with("http://") && !url.starts_with("https://") {
            t.problem("url", "expected an http:// or https:// address");
        }
        let mut headers = BTreeMap::new();
        for (k, v) in t.table("headers") {
            match v {
                toml::Value::String(v) => {
                    headers.insert(k, v);
                }
                other => t.problem("headers", format!("{k}: expected a string, found {other}")),
            }
        }
        let cfg = WebhookConfig {
            url,
            headers,
            timeout: t.duration("timeout", Duration::from_secs(10)),
            ca_file: t.string("ca_file", String::new()),
        };
        t.finish();
        cfg
    };
    s.finish();
    NotificationsConfig {
        site_name,
        base_url,
        smtp,
        webhook,
    }
}

fn read_checks(mut s: Section<'_>) -> ChecksConfig {
    let period = s.duration("period", mins(5));
    if period < Duration::from_secs(10) {
        s.problem("period", "must be at least 10s");
    }
    let ping_check_config = read_ping_config(&mut s);
    let mut snooze = Vec::new();
    if let Some(v) = s.raw("wifi_clients_check_snooze_schedule") {
        match v.as_array() {
            None => s.problem(
                "wifi_clients_check_snooze_schedule",
                "Invalid schedule format",
            ),
            Some(entries) => {
                for (i, e) in entries.iter().enumerate() {
                    match parse_snooze_range(e) {
                        Ok(r) => snooze.push(r),
                        Err(msg) => {
                            s.problem(&format!("wifi_clients_check_snooze_schedule[{i}]"), msg)
                        }
                    }
                }
            }
        }
    }
    let cfg = ChecksConfig {
        period,
        auto_ping: s.bool("auto_ping", true),
        auto_device_config_check: s.bool("auto_device_config_check", true),
        auto_data_collected_check: s.bool("auto_data_collected_check", true),
        auto_wifi_clients_check: s.bool("auto_wifi_clients_check", false),
        auto_iperf3: s.bool("auto_iperf3", false),
        management_ip_only: s.bool("management_ip_only", true),
        ping_check_config,
        config_check_interval: s.duration("config_check_interval", mins(5)),
        data_collected_check_interval: s.duration("data_collected_check_interval", mins(60)),
        wifi_clients_check_snooze_schedule: snooze,
        wifi_clients_max_check_interval: s.duration("wifi_clients_max_check_interval", mins(5)),
        wifi_clients_min_check_interval: s.duration("wifi_clients_min_check_interval", mins(4320)),
        iperf3_check_config: s.table("iperf3_check_config"),
        iperf3_check_lock_expire: s.duration("iperf3_check_lock_expire", Duration::from_secs(600)),
        iperf3_check_delete_rsa_key: s.bool("iperf3_check_delete_rsa_key", true),
        time_zone: s.value("time_zone", "UTC".to_owned(), |v| match v.as_str() {
            Some(z) => crate::time::Zone::named(z)
                .map(|_| z.to_owned())
                .map_err(|e| e.to_string()),
            None => Err(format!("expected a string, found {}", type_name(v))),
        }),
        concurrency: s.value("concurrency", 256, |v| {
            non_negative_u32(v).and_then(|n| {
                if n == 0 {
                    Err("must be at least 1".to_owned())
                } else {
                    Ok(n)
                }
            })
        }),
    };
    s.finish();
    cfg
}

fn non_negative_u32(v: &toml::Value) -> Result<u32, String> {
    v.as_integer()
        .and_then(|i| u32::try_from(i).ok())
        .ok_or_else(|| format!("expected a non-negative integer, found {v}"))
}

/// Reads `checks.ping_check_config`, deep-merged over the built-in schema.
fn read_ping_config(s: &mut Section<'_>) -> PingCheckConfig {
    let mut cfg = PingCheckConfig::default();
    let mut ps = s.section("ping_check_config");
    for (name, slot) in [
        ("count", &mut cfg.count),
        ("interval", &mut cfg.interval),
        ("bytes", &mut cfg.bytes),
        ("timeout", &mut cfg.timeout),
    ] {
        let mut p = ps.section(name);
        slot.default = p.value("default", slot.default, non_negative_u32);
        slot.minimum = p.value("minimum", slot.minimum, non_negative_u32);
        slot.maximum = p.value("maximum", slot.maximum, non_negative_u32);
        if !(slot.minimum <= slot.default && slot.default <= slot.maximum) {
            p.problem(
                "default",
                format!(
                    "must lie between minimum {} and maximum {}, found {}",
                    slot.minimum, slot.maximum, slot.default
                ),
            );
        }
        p.finish();
    }
    ps.finish();
    cfg
}

#[cfg(test)]
mod tests;
