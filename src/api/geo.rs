//! Locations, floor plans and device places on openwisp-controller's geo paths
//! (`/api/v1/geo/location/`, `/api/v1/geo/floorplan/`, `/api/v1/controller/device/{pk}/location/`),
//! and the monitoring map's read endpoints (`/api/v1/monitoring/geojson/`, a location's device
//! list, indoor coordinates, nearby devices; spec §4.5, §4.7).
//!
//! Owns: their JSON shapes (GeoJSON points are `[lng, lat]`) and parameters. Floor-plan images
//! are uploaded as the raw request body of `PUT …/floorplan/{pk}/image/` and served back from
//! the same path.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::ApiState;
use super::operator::device_json_for;
use super::rest::{
    ApiError, Auth, Fields, blocking, iso_time, json_object, json_response, paginate,
    paginate_sized,
};
use crate::domain::access::Principal;
use crate::domain::device::{Device, HealthStatus};
use crate::domain::geo::{DevicePlace, FloorPlan, Location, LocationInput, LocationKind};
use crate::domain::id::Id;

fn pk(s: &str) -> Result<Id, ApiError> {
    Id::parse(s).ok_or_else(ApiError::not_found)
}

fn floorplan_json(f: &FloorPlan) -> Value {
    json!({
        "id": f.id.to_string(),
        "organization": f.organization.to_string(),
        "location": f.location.to_string(),
        "floor": f.floor,
        "image": f.image_type.as_ref().map(|_| format!("/api/v1/geo/floorplan/{}/image/", f.id)),
        "created": iso_time(f.created_ns),
        "modified": iso_time(f.modified_ns),
    })
}

fn location_json(l: &Location) -> Value {
    json!({
        "id": l.id.to_string(),
        "organization": l.organization.to_string(),
        "name": l.name,
        "type": l.kind.as_str(),
        "is_mobile": l.is_mobile,
        "address": l.address,
        "geometry": l.point.map(|(lat, lng)| json!({"type": "Point", "coordinates": [lng, lat]})),
        "created": iso_time(l.created_ns),
        "modified": iso_time(l.modified_ns),
    })
}

fn geometry(v: &Value) -> Result<Option<(f64, f64)>, ApiError> {
    let bad = || {
        ApiError::field(
            "geometry",
            "Expected a GeoJSON Point: {\"type\": \"Point\", \"coordinates\": [lng, lat]}.",
        )
    };
    match v {
        Value::Null => Ok(None),
        Value::Object(o) => {
            if o.get("type").and_then(Value::as_str) != Some("Point") {
                return Err(bad());
            }
            let c = o
                .get("coordinates")
                .and_then(Value::as_array)
                .ok_or_else(bad)?;
            match c.as_slice() {
                [lng, lat] => Ok(Some((
                    lat.as_f64().ok_or_else(bad)?,
                    lng.as_f64().ok_or_else(bad)?,
                ))),
                _ => Err(bad()),
            }
        }
        _ => Err(bad()),
    }
}

fn location_input(body: &[u8], full: bool) -> Result<LocationInput, ApiError> {
    let m = json_object(body)?;
    let f = Fields(&m);
    let kind =
        match f.string("type")? {
            None => None,
            Some(t) => Some(LocationKind::parse(&t).ok_or_else(|| {
                ApiError::field("type", &format!("\"{t}\" is not a valid choice."))
            })?),
        };
    let input = LocationInput {
        organization: f.id("organization")?,
        name: f.string("name")?,
        kind,
        is_mobile: f.boolean("is_mobile")?,
        address: f.string("address")?,
        point: m.get("geometry").map(geometry).transpose()?,
    };
    if full && input.name.is_none() {
        return Err(ApiError::field("name", "This field is required."));
    }
    Ok(input)
}

