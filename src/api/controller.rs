//! The configuration agent's endpoints (spec device-agents §0, §2): register, checksum,
//! download-config, report-status and update-info, under both of upstream's path spellings.
//!
//! Owns: what the agent parses. It greps the raw response, headers included, so every answer
//! (errors too) carries `X-Openwisp-Controller: true`, bodies are `text/plain` lines ending in
//! `\n` only, and no header line may contain `uuid: `, `key: ` or `hostname: `. Form bodies are
//! parsed tolerantly (the agent ends some with a stray `&`) and bounded. Also owns the client
//! address behind a trusted reverse proxy. Keys arrive in query strings: nothing here logs a
//! request's URI or query.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Extension, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt as _;

use super::ApiState;
use super::rest::form_pairs;
use crate::domain::controller::{Refusal, Registration, UNRECOGNIZED_SECRET};
use crate::domain::device::Device;
use crate::domain::id::Id;
use crate::domain::{AgentDevice, Domain, DomainError};

/// Largest form body accepted: `error_reason` is about 1 KiB from real agents.
pub(crate) const MAX_FORM_BYTES: usize = 64 * 1024;

/// The header the agent looks for on every answer.
const CONTROLLER_HEADER: &str = "x-openwisp-controller";

/// A text answer the agent accepts.
fn answer(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(CONTROLLER_HEADER, HeaderValue::from_static("true"));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn refused(r: Refusal) -> Response {
    match r {
        Refusal::BadRequest(m) => answer(StatusCode::BAD_REQUEST, format!("{m}\n")),
        Refusal::Forbidden(m) => answer(StatusCode::FORBIDDEN, format!("{m}\n")),
    }
}

fn server_error(e: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %e, "a configuration agent request failed");
    answer(
        StatusCode::INTERNAL_SERVER_ERROR,
        "error: internal server error\n".into(),
    )
}

/// Parses `application/x-www-form-urlencoded`: empty pairs (`a=1&&b=2&`) are skipped, a pair
/// without `=` has an empty value, the first of repeated names wins, bad `%` escapes stay as
/// they are, and text that is not UTF-8 is replaced rather than refused.
pub(crate) fn parse_form(body: &[u8]) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for (k, v) in form_pairs(body) {
        out.entry(k).or_insert(v);
    }
    out
}

/// The address a request came from: the peer, or, when the peer is a trusted proxy, the
/// nearest address in `X-Forwarded-For` that is not one of the trusted proxies.
pub(crate) fn client_ip(
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
    trusted: &[IpAddr],
) -> Option<String> {
    let peer = peer.map(|a| a.ip().to_canonical())?;
    if !trusted.contains(&peer) {
        return Some(peer.to_string());
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for a in forwarded.iter().rev() {
        match a.parse::<IpAddr>() {
            Ok(ip) if trusted.contains(&ip.to_canonical()) => continue,
            Ok(ip) => return Some(ip.to_canonical().to_string()),
            // A proxy that wrote garbage: fall back to the proxy itself.
            Err(_) => break,
        }
    }
    Some(peer.to_string())
}

type Peer = Option<Extension<ConnectInfo<SocketAddr>>>;

fn peer_addr(p: Peer) -> Option<SocketAddr> {
    p.map(|Extension(ConnectInfo(a))| a)
}

async fn read_form(body: Body) -> Result<HashMap<String, String>, Response> {
    let limited = http_body_util::Limited::new(body, MAX_FORM_BYTES);
    match limited.collect().await {
        Ok(c) => Ok(parse_form(&c.to_bytes())),
        Err(_) => Err(answer(
            StatusCode::BAD_REQUEST,
            format!("error: the request body is larger than {MAX_FORM_BYTES} bytes\n"),
        )),
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, DomainError> + Send + 'static,
) -> Result<T, Response> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(server_error(&e)),
        Err(e) => Err(server_error(&e)),
    }
}

