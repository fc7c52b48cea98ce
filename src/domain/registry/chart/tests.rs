//! Chart JSON against spec §2.5, and Python-compatible rounding.

use serde_json::json;

use super::*;
use crate::domain::registry::Registry;

fn chart(name: &str) -> ChartConfig {
    Registry::defaults().chart(name).unwrap().clone()
}

fn result(columns: &[&str], rows: Vec<(i64, Vec<Value>)>) -> QueryResult {
    QueryResult {
        columns: columns.iter().map(|c| (*c).to_owned()).collect(),
        rows: rows
            .into_iter()
            .map(|(time, values)| ResultRow { time, values })
            .collect(),
    }
}

fn rome() -> Zone {
    Zone::named("Europe/Rome").unwrap()
}

#[test]
fn python_round_matches_cpython() {
    // Expected values are CPython 3.11's round().
    let cases: [(f64, u32, f64); 14] = [
        (2.675, 2, 2.67),
        (0.125, 2, 0.12),
        (0.375, 2, 0.38),
        (0.005, 4, 0.005),
        (1.005, 2, 1.0),
        (0.045, 2, 0.04),
        (2.5, 0, 2.0),
        (-0.125, 2, -0.12),
        (0.00005, 4, 0.0001),
        (93.333333, 2, 93.33),
        (0.0099999, 4, 0.01),
        (-1.23456, 4, -1.2346),
        (1e20, 2, 1e20),
        (123456.785, 2, 123456.79),
    ];
    for (x, n, want) in cases {
        assert_eq!(
            python_round(x, n).to_bits(),
            want.to_bits(),
            "round({x}, {n})"
        );
    }
    // Signed zeros survive as Python's do.
    assert_eq!(python_round(0.00001, 4).to_bits(), 0.0f64.to_bits());
    assert_eq!(python_round(-0.00001, 4).to_bits(), (-0.0f64).to_bits());
    assert!(python_round(f64::NAN, 2).is_nan());
    assert_eq!(python_round(f64::INFINITY, 2), f64::INFINITY);
    assert_eq!(python_round(0.1, 400), 0.1);
}

#[test]
fn two_or_four_decimals() {
    assert_eq!(round_value(93.333333), 93.33);
    assert_eq!(round_value(0.005), 0.005);
    assert_eq!(round_value(0.0012345), 0.0012);
    assert_eq!(round_value(0.01), 0.01);
    assert_eq!(round_value(0.0099999), 0.01);
    // Every negative value gets 4 decimals.
    assert_eq!(round_value(-1.23456), -1.2346);
    assert_eq!(round_value(-75.123456), -75.1235);
}

#[test]
fn traces_x_and_summary() {
    let rtt = chart("rtt");
    let points = result(
        &["RTT_average", "RTT_max", "RTT_min", "avg"],
        vec![
            (
                1_715_677_200,
                vec![json!(12.3456), json!(20.0), json!(0.004567), json!(5)],
            ),
            (
                1_715_680_800,
                vec![Value::Null, json!(-3.333333), json!(0.0)],
            ),
        ],
    );
    let summary = result(
        &["RTT_average", "RTT_max", "RTT_min", "avg", "time"],
        vec![(
            0,
            vec![json!(10.123), json!(0), Value::Null, json!(0.0), json!(7)],
        )],
    );
    let got = chart_data(&rtt, &points, &summary, &rome());
    assert_eq!(
        got,
        json!({
            "traces": [
                ["RTT_average", [12.35, null]],
                ["RTT_max", [20.0, -3.3333]],
                ["RTT_min", [0.0046, 0.0]],
                ["avg", [5, null]]
            ],
            "x": ["2024-05-14 11:00", "2024-05-14 12:00"],
            "summary": {"RTT_average": 10.12, "RTT_max": 0, "RTT_min": null, "avg": 0.0}
        })
    );
    // Integers stay integers, floats stay floats, in the JSON text too.
    let text = serde_json::to_string(&got).unwrap();
    assert!(text.contains("[\"RTT_max\",[20.0,-3.3333]]"), "{text}");
    assert!(text.contains("[\"avg\",[5,null]]"), "{text}");
}

