//! Maintenance windows, a device's parent link and its health summary (status, flapping,
//! silence, held alerts). wispmon's own endpoints: upstream has none of this.
//!
//! Owns: request parsing and JSON shapes. The rules live in `domain::silence`.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::ApiState;
use super::rest::{
    ApiError, Auth, Fields, blocking, iso_time, json_object, json_response, method_not_allowed,
    paginate,
};
use crate::domain::id::Id;
use crate::domain::silence::{HeldAlert, MaintenanceWindow, Scope, Silence, WindowInput};
use crate::time::Zone;

fn parse_pk(pk: &str) -> Result<Id, ApiError> {
    Id::parse(pk).ok_or_else(ApiError::not_found)
}

fn window_json(w: &MaintenanceWindow, now_ns: i64) -> Value {
    json!({
        "id": w.id.to_string(),
        "organization": w.organization.to_string(),
        "scope": w.scope.kind(),
        "object_id": w.scope.object().map(|o| o.to_string()),
        "start": iso_time(w.start_ns),
        "end": iso_time(w.end_ns),
        "reason": w.reason,
        "is_open": w.is_open(now_ns),
        "created_by": w.created_by,
        "created": iso_time(w.created_ns),
        "modified": iso_time(w.modified_ns),
    })
}

fn time_field(f: &Fields<'_>, name: &str) -> Result<Option<i64>, ApiError> {
    match f.string(name)? {
        None => Ok(None),
        Some(s) => Zone::utc().parse_time(&s).map(Some).map_err(|_| {
            ApiError::field(
                name,
                "Datetime has wrong format. Use one of these formats instead: \
                 YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].",
            )
        }),
    }
}

/// Reads a window from a request body; `full` (POST, PUT) requires scope, start and end.
fn window_input(body: &[u8], full: bool) -> Result<WindowInput, ApiError> {
    let m = json_object(body)?;
    let f = Fields(&m);
    let object = f.id("object_id")?;
    let scope = match f.string("scope")?.as_deref() {
        None => None,
        Some("organization") => Some(Scope::Organization),
        Some(kind @ ("location" | "device")) => {
            let o = object.ok_or_else(|| {
                ApiError::field("object_id", "This field is required for this scope.")
            })?;
            Some(if kind == "location" {
                Scope::Location(o)
            } else {
                Scope::Device(o)
            })
        }
        Some(other) => {
            return Err(ApiError::field(
                "scope",
                &format!("\"{other}\" is not a valid choice."),
            ));
        }
    };
    let input = WindowInput {
        organization: f.id("organization")?,
        scope,
        start_ns: time_field(&f, "start")?,
        end_ns: time_field(&f, "end")?,
        reason: f.string("reason")?,
    };
    if full {
        for (name, missing) in [
            ("scope", input.scope.is_none()),
            ("start", input.start_ns.is_none()),
            ("end", input.end_ns.is_none()),
        ] {
            if missing {
                return Err(ApiError::field(name, "This field is required."));
            }
        }
    }
    Ok(input)
}

/// `GET|POST /api/v1/monitoring/maintenance-window/`: the windows one may see (by start,
/// paginated; `?is_open=true` for the open ones), or a new one.
pub(crate) async fn windows(
    State(st): State<ApiState>,
    Auth(who): Auth,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let domain = st.domain.clone();
    let now = domain.now();
    if method == Method::POST {
        let input = window_input(&body, true)?;
        let w = blocking(move || domain.save_maintenance_window(&who, None, input)).await?;
        return Ok(json_response(StatusCode::CREATED, &window_json(&w, now)));
    }
    let open = match q.get("is_open").map(String::as_str) {
        None | Some("") => None,
        Some("true" | "True" | "1") => Some(true),
        Some("false" | "False" | "0") => Some(false),
        Some(_) => return Err(ApiError::field("is_open", "Enter a valid boolean.")),
    };
    let list = blocking(move || domain.maintenance_windows(&who)).await?;
    let items = list
        .iter()
        .filter(|w| open.is_none_or(|o| w.is_open(now) == o))
        .map(|w| window_json(w, now))
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &paginate(items, &q, &headers, uri.path())?,
    ))
}

