//! Notification delivery: in-app, e-mail over SMTP and webhooks, behind a domain trait.
//!
//! Owns: talking to mail relays and webhook endpoints, retries and delivery state. Must not:
//! decide who is notified of what; the domain makes that decision.
//!
//! # Layout
//! - [`smtp`]: one message to one relay per call (plain, STARTTLS or implicit TLS, optional
//!   AUTH PLAIN/LOGIN), and the RFC 5322/MIME rendering of the message.
//! - [`webhook`]: one JSON `POST` per call over HTTP/1.1 (http or https) with hyper's client.
//! - `tls`: the rustls client configuration (system trust bundle plus an optional private CA)
//!   and the handshake, shared by both clients.
//!
//! Both clients make exactly one attempt and classify a failure as a [`DeliveryError`]:
//! whether to try again, and when, is the caller's decision (the outbox), so neither client
//! sleeps or loops.
#![warn(missing_docs)]

pub mod dispatch;
pub mod smtp;
mod tls;
pub mod webhook;

// The test servers, shared with the end-to-end tests; included once here because the webhook
// tests use the SMTP sink's test certificate too.
#[cfg(test)]
#[path = "../../tests/support/http_sink.rs"]
mod http_sink;
#[cfg(test)]
#[path = "../../tests/support/smtp_sink.rs"]
mod smtp_sink;

/// Why one delivery attempt failed, sorted by whether trying again later can help.
///
/// The message is for the operator (delivery log, UI); it never contains a password or a
/// webhook header value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Worth retrying later: connection refused/reset, timeouts, SMTP 4xx, HTTP 5xx/408/429, TLS
    /// handshake I/O failure.
    #[error("temporary delivery failure: {0}")]
    Transient(String),
    /// Retrying will not help: SMTP 5xx, HTTP 4xx (other than 408/429), bad certificate, bad
    /// configuration (e.g. AUTH offered credentials over an unencrypted connection).
    #[error("delivery failed: {0}")]
    Permanent(String),
}

impl DeliveryError {
    /// Whether a later attempt may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, DeliveryError::Transient(_))
    }

    /// Classifies an I/O error of a connection: a TLS verification or protocol failure
    /// (rustls reports it wrapped in the `io::Error`) is permanent, anything else (refused,
    /// reset, unreachable, name resolution) transient.
    pub(crate) fn from_io(context: &str, e: &std::io::Error) -> Self {
        match tls::tls_failure(e) {
            Some(tls) => DeliveryError::Permanent(format!("{context}: {tls}")),
            None => DeliveryError::Transient(format!("{context}: {e}")),
        }
    }
}

/// Opens a TCP connection to `host:port` (name resolution included) within `timeout`.
///
/// # Errors
/// [`DeliveryError::Transient`] when the connection fails or times out (a relay being
/// restarted and a DNS hiccup look the same from here), [`DeliveryError::Permanent`] for an
/// empty host.
pub(crate) async fn connect(
    host: &str,
    port: u16,
    timeout: std::time::Duration,
) -> Result<tokio::net::TcpStream, DeliveryError> {
    // An IPv6 literal may arrive in URL form, `[::1]`.
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if bare.is_empty() {
        return Err(DeliveryError::Permanent("host is empty".to_owned()));
    }
    let connecting = tokio::net::TcpStream::connect((bare, port));
    match tokio::time::timeout(timeout, connecting).await {
        Ok(Ok(tcp)) => Ok(tcp),
        Ok(Err(e)) => Err(DeliveryError::Transient(format!(
            "connecting to {host}:{port}: {e}"
        ))),
        Err(_) => Err(DeliveryError::Transient(format!(
            "connecting to {host}:{port} timed out after {timeout:?}"
        ))),
    }
}
