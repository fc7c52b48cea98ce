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

use super::ApiState;
use super::rest::json_response;
use crate::domain::AgentDevice;
use crate::domain::id::Id;
use crate::domain::ingest::effective_time;
use crate::domain::netjson::{self, MAX_BODY_BYTES};

/// Bytes of an oversized body read and discarded before answering, so the agent (curl) reads
/// our 400 instead of a reset connection; beyond this the connection is closed.
const DRAIN_LIMIT: usize = 16 << 20;

fn text(status: StatusCode, body: &Value) -> Response {
    json_response(status, body)
}

/// Reads the body up to `MAX_BODY_BYTES`; `Err` carries the 400 for a bigger one.
async fn read_body(body: Body) -> Result<Bytes, Response> {
    let mut body = body;
    let mut buf: Vec<u8> = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Err(text(
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
        return Err(text(
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
    body: Body,
) -> Response {
    let not_found = || text(StatusCode::NOT_FOUND, &json!({"detail": "Not found."}));
    let Some(id) = Id::parse(&pk) else {
        return not_found();
    };
    let domain = st.domain.clone();
    let key = q.get("key").cloned();
    let looked = tokio::task::spawn_blocking(move || domain.agent_device(id, key.as_deref())).await;
    let device = match looked {
        Ok(Ok(AgentDevice::Active(d))) => d,
        Ok(Ok(AgentDevice::Unknown | AgentDevice::Deactivated)) => return not_found(),
        Ok(Ok(AgentDevice::BadKey)) => {
            return text(
                StatusCode::FORBIDDEN,
                &json!({"detail": "You do not have permission to perform this action."}),
            );
        }
        Ok(Err(e)) => return server_error(&e),
        Err(e) => return server_error(&e),
    };
    let body = match read_body(body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let doc = match netjson::parse_document(&body) {
        Ok(d) => d,
        Err(e) => return text(StatusCode::BAD_REQUEST, &Value::String(e.to_string())),
    };
    let given = match q.get("time") {
        None => None,
        Some(t) => match netjson::parse_time(t) {
            Ok(ns) => Some(ns),
            Err(_) => {
                return text(
                    StatusCode::BAD_REQUEST,
                    &json!({"detail": "Incorrect time format"}),
                );
            }
        },
    };
    let domain = st.domain.clone();
    let stored = tokio::task::spawn_blocking(move || {
        let t = effective_time(given, domain.now());
        domain.ingest(&device, doc, t)
    })
    .await;
    match stored {
        Ok(Ok(_)) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "null",
        )
            .into_response(),
        Ok(Err(e)) => server_error(&e),
        Err(e) => server_error(&e),
    }
}

/// A storage failure: 500, which the agent retries (the sample is kept on the router).
fn server_error(e: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %e, "storing a device sample failed");
    text(
        StatusCode::INTERNAL_SERVER_ERROR,
        &json!({"detail": "A server error occurred."}),
    )
}
