//! From query results to chart JSON (spec §2.5, upstream `Chart.read` / `Chart.json` and the
//! device charts API's per-chart attributes).
//!
//! Rounding copies Python: `round(x, n)` rounds the exact binary value of `x` half-to-even.
//! Rust's `format!("{:.n}", x)` does the same (it formats the exact value, ties to even), and
//! parsing the text back gives the nearest `f64`, as CPython's `round` does through
//! `_Py_dg_dtoa`. So `2.675` (really 2.67499999…) → `2.67`, `0.125` (exact tie) → `0.12`.

use std::collections::BTreeMap;

use serde_json::{Map, Number, Value, json};

use super::render::{civil_from_days, format_text};
use super::{ChartConfig, RenderError, is_aggregate};
use crate::time::Zone;

const NS_PER_SEC: i64 = 1_000_000_000;
const SECS_PER_DAY: i64 = 86_400;

/// The rows of one query answer, as requested with `epoch=s`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueryResult {
    /// Column names, without `time` (a column named `time` is skipped anyway).
    pub columns: Vec<String>,
    /// One row per bucket.
    pub rows: Vec<ResultRow>,
}

/// One row of a [`QueryResult`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResultRow {
    /// Bucket time, seconds since the epoch.
    pub time: i64,
    /// One value per column (numbers or null; missing trailing values count as null).
    pub values: Vec<Value>,
}

/// Python's `round(x, ndigits)` for a float: the exact binary value rounded half-to-even,
/// returned as the nearest float. Non-finite values and values too large to have a
/// fractional part come back unchanged.
pub fn python_round(x: f64, ndigits: u32) -> f64 {
    // CPython returns x unchanged past NDIGITS_MAX (323); from 2^52 on every f64 is an
    // integer, so rounding to ndigits ≥ 0 cannot change it.
    const INTEGRAL: f64 = 4_503_599_627_370_496.0;
    if !x.is_finite() || ndigits > 323 || x.abs() >= INTEGRAL {
        return x;
    }
    let text = format!("{:.*}", ndigits as usize, x);
    text.parse().unwrap_or(x)
}

/// Upstream `Chart._round` with 2 decimal places: 4 decimals below 0.01 (so every negative
/// value), else 2.
pub fn round_value(v: f64) -> f64 {
    if v < 0.01 {
        python_round(v, 4)
    } else {
        python_round(v, 2)
    }
}

/// Rounds one JSON value as upstream rounds `int`/`float` (bools are ints in Python: 1/0);
/// integers stay integers; null and strings pass through.
fn round_json(v: &Value) -> Value {
    match v {
        Value::Bool(b) => Value::from(u8::from(*b)),
        Value::Number(n) if n.is_f64() => n
            .as_f64()
            .and_then(|f| Number::from_f64(round_value(f)))
            .map_or(Value::Null, Value::Number),
        other => other.clone(),
    }
}

/// Python truthiness of a JSON value.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// `YYYY-MM-DD HH:MM` of `t` (seconds) in `zone`.
fn x_label(t: i64, zone: &Zone) -> String {
    let offset = zone.offset_ns(t.saturating_mul(NS_PER_SEC)) / NS_PER_SEC;
    let local = t.saturating_add(offset);
    let (y, m, d) = civil_from_days(local.div_euclid(SECS_PER_DAY));
    let sod = local.rem_euclid(SECS_PER_DAY);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        sod / 3600,
        sod / 60 % 60
    )
}

/// Upstream `Chart.read`: `{"traces": [[name, [values…]], …], "x": [labels…], "summary":
/// {name: value}}`.
///
/// * traces: one per column (except `time`), sorted by name in code-point order, values
///   rounded with [`round_value`] (integers and null unchanged);
/// * x: the row times as `YYYY-MM-DD HH:MM` in `zone`;
/// * summary: from the first row of `summary` (absent when it has no rows): values rounded
///   only when truthy (0 and null kept), all null when the chart's query is not an aggregate.
pub fn chart_data(
    chart: &ChartConfig,
    points: &QueryResult,
    summary: &QueryResult,
    zone: &Zone,
) -> Value {
    let mut traces: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    let mut x = Vec::with_capacity(points.rows.len());
    for row in &points.rows {
        for (i, col) in points.columns.iter().enumerate() {
            if col == "time" {
                continue;
            }
            let value = row.values.get(i).unwrap_or(&Value::Null);
            traces
                .entry(col.as_str())
                .or_default()
                .push(round_json(value));
        }
        x.push(Value::String(x_label(row.time, zone)));
    }
    let traces: Vec<Value> = traces
        .into_iter()
        .map(|(name, values)| json!([name, values]))
        .collect();
    let mut out = Map::new();
    out.insert("traces".into(), Value::Array(traces));
    out.insert("x".into(), Value::Array(x));
    if let Some(row) = summary.rows.first() {
        let aggregate = chart.query.as_deref().is_some_and(is_aggregate);
        let mut s = Map::new();
        for (i, col) in summary.columns.iter().enumerate() {
            if col == "time" {
                continue;
            }
            let value = row.values.get(i).unwrap_or(&Value::Null);
            let value = if !aggregate {
                Value::Null
            } else if truthy(value) {
                round_json(value)
            } else {
                value.clone()
            };
            s.insert(col.clone(), value);
        }
        out.insert("summary".into(), Value::Object(s));
    }
    Value::Object(out)
}

