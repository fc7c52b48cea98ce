//! The operator REST API for tokens, users, organizations and devices, on OpenWISP's paths and
//! with its field names (`/api/v1/users/token/`, `/api/v1/users/organization/`,
//! `/api/v1/controller/device/`), so scripts written for OpenWISP keep working.
//!
//! Owns: request parsing and JSON shapes. Permissions and validation live in `domain`.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::ApiState;
use super::rest::{
    ApiError, Auth, Fields, blocking, iso_time, json_object, json_response, method_not_allowed,
    paginate, paginate_with,
};
use crate::domain::DomainError;
use crate::domain::access::{Principal, Role};
use crate::domain::controller::{self, ConfigStatus, archive::EntryKind};
use crate::domain::device::{Device, DeviceInput};
use crate::domain::id::Id;
use crate::domain::org::{Organization, OrganizationInput};

fn parse_pk(pk: &str) -> Result<Id, ApiError> {
    Id::parse(pk).ok_or_else(ApiError::not_found)
}

/// `POST /api/v1/users/token/`: `{"username", "password"}` → `{"token"}`.
pub(crate) async fn obtain_token(
    State(st): State<ApiState>,
    peer: super::throttle::Peer,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    // Password guessing here counts with the UI's login and the InfluxDB API's.
    let addr = super::throttle::client_addr(peer, &headers, &st.trusted_proxies);
    if let Some(wait) = st.ui.throttle.wait(addr) {
        return Ok(super::ui::too_many_failures(wait));
    }
    let m = json_object(&body)?;
    let f = Fields(&m);
    let mut errors = serde_json::Map::new();
    let username = f.string("username")?.unwrap_or_default();
    let password = f.string("password")?.unwrap_or_default();
    for (k, v) in [("username", &username), ("password", &password)] {
        if v.is_empty() {
            errors.insert(k.into(), json!(["This field is required."]));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError(StatusCode::BAD_REQUEST, Value::Object(errors)));
    }
    let domain = st.domain.clone();
    match blocking(move || domain.issue_token(&username, &password)).await? {
        Some(token) => {
            st.ui.throttle.succeeded(addr);
            Ok(json_response(StatusCode::OK, &json!({ "token": token })))
        }
        None => {
            st.ui.throttle.failed(addr);
            Err(ApiError::field(
                "non_field_errors",
                "Unable to log in with provided credentials.",
            ))
        }
    }
}

/// `POST /api/v1/users/user/`: creates a user, optionally with `organization_users:
/// [{"organization": pk, "is_admin": bool}]`. Superusers create anyone; an organization's
/// administrators create members of the organizations they administer.
pub(crate) async fn create_user(
    State(st): State<ApiState>,
    Auth(who): Auth,
    body: Bytes,
) -> Result<Response, ApiError> {
    let m = json_object(&body)?;
    let f = Fields(&m);
    let username = f.string("username")?.unwrap_or_default();
    let password = f.string("password")?.unwrap_or_default();
    let is_superuser = f.boolean("is_superuser")?.unwrap_or(false);
    let memberships = organization_users(&m)?.unwrap_or_default();
    let domain = st.domain.clone();
    let u = blocking(move || {
        domain.create_user(&who, &username, &password, is_superuser, &memberships)?;
        domain.user(&who, &username)
    })
    .await?;
    Ok(json_response(StatusCode::CREATED, &user_json(&u.0, &u.1)))
}

/// `organization_users: [{"organization": pk, "is_admin": bool}]` of a user body; `None` when
/// absent.
fn organization_users(
    m: &serde_json::Map<String, Value>,
) -> Result<Option<Vec<(Id, Role)>>, ApiError> {
    let ous = match m.get("organization_users") {
        None => return Ok(None),
        Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(o @ Value::Object(_)) => vec![o.clone()],
        Some(_) => {
            return Err(ApiError::field(
                "organization_users",
                "Expected a list of items.",
            ));
        }
    };
    let mut memberships = Vec::new();
    for ou in &ous {
        let Value::Object(ou) = ou else {
            return Err(ApiError::field(
                "organization_users",
                "Expected a list of items.",
            ));
        };
        let f = Fields(ou);
        let org = f
            .id("organization")?
            .ok_or_else(|| ApiError::field("organization", "This field is required."))?;
        let role = if f.boolean("is_admin")?.unwrap_or(false) {
            Role::Admin
        } else {
            Role::Viewer
        };
        memberships.push((org, role));
    }
    Ok(Some(memberships))
}

