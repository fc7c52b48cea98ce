//! The device metrics endpoint the OpenWrt monitoring agent posts to:
//! `POST /api/v1/monitoring/device/{pk}/?key=<key>[&time=<dd-mm-YYYY_HH:MM:SS.ffffff>][&current=true]`.
//!
//! Owns: the status codes and bodies the agent acts on (spec §3.1 and device-agents §1.4):
//! 404 unknown device (or inactive organization, or deactivated device), 403 wrong or missing
//! key, 400 for anything wrong with the sample (the agent then drops it; any other refusal
//! would jam its queue, so an oversized body is a 400 too, never a 413), 200 with body `null`
//! once the sample is durable. The agent has no timeout, so the work is bounded: the body is
//! capped, parsing is linear, and the write is one engine batch per database.

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use serde_json::{Value, json};

use axum::http::{HeaderMap, Uri};

use super::ApiState;
use super::operator::{device_json, device_json_for};
use super::rest::{
    ApiError, Auth, authenticate, blocking, iso_time, json_response, paginate, paginate_with,
};
use crate::domain::AgentDevice;
use crate::domain::ChartAccess;
use crate::domain::charts::{self, ChartRequest};
use crate::domain::device::HealthStatus;
use crate::domain::id::Id;
use crate::domain::ingest::effective_time;
use crate::domain::netjson::{self, MAX_BODY_BYTES};
use crate::domain::wifi::SessionView;

/// Bytes of an oversized body read and discarded before answering, so the agent (curl) reads
/// our 400 instead of a reset connection; beyond this the connection is closed.
const DRAIN_LIMIT: usize = 16 << 20;

/// Reads the body up to `MAX_BODY_BYTES`; `Err` carries the 400 for a bigger one.
async fn read_body(body: Body) -> Result<Bytes, Response> {
    let mut body = body;
    let mut buf: Vec<u8> = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Err(json_response(
                StatusCode::BAD_REQUEST,
                &json!({"detail": "The request body could not be read."}),
            ));
        };
        if let Ok(data) = frame.into_data() {
            seen = seen.saturating_add(data.len());
            if seen <= MAX_BODY_BYTES {
                buf.extend_from_slice(&data);
            } else if seen > DRAIN_LIMIT {
                break;
            }
        }
    }
    if seen > MAX_BODY_BYTES {
        return Err(json_response(
            StatusCode::BAD_REQUEST,
            &Value::String(format!(
                "Invalid data: the body has more than {MAX_BODY_BYTES} bytes"
            )),
        ));
    }
    Ok(Bytes::from(buf))
}

