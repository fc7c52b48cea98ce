//! A device's charts (spec §4.2): every chart of every metric of the device, each an InfluxQL
//! query rendered from the registry and run by our own engine, shaped as upstream's API
//! answers, plus the CSV export of the same data.
//!
//! Owns: the request's validation (with upstream's exact messages), which charts appear and in
//! what order, and the CSV layout. Query text and chart JSON come from [`super::registry`].
//!
//! Departure from upstream, on purpose: two charts with the same order and title (two mobile
//! interfaces' signal charts) are both shown; upstream keeps only one (§11 quirk 10).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::error::DomainError;
use super::id::Id;
use super::ingest::DEVICE_CONTENT_TYPE;
use super::metric::Metric;
use super::registry::{
    self, MetricObject, QueryResult, RenderError, RenderParams, ResultRow, Timeframe,
};
use super::runs::PING_RTT_MEASUREMENT as PING_RTT;
use super::timeseries::Timeseries;
use crate::time::Zone;

/// What the caller asked for.
#[derive(Debug, Clone, Default)]
pub struct ChartRequest {
    /// `time`: `<N>d`, default the configured default chart time.
    pub time: Option<String>,
    /// `start` of a custom range, `YYYY-MM-DD HH:MM:SS`.
    pub start: Option<String>,
    /// `end` of a custom range.
    pub end: Option<String>,
    /// IANA zone for buckets and labels, default UTC.
    pub timezone: Option<String>,
}

/// A validated request.
#[derive(Debug, Clone)]
pub struct Window {
    timeframe: Timeframe,
    zone: Zone,
}

fn refused(msg: &str) -> DomainError {
    DomainError::Refused(msg.to_owned())
}

/// Validates a request in upstream's order, with its messages (each becomes a one-element
/// JSON list in a 400).
///
/// # Errors
/// `DomainError::Refused` with the message.
pub fn validate(req: &ChartRequest, default_time: &str, now: i64) -> Result<Window, DomainError> {
    let zone = match req.timezone.as_deref() {
        None | Some("") => Zone::utc(),
        Some(z) => Zone::named(z).map_err(|_| refused("Unkown Time Zone"))?,
    };
    let timeframe = match (req.start.as_deref(), req.end.as_deref()) {
        (Some(s), Some(e)) => {
            let tf = Timeframe::custom(s, e).map_err(|err| match err {
                RenderError::CustomRangeTooLong => {
                    refused("The date range shouldn't be greater than 365 days")
                }
                RenderError::StartAfterEnd => refused("start_date cannot be greater than end_date"),
                _ => refused("Incorrect custom date format, should be YYYY-MM-DD H:M:S"),
            })?;
            // The strings are the browser's wall clock: compare them with now in its zone.
            let local = |t: &str| zone.parse_time(t).ok();
            if local(s).is_some_and(|t| t > now) {
                return Err(refused("start_date cannot be greater than today's date"));
            }
            if local(e).is_some_and(|t| t > now) {
                return Err(refused("end_date cannot be greater than today's date"));
            }
            tf
        }
        _ => {
            let t = req.time.as_deref().unwrap_or(default_time);
            Timeframe::parse(t).map_err(|_| refused("Time range not supported"))?
        }
    };
    Ok(Window { timeframe, zone })
}

/// Runs one chart query against `db`; rows as (epoch seconds, values).
fn run(ts: &dyn Timeseries, db: &str, q: &str, now: i64) -> Result<QueryResult, DomainError> {
    let r = ts.select(db, q, now)?;
    Ok(QueryResult {
        columns: r.columns,
        rows: r
            .rows
            .into_iter()
            .map(|(t, values)| ResultRow {
                time: t.div_euclid(1_000_000_000),
                values,
            })
            .collect(),
    })
}

/// Charts in display order and the `x` labels they share.
pub type Charts = (Vec<Value>, Option<Value>);

/// One rendered chart with its ordering key.
struct Rendered {
    key: String,
    histogram: bool,
    json: Map<String, Value>,
    x: Option<Value>,
}

/// What one chart is drawn from.
struct ChartSource<'a> {
    chart_name: &'a str,
    metric_name: &'a str,
    field_name: &'a str,
    key: &'a str,
    object: Option<MetricObject>,
    tags: BTreeMap<String, String>,
    extra: BTreeMap<String, registry::ParamValue>,
}

