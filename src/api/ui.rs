//! The web UI: its embedded pages and libraries, login sessions, and live updates.
//!
//! Owns: serving `web/static/` (our pages) and `$OUT_DIR/vendor/` (the npm libraries that
//! `build.rs` lays out) from the binary, the pages' security headers, the session cookie,
//! login throttling, the UI's own token page, and the server-sent events stream that pushes
//! status changes and new notifications to open pages. The pages use the same REST API as
//! scripts do; a session cookie stands in for the token there (see `rest::authenticate`).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::{Extension, body::Body};
use futures_util::Stream;
use rust_embed::Embed;
use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::ApiState;
use super::rest::{ApiError, Auth, authenticate, blocking, iso_time, json_response};
use crate::config::UiConfig;
use crate::domain::Domain;
use crate::domain::events::Event;

/// The session cookie's name.
pub(crate) const COOKIE: &str = "wispmon_session";
/// The header carrying the session's CSRF token on state-changing requests.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

/// How often an open events stream re-checks that its session or token is still good.
const REVALIDATE: Duration = Duration::from_secs(60);

#[derive(Embed)]
#[folder = "web/static/"]
struct Pages;

#[derive(Embed)]
#[folder = "$OUT_DIR/vendor/"]
struct Vendor;

/// What the UI needs beyond the API state: map settings, cookie flags, the live hub and the
/// throttles of password and registration-secret guessing.
#[derive(Debug, Clone)]
pub struct Ui {
    settings: UiConfig,
    site_name: String,
    secure_cookie: bool,
    csp: HeaderValue,
    live: broadcast::Sender<Arc<Event>>,
    pub(crate) throttle: super::throttle::Throttle,
    pub(crate) secret_throttle: super::throttle::Throttle,
}

impl Ui {
    /// The UI for this domain. `base_url` is the UI's public address (`[notifications]`); an
    /// `https://` one makes the session cookie `Secure`. Starts the thread that forwards the
    /// domain's events to open pages; it ends when the domain does.
    ///
    /// # Errors
    /// The thread cannot be started.
    pub fn new(
        domain: &Domain,
        settings: UiConfig,
        site_name: &str,
        base_url: &str,
    ) -> std::io::Result<Ui> {
        let (live, _) = broadcast::channel(1024);
        let rx = domain.events().subscribe();
        let tx = live.clone();
        std::thread::Builder::new()
            .name("ui-live".into())
            .spawn(move || {
                // A send error only means no page is open right now.
                while let Ok(e) = rx.recv() {
                    if matches!(e, Event::HealthChanged { .. } | Event::Notified { .. }) {
                        let _ = tx.send(Arc::new(e));
                    }
                }
            })?;
        let csp = content_security_policy(&settings.tile_url);
        Ok(Ui {
            settings,
            site_name: site_name.to_owned(),
            secure_cookie: base_url.starts_with("https://"),
            csp,
            live,
            throttle: super::throttle::Throttle::default(),
            secret_throttle: super::throttle::Throttle::with_limit(
                super::throttle::SECRET_FAILURES,
            ),
        })
    }
}

/// Pages may load code, styles and data only from wispmon itself; images also from the
/// configured tile server. No inline scripts or styles, no framing.
fn content_security_policy(tile_url: &str) -> HeaderValue {
    let tiles = origin_of(tile_url)
        .map(|o| format!(" {o}"))
        .unwrap_or_default();
    let v = format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:{tiles}; \
         connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    );
    HeaderValue::from_str(&v).unwrap_or(HeaderValue::from_static("default-src 'self'"))
}

/// `https://host:port` of a tile URL template, when it has one that can go into a header.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split('/').next()?;
    // `{s}` subdomains: allow any subdomain of the rest.
    let host = host.replace("{s}", "*");
    let ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:*[]".contains(c));
    ok.then(|| format!("{scheme}://{host}"))
}

