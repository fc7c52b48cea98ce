//! The application: wires every component together, owns every task, and runs the lifecycle.
//!
//! Start order: storage → domain → monitor → HTTP listener. Stop order is the reverse: stop
//! accepting HTTP and drain requests, stop the monitor's tasks, flush storage and remove the
//! unclean-shutdown marker. Each phase's duration is logged.

pub mod control;
pub mod import;
pub mod influx_http;
pub mod logging;
pub mod remote;
pub mod selfmon;
pub mod systemd;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::api::{self, ApiState};
use crate::config::NotificationsConfig;
use crate::config::{Config, TimeseriesBackend};
use crate::domain::registry::Registry;
use crate::domain::status::{HealthSettings, NotificationSettings};
use crate::domain::timeseries::{Embedded, SharedTimeseries};
use crate::domain::user::{ADMIN_USERNAME, AdminBootstrap};
use crate::domain::{Domain, DomainSettings, vendor};
use crate::monitor::Monitor;
use crate::monitor::scheduler::{self, Prober, SchedulerSettings};
use crate::net::icmp::Pinger;
use crate::notify::dispatch::{Channels, Notifier};
use crate::notify::smtp::{Security, SmtpSettings};
use crate::notify::webhook::{self, WebhookSettings};
use crate::storage::Storage;
use crate::time::{SharedClock, SystemClock};

/// Environment variable that sets the administrator password on the very first start.
pub const ADMIN_PASSWORD_ENV: &str = "WISPMON_ADMIN_PASSWORD";

/// How long in-flight HTTP requests get to finish at shutdown.
const HTTP_DRAIN: Duration = Duration::from_secs(2);
/// How long running checks get to finish at shutdown.
const MONITOR_DRAIN: Duration = Duration::from_secs(1);

/// A started application.
#[derive(Debug)]
pub struct Running {
    addr: SocketAddr,
    http_stop: oneshot::Sender<()>,
    http: JoinHandle<std::io::Result<()>>,
    monitor: Monitor,
    notifier: Notifier,
    control: control::Control,
    selfmon: Option<selfmon::SelfMonitor>,
    storage: Storage,
    /// What the administrator bootstrap did on this start.
    pub admin: AdminBootstrap,
}

/// Starts every component. `admin_password` is used only if no user exists yet.
///
/// # Errors
/// Storage cannot be opened, the administrator cannot be created, or the listener cannot bind.
pub async fn start(
    config: &Config,
    admin_password: Option<String>,
    clock: SharedClock,
) -> anyhow::Result<Running> {
    // The registry overrides are checked before anything touches the data directory.
    let settings = domain_settings(config)?;
    let t = Instant::now();
    let storage = {
        let dir = config.data_dir.clone();
        let cfg = config.storage.clone();
        let clock = clock.clone();
        tokio::task::spawn_blocking(move || Storage::open(&dir, &cfg, clock))
            .await
            .context("storage open task failed")?
            .with_context(|| format!("opening data directory {}", config.data_dir.display()))?
    };
    if storage.previous_run_was_unclean() {
        warn!(
            data_dir = %config.data_dir.display(),
            "previous run did not shut down cleanly"
        );
    }
    info!(elapsed_ms = t.elapsed().as_millis() as u64, data_dir = %config.data_dir.display(), "storage started");

    let t = Instant::now();
    let (series, relay) = timeseries_backend(config, &storage)?;
    let domain = Domain::with_timeseries(&storage, settings, clock.clone(), series);
    let admin = {
        let d = domain.clone();
        tokio::task::spawn_blocking(move || d.bootstrap_admin(admin_password.as_deref()))
            .await
            .context("administrator bootstrap task failed")?
            .context("creating the administrator account")?
    };
    match &admin {
        AdminBootstrap::Existing => {}
        AdminBootstrap::CreatedWithGivenPassword => {
            info!(
                username = ADMIN_USERNAME,
                "created administrator account with the password from {ADMIN_PASSWORD_ENV}"
            );
        }
        AdminBootstrap::CreatedWithGeneratedPassword(pw) => {
            info!(username = ADMIN_USERNAME, "created administrator account");
            // Printed once, on stdout and not in the log, so it can be captured on first start.
            println!(
                "wispmon: administrator account \"{ADMIN_USERNAME}\" created with password: {pw}"
            );
            println!("wispmon: this password is shown only once; change it after logging in");
        }
    }
    ensure_timeseries(&domain, config).await?;
    info!(
        elapsed_ms = t.elapsed().as_millis() as u64,
        "domain started"
    );

    let notifier = Notifier::start(domain.clone(), channels(&config.notifications)?);

    let t = Instant::now();
    let checks = SchedulerSettings {
        period: config.checks.period,
        concurrency: usize::try_from(config.checks.concurrency).unwrap_or(usize::MAX),
    };
    let monitor = Monitor::start(domain.clone(), Some((open_pinger(), checks)));
    info!(
        elapsed_ms = t.elapsed().as_millis() as u64,
        tasks = monitor.task_count(),
        "monitor started"
    );

    let bound = match tokio::net::TcpListener::bind(config.listen.0).await {
        Ok(l) => l.local_addr().map(|a| (l, a)),
        Err(e) => Err(e),
    };
    let (listener, addr) = match bound {
        Ok(b) => b,
        Err(e) => {
            // Undo the started components so a failed start leaves a clean data directory.
            monitor.stop(MONITOR_DRAIN).await;
            notifier.stop(MONITOR_DRAIN).await;
            close_storage(storage).await?;
            return Err(e).with_context(|| format!("binding HTTP listener on {}", config.listen));
        }
    };
    let control = match control::Control::start(&config.data_dir, storage.backup_source()) {
        Ok(c) => c,
        Err(e) => {
            monitor.stop(MONITOR_DRAIN).await;
            notifier.stop(MONITOR_DRAIN).await;
            close_storage(storage).await?;
            return Err(e);
        }
    };
    let (http_stop, stopped) = oneshot::channel::<()>();
    let ui = api::Ui::new(
        &domain,
        config.ui.clone(),
        &config.notifications.site_name,
        &config.notifications.base_url,
    )
    .context("starting the web UI's live updates")?;
    let selfmon = selfmon::SelfMonitor::start(
        &domain,
        storage.engine().clone(),
        &config.telemetry,
        clock.clone(),
    )
    .await?;
    let state = ApiState {
        ui,
        domain,
        engine: storage.engine().clone(),
        clock: clock.clone(),
        influx: config.influx.clone(),
        trusted_proxies: config.trusted_proxies.clone().into(),
        relay,
    };
    let http = tokio::spawn(api::serve(listener, state, (&config.http).into(), async {
        let _ = stopped.await;
    }));
    info!(%addr, "HTTP listening");
    println!("wispmon: listening on http://{addr}");

    Ok(Running {
        addr,
        http_stop,
        http,
        monitor,
        notifier,
        control,
        selfmon,
        storage,
        admin,
    })
}

