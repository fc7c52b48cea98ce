//! Validation of a parsed DeviceMonitoring document (spec §3.2 plus our stricter rules), in one
//! pass that also normalises integers and collects the typed [`Sample`].
//!
//! Rules beyond upstream's schema, each because upstream's writer would otherwise divide by
//! zero, index out of range or store nonsense (fixtures `malformed-variants.json`):
//! counters, uptime, memory, disk bytes and load are non-negative; counters fit a `u64`;
//! `cpus` ≥ 1; `memory.total` ≥ 1 and `free`, `available` ≤ `total`; `load` has exactly three
//! values; `used_percent` ≤ 100; interface names are non-empty and unique; a wireless
//! `bitrate` is a non-negative number. Relaxations (fixtures `edge-cases-valid.json`):
//! `"disk": {}` is an empty list (lua-cjson cannot tell them apart), `operator_code: "--"` is an
//! unregistered modem, and integer fields accept integral floats such as cjson's `1e+14`,
//! which are rewritten as JSON integers in the stored snapshot.

use std::collections::HashSet;
use std::net::IpAddr;

use serde_json::{Map, Value};

use super::error::{Invalid, Path, repr};
use super::sample::{
    AccessTech, Cpu, InterfaceSample, Memory, Mobile, Sample, Signal, Traffic, WifiClient,
    Wireless, used_disk,
};

type Result<T> = std::result::Result<T, Invalid>;

/// 2^64 as a float: the first integral `f64` that does not fit a `u64`.
const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;
/// 2^63 as a float: the first integral `f64` above `i64::MAX`.
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

/// Validates `root`, rewrites integral floats in integer fields as integers and `"disk": {}` as
/// `[]`, and returns what the metric writes need.
pub(super) fn document(root: &mut Value) -> Result<Sample> {
    let path = Path::Root;
    let m = object(root, &path)?;
    match m.get("type") {
        None => return Err(path.required("type")),
        Some(Value::String(t)) if t == "DeviceMonitoring" => {}
        Some(t @ Value::String(_)) => {
            return Err(path
                .key("type")
                .invalid(format!("{} is not one of ['DeviceMonitoring']", repr(t))));
        }
        Some(t) => return Err(path.key("type").not_of_type(t, "string")),
    }
    let mut sample = Sample::default();
    if let Some(g) = m.get_mut("general") {
        let p = path.key("general");
        let g = object(g, &p)?;
        sample.local_time = opt(g, "local_time", &p, int)?;
        sample.uptime = opt(g, "uptime", &p, uint)?;
    }
    if let Some(r) = m.get_mut("resources") {
        resources(r, &path.key("resources"), &mut sample)?;
    }
    if let Some(ifs) = m.get_mut("interfaces") {
        sample.interfaces = interfaces(ifs, &path.key("interfaces"))?;
    }
    if let Some(leases) = m.get_mut("dhcp_leases") {
        let p = path.key("dhcp_leases");
        each_object(leases, &p, |lease, p| {
            only_keys(
                lease,
                p,
                &["expiry", "ip", "mac", "vendor", "client_name", "client_id"],
            )?;
            required(
                lease,
                p,
                &["expiry", "ip", "mac", "client_name", "client_id"],
            )?;
            opt(lease, "expiry", p, number)?;
            opt(lease, "ip", p, ip)?;
            strings(lease, p, &["mac", "vendor", "client_name", "client_id"])
        })?;
    }
    if let Some(neighbors) = m.get_mut("neighbors") {
        let p = path.key("neighbors");
        each_object(neighbors, &p, |n, p| {
            only_keys(n, p, &["ip", "mac", "vendor", "interface", "state"])?;
            required(n, p, &["ip", "interface"])?;
            opt(n, "ip", p, ip)?;
            strings(n, p, &["mac", "vendor", "interface", "state"])
        })?;
    }
    Ok(sample)
}

