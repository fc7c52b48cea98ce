//! The property the fuzz target (`fuzz/fuzz_targets/netjson_document.rs`) checks, shared with
//! the seed-replay test so CI runs the same property on every seed in `fuzz/seeds/netjson/`.
//! Not part of the API.

use serde_json::Value;

use super::{MAX_BODY_BYTES, parse_document, parse_time};

/// Checks, for an arbitrary request body `data`:
/// - [`parse_document`] returns without panicking, and a refusal renders its message;
/// - an accepted document's snapshot is JSON (an object with `type` kept), parses to the same
///   value as [`super::Document::json`], and its sample holds only finite numbers (the engine
///   refuses NaN and infinities: a sample must never carry them to a write);
/// - adding vendors keeps the snapshot JSON and the sample's interfaces;
/// - the first line of `data`, read as the agent's `time` parameter, never panics
///   [`parse_time`].
///
/// Returns whether the document was accepted, or a description of the first violation. Never
/// panics itself, so a panic under the fuzzer is the parser's.
pub fn document_property(data: &[u8]) -> Result<bool, String> {
    if let Some(line) = data.split(|&b| b == b'\n').next() {
        let _ = parse_time(&String::from_utf8_lossy(line));
    }
    let mut doc = match parse_document(data) {
        Ok(d) => d,
        Err(e) => {
            if e.to_string().is_empty() {
                return Err("a refusal without a message".to_owned());
            }
            if data.len() <= MAX_BODY_BYTES && matches!(e, super::Invalid::TooLarge { .. }) {
                return Err(format!("{} bytes refused as too large", data.len()));
            }
            return Ok(false);
        }
    };
    let text = doc.to_json();
    let back: Value =
        serde_json::from_str(&text).map_err(|e| format!("snapshot is not JSON ({e}): {text}"))?;
    if &back != doc.json() {
        return Err(format!("snapshot does not read back equal: {text}"));
    }
    if !back.is_object() {
        return Err(format!("snapshot is not an object: {text}"));
    }
    let s = doc.sample();
    let mut numbers: Vec<f64> = Vec::new();
    if let Some(c) = &s.cpu {
        numbers.extend([c.cpu_usage, c.load_1, c.load_5, c.load_15]);
    }
    numbers.extend(s.disk);
    if let Some(m) = &s.memory {
        numbers.push(m.percent_used);
    }
    if let Some(bad) = numbers.iter().find(|f| !f.is_finite()) {
        return Err(format!("a sample number is not finite ({bad}): {s:?}"));
    }
    let interfaces = s.interfaces.len();
    doc.set_vendors(|mac| Some(format!("vendor of {mac}")));
    if doc.sample().interfaces.len() != interfaces {
        return Err("set_vendors changed the interfaces".to_owned());
    }
    serde_json::from_str::<Value>(&doc.to_json())
        .map_err(|e| format!("snapshot with vendors is not JSON: {e}"))?;
    Ok(true)
}