/// `POST /controller/register/` (and `/controller/device/register/`).
pub(crate) async fn register(
    State(st): State<ApiState>,
    headers: HeaderMap,
    peer: Peer,
    body: Body,
) -> Response {
    let ip = client_ip(peer_addr(peer), &headers, &st.trusted_proxies);
    // Guessing the shared secret: an address that keeps sending wrong ones waits (the agent
    // retries a 429 on its own schedule).
    let addr = ip.as_deref().and_then(|a| a.parse().ok());
    let throttle = st.ui.secret_throttle.clone();
    if let Some(wait) = throttle.wait(addr) {
        let mut r = answer(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "error: too many registrations with a wrong secret from this address; retry in {} s\n",
                wait.as_secs().max(1)
            ),
        );
        super::throttle::set_retry_after(&mut r, wait);
        return r;
    }
    let mut f = match read_form(body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let r = Registration {
        secret: f.remove("secret"),
        backend: f.remove("backend"),
        name: f.remove("name"),
        mac_address: f.remove("mac_address"),
        key: f.remove("key"),
        management_ip: f.remove("management_ip"),
        hardware_id: f.remove("hardware_id"),
        tags: f.remove("tags"),
        model: f.remove("model"),
        os: f.remove("os"),
        system: f.remove("system"),
    };
    let domain = st.domain.clone();
    let peer_ip = ip.clone();
    match blocking(move || domain.register_device(r, ip)).await {
        // A success does not clear the address's failures: an administrator who knows one
        // organization's secret could otherwise alternate it with guesses at another's.
        Ok(Ok(ok)) => answer(
            StatusCode::CREATED,
            format!(
                "registration-result: success\nuuid: {}\nkey: {}\nhostname: {}\nis-new: {}\n",
                ok.id.simple(),
                ok.key,
                // A name is one line: the agent reads it with grep.
                ok.name.replace(['\r', '\n'], " "),
                u8::from(ok.is_new)
            ),
        ),
        Ok(Err(r)) => {
            if matches!(&r, Refusal::Forbidden(m) if m == UNRECOGNIZED_SECRET) {
                throttle.failed(addr);
            }
            // The refusal names what was wrong, never the secret posted.
            let (Refusal::Forbidden(why) | Refusal::BadRequest(why)) = &r;
            tracing::warn!(
                peer = peer_ip.as_deref().unwrap_or("-"),
                refusal = why.trim_start_matches("error: "),
                "device registration refused"
            );
            refused(r)
        }
        Err(r) => r,
    }
}

/// Who is asking: the device named in the path with the key it gave, and where from.
struct Caller {
    pk: String,
    key: Option<String>,
    ip: Option<String>,
    /// `Some` for the polls that carry it (absent clears it, as upstream); `None` for posts.
    management_ip: Option<Option<String>>,
}

impl Caller {
    /// A poll: key and management IP in the query string.
    fn polling(
        st: &ApiState,
        pk: String,
        mut q: HashMap<String, String>,
        headers: &HeaderMap,
        peer: Peer,
    ) -> Caller {
        Caller {
            pk,
            key: q.remove("key"),
            ip: client_ip(peer_addr(peer), headers, &st.trusted_proxies),
            management_ip: Some(q.remove("management_ip")),
        }
    }

    /// A post: the key in the form.
    fn posting(
        st: &ApiState,
        pk: String,
        form: &mut HashMap<String, String>,
        headers: &HeaderMap,
        peer: Peer,
    ) -> Caller {
        Caller {
            pk,
            key: form.remove("key"),
            ip: client_ip(peer_addr(peer), headers, &st.trusted_proxies),
            management_ip: None,
        }
    }

    /// Authenticates the device (spec §3.1's order: 404 unknown, 403 bad key), notes the
    /// contact and runs `then` on it, all in one blocking task.
    async fn serve<T: Send + 'static>(
        self,
        st: &ApiState,
        then: impl FnOnce(&Domain, &Device) -> Result<T, DomainError> + Send + 'static,
    ) -> Result<T, Response> {
        let not_found = || answer(StatusCode::NOT_FOUND, "error: device not found\n".into());
        let id = Id::parse(&self.pk).ok_or_else(not_found)?;
        let domain = st.domain.clone();
        let found = blocking(
            move || match domain.agent_device(id, self.key.as_deref())? {
                AgentDevice::Active(d) => {
                    domain.controller_contact(&d, self.ip, self.management_ip)?;
                    then(&domain, &d).map(Ok)
                }
                other => Ok(Err(other)),
            },
        )
        .await?;
        match found {
            Ok(v) => Ok(v),
            Err(AgentDevice::BadKey) => {
                Err(answer(StatusCode::FORBIDDEN, "error: wrong key\n".into()))
            }
            Err(_) => Err(not_found()),
        }
    }
}

/// `GET /controller/checksum/{pk}/?key=&management_ip=`: the archive's md5; the agent's
/// heartbeat (every 120 s).
pub(crate) async fn checksum(
    State(st): State<ApiState>,
    Path(pk): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    peer: Peer,
) -> Response {
    let caller = Caller::polling(&st, pk, q, &headers, peer);
    match caller
        .serve(&st, |domain, d| domain.config_archive_for(d.organization))
        .await
    {
        Ok((a, _)) => answer(StatusCode::OK, format!("{}\n", a.checksum)),
        Err(r) => r,
    }
}

/// `GET /controller/download-config/{pk}/?key=`: the archive.
pub(crate) async fn download(
    State(st): State<ApiState>,
    Path(pk): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    peer: Peer,
) -> Response {
    let caller = Caller::polling(&st, pk, q, &headers, peer);
    let archive = caller
        .serve(&st, |domain, d| {
            Ok((domain.config_archive_for(d.organization)?.0, d.id))
        })
        .await;
    match archive {
        Ok((a, id)) => {
            let mut r = answer(StatusCode::OK, String::new());
            *r.body_mut() = Body::from(Bytes::from(a.bytes.clone()));
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            // The device name may hold anything: the file name is its id.
            if let Ok(v) =
                HeaderValue::from_str(&format!("attachment; filename={}.tar.gz", id.simple()))
            {
                h.insert(header::CONTENT_DISPOSITION, v);
            }
            r
        }
        Err(r) => r,
    }
}

