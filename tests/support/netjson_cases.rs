//! The NetJSON fixture cases of `tests/fixtures/netjson/` (the project's shared device
//! fixtures, copied into the repository so a clean clone tests them) as requests: JSON Patch on the
//! device documents, base64 and generated bodies, and the query string of each case. Shared by
//! the netjson unit tests and the HTTP test of the device endpoint (included with `#[path]`).

// Each includer uses a part: the unit tests the times and patched paths, the HTTP test the
// query strings.
#![allow(dead_code)]

use std::fs;

use serde_json::Value;

pub(crate) const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/netjson/");

pub(crate) fn fixture(name: &str) -> Value {
    let text = fs::read_to_string(format!("{FIXTURES}{name}")).unwrap();
    serde_json::from_str(&text).unwrap()
}

pub(crate) fn fixture_bytes(name: &str) -> Vec<u8> {
    fs::read(format!("{FIXTURES}{name}")).unwrap()
}

// ---- RFC 6902 JSON Patch (the subset the case files use) ------------------------------------

/// Splits an RFC 6901 pointer into unescaped tokens.
pub(crate) fn tokens(pointer: &str) -> Vec<String> {
    assert!(pointer.is_empty() || pointer.starts_with('/'), "{pointer}");
    pointer
        .split('/')
        .skip(1)
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect()
}

/// The container holding the target of `pointer`, and the last token.
pub(crate) fn parent<'v>(doc: &'v mut Value, pointer: &str) -> (&'v mut Value, String) {
    let mut toks = tokens(pointer);
    let last = toks.pop().expect("patch on the root");
    let mut at = doc;
    for t in toks {
        at = match at {
            Value::Object(m) => m.get_mut(&t).unwrap(),
            Value::Array(a) => &mut a[t.parse::<usize>().unwrap()],
            _ => panic!("pointer {pointer} goes through a scalar"),
        };
    }
    (at, last)
}

pub(crate) fn get(doc: &Value, pointer: &str) -> Value {
    doc.pointer(pointer).unwrap().clone()
}

pub(crate) fn add(doc: &mut Value, pointer: &str, value: Value) {
    let (container, last) = parent(doc, pointer);
    match container {
        Value::Object(m) => {
            m.insert(last, value);
        }
        Value::Array(a) if last == "-" => a.push(value),
        Value::Array(a) => a.insert(last.parse().unwrap(), value),
        _ => panic!("add into a scalar at {pointer}"),
    }
}

pub(crate) fn remove(doc: &mut Value, pointer: &str) -> Value {
    let (container, last) = parent(doc, pointer);
    match container {
        Value::Object(m) => m.remove(&last).unwrap(),
        Value::Array(a) => a.remove(last.parse().unwrap()),
        _ => panic!("remove from a scalar at {pointer}"),
    }
}

pub(crate) fn apply_patch(doc: &mut Value, patch: &[Value]) {
    for op in patch {
        let path = op["path"].as_str().unwrap();
        match op["op"].as_str().unwrap() {
            "add" => add(doc, path, op["value"].clone()),
            "remove" => {
                remove(doc, path);
            }
            "replace" => {
                remove(doc, path);
                add(doc, path, op["value"].clone());
            }
            "copy" => {
                let v = get(doc, op["from"].as_str().unwrap());
                add(doc, path, v);
            }
            other => panic!("unsupported patch op {other}"),
        }
    }
}

// ---- case files --------------------------------------------------------------------------------

pub(crate) fn base64_decode(text: &str) -> Vec<u8> {
    fn sextet(c: u8) -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c}"),
        }
    }
    let clean: Vec<u8> = text.bytes().filter(|&c| c != b'=').collect();
    let mut out = Vec::new();
    for chunk in clean.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= sextet(c) << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

/// One request of a case file: its body bytes and its `time` parameter (None = absent).
pub(crate) struct Request {
    pub(crate) id: String,
    pub(crate) body: Vec<u8>,
    pub(crate) time: Option<String>,
    /// The query string parameters other than `key`, in order (`time` among them).
    pub(crate) query: Vec<(String, String)>,
    /// The pointer of the case's (first) patch operation, if it has one.
    pub(crate) patched: Option<String>,
    pub(crate) expect_400: bool,
}

pub(crate) fn requests(file: &str) -> Vec<Request> {
    let doc = fixture(file);
    let default_time = doc["default_query"]["time"].as_str().map(str::to_owned);
    let mut out = Vec::new();
    for case in doc["cases"].as_array().unwrap() {
        let id = case["id"].as_str().unwrap().to_owned();
        let mut patched = None;
        let body = if let Some(b) = case.get("body") {
            serde_json::to_vec(b).unwrap()
        } else if let Some(base) = case.get("base") {
            let mut doc = fixture(base.as_str().unwrap());
            let patch = case["patch"].as_array().unwrap();
            apply_patch(&mut doc, patch);
            patched = patch
                .first()
                .map(|op| op["path"].as_str().unwrap().to_owned());
            serde_json::to_vec(&doc).unwrap()
        } else if let Some(raw) = case.get("raw_body") {
            raw.as_str().unwrap().as_bytes().to_vec()
        } else if let Some(b64) = case.get("raw_body_base64") {
            base64_decode(b64.as_str().unwrap())
        } else if let Some(g) = case.get("raw_body_generate") {
            let mut s = g["prefix"].as_str().unwrap().to_owned();
            s.push_str(
                &g["repeat"]
                    .as_str()
                    .unwrap()
                    .repeat(usize::try_from(g["times"].as_u64().unwrap()).unwrap()),
            );
            s.push_str(g["suffix"].as_str().unwrap());
            s.into_bytes()
        } else {
            panic!("case {id} has no body");
        };
        let time = match case.get("query").and_then(|q| q.get("time")) {
            Some(Value::Null) => None,
            Some(t) => Some(t.as_str().unwrap().to_owned()),
            None => default_time.clone(),
        };
        let mut query: Vec<(String, String)> = Vec::new();
        let mut params = doc["default_query"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        if let Some(q) = case.get("query").and_then(Value::as_object) {
            for (k, v) in q {
                params.insert(k.clone(), v.clone());
            }
        }
        for (k, v) in params {
            if let Some(v) = v.as_str() {
                query.push((k, v.to_owned()));
            }
        }
        let status = case["expect_status"].as_u64().unwrap();
        assert!(status == 200 || status == 400, "{id}: {status}");
        out.push(Request {
            id,
            body,
            time,
            query,
            patched,
            expect_400: status == 400,
        });
    }
    out
}