/// The timeseries backend of the configuration: the embedded engine, or a remote InfluxDB
/// (then also where the InfluxDB API is relayed).
fn timeseries_backend(
    config: &Config,
    storage: &Storage,
) -> anyhow::Result<(SharedTimeseries, Option<Arc<dyn api::InfluxRelay>>)> {
    Ok(match config.timeseries.backend {
        TimeseriesBackend::Embedded => (Arc::new(Embedded::new(storage.engine().clone())), None),
        TimeseriesBackend::Influxdb => {
            let remote = Arc::new(
                remote::RemoteInflux::new(&config.timeseries).context("[timeseries] url")?,
            );
            info!(
                remote = %remote.authority(),
                database = %config.timeseries.database,
                "timeseries stored in a remote InfluxDB"
            );
            (remote.clone(), Some(remote))
        }
    })
}

/// Creates the monitoring database (and the counters') where the timeseries live.
async fn ensure_timeseries(domain: &Domain, config: &Config) -> anyhow::Result<()> {
    let d = domain.clone();
    let ts = config.timeseries.clone();
    let r = tokio::task::spawn_blocking(move || d.ensure_timeseries(&ts))
        .await
        .context("timeseries database task failed")?;
    match config.timeseries.backend {
        TimeseriesBackend::Embedded => r.context("creating the monitoring database"),
        TimeseriesBackend::Influxdb => r.with_context(|| {
            format!(
                "creating the monitoring database on the remote InfluxDB {}",
                config.timeseries.url
            )
        }),
    }
}

/// The notification channels of the configuration (none while their address is empty).
fn channels(n: &NotificationsConfig) -> anyhow::Result<Channels> {
    let path = |s: &str| (!s.is_empty()).then(|| std::path::PathBuf::from(s));
    let text = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    let smtp = if n.smtp.host.is_empty() {
        None
    } else {
        Some(SmtpSettings {
            host: n.smtp.host.clone(),
            port: n.smtp.port,
            security: match n.smtp.security.as_str() {
                "none" => Security::None,
                "tls" => Security::Tls,
                _ => Security::StartTls,
            },
            username: text(&n.smtp.username),
            password: text(&n.smtp.password),
            from: n.smtp.from.clone(),
            helo_name: "wispmon".to_owned(),
            timeout: n.smtp.timeout,
            ca_file: path(&n.smtp.ca_file),
            allow_insecure_auth: n.smtp.allow_insecure_auth,
        })
    };
    let webhook = if n.webhook.url.is_empty() {
        None
    } else {
        webhook::validate_url(&n.webhook.url)
            .map_err(|e| anyhow::anyhow!("notifications.webhook.url: {e}"))?;
        Some(WebhookSettings {
            url: n.webhook.url.clone(),
            headers: n
                .webhook
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            timeout: n.webhook.timeout,
            ca_file: path(&n.webhook.ca_file),
        })
    };
    if smtp.is_some() || webhook.is_some() {
        info!(
            email = smtp.is_some(),
            webhook = webhook.is_some(),
            "notification delivery on"
        );
    }
    Ok(Channels { smtp, webhook })
}