#[test]
fn trace_names_sort_by_code_point() {
    let points = result(
        &["upload", "download", "Total", "_x"],
        vec![(0, vec![json!(1.0), json!(2.0), json!(3.0), json!(4.0)])],
    );
    let got = chart_data(
        &chart("traffic"),
        &points,
        &QueryResult::default(),
        &Zone::utc(),
    );
    let names: Vec<&str> = got["traces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t[0].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Total", "_x", "download", "upload"]);
    assert!(got.get("summary").is_none(), "no summary row, no summary");
    assert_eq!(got["x"], json!(["1970-01-01 00:00"]));
}

#[test]
fn x_labels_follow_the_zone() {
    let points = result(
        &["uptime"],
        vec![
            (1_711_845_000, vec![json!(100.0)]),
            (1_711_848_600, vec![json!(100.0)]),
            (-60, vec![json!(true)]),
        ],
    );
    let got = chart_data(&chart("uptime"), &points, &QueryResult::default(), &rome());
    // 00:30 UTC is 01:30 CET; an hour later the clocks have jumped to CEST.
    assert_eq!(
        got["x"],
        json!(["2024-03-31 01:30", "2024-03-31 03:30", "1970-01-01 00:59"])
    );
    // A boolean is a Python int: rounded to 1.
    assert_eq!(got["traces"][0][1], json!([100.0, 100.0, 1]));
    let utc = chart_data(
        &chart("uptime"),
        &points,
        &QueryResult::default(),
        &Zone::utc(),
    );
    assert_eq!(utc["x"][2], json!("1969-12-31 23:59"));
}

#[test]
fn short_rows_and_time_columns() {
    let points = result(
        &["time", "a", "b"],
        vec![(0, vec![json!(0), json!(1.0)]), (60, Vec::new())],
    );
    let got = chart_data(
        &chart("cpu"),
        &points,
        &QueryResult::default(),
        &Zone::utc(),
    );
    assert_eq!(
        got["traces"],
        json!([["a", [1.0, null]], ["b", [null, null]]])
    );
    assert_eq!(got["x"], json!(["1970-01-01 00:00", "1970-01-01 00:01"]));
    let empty = chart_data(
        &chart("cpu"),
        &QueryResult::default(),
        &QueryResult::default(),
        &Zone::utc(),
    );
    assert_eq!(empty, json!({"traces": [], "x": []}));
}

#[test]
fn summary_of_a_non_aggregate_query_is_null() {
    let mut c = chart("cpu");
    c.query = Some("SELECT cpu_usage FROM {key} WHERE time >= '{time}'".into());
    let summary = result(&["cpu_usage"], vec![(0, vec![json!(12.345)])]);
    let got = chart_data(&c, &QueryResult::default(), &summary, &Zone::utc());
    assert_eq!(got["summary"], json!({"cpu_usage": null}));
    c.query = None;
    let got = chart_data(&c, &QueryResult::default(), &summary, &Zone::utc());
    assert_eq!(got["summary"], json!({"cpu_usage": null}));
    // False is kept (not truthy), strings pass through.
    let summary = result(&["a", "b"], vec![(0, vec![json!(false), json!("x")])]);
    let got = chart_data(
        &chart("cpu"),
        &QueryResult::default(),
        &summary,
        &Zone::utc(),
    );
    assert_eq!(got["summary"], json!({"a": false, "b": "x"}));
}