/// The session secret in a request's `Cookie` headers.
pub(crate) fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.trim_matches('"').to_owned())
        .filter(|v| !v.is_empty())
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, e)| e) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("txt") => "text/plain; charset=utf-8",
        Some("webmanifest") => "application/manifest+json",
        _ => "application/octet-stream",
    }
}

/// An embedded file with its type, an ETag from its hash, and the pages' security headers.
fn file_response(
    ui: &Ui,
    path: &str,
    file: rust_embed::EmbeddedFile,
    headers: &HeaderMap,
) -> Response {
    let etag: String = file.metadata.sha256_hash()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let etag = format!("\"{etag}\"");
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut r = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = Response::new(Body::from(file.data.into_owned()));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(content_type(path)),
        );
        r
    };
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    // Revalidated on every load (cheap with the ETag), so an upgrade is seen at once.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    security_headers(ui, h);
    r
}

fn security_headers(ui: &Ui, h: &mut HeaderMap) {
    h.insert(header::CONTENT_SECURITY_POLICY, ui.csp.clone());
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
}

/// `GET /`: the application page (routing happens in the page, after `#`).
pub(crate) async fn index(State(st): State<ApiState>, headers: HeaderMap) -> Response {
    match Pages::get("index.html") {
        Some(f) => file_response(&st.ui, "index.html", f, &headers),
        None => ApiError::not_found().into_response(),
    }
}