/// Upstream `Chart.json` (metric admin page): [`chart_data`] plus `unit`, `trace_type`
/// (`{}` when unset), `trace_order` (`[]` when unset), `calculate_total`, `connect_points` and
/// `colors`.
pub fn chart_json(
    chart: &ChartConfig,
    points: &QueryResult,
    summary: &QueryResult,
    zone: &Zone,
) -> Value {
    let mut data = chart_data(chart, points, summary, zone);
    if let Value::Object(m) = &mut data {
        m.insert("unit".into(), json!(chart.unit));
        m.insert(
            "trace_type".into(),
            json!(chart.trace_type.clone().unwrap_or_default()),
        );
        m.insert(
            "trace_order".into(),
            json!(chart.trace_order.clone().unwrap_or_default()),
        );
        m.insert("calculate_total".into(), json!(chart.calculate_total));
        m.insert("connect_points".into(), json!(chart.connect_points));
        m.insert("colors".into(), json!(chart.colors));
    }
    data
}

/// The static attributes the device charts API adds to [`chart_data`]: `description` and
/// `title` with `{metric}` (the metric's name) and the metric's tags (`{ifname}` …)
/// substituted, `type`, `unit`, `summary_labels`, `colors`, `colorscale` (null when unset),
/// then `fill`, `xaxis`, `yaxis`, `trace_type`, `trace_order`, `calculate_total`,
/// `connect_points`, `trace_labels` only when set and non-empty/true.
///
/// # Errors
/// [`RenderError::UnknownPlaceholder`] / [`RenderError::BadTemplate`] when the title or
/// description names a tag the metric does not have.
pub fn chart_attributes(
    chart: &ChartConfig,
    tags: &BTreeMap<String, String>,
    metric_name: &str,
) -> Result<Map<String, Value>, RenderError> {
    let mut params = BTreeMap::new();
    params.insert("metric".to_owned(), metric_name.to_owned());
    params.extend(tags.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut m = Map::new();
    m.insert(
        "description".into(),
        Value::String(format_text(&chart.description, &params)?),
    );
    m.insert(
        "title".into(),
        Value::String(format_text(&chart.title, &params)?),
    );
    m.insert("type".into(), json!(chart.chart_type));
    m.insert("unit".into(), json!(chart.unit));
    m.insert("summary_labels".into(), json!(chart.summary_labels));
    m.insert("colors".into(), json!(chart.colors));
    m.insert("colorscale".into(), json!(chart.colorscale));
    if let Some(fill) = chart.fill.as_ref().filter(|f| !f.is_empty()) {
        m.insert("fill".into(), json!(fill));
    }
    for (key, axis) in [("xaxis", &chart.xaxis), ("yaxis", &chart.yaxis)] {
        if let Some(a) = axis.as_ref().filter(|a| !a.is_empty()) {
            m.insert(key.into(), Value::Object(a.clone()));
        }
    }
    if let Some(t) = chart.trace_type.as_ref().filter(|t| !t.is_empty()) {
        m.insert("trace_type".into(), json!(t));
    }
    if let Some(t) = chart.trace_order.as_ref().filter(|t| !t.is_empty()) {
        m.insert("trace_order".into(), json!(t));
    }
    if chart.calculate_total {
        m.insert("calculate_total".into(), Value::Bool(true));
    }
    if chart.connect_points {
        m.insert("connect_points".into(), Value::Bool(true));
    }
    if let Some(t) = chart.trace_labels.as_ref().filter(|t| !t.is_empty()) {
        m.insert("trace_labels".into(), json!(t));
    }
    Ok(m)
}

/// Upstream `_get_top_fields`: from the answer of
/// [`render_top_fields_query`](super::render_top_fields_query) (one row of `sum_<field>`
/// columns), the `n` fields with the largest sums, largest first, `sum_` removed. Nulls and
/// non-numbers are skipped; ties come out in reverse column order, as upstream's stable
/// ascending sort followed by a reversal gives them.
pub fn top_fields(summary: &QueryResult, n: usize) -> Vec<String> {
    let Some(row) = summary.rows.first() else {
        return Vec::new();
    };
    let mut sums: Vec<(&str, f64)> = summary
        .columns
        .iter()
        .zip(&row.values)
        .filter(|(c, _)| c.as_str() != "time")
        .filter_map(|(c, v)| v.as_f64().map(|f| (c.as_str(), f)))
        .collect();
    sums.sort_by(|a, b| a.1.total_cmp(&b.1));
    sums.iter()
        .rev()
        .take(n)
        .map(|(c, _)| c.replace("sum_", ""))
        .collect()
}

/// The key the device charts API sorts charts by: `"<order> <title>"` (a string, so `1000`
/// sorts before `200`, as upstream's does; equal keys collapse into one chart upstream).
pub fn sort_key(order: i64, title: &str) -> String {
    format!("{order} {title}")
}

#[cfg(test)]
mod tests;