/// Renders, runs and shapes one chart; `None` when it has no data (or no configuration).
fn draw(
    ts: &dyn Timeseries,
    registry: &registry::Registry,
    db: &str,
    src: ChartSource<'_>,
    window: &Window,
    now: i64,
) -> Result<Option<Rendered>, DomainError> {
    let name = src.chart_name;
    let Some(chart) = registry.chart(name) else {
        return Ok(None);
    };
    let params = |summary: bool| RenderParams {
        field_name: src.field_name.to_owned(),
        key: src.key.to_owned(),
        object: src.object.clone(),
        timeframe: window.timeframe.clone(),
        now,
        timezone: window.zone.name().to_owned(),
        extra: src.extra.clone(),
        fields: None,
        summary,
    };
    let render = |summary: bool| {
        registry::render(chart, &params(summary))
            .map_err(|e| DomainError::Chart(format!("chart {name}: {e}")))
    };
    let points = run(ts, db, &render(false)?, now)?;
    let summary = run(ts, db, &render(true)?, now)?;
    shape(chart, &points, &summary, window, &src.tags, src.metric_name)
}

/// A chart's JSON from its query results; `None` without data.
fn shape(
    chart: &registry::ChartConfig,
    points: &QueryResult,
    summary: &QueryResult,
    window: &Window,
    tags: &BTreeMap<String, String>,
    metric_name: &str,
) -> Result<Option<Rendered>, DomainError> {
    let name = &chart.title;
    let Value::Object(mut data) = registry::chart_data(chart, points, summary, &window.zone) else {
        return Ok(None);
    };
    if data
        .get("traces")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty)
    {
        return Ok(None);
    }
    let attrs = registry::chart_attributes(chart, tags, metric_name)
        .map_err(|e| DomainError::Chart(format!("chart {name}: {e}")))?;
    let title = attrs
        .get("title")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let histogram = chart.chart_type == "histogram";
    let x = data.remove("x");
    let mut json = attrs;
    json.extend(data);
    let x = if histogram {
        if let Some(x) = x {
            json.insert("x".into(), x);
        }
        None
    } else {
        x
    };
    Ok(Some(Rendered {
        key: registry::sort_key(chart.order, &title),
        histogram,
        json,
        x,
    }))
}

/// Orders rendered charts and takes the shared `x` from the first non-histogram one.
fn assemble(mut rendered: Vec<Rendered>) -> (Vec<Value>, Option<Value>) {
    rendered.sort_by(|a, b| a.key.cmp(&b.key));
    let mut x = None;
    let charts = rendered
        .into_iter()
        .map(|r| {
            if x.is_none() && !r.histogram {
                x = r.x;
            }
            Value::Object(r.json)
        })
        .collect();
    (charts, x)
}

/// The charts of `metrics` (one device's) over `window`: `(charts, x)`.
///
/// # Errors
/// A chart that cannot be rendered (a bad registry override) or engine failure.
pub fn device_charts(
    ts: &dyn Timeseries,
    registry: &registry::Registry,
    db: &str,
    metrics: &[Metric],
    window: &Window,
    now: i64,
) -> Result<(Vec<Value>, Option<Value>), DomainError> {
    let mut rendered = Vec::new();
    for m in metrics {
        let mut tags: BTreeMap<String, String> = m.main_tags.iter().cloned().collect();
        for (k, v) in &m.extra_tags {
            tags.entry(k.clone()).or_insert_with(|| v.clone());
        }
        for name in &m.charts {
            let src = ChartSource {
                chart_name: name,
                metric_name: &m.name,
                field_name: &m.field_name,
                key: &m.key,
                object: m.object_id.map(|o| MetricObject {
                    content_type: DEVICE_CONTENT_TYPE.to_owned(),
                    object_id: o.to_string(),
                    tags: tags.clone(),
                }),
                tags: tags.clone(),
                extra: BTreeMap::new(),
            };
            rendered.extend(draw(ts, registry, db, src, window, now)?);
        }
    }
    Ok(assemble(rendered))
}