fn user_json(u: &crate::domain::user::User, m: &[(Id, Role)]) -> Value {
    json!({
        "username": u.username,
        "is_superuser": u.is_superuser,
        "is_active": u.is_active,
        "date_joined": iso_time(u.created_ns),
        "organization_users": m
            .iter()
            .map(|(o, r)| json!({"organization": o.to_string(), "is_admin": *r == Role::Admin}))
            .collect::<Vec<_>>(),
    })
}

/// `GET /api/v1/users/user/`: the users one may see.
pub(crate) async fn list_users(
    State(st): State<ApiState>,
    Auth(who): Auth,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let domain = st.domain.clone();
    let list = blocking(move || domain.users(&who)).await?;
    let items = list.iter().map(|(u, m)| user_json(u, m)).collect();
    Ok(json_response(
        StatusCode::OK,
        &paginate(items, &q, &headers, uri.path())?,
    ))
}

/// `GET|PUT|PATCH|DELETE /api/v1/users/user/{username}/`: `password`, `is_active`,
/// `is_superuser` (superusers; anyone may change their own password) and `organization_users`
/// (the roles in the organizations the caller administers; see `set_user_memberships`).
pub(crate) async fn user(
    State(st): State<ApiState>,
    Auth(who): Auth,
    method: Method,
    Path(username): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let domain = st.domain.clone();
    match method {
        Method::GET | Method::HEAD => {
            let (u, m) = blocking(move || domain.user(&who, &username)).await?;
            Ok(json_response(StatusCode::OK, &user_json(&u, &m)))
        }
        Method::PUT | Method::PATCH => {
            let obj = json_object(&body)?;
            let f = Fields(&obj);
            let password = f.string("password")?;
            let is_active = f.boolean("is_active")?;
            let is_superuser = f.boolean("is_superuser")?;
            let roles = organization_users(&obj)?;
            let (u, m) = blocking(move || {
                if password.is_some() || is_active.is_some() || is_superuser.is_some() {
                    domain.update_user(
                        &who,
                        &username,
                        password.as_deref(),
                        is_active,
                        is_superuser,
                    )?;
                }
                if let Some(r) = &roles {
                    domain.set_user_memberships(&who, &username, r)?;
                }
                // An administrator who took the user out of all their organizations no longer
                // sees them: answer with what the user was left with, as far as visible.
                match domain.user(&who, &username) {
                    Err(DomainError::NotFound) if roles.is_some() => {
                        let u = domain
                            .user_record(&username)?
                            .ok_or(DomainError::NotFound)?;
                        Ok((u, Vec::new()))
                    }
                    other => other,
                }
            })
            .await?;
            Ok(json_response(StatusCode::OK, &user_json(&u, &m)))
        }
        Method::DELETE => {
            blocking(move || domain.delete_user(&who, &username)).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        _ => Err(method_not_allowed(&method)),
    }
}

/// An organization as `who` may see it: the registration secret only for its managers.
fn org_json_for(who: &Principal, o: &Organization) -> Value {
    let mut v = org_json(o);
    if !who.can_manage(o.id) {
        v["shared_secret"] = Value::Null;
    }
    v
}

fn org_json(o: &Organization) -> Value {
    json!({
        "id": o.id.to_string(),
        "name": o.name,
        "is_active": o.is_active,
        "slug": o.slug,
        "description": o.description,
        "email": o.email,
        "url": o.url,
        "shared_secret": o.shared_secret,
        "registration_enabled": o.registration_enabled,
        "created": iso_time(o.created_ns),
        "modified": iso_time(o.modified_ns),
    })
}

fn org_input(body: &[u8], full: bool) -> Result<OrganizationInput, ApiError> {
    let m = json_object(body)?;
    let f = Fields(&m);
    let input = OrganizationInput {
        name: f.string("name")?,
        slug: f.string("slug")?,
        is_active: f.boolean("is_active")?,
        description: f.string("description")?,
        email: f.string("email")?,
        url: f.string("url")?,
        shared_secret: f.string("shared_secret")?,
        registration_enabled: f.boolean("registration_enabled")?,
    };
    if full && input.name.is_none() {
        return Err(ApiError::field("name", "This field is required."));
    }
    Ok(input)
}

/// `GET|POST /api/v1/users/organization/`.
pub(crate) async fn organizations(
    State(st): State<ApiState>,
    Auth(who): Auth,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let domain = st.domain.clone();
    if method == Method::POST {
        let input = org_input(&body, true)?;
        let o = blocking(move || domain.create_organization(&who, input)).await?;
        return Ok(json_response(StatusCode::CREATED, &org_json(&o)));
    }
    let w = who.clone();
    let list = blocking(move || domain.organizations(&who)).await?;
    let items = list.iter().map(|o| org_json_for(&w, o)).collect();
    Ok(json_response(
        StatusCode::OK,
        &paginate(items, &q, &headers, uri.path())?,
    ))
}

/// `GET|PUT|PATCH|DELETE /api/v1/users/organization/{pk}/`.
pub(crate) async fn organization(
    State(st): State<ApiState>,
    Auth(who): Auth,
    method: Method,
    Path(pk): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = parse_pk(&pk)?;
    let domain = st.domain.clone();
    match method {
        Method::GET | Method::HEAD => {
            let w = who.clone();
            let o = blocking(move || domain.organization(&who, id)).await?;
            Ok(json_response(StatusCode::OK, &org_json_for(&w, &o)))
        }
        Method::PUT | Method::PATCH => {
            let parsed = org_input(&body, method == Method::PUT);
            let (d2, w2) = (domain.clone(), who.clone());
            blocking(move || d2.organization(&w2, id)).await?;
            let input = parsed?;
            let o = blocking(move || domain.update_organization(&who, id, input)).await?;
            Ok(json_response(StatusCode::OK, &org_json(&o)))
        }
        Method::DELETE => {
            blocking(move || domain.delete_organization(&who, id)).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        _ => Err(method_not_allowed(&method)),
    }
}

/// `GET|PUT|DELETE /api/v1/users/organization/{pk}/config-archive/`: what the
/// organization's config agents download. PUT takes the tar.gz itself as the body; DELETE
/// goes back to wispmon's built-in inert archive. Both answer like GET.
pub(crate) async fn organization_archive(
    State(st): State<ApiState>,
    Auth(who): Auth,
    method: Method,
    Path(pk): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = parse_pk(&pk)?;
    let domain = st.domain.clone();
    let info = match method {
        Method::PUT => {
            let bytes = body.to_vec();
            blocking(move || domain.set_organization_archive(&who, id, Some(bytes))).await?
        }
        Method::DELETE => blocking(move || domain.set_organization_archive(&who, id, None)).await?,
        _ => blocking(move || domain.organization_archive(&who, id)).await?,
    };
    let entries: Vec<Value> = info
        .entries
        .iter()
        .map(|e| {
            json!({
                "path": e.path,
                "type": match e.kind {
                    EntryKind::File => "file",
                    EntryKind::Directory => "directory",
                },
                "size": e.size,
                "uci": e.is_uci(),
            })
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "organization": id.to_string(),
            "checksum": info.checksum,
            "size": info.size,
            "custom": info.custom,
            "entries": entries,
        }),
    ))
}

