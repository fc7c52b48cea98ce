//! The HTTP surface: routing, handlers, authentication and the embedded UI; the only user of
//! `hyper`/`axum` besides `notify`.
//!
//! Owns: the listener's request handling, status codes and bodies. Must not: hold product
//! rules (they live in `domain`) or open storage itself.

pub mod check;
mod controller;
mod geo;
mod influx;
mod influx_format;
mod monitoring;
mod notifications;
mod openapi;
mod operator;
mod rest;
mod silence;
mod throttle;
mod ui;

pub use influx::{InfluxRelay, Relayed};
pub use rest::encode as percent_encode;
pub use ui::Ui;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{any, get, post};

use crate::config::InfluxConfig;
use crate::domain::Domain;
use crate::storage::Engine;
use crate::time::SharedClock;

/// Paths served, one constant each.
pub mod paths {
    /// Liveness and readiness probe.
    pub const HEALTHZ: &str = "/healthz";
    /// Self-monitoring in Prometheus' text format.
    pub const METRICS: &str = "/metrics";
    /// InfluxDB 1.x ping.
    pub const PING: &str = "/ping";
    /// InfluxDB 1.x line-protocol write.
    pub const WRITE: &str = "/write";
    /// InfluxDB 1.x InfluxQL query.
    pub const QUERY: &str = "/query";
    /// API token for username and password (OpenWISP's path).
    pub const TOKEN: &str = "/api/v1/users/token/";
    /// Users (creation by superusers).
    pub const USERS: &str = "/api/v1/users/user/";
    /// One user, by username.
    pub const USER: &str = "/api/v1/users/user/{username}/";
    /// Organizations.
    pub const ORGANIZATIONS: &str = "/api/v1/users/organization/";
    /// One organization.
    pub const ORGANIZATION: &str = "/api/v1/users/organization/{pk}/";
    /// The configuration archive an organization's devices download.
    pub const ORGANIZATION_ARCHIVE: &str = "/api/v1/users/organization/{pk}/config-archive/";
    /// Devices.
    pub const DEVICES: &str = "/api/v1/controller/device/";
    /// One device.
    pub const DEVICE: &str = "/api/v1/controller/device/{pk}/";
    /// A device's metrics: the monitoring agent posts here; operators read charts.
    pub const DEVICE_METRICS: &str = "/api/v1/monitoring/device/{pk}/";
    /// Devices with their monitoring status.
    pub const MONITORING_DEVICES: &str = "/api/v1/monitoring/device/";
    /// Devices near a device.
    pub const NEARBY_DEVICES: &str = "/api/v1/monitoring/device/{pk}/nearby-devices/";
    /// One metric's alert settings.
    pub const ALERT_SETTINGS: &str =
        "/api/v1/monitoring/device/{pk}/metric/{metric}/alert-settings/";
    /// A device's checks.
    pub const CHECKS: &str = "/api/v1/monitoring/device/{pk}/check/";
    /// One check of a device.
    pub const CHECK: &str = "/api/v1/monitoring/device/{pk}/check/{check}/";
    /// A device's upstream device (alerts held while it is down).
    pub const DEVICE_PARENT: &str = "/api/v1/monitoring/device/{pk}/parent/";
    /// A device's ping latency distribution (the "smoke" chart).
    pub const PING_LATENCY: &str = "/api/v1/monitoring/device/{pk}/ping-latency/";
    /// A device's health summary: flapping, silence, held alerts.
    pub const DEVICE_HEALTH: &str = "/api/v1/monitoring/device/{pk}/health/";
    /// Maintenance windows.
    pub const MAINTENANCE_WINDOWS: &str = "/api/v1/monitoring/maintenance-window/";
    /// One maintenance window.
    pub const MAINTENANCE_WINDOW: &str = "/api/v1/monitoring/maintenance-window/{pk}/";
    /// Config agent: self-registration (and upstream's newer spelling).
    pub const REGISTER: &str = "/controller/register/";
    /// See [`REGISTER`].
    pub const DEVICE_REGISTER: &str = "/controller/device/register/";
    /// Config agent: the archive's checksum (its heartbeat).
    pub const CHECKSUM: &str = "/controller/checksum/{pk}/";
    /// See [`CHECKSUM`].
    pub const DEVICE_CHECKSUM: &str = "/controller/device/checksum/{pk}/";
    /// Config agent: the archive.
    pub const DOWNLOAD_CONFIG: &str = "/controller/download-config/{pk}/";
    /// See [`DOWNLOAD_CONFIG`].
    pub const DEVICE_DOWNLOAD_CONFIG: &str = "/controller/device/download-config/{pk}/";
    /// Config agent: configuration status after an apply.
    pub const REPORT_STATUS: &str = "/controller/report-status/{pk}/";
    /// See [`REPORT_STATUS`].
    pub const DEVICE_REPORT_STATUS: &str = "/controller/device/report-status/{pk}/";
    /// Config agent: model, OS and SoC at boot.
    pub const UPDATE_INFO: &str = "/controller/update-info/{pk}/";
    /// See [`UPDATE_INFO`].
    pub const DEVICE_UPDATE_INFO: &str = "/controller/device/update-info/{pk}/";
    /// The dashboard's general charts.
    pub const DASHBOARD: &str = "/api/v1/monitoring/dashboard/";
    /// wispmon's own charts (self-monitoring).
    pub const SYSTEM: &str = "/api/v1/monitoring/system/";
    /// WiFi sessions.
    pub const WIFI_SESSIONS: &str = "/api/v1/monitoring/wifi-session/";
    /// One WiFi session.
    pub const WIFI_SESSION: &str = "/api/v1/monitoring/wifi-session/{pk}/";
    /// Locations.
    pub const LOCATIONS: &str = "/api/v1/geo/location/";
    /// One location.
    pub const LOCATION: &str = "/api/v1/geo/location/{pk}/";
    /// Floor plans.
    pub const FLOORPLANS: &str = "/api/v1/geo/floorplan/";
    /// One floor plan.
    pub const FLOORPLAN: &str = "/api/v1/geo/floorplan/{pk}/";
    /// A floor plan's image.
    pub const FLOORPLAN_IMAGE: &str = "/api/v1/geo/floorplan/{pk}/image/";
    /// A device's place.
    pub const DEVICE_LOCATION: &str = "/api/v1/controller/device/{pk}/location/";
    /// The map: locations with devices, as GeoJSON.
    pub const GEOJSON: &str = "/api/v1/monitoring/geojson/";
    /// The devices at a location.
    pub const LOCATION_DEVICES: &str = "/api/v1/monitoring/location/{pk}/device/";
    /// Devices on a location's floor plans.
    pub const INDOOR_COORDINATES: &str = "/api/v1/monitoring/location/{pk}/indoor-coordinates/";
    /// A device's metric list with health.
    pub const DEVICE_METRIC_LIST: &str = "/api/v1/monitoring/device/{pk}/metric/";
    /// One's notifications.
    pub const NOTIFICATIONS: &str = "/api/v1/notifications/notification/";
    /// Mark one's notifications read.
    pub const NOTIFICATIONS_READ: &str = "/api/v1/notifications/notification/read/";
    /// Number of one's unread notifications.
    pub const NOTIFICATIONS_UNREAD: &str = "/api/v1/notifications/notification/unread-count/";
    /// One notification.
    pub const NOTIFICATION: &str = "/api/v1/notifications/notification/{pk}/";
    /// One's notification preferences.
    pub const NOTIFICATION_PREFERENCES: &str = "/api/v1/notifications/user/preferences/";
    /// This API's OpenAPI document.
    pub const DOCS: &str = "/api/v1/docs/";
    /// The web UI's page.
    pub const UI_INDEX: &str = "/";
    /// The web UI's files and libraries.
    pub const UI_ASSET: &str = "/static/{*path}";
    /// The web UI's login session.
    pub const UI_SESSION: &str = "/api/v1/ui/session/";
    /// Live updates for open pages (server-sent events).
    pub const UI_EVENTS: &str = "/api/v1/ui/events/";
    /// One's API tokens.
    pub const UI_TOKENS: &str = "/api/v1/ui/token/";
    /// One of one's API tokens.
    pub const UI_TOKEN: &str = "/api/v1/ui/token/{id}/";
    /// The same document under a file name, for tools that want one.
    pub const DOCS_JSON: &str = "/api/v1/docs/openapi.json";