/// `GET|POST /api/v1/geo/location/`.
pub(crate) async fn locations(
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
        let input = location_input(&body, true)?;
        let l = blocking(move || domain.create_location(&who, input)).await?;
        return Ok(json_response(StatusCode::CREATED, &location_json(&l)));
    }
    let list = blocking(move || domain.locations(&who)).await?;
    let items = list.iter().map(location_json).collect();
    Ok(json_response(
        StatusCode::OK,
        &paginate(items, &q, &headers, uri.path())?,
    ))
}

/// `GET|PUT|PATCH|DELETE /api/v1/geo/location/{pk}/`.
pub(crate) async fn location(
    State(st): State<ApiState>,
    Auth(who): Auth,
    method: Method,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = pk(&id)?;
    let domain = st.domain.clone();
    match method {
        Method::GET | Method::HEAD => {
            let l = blocking(move || domain.location(&who, id)).await?;
            Ok(json_response(StatusCode::OK, &location_json(&l)))
        }
        Method::PUT | Method::PATCH => {
            let parsed = location_input(&body, method == Method::PUT);
            let (d2, w2) = (domain.clone(), who.clone());
            blocking(move || d2.location(&w2, id)).await?;
            let input = parsed?;
            let l = blocking(move || domain.update_location(&who, id, input)).await?;
            Ok(json_response(StatusCode::OK, &location_json(&l)))
        }
        Method::DELETE => {
            blocking(move || domain.delete_location(&who, id)).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        _ => Err(super::rest::method_not_allowed(&method)),
    }
}

/// `GET|POST /api/v1/geo/floorplan/`.
pub(crate) async fn floorplans(
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
        let m = json_object(&body)?;
        let f = Fields(&m);
        let location = f
            .id("location")?
            .ok_or_else(|| ApiError::field("location", "This field is required."))?;
        let floor = match m.get("floor") {
            Some(Value::Number(n)) => n
                .as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .ok_or_else(|| ApiError::field("floor", "A valid integer is required."))?,
            Some(Value::String(s)) => s
                .parse::<i32>()
                .map_err(|_| ApiError::field("floor", "A valid integer is required."))?,
            _ => return Err(ApiError::field("floor", "This field is required.")),
        };
        let fp = blocking(move || domain.create_floorplan(&who, location, floor)).await?;
        return Ok(json_response(StatusCode::CREATED, &floorplan_json(&fp)));
    }
    let list = blocking(move || domain.floorplans(&who)).await?;
    let items = list.iter().map(floorplan_json).collect();
    Ok(json_response(
        StatusCode::OK,
        &paginate(items, &q, &headers, uri.path())?,
    ))
}

/// `GET|DELETE /api/v1/geo/floorplan/{pk}/`.
pub(crate) async fn floorplan(
    State(st): State<ApiState>,
    Auth(who): Auth,
    method: Method,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = pk(&id)?;
    let domain = st.domain.clone();
    match method {
        Method::GET | Method::HEAD => {
            let f = blocking(move || domain.floorplan(&who, id)).await?;
            Ok(json_response(StatusCode::OK, &floorplan_json(&f)))
        }
        Method::DELETE => {
            blocking(move || domain.delete_floorplan(&who, id)).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        _ => Err(super::rest::method_not_allowed(&method)),
    }
}

/// `GET|PUT /api/v1/geo/floorplan/{pk}/image/`: the image bytes.
pub(crate) async fn floorplan_image(
    State(st): State<ApiState>,
    Auth(who): Auth,
    method: Method,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = pk(&id)?;
    let domain = st.domain.clone();
    if method == Method::PUT {
        let f = blocking(move || domain.set_floorplan_image(&who, id, &body)).await?;
        return Ok(json_response(StatusCode::OK, &floorplan_json(&f)));
    }
    match blocking(move || domain.floorplan_image(&who, id)).await? {
        Some((mime, bytes)) => Ok((
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, mime),
                (header::CACHE_CONTROL, "private, max-age=300".to_owned()),
            ],
            bytes,
        )
            .into_response()),
        None => Err(ApiError::not_found()),
    }
}