/// `GET /static/{*path}`: our pages' files, and the libraries under `vendor/`. Names come
/// from the embedded tables only, so no path can reach the file system.
pub(crate) async fn asset(
    State(st): State<ApiState>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Response {
    let file = match path.strip_prefix("vendor/") {
        Some(p) => Vendor::get(p),
        None => Pages::get(&path),
    };
    match file {
        Some(f) => file_response(&st.ui, &path, f, &headers),
        None => {
            let mut r = (
                StatusCode::NOT_FOUND,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                "404 page not found\n",
            )
                .into_response();
            security_headers(&st.ui, r.headers_mut());
            r
        }
    }
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct Credentials {
    username: String,
    password: String,
}

type Peer = Option<Extension<ConnectInfo<SocketAddr>>>;

/// `/api/v1/ui/session/`: `POST` logs in (JSON credentials; sets the cookie), `GET` tells who
/// is logged in with the CSRF token and the UI settings (`username: null` when the request
/// carries no credentials at all; 401 when they are stale), `DELETE` logs out.
pub(crate) async fn session(
    State(st): State<ApiState>,
    method: Method,
    peer: Peer,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    match method {
        Method::GET => {
            // Nobody logged in is an answer here, not an error: the page asks before it knows.
            let anonymous =
                session_cookie(&headers).is_none() && headers.get(header::AUTHORIZATION).is_none();
            if anonymous {
                return Ok(json_response(
                    StatusCode::OK,
                    &json!({"username": null, "site_name": st.ui.site_name}),
                ));
            }
            let who = authenticate(&st, &method, &headers).await?;
            let csrf = match session_cookie(&headers) {
                Some(secret) => {
                    let d = st.domain.clone();
                    blocking(move || d.session(&secret))
                        .await?
                        .map(|(_, s)| s.csrf_token)
                }
                None => None,
            };
            let d = st.domain.clone();
            let w = who.clone();
            let orgs = blocking(move || d.organizations(&w)).await?;
            let organizations: Vec<Value> = orgs
                .iter()
                .map(|o| {
                    let role = if who.is_superuser {
                        "superuser"
                    } else if who.can_manage(o.id) {
                        "admin"
                    } else {
                        "viewer"
                    };
                    json!({"id": o.id.to_string(), "name": o.name, "slug": o.slug, "role": role})
                })
                .collect();
            Ok(json_response(
                StatusCode::OK,
                &json!({
                    "username": who.username,
                    "is_superuser": who.is_superuser,
                    "organizations": organizations,
                    "csrf_token": csrf,
                    "site_name": st.ui.site_name,
                    "map": {
                        "tile_url": st.ui.settings.tile_url,
                        "attribution": st.ui.settings.tile_attribution,
                        "max_zoom": st.ui.settings.tile_max_zoom,
                    },
                }),
            ))
        }
        Method::POST => login(&st, peer, &headers, &body).await,
        Method::DELETE => {
            // Logging out changes state: the CSRF check of `authenticate` applies.
            authenticate(&st, &method, &headers).await?;
            if let Some(secret) = session_cookie(&headers) {
                let d = st.domain.clone();
                blocking(move || d.logout(&secret)).await?;
            }
            let mut r = StatusCode::NO_CONTENT.into_response();
            r.headers_mut().insert(
                header::SET_COOKIE,
                HeaderValue::from_static(
                    "wispmon_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
                ),
            );
            Ok(r)
        }
        m => Err(super::rest::method_not_allowed(&m)),
    }
}

/// The 429 of an address that failed too many password checks.
pub(crate) fn too_many_failures(wait: Duration) -> Response {
    let mut r = ApiError::detail(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many failed logins from this address; try again later.",
    )
    .into_response();
    super::throttle::set_retry_after(&mut r, wait);
    r
}

async fn login(
    st: &ApiState,
    peer: Peer,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    // JSON only: a form on another site cannot send it without the browser asking first, so
    // nobody can log a visitor into an account of theirs.
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    if !json_body {
        return Err(ApiError::detail(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Log in with a JSON body: {\"username\": ..., \"password\": ...}.",
        ));
    }
    let Ok(c) = serde_json::from_slice::<Credentials>(body) else {
        return Err(ApiError::detail(
            StatusCode::BAD_REQUEST,
            "Expected {\"username\": ..., \"password\": ...}.",
        ));
    };
    let addr = super::throttle::client_addr(peer, headers, &st.trusted_proxies);
    if let Some(wait) = st.ui.throttle.wait(addr) {
        return Ok(too_many_failures(wait));
    }
    let d = st.domain.clone();
    let (u, p) = (c.username, c.password);
    let Some(l) = blocking(move || d.login(&u, &p)).await? else {
        st.ui.throttle.failed(addr);
        return Err(ApiError::detail(
            StatusCode::BAD_REQUEST,
            "Unable to log in with provided credentials.",
        ));
    };
    st.ui.throttle.succeeded(addr);
    let secure = if st.ui.secure_cookie { "; Secure" } else { "" };
    let cookie = format!(
        "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        l.secret,
        crate::domain::session::LIFETIME / 1_000_000_000
    );
    let mut r = json_response(
        StatusCode::OK,
        &json!({"username": l.session.username, "csrf_token": l.session.csrf_token}),
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(r)
}

/// `GET/POST /api/v1/ui/token/`: one's API tokens (ids and dates) and a new one, whose text is
/// in this answer only.
pub(crate) async fn tokens(
    State(st): State<ApiState>,
    method: Method,
    Auth(who): Auth,
) -> Result<Response, ApiError> {
    let d = st.domain.clone();
    match method {
        Method::GET => {
            let list = blocking(move || d.tokens(&who)).await?;
            let list: Vec<Value> = list
                .iter()
                .map(|t| json!({"id": t.id, "created": iso_time(t.created_ns)}))
                .collect();
            Ok(json_response(StatusCode::OK, &Value::Array(list)))
        }
        Method::POST => {
            let token = blocking(move || d.issue_own_token(&who)).await?;
            Ok(json_response(StatusCode::CREATED, &json!({"key": token})))
        }
        m => Err(super::rest::method_not_allowed(&m)),
    }
}

/// `DELETE /api/v1/ui/token/{id}/`: revokes one of one's tokens.
pub(crate) async fn token(
    State(st): State<ApiState>,
    Path(id): Path<String>,
    Auth(who): Auth,
) -> Result<Response, ApiError> {
    let d = st.domain.clone();
    blocking(move || d.revoke_own_token(&who, &id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /api/v1/ui/events/`: a server-sent events stream of what concerns the caller: `status`
/// (a device of theirs changed health: `{device, organization, from, to}`), `notification`
/// (they have a new notification) and `resync` (events were lost; reload what is shown).
/// One stream per open page, fed from one subscription, so pages never poll.
pub(crate) async fn events(
    State(st): State<ApiState>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let who = authenticate(&st, &Method::GET, &headers).await?;
    let rx = st.ui.live.subscribe();
    struct Feed {
        st: ApiState,
        headers: HeaderMap,
        who: crate::domain::access::Principal,
        rx: broadcast::Receiver<Arc<Event>>,
    }
    let feed = Feed {
        st,
        headers,
        who,
        rx,
    };
    let stream = futures_util::stream::unfold(Some(feed), |feed| async move {
        let mut f = feed?;
        loop {
            match tokio::time::timeout(REVALIDATE, f.rx.recv()).await {
                Err(_) => {
                    // Logged out or revoked meanwhile: end the stream; the page will find out.
                    match authenticate(&f.st, &Method::GET, &f.headers).await {
                        Ok(p) => f.who = p,
                        Err(_) => return None,
                    }
                }
                Ok(Err(broadcast::error::RecvError::Lagged(_))) => {
                    return Some((Ok(SseEvent::default().event("resync").data("{}")), Some(f)));
                }
                Ok(Err(broadcast::error::RecvError::Closed)) => return None,
                Ok(Ok(e)) => {
                    if let Some(ev) = sse_for(&f.who, &e) {
                        return Some((Ok(ev), Some(f)));
                    }
                }
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(20))))
}

/// The event a principal gets for a domain event, if it concerns them.
fn sse_for(who: &crate::domain::access::Principal, e: &Event) -> Option<SseEvent> {
    match e {
        Event::HealthChanged {
            device,
            organization,
            from,
            to,
        } if who.can_view(*organization) => Some(
            SseEvent::default().event("status").data(
                json!({
                    "device": device.to_string(),
                    "organization": organization.to_string(),
                    "from": from.as_str(),
                    "to": to.as_str(),
                })
                .to_string(),
            ),
        ),
        Event::Notified { users, .. } if users.contains(&who.username) => {
            Some(SseEvent::default().event("notification").data("{}"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; wispmon_session=abc ; b=2"),
        );
        assert_eq!(session_cookie(&h).as_deref(), Some("abc"));
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("x=1"));
        h.append(
            header::COOKIE,
            HeaderValue::from_static("wispmon_session=\"q\""),
        );
        assert_eq!(session_cookie(&h).as_deref(), Some("q"));
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("wispmon_session="));
        assert_eq!(session_cookie(&h), None);
        assert_eq!(session_cookie(&HeaderMap::new()), None);
    }

    #[test]
    fn the_policy_admits_only_the_configured_tile_server() {
        let p = content_security_policy("");
        let p = p.to_str().unwrap();
        assert!(p.contains("img-src 'self' data: blob:;"), "{p}");
        assert!(p.contains("script-src 'self';") && !p.contains("unsafe"));
        let p = content_security_policy("https://{s}.tiles.example.net/{z}/{x}/{y}.png");
        assert!(
            p.to_str()
                .unwrap()
                .contains("img-src 'self' data: blob: https://*.tiles.example.net;")
        );
        assert_eq!(
            origin_of("http://10.0.0.5:8080/t/{z}/{x}/{y}.png").as_deref(),
            Some("http://10.0.0.5:8080")
        );
        assert_eq!(origin_of("https://a b/{z}"), None);
    }

    #[test]
    fn embedded_pages_and_libraries_are_there() {
        assert!(Pages::get("index.html").is_some());
        for f in [
            "uplot.js",
            "uplot.css",
            "leaflet.js",
            "leaflet.css",
            "countries-50m.json",
        ] {
            assert!(Vendor::get(f).is_some(), "{f}");
        }
        assert!(Pages::get("../Cargo.toml").is_none());
        assert!(Vendor::get("../build.rs").is_none());
    }
}