fn resources(v: &mut Value, path: &Path<'_>, sample: &mut Sample) -> Result<()> {
    let r = object(v, path)?;
    let load = opt(r, "load", path, load)?;
    let cpus = opt(r, "cpus", path, |v, p| uint_at_least(v, p, 1))?;
    if let (Some(load), Some(cpus)) = (load, cpus) {
        let cpu = Cpu::new(load, cpus);
        // A load near f64's limit makes the percentage infinite, which no store accepts:
        // refuse the sample rather than fail its write (found by the fuzz target).
        if !cpu.cpu_usage.is_finite() {
            let at = path.key("load");
            return Err(at
                .index(0)
                .invalid(format!("{:e} is too large for a load average", load[0])));
        }
        sample.cpu = Some(cpu);
    }
    sample.memory = opt(r, "memory", path, memory)?;
    sample.disk = opt(r, "disk", path, disk)?.flatten();
    for key in ["swap", "flash", "storage"] {
        opt(r, key, path, |v, p| {
            uints(object(v, p)?, p, &["total", "free"])
        })?;
    }
    opt(r, "connections", path, |v, p| {
        let c = object(v, p)?;
        for family in ["ipv4", "ipv6"] {
            opt(c, family, p, |v, p| {
                uints(object(v, p)?, p, &["tcp", "udp"])
            })?;
        }
        Ok(())
    })?;
    opt(r, "processes", path, |v, p| {
        let keys = [
            "running", "sleeping", "blocked", "zombie", "stopped", "paging",
        ];
        uints(object(v, p)?, p, &keys)
    })?;
    opt(r, "cpu", path, |v, p| {
        let keys = [
            "frequency",
            "user",
            "system",
            "nice",
            "idle",
            "iowait",
            "irq",
            "softirq",
        ];
        uints(object(v, p)?, p, &keys)
    })?;
    Ok(())
}

fn load(v: &mut Value, path: &Path<'_>) -> Result<[f64; 3]> {
    let items = array(v, path)?;
    let mut values = Vec::with_capacity(3);
    for (i, item) in items.iter_mut().enumerate() {
        values.push(non_negative_number(item, &path.index(i))?);
    }
    match values[..] {
        [one, five, fifteen] => Ok([one, five, fifteen]),
        _ => {
            let word = if values.len() < 3 { "short" } else { "long" };
            Err(path.invalid(format!(
                "{} is too {word} (expected the 1, 5 and 15 minute load averages)",
                repr(v)
            )))
        }
    }
}

fn memory(v: &mut Value, path: &Path<'_>) -> Result<Memory> {
    let m = object(v, path)?;
    required(m, path, &["total", "free", "buffered", "shared"])?;
    let total = req(m, "total", path, |v, p| uint_at_least(v, p, 1))?;
    let free = req(m, "free", path, |v, p| uint_at_most_total(v, p, total))?;
    let buffered = req(m, "buffered", path, uint)?;
    let shared = req(m, "shared", path, uint)?;
    let cached = opt(m, "cached", path, uint)?;
    let available = opt(m, "available", path, |v, p| uint_at_most_total(v, p, total))?;
    Ok(Memory::new(
        total, free, buffered, shared, cached, available,
    ))
}

fn uint_at_most_total(v: &mut Value, path: &Path<'_>, total: u64) -> Result<u64> {
    let n = uint(v, path)?;
    if n > total {
        return Err(path.invalid(format!(
            "{n} is greater than the maximum of {total} (the memory 'total')"
        )));
    }
    Ok(n)
}

fn disk(v: &mut Value, path: &Path<'_>) -> Result<Option<f64>> {
    // lua-cjson writes an empty Lua table as `{}`: that is the empty list.
    if v.as_object().is_some_and(Map::is_empty) {
        *v = Value::Array(Vec::new());
    }
    let (mut used, mut size) = (0u128, 0u128);
    each_object(v, path, |d, p| {
        let keys = [
            "mount_point",
            "filesystem",
            "used_bytes",
            "available_bytes",
            "used_percent",
            "size_bytes",
        ];
        required(d, p, &keys)?;
        only_keys(d, p, &keys)?;
        strings(d, p, &["mount_point", "filesystem"])?;
        used += u128::from(req(d, "used_bytes", p, uint)?);
        size += u128::from(req(d, "size_bytes", p, uint)?);
        req(d, "available_bytes", p, uint)?;
        req(d, "used_percent", p, |v, p| {
            let n = uint(v, p)?;
            if n > 100 {
                return Err(p.invalid(format!("{n} is greater than the maximum of 100")));
            }
            Ok(n)
        })?;
        Ok(())
    })?;
    Ok(used_disk(used, size))
}

