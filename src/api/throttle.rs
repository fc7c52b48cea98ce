//! The password-guessing throttle shared by every place that checks a password: the web UI's
//! login, `POST /api/v1/users/token/` and the InfluxDB API's credentials. Failures are
//! counted per client address (the peer, or the nearest untrusted `X-Forwarded-For` address
//! behind a trusted proxy); after [`FAILURES`] within [`WINDOW`] that address gets a 429 with
//! `Retry-After` until the window ends, whichever interface it tries next. A success clears
//! the address. Memory is bounded by [`ENTRIES`]. The config agent's registration secret has
//! a throttle of its own ([`SECRET_FAILURES`]), so routers cannot lock operators out.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Extension};
use axum::http::HeaderMap;
use parking_lot::Mutex;
use tokio::time::Instant;

/// The connection's peer, as the listener records it.
pub(crate) type Peer = Option<Extension<ConnectInfo<std::net::SocketAddr>>>;

/// The client's address for counting: the peer, or behind a trusted proxy the address it
/// forwards (see `controller::client_ip`).
pub(crate) fn client_addr(peer: Peer, headers: &HeaderMap, trusted: &[IpAddr]) -> Option<IpAddr> {
    super::controller::client_ip(peer.map(|Extension(ConnectInfo(a))| a), headers, trusted)
        .and_then(|a| a.parse().ok())
}

/// Sets `Retry-After` on a throttled answer: whole seconds, at least 1.
pub(crate) fn set_retry_after(r: &mut axum::response::Response, wait: Duration) {
    let secs = wait.as_secs().max(1);
    r.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from(secs),
    );
}

/// Failed logins from one address before it must wait.
pub(crate) const FAILURES: u32 = 10;
/// The window failures count in.
pub(crate) const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Addresses remembered; beyond this, expired windows are dropped, then all of them.
const ENTRIES: usize = 10_000;

/// Failed registrations (wrong shared secret) from one address before it must wait: higher
/// than [`FAILURES`] because a misconfigured router retries every 30 s by itself, and a
/// correct one behind the same address must not be locked out by it for long.
pub(crate) const SECRET_FAILURES: u32 = 60;

/// Failed password checks per client address.
#[derive(Debug, Clone)]
pub(crate) struct Throttle {
    failures: Arc<Mutex<HashMap<IpAddr, (u32, Instant)>>>,
    limit: u32,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle::with_limit(FAILURES)
    }
}

impl Throttle {
    /// A throttle that holds an address back after `limit` failures within [`WINDOW`].
    pub(crate) fn with_limit(limit: u32) -> Self {
        Throttle {
            failures: Arc::default(),
            limit,
        }
    }

    /// How long `addr` must still wait, if it is throttled now.
    pub(crate) fn wait(&self, addr: Option<IpAddr>) -> Option<Duration> {
        let addr = addr?;
        let now = Instant::now();
        let t = self.failures.lock();
        let (n, since) = t.get(&addr)?;
        let elapsed = now.duration_since(*since);
        (*n >= self.limit && elapsed < WINDOW).then(|| WINDOW.saturating_sub(elapsed))
    }

    /// Counts a failed password check from `addr`.
    pub(crate) fn failed(&self, addr: Option<IpAddr>) {
        let Some(addr) = addr else { return };
        let now = Instant::now();
        let mut t = self.failures.lock();
        if t.len() >= ENTRIES {
            t.retain(|_, (_, since)| now.duration_since(*since) < WINDOW);
            if t.len() >= ENTRIES {
                t.clear();
            }
        }
        let e = t.entry(addr).or_insert((0, now));
        if now.duration_since(e.1) >= WINDOW {
            *e = (0, now);
        }
        e.0 += 1;
    }

    /// A correct password from `addr`: its failures are forgotten.
    pub(crate) fn succeeded(&self, addr: Option<IpAddr>) {
        if let Some(a) = addr {
            self.failures.lock().remove(&a);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn ten_failures_wait_out_the_window_and_a_success_forgets() {
        let t = Throttle::default();
        let a: IpAddr = "192.0.2.7".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        for _ in 0..FAILURES - 1 {
            t.failed(Some(a));
        }
        assert_eq!(t.wait(Some(a)), None);
        t.failed(Some(a));
        assert_eq!(t.wait(Some(a)), Some(WINDOW));
        assert_eq!(t.wait(None), None);
        tokio::time::advance(WINDOW).await;
        assert_eq!(t.wait(Some(a)), None, "the window ended");
        t.failed(Some(a));
        t.succeeded(Some(a));
        assert_eq!(t.failures.lock().len(), 0);
    }
}