/// `POST /api/v1/monitoring/device/{pk}/`.
pub(crate) async fn post_device_metrics(
    State(st): State<ApiState>,
    Path(pk): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    peer: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    body: Body,
) -> Response {
    // The peer is absent only when the router is driven without a listener (tests).
    let peer_ip = super::controller::client_ip(
        peer.map(|axum::Extension(axum::extract::ConnectInfo(a))| a),
        &headers,
        &st.trusted_proxies,
    );
    let not_found = || json_response(StatusCode::NOT_FOUND, &json!({"detail": "Not found."}));
    let Some(id) = Id::parse(&pk) else {
        return not_found();
    };
    let body = match read_body(body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    // Everything else in one blocking task (device lookup, JSON parsing, the durable write):
    // one hand-off per request instead of one per step keeps a 2-core box switching less.
    let domain = st.domain.clone();
    let outcome =
        tokio::task::spawn_blocking(move || store_sample(&domain, id, &q, &body, peer_ip)).await;
    match outcome {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => server_error(&e),
        Err(e) => server_error(&e),
    }
}

/// The checks of spec §3.1 in upstream's order (404, 403, 400 body, 400 time), then the write.
fn store_sample(
    domain: &crate::domain::Domain,
    id: Id,
    q: &HashMap<String, String>,
    body: &[u8],
    peer_ip: Option<String>,
) -> Result<Response, crate::domain::DomainError> {
    let device = match domain.agent_device(id, q.get("key").map(String::as_str))? {
        AgentDevice::Active(d) => {
            // Proof of life, whatever the sample turns out to be.
            domain.note_contact(&d, peer_ip)?;
            d
        }
        AgentDevice::Unknown | AgentDevice::Deactivated => {
            tracing::debug!(device = %id, "device sample for an unknown or deactivated device");
            return Ok(json_response(
                StatusCode::NOT_FOUND,
                &json!({"detail": "Not found."}),
            ));
        }
        AgentDevice::BadKey => {
            // The agent retries every few seconds: one line each time says which router
            // holds a stale key (never the key itself).
            tracing::info!(device = %id, "device sample refused: wrong key");
            return Ok(json_response(
                StatusCode::FORBIDDEN,
                &json!({"detail": "You do not have permission to perform this action."}),
            ));
        }
    };
    let refused = |why: &str| {
        // The agent discards a sample on 400: this line is all that is left of it.
        let why: String = why.chars().take(200).collect();
        tracing::info!(device = %id, name = %device.name, reason = %why, "device sample refused");
    };
    let doc = match netjson::parse_document(body) {
        Ok(d) => d,
        // A body that is not JSON gets the framework's answer upstream (§11 quirk 19).
        Err(netjson::Invalid::NotJson { reason }) => {
            refused(&format!("not JSON: {reason}"));
            return Ok(json_response(
                StatusCode::BAD_REQUEST,
                &json!({"detail": format!("JSON parse error - {reason}")}),
            ));
        }
        Err(netjson::Invalid::Empty) => {
            refused("empty body");
            return Ok(json_response(
                StatusCode::BAD_REQUEST,
                &json!({"detail": "JSON parse error - the request body is empty"}),
            ));
        }
        Err(e) => {
            let text = e.to_string();
            refused(&text.replace('\n', " "));
            return Ok(json_response(StatusCode::BAD_REQUEST, &Value::String(text)));
        }
    };
    let given = match q.get("time") {
        None => None,
        Some(t) => match netjson::parse_time(t) {
            Ok(ns) => Some(ns),
            Err(_) => {
                refused("incorrect time format");
                return Ok(json_response(
                    StatusCode::BAD_REQUEST,
                    &json!({"detail": "Incorrect time format"}),
                ));
            }
        },
    };
    let t = effective_time(given, domain.now());
    domain.ingest(&device, doc, t)?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        "null",
    )
        .into_response())
}

