//! The notifications API on openwisp-notifications' paths: one's own notifications (list,
//! unread count, mark read, delete) and one's preferences (e-mail address, web and e-mail per
//! type and organization).
//!
//! Owns: request parsing and JSON shapes. Who gets which notification lives in `domain`.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::ApiState;
use super::rest::{
    ApiError, Auth, blocking, iso_time, json_object, json_response, method_not_allowed, paginate,
};
use crate::domain::id::Id;
use crate::domain::notification::{Notification, Preferences, Rule};

fn notification_json(n: &Notification) -> Value {
    json!({
        "id": n.id.to_string(),
        "type": n.kind,
        "level": n.level,
        "verb": n.verb,
        "unread": n.unread,
        "timestamp": iso_time(n.created_ns),
        "email_subject": n.subject,
        "message": n.message,
        "target_object_id": n.device.map(|d| d.to_string()),
        "organization": n.organization.map(|o| o.to_string()),
        "target_url": n.link,
    })
}

fn bool_param(q: &HashMap<String, String>, name: &str) -> Result<Option<bool>, ApiError> {
    match q.get(name).map(String::as_str) {
        None | Some("") => Ok(None),
        Some("true" | "True" | "1") => Ok(Some(true)),
        Some("false" | "False" | "0") => Ok(Some(false)),
        Some(_) => Err(ApiError::field(name, "Enter a valid boolean.")),
    }
}

/// `GET /api/v1/notifications/notification/[?unread=true|false]`: newest first, paginated.
pub(crate) async fn list(
    State(st): State<ApiState>,
    Auth(who): Auth,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let unread = bool_param(&q, "unread")?;
    let domain = st.domain.clone();
    let list = blocking(move || domain.notifications(&who, unread)).await?;
    let items = list.iter().map(notification_json).collect();
    Ok(json_response(
        StatusCode::OK,
        &paginate(items, &q, &headers, uri.path())?,
    ))
}

/// `GET /api/v1/notifications/notification/unread-count/`: `{"count": n}` for the bell.
pub(crate) async fn unread_count(
    State(st): State<ApiState>,
    Auth(who): Auth,
) -> Result<Response, ApiError> {
    let domain = st.domain.clone();
    let n = blocking(move || domain.notifications(&who, Some(true))).await?;
    Ok(json_response(StatusCode::OK, &json!({"count": n.len()})))
}

/// `POST /api/v1/notifications/notification/read/`: marks all (or `{"ids": [...]}`) read.
pub(crate) async fn mark_read(
    State(st): State<ApiState>,
    Auth(who): Auth,
    body: Bytes,
) -> Result<Response, ApiError> {
    let obj = json_object(&body)?;
    let ids = match obj.get("ids") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .and_then(Id::parse)
                    .ok_or_else(|| ApiError::field("ids", "Must be a list of notification ids."))
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => {
            return Err(ApiError::field(
                "ids",
                "Must be a list of notification ids.",
            ));
        }
    };
    let domain = st.domain.clone();
    let n = blocking(move || domain.mark_notifications_read(&who, &ids)).await?;
    Ok(json_response(StatusCode::OK, &json!({"marked_read": n})))
}

/// `GET|PATCH|DELETE /api/v1/notifications/notification/{pk}/`: one's own notification;
/// `PATCH` marks it read, as openwisp-notifications does.
pub(crate) async fn one(
    State(st): State<ApiState>,
    Auth(who): Auth,
    method: Method,
    Path(pk): Path<String>,
) -> Result<Response, ApiError> {
    let id = Id::parse(&pk).ok_or_else(ApiError::not_found)?;
    let domain = st.domain.clone();
    match method {
        Method::GET | Method::HEAD | Method::PATCH => {
            let n = blocking(move || {
                if method == Method::PATCH {
                    domain.mark_notifications_read(&who, &[id])?;
                }
                domain
                    .notifications(&who, None)?
                    .into_iter()
                    .find(|n| n.id == id)
                    .ok_or(crate::domain::DomainError::NotFound)
            })
            .await?;
            Ok(json_response(StatusCode::OK, &notification_json(&n)))
        }
        Method::DELETE => {
            blocking(move || domain.delete_notification(&who, id)).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        _ => Err(method_not_allowed(&method)),
    }
}

fn preferences_json(p: &Preferences) -> Value {
    json!({
        "email": p.email,
        "rules": p.rules.iter().map(|r| json!({
            "organization": r.organization.map(|o| o.to_string()),
            "type": r.kind,
            "web": r.web,
            "email": r.email,
        })).collect::<Vec<_>>(),
    })
}

fn preferences_from(body: &[u8]) -> Result<Preferences, ApiError> {
    let obj = json_object(body)?;
    let email = match obj.get("email") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(ApiError::field("email", "Not a valid string.")),
    };
    let bad = |msg: &str| ApiError::field("rules", msg);
    let rules = match obj.get("rules") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => {
            if a.len() > 1000 {
                return Err(bad("Ensure this field has no more than 1000 elements."));
            }
            a.iter()
                .map(|r| {
                    let r = r
                        .as_object()
                        .ok_or_else(|| bad("Each rule must be an object."))?;
                    let text = |k: &str| -> Result<Option<String>, ApiError> {
                        match r.get(k) {
                            None | Some(Value::Null) => Ok(None),
                            Some(Value::String(s)) => Ok(Some(s.clone())),
                            Some(_) => Err(bad(&format!("\"{k}\" must be a string or null."))),
                        }
                    };
                    let flag = |k: &str| -> Result<bool, ApiError> {
                        match r.get(k) {
                            None => Ok(true),
                            Some(Value::Bool(b)) => Ok(*b),
                            Some(_) => Err(bad(&format!("\"{k}\" must be a boolean."))),
                        }
                    };
                    let organization = match text("organization")? {
                        None => None,
                        Some(s) => Some(Id::parse(&s).ok_or_else(|| {
                            ApiError::field(
                                "organization",
                                &format!("\u{201c}{s}\u{201d} is not a valid UUID."),
                            )
                        })?),
                    };
                    Ok(Rule {
                        organization,
                        kind: text("type")?,
                        web: flag("web")?,
                        email: flag("email")?,
                    })
                })
                .collect::<Result<Vec<_>, ApiError>>()?
        }
        Some(_) => return Err(bad("Expected a list of rules.")),
    };
    Ok(Preferences { email, rules })
}

/// `GET|PUT /api/v1/notifications/user/preferences/`.
pub(crate) async fn preferences(
    State(st): State<ApiState>,
    Auth(who): Auth,
    method: Method,
    body: Bytes,
) -> Result<Response, ApiError> {
    let domain = st.domain.clone();
    match method {
        Method::GET | Method::HEAD => {
            let p = blocking(move || domain.notification_preferences(&who)).await?;
            Ok(json_response(StatusCode::OK, &preferences_json(&p)))
        }
        Method::PUT => {
            let p = preferences_from(&body)?;
            let saved = p.clone();
            blocking(move || domain.save_notification_preferences(&who, &p)).await?;
            Ok(json_response(StatusCode::OK, &preferences_json(&saved)))
        }
        _ => Err(method_not_allowed(&method)),
    }
}