/// A device as `who` may see it: its key (which lets one post as the device) only for its
/// organization's managers.
pub(crate) fn device_json_for(who: &Principal, d: &Device) -> Value {
    let mut v = device_json(d);
    if !who.can_manage(d.organization) {
        v["key"] = Value::Null;
    }
    v
}

/// A device's `config` object (upstream's field names): the status its agent reported and
/// the checksum of the archive it should hold.
fn config_json(status: &ConfigStatus, checksum: &str) -> Value {
    json!({
        "backend": controller::BACKEND,
        "status": status.state.as_str(),
        "error_reason": status.error_reason,
        "status_changed": iso_time(status.modified_ns),
        "checksum": checksum,
    })
}

pub(crate) fn device_json(d: &Device) -> Value {
    json!({
        "id": d.id.to_string(),
        "name": d.name,
        "organization": d.organization.to_string(),
        "group": d.group,
        "mac_address": d.mac_address,
        "key": d.key,
        "last_ip": d.last_ip,
        "last_seen": d.last_seen_ns.map(iso_time),
        "management_ip": d.management_ip,
        "model": d.model,
        "os": d.os,
        "system": d.system,
        "notes": d.notes,
        "config": Value::Null,
        "is_deactivated": d.is_deactivated,
        "monitoring": { "status": d.status.as_str() },
        "created": iso_time(d.created_ns),
        "modified": iso_time(d.modified_ns),
    })
}