/// One device's ping latency distribution over `window` (the "smoke" chart): per group-by
/// bucket the minimum, quartiles, median and maximum of every individual reply's round-trip
/// time (ms), the mean loss (%) of the rounds (in `ping_key`), and how many replies there were. Empty buckets
/// are `null`, so the series stay aligned on `x` (epoch seconds).
///
/// # Errors
/// Bad parameters of the window, engine failure.
pub fn ping_latency(
    ts: &dyn Timeseries,
    db: &str,
    ping_key: &str,
    device: Id,
    window: &Window,
    now: i64,
) -> Result<Value, DomainError> {
    let Clauses {
        range,
        interval,
        tz,
    } = clauses(window, now)?;
    let scope =
        format!("{range} AND content_type = '{DEVICE_CONTENT_TYPE}' AND object_id = '{device}'");
    let rtt = run(
        ts,
        db,
        &format!(
            "SELECT min(rtt), percentile(rtt, 25), median(rtt), percentile(rtt, 75), max(rtt), \
             count(rtt) FROM {PING_RTT} WHERE {scope} GROUP BY time({interval}) fill(null){tz}"
        ),
        now,
    )?;
    let loss = run(
        ts,
        db,
        &format!(
            "SELECT mean(loss) FROM {ping_key} WHERE {scope} GROUP BY time({interval}) fill(null){tz}"
        ),
        now,
    )?;
    let losses: BTreeMap<i64, Value> = loss
        .rows
        .into_iter()
        .map(|r| (r.time, r.values.into_iter().next().unwrap_or(Value::Null)))
        .collect();
    let mut out: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    let names = ["min", "p25", "p50", "p75", "max"];
    let mut samples = 0u64;
    for r in &rtt.rows {
        out.entry("x").or_default().push(json!(r.time));
        for (i, n) in names.iter().enumerate() {
            let v = r.values.get(i).cloned().unwrap_or(Value::Null);
            let v = v
                .as_f64()
                .map_or(Value::Null, |f| json!(registry::round_value(f)));
            out.entry(n).or_default().push(v);
        }
        samples += r.values.get(5).and_then(Value::as_u64).unwrap_or(0);
        out.entry("loss").or_default().push(
            losses
                .get(&r.time)
                .and_then(Value::as_f64)
                .map_or(Value::Null, |f| json!(registry::round_value(f))),
        );
    }
    let mut v = json!({"samples": samples, "unit": "ms", "interval": interval});
    for k in ["x", "min", "p25", "p50", "p75", "max", "loss"] {
        v[k] = Value::Array(out.remove(k).unwrap_or_default());
    }
    Ok(v)
}

