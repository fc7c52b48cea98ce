//! Deep merge of the overrides and validation of the merged registry (spec §2.6).
//!
//! Validation walks the JSON itself instead of relying on serde's messages so that every error
//! names the full key (`METRICS.cpu.alert_settings.threshold`). Once an entry passes, it is
//! normalised (upstream's `{"influxdb": "<query>"}` form becomes the plain string) and
//! deserialised into the typed structs.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::{ChartConfig, MetricConfig, Registry, RegistryError};

/// Upstream's `deep_merge_dicts`: objects merge key by key, anything else replaces.
pub(super) fn deep_merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(k) {
                    Some(slot) if slot.is_object() && v.is_object() => deep_merge(slot, v),
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

/// Validates the merged document and builds the registry. Entries set to `null` are removed
/// (an override can unregister a default).
pub(super) fn build(doc: Value) -> Result<Registry, RegistryError> {
    let Value::Object(mut doc) = doc else {
        return Err(invalid("registry", "expected an object"));
    };
    let default_colors: Vec<String> = match doc.remove("default_colors") {
        Some(v) => {
            str_list("default_colors", &v)?;
            typed("default_colors", v)?
        }
        None => Vec::new(),
    };
    let mut charts = BTreeMap::new();
    for (name, entry) in section(&mut doc, "charts")? {
        let path = format!("CHARTS.{name}");
        let Some(entry) = check_chart(&path, entry)? else {
            continue;
        };
        let mut chart: ChartConfig = typed(&path, entry)?;
        apply_default_colors(&mut chart, &default_colors);
        charts.insert(name, chart);
    }
    let mut metrics = BTreeMap::new();
    for (name, entry) in section(&mut doc, "metrics")? {
        let path = format!("METRICS.{name}");
        let Some(entry) = check_metric(&path, entry)? else {
            continue;
        };
        let metric: MetricConfig = typed(&path, entry)?;
        if let Some(missing) = metric.charts.iter().find(|c| !charts.contains_key(*c)) {
            return Err(invalid(
                &format!("{path}.charts"),
                &format!("unknown chart \"{missing}\""),
            ));
        }
        metrics.insert(name, metric);
    }
    Ok(Registry {
        default_colors,
        metrics,
        charts,
    })
}

/// Upstream's `Chart.colors`: no colours (or an empty list) but summary labels → the first N
/// default colours, N = number of summary labels (capped by the palette, as a Python slice is).
fn apply_default_colors(chart: &mut ChartConfig, palette: &[String]) {
    let has_colors = chart.colors.as_ref().is_some_and(|c| !c.is_empty());
    if has_colors {
        return;
    }
    if let Some(labels) = chart.summary_labels.as_ref().filter(|l| !l.is_empty()) {
        chart.colors = Some(palette.iter().take(labels.len()).cloned().collect());
    }
}

fn section(doc: &mut Map<String, Value>, name: &str) -> Result<Map<String, Value>, RegistryError> {
    match doc.remove(name) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m),
        Some(_) => Err(invalid(&name.to_ascii_uppercase(), "expected an object")),
    }
}

fn typed<T: DeserializeOwned>(path: &str, v: Value) -> Result<T, RegistryError> {
    // Reached only after the hand-written checks, so a failure here is a check we forgot;
    // still an error, never a panic.
    serde_json::from_value(v).map_err(|e| invalid(path, &e.to_string()))
}

fn invalid(path: &str, reason: &str) -> RegistryError {
    RegistryError::Invalid {
        path: path.to_owned(),
        reason: reason.to_owned(),
    }
}

fn missing(path: &str, key: &'static str) -> RegistryError {
    RegistryError::Missing {
        path: path.to_owned(),
        key,
    }
}

/// The value of `key`, treating `null` as absent.
fn get<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    m.get(key).filter(|v| !v.is_null())
}

fn require<'a>(
    path: &str,
    m: &'a Map<String, Value>,
    key: &'static str,
) -> Result<&'a Value, RegistryError> {
    get(m, key).ok_or_else(|| missing(path, key))
}