impl Running {
    /// The address the HTTP listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops every component in reverse start order and flushes storage.
    ///
    /// # Errors
    /// The HTTP server failed, or storage could not be flushed and closed.
    pub async fn stop(self) -> anyhow::Result<()> {
        let t = Instant::now();
        self.control.stop();
        let _ = self.http_stop.send(());
        let mut http = self.http;
        match tokio::time::timeout(HTTP_DRAIN, &mut http).await {
            Ok(joined) => joined
                .context("HTTP task panicked")?
                .context("HTTP server failed")?,
            Err(_) => {
                warn!("HTTP requests still running after the drain period; closing them");
                http.abort();
            }
        }
        info!(elapsed_ms = t.elapsed().as_millis() as u64, "HTTP stopped");

        let t = Instant::now();
        let aborted = self.monitor.stop(MONITOR_DRAIN).await;
        self.notifier.stop(MONITOR_DRAIN).await;
        if let Some(s) = self.selfmon {
            s.stop(MONITOR_DRAIN).await;
        }
        info!(
            elapsed_ms = t.elapsed().as_millis() as u64,
            aborted, "monitor stopped"
        );

        let t = Instant::now();
        close_storage(self.storage).await?;
        info!(
            elapsed_ms = t.elapsed().as_millis() as u64,
            "storage flushed and closed"
        );
        Ok(())
    }
}

/// Checks what the configuration loader cannot: the metric and chart registry overrides.
///
/// # Errors
/// An override that does not validate; the message names the key.
pub fn check_config(config: &Config) -> anyhow::Result<()> {
    registry(config).map(|_| ())
}

fn registry(config: &Config) -> anyhow::Result<Registry> {
    let to_json = |t: &toml::Table| serde_json::to_value(t).unwrap_or(serde_json::Value::Null);
    Registry::with_overrides(
        &to_json(&config.monitoring.metrics),
        &to_json(&config.monitoring.charts),
    )
    .context("invalid metric or chart configuration")
}

/// The domain's settings from the configuration: the registry with the operator's `METRICS`
/// and `CHARTS` overrides (validated here, so a bad override stops the start with a message
/// naming the key), and the MAC vendor table when detection is on and `ieee-data` is there.
fn domain_settings(config: &Config) -> anyhow::Result<DomainSettings> {
    let registry = registry(config)?;
    let mac_vendors = if config.monitoring.mac_vendor_detection {
        match std::fs::read_to_string(vendor::OUI_TXT) {
            Ok(text) => Some(vendor::MacVendors::parse(&text)),
            Err(e) => {
                info!(path = vendor::OUI_TXT, error = %e, "MAC vendor detection off: install the ieee-data package to turn it on");
                None
            }
        }
    } else {
        None
    };
    Ok(DomainSettings {
        database: config.timeseries.database.clone(),
        registry,
        auto_charts: config.monitoring.auto_charts.clone(),
        mac_vendors,
        wifi_sessions: config.monitoring.wifi_sessions_enabled,
        default_chart_time: config.monitoring.default_chart_time.as_str().to_owned(),
        dashboard_traffic: config.monitoring.dashboard_traffic_chart.clone(),
        checks: config.checks.clone(),
        health: HealthSettings {
            tolerance_interval_s: i64::try_from(config.monitoring.tolerance_interval.as_secs())
                .unwrap_or(i64::MAX),
            critical: config.monitoring.critical_device_metrics.clone(),
            auto_clear_management_ip: config.monitoring.auto_clear_management_ip,
            recovery_detection: config.monitoring.device_recovery_detection,
            flapping_window_ns: i64::try_from(config.monitoring.flapping_window.as_nanos())
                .unwrap_or(i64::MAX),
            flapping_changes: config.monitoring.flapping_changes,
        },
        notifications: NotificationSettings {
            site_name: config.notifications.site_name.clone(),
            base_url: if config.notifications.base_url.is_empty() {
                format!("http://{}", config.listen.0)
            } else {
                config.notifications.base_url.clone()
            },
            email: !config.notifications.smtp.host.is_empty(),
            webhook: !config.notifications.webhook.url.is_empty(),
        },
        telemetry_database: Some(config.telemetry.database.clone()).filter(|d| !d.is_empty()),
    })
}