fn place_json(p: &DevicePlace) -> Value {
    json!({
        "location": p.location.as_ref().map(location_json),
        "floorplan": p.floorplan.as_ref().map(floorplan_json),
        "indoor": p.indoor,
    })
}

/// `GET|PUT|PATCH|DELETE /api/v1/controller/device/{pk}/location/`: PUT takes `{"location":
/// pk, "floorplan": pk|null, "indoor": "x,y"|null}` (what is not sent is cleared), PATCH
/// changes only what is sent; GET answers the location and floor-plan objects.
pub(crate) async fn device_location(
    State(st): State<ApiState>,
    Auth(who): Auth,
    method: Method,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = pk(&id)?;
    let domain = st.domain.clone();
    let (loc, fp, indoor) = match method {
        Method::GET | Method::HEAD => {
            let p = blocking(move || domain.device_place(&who, id)).await?;
            return Ok(json_response(StatusCode::OK, &place_json(&p)));
        }
        Method::DELETE => (None, None, None),
        Method::PUT | Method::PATCH => {
            let m = json_object(&body)?;
            let f = Fields(&m);
            let mut loc = match m.get("location") {
                Some(Value::Object(o)) => Fields(o).id("id")?,
                _ => f.id("location")?,
            };
            let mut fp = f.id("floorplan")?;
            let mut indoor = f.string("indoor")?;
            if method == Method::PATCH {
                // Fields not sent keep their value (`null` still clears one).
                let (d2, w2) = (domain.clone(), who.clone());
                let cur = blocking(move || d2.device_place(&w2, id)).await?;
                if !m.contains_key("location") {
                    loc = cur.location.map(|l| l.id);
                }
                if !m.contains_key("floorplan") {
                    fp = cur.floorplan.map(|f| f.id);
                }
                if !m.contains_key("indoor") {
                    indoor = cur.indoor;
                }
            }
            if loc.is_none() {
                return Err(ApiError::field("location", "This field is required."));
            }
            (loc, fp, indoor)
        }
        _ => {
            return Err(super::rest::method_not_allowed(&method));
        }
    };
    let deleting = method == Method::DELETE;
    let p = blocking(move || domain.set_device_place(&who, id, loc, fp, indoor)).await?;
    if deleting {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    Ok(json_response(StatusCode::OK, &place_json(&p)))
}

/// `GET /api/v1/monitoring/geojson/`: locations with devices, newest first, with the status
/// mix of their devices (the map colours a location by its mix, not by its worst device).
pub(crate) async fn geojson(
    State(st): State<ApiState>,
    Auth(who): Auth,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let domain = st.domain.clone();
    let org_filter = q.get("organization").map(|s| Id::parse(s));
    let slug = q.get("organization_slug").cloned();
    let kind = q.get("type").cloned();
    let mobile = q
        .get("is_mobile")
        .map(|s| s == "true" || s == "True" || s == "1");
    let (list, orgs) = blocking(move || {
        let orgs = domain.organizations(&who)?;
        Ok((domain.map_locations(&who)?, orgs))
    })
    .await?;
    let slug_org = slug.map(|s| orgs.iter().find(|o| o.slug == s).map(|o| o.id));
    let features: Vec<Value> = list
        .iter()
        .filter(|(l, _)| l.point.is_some())
        .filter(|(l, _)| org_filter.is_none_or(|o| o == Some(l.organization)))
        .filter(|(l, _)| slug_org.is_none_or(|o| o == Some(l.organization)))
        .filter(|(l, _)| kind.as_deref().is_none_or(|k| k == l.kind.as_str()))
        .filter(|(l, _)| mobile.is_none_or(|m| m == l.is_mobile))
        .map(|(l, c)| {
            let (lat, lng) = l.point.unwrap_or_default();
            json!({
                "type": "Feature",
                "id": l.id.to_string(),
                "geometry": {"type": "Point", "coordinates": [lng, lat]},
                "properties": {
                    "name": l.name, "type": l.kind.as_str(), "is_mobile": l.is_mobile,
                    "address": l.address, "organization": l.organization.to_string(),
                    "device_count": c.total, "ok_count": c.ok, "problem_count": c.problem,
                    "critical_count": c.critical, "unknown_count": c.unknown,
                    "deactivated_count": c.deactivated,
                },
            })
        })
        .collect();
    let mut page = paginate_geo(features, &q, &headers, uri.path())?;
    if let Value::Object(o) = &mut page {
        o.insert("type".into(), json!("FeatureCollection"));
    }
    Ok(json_response(StatusCode::OK, &page))
}

/// Pagination with GeoJSON's `features` in place of `results`, up to 1000 per page.
fn paginate_geo(
    items: Vec<Value>,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
    path: &str,
) -> Result<Value, ApiError> {
    let mut page = paginate_sized(items, q, headers, path, 1000, 1000)?;
    if let Value::Object(o) = &mut page
        && let Some(r) = o.remove("results")
    {
        o.insert("features".into(), r);
    }
    Ok(page)
}

fn status_label(s: HealthStatus) -> &'static str {
    s.as_str()
}

