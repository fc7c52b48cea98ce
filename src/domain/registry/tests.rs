//! The embedded defaults, overrides and their validation errors.

use serde_json::{Value, json};

use super::*;

fn with(metrics: Value, charts: Value) -> Result<Registry, RegistryError> {
    Registry::with_overrides(&metrics, &charts)
}

fn err(metrics: Value, charts: Value) -> String {
    match with(metrics, charts) {
        Ok(_) => panic!("override accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn embedded_defaults_parse_and_build() {
    let v: Value = serde_json::from_str(DEFAULTS_JSON).unwrap();
    assert_eq!(v["metrics"].as_object().unwrap().len(), 16);
    assert_eq!(v["charts"].as_object().unwrap().len(), 19);
    let r = validate::build(v).unwrap();
    assert_eq!(&r, Registry::defaults());
    assert_eq!(r.metrics().len(), 16);
    assert_eq!(r.charts().len(), 19);
    // No overrides is the defaults.
    assert_eq!(&with(Value::Null, json!({})).unwrap(), Registry::defaults());
}

#[test]
fn default_metrics_match_the_spec_table() {
    let r = Registry::defaults();
    let ping = r.metric("ping").unwrap();
    assert_eq!(ping.label, "Ping");
    assert_eq!(ping.key, "ping");
    assert_eq!(ping.field_name, "reachable");
    assert_eq!(
        ping.related_fields,
        ["loss", "rtt_min", "rtt_max", "rtt_avg"]
    );
    assert_eq!(
        ping.alert_settings,
        Some(AlertDefaults {
            operator: Operator::LessThan,
            threshold: 1.0,
            tolerance: 30
        })
    );
    assert_eq!(ping.notification_types, ["ping_problem", "ping_recovery"]);
    assert_eq!(ping.charts, ["uptime", "packet_loss", "rtt"]);

    let traffic = r.metric("traffic").unwrap();
    assert_eq!(
        (traffic.key.as_str(), traffic.name.as_str()),
        ("{key}", "{name}")
    );
    assert_eq!(traffic.alert_settings, None);
    assert_eq!(traffic.effective_alert(), FALLBACK_ALERT);
    assert!(!traffic.creates_alert_settings());

    let max = r.metric("wifi_clients_max").unwrap();
    assert_eq!(max.name, "WiFi Clients (Maximum)");
    assert_eq!(max.alert_settings.unwrap().operator, Operator::GreaterThan);
    assert_eq!(max.alert_settings.unwrap().threshold, 50.0);
    assert_eq!(max.alert_settings.unwrap().tolerance, 120);

    let memory = r.metric("memory").unwrap();
    assert_eq!(memory.related_fields.len(), 6);
    assert_eq!(memory.alert_settings.unwrap().threshold, 95.0);

    let iperf3 = r.metric("iperf3").unwrap();
    assert_eq!(iperf3.field_name, "iperf3_result");
    assert_eq!(iperf3.related_fields.len(), 11);
    assert_eq!(iperf3.alert_settings, None);
    assert!(iperf3.alert_settings_inactive);
    assert!(iperf3.creates_alert_settings());
    assert!(iperf3.notification_types.is_empty());
    assert_eq!(
        iperf3.charts,
        [
            "bandwidth",
            "transfer",
            "retransmits",
            "jitter",
            "datagram",
            "datagram_loss"
        ]
    );

    let with_alerts: Vec<&str> = r
        .metrics()
        .iter()
        .filter(|(_, m)| m.creates_alert_settings())
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(
        with_alerts,
        [
            "config_applied",
            "cpu",
            "data_collected",
            "disk",
            "iperf3",
            "memory",
            "ping",
            "wifi_clients_max",
            "wifi_clients_min"
        ]
    );
    assert_eq!(r.metric("signal_quality").unwrap().key, "signal");
    assert_eq!(r.metric("signal_strength").unwrap().key, "{key}");
    assert_eq!(r.metric("general_clients").unwrap().key, "wifi_clients");
}

#[test]
fn charts_to_create_follow_auto_charts() {
    let r = Registry::defaults();
    let auto: Vec<String> = [
        "traffic",
        "wifi_clients",
        "uptime",
        "packet_loss",
        "rtt",
        "memory",
        "cpu",
        "disk",
    ]
    .map(String::from)
    .to_vec();
    let ping = r.metric("ping").unwrap();
    assert_eq!(
        ping.charts_to_create(&auto),
        ["uptime", "packet_loss", "rtt"]
    );
    assert!(ping.charts_to_create(&[]).is_empty());
    assert_eq!(
        ping.charts_to_create(&["rtt".to_owned()]),
        ["rtt"],
        "only the listed ones"
    );
    // Signal and iperf3 charts are created regardless.
    assert_eq!(
        r.metric("access_tech").unwrap().charts_to_create(&[]),
        ["access_tech"]
    );
    assert_eq!(r.metric("iperf3").unwrap().charts_to_create(&[]).len(), 6);
}

#[test]
fn default_charts_spot_checks() {
    let r = Registry::defaults();
    let uptime = r.chart("uptime").unwrap();
    assert_eq!(uptime.chart_type, "bar");
    assert_eq!(uptime.title, "Ping Success Rate");
    assert_eq!(uptime.unit.as_deref(), Some("%"));
    assert_eq!(uptime.order, 200);
    assert_eq!(
        serde_json::to_value(uptime.colorscale.as_ref().unwrap()).unwrap(),
        json!({
            "max": 100, "min": 0, "label": "Rate",
            "scale": [[0, "#c13000"], [0.1, "#ec7204"], [0.5, "#deed0e"], [0.9, "#90d000"], [1, "#7db201"]],
            "map": [[100, "#7db201", "Flawless"], [90, "#90d000", "Mostly Reachable"],
                    [50, "#deed0e", "Partly Reachable"], [10, "#ec7204", "Mostly Unreachable"],
                    [null, "#c13000", "Unreachable"]],
            "fixed_value": 100
        })
    );
    // The DEFAULT_COLORS rule: one summary label → the first default colour.
    assert_eq!(uptime.colors.as_deref(), Some(&["#1f77b4".to_owned()][..]));
    assert_eq!(
        uptime.query.as_deref(),
        Some(
            "SELECT MEAN({field_name})*100 AS uptime FROM {key} WHERE time >= '{time}' {end_date} AND content_type = '{content_type}' AND object_id = '{object_id}' GROUP BY time(1d)"
        )
    );

    let rtt = r.chart("rtt").unwrap();
    assert_eq!(
        rtt.description,
        "Round trip time observed in ICMP probes, measuered in milliseconds."
    );
    assert_eq!(
        rtt.colors.as_deref().unwrap(),
        ["#1f77b4", "#ff7f0e", "#2ca02c"]
    );
    assert_eq!(rtt.unit.as_deref(), Some(" ms"));

    let access = r.chart("access_tech").unwrap();
    assert_eq!(access.colors, None, "neither colours nor summary labels");
    assert_eq!(access.summary_labels, None);
    assert_eq!(access.unit.as_deref(), Some(""));
    let cs = serde_json::to_value(access.colorscale.as_ref().unwrap()).unwrap();
    assert_eq!(cs["map"][0], json!([5, "#377873", "5g"]));
    assert_eq!(cs["label"], json!(""));
    assert_eq!(
        access.description,
        "Shows the access technology (LTE, UTMS, CDMA1x, etc.) in use on the device at the specified time."
    );

    let retransmits = r.chart("retransmits").unwrap();
    assert_eq!(
        retransmits.summary_labels.as_deref().unwrap(),
        ["Restransmits"]
    );
    assert!(retransmits.connect_points);
    assert_eq!(retransmits.fill, None);

    let traffic = r.chart("traffic").unwrap();
    assert_eq!(traffic.title, "Traffic: {ifname}");
    assert_eq!(traffic.label(), "Traffic");
    assert_eq!(traffic.chart_type, "stackedbar+lines");
    assert!(traffic.calculate_total);
    assert_eq!(
        traffic.trace_order.as_deref().unwrap(),
        ["total", "download", "upload"]
    );
    assert_eq!(traffic.trace_type.as_ref().unwrap()["total"], "lines");
    assert_eq!(
        traffic.description,
        "Network traffic (total, download and upload) of the interface \"{ifname}\"."
    );
    assert_eq!(traffic.fill, None);
    let general = r.chart("general_traffic").unwrap();
    assert_eq!(general.fill.as_deref(), Some("none"));
    assert_eq!(general.label(), "General Traffic");
    assert_eq!(general.query_default_param.len(), 4);
    assert_eq!(
        general.query_default_param["ifname"],
        ParamValue::Text(String::new())
    );

    let transfer = r.chart("transfer").unwrap();
    assert!(
        transfer
            .query
            .as_deref()
            .unwrap()
            .starts_with("SELECT SUM(sent_bytes_tcp) / 1000000000 AS TCP,SUM(sent_bytes_udp)")
    );
    assert!(!transfer.query.as_deref().unwrap().contains("end_date"));
    let signal = r.chart("signal_strength").unwrap();
    assert_eq!(
        serde_json::to_value(signal.yaxis.as_ref().unwrap()).unwrap(),
        json!({"zeroline": false})
    );
    assert_eq!(signal.colors.as_deref().unwrap(), ["#d62728", "#1f77b4"]);
    let orders: Vec<i64> = [
        "uptime",
        "signal_strength",
        "signal_quality",
        "access_tech",
        "packet_loss",
        "rtt",
        "wifi_clients",
        "gen_wifi_clients",
        "traffic",
        "general_traffic",
        "memory",
        "cpu",
        "disk",
        "bandwidth",
        "transfer",
        "retransmits",
        "jitter",
        "datagram",
        "datagram_loss",
    ]
    .iter()
    .map(|c| r.chart(c).unwrap().order)
    .collect();
    assert_eq!(
        orders,
        [
            200, 205, 206, 207, 210, 220, 230, 230, 240, 240, 250, 260, 270, 280, 290, 300, 330,
            340, 350
        ]
    );
    assert_eq!(r.default_colors().len(), 10);
    assert_eq!(r.default_colors()[9], "#17becf");
}

#[test]
fn partial_override_merges_into_the_default() {
    let r = with(
        json!({"cpu": {"alert_settings": {"threshold": 75}}}),
        Value::Null,
    )
    .unwrap();
    let cpu = r.metric("cpu").unwrap();
    let a = cpu.alert_settings.unwrap();
    assert_eq!(
        (a.operator, a.threshold, a.tolerance),
        (Operator::GreaterThan, 75.0, 30)
    );
    assert_eq!(cpu.label, "CPU usage", "untouched keys stay");
    assert_eq!(r.metric("memory"), Registry::defaults().metric("memory"));
}

#[test]
fn overrides_add_replace_and_remove_entries() {
    let r = with(
        json!({
            "ssh_sessions": {
                "label": "SSH sessions", "name": "SSH sessions", "key": "ssh",
                "field_name": "sessions", "related_fields": ["failed"],
                "alert_field": "failed",
                "alert_settings": {"operator": ">", "threshold": 3.5, "tolerance": 0},
                "charts": ["ssh"]
            },
            "traffic": {"alert_settings": null}
        }),
        json!({
            "ssh": {
                "type": "histogram", "title": "SSH", "description": "Sessions of {ifname}.",
                "order": 999, "query": {"influxdb": "SELECT {fields|SUM|/ 1} FROM {key} WHERE time >= '{time}'"},
                "summary_labels": ["a", "b"], "top_fields": 5
            },
            "uptime": {"title": "Reachability", "colors": ["#000000"]},
            "access_tech": null
        }),
    );
    // access_tech is referenced by the access_tech metric: removing the chart alone is refused.
    assert_eq!(
        r.unwrap_err().to_string(),
        "METRICS.access_tech.charts: unknown chart \"access_tech\""
    );
    let r = with(
        json!({"access_tech": null, "ssh_sessions": {
            "label": "SSH", "name": "SSH", "key": "ssh", "field_name": "sessions", "charts": ["ssh"]}}),
        json!({
            "ssh": {"type": "histogram", "title": "SSH", "description": "d", "order": 999,
                    "query": {"influxdb": "SELECT {fields|SUM|/ 1} FROM {key}"},
                    "summary_labels": ["a", "b"], "top_fields": 5},
            "uptime": {"title": "Reachability", "colors": ["#000000"]},
            "access_tech": null
        }),
    )
    .unwrap();
    assert!(r.metric("access_tech").is_none());
    assert!(r.chart("access_tech").is_none());
    let ssh = r.chart("ssh").unwrap();
    assert_eq!(
        ssh.query.as_deref(),
        Some("SELECT {fields|SUM|/ 1} FROM {key}"),
        "upstream's {{\"influxdb\": …}} form is normalised"
    );
    assert_eq!(ssh.colors.as_deref().unwrap(), ["#1f77b4", "#ff7f0e"]);
    assert_eq!(ssh.top_fields, Some(5));
    let uptime = r.chart("uptime").unwrap();
    assert_eq!(uptime.title, "Reachability");
    assert_eq!(uptime.colors.as_deref().unwrap(), ["#000000"]);
    assert!(uptime.colorscale.is_some(), "nested defaults kept");
    assert_eq!(r.metric("ssh_sessions").unwrap().charts, ["ssh"]);
}

#[test]
fn null_query_needs_a_unit() {
    let base = json!({"type": "line", "title": "T", "description": "D", "order": 1, "query": null});
    assert_eq!(
        err(Value::Null, json!({"mychart": base})),
        "CHARTS.mychart: missing \"unit\""
    );
    let mut ok = base.clone();
    ok["unit"] = json!("%");
    let r = with(Value::Null, json!({ "mychart": ok })).unwrap();
    assert_eq!(r.chart("mychart").unwrap().query, None);
}

#[test]
fn metric_errors_name_the_key() {
    let new = |extra: Value| {
        let mut m = json!({"label": "L", "name": "N", "key": "k", "field_name": "f"});
        if let (Some(m), Value::Object(e)) = (m.as_object_mut(), extra) {
            for (k, v) in e {
                if v.is_null() {
                    m.remove(&k);
                } else {
                    m.insert(k, v);
                }
            }
        }
        json!({ "x": m })
    };
    assert_eq!(err(json!([]), Value::Null), "METRICS: expected an object");
    assert_eq!(err(Value::Null, json!("x")), "CHARTS: expected an object");
    assert_eq!(
        err(json!({"cpu": 3}), Value::Null),
        "METRICS.cpu: expected an object"
    );
    for key in ["label", "name", "key", "field_name"] {
        let mut drop = serde_json::Map::new();
        drop.insert(key.to_owned(), Value::Null);
        assert_eq!(
            err(new(Value::Object(drop)), Value::Null),
            format!("METRICS.x: missing \"{key}\"")
        );
    }
    assert_eq!(
        err(json!({"cpu": {"label": 5}}), Value::Null),
        "METRICS.cpu.label: expected a string"
    );
    assert_eq!(
        err(
            json!({"cpu": {"alert_settings": {"threshold": "high"}}}),
            Value::Null
        ),
        "METRICS.cpu.alert_settings.threshold: expected a number"
    );
    assert_eq!(
        err(
            json!({"cpu": {"alert_settings": {"operator": ">="}}}),
            Value::Null
        ),
        "METRICS.cpu.alert_settings.operator: expected \"<\" or \">\", got \">=\""
    );
    assert_eq!(
        err(
            json!({"cpu": {"alert_settings": {"tolerance": -1}}}),
            Value::Null
        ),
        "METRICS.cpu.alert_settings.tolerance: expected a non-negative integer"
    );
    assert_eq!(
        err(
            json!({"cpu": {"alert_settings": {"tolerance": 1.5}}}),
            Value::Null
        ),
        "METRICS.cpu.alert_settings.tolerance: expected a non-negative integer"
    );
    assert_eq!(
        err(
            new(json!({"alert_settings": {"operator": "<"}})),
            Value::Null
        ),
        "METRICS.x.alert_settings: missing \"threshold\""
    );
    assert_eq!(
        err(new(json!({"alert_settings": 7})), Value::Null),
        "METRICS.x.alert_settings: expected an object"
    );
    assert_eq!(
        err(json!({"cpu": {"alert_field": "load_2"}}), Value::Null),
        "METRICS.cpu.alert_field: \"load_2\" must be one of the metric fields [\"cpu_usage\", \"load_1\", \"load_5\", \"load_15\"]"
    );
    // A related field or the field itself is fine.
    assert!(with(json!({"cpu": {"alert_field": "load_5"}}), Value::Null).is_ok());
    assert!(with(json!({"cpu": {"alert_field": "cpu_usage"}}), Value::Null).is_ok());
    assert_eq!(
        err(json!({"cpu": {"related_fields": ["a", 1]}}), Value::Null),
        "METRICS.cpu.related_fields[1]: expected a string"
    );
    assert_eq!(
        err(json!({"cpu": {"related_fields": "a"}}), Value::Null),
        "METRICS.cpu.related_fields: expected a list"
    );
    assert_eq!(
        err(json!({"cpu": {"charts": ["cpu", "nope"]}}), Value::Null),
        "METRICS.cpu.charts: unknown chart \"nope\""
    );
    assert_eq!(
        err(
            json!({"iperf3": {"alert_settings_inactive": "yes"}}),
            Value::Null
        ),
        "METRICS.iperf3.alert_settings_inactive: expected true or false"
    );
}

#[test]
fn chart_errors_name_the_key() {
    let full =
        json!({"type": "bar", "title": "T", "description": "D", "order": 1, "query": "SELECT 1"});
    let without = |key: &str| {
        let mut c = full.clone();
        c.as_object_mut().unwrap().remove(key);
        json!({ "mychart": c })
    };
    for key in ["type", "title", "description", "order", "query"] {
        assert_eq!(
            err(Value::Null, without(key)),
            format!("CHARTS.mychart: missing \"{key}\"")
        );
    }
    let set = |key: &str, v: Value| {
        let mut c = full.clone();
        c[key] = v;
        json!({ "mychart": c })
    };
    assert_eq!(
        err(Value::Null, set("order", json!("1"))),
        "CHARTS.mychart.order: expected an integer"
    );
    assert_eq!(
        err(Value::Null, set("title", json!(["T"]))),
        "CHARTS.mychart.title: expected a string"
    );
    assert_eq!(
        err(Value::Null, set("query", json!(5))),
        "CHARTS.mychart.query: expected a string or {\"influxdb\": \"<query>\"}"
    );
    assert_eq!(
        err(Value::Null, set("query", json!({"postgres": "x"}))),
        "CHARTS.mychart.query.influxdb: expected the InfluxQL query as a string"
    );
    assert_eq!(
        err(Value::Null, set("colors", json!("#fff"))),
        "CHARTS.mychart.colors: expected a list"
    );
    assert_eq!(
        err(Value::Null, set("trace_type", json!({"a": 1}))),
        "CHARTS.mychart.trace_type.a: expected a string"
    );
    assert_eq!(
        err(Value::Null, set("calculate_total", json!(1))),
        "CHARTS.mychart.calculate_total: expected true or false"
    );
    assert_eq!(
        err(Value::Null, set("yaxis", json!([]))),
        "CHARTS.mychart.yaxis: expected an object"
    );
    assert_eq!(
        err(Value::Null, set("top_fields", json!(-2))),
        "CHARTS.mychart.top_fields: expected a non-negative integer"
    );
    assert_eq!(
        err(Value::Null, set("query_default_param", json!({"org": 5}))),
        "CHARTS.mychart.query_default_param.org: expected a string or a list of strings"
    );
    assert_eq!(
        err(
            Value::Null,
            set("query_default_param", json!({"org": ["a", null]}))
        ),
        "CHARTS.mychart.query_default_param.org[1]: expected a string"
    );
    let scale = json!({"max": 1, "min": 0, "label": "L", "scale": [[0, "#000"]]});
    assert!(with(Value::Null, set("colorscale", scale.clone())).is_ok());
    for key in ["max", "min", "label", "scale"] {
        let mut s = scale.clone();
        s.as_object_mut().unwrap().remove(key);
        assert_eq!(
            err(Value::Null, set("colorscale", s)),
            format!("CHARTS.mychart.colorscale: missing \"{key}\"")
        );
    }
    let mut s = scale.clone();
    s["scale"] = json!([[0, "#000"], ["x", "#fff"]]);
    assert_eq!(
        err(Value::Null, set("colorscale", s)),
        "CHARTS.mychart.colorscale.scale[1]: expected [position, colour]"
    );
    let mut s = scale.clone();
    s["map"] = json!([[null, "#000", "x"], [1, "#fff"]]);
    assert_eq!(
        err(Value::Null, set("colorscale", s)),
        "CHARTS.mychart.colorscale.map[1]: expected [value or null, colour, label]"
    );
    let mut s = scale;
    s["max"] = json!("100");
    assert_eq!(
        err(Value::Null, set("colorscale", s)),
        "CHARTS.mychart.colorscale.max: expected a number"
    );
    // A partial override can break a default chart too.
    assert_eq!(
        err(Value::Null, json!({"cpu": {"title": null}})),
        "CHARTS.cpu: missing \"title\""
    );
}