/// The charts of wispmon's own numbers (`[telemetry] database`), over `window`: request and
/// ingest rates, write errors, memory, disk and series. Each is a plain InfluxQL query on the
/// measurements the self-monitoring writer stores (one point per interval of cumulative
/// counters and gauges), so they read alike from the embedded engine and a remote InfluxDB.
///
/// # Errors
/// Bad parameters of the window, store failure.
pub fn system_charts(
    ts: &dyn Timeseries,
    db: &str,
    window: &Window,
    now: i64,
) -> Result<Charts, DomainError> {
    let Clauses {
        range,
        interval,
        tz,
    } = clauses(window, now)?;
    let rate = |m: &str, alias: &str| {
        format!(
            "SELECT NON_NEGATIVE_DERIVATIVE(MAX(value), 1s) AS \"{alias}\" FROM {m} WHERE {range} \
             GROUP BY time({interval}) fill(null){tz}"
        )
    };
    // Byte charts in megabytes: values are rounded as upstream rounds chart values (two
    // decimals), which would flatten gigabytes of a small appliance.
    let gauge = |m: &str, alias: &str, scale: &str| {
        format!(
            "SELECT MAX(value){scale} AS \"{alias}\" FROM {m} WHERE {range} \
             GROUP BY time({interval}) fill(null){tz}"
        )
    };
    let mega = " / 1000000";
    // (order, title, description, unit, colour, points query, summary query, summary label)
    let charts = [
        (
            10,
            "Requests",
            "HTTP requests answered per second, every route together.",
            " req/s",
            "#1f77b4",
            format!(
                "SELECT SUM(r) AS \"requests\" FROM (SELECT NON_NEGATIVE_DERIVATIVE(MAX(value), 1s) \
                 AS r FROM wispmon_http_requests_total WHERE {range} GROUP BY time({interval}), *) \
                 WHERE {range} GROUP BY time({interval}) fill(null){tz}"
            ),
            format!(
                "SELECT SUM(r) AS \"requests\" FROM (SELECT SPREAD(value) AS r FROM \
                 wispmon_http_requests_total WHERE {range} GROUP BY *) WHERE {range}"
            ),
            "Requests in the period",
        ),
        (
            20,
            "Points written",
            "Points stored per second: device samples, check results and /write.",
            " points/s",
            "#2ca02c",
            rate("wispmon_points_written_total", "points"),
            format!(
                "SELECT SPREAD(value) AS \"points\" FROM wispmon_points_written_total WHERE {range}"
            ),
            "Points in the period",
        ),
        (
            30,
            "Write errors",
            "Write batches that failed as a whole, per second (nothing of them was acknowledged).",
            " errors/s",
            "#d62728",
            rate("wispmon_write_errors_total", "errors"),
            format!(
                "SELECT SPREAD(value) AS \"errors\" FROM wispmon_write_errors_total WHERE {range}"
            ),
            "Errors in the period",
        ),
        (
            40,
            "Memory",
            "Resident memory of the wispmon process.",
            " MB",
            "#9467bd",
            gauge("process_resident_memory_bytes", "memory", mega),
            format!(
                "SELECT LAST(value){mega} AS \"memory\" FROM process_resident_memory_bytes \
                 WHERE {range}"
            ),
            "Latest",
        ),
        (
            50,
            "Disk",
            "Space the embedded database occupies on disk.",
            " MB",
            "#8c564b",
            gauge("wispmon_engine_disk_bytes", "disk", mega),
            format!(
                "SELECT LAST(value){mega} AS \"disk\" FROM wispmon_engine_disk_bytes WHERE {range}"
            ),
            "Latest",
        ),
        (
            60,
            "Series",
            "Series in the embedded engine's index.",
            "",
            "#ff7f0e",
            gauge("wispmon_engine_series", "series", ""),
            format!("SELECT LAST(value) AS \"series\" FROM wispmon_engine_series WHERE {range}"),
            "Latest",
        ),
    ];
    let mut rendered = Vec::new();
    for (order, title, description, unit, colour, points_q, summary_q, label) in charts {
        let chart: registry::ChartConfig = serde_json::from_value(json!({
            "type": "scatter",
            "title": title,
            "description": description,
            "unit": unit,
            "order": order,
            "colors": [colour],
            "summary_labels": [label],
            "query": points_q,
        }))
        .map_err(|e| DomainError::Chart(format!("chart {title}: {e}")))?;
        let points = run(ts, db, &points_q, now)?;
        let summary = run(ts, db, &summary_q, now)?;
        rendered.extend(shape(
            &chart,
            &points,
            &summary,
            window,
            &BTreeMap::new(),
            "wispmon",
        )?);
    }
    Ok(assemble(rendered))
}

/// The InfluxQL pieces of a window, for queries written here rather than from the registry.
struct Clauses {
    /// `time >= '…'` and, for a custom range, `AND time <= '…'`.
    range: String,
    /// The `GROUP BY time(…)` interval.
    interval: String,
    /// ` tz('…')`, empty for UTC.
    tz: String,
}

fn clauses(window: &Window, now: i64) -> Result<Clauses, DomainError> {
    let start = window
        .timeframe
        .start(now)
        .map_err(|e| DomainError::Chart(e.to_string()))?;
    let end = match window.timeframe.range_end() {
        Some(e) => format!(" AND time <= '{e}'"),
        None => String::new(),
    };
    let tz = if window.zone.name() == "UTC" {
        String::new()
    } else {
        format!(" tz('{}')", window.zone.name())
    };
    Ok(Clauses {
        range: format!("time >= '{start}'{end}"),
        interval: window.timeframe.interval(),
        tz,
    })
}

/// Filters of the dashboard's general charts (spec §4.6); empty lists mean "no filter".
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Organizations (`None`: every organization, for superusers without a filter).
    pub organizations: Option<Vec<String>>,
    /// Locations.
    pub locations: Vec<String>,
    /// Floor plans.
    pub floorplans: Vec<String>,
    /// Interfaces counted in general traffic (cleaned names).
    pub interfaces: Vec<String>,
}