fn interfaces(v: &mut Value, path: &Path<'_>) -> Result<Vec<InterfaceSample>> {
    let mut out: Vec<InterfaceSample> = Vec::new();
    let mut names = HashSet::new();
    for (i, item) in array(v, path)?.iter_mut().enumerate() {
        let p = path.index(i);
        let iface = interface(item, &p)?;
        // Stricter than upstream's uniqueItems: a name keys the traffic series and the
        // previous-snapshot lookup, so two entries with one name (identical or not) would
        // collide. This also covers byte-identical duplicates.
        if !names.insert(iface.name.clone()) {
            return Err(p.key("name").invalid(format!(
                "{} is not unique: an earlier interface has the same name",
                repr(&Value::String(iface.name))
            )));
        }
        out.push(iface);
    }
    Ok(out)
}

fn interface(v: &mut Value, path: &Path<'_>) -> Result<InterfaceSample> {
    let m = object(v, path)?;
    let name = req(m, "name", path, |v, p| {
        let s = string(v, p)?;
        if s.is_empty() {
            return Err(p.invalid("'' is too short".to_owned()));
        }
        Ok(s)
    })?;
    let kind = opt(m, "type", path, string)?;
    opt(m, "uptime", path, uint)?;
    for key in ["mtu", "txqueuelen"] {
        opt(m, key, path, int)?;
    }
    strings(m, path, &["mac", "speed"])?;
    for key in ["up", "multicast", "stp"] {
        opt(m, key, path, boolean)?;
    }
    opt(m, "bridge_members", path, |v, p| {
        for (i, item) in array(v, p)?.iter_mut().enumerate() {
            string(item, &p.index(i))?;
        }
        Ok(())
    })?;
    let traffic = opt(m, "statistics", path, statistics)?.flatten();
    opt(m, "addresses", path, addresses)?;
    let wireless = opt(m, "wireless", path, wireless)?;
    let mobile = opt(m, "mobile", path, mobile)?;
    Ok(InterfaceSample {
        name,
        kind,
        traffic,
        wireless,
        mobile,
    })
}

/// Whether a `statistics` member is a kernel counter. The agent swaps rx and tx on AP
/// interfaces and renames rx-only counters to `tx_…` on the way (device-agents §1.7), so names
/// are matched by shape, not from a list; other members are left alone (unknown keys allowed).
fn is_counter(name: &str) -> bool {
    matches!(name, "multicast" | "collisions")
        || ["_bytes", "_packets", "_errors", "_dropped", "_compressed"]
            .iter()
            .any(|suffix| name.ends_with(suffix))
}

fn statistics(v: &mut Value, path: &Path<'_>) -> Result<Option<Traffic>> {
    let m = object(v, path)?;
    for (name, counter) in m.iter_mut() {
        if is_counter(name) {
            uint(counter, &path.key(name))?;
        }
    }
    let rx = m.get("rx_bytes").and_then(Value::as_u64);
    let tx = m.get("tx_bytes").and_then(Value::as_u64);
    Ok((rx.is_some() || tx.is_some()).then(|| Traffic {
        rx_bytes: rx.unwrap_or(0),
        tx_bytes: tx.unwrap_or(0),
    }))
}

fn addresses(v: &mut Value, path: &Path<'_>) -> Result<()> {
    unique_items(v, path)?;
    each_object(v, path, |a, p| {
        required(a, p, &["proto", "family", "address", "mask"])?;
        strings(a, p, &["proto", "family"])?;
        req(a, "address", p, ip)?;
        req(a, "mask", p, uint)?;
        Ok(())
    })
}

