//! The OpenAPI 3.0 description of every HTTP endpoint, served at `GET /api/v1/docs/` and
//! `GET /api/v1/docs/openapi.json`.
//!
//! Owns: the document, hand-written in `openapi.json` next to this file. It is data, not
//! derived from the handlers, so the tests below hold it to the router: every path in
//! [`super::paths::ALL`] is documented, nothing else is, and every documented method is
//! really routed. Must not: describe behaviour the handlers do not have. When a handler's
//! status codes or bodies change, the document changes in the same commit.

use std::sync::LazyLock;

use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

/// The document as written, with `info.version` left as a placeholder.
const SOURCE: &str = include_str!("openapi.json");

/// Stands in for the crate version in `openapi.json`, so the file needs no edit per release.
const VERSION_PLACEHOLDER: &str = "__WISPMON_VERSION__";

/// The served document: built once, on the first request.
static DOCUMENT: LazyLock<String> =
    LazyLock::new(|| SOURCE.replace(VERSION_PLACEHOLDER, env!("CARGO_PKG_VERSION")));

/// `GET /api/v1/docs/` and `GET /api/v1/docs/openapi.json`: the OpenAPI document.
pub(crate) async fn document() -> impl IntoResponse {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        DOCUMENT.as_str(),
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::{Method, Request};
    use serde_json::Value;
    use tower::ServiceExt as _;

    use super::*;
    use crate::api::{ApiState, paths, router};

    /// HTTP methods an OpenAPI path item may hold; its other keys are metadata.
    const METHODS: &[&str] = &[
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];

    fn doc() -> Value {
        serde_json::from_str(&DOCUMENT).expect("openapi.json is JSON")
    }

    fn documented_paths() -> BTreeSet<String> {
        doc()["paths"]
            .as_object()
            .expect("paths is an object")
            .keys()
            .cloned()
            .collect()
    }

    /// `(path, method)` for every operation in the document.
    fn operations(doc: &Value) -> Vec<(String, String, Value)> {
        let mut out = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths is an object") {
            for (key, op) in item.as_object().expect("a path item is an object") {
                if METHODS.contains(&key.as_str()) {
                    out.push((path.clone(), key.clone(), op.clone()));
                }
            }
        }
        out
    }

    /// The body of `pub mod paths { … }` in `mod.rs`, and the rest of the file.
    fn mod_rs() -> (&'static str, &'static str) {
        let src = include_str!("mod.rs");
        let start = src
            .find("pub mod paths {")
            .expect("mod.rs declares `pub mod paths`");
        let len = src[start..]
            .find("\n}\n")
            .expect("`pub mod paths` is closed");
        // The routes are the code after `paths`, up to mod.rs's own tests (which route their own).
        let rest = &src[start + len..];
        let rest = rest
            .split("\n#[cfg(test)]\nmod tests")
            .next()
            .unwrap_or(rest);
        (&src[start..start + len], rest)
    }

    /// `NAME → value` of every `pub const NAME: &str = "value";` in the `paths` module.
    fn path_constants() -> Vec<(String, String)> {
        let (paths_mod, _) = mod_rs();
        // Statement by statement, not line by line: rustfmt breaks long constants after `=`.
        paths_mod
            .split(';')
            .filter_map(|stmt| {
                let rest = &stmt[stmt.find("pub const ")? + "pub const ".len()..];
                let (name, value) = rest.split_once(": &str =")?;
                let value = value.trim().strip_prefix('"')?.strip_suffix('"')?;
                Some((name.trim().to_owned(), value.to_owned()))
            })
            .collect()
    }

    #[test]
    fn document_is_openapi_3_0_3_with_the_crate_version() {
        let d = doc();
        assert_eq!(d["openapi"], "3.0.3");
        assert_eq!(d["info"]["title"], "wispmon");
        assert_eq!(d["info"]["version"], env!("CARGO_PKG_VERSION"));
        assert!(!DOCUMENT.contains(VERSION_PLACEHOLDER));
        for scheme in [
            "tokenAuth",
            "drfToken",
            "influxBasic",
            "influxToken",
            "influxUser",
            "influxPassword",
        ] {
            assert!(
                d["components"]["securitySchemes"][scheme].is_object(),
                "security scheme {scheme} is missing"
            );
        }
    }

    #[test]
    fn every_path_constant_is_in_all() {
        let consts = path_constants();
        assert!(
            consts.len() >= 15,
            "the constant scan found too few: {consts:?}"
        );
        let all: BTreeSet<&str> = paths::ALL.iter().copied().collect();
        assert_eq!(all.len(), paths::ALL.len(), "ALL has duplicates");
        let declared: BTreeSet<&str> = consts.iter().map(|(_, v)| v.as_str()).collect();
        assert_eq!(declared, all, "paths::ALL and the path constants differ");
    }

    #[test]
    fn every_path_in_all_is_routed_and_every_route_is_in_all() {
        let consts = path_constants();
        let (_, rest) = mod_rs();
        // Each `.route(` call names its path on the same line or the next (rustfmt's layout).
        let mut routed = BTreeSet::new();
        for chunk in rest.split(".route(").skip(1) {
            let arg = chunk.trim_start();
            let name = arg
                .strip_prefix("paths::")
                .expect("every route's path is a `paths::` constant");
            let name: String = name
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            let value = consts
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| panic!("route uses unknown constant paths::{name}"));
            assert!(routed.insert(value), "paths::{name} is routed twice");
        }
        let all: BTreeSet<String> = paths::ALL.iter().map(|p| (*p).to_owned()).collect();
        assert_eq!(routed, all, "the router and paths::ALL differ");
    }

    #[test]
    fn every_route_is_documented_and_nothing_else() {
        // axum's `{pk}` captures are written exactly as OpenAPI's path templates.
        let all: BTreeSet<String> = paths::ALL.iter().map(|p| (*p).to_owned()).collect();
        assert_eq!(
            documented_paths(),
            all,
            "openapi.json's paths and paths::ALL differ"
        );
    }

    #[test]
    fn every_path_template_parameter_is_declared() {
        let d = doc();
        for (path, item) in d["paths"].as_object().expect("paths is an object") {
            let declared: Vec<&Value> = item["parameters"]
                .as_array()
                .map(|a| a.iter().collect())
                .unwrap_or_default();
            for seg in path.split('/') {
                let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
                    continue;
                };
                let found = declared.iter().any(|p| {
                    let p = resolve(&d, p);
                    p["in"] == "path" && p["name"] == name && p["required"] == true
                });
                assert!(found, "{path}: path parameter {name} is not declared");
            }
        }
    }

    #[test]
    fn every_operation_has_responses_with_descriptions() {
        let d = doc();
        let ops = operations(&d);
        assert!(!ops.is_empty());
        for (path, method, op) in &ops {
            let responses = op["responses"]
                .as_object()
                .unwrap_or_else(|| panic!("{method} {path} has no responses object"));
            assert!(!responses.is_empty(), "{method} {path} has no response");
            for (code, r) in responses {
                assert!(
                    code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit()),
                    "{method} {path}: status {code} is not a code"
                );
                assert!(
                    resolve(&d, r)["description"].is_string(),
                    "{method} {path} {code} has no description"
                );
            }
            assert!(
                op["summary"].is_string() && op["description"].is_string(),
                "{method} {path} needs a summary and a description"
            );
        }
    }

    #[test]
    fn operation_ids_are_unique() {
        let d = doc();
        let mut seen = BTreeSet::new();
        for (path, method, op) in operations(&d) {
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            assert!(seen.insert(id.to_owned()), "operationId {id} is repeated");
        }
    }

    /// Follows one `$ref`, if `v` is one; refs are checked to be local and to resolve.
    fn resolve<'a>(d: &'a Value, v: &'a Value) -> &'a Value {
        match v["$ref"].as_str() {
            Some(r) => d
                .pointer(r.strip_prefix('#').expect("refs are local"))
                .unwrap_or_else(|| panic!("$ref {r} does not resolve")),
            None => v,
        }
    }

    #[test]
    fn every_ref_resolves_inside_the_document() {
        fn walk(d: &Value, v: &Value, count: &mut usize) {
            match v {
                Value::Object(m) => {
                    if let Some(r) = m.get("$ref") {
                        let r = r.as_str().expect("$ref is a string");
                        let pointer = r
                            .strip_prefix('#')
                            .unwrap_or_else(|| panic!("$ref {r} is not local"));
                        assert!(d.pointer(pointer).is_some(), "$ref {r} does not resolve");
                        *count += 1;
                    }
                    m.values().for_each(|x| walk(d, x, count));
                }
                Value::Array(a) => a.iter().for_each(|x| walk(d, x, count)),
                _ => {}
            }
        }
        let d = doc();
        let mut count = 0;
        walk(&d, &d, &mut count);
        assert!(count > 0, "the walk found no $ref at all");
    }

    /// A router over in-memory storage, and a superuser's token.
    fn test_router() -> (axum::Router, String, crate::storage::Storage) {
        let clock: crate::time::SharedClock = Arc::new(crate::time::SystemClock);
        let storage = crate::storage::Storage::in_memory(clock.clone());
        let domain = crate::domain::Domain::new(
            &storage,
            crate::domain::DomainSettings::defaults("wispmon"),
            clock.clone(),
        );
        let password = "openapi test password";
        domain.bootstrap_admin(Some(password)).unwrap();
        let token = domain.issue_token("admin", password).unwrap().unwrap();
        let ui = crate::api::Ui::new(&domain, crate::config::Config::default().ui, "wispmon", "")
            .unwrap();
        let state = ApiState {
            ui,
            domain,
            engine: storage.engine().clone(),
            clock,
            influx: crate::config::Config::default().influx,
            trusted_proxies: Vec::new().into(),
            relay: None,
        };
        (router(state), token, storage)
    }

    /// The status and body of one request with the superuser's token.
    async fn answer(
        app: &axum::Router,
        method: &Method,
        path: &str,
        token: &str,
    ) -> (u16, Vec<u8>) {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        let resp = app.clone().oneshot(req).await.unwrap();
        let status = resp.status().as_u16();
        // A live-updates stream never ends: its status and type are the answer.
        if resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            == Some("text/event-stream")
        {
            return (status, b"text/event-stream".to_vec());
        }
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, body.to_vec())
    }

    #[tokio::test]
    async fn documented_methods_are_routed_and_others_are_405() {
        let (app, token, _storage) = test_router();
        let d = doc();
        let fallback: &[u8] = b"404 page not found\n";
        for (path, item) in d["paths"].as_object().expect("paths is an object") {
            // A well-formed id of no object: handlers answer 404 JSON, not the fallback.
            let uri = path
                .replace("{pk}", "00000000-0000-4000-8000-000000000001")
                .replace("{*path}", "js/app.js");
            // HEAD is answered wherever GET is (axum), so only documented HEADs are checked.
            for m in ["get", "post", "put", "patch", "delete", "head"] {
                let method = Method::from_bytes(m.to_uppercase().as_bytes()).unwrap();
                let (status, body) = answer(&app, &method, &uri, &token).await;
                if item.get(m).is_some() {
                    assert!(
                        status != 405 && body != fallback,
                        "{m} {path} is documented but not routed ({status})"
                    );
                } else if m != "head" {
                    assert_eq!(status, 405, "{m} {path} is routed but not documented");
                }
            }
        }
    }

    #[tokio::test]
    async fn both_docs_paths_serve_the_document_as_json() {
        let (app, token, _storage) = test_router();
        for path in [paths::DOCS, paths::DOCS_JSON] {
            let req = Request::builder().uri(path).body(Body::empty()).unwrap();
            let resp = app.clone().oneshot(req).await.unwrap();
            assert_eq!(resp.status(), 200);
            assert_eq!(resp.headers()[header::CONTENT_TYPE], "application/json");
            let (_, body) = answer(&app, &Method::GET, path, &token).await;
            let served: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(served, doc());
        }
    }
}