/// The general (network-wide) charts over `window` within `scope`: `(charts, x)`.
///
/// # Errors
/// A chart that cannot be rendered or engine failure.
pub fn general_charts(
    ts: &dyn Timeseries,
    registry: &registry::Registry,
    db: &str,
    scope: &Scope,
    window: &Window,
    now: i64,
) -> Result<(Vec<Value>, Option<Value>), DomainError> {
    use registry::ParamValue as P;
    let mut extra = BTreeMap::new();
    if let Some(orgs) = &scope.organizations {
        extra.insert("organization_id".to_owned(), P::List(orgs.clone()));
    }
    if !scope.locations.is_empty() {
        extra.insert("location_id".to_owned(), P::List(scope.locations.clone()));
    }
    if !scope.floorplans.is_empty() {
        extra.insert("floorplan_id".to_owned(), P::List(scope.floorplans.clone()));
    }
    let mut rendered = Vec::new();
    for metric_name in ["general_clients", "general_traffic"] {
        let Some(cfg) = registry.metric(metric_name) else {
            continue;
        };
        let mut extra = extra.clone();
        if metric_name == "general_traffic" {
            extra.insert("ifname".to_owned(), P::List(scope.interfaces.clone()));
        }
        for chart in &cfg.charts {
            let src = ChartSource {
                chart_name: chart,
                metric_name: &cfg.name,
                field_name: &cfg.field_name,
                key: &cfg.key,
                object: None,
                tags: BTreeMap::new(),
                extra: extra.clone(),
            };
            rendered.extend(draw(ts, registry, db, src, window, now)?);
        }
    }
    Ok(assemble(rendered))
}