/// How a radio's `htmode` limits what its clients' capability flags can mean (spec §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Nulling {
    /// Keep the flag.
    Keep,
    /// The radio cannot use it at all: null whatever the client said.
    Always,
    /// The radio cannot use it: a `false` means "unknown", not "unsupported".
    IfFalse,
}

impl Nulling {
    /// The rules for `ht`, `vht` and `he` under this `htmode`: `NOHT` nulls all three,
    /// `HT…` nulls a false `vht`/`he`, `VHT…` a false `he`, anything else (`HE…`) nothing.
    pub(super) fn for_htmode(htmode: Option<&str>) -> [Nulling; 3] {
        use Nulling::{Always, IfFalse, Keep};
        match htmode {
            Some("NOHT") => [Always, Always, Always],
            Some(m) if m.starts_with("HT") => [Keep, IfFalse, IfFalse],
            Some(m) if m.starts_with("VHT") => [Keep, Keep, IfFalse],
            _ => [Keep, Keep, Keep],
        }
    }

    /// The flag after this rule.
    pub(super) fn apply(self, flag: Option<bool>) -> Option<bool> {
        match (self, flag) {
            (Nulling::Always, _) | (Nulling::IfFalse, Some(false)) => None,
            (_, flag) => flag,
        }
    }
}

fn wireless(v: &mut Value, path: &Path<'_>) -> Result<Wireless> {
    let m = object(v, path)?;
    required(
        m,
        path,
        &[
            "channel",
            "country",
            "frequency",
            "mode",
            "noise",
            "ssid",
            "tx_power",
        ],
    )?;
    for key in [
        "channel",
        "frequency",
        "noise",
        "tx_power",
        "signal",
        "quality",
        "quality_max",
    ] {
        opt(m, key, path, int)?;
    }
    strings(m, path, &["country"])?;
    let mode = req(m, "mode", path, string)?;
    let ssid = req(m, "ssid", path, string)?;
    let htmode = opt(m, "htmode", path, string)?;
    // Converted to Mbit/s in the snapshot, so it has to be a number.
    opt(m, "bitrate", path, non_negative_number)?;
    let rules = Nulling::for_htmode(htmode.as_deref());
    let mut clients = Vec::new();
    if let Some(list) = m.get_mut("clients") {
        let p = path.key("clients");
        each_object(list, &p, |c, p| {
            clients.push(client(c, p, rules)?);
            Ok(())
        })?;
    }
    Ok(Wireless {
        mode,
        ssid,
        htmode,
        clients,
    })
}

fn client(m: &mut Map<String, Value>, path: &Path<'_>, rules: [Nulling; 3]) -> Result<WifiClient> {
    required(
        m,
        path,
        &["auth", "authorized", "ht", "vht", "wmm", "mac", "mfp"],
    )?;
    for key in ["auth", "authorized", "mfp", "assoc", "preauth"] {
        opt(m, key, path, boolean)?;
    }
    let ht = opt(m, "ht", path, boolean)?;
    let vht = opt(m, "vht", path, boolean)?;
    let he = opt(m, "he", path, boolean)?;
    let wmm = req(m, "wmm", path, boolean)?;
    let wds = opt(m, "wds", path, boolean)?;
    let wps = opt(m, "wps", path, boolean)?;
    let mac = req(m, "mac", path, string)?;
    let vendor = opt(m, "vendor", path, string)?;
    strings(m, path, &["signature"])?;
    for key in [
        "aid",
        "signal",
        "noise",
        "bitrate",
        "quality",
        "quality_max",
    ] {
        opt(m, key, path, int)?;
    }
    opt(m, "rrm", path, |v, p| {
        for (i, item) in array(v, p)?.iter_mut().enumerate() {
            int(item, &p.index(i))?;
        }
        match v.as_array().map_or(0, Vec::len) {
            5 => Ok(()),
            n => {
                let word = if n < 5 { "short" } else { "long" };
                Err(p.invalid(format!("{} is too {word}", repr(v))))
            }
        }
    })?;
    let [ht_rule, vht_rule, he_rule] = rules;
    Ok(WifiClient {
        mac,
        ht: ht_rule.apply(ht),
        vht: vht_rule.apply(vht),
        he: he_rule.apply(he),
        wmm,
        wds,
        wps,
        vendor,
    })
}

