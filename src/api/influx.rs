//! The InfluxDB 1.x HTTP endpoints: `/ping`, `/write` and `/query`.
//!
//! Owns: their parameters, authentication, status codes, headers and error texts, which follow
//! InfluxDB 1.8 (checked against Debian's 1.6.7 where 1.8 does not differ), and the one place
//! where parsed line protocol becomes storage's write batch. Must not: parse line protocol
//! itself (`lineproto`) or decide what is stored (`storage`).

use std::collections::{BTreeMap, HashMap};
use std::io::Read;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::ApiState;
use super::influx_format as fmt;
use crate::influxql::exec;
use crate::influxql::{Literal, ParseOptions, select};
use crate::lineproto::{self, ParsedLine, Precision};
use crate::storage::{FieldValue, Point, StorageError, WriteBatch, WriteOutcome};

/// The version reported to clients: the 1.x release whose behaviour we follow.
pub(crate) const INFLUXDB_VERSION: &str = "1.8.10";

/// A random request id in UUID form, as InfluxDB sends in `Request-Id`.
fn request_id() -> String {
    // Without randomness the id is still unique enough for log correlation: use zeros.
    crate::domain::id::Id::random()
        .unwrap_or(crate::domain::id::Id([0; 16]))
        .to_string()
}

/// Adds the headers every InfluxDB answer carries.
fn influx_headers(mut r: Response) -> Response {
    let id = request_id();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert("X-Influxdb-Build", HeaderValue::from_static("OSS"));
    h.insert(
        "X-Influxdb-Version",
        HeaderValue::from_static(INFLUXDB_VERSION),
    );
    if let Ok(v) = HeaderValue::from_str(&id) {
        h.insert("Request-Id", v.clone());
        h.insert("X-Request-Id", v);
    }
    r
}

/// `{"error":"…"}` with InfluxDB's trailing newline, and the message in `X-Influxdb-Error`.
pub(crate) fn json_error(status: StatusCode, msg: &str) -> Response {
    let body = format!("{}\n", serde_json::json!({ "error": msg }));
    let mut r = influx_headers((status, body).into_response());
    if let Ok(v) = HeaderValue::from_str(msg) {
        r.headers_mut().insert("X-Influxdb-Error", v);
    }
    r
}

/// A CSV answer (`text/csv`), with `X-Influxdb-Error` for errors.
fn csv_answer(status: StatusCode, body: String, error: Option<&str>) -> Response {
    let mut r = influx_headers((status, body).into_response());
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv"));
    if let Some(v) = error.and_then(|e| HeaderValue::from_str(e).ok()) {
        h.insert("X-Influxdb-Error", v);
    }
    r
}

