//! The property the fuzz target (`fuzz/fuzz_targets/form_body.rs`) checks, shared with the
//! seed-replay test so CI runs the same property on every seed in `fuzz/seeds/form/`: the two
//! `application/x-www-form-urlencoded` readers, the config agent's (controller endpoints) and
//! the InfluxDB API's (`POST /query`). Not part of the API.

use std::collections::HashMap;

use super::rest::encode;

/// Checks, for an arbitrary body `data`:
/// - both readers return without panicking;
/// - the agent's reader keeps the first of repeated names, so its map is the first
///   occurrence of each name the InfluxDB reader lists (both decode alike: `+`, `%XX`, bad
///   escapes kept, lossy UTF-8);
/// - what they read, percent-encoded again and read back, is the same (a decoded form is a
///   fixed point).
///
/// Returns how many pairs were read, or a description of the first violation. Never panics
/// itself, so a panic under the fuzzer is the readers'.
pub fn form_property(data: &[u8]) -> Result<usize, String> {
    let agent = super::controller::parse_form(data);
    let influx = super::rest::form_pairs(data);
    let mut first: HashMap<String, String> = HashMap::new();
    for (k, v) in &influx {
        first.entry(k.clone()).or_insert_with(|| v.clone());
    }
    if first != agent {
        return Err(format!(
            "the readers disagree:\n agent  {agent:?}\n influx {influx:?}"
        ));
    }
    let again: Vec<String> = influx
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    let again = again.join("&");
    let back = super::rest::form_pairs(again.as_bytes());
    // Empty names with empty values re-encode as "=", which both readers keep; a pair that
    // was entirely empty was skipped in the first place.
    if back != influx {
        return Err(format!(
            "re-encoded {again:?} reads back {back:?}, not {influx:?}"
        ));
    }
    if super::controller::parse_form(again.as_bytes()) != agent {
        return Err(format!("the agent's reader does not read back {again:?}"));
    }
    Ok(influx.len())
}
