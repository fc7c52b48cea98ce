//! What every operator REST endpoint shares, shaped like the Django REST framework APIs of
//! OpenWISP so that scripts written for it keep working: token authentication
//! (`Authorization: Bearer <token>`, also `Token <token>`), error bodies
//! (`{"detail": "..."}`, `{"field": ["..."]}`), and page-number pagination
//! (`{"count", "next", "previous", "results"}` with `?page=` and `?page_size=`).

use std::collections::HashMap;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::ApiState;
use crate::domain::DomainError;
use crate::domain::access::Principal;

/// Default and largest page sizes (openwisp-controller's list pagination).
const PAGE_SIZE: usize = 10;
const MAX_PAGE_SIZE: usize = 100;

/// An error answer.
#[derive(Debug)]
pub(crate) struct ApiError(pub StatusCode, pub Value);

impl ApiError {
    pub(crate) fn detail(status: StatusCode, msg: &str) -> ApiError {
        ApiError(status, json!({ "detail": msg }))
    }

    pub(crate) fn not_found() -> ApiError {
        ApiError::detail(StatusCode::NOT_FOUND, "Not found.")
    }

    pub(crate) fn field(field: &str, msg: &str) -> ApiError {
        ApiError(StatusCode::BAD_REQUEST, json!({ field: [msg] }))
    }

    pub(crate) fn internal(e: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %e, "request failed");
        ApiError::detail(
            StatusCode::INTERNAL_SERVER_ERROR,
            "A server error occurred.",
        )
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> ApiError {
        match e {
            DomainError::NotFound => ApiError::not_found(),
            DomainError::Forbidden => ApiError::detail(
                StatusCode::FORBIDDEN,
                "You do not have permission to perform this action.",
            ),
            DomainError::Invalid { field, reason } => ApiError::field(field, &reason),
            DomainError::Refused(msg) => ApiError(StatusCode::BAD_REQUEST, json!([msg])),
            // Nothing was written; the operator frees space (or raises the floor) and retries.
            DomainError::Storage(e @ crate::storage::StorageError::DiskFull { .. }) => {
                ApiError::detail(StatusCode::INSUFFICIENT_STORAGE, &e.to_string())
            }
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(self.0, &self.1)
    }
}

/// The 405 of a route that does not take `m`.
pub(crate) fn method_not_allowed(m: &axum::http::Method) -> ApiError {
    ApiError::detail(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!("Method \"{m}\" not allowed."),
    )
}

/// A CSV download (`data.csv`), as upstream's chart exports.
pub(crate) fn csv_response(body: String) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/csv"),
            (header::CONTENT_DISPOSITION, "attachment; filename=data.csv"),
        ],
        body,
    )
        .into_response()
}

/// A JSON answer.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Runs blocking domain work (record store, engine) off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, DomainError> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(ApiError::from),
        Err(e) => Err(ApiError::internal(e)),
    }
}

/// The token in an `Authorization: Bearer|Token <token>` header.
fn bearer(headers: &HeaderMap) -> Option<Result<String, ()>> {
    let v = headers.get(header::AUTHORIZATION)?;
    let Ok(v) = v.to_str() else {
        return Some(Err(()));
    };
    let (scheme, token) = v.trim().split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token") {
        Some(Ok(token.trim().to_owned()))
    } else {
        None
    }
}

/// An authenticated operator request.
pub(crate) struct Auth(pub Principal);

impl FromRequestParts<ApiState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &ApiState) -> Result<Auth, ApiError> {
        authenticate(st, &parts.method, &parts.headers)
            .await
            .map(Auth)
    }
}