    /// Every path above. The OpenAPI tests hold it equal to the constants, the router and the
    /// document, so a route added without documentation fails them.
    #[cfg(test)]
    pub(crate) const ALL: &[&str] = &[
        HEALTHZ,
        METRICS,
        PING,
        WRITE,
        QUERY,
        TOKEN,
        USERS,
        USER,
        ORGANIZATIONS,
        ORGANIZATION,
        ORGANIZATION_ARCHIVE,
        DEVICES,
        DEVICE,
        DEVICE_METRICS,
        MONITORING_DEVICES,
        DEVICE_METRIC_LIST,
        DASHBOARD,
        SYSTEM,
        NEARBY_DEVICES,
        ALERT_SETTINGS,
        CHECKS,
        CHECK,
        DEVICE_PARENT,
        DEVICE_HEALTH,
        PING_LATENCY,
        REGISTER,
        DEVICE_REGISTER,
        CHECKSUM,
        DEVICE_CHECKSUM,
        DOWNLOAD_CONFIG,
        DEVICE_DOWNLOAD_CONFIG,
        REPORT_STATUS,
        DEVICE_REPORT_STATUS,
        UPDATE_INFO,
        DEVICE_UPDATE_INFO,
        MAINTENANCE_WINDOWS,
        MAINTENANCE_WINDOW,
        WIFI_SESSIONS,
        WIFI_SESSION,
        LOCATIONS,
        LOCATION,
        FLOORPLANS,
        FLOORPLAN,
        FLOORPLAN_IMAGE,
        DEVICE_LOCATION,
        GEOJSON,
        LOCATION_DEVICES,
        INDOOR_COORDINATES,
        NOTIFICATIONS,
        NOTIFICATIONS_READ,
        NOTIFICATIONS_UNREAD,
        NOTIFICATION,
        NOTIFICATION_PREFERENCES,
        DOCS,
        DOCS_JSON,
        UI_INDEX,
        UI_ASSET,
        UI_SESSION,
        UI_EVENTS,
        UI_TOKENS,
        UI_TOKEN,
    ];
}

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct ApiState {
    /// The monitoring domain.
    pub domain: Domain,
    /// The timeseries engine (InfluxDB API).
    pub engine: Arc<Engine>,
    /// Wall clock (timestamps of points written without one).
    pub clock: SharedClock,
    /// InfluxDB API settings.
    pub influx: InfluxConfig,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Arc<[std::net::IpAddr]>,
    /// The web UI.
    pub ui: Ui,
    /// The remote InfluxDB `/write` and `/query` are relayed to, if the timeseries live there.
    pub relay: Option<Arc<dyn influx::InfluxRelay>>,
}

