//! NetJSON DeviceMonitoring documents, as the monitoring agent posts them (spec §3.1–§3.4,
//! device-agents §1).
//!
//! Owns: turning a request body into a validated, transformed [`Document`] (bounded size,
//! lossy UTF-8, upstream's schema plus our stricter rules, the §3.3 snapshot transformation)
//! and the typed [`Sample`] the metric writes of §3.4 are computed from; reading the agent's
//! `time` parameter ([`parse_time`]). Must not: touch HTTP, storage or the clock, compute
//! traffic deltas (they need the previous snapshot), clean interface names into tag values, or
//! know the MAC vendor registry (the caller passes a lookup to [`Document::set_vendors`]).
//!
//! Every refusal is an [`Invalid`] (answered 400) or a [`BadTime`] (400 `Incorrect time
//! format`); nothing reachable from the body panics.

pub mod check;
mod error;
mod sample;
mod time;
mod validate;

#[cfg(test)]
mod tests;

use std::borrow::Cow;

use serde_json::Value;

pub use error::Invalid;
pub use sample::{
    AccessTech, Cpu, InterfaceSample, Memory, Mobile, Sample, Signal, Traffic, WifiClient, Wireless,
};
pub use time::{BadTime, parse_time};

use validate::Nulling;

/// Largest body accepted, in bytes. Real documents are 5–10 KB, tens of KB for an AP with many
/// clients (device-agents §1.3); 2 MiB leaves two orders of magnitude of room while bounding
/// what one request can make the parser allocate. A larger body is an [`Invalid::TooLarge`],
/// answered 400 like any other refusal: a 413 would make the agent retry it forever.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// A validated DeviceMonitoring document after the snapshot transformation of spec §3.3.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The transformed body: what is stored as the `device_data` snapshot.
    body: Value,
    /// The metric inputs, kept in step with `body`.
    sample: Sample,
}

/// Validates and transforms a request body.
///
/// Bytes that are not UTF-8 (a Latin-1 SSID passed through by lua-cjson) become U+FFFD rather
/// than costing the whole sample. The JSON parser's recursion limit (128) refuses nesting
/// bombs before they reach the stack, and `NaN`/`Infinity` are not JSON.
///
/// # Errors
/// [`Invalid`] for an empty, oversized or unparseable body, or one that breaks the schema.
pub fn parse_document(body: &[u8]) -> Result<Document, Invalid> {
    if body.len() > MAX_BODY_BYTES {
        return Err(Invalid::TooLarge {
            size: body.len(),
            limit: MAX_BODY_BYTES,
        });
    }
    let text: Cow<'_, str> = String::from_utf8_lossy(body);
    if text
        .bytes()
        .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
    {
        return Err(Invalid::Empty);
    }
    let mut body: Value = serde_json::from_str(&text).map_err(|e| Invalid::NotJson {
        reason: e.to_string(),
    })?;
    let sample = validate::document(&mut body)?;
    transform(&mut body);
    Ok(Document { body, sample })
}

impl Document {
    /// What the metric writes are computed from.
    pub fn sample(&self) -> &Sample {
        &self.sample
    }

    /// The transformed body as a JSON value.
    pub fn json(&self) -> &Value {
        &self.body
    }

    /// The transformed body as compact JSON: the `device_data` snapshot.
    ///
    /// A snapshot is not a request body: fed to [`parse_document`] again its `bitrate` would be
    /// divided by 1000 a second time and its nulled capability flags refused.
    pub fn to_json(&self) -> String {
        self.body.to_string()
    }

    /// Adds `vendor` to every wireless client, neighbour and DHCP lease (spec §3.3), from
    /// `lookup(mac)`; an unknown MAC, or a neighbour without one, gets the empty string. An
    /// existing `vendor` is replaced. `lookup` sees whatever `mac` holds, which on DHCPv6 lease
    /// lines is an IAID such as `"3045672"`, not a MAC.
    pub fn set_vendors(&mut self, lookup: impl Fn(&str) -> Option<String>) {
        let vendor = |mac: Option<&str>| mac.and_then(&lookup).unwrap_or_default();
        if let Some(ifs) = self
            .body
            .get_mut("interfaces")
            .and_then(Value::as_array_mut)
        {
            for iface in ifs {
                let clients = iface
                    .pointer_mut("/wireless/clients")
                    .and_then(Value::as_array_mut);
                for c in clients.into_iter().flatten() {
                    if let Some(c) = c.as_object_mut() {
                        let v = vendor(c.get("mac").and_then(Value::as_str));
                        c.insert("vendor".to_owned(), Value::String(v));
                    }
                }
            }
        }
        for list in ["neighbors", "dhcp_leases"] {
            let items = self.body.get_mut(list).and_then(Value::as_array_mut);
            for item in items.into_iter().flatten() {
                if let Some(item) = item.as_object_mut() {
                    let v = vendor(item.get("mac").and_then(Value::as_str));
                    item.insert("vendor".to_owned(), Value::String(v));
                }
            }
        }
        for iface in &mut self.sample.interfaces {
            for c in iface.wireless.iter_mut().flat_map(|w| &mut w.clients) {
                c.vendor = Some(vendor(Some(&c.mac)));
            }
        }
    }
}

/// The snapshot transformation of spec §3.3 on a validated body: capability flags nulled by
/// `htmode`, `bitrate` from kbit/s to Mbit/s with one decimal, mobile signal values as floats.
fn transform(body: &mut Value) {
    let Some(ifs) = body.get_mut("interfaces").and_then(Value::as_array_mut) else {
        return;
    };
    for iface in ifs {
        if let Some(w) = iface.get_mut("wireless").and_then(Value::as_object_mut) {
            let rules = Nulling::for_htmode(w.get("htmode").and_then(Value::as_str));
            if let Some(bitrate) = w.get_mut("bitrate") {
                if let Some(kbit) = bitrate.as_f64() {
                    *bitrate = Value::from(round1(kbit / 1000.0));
                }
            }
            let clients = w.get_mut("clients").and_then(Value::as_array_mut);
            for c in clients.into_iter().flatten() {
                let Some(c) = c.as_object_mut() else { continue };
                for (key, rule) in ["ht", "vht", "he"].into_iter().zip(rules) {
                    if let Some(flag) = c.get_mut(key) {
                        if rule.apply(flag.as_bool()).is_none() {
                            *flag = Value::Null;
                        }
                    }
                }
            }
        }
        let signal = iface
            .pointer_mut("/mobile/signal")
            .and_then(Value::as_object_mut);
        for section in signal.into_iter().flat_map(|s| s.values_mut()) {
            let Some(section) = section.as_object_mut() else {
                continue;
            };
            for value in section.values_mut() {
                // Serialised with a decimal point (`-88.0`), as Python's float() gives.
                if let Some(f) = value.as_f64() {
                    *value = Value::from(f);
                }
            }
        }
    }
}

/// Python's `round(x, 1)`: the float nearest to `x` rounded to one decimal, ties to even on the
/// exact binary value (so 0.25 → 0.2 but 0.35, stored as 0.34999…, → 0.3). Rust's fixed
/// precision formatting rounds the exact value the same way.
fn round1(x: f64) -> f64 {
    format!("{x:.1}").parse().unwrap_or(x)
}