/// Python's `repr` of a number as the CSV export prints it (`3`, `2.0`, `9.73`, `1e-05`).
pub fn python_number(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(0.0);
            let a = f.abs();
            if a != 0.0 && !(1e-4..1e16).contains(&a) {
                let s = format!("{f:e}");
                let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
                let (sign, digits) = e.strip_prefix('-').map_or(("+", e), |d| ("-", d));
                format!("{m}e{sign}{digits:0>2}")
            } else if f.fract() == 0.0 {
                format!("{f:.1}")
            } else {
                format!("{f}")
            }
        }
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// The CSV export of charts (spec §4.2): `time`, then `<trace> - <title>` per trace of every
/// non-histogram chart in chart order, one row per `x`; then, per histogram chart, an empty
/// row, its title, and `field,value` rows by value descending (null as 0).
pub fn csv(charts: &[Value], x: Option<&Value>) -> String {
    let mut header = vec!["time".to_owned()];
    let mut columns: Vec<&Vec<Value>> = Vec::new();
    for c in charts.iter().filter(|c| c["type"] != "histogram") {
        let title = c["title"].as_str().unwrap_or_default();
        for t in c["traces"].as_array().into_iter().flatten() {
            header.push(format!("{} - {title}", t[0].as_str().unwrap_or_default()));
            if let Some(vals) = t[1].as_array() {
                columns.push(vals);
            }
        }
    }
    let mut out = String::new();
    let line = |cells: &[String]| -> String {
        let v: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        v.join(",") + "\r\n"
    };
    out.push_str(&line(&header));
    for (i, label) in x
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let mut row = vec![label.as_str().unwrap_or_default().to_owned()];
        for col in &columns {
            row.push(col.get(i).map(python_number).unwrap_or_default());
        }
        out.push_str(&line(&row));
    }
    for c in charts.iter().filter(|c| c["type"] == "histogram") {
        out.push_str("\r\n");
        out.push_str(&line(&[c["title"].as_str().unwrap_or_default().to_owned()]));
        let mut pairs: Vec<(String, f64, String)> = c["traces"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| {
                let v = t[1].get(0).cloned().unwrap_or(Value::Null);
                let f = v.as_f64().unwrap_or(0.0);
                let shown = if v.is_null() {
                    "0".to_owned()
                } else {
                    python_number(&v)
                };
                (t[0].as_str().unwrap_or_default().to_owned(), f, shown)
            })
            .collect();
        pairs.sort_by(|a, b| b.1.total_cmp(&a.1));
        for (name, _, shown) in pairs {
            out.push_str(&line(&[name, shown]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_715_681_700 * 1_000_000_000;

    fn req(
        time: Option<&str>,
        start: Option<&str>,
        end: Option<&str>,
        tz: Option<&str>,
    ) -> ChartRequest {
        ChartRequest {
            time: time.map(str::to_owned),
            start: start.map(str::to_owned),
            end: end.map(str::to_owned),
            timezone: tz.map(str::to_owned),
        }
    }

    fn msg(r: &ChartRequest) -> String {
        match validate(r, "7d", NOW) {
            Err(DomainError::Refused(m)) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn requests_are_refused_with_upstreams_messages_in_its_order() {
        assert_eq!(
            msg(&req(Some("3w"), None, None, Some("Mars/Olympus"))),
            "Unkown Time Zone"
        );
        assert_eq!(
            msg(&req(
                None,
                Some("2024-05-01"),
                Some("2024-05-02 00:00:00"),
                None
            )),
            "Incorrect custom date format, should be YYYY-MM-DD H:M:S"
        );
        assert_eq!(
            msg(&req(
                None,
                Some("2023-01-01 00:00:00"),
                Some("2024-05-02 00:00:00"),
                None
            )),
            "The date range shouldn't be greater than 365 days"
        );
        assert_eq!(
            msg(&req(
                None,
                Some("2024-05-03 00:00:00"),
                Some("2024-05-02 00:00:00"),
                None
            )),
            "start_date cannot be greater than end_date"
        );
        assert_eq!(
            msg(&req(
                None,
                Some("2024-05-15 00:00:00"),
                Some("2024-05-16 00:00:00"),
                None
            )),
            "start_date cannot be greater than today's date"
        );
        assert_eq!(
            msg(&req(
                None,
                Some("2024-05-13 00:00:00"),
                Some("2024-05-16 00:00:00"),
                None
            )),
            "end_date cannot be greater than today's date"
        );
        assert_eq!(
            msg(&req(Some("3w"), None, None, None)),
            "Time range not supported"
        );
        assert_eq!(
            msg(&req(Some("xd"), None, None, None)),
            "Time range not supported"
        );
        // Only one of start/end: the time frame applies.
        assert!(
            validate(
                &req(None, Some("2024-05-13 00:00:00"), None, None),
                "7d",
                NOW
            )
            .is_ok()
        );
        assert!(
            validate(
                &req(Some("30d"), None, None, Some("Europe/Rome")),
                "7d",
                NOW
            )
            .is_ok()
        );
    }

    #[test]
    fn numbers_print_as_python_prints_them() {
        for (v, s) in [
            (json!(3), "3"),
            (json!(2.0), "2.0"),
            (json!(9.73), "9.73"),
            (json!(0.0001), "0.0001"),
            (json!(0.00001), "1e-05"),
            (json!(1e16), "1e+16"),
            (json!(-0.5), "-0.5"),
            (Value::Null, ""),
        ] {
            assert_eq!(python_number(&v), s, "{v}");
        }
    }

    #[test]
    fn csv_lays_out_traces_then_histograms() {
        let charts = vec![
            json!({"type": "bar", "title": "WiFi clients: wlan0",
                   "traces": [["wifi_clients", [3, null]]]}),
            json!({"type": "stackedbar+lines", "title": "Traffic: wlan0",
                   "traces": [["download", [2.0, 0.5]], ["upload", [9.73, null]]]}),
            json!({"type": "histogram", "title": "Top apps",
                   "traces": [["ssh", [1.5]], ["web", [7]], ["dns", [null]]]}),
        ];
        let x = json!(["2024-05-14 09:00", "2024-05-14 10:00"]);
        assert_eq!(
            csv(&charts, Some(&x)),
            "time,wifi_clients - WiFi clients: wlan0,download - Traffic: wlan0,upload - Traffic: wlan0\r\n\
             2024-05-14 09:00,3,2.0,9.73\r\n\
             2024-05-14 10:00,,0.5,\r\n\
             \r\n\
             Top apps\r\n\
             web,7\r\n\
             ssh,1.5\r\n\
             dns,0\r\n"
        );
    }
}
