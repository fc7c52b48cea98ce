//! The webhook client: one JSON `POST` over HTTP/1.1 per [`post`], http or https.
//!
//! Owns: the URL form accepted for a webhook ([`validate_url`]), the request (headers, body)
//! and the classification of the answer. Must not: retry, sleep or build the JSON (the caller
//! hands over the body and a delivery id that stays the same across retries).
//!
//! Built on hyper's connection-level client (`client::conn::http1`) rather than a pooled
//! client: a notification is rare, so a connection per delivery costs nothing, and it keeps
//! the dependency tree at what axum already brings. Redirects are not followed: a webhook
//! receiver that moved must be reconfigured, and following a redirect would resend headers
//! such as `Authorization` to a host the operator never named.

#[cfg(test)]
mod tests;

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper::http::{HeaderName, HeaderValue, Method, Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

use super::{DeliveryError, tls};

/// Most response body octets read; the rest is left unread and the connection dropped. The
/// body is only quoted (truncated) in an error message, so a receiver answering with a page of
/// HTML cannot make the appliance buffer it.
const MAX_RESPONSE_BODY: usize = 16 * 1024;

/// Longest piece of a response body quoted in an error message.
const MAX_QUOTED_BODY: usize = 200;

/// Longest URL accepted.
const MAX_URL_LEN: usize = 2048;

/// Where and how to post. `Debug` shows header names only: values are typically tokens.
#[derive(Clone)]
pub struct WebhookSettings {
    /// `http://` or `https://` URL with optional port, path and query (a fragment is dropped).
    pub url: String,
    /// Extra request headers, e.g. `Authorization`. Their values are never logged nor quoted in
    /// errors.
    pub headers: Vec<(String, String)>,
    /// Bound on the whole exchange: connect, TLS handshake, request and response.
    pub timeout: Duration,
    /// Extra PEM trust anchors (a private CA), besides the system bundle.
    pub ca_file: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for WebhookSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(name, _)| (name.as_str(), "<redacted>"))
            .collect();
        f.debug_struct("WebhookSettings")
            .field("url", &self.url)
            .field("headers", &names)
            .field("timeout", &self.timeout)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

/// A webhook URL taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    https: bool,
    /// As written, brackets of an IPv6 literal included (the form of the `Host` header).
    host: String,
    port: u16,
    /// Origin form: path and query, at least `/`.
    path_and_query: String,
}

impl Target {
    fn parse(url: &str) -> Result<Self, String> {
        if url.len() > MAX_URL_LEN {
            return Err(format!(
                "webhook url is longer than {MAX_URL_LEN} characters"
            ));
        }
        if url.bytes().any(|b| !b.is_ascii_graphic()) {
            return Err(
                "webhook url must be printable ASCII without spaces (percent-encode the rest)"
                    .to_owned(),
            );
        }
        let (https, rest) = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => (true, rest),
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => (false, rest),
            _ => {
                return Err(format!(
                    "webhook url {url:?} must start with http:// or https://"
                ));
            }
        };
        let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path_and_query) = rest.split_at(split);
        if authority.contains('@') {
            return Err(
                "webhook url must not carry credentials; send them in a header (Authorization)"
                    .to_owned(),
            );
        }
        let (host, port) = split_host_port(authority)?;
        let port = match port {
            Some(p) => p,
            None if https => 443,
            None => 80,
        };
        let path_and_query = match path_and_query {
            "" => "/".to_owned(),
            p if p.starts_with('?') => format!("/{p}"),
            p => p.to_owned(),
        };
        Ok(Target {
            https,
            host: host.to_owned(),
            port,
            path_and_query,
        })
    }

    /// The `Host` header: the port only when it is not the scheme's default (RFC 9110 §7.2).
    fn host_header(&self) -> String {
        let default = if self.https { 443 } else { 80 };
        if self.port == default {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Splits `host[:port]` (host possibly a bracketed IPv6 literal) and checks both parts.
fn split_host_port(authority: &str) -> Result<(&str, Option<u16>), String> {
    let (host, port) = if authority.starts_with('[') {
        let end = authority
            .find(']')
            .ok_or_else(|| format!("webhook url host {authority:?}: unclosed '['"))?;
        let host = &authority[..=end];
        let inner = &host[1..end];
        if inner.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("webhook url host {host:?} is not an IPv6 address"));
        }
        match &authority[end + 1..] {
            "" => (host, None),
            p => match p.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return Err(format!("webhook url authority {authority:?} is malformed")),
            },
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("webhook url has no host".to_owned());
    }
    let host_ok = host.starts_with('[')
        || host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    if !host_ok {
        return Err(format!(
            "webhook url host {host:?} is not a valid host name"
        ));
    }
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => Some(n),
            _ => return Err(format!("webhook url port {p:?} is not a port number")),
        },
    };
    Ok((host, port))
}

/// Validates a webhook URL at configuration time: scheme http or https, a host, an optional
/// port; the message says what is wrong.
///
/// # Errors
/// A lowercase description of the first problem found.
pub fn validate_url(url: &str) -> Result<(), String> {
    Target::parse(url).map(|_| ())
}