fn device_with_status(who: &Principal, d: &Device) -> Value {
    let mut v = device_json_for(who, d);
    v["monitoring"] = json!({"status": d.status.as_str(), "status_label": status_label(d.status)});
    v["admin_edit_url"] = json!(format!("/devices/{}/", d.id));
    v
}

/// `GET /api/v1/monitoring/location/{pk}/device/`: the location's devices by name, filterable
/// by `search` (name or MAC, case-insensitive) and `status` (repeatable, OR-ed).
pub(crate) async fn location_devices(
    State(st): State<ApiState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let id = pk(&id)?;
    let statuses: Vec<HealthStatus> = raw
        .unwrap_or_default()
        .split('&')
        .filter_map(|kv| kv.strip_prefix("status="))
        .filter_map(HealthStatus::parse)
        .collect();
    let search = q.get("search").map(|s| s.to_lowercase());
    let w = who.clone();
    let domain = st.domain.clone();
    let (devices, has_floorplan) = blocking(move || {
        let devices = domain.location_devices(&who, id)?;
        let has = domain.floorplans(&who)?.iter().any(|f| f.location == id);
        Ok((devices, has))
    })
    .await?;
    let items = devices
        .iter()
        .filter(|d| statuses.is_empty() || statuses.contains(&d.status))
        .filter(|d| {
            search.as_deref().is_none_or(|s| {
                d.name.to_lowercase().contains(s) || d.mac_address.to_lowercase().contains(s)
            })
        })
        .map(|d| device_with_status(&w, d))
        .collect();
    let mut page = paginate(items, &q, &headers, uri.path())?;
    page["has_floorplan"] = json!(has_floorplan);
    Ok(json_response(StatusCode::OK, &page))
}

/// `GET /api/v1/monitoring/location/{pk}/indoor-coordinates/`: devices placed on the
/// location's floor plans, one floor at a time (`floor`, default the lowest non-negative).
pub(crate) async fn indoor_coordinates(
    State(st): State<ApiState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let id = pk(&id)?;
    let domain = st.domain.clone();
    let (devices, plans) = blocking(move || {
        let devices = domain.location_devices(&who, id)?;
        let plans: Vec<FloorPlan> = domain
            .floorplans(&who)?
            .into_iter()
            .filter(|f| f.location == id)
            .collect();
        Ok((devices, plans))
    })
    .await?;
    let mut floors: Vec<i32> = plans.iter().map(|f| f.floor).collect();
    floors.sort_unstable();
    let floor = match q.get("floor") {
        Some(f) => Some(
            f.parse::<i32>()
                .map_err(|_| ApiError::field("floor", "A valid integer is required."))?,
        ),
        None => floors
            .iter()
            .copied()
            .find(|f| *f >= 0)
            .or(floors.first().copied()),
    };
    let items = devices
        .iter()
        .filter_map(|d| {
            let fp = plans.iter().find(|f| Some(f.id) == d.floorplan && Some(f.floor) == floor)?;
            let (x, y) = crate::domain::geo::parse_indoor(d.indoor.as_deref()?)?;
            Some(json!({
                "id": d.id.to_string(),
                "admin_edit_url": format!("/devices/{}/", d.id),
                "device_id": d.id.to_string(),
                "floorplan_id": fp.id.to_string(),
                "device_name": d.name,
                "mac_address": d.mac_address,
                "floor_name": format!("floor {}", fp.floor),
                "floor": fp.floor,
                "image": fp.image_type.as_ref().map(|_| format!("/api/v1/geo/floorplan/{}/image/", fp.id)),
                "coordinates": {"lat": y, "lng": x},
                "monitoring": {"status": d.status.as_str(), "status_label": status_label(d.status)},
            }))
        })
        .collect();
    let mut page = paginate_sized(items, &q, &headers, uri.path(), 50, 100)?;
    page["floors"] = json!(floors);
    Ok(json_response(StatusCode::OK, &page))
}