/// The application's router.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route(paths::HEALTHZ, get(healthz))
        .route(paths::PING, get(influx::ping))
        // /write reads its body itself, with the configured limit and a JSON 413.
        .route(
            paths::WRITE,
            post(influx::write).layer(DefaultBodyLimit::disable()),
        )
        .route(
            paths::QUERY,
            get(influx::query)
                .post(influx::query)
                .layer(DefaultBodyLimit::disable()),
        )
        .route(paths::TOKEN, post(operator::obtain_token))
        .route(
            paths::USERS,
            get(operator::list_users).post(operator::create_user),
        )
        .route(paths::USER, any(operator::user))
        .route(
            paths::ORGANIZATIONS,
            get(operator::organizations).post(operator::organizations),
        )
        .route(paths::ORGANIZATION, any(operator::organization))
        .route(
            paths::ORGANIZATION_ARCHIVE,
            get(operator::organization_archive)
                .put(operator::organization_archive)
                .delete(operator::organization_archive),
        )
        .route(
            paths::DEVICES,
            get(operator::devices).post(operator::devices),
        )
        .route(paths::DEVICE, any(operator::device))
        // The agent's body is read by the handler: an oversized sample must be a 400.
        .route(paths::LOCATIONS, get(geo::locations).post(geo::locations))
        .route(paths::LOCATION, any(geo::location))
        .route(
            paths::FLOORPLANS,
            get(geo::floorplans).post(geo::floorplans),
        )
        .route(paths::FLOORPLAN, any(geo::floorplan))
        .route(
            paths::FLOORPLAN_IMAGE,
            get(geo::floorplan_image)
                .put(geo::floorplan_image)
                .layer(DefaultBodyLimit::max(
                    crate::domain::geo::MAX_IMAGE_BYTES + 1,
                )),
        )
        .route(paths::DEVICE_LOCATION, any(geo::device_location))
        .route(paths::GEOJSON, get(geo::geojson))
        .route(paths::LOCATION_DEVICES, get(geo::location_devices))
        .route(paths::INDOOR_COORDINATES, get(geo::indoor_coordinates))
        .route(paths::MONITORING_DEVICES, get(monitoring::list_devices))
        .route(paths::DASHBOARD, get(monitoring::dashboard))
        .route(paths::SYSTEM, get(monitoring::system))
        .route(paths::NEARBY_DEVICES, get(geo::nearby_devices))
        .route(
            paths::CHECKS,
            get(monitoring::checks).post(monitoring::checks),
        )
        .route(paths::CHECK, any(monitoring::check))
        .route(
            paths::ALERT_SETTINGS,
            get(monitoring::alert_settings)
                .patch(monitoring::alert_settings)
                .put(monitoring::alert_settings),
        )
        // The agent's form bodies are read by the handlers, bounded there.
        .route(paths::REGISTER, post(controller::register))
        .route(paths::DEVICE_REGISTER, post(controller::register))
        .route(paths::CHECKSUM, get(controller::checksum))
        .route(paths::DEVICE_CHECKSUM, get(controller::checksum))
        .route(paths::DOWNLOAD_CONFIG, get(controller::download))
        .route(paths::DEVICE_DOWNLOAD_CONFIG, get(controller::download))
        .route(paths::REPORT_STATUS, post(controller::report_status))
        .route(paths::DEVICE_REPORT_STATUS, post(controller::report_status))
        .route(paths::UPDATE_INFO, post(controller::update_info))
        .route(paths::DEVICE_UPDATE_INFO, post(controller::update_info))
        .route(paths::DEVICE_PARENT, any(silence::parent))
        .route(paths::DEVICE_HEALTH, get(silence::health))
        .route(paths::PING_LATENCY, get(monitoring::ping_latency))
        .route(
            paths::MAINTENANCE_WINDOWS,
            get(silence::windows).post(silence::windows),
        )
        .route(paths::MAINTENANCE_WINDOW, any(silence::window))
        .route(paths::WIFI_SESSIONS, get(monitoring::wifi_sessions))
        .route(paths::WIFI_SESSION, get(monitoring::wifi_session))
        .route(
            paths::DEVICE_METRIC_LIST,
            get(monitoring::device_metric_list),
        )
        .route(
            paths::DEVICE_METRICS,
            get(monitoring::get_device_charts)
                .post(monitoring::post_device_metrics)
                .layer(DefaultBodyLimit::disable()),
        )
        .route(paths::NOTIFICATIONS, get(notifications::list))
        .route(paths::NOTIFICATIONS_READ, post(notifications::mark_read))
        .route(
            paths::NOTIFICATIONS_UNREAD,
            get(notifications::unread_count),
        )
        .route(paths::NOTIFICATION, any(notifications::one))
        .route(
            paths::NOTIFICATION_PREFERENCES,
            get(notifications::preferences).put(notifications::preferences),
        )
        .route(paths::DOCS, get(openapi::document))
        .route(paths::DOCS_JSON, get(openapi::document))
        .route(paths::UI_INDEX, get(ui::index))
        .route(paths::UI_ASSET, get(ui::asset))
        .route(
            paths::UI_SESSION,
            get(ui::session).post(ui::session).delete(ui::session),
        )
        .route(paths::UI_EVENTS, get(ui::events))
        .route(paths::UI_TOKENS, get(ui::tokens).post(ui::tokens))
        .route(paths::UI_TOKEN, axum::routing::delete(ui::token))
        .route(paths::METRICS, get(metrics))
        // Counted per route template (never the raw path: ids would explode the label set).
        .route_layer(axum::middleware::from_fn(count_request))
        .fallback(not_found)
        .with_state(state)
}