/// POSTs `body` (JSON) with `Content-Type: application/json`, `User-Agent: wispmon/<version>`,
/// `X-Wispmon-Delivery: <delivery_id>` (so a receiver can drop a retried duplicate). 2xx = Ok.
/// Redirects are not followed (a 3xx is Permanent). The response body is read up to a small
/// bound and discarded.
///
/// # Errors
/// [`DeliveryError::Transient`] for network failures, the timeout, 5xx, 408 and 429;
/// [`DeliveryError::Permanent`] for other statuses, certificate failures and invalid settings.
pub async fn post(
    settings: &WebhookSettings,
    body: &[u8],
    delivery_id: &str,
) -> Result<(), DeliveryError> {
    let target = Target::parse(&settings.url).map_err(DeliveryError::Permanent)?;
    let request = build_request(&target, settings, body, delivery_id)?;
    let tls_config = if target.https {
        Some(tls::client_config(settings.ca_file.as_deref()).await?)
    } else {
        None
    };
    let timeout = settings.timeout;
    let attempt = async {
        let tcp = super::connect(&target.host, target.port, timeout).await?;
        match tls_config {
            Some(config) => {
                let stream = tls::connect(tcp, &target.host, config, timeout).await?;
                exchange(stream, request).await
            }
            None => exchange(tcp, request).await,
        }
    };
    let (status, excerpt) = match tokio::time::timeout(timeout, attempt).await {
        Ok(result) => result?,
        Err(_) => {
            return Err(DeliveryError::Transient(format!(
                "webhook {}:{} did not answer within {timeout:?}",
                target.host, target.port
            )));
        }
    };
    let what = || {
        let reason = status.canonical_reason().unwrap_or("");
        let excerpt = excerpt.trim();
        if excerpt.is_empty() {
            format!("webhook answered {} {reason}", status.as_u16())
        } else {
            format!("webhook answered {} {reason}: {excerpt}", status.as_u16())
        }
    };
    if status.is_success() {
        tracing::debug!(host = %target.host, status = status.as_u16(), "webhook delivered");
        Ok(())
    } else if status.is_redirection() {
        Err(DeliveryError::Permanent(format!(
            "{}; redirects are not followed, configure the new url",
            what()
        )))
    } else if status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
    {
        Err(DeliveryError::Transient(what()))
    } else {
        Err(DeliveryError::Permanent(what()))
    }
}

/// The request, with the operator's headers first so the fixed ones win over a clash.
fn build_request(
    target: &Target,
    settings: &WebhookSettings,
    body: &[u8],
    delivery_id: &str,
) -> Result<Request<OneChunk>, DeliveryError> {
    let mut request = Request::new(OneChunk(Some(Bytes::copy_from_slice(body))));
    *request.method_mut() = Method::POST;
    *request.uri_mut() = target
        .path_and_query
        .parse()
        .map_err(|e| DeliveryError::Permanent(format!("webhook url path: {e}")))?;
    let headers = request.headers_mut();
    for (name, value) in &settings.headers {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            DeliveryError::Permanent(format!("invalid webhook header name {name:?}"))
        })?;
        // The value is not quoted: it is typically a secret token.
        let value = HeaderValue::from_str(value).map_err(|_| {
            DeliveryError::Permanent(format!("invalid value for webhook header {name}"))
        })?;
        headers.append(name, value);
    }
    let fixed = |v: &str| {
        HeaderValue::from_str(v)
            .map_err(|_| DeliveryError::Permanent(format!("invalid webhook header value {v:?}")))
    };
    headers.insert(header::HOST, fixed(&target.host_header())?);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    headers.insert(
        header::USER_AGENT,
        HeaderValue::from_static(concat!("wispmon/", env!("CARGO_PKG_VERSION"))),
    );
    headers.insert(
        HeaderName::from_static("x-wispmon-delivery"),
        fixed(delivery_id)?,
    );
    // One request per connection: say so, so the receiver does not hold it open for us.
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    Ok(request)
}

/// Sends the request over `stream` and reads the status and the start of the body.
async fn exchange<S>(
    stream: S,
    request: Request<OneChunk>,
) -> Result<(StatusCode, String), DeliveryError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| classify(&e))?;
    let response = async {
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| classify(&e))?;
        let status = response.status();
        let excerpt = read_excerpt(response.into_body()).await;
        Ok::<_, DeliveryError>((status, excerpt))
    };
    // The connection future does the actual I/O; it is polled alongside the response rather
    // than spawned, so nothing outlives this call (or its timeout).
    let mut response = std::pin::pin!(response);
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        result = &mut response => result,
        done = &mut connection => match done {
            // Closed cleanly after answering: what was received is buffered for the response.
            Ok(()) => response.await,
            Err(e) => Err(classify(&e)),
        },
    }
}

/// Reads up to [`MAX_RESPONSE_BODY`] octets of the body, as lossy UTF-8 cut to the quoted
/// length. A failure while reading the body does not matter: the status already decided.
async fn read_excerpt(mut body: Incoming) -> String {
    let mut seen = Vec::new();
    while seen.len() < MAX_RESPONSE_BODY {
        let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        match frame {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    let room = MAX_RESPONSE_BODY - seen.len();
                    seen.extend_from_slice(&data[..data.len().min(room)]);
                }
            }
            Some(Err(_)) | None => break,
        }
    }
    String::from_utf8_lossy(&seen)
        .chars()
        .take(MAX_QUOTED_BODY)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Classifies a hyper error: a TLS failure underneath is permanent, anything else (refused,
/// reset, closed early, a garbled answer) transient.
fn classify(e: &hyper::Error) -> DeliveryError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return DeliveryError::from_io("webhook", io);
        }
        source = s.source();
    }
    DeliveryError::Transient(format!("webhook: {e}"))
}

/// A request body of one chunk, sent at once.
#[derive(Debug)]
struct OneChunk(Option<Bytes>);

impl Body for OneChunk {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.get_mut().0.take().map(|b| Ok(Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        let len = self.0.as_ref().map_or(0, |b| b.len() as u64);
        SizeHint::with_exact(len)
    }
}