/// The principal of a request: its API token, else its UI session cookie; 401 without either
/// or with a bad one. A cookie authenticates a state-changing method only together with the
/// session's CSRF token in `X-CSRF-Token` (403 otherwise), so another site cannot make a
/// logged-in browser change anything; a token in a header needs no such proof.
pub(crate) async fn authenticate(
    st: &ApiState,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Principal, ApiError> {
    let unauthorized = |msg: &str| ApiError::detail(StatusCode::UNAUTHORIZED, msg);
    let token = match bearer(headers) {
        Some(Err(())) => return Err(unauthorized("Invalid token.")),
        Some(Ok(t)) => t,
        None => {
            let Some(secret) = super::ui::session_cookie(headers) else {
                return Err(unauthorized(
                    "Authentication credentials were not provided.",
                ));
            };
            let domain = st.domain.clone();
            let Some((p, session)) = blocking(move || domain.session(&secret)).await? else {
                return Err(unauthorized("Your session has ended; please log in again."));
            };
            if !method.is_safe() {
                let given = headers
                    .get(super::ui::CSRF_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                if !crate::domain::session::csrf_matches(&session, given) {
                    return Err(ApiError::detail(
                        StatusCode::FORBIDDEN,
                        "CSRF Failed: CSRF token missing or incorrect.",
                    ));
                }
            }
            return Ok(p);
        }
    };
    let domain = st.domain.clone();
    let p = blocking(move || domain.principal_for_token(&token)).await?;
    p.ok_or_else(|| unauthorized("Invalid token."))
}

/// One page of `items` as the request's `page` / `page_size` select, with absolute `next` and
/// `previous` links.
pub(crate) fn paginate(
    items: Vec<Value>,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    path: &str,
) -> Result<Value, ApiError> {
    paginate_sized(items, query, headers, path, PAGE_SIZE, MAX_PAGE_SIZE)
}

/// [`paginate`] with another default and largest page size (the map pages by 1000).
pub(crate) fn paginate_sized(
    items: Vec<Value>,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    path: &str,
    default_size: usize,
    max_size: usize,
) -> Result<Value, ApiError> {
    paginate_map(items, |v| v, query, headers, path, default_size, max_size)
}

/// [`paginate`] over any items, turning only the page shown into JSON.
pub(crate) fn paginate_with<T>(
    items: Vec<T>,
    render: impl FnMut(T) -> Value,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    path: &str,
) -> Result<Value, ApiError> {
    paginate_map(
        items,
        render,
        query,
        headers,
        path,
        PAGE_SIZE,
        MAX_PAGE_SIZE,
    )
}

/// [`paginate_sized`] over any items, turning only the page shown into JSON (a list of
/// 10,000 devices costs one page of rendering, not 10,000).
pub(crate) fn paginate_map<T>(
    items: Vec<T>,
    render: impl FnMut(T) -> Value,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    path: &str,
    default_size: usize,
    max_size: usize,
) -> Result<Value, ApiError> {
    let page_size = match query.get("page_size") {
        None => default_size,
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .map_or(default_size, |n| n.min(max_size)),
    };
    let count = items.len();
    let pages = count.div_ceil(page_size).max(1);
    let page = match query.get("page").map(String::as_str) {
        None => 1,
        Some("last") => pages,
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=pages).contains(n))
            .ok_or_else(|| ApiError::detail(StatusCode::NOT_FOUND, "Invalid page."))?,
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let link = |p: usize| -> Value {
        let mut q: Vec<(String, String)> = query
            .iter()
            .filter(|(k, _)| k.as_str() != "page")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        q.sort();
        if p > 1 {
            q.push(("page".into(), p.to_string()));
        }
        let qs: Vec<String> = q
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        let sep = if qs.is_empty() { "" } else { "?" };
        Value::String(format!("http://{host}{path}{sep}{}", qs.join("&")))
    };
    let results: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * page_size)
        .take(page_size)
        .map(render)
        .collect();
    Ok(json!({
        "count": count,
        "next": if page < pages { link(page + 1) } else { Value::Null },
        "previous": if page > 1 { link(page - 1) } else { Value::Null },
        "results": results,
    }))
}

/// Percent-encodes a query component (RFC 3986 unreserved characters pass).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The name/value pairs of an `application/x-www-form-urlencoded` body, in order: empty pairs
/// (`a=1&&b=2&`) are skipped, a pair without `=` has an empty value (see [`form_decode`]).
pub(crate) fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    body.split(|&b| b == b'&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let mut it = pair.splitn(2, |&b| b == b'=');
            let k = form_decode(it.next().unwrap_or_default());
            let v = form_decode(it.next().unwrap_or_default());
            (k, v)
        })
        .collect()
}

/// Decodes one name or value of an `application/x-www-form-urlencoded` body: `+` is a space,
/// `%XX` (two hex digits, nothing else) a byte, any other `%` stays; the bytes are then read as
/// UTF-8, anything that is not replaced rather than refused.
pub(crate) fn form_decode(s: &[u8]) -> String {
    let hex = |c: u8| (c as char).to_digit(16);
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                s.get(i + 1).copied().and_then(hex),
                s.get(i + 2).copied().and_then(hex),
            ) {
                (Some(h), Some(l)) => {
                    out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads a JSON object body; anything else is a 400 in DRF's words.
pub(crate) fn json_object(body: &[u8]) -> Result<serde_json::Map<String, Value>, ApiError> {
    if body.is_empty() {
        return Ok(serde_json::Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::field(
            "non_field_errors",
            "Invalid data. Expected a dictionary.",
        )),
        Err(e) => Err(ApiError::detail(
            StatusCode::BAD_REQUEST,
            &format!("JSON parse error - {e}"),
        )),
    }
}

/// Field readers that turn wrong types into DRF-style field errors.
pub(crate) struct Fields<'a>(pub &'a serde_json::Map<String, Value>);

impl Fields<'_> {
    /// A string field: absent → `None`; `null` → empty string.
    pub(crate) fn string(&self, name: &str) -> Result<Option<String>, ApiError> {
        match self.0.get(name) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(String::new())),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(ApiError::field(name, "Not a valid string.")),
        }
    }

    /// A nullable string field: absent → `None`; `null` or `""` → `Some(None)`.
    pub(crate) fn nullable_string(&self, name: &str) -> Result<Option<Option<String>>, ApiError> {
        Ok(self.string(name)?.map(|s| (!s.is_empty()).then_some(s)))
    }

    /// A boolean field.
    pub(crate) fn boolean(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.0.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if matches!(s.as_str(), "true" | "True" | "1") => Ok(Some(true)),
            Some(Value::String(s)) if matches!(s.as_str(), "false" | "False" | "0") => {
                Ok(Some(false))
            }
            Some(_) => Err(ApiError::field(name, "Must be a valid boolean.")),
        }
    }

    /// A primary-key field naming another object.
    pub(crate) fn id(&self, name: &str) -> Result<Option<crate::domain::id::Id>, ApiError> {
        // `null` (what a GET answered for "none") reads as absent.
        match self.string(name)?.filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(s) => crate::domain::id::Id::parse(&s).map(Some).ok_or_else(|| {
                ApiError::field(name, &format!("\u{201c}{s}\u{201d} is not a valid UUID."))
            }),
        }
    }
}

/// Formats ns since the epoch as the ISO 8601 text Django REST framework writes.
pub(crate) fn iso_time(ns: i64) -> String {
    crate::time::Zone::utc().format_rfc3339(ns)
}