/// Counts a routed request and times it to its response headers.
async fn count_request(
    path: axum::extract::MatchedPath,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let started = std::time::Instant::now();
    let method = req.method().clone();
    let res = next.run(req).await;
    let t = crate::telemetry::global();
    let route = path.as_str();
    t.http_requests
        .with(&[route, method.as_str(), res.status().as_str()])
        .inc();
    t.http_duration.with(&[route]).observe(started.elapsed());
    res
}

/// `/metrics`: every counter, plus sizes read now from the engine and the process.
async fn metrics(axum::extract::State(st): axum::extract::State<ApiState>) -> impl IntoResponse {
    let engine = st.engine.clone();
    let gauges = tokio::task::spawn_blocking(move || gauges(&engine))
        .await
        .unwrap_or_default();
    (
        StatusCode::OK,
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::telemetry::global().render(&gauges),
    )
}

/// The numbers `/metrics` reads at scrape time: engine sizes, then the process's memory and
/// descriptors. Blocks (reads the engine's files' sizes).
pub fn gauges(engine: &Engine) -> Vec<crate::telemetry::Gauge> {
    let (stats, disk) = (engine.stats(), engine.size_on_disk().unwrap_or(0));
    #[allow(clippy::cast_precision_loss)] // sizes and counts far below 2^53
    let mut gauges = vec![
        crate::telemetry::Gauge {
            name: "wispmon_engine_series",
            help: "Series in the timeseries index.",
            value: stats.series as f64,
        },
        crate::telemetry::Gauge {
            name: "wispmon_engine_head_bytes",
            help: "Bytes of unsealed points held in memory.",
            value: stats.head_bytes as f64,
        },
        crate::telemetry::Gauge {
            name: "wispmon_engine_wal_bytes",
            help: "Bytes of write-ahead log on disk.",
            value: stats.wal_bytes as f64,
        },
        crate::telemetry::Gauge {
            name: "wispmon_engine_disk_bytes",
            help: "Bytes the database occupies on disk.",
            value: disk as f64,
        },
    ];
    gauges.extend(process_gauges());
    gauges
}

