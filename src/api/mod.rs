//! The HTTP surface: routing, handlers, authentication and the embedded UI; the only user of
//! `hyper`/`axum` besides `notify`.
//!
//! Owns: the listener's request handling, status codes and bodies. Must not: hold product
//! rules (they live in `domain`) or open storage itself.

mod influx;
mod influx_format;
mod operator;
mod rest;

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
    /// Organizations.
    pub const ORGANIZATIONS: &str = "/api/v1/users/organization/";
    /// One organization.
    pub const ORGANIZATION: &str = "/api/v1/users/organization/{pk}/";
    /// Devices.
    pub const DEVICES: &str = "/api/v1/controller/device/";
    /// One device.
    pub const DEVICE: &str = "/api/v1/controller/device/{pk}/";
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
        .route(paths::USERS, post(operator::create_user))
        .route(
            paths::ORGANIZATIONS,
            get(operator::organizations).post(operator::organizations),
        )
        .route(paths::ORGANIZATION, any(operator::organization))
        .route(
            paths::DEVICES,
            get(operator::devices).post(operator::devices),
        )
        .route(paths::DEVICE, any(operator::device))
        .fallback(not_found)
        .with_state(state)
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

/// Serves HTTP on `listener` until `shutdown` completes, then lets in-flight requests finish.
///
/// # Errors
/// The listener failed.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: ApiState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