/// The keys each known signal section must have, and may have (spec §3.2); `lte` and `5g`
/// need any one of theirs.
fn section_keys(tech: AccessTech) -> (&'static [&'static str], &'static [&'static str]) {
    match tech {
        AccessTech::Gsm => (&["rssi"], &["rssi"]),
        AccessTech::Cdma1x => (&["rssi", "ecio"], &["rssi", "ecio"]),
        AccessTech::Evdo => (
            &["rssi", "ecio", "io", "sinr"],
            &["rssi", "ecio", "io", "sinr"],
        ),
        AccessTech::Umts => (&["ecio"], &["ecio", "rssi", "rscp"]),
        AccessTech::Lte | AccessTech::Nr => (&[], &["rssi", "rsrp", "rsrq", "snr"]),
    }
}

fn mobile(v: &mut Value, path: &Path<'_>) -> Result<Mobile> {
    let m = object(v, path)?;
    required(
        m,
        path,
        &[
            "imei",
            "operator_code",
            "operator_name",
            "connection_status",
            "power_status",
            "manufacturer",
            "model",
        ],
    )?;
    req(m, "imei", path, |v, p| digits(v, p, 15, 17))?;
    let operator_code = req(m, "operator_code", path, |v, p| {
        // mmcli's "unknown": the modem is not registered. Upstream refuses the sample.
        if v.as_str() == Some("--") {
            return Ok(None);
        }
        digits(v, p, 4, 6).map(Some)
    })?;
    strings(
        m,
        path,
        &[
            "operator_name",
            "connection_status",
            "power_status",
            "manufacturer",
            "model",
        ],
    )?;
    let signal = opt(m, "signal", path, signal)?.flatten();
    Ok(Mobile {
        operator_code,
        signal,
    })
}

fn signal(v: &mut Value, path: &Path<'_>) -> Result<Option<Signal>> {
    let m = object(v, path)?;
    let mut chosen: Option<(AccessTech, &Map<String, Value>)> = None;
    // Unknown sections (`threshold`, `refresh`) are ignored; known ones are checked.
    for tech in AccessTech::ALL {
        let Some(section) = m.get_mut(tech.section()) else {
            continue;
        };
        let p = path.key(tech.section());
        let s = object(section, &p)?;
        let (needed, known) = section_keys(tech);
        required(s, &p, needed)?;
        for key in known {
            opt(s, key, &p, number)?;
        }
        if needed.is_empty() && !known.iter().any(|k| s.contains_key(*k)) {
            return Err(p.invalid(format!(
                "{} is not valid under any of the given schemas (needs one of {})",
                repr(section),
                known.join(", ")
            )));
        }
    }
    // Most evolved wins (5g > lte > umts > evdo > cdma1x > gsm): NSA 5G modems report both
    // 5g and lte.
    for tech in AccessTech::ALL.into_iter().rev() {
        if let Some(Value::Object(s)) = m.get(tech.section()) {
            chosen = Some((tech, s));
            break;
        }
    }
    Ok(chosen.map(|(tech, s)| {
        let get = |k: &str| s.get(k).and_then(Value::as_f64);
        Signal {
            access_tech: tech,
            signal_strength: get("rssi"),
            signal_power: get("rsrp").or_else(|| get("rscp")),
            snr: get("sinr").or_else(|| get("ecio")).or_else(|| get("snr")),
            signal_quality: get("rsrq"),
        }
    }))
}

fn digits(v: &mut Value, path: &Path<'_>, min: usize, max: usize) -> Result<String> {
    let s = string(v, path)?;
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(path.invalid(format!("{} does not match '^[0-9]*$'", repr(v))));
    }
    if s.len() < min {
        return Err(path.invalid(format!("{} is too short", repr(v))));
    }
    if s.len() > max {
        return Err(path.invalid(format!("{} is too long", repr(v))));
    }
    Ok(s)
}