/// Resident memory and open file descriptors of this process, from `/proc/self`.
fn process_gauges() -> Vec<crate::telemetry::Gauge> {
    let mut out = Vec::new();
    // VmRSS is in kB whatever the page size (statm counts pages).
    if let Some(rss_kb) = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))?
                .split_whitespace()
                .next()?
                .parse::<u64>()
                .ok()
        })
    {
        #[allow(clippy::cast_precision_loss)]
        out.push(crate::telemetry::Gauge {
            name: "process_resident_memory_bytes",
            help: "Resident memory size in bytes.",
            value: (rss_kb * 1024) as f64,
        });
    }
    if let Ok(rd) = std::fs::read_dir("/proc/self/fd") {
        #[allow(clippy::cast_precision_loss)]
        out.push(crate::telemetry::Gauge {
            name: "process_open_fds",
            help: "Open file descriptors.",
            value: rd.count() as f64,
        });
    }
    out
}

/// Unknown paths answer as Go's HTTP server does, which InfluxDB clients have seen for years.
async fn not_found() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        )],
        "404 page not found\n",
    )
}

async fn healthz() -> impl IntoResponse {
    (
        StatusCode::OK,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        format!(
            "{{\"status\":\"ok\",\"version\":\"{}\"}}\n",
            env!("CARGO_PKG_VERSION")
        ),
    )
}