/// `GET /api/v1/monitoring/device/{pk}/nearby-devices/`: other placed devices by distance from
/// this one (metres), with `organization`, `organization_slug`, `monitoring__status`, `model`
/// (`|`-separated) and `distance__lte` filters; by operator token or the device's `key`.
pub(crate) async fn nearby_devices(
    State(st): State<ApiState>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let access = match q.get("key").filter(|k| !k.is_empty()) {
        Some(k) => crate::domain::ChartAccess::DeviceKey(k.clone()),
        None => crate::domain::ChartAccess::Operator(
            super::rest::authenticate(&st, &axum::http::Method::GET, &headers).await?,
        ),
    };
    let id = pk(&id)?;
    let status = q.get("monitoring__status").map(|s| HealthStatus::parse(s));
    let org = q.get("organization").map(|s| Id::parse(s));
    let slug = q.get("organization_slug").cloned();
    let models: Option<Vec<String>> = q
        .get("model")
        .map(|m| m.split('|').map(str::to_owned).collect());
    let max = match q.get("distance__lte") {
        Some(v) => Some(
            v.parse::<f64>()
                .map_err(|_| ApiError::field("distance__lte", "Enter a number."))?,
        ),
        None => None,
    };
    let domain = st.domain.clone();
    let (list, snapshots, slug_org) = blocking(move || {
        let list = domain.nearby(&access, id)?;
        let slug_org = match slug {
            Some(s) => Some(domain.organization_by_slug(&s)?),
            None => None,
        };
        let mut snaps = Vec::with_capacity(list.len());
        for (d, _) in list.iter().take(100) {
            snaps.push((d.id, domain.latest_snapshot(d.id)?));
        }
        Ok((list, snaps, slug_org))
    })
    .await?;
    let snap = |d: Id| {
        snapshots
            .iter()
            .find(|(i, _)| *i == d)
            .and_then(|(_, s)| s.clone())
    };
    let items = list
        .iter()
        .filter(|(d, _)| status.is_none_or(|s| s == Some(d.status)))
        .filter(|(d, _)| org.is_none_or(|o| o == Some(d.organization)))
        .filter(|(d, _)| slug_org.is_none_or(|o| o == Some(d.organization)))
        .filter(|(d, _)| models.as_ref().is_none_or(|m| m.contains(&d.model)))
        .filter(|(_, dist)| max.is_none_or(|m| *dist <= m))
        .map(|(d, dist)| {
            json!({
                "id": d.id.to_string(), "name": d.name, "organization": d.organization.to_string(),
                "group": d.group, "mac_address": d.mac_address, "management_ip": d.management_ip,
                "model": d.model, "os": d.os, "system": d.system, "notes": d.notes,
                "distance": dist.round(),
                "monitoring_status": d.status.as_str(),
                "monitoring_data": snap(d.id),
            })
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &paginate(items, &q, &headers, uri.path())?,
    ))
}