fn string(path: &str, v: &Value) -> Result<(), RegistryError> {
    if v.is_string() {
        Ok(())
    } else {
        Err(invalid(path, "expected a string"))
    }
}

fn number(path: &str, v: &Value) -> Result<(), RegistryError> {
    if v.is_number() {
        Ok(())
    } else {
        Err(invalid(path, "expected a number"))
    }
}

fn boolean(path: &str, v: &Value) -> Result<(), RegistryError> {
    if v.is_boolean() {
        Ok(())
    } else {
        Err(invalid(path, "expected true or false"))
    }
}

fn integer(path: &str, v: &Value, non_negative: bool) -> Result<(), RegistryError> {
    let ok = if non_negative {
        v.as_u64().is_some_and(|n| n <= u64::from(u32::MAX))
    } else {
        v.is_i64()
    };
    match (ok, non_negative) {
        (true, _) => Ok(()),
        (false, true) => Err(invalid(path, "expected a non-negative integer")),
        (false, false) => Err(invalid(path, "expected an integer")),
    }
}

fn object<'a>(path: &str, v: &'a Value) -> Result<&'a Map<String, Value>, RegistryError> {
    v.as_object()
        .ok_or_else(|| invalid(path, "expected an object"))
}

fn list<'a>(path: &str, v: &'a Value) -> Result<&'a [Value], RegistryError> {
    v.as_array()
        .map(Vec::as_slice)
        .ok_or_else(|| invalid(path, "expected a list"))
}

fn str_list(path: &str, v: &Value) -> Result<(), RegistryError> {
    for (i, item) in list(path, v)?.iter().enumerate() {
        string(&format!("{path}[{i}]"), item)?;
    }
    Ok(())
}

fn str_map(path: &str, v: &Value) -> Result<(), RegistryError> {
    for (k, item) in object(path, v)? {
        string(&format!("{path}.{k}"), item)?;
    }
    Ok(())
}

/// Checks an optional key with `check` when present and not null.
fn opt(
    path: &str,
    m: &Map<String, Value>,
    key: &str,
    check: impl Fn(&str, &Value) -> Result<(), RegistryError>,
) -> Result<(), RegistryError> {
    match get(m, key) {
        Some(v) => check(&format!("{path}.{key}"), v),
        None => Ok(()),
    }
}

fn check_metric(path: &str, entry: Value) -> Result<Option<Value>, RegistryError> {
    let m = match &entry {
        Value::Null => return Ok(None),
        v => object(path, v)?,
    };
    for key in ["label", "name", "key", "field_name"] {
        string(&format!("{path}.{key}"), require(path, m, key)?)?;
    }
    opt(path, m, "related_fields", str_list)?;
    opt(path, m, "notification_types", str_list)?;
    opt(path, m, "charts", str_list)?;
    opt(path, m, "alert_settings_inactive", boolean)?;
    opt(path, m, "charts_always_created", boolean)?;
    if let Some(alert) = get(m, "alert_settings") {
        let apath = format!("{path}.alert_settings");
        let a = object(&apath, alert)?;
        let op = require(&apath, a, "operator")?;
        if !matches!(op.as_str(), Some("<" | ">")) {
            return Err(invalid(
                &format!("{apath}.operator"),
                &format!("expected \"<\" or \">\", got {op}"),
            ));
        }
        number(
            &format!("{apath}.threshold"),
            require(&apath, a, "threshold")?,
        )?;
        integer(
            &format!("{apath}.tolerance"),
            require(&apath, a, "tolerance")?,
            true,
        )?;
    }
    if let Some(alert_field) = get(m, "alert_field") {
        let fpath = format!("{path}.alert_field");
        string(&fpath, alert_field)?;
        let mut fields: Vec<&str> = m
            .get("field_name")
            .and_then(Value::as_str)
            .into_iter()
            .collect();
        if let Some(Value::Array(related)) = get(m, "related_fields") {
            fields.extend(related.iter().filter_map(Value::as_str));
        }
        let name = alert_field.as_str().unwrap_or_default();
        if !fields.contains(&name) {
            return Err(invalid(
                &fpath,
                &format!("\"{name}\" must be one of the metric fields {fields:?}"),
            ));
        }
    }
    Ok(Some(entry))
}