/// Replaces runs of `/` in the request path with one `/`.
fn collapse_slashes<B>(mut req: axum::http::Request<B>) -> axum::http::Request<B> {
    let path = req.uri().path();
    if !path.contains("//") {
        return req;
    }
    let mut p = String::with_capacity(path.len());
    for c in path.chars() {
        if !(c == '/' && p.ends_with('/')) {
            p.push(c);
        }
    }
    if let Some(q) = req.uri().query() {
        p.push('?');
        p.push_str(q);
    }
    let mut parts = req.uri().clone().into_parts();
    if let Ok(pq) = p.parse() {
        parts.path_and_query = Some(pq);
        if let Ok(uri) = axum::http::Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
    req
}

/// Limits of the listener (see `config::HttpConfig`).
#[derive(Debug, Clone, Copy)]
pub struct ServeLimits {
    /// Connections served at once.
    pub max_connections: u32,
    /// Longest wait for a request's headers.
    pub header_read_timeout: std::time::Duration,
    /// Longest time from a request to its answer's headers.
    pub request_timeout: std::time::Duration,
}

impl From<&crate::config::HttpConfig> for ServeLimits {
    fn from(c: &crate::config::HttpConfig) -> Self {
        ServeLimits {
            max_connections: c.max_connections,
            header_read_timeout: c.header_read_timeout,
            request_timeout: c.request_timeout,
        }
    }
}

/// Most header lines in a request (hyper's default, stated here as a limit we rely on).
const MAX_HEADERS: usize = 100;
/// Largest buffered request head (start line and headers): a longer one is a 431.
const MAX_HEAD_BYTES: usize = 64 << 10;

/// The 503 of a request that took longer than `request_timeout` to answer.
fn timed_out(limit: std::time::Duration) -> axum::response::Response {
    let mut r = rest::json_response(
        StatusCode::SERVICE_UNAVAILABLE,
        &serde_json::json!({
            "error": format!("request not answered within {}s (http.request_timeout)", limit.as_secs())
        }),
    );
    r.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from_static("5"),
    );
    r
}

/// One request through the router, answered within `limit` (else [`timed_out`]). A handler that
/// panics gets the client a 500 and a log line instead of a dropped connection: the connection
/// and every other request carry on.
async fn answer<S>(
    app: S,
    req: axum::extract::Request,
    limit: std::time::Duration,
) -> axum::response::Response
where
    S: tower::Service<
            axum::extract::Request,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
        >,
{
    use futures_util::FutureExt as _;
    use tower::ServiceExt as _;
    // hyper refuses a head only when it is still incomplete once its buffer is full, so a
    // head that arrives in one read can be larger: the bound is checked here exactly.
    let head_bytes = req.uri().path_and_query().map_or(0, |p| p.as_str().len())
        + req
            .headers()
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len() + 4)
            .sum::<usize>();
    if head_bytes > MAX_HEAD_BYTES {
        return rest::json_response(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            &serde_json::json!({
                "error": format!("the request head is larger than {} KiB", MAX_HEAD_BYTES >> 10)
            }),
        );
    }
    let method = req.method().clone();
    // The path only: query strings carry device keys and passwords.
    let path = req.uri().path().to_owned();
    let run = std::panic::AssertUnwindSafe(app.oneshot(req)).catch_unwind();
    match tokio::time::timeout(limit, run).await {
        Ok(Ok(Ok(r))) => r,
        Ok(Ok(Err(never))) => match never {},
        Ok(Err(panic)) => {
            let what = panic
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("(no message)");
            tracing::error!(%method, %path, panic = what, "a request handler panicked");
            rest::json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                &serde_json::json!({"error": "internal error; the server log has the details"}),
            )
        }
        Err(_) => timed_out(limit),
    }
}

/// Answers a connection over the limit with a 503 and closes it (agents retry a 503).
async fn refuse(mut stream: tokio::net::TcpStream) {
    use tokio::io::AsyncWriteExt as _;
    let body = "{\"error\":\"too many connections (http.max_connections); retry later\"}\n";
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 5\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let write = async {
        stream.write_all(answer.as_bytes()).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), write).await;
}