#[test]
fn device_api_attributes() {
    let tags: BTreeMap<String, String> = [
        ("content_type".to_owned(), "config.device".to_owned()),
        ("ifname".to_owned(), "eth0".to_owned()),
    ]
    .into();
    let got = chart_attributes(&chart("traffic"), &tags, "eth0 traffic").unwrap();
    assert_eq!(
        Value::Object(got),
        json!({
            "description": "Network traffic (total, download and upload) of the interface \"eth0\".",
            "title": "Traffic: eth0",
            "type": "stackedbar+lines",
            "unit": "adaptive_prefix+B",
            "summary_labels": ["Total traffic", "Total download traffic", "Total upload traffic"],
            "colors": ["#7f7f7f", "#1f77b4", "#ff7f0e"],
            "colorscale": null,
            "trace_type": {"download": "stackedbar", "upload": "stackedbar", "total": "lines"},
            "trace_order": ["total", "download", "upload"],
            "calculate_total": true
        })
    );
    let got = chart_attributes(&chart("uptime"), &tags, "Ping").unwrap();
    assert_eq!(got["title"], json!("Ping Success Rate"));
    assert_eq!(got["colors"], json!(["#1f77b4"]));
    assert_eq!(got["colorscale"]["fixed_value"], json!(100));
    assert_eq!(
        got["colorscale"]["map"][4],
        json!([null, "#c13000", "Unreachable"])
    );
    for absent in [
        "fill",
        "xaxis",
        "yaxis",
        "trace_type",
        "calculate_total",
        "connect_points",
    ] {
        assert!(!got.contains_key(absent), "{absent}");
    }
    let got = chart_attributes(&chart("signal_strength"), &tags, "signal strength").unwrap();
    assert_eq!(got["fill"], json!("none"));
    assert_eq!(got["yaxis"], json!({"zeroline": false}));
    let got = chart_attributes(&chart("datagram"), &BTreeMap::new(), "Iperf3").unwrap();
    assert_eq!(got["connect_points"], json!(true));
    let got = chart_attributes(&chart("access_tech"), &BTreeMap::new(), "x").unwrap();
    assert_eq!(got["summary_labels"], Value::Null);
    assert_eq!(got["colors"], Value::Null);
    // {metric} is the metric's name; a missing tag is an error, not a panic.
    let mut c = chart("cpu");
    c.title = "{metric} on {ifname}".into();
    assert_eq!(
        chart_attributes(&c, &tags, "CPU usage").unwrap()["title"],
        json!("CPU usage on eth0")
    );
    assert_eq!(
        chart_attributes(&chart("wifi_clients"), &BTreeMap::new(), "x"),
        Err(RenderError::UnknownPlaceholder("ifname".into()))
    );
}

#[test]
fn admin_chart_json() {
    let points = result(&["CPU_load"], vec![(0, vec![json!(1.234)])]);
    let got = chart_json(
        &chart("cpu"),
        &points,
        &QueryResult::default(),
        &Zone::utc(),
    );
    assert_eq!(
        got,
        json!({
            "traces": [["CPU_load", [1.23]]], "x": ["1970-01-01 00:00"],
            "unit": "%", "trace_type": {}, "trace_order": [], "calculate_total": false,
            "connect_points": false, "colors": ["#7f7f7f"]
        })
    );
}

#[test]
fn sort_key_is_textual() {
    let mut keys = [
        sort_key(240, "Traffic: wlan0"),
        sort_key(200, "Ping Success Rate"),
        sort_key(1000, "Custom"),
        sort_key(240, "Traffic: eth0"),
    ];
    keys.sort();
    assert_eq!(
        keys,
        [
            "1000 Custom",
            "200 Ping Success Rate",
            "240 Traffic: eth0",
            "240 Traffic: wlan0"
        ]
    );
}

#[test]
fn top_fields_by_sum() {
    let summary = result(
        &[
            "time",
            "sum_ssh",
            "sum_http",
            "sum_apple-music",
            "sum_dns",
            "sum_ntp",
        ],
        vec![(
            0,
            vec![
                json!(0),
                json!(10),
                json!(300.5),
                json!(10),
                Value::Null,
                json!(2),
            ],
        )],
    );
    assert_eq!(top_fields(&summary, 3), ["http", "apple-music", "ssh"]);
    assert_eq!(
        top_fields(&summary, 10),
        ["http", "apple-music", "ssh", "ntp"]
    );
    assert!(top_fields(&summary, 0).is_empty());
    assert!(top_fields(&QueryResult::default(), 3).is_empty());
}

proptest::proptest! {
    /// Rounding is idempotent and moves a value by at most half a unit of the last kept digit
    /// (plus float error).
    #[test]
    fn rounding_is_stable(x in -1e9f64..1e9) {
        let r = round_value(x);
        proptest::prop_assert_eq!(round_value(r).to_bits(), r.to_bits());
        let unit = if x < 0.01 { 1e-4 } else { 1e-2 };
        proptest::prop_assert!((r - x).abs() <= unit / 2.0 + x.abs() * 1e-15 + 1e-12);
    }

    /// Any bucket time and value gives chart JSON (no overflow at the ends of i64).
    #[test]
    fn any_row_renders(t in proptest::num::i64::ANY, v in proptest::num::f64::ANY) {
        let points = result(&["a"], vec![(t, vec![json!(v)])]);
        let got = chart_data(&chart("cpu"), &points, &points, &rome());
        proptest::prop_assert_eq!(got["x"][0].as_str().map(str::len).unwrap_or(0) >= 16, true);
    }
}