/// The pinger, with its sockets opened now so the log says at start which kind is in use (or
/// why ping checks will fail); a family that cannot open is retried on first use.
fn open_pinger() -> Arc<dyn Prober> {
    let pinger = Pinger::new();
    for (v6, family) in [(false, "IPv4"), (true, "IPv6")] {
        if let Err(e) = pinger.open(v6) {
            warn!(family, error = %e, "ICMP unavailable: ping checks of this family will fail");
        }
    }
    Arc::new(pinger)
}

/// Runs every check once (`wispmon run-checks`) on a stopped appliance's data directory and
/// prints how many stored a result.
///
/// # Errors
/// The data directory is in use or cannot be opened, or the checks cannot be listed.
pub fn run_checks(config: &Config) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("wispmon")
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let settings = domain_settings(config)?;
        let clock: SharedClock = Arc::new(SystemClock);
        let storage = {
            let dir = config.data_dir.clone();
            let cfg = config.storage.clone();
            let clock = clock.clone();
            tokio::task::spawn_blocking(move || Storage::open(&dir, &cfg, clock))
                .await
                .context("storage open task failed")?
                .with_context(|| {
                    format!(
                        "opening data directory {} (stop the running appliance first: its \
                         scheduler runs every check each period)",
                        config.data_dir.display()
                    )
                })?
        };
        let domain = Domain::with_timeseries(
            &storage,
            settings,
            clock,
            timeseries_backend(config, &storage)?.0,
        );
        ensure_timeseries(&domain, config).await?;
        let t = Instant::now();
        let concurrency = usize::try_from(config.checks.concurrency).unwrap_or(usize::MAX);
        let summary = scheduler::run_all_once(&domain, open_pinger(), concurrency).await;
        close_storage(storage).await?;
        let s = summary.map_err(|e| anyhow::anyhow!("listing the checks: {e}"))?;
        println!(
            "wispmon: ran {} checks in {:.1}s: {} stored a result, {} skipped, {} failed",
            s.stored + s.skipped + s.failed,
            t.elapsed().as_secs_f64(),
            s.stored,
            s.skipped,
            s.failed
        );
        Ok(())
    })
}

async fn close_storage(storage: Storage) -> anyhow::Result<()> {
    tokio::task::spawn_blocking(move || storage.close())
        .await
        .context("storage close task failed")?
        .context("flushing and closing storage")
}

/// SIGTERM and SIGINT handlers, installed before start-up so that a signal arriving while the
/// appliance starts is not lost to the default action (which would skip the clean stop).
struct ShutdownSignals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    fn install() -> anyhow::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(ShutdownSignals {
            term: signal(SignalKind::terminate()).context("installing SIGTERM handler")?,
            int: signal(SignalKind::interrupt()).context("installing SIGINT handler")?,
        })
    }

    async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}

/// Rewrites the stopped appliance's database (see [`Storage::vacuum`]) and reports sizes.
///
/// # Errors
/// The data directory is in use or missing, or the copy failed.
pub fn vacuum(config: &Config) -> anyhow::Result<()> {
    let (before, after) = Storage::vacuum(&config.data_dir, &config.storage)
        .with_context(|| format!("vacuuming {}", config.data_dir.display()))?;
    println!(
        "wispmon: vacuumed {}: {before} bytes -> {after} bytes",
        config.data_dir.display()
    );
    Ok(())
}

/// Runs the appliance until SIGTERM or SIGINT, then stops cleanly.
///
/// # Errors
/// Start-up or shutdown failed; the message says which step.
pub fn run(config: &Config) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("wispmon")
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let admin_password = std::env::var(ADMIN_PASSWORD_ENV)
            .ok()
            .filter(|p| !p.is_empty());
        let clock: SharedClock = Arc::new(SystemClock);
        let mut signals = ShutdownSignals::install()?;
        let running = start(config, admin_password, clock).await?;
        // Ready means answering: the listener is bound and every component has started.
        systemd::notify(&format!(
            "READY=1\nSTATUS=listening on {}",
            running.local_addr()
        ));
        let signal = signals.recv().await;
        info!(signal, "shutting down");
        systemd::notify("STOPPING=1");
        running.stop().await
    })?;
    // Blocking tasks still parked on the pool must not delay the exit.
    runtime.shutdown_timeout(Duration::from_millis(500));
    info!("stopped cleanly");
    Ok(())
}