/// Serves HTTP/1.1 on `listener` until `shutdown` completes, then lets in-flight requests
/// finish (the caller bounds how long). Connections beyond `limits.max_connections` get a 503;
/// request heads must arrive within `limits.header_read_timeout` (slow-loris) and be at most
/// [`MAX_HEAD_BYTES`] with [`MAX_HEADERS`] lines; answers must start within
/// `limits.request_timeout`.
///
/// # Errors
/// The listener failed.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: ApiState,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Paths are normalized before routing: agents configured with a trailing slash in their
    // server URL send `//api/v1/...`.
    serve_router(router(state), listener, limits, shutdown).await
}

/// [`serve`] for any router (the tests serve their own).
async fn serve_router(
    router: Router,
    listener: tokio::net::TcpListener,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt as _;
    let app = router.map_request(collapse_slashes);
    let permits = Arc::new(tokio::sync::Semaphore::new(limits.max_connections as usize));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of descriptors or a connection reset before accept: keep serving.
                Err(e) if is_transient(&e) => {
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
                Err(e) => return Err(e),
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tokio::spawn(refuse(stream));
            continue;
        };
        let app = app.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let _ = stream.set_nodelay(true);
            let service = hyper::service::service_fn(
                move |mut req: axum::http::Request<hyper::body::Incoming>| {
                    req.extensions_mut()
                        .insert(axum::extract::ConnectInfo(peer));
                    let app = app.clone();
                    async move {
                        Ok::<_, std::convert::Infallible>(
                            answer(app, req.map(axum::body::Body::new), limits.request_timeout)
                                .await,
                        )
                    }
                },
            );
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .max_headers(MAX_HEADERS)
                .max_buf_size(MAX_HEAD_BYTES);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
    let _ = stop_tx.send(true);
    // Every connection holds a permit until it is done: having them all back is the drain.
    let _ = permits.acquire_many(limits.max_connections).await;
    Ok(())
}

/// Accept errors that concern one connection or a momentary shortage, not the listener.
fn is_transient(e: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    matches!(
        e.kind(),
        K::ConnectionAborted | K::ConnectionReset | K::Interrupted | K::WouldBlock
    ) || matches!(e.raw_os_error(), Some(23 | 24 | 12 | 105))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    /// Reads one answer with a Content-Length body off a keep-alive connection.
    async fn read_answer(stream: &mut tokio::net::TcpStream) -> (String, String) {
        let mut buf = Vec::new();
        let mut byte = [0u8; 1];
        while !buf.ends_with(b"\r\n\r\n") {
            assert_eq!(
                stream.read(&mut byte).await.expect("read"),
                1,
                "connection closed"
            );
            buf.push(byte[0]);
        }
        let head = String::from_utf8(buf).expect("head");
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .expect("content-length")
            .trim()
            .parse()
            .expect("length");
        let mut body = vec![0u8; length];
        stream.read_exact(&mut body).await.expect("body");
        (head, String::from_utf8(body).expect("utf-8 body"))
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_500_and_the_connection_carries_on() {
        async fn buggy() -> &'static str {
            panic!("handler bug")
        }
        let router = Router::new()
            .route("/boom", get(buggy))
            .route("/ok", get(|| async { "fine" }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let limits = ServeLimits {
            max_connections: 4,
            header_read_timeout: std::time::Duration::from_secs(5),
            request_timeout: std::time::Duration::from_secs(5),
        };
        let server = tokio::spawn(serve_router(router, listener, limits, async {
            let _ = stopped.await;
        }));
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        for _ in 0..2 {
            stream
                .write_all(b"GET /boom?key=secret HTTP/1.1\r\nHost: x\r\n\r\n")
                .await
                .expect("write");
            let (head, body) = read_answer(&mut stream).await;
            assert!(head.starts_with("HTTP/1.1 500"), "{head}");
            assert!(body.contains("internal error"), "{body}");
        }
        stream
            .write_all(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("write");
        let (head, body) = read_answer(&mut stream).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert_eq!(body, "fine");
        drop(stream);
        let _ = stop.send(());
        server.await.expect("join").expect("serve");
    }
}
