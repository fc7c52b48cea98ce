//! The HTTP surface: routing, handlers, authentication and the embedded UI; the only user of
//! `hyper`/`axum` besides `notify`.
//!
//! Owns: the listener's request handling, status codes and bodies. Must not: hold product
//! rules (they live in `domain`) or open storage itself.

use std::future::Future;

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::domain::Domain;

/// Paths served, one constant each.
pub mod paths {
    /// Liveness and readiness probe.
    pub const HEALTHZ: &str = "/healthz";
}

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct ApiState {
    /// The monitoring domain.
    pub domain: Domain,
}

/// The application's router.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route(paths::HEALTHZ, get(healthz))
        .with_state(state)
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
