//! TLS for the delivery clients: the rustls client configuration and the handshake.
//!
//! Owns: which certificates are trusted (the system bundle when the machine has one, plus the
//! operator's `ca_file`, since air-gapped LANs often run a private CA and no public one is
//! reachable anyway), the crypto provider (ring: aws-lc would need cmake on the build machine),
//! and telling a certificate problem from a network problem. Must not: speak SMTP or HTTP.
//!
//! The server's name is always verified: against the configured host name, or against an IP
//! address SAN when the host is an address literal. There is no "accept any certificate"
//! switch; an operator with a self-signed relay names its certificate in `ca_file`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::DeliveryError;

/// The Debian/Ubuntu system trust bundle (package `ca-certificates`). Read when present; a
/// machine without it trusts only `ca_file`.
const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Largest PEM file read as trust anchors. The system bundle is about 200 KiB; the bound keeps
/// a wrong path (a disk image, say) from being read into memory.
const MAX_PEM_BYTES: u64 = 8 * 1024 * 1024;

/// Builds the client configuration: TLS 1.2 and 1.3 with ring, trusting the system bundle and
/// `ca_file`.
///
/// Built per delivery: parsing the bundle takes a few milliseconds, which is nothing next to a
/// notification's network round trips, and a changed `ca_file` is picked up without a restart.
///
/// # Errors
/// [`DeliveryError::Permanent`] when `ca_file` is unreadable or holds no certificate, or when
/// there is no trust anchor at all.
pub(crate) async fn client_config(
    ca_file: Option<&Path>,
) -> Result<Arc<ClientConfig>, DeliveryError> {
    let mut roots = RootCertStore::empty();
    if let Ok(pem) = read_bounded(Path::new(SYSTEM_BUNDLE)).await {
        // A bundle entry rustls cannot parse is skipped rather than failing every delivery.
        let certs = CertificateDer::pem_slice_iter(&pem).filter_map(Result::ok);
        roots.add_parsable_certificates(certs);
    }
    if let Some(path) = ca_file {
        let shown = path.display();
        let pem = read_bounded(path)
            .await
            .map_err(|e| DeliveryError::Permanent(format!("reading ca_file {shown}: {e}")))?;
        let certs = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| DeliveryError::Permanent(format!("parsing ca_file {shown}: {e}")))?;
        if certs.is_empty() {
            return Err(DeliveryError::Permanent(format!(
                "ca_file {shown} holds no PEM certificate"
            )));
        }
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(DeliveryError::Permanent(format!(
                "ca_file {shown}: no usable certificate"
            )));
        }
    }
    if roots.is_empty() {
        return Err(DeliveryError::Permanent(format!(
            "no trusted certificates: {SYSTEM_BUNDLE} is missing and no ca_file is set"
        )));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| DeliveryError::Permanent(format!("tls configuration: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Reads a whole file of at most [`MAX_PEM_BYTES`].
async fn read_bounded(path: &Path) -> std::io::Result<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let file = tokio::fs::File::open(path).await?;
    let mut buf = Vec::new();
    file.take(MAX_PEM_BYTES + 1).read_to_end(&mut buf).await?;
    if buf.len() as u64 > MAX_PEM_BYTES {
        return Err(std::io::Error::other("file too large for a PEM bundle"));
    }
    Ok(buf)
}

/// The name the server's certificate must carry: a DNS name, or an IP address literal
/// (`[::1]` as written in a URL is accepted without its brackets).
///
/// # Errors
/// [`DeliveryError::Permanent`] for a host that is neither.
pub(crate) fn server_name(host: &str) -> Result<ServerName<'static>, DeliveryError> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    ServerName::try_from(bare.to_owned())
        .map_err(|e| DeliveryError::Permanent(format!("invalid tls server name {host:?}: {e}")))
}

/// Runs the TLS handshake over `tcp` within `timeout`, verifying the certificate for `host`.
///
/// # Errors
/// [`DeliveryError::Permanent`] for a certificate or protocol failure,
/// [`DeliveryError::Transient`] for I/O failures and a timeout.
pub(crate) async fn connect(
    tcp: TcpStream,
    host: &str,
    config: Arc<ClientConfig>,
    timeout: Duration,
) -> Result<TlsStream<TcpStream>, DeliveryError> {
    let name = server_name(host)?;
    let handshake = TlsConnector::from(config).connect(name, tcp);
    match tokio::time::timeout(timeout, handshake).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => Err(DeliveryError::from_io("tls handshake", &e)),
        Err(_) => Err(DeliveryError::Transient(format!(
            "tls handshake timed out after {timeout:?}"
        ))),
    }
}

/// The rustls error inside an I/O error, if the failure was TLS's own (bad certificate,
/// incompatible peer, alert) rather than the network's.
pub(crate) fn tls_failure(e: &std::io::Error) -> Option<&rustls::Error> {
    e.get_ref()?.downcast_ref::<rustls::Error>()
}