/// A remote InfluxDB the `/write` and `/query` requests are relayed to, when the timeseries
/// live there (`[timeseries] backend = "influxdb"`): Grafana and InfluxDB clients pointed
/// at wispmon then see the same data as the charts. Credentials are checked here first;
/// the remote gets its own.
pub trait InfluxRelay: Send + Sync + std::fmt::Debug {
    /// Sends one request (blocking): `method path?params` with the client's `headers`
    /// (`Content-Type`, `Content-Encoding`, `Accept`) and `body`.
    ///
    /// # Errors
    /// The remote cannot be reached or answers something that is not HTTP, with why.
    fn relay(
        &self,
        method: &str,
        path: &str,
        params: &[(String, String)],
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Relayed, String>;
}

/// The remote's answer, relayed to the client.
#[derive(Debug, Clone)]
pub struct Relayed {
    /// Status.
    pub status: u16,
    /// Headers to pass on (names lowercase).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

/// Answer headers of the remote passed on to the client.
const RELAYED_HEADERS: &[&str] = &[
    "content-type",
    "x-influxdb-version",
    "x-influxdb-build",
    "x-influxdb-error",
    "request-id",
    "x-request-id",
];

/// Relays one request (parameters without the client's credentials) and shapes the answer.
async fn relay(
    relay: std::sync::Arc<dyn InfluxRelay>,
    method: &'static str,
    path: &'static str,
    q: HashMap<String, String>,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let mut params: Vec<(String, String)> = q
        .into_iter()
        .filter(|(k, _)| k != "u" && k != "p")
        .collect();
    params.sort();
    let pass: Vec<(String, String)> = [
        header::CONTENT_TYPE,
        header::CONTENT_ENCODING,
        header::ACCEPT,
    ]
    .iter()
    // Content headers only describe a body: a relayed query has none.
    .filter(|h| *h == header::ACCEPT || !body.is_empty())
    .filter_map(|h| {
        let v = headers.get(h)?.to_str().ok()?;
        Some((h.as_str().to_owned(), v.to_owned()))
    })
    .collect();
    let joined = tokio::task::spawn_blocking(move || {
        let h: Vec<(&str, &str)> = pass.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        relay.relay(method, path, &params, &h, &body)
    })
    .await;
    let answer = match joined {
        Ok(Ok(a)) => a,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "relaying to the remote InfluxDB failed");
            return json_error(
                StatusCode::BAD_GATEWAY,
                &format!("timeseries backend failed: {e}"),
            );
        }
        Err(_) => return json_error(StatusCode::INTERNAL_SERVER_ERROR, "relay task failed"),
    };
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut r = (status, answer.body).into_response();
    let h = r.headers_mut();
    for (k, v) in &answer.headers {
        if RELAYED_HEADERS.contains(&k.as_str())
            && let (Ok(k), Ok(v)) = (
                header::HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(v),
            )
        {
            h.insert(k, v);
        }
    }
    r
}

/// `GET|HEAD /ping`: 204, or 200 with the version for `verbose=true` (InfluxDB 1.8).
pub(crate) async fn ping(Query(q): Query<HashMap<String, String>>) -> Response {
    let verbose = q
        .get("verbose")
        .is_some_and(|v| matches!(v.as_str(), "true" | "1" | "t" | "T" | "TRUE" | "True"));
    if verbose {
        let body = format!("{}\n", serde_json::json!({ "version": INFLUXDB_VERSION }));
        influx_headers((StatusCode::OK, body).into_response())
    } else {
        influx_headers(StatusCode::NO_CONTENT.into_response())
    }
}

/// Credentials as InfluxDB accepts them: `u`/`p` parameters, HTTP Basic, `Token user:pass`.
fn credentials(q: &HashMap<String, String>, headers: &HeaderMap) -> Option<(String, String)> {
    if let (Some(u), Some(p)) = (q.get("u"), q.get("p")) {
        return Some((u.clone(), p.clone()));
    }
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = auth.split_once(' ')?;
    let pair = match scheme {
        s if s.eq_ignore_ascii_case("basic") => {
            String::from_utf8(decode_base64(rest.trim())?).ok()?
        }
        s if s.eq_ignore_ascii_case("token") => rest.trim().to_owned(),
        _ => return None,
    };
    let (u, p) = pair.split_once(':')?;
    Some((u.to_owned(), p.to_owned()))
}

/// Standard base64 (with or without padding); `None` on any invalid character.
fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        })
    };
    let s = s.trim_end_matches('=').as_bytes();
    if s.len() > 4096 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    for chunk in s.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= val(c)? << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        match chunk.len() {
            4 => out.extend_from_slice(&bytes[1..4]),
            3 => out.extend_from_slice(&bytes[1..3]),
            2 => out.push(bytes[1]),
            _ => return None,
        }
    }
    Some(out)
}

