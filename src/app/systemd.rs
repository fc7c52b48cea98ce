//! Readiness and stop notices to systemd (`sd_notify`), for `Type=notify` units.
//!
//! systemd passes the path of a datagram socket in `NOTIFY_SOCKET`; a message is a few
//! `KEY=VALUE` lines. Without the variable (not started by systemd) nothing is sent. A path
//! starting with `@` names a socket in Linux's abstract namespace.

use std::io;
use std::os::unix::net::UnixDatagram;

/// The environment variable systemd sets for `Type=notify` services.
pub const NOTIFY_SOCKET_ENV: &str = "NOTIFY_SOCKET";

/// Sends `state` (e.g. `"READY=1"`) to the socket named by `NOTIFY_SOCKET`, if any.
/// Failures are logged, never fatal: a lost notice makes systemd time out the start, which
/// says more than stopping here would.
pub fn notify(state: &str) {
    let Some(path) = std::env::var_os(NOTIFY_SOCKET_ENV) else {
        return;
    };
    let path = path.to_string_lossy().into_owned();
    if let Err(e) = notify_to(&path, state) {
        tracing::warn!(socket = %path, error = %e, "could not notify systemd");
    }
}

/// Sends `state` to the notification socket at `path` (a file path, or `@name` for the
/// abstract namespace).
///
/// # Errors
/// The socket cannot be created or the datagram not delivered.
pub fn notify_to(path: &str, state: &str) -> io::Result<()> {
    let sock = UnixDatagram::unbound()?;
    if let Some(name) = path.strip_prefix('@') {
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
        sock.send_to_addr(state.as_bytes(), &addr)?;
    } else {
        sock.send_to(state.as_bytes(), path)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notice_reaches_a_path_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let rx = UnixDatagram::bind(&path).unwrap();
        notify_to(path.to_str().unwrap(), "READY=1\nSTATUS=up").unwrap();
        let mut buf = [0u8; 64];
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\nSTATUS=up");
    }

    #[test]
    fn a_notice_reaches_an_abstract_socket() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("wispmon-test-{}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let rx = UnixDatagram::bind_addr(&addr).unwrap();
        notify_to(&format!("@{name}"), "STOPPING=1").unwrap();
        let mut buf = [0u8; 64];
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"STOPPING=1");
    }

    #[test]
    fn a_missing_socket_is_an_error_not_a_panic() {
        assert!(notify_to("/nonexistent/wispmon-notify", "READY=1").is_err());
    }
}