// ---- generic checks -------------------------------------------------------------------------

fn object<'v>(v: &'v mut Value, path: &Path<'_>) -> Result<&'v mut Map<String, Value>> {
    match v {
        Value::Object(m) => Ok(m),
        other => Err(path.not_of_type(other, "object")),
    }
}

fn array<'v>(v: &'v mut Value, path: &Path<'_>) -> Result<&'v mut Vec<Value>> {
    match v {
        Value::Array(items) => Ok(items),
        other => Err(path.not_of_type(other, "array")),
    }
}

/// Runs `f` on every item of the array `v`, each of which must be an object.
fn each_object(
    v: &mut Value,
    path: &Path<'_>,
    mut f: impl FnMut(&mut Map<String, Value>, &Path<'_>) -> Result<()>,
) -> Result<()> {
    for (i, item) in array(v, path)?.iter_mut().enumerate() {
        let p = path.index(i);
        f(object(item, &p)?, &p)?;
    }
    Ok(())
}

/// jsonschema's `uniqueItems`. Keys are compared in serde_json's sorted order, so two objects
/// with the same members in another order are duplicates too, as in Python.
fn unique_items(v: &Value, path: &Path<'_>) -> Result<()> {
    let Value::Array(items) = v else {
        return Ok(());
    };
    let mut seen = HashSet::new();
    for item in items {
        if !seen.insert(item.to_string()) {
            return Err(path.invalid(format!("{} has non-unique elements", repr(v))));
        }
    }
    Ok(())
}

fn required(m: &Map<String, Value>, path: &Path<'_>, keys: &[&str]) -> Result<()> {
    match keys.iter().find(|k| !m.contains_key(**k)) {
        Some(missing) => Err(path.required(missing)),
        None => Ok(()),
    }
}

/// jsonschema's `additionalProperties: false`.
fn only_keys(m: &Map<String, Value>, path: &Path<'_>, allowed: &[&str]) -> Result<()> {
    let extra: Vec<String> = m
        .keys()
        .filter(|k| !allowed.contains(&k.as_str()))
        .map(|k| repr(&Value::String(k.clone())))
        .collect();
    match extra.len() {
        0 => Ok(()),
        1 => Err(path.invalid(format!(
            "Additional properties are not allowed ({} was unexpected)",
            extra.join(", ")
        ))),
        _ => Err(path.invalid(format!(
            "Additional properties are not allowed ({} were unexpected)",
            extra.join(", ")
        ))),
    }
}

/// Checks the member `key` with `f` if present.
fn opt<T>(
    m: &mut Map<String, Value>,
    key: &str,
    path: &Path<'_>,
    f: impl FnOnce(&mut Value, &Path<'_>) -> Result<T>,
) -> Result<Option<T>> {
    match m.get_mut(key) {
        Some(v) => f(v, &path.key(key)).map(Some),
        None => Ok(None),
    }
}

/// Checks the member `key` with `f`; its absence is an error.
fn req<T>(
    m: &mut Map<String, Value>,
    key: &str,
    path: &Path<'_>,
    f: impl FnOnce(&mut Value, &Path<'_>) -> Result<T>,
) -> Result<T> {
    match m.get_mut(key) {
        Some(v) => f(v, &path.key(key)),
        None => Err(path.required(key)),
    }
}

fn strings(m: &mut Map<String, Value>, path: &Path<'_>, keys: &[&str]) -> Result<()> {
    for key in keys {
        opt(m, key, path, string)?;
    }
    Ok(())
}

fn uints(m: &mut Map<String, Value>, path: &Path<'_>, keys: &[&str]) -> Result<()> {
    for key in keys {
        opt(m, key, path, uint)?;
    }
    Ok(())
}

fn string(v: &mut Value, path: &Path<'_>) -> Result<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        other => Err(path.not_of_type(other, "string")),
    }
}

fn boolean(v: &mut Value, path: &Path<'_>) -> Result<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        other => Err(path.not_of_type(other, "boolean")),
    }
}

fn ip(v: &mut Value, path: &Path<'_>) -> Result<String> {
    let s = string(v, path)?;
    if s.parse::<IpAddr>().is_err() {
        return Err(path.invalid(format!(
            "{} is not a valid 'ipv4' or 'ipv6' address",
            repr(v)
        )));
    }
    Ok(s)
}

fn number(v: &mut Value, path: &Path<'_>) -> Result<f64> {
    // Some only for numbers; serde_json has already refused NaN and infinities.
    match v.as_f64() {
        Some(f) => Ok(f),
        None => Err(path.not_of_type(v, "number")),
    }
}

fn non_negative_number(v: &mut Value, path: &Path<'_>) -> Result<f64> {
    let n = number(v, path)?;
    if n < 0.0 {
        return Err(path.invalid(format!("{} is less than the minimum of 0", repr(v))));
    }
    Ok(n)
}

/// An integer as draft-07 counts them: a JSON integer or a float with an integral value (cjson
/// prints counters ≥ 1e14 as `1.2345678901234e+14`). Returns the value as a float only when it
/// is integral, for the callers to range-check.
enum Integer {
    Unsigned(u64),
    Signed(i64),
    Float(f64),
}

fn integer(v: &Value, path: &Path<'_>) -> Result<Integer> {
    let Value::Number(n) = v else {
        return Err(path.not_of_type(v, "integer"));
    };
    if let Some(u) = n.as_u64() {
        return Ok(Integer::Unsigned(u));
    }
    if let Some(i) = n.as_i64() {
        return Ok(Integer::Signed(i));
    }
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 => Ok(Integer::Float(f)),
        _ => Err(path.not_of_type(v, "integer")),
    }
}