/// Checks credentials when authentication is on; `Err` is the response to send.
async fn authorize(
    st: &ApiState,
    peer: super::throttle::Peer,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<(), Response> {
    if !st.influx.auth_enabled {
        return Ok(());
    }
    // Password guessing here counts with the UI's and the token endpoint's.
    let addr = super::throttle::client_addr(peer, headers, &st.trusted_proxies);
    if let Some(wait) = st.ui.throttle.wait(addr) {
        let mut r = json_error(
            StatusCode::TOO_MANY_REQUESTS,
            "too many failed authentications from this address; try again later",
        );
        super::throttle::set_retry_after(&mut r, wait);
        return Err(r);
    }
    let Some((u, p)) = credentials(q, headers) else {
        return Err(json_error(
            StatusCode::UNAUTHORIZED,
            "unable to parse authentication credentials",
        ));
    };
    let domain = st.domain.clone();
    // argon2 verification is deliberately slow: keep it off the async workers.
    let user = tokio::task::spawn_blocking(move || domain.authenticate(&u, &p))
        .await
        .map_err(|_| json_error(StatusCode::INTERNAL_SERVER_ERROR, "authentication failed"))?
        .map_err(|e| json_error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))?;
    match &user {
        None => st.ui.throttle.failed(addr),
        Some(_) => st.ui.throttle.succeeded(addr),
    }
    match user {
        None => Err(json_error(StatusCode::UNAUTHORIZED, "authorization failed")),
        Some(u) if !u.is_superuser => Err(json_error(
            StatusCode::FORBIDDEN,
            &format!("{} not authorized to execute statement", u.username),
        )),
        Some(_) => Ok(()),
    }
}

/// Reads the body up to the limit, inflating gzip (bounded, so a small bomb cannot expand
/// past the limit). `Err` is the response to send.
async fn read_body(body: Body, gzip: bool, limit: usize) -> Result<Bytes, Response> {
    let too_large = || {
        json_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "http: request body too large",
        )
    };
    let raw = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large())?;
    if !gzip {
        return Ok(raw);
    }
    let mut out = Vec::new();
    let mut dec = flate2::read::GzDecoder::new(raw.as_ref()).take(limit as u64 + 1);
    dec.read_to_end(&mut out)
        .map_err(|e| json_error(StatusCode::BAD_REQUEST, &format!("gzip: {e}")))?;
    if out.len() > limit {
        return Err(too_large());
    }
    Ok(Bytes::from(out))
}

fn to_point(line: ParsedLine<'_>, now: i64) -> Point {
    Point {
        measurement: line.measurement.into_owned(),
        tags: line
            .tags
            .into_iter()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
        fields: line
            .fields
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    lineproto::FieldValue::Float(x) => FieldValue::Float(x),
                    lineproto::FieldValue::Integer(x) => FieldValue::Integer(x),
                    lineproto::FieldValue::Unsigned(x) => FieldValue::Unsigned(x),
                    lineproto::FieldValue::Boolean(x) => FieldValue::Boolean(x),
                    lineproto::FieldValue::String(s) => FieldValue::String(s.into_owned()),
                };
                (k.into_owned(), v)
            })
            .collect(),
        time: line.timestamp.unwrap_or(now),
    }
}

/// The text InfluxDB 1.8 answers for points refused after parsing.
fn partial_write_reason(outcome: &WriteOutcome) -> Option<String> {
    let (_, first) = outcome.rejected.first()?;
    Some(format!(
        "partial write: {first} dropped={}",
        outcome.rejected.len()
    ))
}