/// `POST /controller/report-status/{pk}/` (form: key, status, error_reason).
pub(crate) async fn report_status(
    State(st): State<ApiState>,
    Path(pk): Path<String>,
    headers: HeaderMap,
    peer: Peer,
    body: Body,
) -> Response {
    let mut f = match read_form(body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let caller = Caller::posting(&st, pk, &mut f, &headers, peer);
    let status = f.remove("status").unwrap_or_default();
    let reason = f.remove("error_reason").unwrap_or_default();
    let reported = caller
        .serve(&st, move |domain, d| {
            domain.report_config_status(d, &status, &reason)
        })
        .await;
    match reported {
        Ok(Ok(s)) => answer(
            StatusCode::OK,
            format!("report-result: success\ncurrent-status: {s}\n"),
        ),
        Ok(Err(r)) => refused(r),
        Err(r) => r,
    }
}

/// `POST /controller/update-info/{pk}/` (form: key, model, os, system).
pub(crate) async fn update_info(
    State(st): State<ApiState>,
    Path(pk): Path<String>,
    headers: HeaderMap,
    peer: Peer,
    body: Body,
) -> Response {
    let mut f = match read_form(body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let caller = Caller::posting(&st, pk, &mut f, &headers, peer);
    let (model, os, system) = (f.remove("model"), f.remove("os"), f.remove("system"));
    let updated = caller
        .serve(&st, move |domain, d| {
            domain.update_device_info(d, model, os, system)
        })
        .await;
    match updated {
        Ok(()) => answer(StatusCode::OK, "update-info: success\n".into()),
        Err(r) => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_are_parsed_tolerantly() {
        let f = parse_form(b"key=abc&status=applied&");
        assert_eq!(f.get("key").map(String::as_str), Some("abc"));
        assert_eq!(f.get("status").map(String::as_str), Some("applied"));
        assert_eq!(f.len(), 2);
        let f = parse_form(b"&&a=1+2%2B3&b&a=second&c=%zz%4");
        assert_eq!(f["a"], "1 2+3", "first wins, + is a space");
        assert_eq!(f["b"], "");
        assert_eq!(f["c"], "%zz%4", "bad escapes stay");
        let f = parse_form(b"name=caf%C3%A9&x=%FF");
        assert_eq!(f["name"], "caf\u{e9}");
        assert_eq!(f["x"], "\u{fffd}");
        assert!(parse_form(b"").is_empty());
        assert_eq!(parse_form(b"%")["%"], "");
    }

    #[test]
    fn form_seeds_satisfy_the_fuzz_property() {
        let pairs = crate::seeds::replay("form", 10, crate::api::check::form_property);
        assert!(pairs > 20, "seeds should hold pairs ({pairs})");
    }

    /// Every form of up to five characters over the bytes that matter to the readers.
    #[test]
    fn the_form_property_holds_for_every_short_form() {
        const ALPHABET: &[u8] = b"%=&+4Fa\xff";
        let mut checked = 0;
        for len in 0..=5u32 {
            for mut n in 0..ALPHABET.len().pow(len) {
                let mut body = Vec::with_capacity(len as usize);
                for _ in 0..len {
                    body.push(ALPHABET[n % ALPHABET.len()]);
                    n /= ALPHABET.len();
                }
                if let Err(e) = crate::api::check::form_property(&body) {
                    panic!("{:?}: {e}", String::from_utf8_lossy(&body));
                }
                checked += 1;
            }
        }
        assert!(checked > 30_000);
    }

    #[test]
    fn the_client_is_the_peer_unless_a_trusted_proxy_says_otherwise() {
        let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("192.0.2.7, 10.0.0.1"),
        );
        assert_eq!(client_ip(Some(peer), &h, &[]).as_deref(), Some("127.0.0.1"));
        let trusted: Vec<IpAddr> = vec!["127.0.0.1".parse().unwrap()];
        assert_eq!(
            client_ip(Some(peer), &h, &trusted).as_deref(),
            Some("10.0.0.1")
        );
        let both: Vec<IpAddr> = vec!["127.0.0.1".parse().unwrap(), "10.0.0.1".parse().unwrap()];
        assert_eq!(
            client_ip(Some(peer), &h, &both).as_deref(),
            Some("192.0.2.7")
        );
        h.insert("x-forwarded-for", HeaderValue::from_static("garbage"));
        assert_eq!(
            client_ip(Some(peer), &h, &trusted).as_deref(),
            Some("127.0.0.1")
        );
        let v4_in_v6: SocketAddr = "[::ffff:127.0.0.1]:5000".parse().unwrap();
        assert_eq!(
            client_ip(Some(v4_in_v6), &HeaderMap::new(), &[]).as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(client_ip(None, &h, &trusted), None);
    }
}