/// A non-negative integer that fits a `u64` (kernel counters are unsigned 64-bit); an
/// integral float is rewritten in place as a JSON integer.
fn uint(v: &mut Value, path: &Path<'_>) -> Result<u64> {
    let u = match integer(v, path)? {
        Integer::Unsigned(u) => return Ok(u),
        Integer::Signed(i) => {
            return Err(path.invalid(format!("{i} is less than the minimum of 0")));
        }
        Integer::Float(f) if f < 0.0 => {
            return Err(path.invalid(format!("{} is less than the minimum of 0", repr(v))));
        }
        Integer::Float(f) if f >= TWO_POW_64 => {
            return Err(path.invalid(format!(
                "{} is greater than the maximum of {}",
                repr(v),
                u64::MAX
            )));
        }
        // In range and integral, so the conversion is exact.
        Integer::Float(f) => f as u64,
    };
    *v = Value::from(u);
    Ok(u)
}

fn uint_at_least(v: &mut Value, path: &Path<'_>, min: u64) -> Result<u64> {
    let n = uint(v, path)?;
    if n < min {
        return Err(path.invalid(format!("{n} is less than the minimum of {min}")));
    }
    Ok(n)
}

/// An integer that fits an `i64`; an integral float is rewritten in place as a JSON integer.
fn int(v: &mut Value, path: &Path<'_>) -> Result<i64> {
    let i = match integer(v, path)? {
        Integer::Signed(i) => return Ok(i),
        Integer::Unsigned(u) => {
            return i64::try_from(u).map_err(|_| {
                path.invalid(format!("{u} is greater than the maximum of {}", i64::MAX))
            });
        }
        Integer::Float(f) if f >= TWO_POW_63 => {
            return Err(path.invalid(format!(
                "{} is greater than the maximum of {}",
                repr(v),
                i64::MAX
            )));
        }
        Integer::Float(f) if f < -TWO_POW_63 => {
            return Err(path.invalid(format!(
                "{} is less than the minimum of {}",
                repr(v),
                i64::MIN
            )));
        }
        Integer::Float(f) => f as i64,
    };
    *v = Value::from(i);
    Ok(i)
}