/// `POST /write`.
pub(crate) async fn write(
    State(st): State<ApiState>,
    peer: super::throttle::Peer,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Err(r) = authorize(&st, peer, &q, &headers).await {
        return r;
    }
    if let Some(r) = st.relay.clone() {
        // Relayed as received (still compressed): the remote applies its own rules.
        let limit = usize::try_from(st.influx.max_body_size.0).unwrap_or(usize::MAX);
        return match read_body(body, false, limit).await {
            Ok(b) => relay(r, "POST", "/write", q, &headers, b).await,
            Err(e) => e,
        };
    }
    let Some(db) = q.get("db").filter(|d| !d.is_empty()).cloned() else {
        return json_error(StatusCode::BAD_REQUEST, "database is required");
    };
    let gzip = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    let limit = usize::try_from(st.influx.max_body_size.0).unwrap_or(usize::MAX);
    let body = match read_body(body, gzip, limit).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let precision = Precision::from_param(q.get("precision").map_or("", String::as_str));
    let rp = q.get("rp").filter(|r| !r.is_empty()).cloned();
    let now = st.clock.now().as_nanos();
    let engine = st.engine.clone();
    // Parsing and storing are CPU and disk work: off the async workers.
    let joined = tokio::task::spawn_blocking(move || {
        let text = String::from_utf8_lossy(&body);
        let mut points = Vec::new();
        let mut errors = Vec::new();
        for r in lineproto::parse_lines_with_precision(&text, precision) {
            match r {
                Ok(line) => points.push(to_point(line, now)),
                Err(e) => errors.push(e.to_string()),
            }
        }
        if points.is_empty() {
            return (Ok(WriteOutcome::default()), errors);
        }
        let result = engine.write(WriteBatch {
            database: db,
            retention_policy: rp,
            points,
        });
        (result, errors)
    })
    .await;
    let (result, parse_errors) = match joined {
        Ok(x) => x,
        Err(_) => return json_error(StatusCode::INTERNAL_SERVER_ERROR, "write task failed"),
    };
    let outcome = match result {
        Ok(o) => o,
        Err(e) => return storage_error(&e),
    };
    if let Some(reason) = partial_write_reason(&outcome) {
        return json_error(StatusCode::BAD_REQUEST, &reason);
    }
    if !parse_errors.is_empty() {
        let joined = parse_errors.join("\n");
        // Matches InfluxDB 1.x: with nothing stored it is the plain parse error, otherwise a
        // partial write that dropped nothing beyond the unparsable lines.
        let msg = if outcome.written == 0 {
            joined
        } else {
            format!("partial write: {joined} dropped=0")
        };
        return json_error(StatusCode::BAD_REQUEST, &msg);
    }
    influx_headers(StatusCode::NO_CONTENT.into_response())
}