/// `GET|PUT|PATCH|DELETE /api/v1/monitoring/maintenance-window/{pk}/`.
pub(crate) async fn window(
    State(st): State<ApiState>,
    Auth(who): Auth,
    method: Method,
    Path(pk): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = parse_pk(&pk)?;
    let domain = st.domain.clone();
    let now = domain.now();
    match method {
        Method::GET | Method::HEAD => {
            let w = blocking(move || domain.maintenance_window(&who, id)).await?;
            Ok(json_response(StatusCode::OK, &window_json(&w, now)))
        }
        Method::PUT | Method::PATCH => {
            // Someone who cannot see the window learns nothing, not even what is invalid.
            let (d2, w2) = (domain.clone(), who.clone());
            blocking(move || d2.maintenance_window(&w2, id)).await?;
            let input = window_input(&body, method == Method::PUT)?;
            let w = blocking(move || domain.save_maintenance_window(&who, Some(id), input)).await?;
            Ok(json_response(StatusCode::OK, &window_json(&w, now)))
        }
        Method::DELETE => {
            blocking(move || domain.delete_maintenance_window(&who, id)).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        m => Err(method_not_allowed(&m)),
    }
}

/// `GET|PUT|DELETE /api/v1/monitoring/device/{pk}/parent/`: `{"parent": id|null,
/// "children": [...]}`; `PUT {"parent": id|null}` sets it, `DELETE` removes it.
pub(crate) async fn parent(
    State(st): State<ApiState>,
    Auth(who): Auth,
    method: Method,
    Path(pk): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    if ![
        Method::GET,
        Method::HEAD,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ]
    .contains(&method)
    {
        return Err(method_not_allowed(&method));
    }
    let device = parse_pk(&pk)?;
    let domain = st.domain.clone();
    let (d2, w2) = (domain.clone(), who.clone());
    // Visibility first: another organization's device is a 404 whatever the body says.
    blocking(move || d2.device(&w2, device)).await?;
    match method {
        Method::GET | Method::HEAD => {}
        Method::PUT | Method::PATCH => {
            let m = json_object(&body)?;
            let f = Fields(&m);
            if !m.contains_key("parent") {
                return Err(ApiError::field("parent", "This field is required."));
            }
            let p = f.id("parent")?;
            let (d2, w2) = (domain.clone(), who.clone());
            blocking(move || d2.set_device_parent(&w2, device, p)).await?;
        }
        Method::DELETE => {
            let (d2, w2) = (domain.clone(), who.clone());
            blocking(move || d2.set_device_parent(&w2, device, None)).await?;
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        m => return Err(method_not_allowed(&m)),
    }
    let (parent, children) = blocking(move || domain.device_dependencies(&who, device)).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "parent": parent.map(|p| p.to_string()),
            "children": children.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }),
    ))
}

fn silence_json(s: &Silence) -> Value {
    match s {
        Silence::Maintenance { window, until_ns } => json!({
            "reason": "maintenance",
            "maintenance_window": window.to_string(),
            "until": iso_time(*until_ns),
        }),
        Silence::ParentDown { parent } => json!({
            "reason": "parent_down",
            "parent": parent.to_string(),
        }),
    }
}

fn held_json(h: &HeldAlert) -> Value {
    json!({
        "metric": h.metric.to_string(),
        "since": iso_time(h.at_ns),
        "silence": silence_json(&h.silence),
    })
}

/// `GET /api/v1/monitoring/device/{pk}/health/`: status, flapping, recent status changes,
/// the current silence and the alerts it holds.
pub(crate) async fn health(
    State(st): State<ApiState>,
    Auth(who): Auth,
    Path(pk): Path<String>,
) -> Result<Response, ApiError> {
    let device = parse_pk(&pk)?;
    let domain = st.domain.clone();
    let h = blocking(move || domain.device_health(&who, device)).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "status": h.status.as_str(),
            "flapping": h.flapping,
            "status_changes": h.changes.iter().rev().map(|c| json!({
                "time": iso_time(c.at_ns),
                "from": c.from.as_str(),
                "to": c.to.as_str(),
            })).collect::<Vec<_>>(),
            "silenced": h.silence.as_ref().map(silence_json),
            "parent": h.parent.map(|p| p.to_string()),
            "held_alerts": h.held.iter().map(held_json).collect::<Vec<_>>(),
        }),
    ))
}