fn device_input(body: &[u8], full: bool) -> Result<DeviceInput, ApiError> {
    let m = json_object(body)?;
    let f = Fields(&m);
    let input = DeviceInput {
        organization: f.id("organization")?,
        name: f.string("name")?,
        key: f.string("key")?.filter(|k| !k.is_empty()),
        mac_address: f.string("mac_address")?,
        model: f.string("model")?,
        os: f.string("os")?,
        system: f.string("system")?,
        notes: f.string("notes")?,
        group: f.nullable_string("group")?,
        management_ip: f.nullable_string("management_ip")?,
        is_deactivated: f.boolean("is_deactivated")?,
    };
    if full {
        for (name, present) in [
            ("name", input.name.is_some()),
            ("mac_address", input.mac_address.is_some()),
            ("organization", input.organization.is_some()),
        ] {
            if !present {
                return Err(ApiError::field(name, "This field is required."));
            }
        }
    }
    Ok(input)
}

/// `GET|POST /api/v1/controller/device/`.
pub(crate) async fn devices(
    State(st): State<ApiState>,
    Auth(who): Auth,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let domain = st.domain.clone();
    if method == Method::POST {
        let input = device_input(&body, true)?;
        let d = blocking(move || domain.create_device(&who, input)).await?;
        return Ok(json_response(StatusCode::CREATED, &device_json(&d)));
    }
    let org_filter = match q.get("organization") {
        Some(s) => Some(
            Id::parse(s)
                .ok_or_else(|| ApiError::field("organization", "Select a valid choice."))?,
        ),
        None => None,
    };
    let w = who.clone();
    let list = blocking(move || domain.devices(&who)).await?;
    let items: Vec<Device> = list
        .into_iter()
        .filter(|d| org_filter.is_none_or(|o| d.organization == o))
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &paginate_with(items, |d| device_json_for(&w, &d), &q, &headers, uri.path())?,
    ))
}

/// `GET|PUT|PATCH|DELETE /api/v1/controller/device/{pk}/`.
pub(crate) async fn device(
    State(st): State<ApiState>,
    Auth(who): Auth,
    method: Method,
    Path(pk): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = parse_pk(&pk)?;
    let domain = st.domain.clone();
    match method {
        Method::GET | Method::HEAD => {
            let w = who.clone();
            let (d, config) = blocking(move || {
                let d = domain.device(&who, id)?;
                let config = domain.device_config(&d)?;
                Ok((d, config))
            })
            .await?;
            let mut v = device_json_for(&w, &d);
            if let Some((status, checksum)) = config {
                v["config"] = config_json(&status, &checksum);
            }
            Ok(json_response(StatusCode::OK, &v))
        }
        Method::PUT | Method::PATCH => {
            // Visibility first: another organization's device is a 404 whatever the body.
            let parsed = device_input(&body, method == Method::PUT);
            let (d2, w2) = (domain.clone(), who.clone());
            blocking(move || d2.device(&w2, id)).await?;
            let input = parsed?;
            let d = blocking(move || domain.update_device(&who, id, input)).await?;
            Ok(json_response(StatusCode::OK, &device_json(&d)))
        }
        Method::DELETE => {
            blocking(move || domain.delete_device(&who, id)).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        _ => Err(method_not_allowed(&method)),
    }
}