/// A query given as a string, or upstream's `{"influxdb": "<query>"}` (normalised to the
/// string).
fn normalise_query(path: &str, v: &mut Value) -> Result<(), RegistryError> {
    match v {
        Value::Null | Value::String(_) => Ok(()),
        Value::Object(m) => match m.get("influxdb") {
            Some(Value::String(q)) => {
                *v = Value::String(q.clone());
                Ok(())
            }
            _ => Err(invalid(
                &format!("{path}.influxdb"),
                "expected the InfluxQL query as a string",
            )),
        },
        _ => Err(invalid(
            path,
            "expected a string or {\"influxdb\": \"<query>\"}",
        )),
    }
}

fn check_chart(path: &str, mut entry: Value) -> Result<Option<Value>, RegistryError> {
    let m = match &mut entry {
        Value::Null => return Ok(None),
        Value::Object(m) => m,
        _ => return Err(invalid(path, "expected an object")),
    };
    for key in ["type", "title", "description"] {
        string(&format!("{path}.{key}"), require(path, m, key)?)?;
    }
    integer(&format!("{path}.order"), require(path, m, "order")?, false)?;
    // `query` must be present; null means "the metric's default query", which needs a unit.
    let query = m.get_mut("query").ok_or_else(|| missing(path, "query"))?;
    normalise_query(&format!("{path}.query"), query)?;
    if query.is_null() && get(m, "unit").is_none() {
        return Err(missing(path, "unit"));
    }
    if let Some(q) = m.get_mut("summary_query") {
        normalise_query(&format!("{path}.summary_query"), q)?;
    }
    for key in ["label", "unit", "fill"] {
        opt(path, m, key, string)?;
    }
    for key in ["colors", "summary_labels", "trace_order"] {
        opt(path, m, key, str_list)?;
    }
    for key in ["trace_type", "trace_labels"] {
        opt(path, m, key, str_map)?;
    }
    for key in ["xaxis", "yaxis"] {
        opt(path, m, key, |p, v| object(p, v).map(|_| ()))?;
    }
    for key in ["calculate_total", "connect_points", "__all__"] {
        opt(path, m, key, boolean)?;
    }
    opt(path, m, "top_fields", |p, v| integer(p, v, true))?;
    opt(path, m, "query_default_param", |p, v| {
        for (k, item) in object(p, v)? {
            let ipath = format!("{p}.{k}");
            match item {
                Value::String(_) => {}
                Value::Array(_) => str_list(&ipath, item)?,
                _ => return Err(invalid(&ipath, "expected a string or a list of strings")),
            }
        }
        Ok(())
    })?;
    opt(path, m, "colorscale", check_colorscale)?;
    Ok(Some(entry))
}

fn check_colorscale(path: &str, v: &Value) -> Result<(), RegistryError> {
    let c = object(path, v)?;
    number(&format!("{path}.max"), require(path, c, "max")?)?;
    number(&format!("{path}.min"), require(path, c, "min")?)?;
    string(&format!("{path}.label"), require(path, c, "label")?)?;
    let spath = format!("{path}.scale");
    for (i, stop) in list(&spath, require(path, c, "scale")?)?.iter().enumerate() {
        let ipath = format!("{spath}[{i}]");
        match stop.as_array().map(Vec::as_slice) {
            Some([Value::Number(_), Value::String(_)]) => {}
            _ => return Err(invalid(&ipath, "expected [position, colour]")),
        }
    }
    if let Some(map) = get(c, "map") {
        let mpath = format!("{path}.map");
        for (i, entry) in list(&mpath, map)?.iter().enumerate() {
            let ipath = format!("{mpath}[{i}]");
            match entry.as_array().map(Vec::as_slice) {
                Some(
                    [
                        Value::Number(_) | Value::Null,
                        Value::String(_),
                        Value::String(_),
                    ],
                ) => {}
                _ => return Err(invalid(&ipath, "expected [value or null, colour, label]")),
            }
        }
    }
    opt(path, c, "fixed_value", number)
}