/// `GET /api/v1/monitoring/device/`: devices with their health status, filterable by
/// `organization`, `organization_slug` and `monitoring__status`.
pub(crate) async fn list_devices(
    State(st): State<ApiState>,
    Auth(who): Auth,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    // One status, or several separated by commas (the UI's "show issues": `problem,critical`).
    let statuses = match q.get("monitoring__status").filter(|s| !s.is_empty()) {
        None => None,
        Some(list) => Some(
            list.split(',')
                .map(|s| {
                    HealthStatus::parse(s.trim()).ok_or_else(|| {
                        ApiError::field(
                            "monitoring__status",
                            &format!(
                                "Select a valid choice. {s} is not one of the available choices."
                            ),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    let org = match q.get("organization") {
        None => None,
        Some(s) => Some(Id::parse(s).ok_or_else(|| {
            ApiError::field(
                "organization",
                "Select a valid choice. That choice is not one of the available choices.",
            )
        })?),
    };
    let slug = q.get("organization_slug").cloned();
    // Case-insensitive, in the name, MAC address, management and last IP.
    let search = q
        .get("search")
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty());
    // Devices with this metric (key or name) unhealthy right now.
    let problematic = q
        .get("problematic_metric")
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    let w = who.clone();
    let domain = st.domain.clone();
    let devices = blocking(move || {
        let orgs = domain.organizations(&who)?;
        let slug_org = slug.map(|s| orgs.iter().find(|o| o.slug == s).map(|o| o.id));
        let found = |hay: &str, needle: &str| hay.to_lowercase().contains(needle);
        let mut devices: Vec<_> = domain
            .devices(&who)?
            .into_iter()
            .filter(|d| statuses.as_ref().is_none_or(|s| s.contains(&d.status)))
            .filter(|d| org.is_none_or(|o| d.organization == o))
            .filter(|d| slug_org.is_none_or(|o| o == Some(d.organization)))
            .filter(|d| {
                search.as_deref().is_none_or(|n| {
                    found(&d.name, n)
                        || found(&d.mac_address, n)
                        || d.management_ip.as_deref().is_some_and(|ip| found(ip, n))
                        || d.last_ip.as_deref().is_some_and(|ip| found(ip, n))
                })
            })
            .collect();
        if let Some(metric) = problematic {
            // Only devices that are not ok can have an unhealthy metric: look at those alone.
            let mut kept = Vec::new();
            for d in devices {
                if matches!(d.status, HealthStatus::Ok | HealthStatus::Unknown) {
                    continue;
                }
                let bad = domain
                    .device_metrics(&who, d.id)?
                    .iter()
                    .any(|m| m.is_healthy == Some(false) && (m.key == metric || m.name == metric));
                if bad {
                    kept.push(d);
                }
            }
            devices = kept;
        }
        Ok(devices)
    })
    .await?;
    Ok(json_response(
        StatusCode::OK,
        &paginate_with(
            devices,
            |d| device_json_for(&w, &d),
            &q,
            &headers,
            uri.path(),
        )?,
    ))
}

/// `GET /api/v1/monitoring/device/{pk}/metric/`: the device's metrics with their health,
/// filterable by `is_healthy`.
pub(crate) async fn device_metric_list(
    State(st): State<ApiState>,
    Auth(who): Auth,
    Path(pk): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let id = Id::parse(&pk).ok_or_else(ApiError::not_found)?;
    let healthy = match q.get("is_healthy").map(String::as_str) {
        None => None,
        Some("true" | "True" | "1") => Some(true),
        Some("false" | "False" | "0") => Some(false),
        Some(_) => return Err(ApiError::field("is_healthy", "Enter a valid boolean.")),
    };
    let domain = st.domain.clone();
    let metrics = blocking(move || domain.device_metrics(&who, id)).await?;
    let list: Vec<Value> = metrics
        .iter()
        .filter(|m| healthy.is_none_or(|h| m.is_healthy == Some(h)))
        .map(|m| {
            json!({
                "id": m.id.to_string(), "name": m.name, "key": m.key,
                "is_healthy": m.is_healthy, "is_healthy_tolerant": m.is_healthy_tolerant,
                "alert_settings": alert_json(&st, m),
            })
        })
        .collect();
    Ok(json_response(StatusCode::OK, &Value::Array(list)))
}

/// `GET /api/v1/monitoring/device/{pk}/`: the device, its metrics' health and its charts
/// (spec §4.2), or their CSV export with `?csv=…`. A non-empty `key` authenticates as the
/// device itself; otherwise an operator token is needed.
pub(crate) async fn get_device_charts(
    State(st): State<ApiState>,
    Path(pk): Path<String>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let (access, who) = match q.get("key").filter(|k| !k.is_empty()) {
        Some(k) => (ChartAccess::DeviceKey(k.clone()), None),
        None => {
            let p = authenticate(&st, &axum::http::Method::GET, &headers).await?;
            (ChartAccess::Operator(p.clone()), Some(p))
        }
    };
    let id = Id::parse(&pk).ok_or_else(ApiError::not_found)?;
    let non_empty = |k: &str| q.get(k).is_some_and(|v| !v.is_empty());
    let req = chart_request(&q);
    let (want_csv, want_status) = (non_empty("csv"), non_empty("status"));
    let domain = st.domain.clone();
    let page =
        blocking(move || domain.device_charts(&access, id, &req, want_status && !want_csv)).await?;
    if want_csv {
        return Ok(super::rest::csv_response(charts::csv(
            &page.charts,
            page.x.as_ref(),
        )));
    }
    // The device itself (by key) may see its key; operators as their role allows.
    let mut body = match &who {
        Some(p) => device_json_for(p, &page.device),
        None => device_json(&page.device),
    };
    body["monitoring"]["related_metrics"] = Value::Array(
        page.metrics
            .iter()
            .map(|m| json!({"name": m.name, "is_healthy": m.is_healthy}))
            .collect(),
    );
    body["charts"] = Value::Array(page.charts);
    if let Some(x) = page.x {
        body["x"] = x;
    }
    if want_status {
        body["data"] = page.data.unwrap_or(Value::Null);
    }
    Ok(json_response(StatusCode::OK, &body))
}

/// `GET /api/v1/monitoring/dashboard/`: the general charts (spec §4.6), or their CSV.
/// `GET /api/v1/monitoring/system/`: wispmon's own charts, for superusers.
pub(crate) async fn system(
    State(st): State<ApiState>,
    Auth(who): Auth,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let req = chart_request(&q);
    let domain = st.domain.clone();
    let answer = blocking(move || domain.system_charts(&who, &req)).await?;
    let database = st.domain.settings().telemetry_database.clone();
    let mut body = json!({ "enabled": answer.is_some(), "database": database, "charts": [] });
    if let Some((charts, x)) = answer {
        body["charts"] = Value::Array(charts);
        if let Some(x) = x {
            body["x"] = x;
        }
    }
    Ok(json_response(StatusCode::OK, &body))
}

pub(crate) async fn dashboard(
    State(st): State<ApiState>,
    Auth(who): Auth,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let list = |k: &str| -> Vec<String> {
        q.get(k)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let (slugs, locations, floorplans) = (
        list("organization_slug"),
        list("location_id"),
        list("floorplan_id"),
    );
    let req = chart_request(&q);
    let want_csv = q.get("csv").is_some_and(|v| !v.is_empty());
    let domain = st.domain.clone();
    let d = blocking(move || domain.dashboard(&who, &req, &slugs, &locations, &floorplans)).await?;
    if want_csv {
        return Ok(super::rest::csv_response(charts::csv(
            &d.charts,
            d.x.as_ref(),
        )));
    }
    let mut body = json!({ "charts": d.charts });
    if let Some(x) = d.x {
        body["x"] = x;
    }
    if d.organizations.len() >= 2 {
        body["organizations"] = Value::Array(
            d.organizations
                .iter()
                .map(|o| json!({"id": o.slug, "text": o.name}))
                .collect(),
        );
    }
    Ok(json_response(StatusCode::OK, &body))
}

/// The chart window of a request's `time`, `start`, `end` and `timezone`.
fn chart_request(q: &HashMap<String, String>) -> ChartRequest {
    ChartRequest {
        time: q.get("time").cloned(),
        start: q.get("start").cloned(),
        end: q.get("end").cloned(),
        timezone: q.get("timezone").cloned(),
    }
}

/// `GET /api/v1/monitoring/device/{pk}/ping-latency/`: the latency distribution of the
/// device's ping replies over `time` (or `start`/`end`), per chart bucket.
pub(crate) async fn ping_latency(
    State(st): State<ApiState>,
    Path(pk): Path<String>,
    Auth(who): Auth,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let id = Id::parse(&pk).ok_or_else(ApiError::not_found)?;
    let req = chart_request(&q);
    let domain = st.domain.clone();
    let v = blocking(move || domain.ping_latency(&who, id, &req)).await?;
    Ok(json_response(StatusCode::OK, &v))
}

/// A session's client as the sessions API shows it (wifi6/5/4 are the he/vht/ht flags).
fn client_json(mac: &str, c: Option<&crate::domain::wifi::WifiClient>) -> Value {
    let flag = |f: Option<bool>| f.map(|b| if b { "yes" } else { "no" });
    json!({
        "mac_address": mac,
        "vendor": c.and_then(|c| c.vendor.clone()),
        "wifi6": flag(c.and_then(|c| c.he)),
        "wifi5": flag(c.and_then(|c| c.vht)),
        "wifi4": flag(c.and_then(|c| c.ht)),
        "wmm": c.is_some_and(|c| c.wmm),
        "wds": c.is_some_and(|c| c.wds),
        "wps": c.is_some_and(|c| c.wps),
    })
}

fn session_json(v: &SessionView) -> Value {
    json!({
        "id": v.session.id.to_string(),
        "organization": v.organization_name,
        "device": v.device_name,
        "ssid": v.session.ssid,
        "interface_name": v.session.interface_name,
        "client": client_json(&v.session.client, v.client.as_ref()),
        "start_time": iso_time(v.session.start_ns),
        "stop_time": v.session.stop_ns.map(iso_time),
        "modified": iso_time(v.session.modified_ns),
    })
}

/// `GET /api/v1/monitoring/wifi-session/`: sessions of the devices one sees, newest first,
/// filterable by `device`, `device__organization`, `start_time__gt/gte/lt/lte`,
/// `stop_time__gt/gte/lt/lte` (ISO 8601 or `YYYY-MM-DD[ HH:MM:SS]`) and `stop_time__isnull`.
pub(crate) async fn wifi_sessions(
    State(st): State<ApiState>,
    Auth(who): Auth,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let id_filter = |k: &str| -> Result<Option<Id>, ApiError> {
        q.get(k)
            .map(|s| Id::parse(s).ok_or_else(|| ApiError::field(k, "Enter a valid UUID.")))
            .transpose()
    };
    let device = id_filter("device")?;
    let org = id_filter("device__organization")?;
    let utc = crate::time::Zone::utc();
    let mut bounds: Vec<(&str, &str, i64)> = Vec::new();
    for field in ["start_time", "stop_time"] {
        for op in ["gt", "gte", "lt", "lte"] {
            let k = format!("{field}__{op}");
            if let Some(v) = q.get(&k) {
                let t = utc
                    .parse_time(v)
                    .map_err(|_| ApiError::field(&k, "Enter a valid date/time."))?;
                bounds.push((field, op, t));
            }
        }
    }
    let open = match q.get("stop_time__isnull").map(String::as_str) {
        None => None,
        Some("true" | "True" | "1") => Some(true),
        Some(_) => Some(false),
    };
    let domain = st.domain.clone();
    let list = blocking(move || domain.wifi_sessions(&who)).await?;
    let items = list
        .iter()
        .filter(|v| device.is_none_or(|d| v.session.device == d))
        .filter(|v| org.is_none_or(|o| v.session.organization == o))
        .filter(|v| open.is_none_or(|o| v.session.stop_ns.is_none() == o))
        .filter(|v| {
            bounds.iter().all(|(field, op, t)| {
                let x = if *field == "start_time" {
                    Some(v.session.start_ns)
                } else {
                    v.session.stop_ns
                };
                x.is_some_and(|x| match *op {
                    "gt" => x > *t,
                    "gte" => x >= *t,
                    "lt" => x < *t,
                    _ => x <= *t,
                })
            })
        })
        .map(session_json)
        .collect();
    let mut page = paginate(items, &q, &headers, uri.path())?;
    // Client details only for the page shown: a fleet has tens of thousands of sessions.
    let macs: Vec<String> = page["results"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|s| s["client"]["mac_address"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let domain = st.domain.clone();
    let clients = blocking(move || {
        macs.into_iter()
            .map(|m| domain.wifi_client(&m))
            .collect::<Result<Vec<_>, _>>()
    })
    .await?;
    if let Some(results) = page["results"].as_array_mut() {
        for (s, c) in results.iter_mut().zip(clients) {
            let mac = s["client"]["mac_address"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            s["client"] = client_json(&mac, c.as_ref());
        }
    }
    Ok(json_response(StatusCode::OK, &page))
}

/// `GET /api/v1/monitoring/wifi-session/{id}/`.
pub(crate) async fn wifi_session(
    State(st): State<ApiState>,
    Auth(who): Auth,
    Path(pk): Path<String>,
) -> Result<Response, ApiError> {
    let id = Id::parse(&pk).ok_or_else(ApiError::not_found)?;
    let domain = st.domain.clone();
    let d2 = domain.clone();
    let list = blocking(move || domain.wifi_sessions(&who)).await?;
    let v = list
        .iter()
        .find(|v| v.session.id == id)
        .ok_or_else(ApiError::not_found)?;
    let mac = v.session.client.clone();
    let client = blocking(move || d2.wifi_client(&mac)).await?;
    let mut body = session_json(v);
    body["client"] = client_json(&v.session.client, client.as_ref());
    Ok(json_response(StatusCode::OK, &body))
}

/// A metric's alert settings: the custom values and the values in force.
fn alert_json(st: &ApiState, m: &crate::domain::metric::Metric) -> Value {
    let Some(a) = &m.alert else {
        return Value::Null;
    };
    let registry = &st.domain.settings().registry;
    let d = registry
        .metric(&m.configuration)
        .map_or(crate::domain::registry::FALLBACK_ALERT, |c| {
            c.effective_alert()
        });
    let op = a.custom_operator.clone().unwrap_or_else(|| {
        match d.operator {
            crate::domain::registry::Operator::LessThan => "<",
            crate::domain::registry::Operator::GreaterThan => ">",
        }
        .to_owned()
    });
    json!({
        "is_active": a.is_active,
        "custom_operator": a.custom_operator,
        "custom_threshold": a.custom_threshold,
        "custom_tolerance": a.custom_tolerance,
        "operator": op,
        "threshold": a.custom_threshold.unwrap_or(d.threshold),
        "tolerance": a.custom_tolerance.unwrap_or(d.tolerance),
    })
}

/// `GET|PATCH|PUT /api/v1/monitoring/device/{pk}/metric/{metric}/alert-settings/`: one
/// metric's alert settings; `null` clears a custom value, and a custom value equal to the
/// configured default is stored as "use the default".
pub(crate) async fn alert_settings(
    State(st): State<ApiState>,
    Auth(who): Auth,
    method: axum::http::Method,
    Path((pk, metric)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let device = Id::parse(&pk).ok_or_else(ApiError::not_found)?;
    let metric = Id::parse(&metric).ok_or_else(ApiError::not_found)?;
    let domain = st.domain.clone();
    let m = if method == axum::http::Method::GET || method == axum::http::Method::HEAD {
        blocking(move || {
            domain
                .device_metrics(&who, device)?
                .into_iter()
                .find(|m| m.id == metric && m.alert.is_some())
                .ok_or(crate::domain::DomainError::NotFound)
        })
        .await?
    } else {
        let obj = super::rest::json_object(&body)?;
        let nullable_f64 = |k: &str| -> Result<Option<Option<f64>>, ApiError> {
            match obj.get(k) {
                None => Ok(None),
                Some(Value::Null) => Ok(Some(None)),
                Some(v) => v
                    .as_f64()
                    .map(|f| Some(Some(f)))
                    .ok_or_else(|| ApiError::field(k, "A valid number is required.")),
            }
        };
        let tolerance = match obj.get("custom_tolerance") {
            None => None,
            Some(Value::Null) => Some(None),
            Some(v) => Some(Some(
                v.as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| {
                        ApiError::field("custom_tolerance", "A valid integer is required.")
                    })?,
            )),
        };
        let fields = super::rest::Fields(&obj);
        let input = crate::domain::metric::AlertInput {
            is_active: fields.boolean("is_active")?,
            operator: match obj.get("custom_operator") {
                None => None,
                Some(Value::Null) => Some(None),
                Some(_) => Some(fields.string("custom_operator")?),
            },
            threshold: nullable_f64("custom_threshold")?,
            tolerance,
        };
        blocking(move || domain.edit_alert_settings(&who, device, metric, input)).await?
    };
    Ok(json_response(StatusCode::OK, &alert_json(&st, &m)))
}

fn check_json(c: &crate::domain::check::Check) -> Value {
    json!({
        "id": c.id.to_string(),
        "name": c.name,
        "check_type": c.check_type.class_path(),
        "is_active": c.is_active,
        "description": c.description,
        "params": serde_json::from_str::<Value>(&c.params).unwrap_or_else(|_| json!({})),
        "object_id": c.device.to_string(),
        "content_type": crate::domain::ingest::DEVICE_CONTENT_TYPE,
        "created": iso_time(c.created_ns),
        "modified": iso_time(c.modified_ns),
    })
}

fn check_input(body: &[u8]) -> Result<crate::domain::check::CheckInput, ApiError> {
    let obj = super::rest::json_object(body)?;
    let f = super::rest::Fields(&obj);
    let check_type = match f.string("check_type")? {
        None => None,
        Some(t) => Some(crate::domain::check::CheckType::parse(&t).ok_or_else(|| {
            ApiError::field("check_type", &format!("\"{t}\" is not a valid choice."))
        })?),
    };
    let params = match obj.get("params") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m.clone()),
        Some(_) => return Err(ApiError::field("params", "Expected a JSON object.")),
    };
    Ok(crate::domain::check::CheckInput {
        name: f.string("name")?,
        check_type,
        is_active: f.boolean("is_active")?,
        description: f.string("description")?,
        params,
    })
}

/// `GET|POST /api/v1/monitoring/device/{pk}/check/`: a device's checks.
pub(crate) async fn checks(
    State(st): State<ApiState>,
    Auth(who): Auth,
    method: axum::http::Method,
    Path(pk): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let device = Id::parse(&pk).ok_or_else(ApiError::not_found)?;
    let domain = st.domain.clone();
    if method == axum::http::Method::POST {
        let parsed = check_input(&body);
        let (d2, w2) = (domain.clone(), who.clone());
        blocking(move || d2.device(&w2, device)).await?;
        let input = parsed?;
        let c = blocking(move || domain.save_check(&who, device, None, input)).await?;
        return Ok(json_response(StatusCode::CREATED, &check_json(&c)));
    }
    let list = blocking(move || domain.device_checks(&who, device)).await?;
    Ok(json_response(
        StatusCode::OK,
        &Value::Array(list.iter().map(check_json).collect()),
    ))
}

/// `GET|PUT|PATCH|DELETE /api/v1/monitoring/device/{pk}/check/{check}/`.
pub(crate) async fn check(
    State(st): State<ApiState>,
    Auth(who): Auth,
    method: axum::http::Method,
    Path((pk, check)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    use axum::http::Method as M;
    if ![M::GET, M::HEAD, M::PUT, M::PATCH, M::DELETE].contains(&method) {
        return Err(super::rest::method_not_allowed(&method));
    }
    let device = Id::parse(&pk).ok_or_else(ApiError::not_found)?;
    let id = Id::parse(&check).ok_or_else(ApiError::not_found)?;
    let domain = st.domain.clone();
    match method {
        axum::http::Method::GET | axum::http::Method::HEAD => {
            let list = blocking(move || domain.device_checks(&who, device)).await?;
            let c = list
                .iter()
                .find(|c| c.id == id)
                .ok_or_else(ApiError::not_found)?;
            Ok(json_response(StatusCode::OK, &check_json(c)))
        }
        axum::http::Method::PUT | axum::http::Method::PATCH => {
            let parsed = check_input(&body);
            let (d2, w2) = (domain.clone(), who.clone());
            let visible = blocking(move || d2.device_checks(&w2, device)).await?;
            if !visible.iter().any(|c| c.id == id) {
                return Err(ApiError::not_found());
            }
            let input = parsed?;
            let c = blocking(move || domain.save_check(&who, device, Some(id), input)).await?;
            Ok(json_response(StatusCode::OK, &check_json(&c)))
        }
        axum::http::Method::DELETE => {
            blocking(move || domain.delete_check(&who, device, id)).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        m => Err(super::rest::method_not_allowed(&m)),
    }
}

/// A storage failure: 500, which the agent retries (the sample is kept on the router).
fn server_error(e: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %e, "storing a device sample failed");
    json_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        &json!({"detail": "A server error occurred."}),
    )
}