/// Maps a storage failure on the write path to InfluxDB's status and text.
fn storage_error(e: &StorageError) -> Response {
    let status = match e {
        StorageError::DatabaseNotFound { .. } => StatusCode::NOT_FOUND,
        // InfluxDB 1.x answers an unknown retention policy with a 500.
        StorageError::RetentionPolicyNotFound { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        StorageError::Invalid(_) => StatusCode::BAD_REQUEST,
        StorageError::Closed => StatusCode::SERVICE_UNAVAILABLE,
        // Retryable: writes resume by themselves once space is freed.
        StorageError::DiskFull { .. } => StatusCode::INSUFFICIENT_STORAGE,
        StorageError::Kv(_)
        | StorageError::File { .. }
        | StorageError::Corrupted { .. }
        | StorageError::UnsupportedFormat { .. }
        | StorageError::RetentionPolicyConflict
        | StorageError::WriteFailed(_)
        | StorageError::Encode { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    };
    json_error(status, &e.to_string())
}

/// The `params` of a query: a JSON object whose values bind `$name` in the statements.
fn query_params(raw: Option<&String>) -> Result<BTreeMap<String, Literal>, String> {
    let Some(raw) = raw.filter(|r| !r.is_empty()) else {
        return Ok(BTreeMap::new());
    };
    let v: serde_json::Value =
        serde_json::from_str(raw).map_err(|e| format!("error parsing query parameters: {e}"))?;
    let serde_json::Value::Object(map) = v else {
        return Err("error parsing query parameters: expected an object".into());
    };
    let mut out = BTreeMap::new();
    for (k, v) in map {
        let lit = match v {
            serde_json::Value::String(s) => Literal::String(s),
            serde_json::Value::Bool(b) => Literal::Boolean(b),
            serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => Literal::Integer(i),
                (None, Some(u), _) => Literal::Unsigned(u),
                (None, None, Some(f)) => Literal::Float(f),
                _ => {
                    return Err(format!(
                        "error parsing query parameters: bad number for {k}"
                    ));
                }
            },
            other => {
                return Err(format!(
                    "error parsing query parameters: unsupported value for {k}: {other}"
                ));
            }
        };
        out.insert(k, lit);
    }
    Ok(out)
}

/// `GET|POST /query`: parameters from the URL and, for POST, a form body (the body wins).
pub(crate) async fn query(
    State(st): State<ApiState>,
    peer: super::throttle::Peer,
    Query(url_params): Query<HashMap<String, String>>,
    method: axum::http::Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut q = url_params;
    if method == axum::http::Method::POST {
        let limit = usize::try_from(st.influx.max_body_size.0).unwrap_or(usize::MAX);
        let body = match read_body(body, false, limit).await {
            Ok(b) => b,
            Err(r) => return r,
        };
        for (k, v) in super::rest::form_pairs(&body) {
            q.insert(k, v);
        }
    }
    if let Err(r) = authorize(&st, peer, &q, &headers).await {
        return r;
    }
    if let Some(r) = st.relay.clone() {
        // GET stays GET: InfluxDB refuses statements that change data over GET.
        let m = if method == axum::http::Method::GET {
            "GET"
        } else {
            "POST"
        };
        return relay(r, m, "/query", q, &headers, Bytes::new()).await;
    }
    // Answer format: CSV on request, else JSON (compact, indented, or chunked lines).
    let csv = matches!(
        headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()),
        Some("application/csv" | "text/csv")
    );
    let fail = |status: StatusCode, msg: &str| {
        if csv {
            csv_answer(status, fmt::csv_error(msg), Some(msg))
        } else {
            json_error(status, msg)
        }
    };
    let text = q.get("q").map(|s| s.trim()).unwrap_or_default().to_owned();
    if text.is_empty() {
        return fail(StatusCode::BAD_REQUEST, "missing required parameter \"q\"");
    }
    let params = match query_params(q.get("params")) {
        Ok(p) => p,
        Err(e) => return fail(StatusCode::BAD_REQUEST, &e),
    };
    // The validators are not `Sync`: parse in a block so nothing of them lives across an await.
    let parsed = {
        let opts = ParseOptions {
            params: Some(&params),
            check_regex: Some(&select::check_regex),
            check_time_zone: Some(&select::check_time_zone),
        };
        crate::influxql::parse_query_with(&text, &opts)
    };
    let parsed = match parsed {
        Ok(p) => p,
        Err(e) => return fail(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    // Only the exact word `true` turns these on, as in InfluxDB.
    let chunked = q.get("chunked").is_some_and(|v| v == "true");
    let pretty = q.get("pretty").is_some_and(|v| v == "true");
    let chunk_size = q
        .get("chunk_size")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(fmt::DEFAULT_CHUNK_SIZE);
    let db = q.get("db").cloned();
    let rp = q.get("rp").cloned();
    let epoch = fmt::epoch_unit(q.get("epoch").map(String::as_str));
    let engine = st.engine.clone();
    let is_get = method == axum::http::Method::GET;
    let timeout = st.influx.query_timeout;
    let deadline = (!timeout.is_zero()).then(|| std::time::Instant::now() + timeout);
    let limit = st.influx.max_row_limit;
    let joined = tokio::task::spawn_blocking(move || {
        let mut results = Vec::with_capacity(parsed.statements.len());
        let mut rows = 0usize;
        for stmt in &parsed.statements {
            if limit > 0 && rows >= limit {
                // InfluxDB stops reading results at the limit: later statements answer nothing.
                break;
            }
            let ctx = exec::Context {
                db: db.as_deref(),
                rp: rp.as_deref(),
                now: engine.now(),
                deadline,
                max_rows: (limit > 0).then(|| limit - rows),
            };
            let mut r = exec::execute(&engine, stmt, &ctx);
            if is_get && exec::is_write(stmt) {
                // Matches InfluxDB 1.6: executed, with a warning to use POST.
                r.messages.push((
                    "warning".into(),
                    format!(
                        "deprecated use of '{stmt}' in a read only context, please use a POST request instead"
                    ),
                ));
            }
            rows = rows.saturating_add(r.series.iter().map(|s| s.values.len()).sum());
            results.push(r);
        }
        let cut = cut_rows(&mut results, limit);
        (results, cut)
    })
    .await;
    match joined {
        Ok((results, _)) if csv => csv_answer(StatusCode::OK, fmt::csv(&results, epoch), None),
        Ok((results, cut)) if chunked => influx_headers(
            (
                StatusCode::OK,
                fmt::chunked(&results, epoch, chunk_size, &cut),
            )
                .into_response(),
        ),
        Ok((results, cut)) => {
            let body = fmt::json(&results, epoch, &cut);
            let body = if pretty { fmt::pretty(&body) } else { body };
            influx_headers((StatusCode::OK, body).into_response())
        }
        Err(_) => json_error(StatusCode::INTERNAL_SERVER_ERROR, "query task failed"),
    }
}

/// InfluxDB's `max-row-limit` on a whole answer: rows are counted across statements; the
/// series that crosses the limit is cut to it (and says `"partial":true`), the series after
/// it are dropped (and then its statement's result says `"partial":true`), and so is every
/// later statement's result. `limit` 0: no limit.
fn cut_rows(results: &mut Vec<exec::StatementResult>, limit: usize) -> fmt::Cut {
    let mut cut = fmt::Cut::default();
    if limit == 0 {
        return cut;
    }
    let mut rows = 0usize;
    for (i, r) in results.iter_mut().enumerate() {
        for j in 0..r.series.len() {
            let room = limit - rows;
            let se = &mut r.series[j];
            if room < se.values.len() {
                se.values.truncate(room);
                cut.series.push((i, j));
            }
            rows += se.values.len();
            if rows >= limit {
                if j + 1 < r.series.len() {
                    r.series.truncate(j + 1);
                    cut.results.push(i);
                }
                break;
            }
        }
        if rows >= limit {
            results.truncate(i + 1);
            break;
        }
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(series: &[usize]) -> exec::StatementResult {
        exec::StatementResult {
            series: series
                .iter()
                .map(|&n| exec::Series {
                    name: Some("m".into()),
                    tags: Vec::new(),
                    columns: vec!["time".into()],
                    values: vec![Vec::new(); n],
                })
                .collect(),
            ..Default::default()
        }
    }

    fn shape(results: &[exec::StatementResult]) -> Vec<Vec<usize>> {
        results
            .iter()
            .map(|r| r.series.iter().map(|s| s.values.len()).collect())
            .collect()
    }

    #[test]
    fn the_row_limit_counts_across_statements_and_cuts_like_influxdb() {
        let mut r = vec![result(&[3, 3, 1]), result(&[1])];
        let cut = cut_rows(&mut r, 5);
        assert_eq!(shape(&r), [vec![3, 2]]);
        assert_eq!((cut.series, cut.results), (vec![(0, 1)], vec![0]));
        // Exactly at the limit at a series' end: nothing cut, the rest dropped.
        let mut r = vec![result(&[2, 3]), result(&[4]), result(&[1])];
        let cut = cut_rows(&mut r, 5);
        assert_eq!(shape(&r), [vec![2, 3]]);
        assert_eq!((cut.series, cut.results), (vec![], vec![]));
        let mut r = vec![result(&[3]), result(&[4, 1]), result(&[1])];
        let cut = cut_rows(&mut r, 5);
        assert_eq!(shape(&r), [vec![3], vec![2]]);
        assert_eq!((cut.series, cut.results), (vec![(1, 0)], vec![1]));
        // Under the limit, or no limit: untouched.
        for limit in [0, 100] {
            let mut r = vec![result(&[3, 3]), result(&[]), result(&[4])];
            assert_eq!(cut_rows(&mut r, limit), fmt::Cut::default());
            assert_eq!(shape(&r), [vec![3, 3], vec![], vec![4]]);
        }
    }

    type Pairs = Vec<(String, String)>;

    /// What a relay was asked to send: path, parameters, headers.
    #[derive(Debug, Default)]
    struct Recorder(std::sync::Mutex<Vec<(String, Pairs, Pairs)>>);

    impl InfluxRelay for Recorder {
        fn relay(
            &self,
            _method: &str,
            path: &str,
            params: &[(String, String)],
            headers: &[(&str, &str)],
            _body: &[u8],
        ) -> Result<Relayed, String> {
            let headers = headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            self.0.lock().map_err(|e| e.to_string())?.push((
                path.to_owned(),
                params.to_vec(),
                headers,
            ));
            Ok(Relayed {
                status: 200,
                headers: vec![("x-influxdb-version".into(), "1.8.10".into())],
                body: b"{}".to_vec(),
            })
        }
    }

    #[tokio::test]
    async fn relayed_requests_carry_none_of_the_clients_credentials() {
        let rec = std::sync::Arc::new(Recorder::default());
        let q: HashMap<String, String> = [
            ("db", "d"),
            ("q", "SHOW DATABASES"),
            ("u", "admin"),
            ("p", "secret"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic YWRtaW46c2VjcmV0"),
        );
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("wispmon_session=abc"),
        );
        h.insert(header::ACCEPT, HeaderValue::from_static("application/csv"));
        let r = relay(rec.clone(), "GET", "/query", q, &h, Bytes::new()).await;
        assert_eq!(r.status(), StatusCode::OK);
        let sent = rec.0.lock().unwrap_or_else(|e| e.into_inner());
        let (path, params, headers) = &sent[0];
        assert_eq!(path, "/query");
        assert_eq!(
            params,
            &[
                ("db".to_owned(), "d".to_owned()),
                ("q".to_owned(), "SHOW DATABASES".to_owned())
            ]
        );
        assert_eq!(
            headers,
            &[("accept".to_owned(), "application/csv".to_owned())]
        );
    }

    #[test]
    fn base64_decodes_basic_credentials() {
        assert_eq!(decode_base64("YWRtaW46c2VjcmV0").unwrap(), b"admin:secret");
        assert_eq!(decode_base64("YQ==").unwrap(), b"a");
        assert_eq!(decode_base64("YWI=").unwrap(), b"ab");
        assert!(decode_base64("Y").is_none());
        assert!(decode_base64("!!!!").is_none());
    }

    #[test]
    fn credentials_come_from_params_basic_or_token() {
        let mut q = HashMap::new();
        let mut h = HeaderMap::new();
        assert_eq!(credentials(&q, &h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic YWRtaW46c2VjcmV0"),
        );
        assert_eq!(credentials(&q, &h), Some(("admin".into(), "secret".into())));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Token bob:pw:with:colons"),
        );
        assert_eq!(
            credentials(&q, &h),
            Some(("bob".into(), "pw:with:colons".into()))
        );
        q.insert("u".into(), "x".into());
        q.insert("p".into(), "y".into());
        assert_eq!(credentials(&q, &h), Some(("x".into(), "y".into())));
    }

    #[test]
    fn form_bodies_decode() {
        assert_eq!(
            crate::api::rest::form_pairs(b"q=SHOW+DATABASES&db=a%20b&x=%zz&&e="),
            [
                ("q".to_owned(), "SHOW DATABASES".to_owned()),
                ("db".to_owned(), "a b".to_owned()),
                ("x".to_owned(), "%zz".to_owned()),
                ("e".to_owned(), String::new()),
            ]
        );
        assert_eq!(
            crate::api::rest::form_pairs(b"q=%4"),
            [("q".to_owned(), "%4".to_owned())]
        );
    }

    #[test]
    fn request_ids_look_like_uuids() {
        let id = request_id();
        assert_eq!(id.len(), 36);
        assert_eq!(id.matches('-').count(), 4);
    }
}
