//! Query rendering against spec §2.4, byte for byte.

use std::collections::BTreeMap;

use super::*;
use crate::domain::registry::Registry;

/// 2024-05-14 10:15:03.25 UTC.
const NOW: i64 = 1_715_681_703 * NS_PER_SEC + 250_000_000;
const DEVICE: &str = "5d2b7c1e-8f43-4a7e-9c61-2f0e9b1a7d33";

fn chart(name: &str) -> ChartConfig {
    Registry::defaults().chart(name).unwrap().clone()
}

fn device_params(field_name: &str, key: &str, tags: &[(&str, &str)]) -> RenderParams {
    let mut all: BTreeMap<String, String> = BTreeMap::new();
    all.insert("content_type".into(), "config.device".into());
    all.insert("object_id".into(), DEVICE.into());
    for (k, v) in tags {
        all.insert((*k).into(), (*v).into());
    }
    RenderParams {
        field_name: field_name.into(),
        key: key.into(),
        object: Some(MetricObject {
            content_type: "config.device".into(),
            object_id: DEVICE.into(),
            tags: all,
        }),
        timeframe: Timeframe::parse("7d").unwrap(),
        now: NOW,
        timezone: "Europe/Rome".into(),
        extra: BTreeMap::new(),
        fields: None,
        summary: false,
    }
}

fn general_params(field_name: &str, key: &str) -> RenderParams {
    RenderParams {
        object: None,
        ..device_params(field_name, key, &[])
    }
}

fn list(items: &[&str]) -> ParamValue {
    ParamValue::List(items.iter().map(|s| (*s).to_owned()).collect())
}

#[test]
fn spec_uptime_examples() {
    let uptime = chart("uptime");
    let mut p = device_params("reachable", "ping", &[]);
    assert_eq!(
        render(&uptime, &p).unwrap(),
        "SELECT MEAN(reachable)*100 AS uptime FROM ping WHERE time >= '2024-05-08'  AND content_type = 'config.device' AND object_id = '5d2b7c1e-8f43-4a7e-9c61-2f0e9b1a7d33' GROUP BY time(1h) tz('Europe/Rome')"
    );
    p.summary = true;
    assert_eq!(
        render(&uptime, &p).unwrap(),
        "SELECT MEAN(reachable)*100 AS uptime FROM ping WHERE time >= '2024-05-08'  AND content_type = 'config.device' AND object_id = '5d2b7c1e-8f43-4a7e-9c61-2f0e9b1a7d33'  LIMIT 1 tz('Europe/Rome')"
    );
}

#[test]
fn spec_dashboard_traffic_examples() {
    let general = chart("general_traffic");
    let mut p = general_params("rx_bytes", "traffic");
    p.extra
        .insert("ifname".into(), list(&["wan", "eth1", "eth0_2"]));
    assert_eq!(
        render(&general, &p).unwrap(),
        "SELECT SUM(tx_bytes) / 1000000000 AS upload, SUM(rx_bytes) / 1000000000 AS download FROM traffic WHERE time >= '2024-05-08'     AND (ifname = 'wan' OR ifname = 'eth1' OR ifname = 'eth0_2') GROUP BY time(1h) tz('Europe/Rome')"
    );
    p.extra
        .insert("organization_id".into(), list(&["<org1>", "<org2>"]));
    assert_eq!(
        render(&general, &p).unwrap(),
        "SELECT SUM(tx_bytes) / 1000000000 AS upload, SUM(rx_bytes) / 1000000000 AS download FROM traffic WHERE time >= '2024-05-08'  AND (organization_id = '<org1>' OR organization_id = '<org2>')   AND (ifname = 'wan' OR ifname = 'eth1' OR ifname = 'eth0_2') GROUP BY time(1h) tz('Europe/Rome')"
    );
    // An empty list renders as nothing, like the unset default.
    p.extra.insert("organization_id".into(), list(&[]));
    assert!(
        render(&general, &p)
            .unwrap()
            .contains("'2024-05-08'     AND (ifname")
    );
}

#[test]
fn group_map() {
    let cases = [
        ("1d", "10m"),
        ("3d", "20m"),
        ("7d", "1h"),
        ("30d", "24h"),
        ("365d", "7d"),
        ("2d", "10m"),
        ("4d", "25m"),
        ("5d", "35m"),
        ("6d", "40m"),
        ("8d", "1h"),
        ("12d", "2h"),
        ("27d", "4h"),
        ("31d", "1d"),
        ("210d", "1d"),
        ("211d", "7d"),
        ("364d", "7d"),
        // The fallback quirk.
        ("0d", "10m"),
        ("28d", "10m"),
        ("29d", "10m"),
        ("366d", "10m"),
        ("400d", "10m"),
        ("-3d", "10m"),
        // Looked up by text: `07d` is not the fixed `7d`, and 7 has no formula branch.
        ("07d", "10m"),
    ];
    for (time, want) in cases {
        assert_eq!(group_interval(time).unwrap(), want, "{time}");
    }
}

#[test]
fn timeframe_errors() {
    for bad in ["3w", "", "7", "7D", "1h"] {
        assert_eq!(
            Timeframe::parse(bad),
            Err(RenderError::TimeRangeNotSupported),
            "{bad:?}"
        );
    }
    for bad in ["xd", "d", "1.5d", " 7d", "7 d"] {
        assert_eq!(
            Timeframe::parse(bad),
            Err(RenderError::BadDays(bad.to_owned())),
            "{bad:?}"
        );
    }
    assert_eq!(
        RenderError::TimeRangeNotSupported.to_string(),
        "Time range not supported"
    );
}

#[test]
fn range_start() {
    let start = |t: &str, now: i64| Timeframe::parse(t).unwrap().start(now).unwrap();
    // To the second (fraction dropped) up to 3 days.
    assert_eq!(start("1d", NOW), "2024-05-13 10:15:03");
    assert_eq!(start("2d", NOW), "2024-05-12 10:15:03");
    assert_eq!(start("3d", NOW), "2024-05-11 10:15:03");
    assert_eq!(start("0d", NOW), "2024-05-14 10:15:03");
    // UTC midnight after that; 7d goes back 6 days only.
    assert_eq!(start("4d", NOW), "2024-05-10");
    assert_eq!(start("7d", NOW), "2024-05-08");
    assert_eq!(start("07d", NOW), "2024-05-08");
    assert_eq!(start("8d", NOW), "2024-05-06");
    assert_eq!(start("30d", NOW), "2024-04-14");
    assert_eq!(start("365d", NOW), "2023-05-15");
    // Before the epoch: floor, not truncation.
    assert_eq!(start("1d", -NS_PER_SEC / 2), "1969-12-30 23:59:59");
    assert_eq!(start("30d", -1), "1969-12-01");
    assert_eq!(
        Timeframe::parse("99999999d").unwrap().start(NOW),
        Err(RenderError::DaysOutOfRange(99_999_999))
    );
    assert_eq!(
        Timeframe::parse("-9223372036854775807d")
            .unwrap()
            .start(NOW),
        Err(RenderError::DaysOutOfRange(-9_223_372_036_854_775_807))
    );
    assert_eq!(
        Timeframe::parse("-3000000d").unwrap().start(NOW),
        Err(RenderError::DaysOutOfRange(-3_000_000))
    );
}

#[test]
fn custom_range() {
    let t = Timeframe::custom("2024-05-01 00:00:00", "2024-05-03 12:00:00").unwrap();
    assert_eq!(
        (t.text(), t.days(), t.interval().as_str()),
        ("2d", 2, "10m")
    );
    assert_eq!(t.start(NOW).unwrap(), "2024-05-01 00:00:00");
    let mut p = device_params("reachable", "ping", &[]);
    p.timeframe = t;
    assert_eq!(
        render(&chart("uptime"), &p).unwrap(),
        "SELECT MEAN(reachable)*100 AS uptime FROM ping WHERE time >= '2024-05-01 00:00:00' AND time <= '2024-05-03 12:00:00' AND content_type = 'config.device' AND object_id = '5d2b7c1e-8f43-4a7e-9c61-2f0e9b1a7d33' GROUP BY time(10m) tz('Europe/Rome')"
    );
    // iperf3 templates have no {end_date}: only the start bounds them (quirk).
    assert_eq!(
        render(&chart("jitter"), &{
            let mut p = p.clone();
            p.field_name = "iperf3_result".into();
            p.key = "iperf3".into();
            p
        })
        .unwrap(),
        "SELECT MEAN(jitter) AS jitter FROM iperf3 WHERE time >= '2024-05-01 00:00:00' AND content_type = 'config.device' AND object_id = '5d2b7c1e-8f43-4a7e-9c61-2f0e9b1a7d33' GROUP BY time(10m) tz('Europe/Rome')"
    );
    // Same-day range counts as one day; single digits are accepted as strptime does.
    let t = Timeframe::custom("2024-5-1 0:0:0", "2024-05-01 23:59:59").unwrap();
    assert_eq!((t.text(), t.interval().as_str()), ("1d", "10m"));
    assert_eq!(t.start(NOW).unwrap(), "2024-5-1 0:0:0");
    let t = Timeframe::custom("2024-01-01 00:00:00", "2024-01-20 00:00:00").unwrap();
    assert_eq!((t.text(), t.interval().as_str()), ("19d", "3h"));
    // 365 days and a bit is still 365 whole days.
    assert!(Timeframe::custom("2023-01-01 00:00:00", "2024-01-01 05:00:00").is_ok());
    assert_eq!(
        Timeframe::custom("2023-01-01 00:00:00", "2024-01-02 00:00:00"),
        Err(RenderError::CustomRangeTooLong)
    );
    assert_eq!(
        Timeframe::custom("2024-01-02 00:00:00", "2024-01-01 00:00:00"),
        Err(RenderError::StartAfterEnd)
    );
    for bad in [
        "2024-01-01",
        "2024-01-01T00:00:00",
        "2024-02-30 00:00:00",
        "2023-02-29 00:00:00",
        "2024-01-01 24:00:00",
        "2024-01-01 00:60:00",
        "24-01-01 00:00:00",
        "2024-001-01 00:00:00",
        "2024-01-01 00:00:00 ",
        "2024-+1-01 00:00:00",
        "",
    ] {
        assert_eq!(
            Timeframe::custom(bad, "2024-01-01 00:00:00"),
            Err(RenderError::BadCustomDate),
            "{bad:?}"
        );
    }
    assert!(Timeframe::custom("2024-02-29 00:00:00", "2024-03-01 00:00:00").is_ok());
}

#[test]
fn other_default_charts_render() {
    let mut p = device_params("clients", "wifi_clients", &[("ifname", "wlan0")]);
    p.timeframe = Timeframe::parse("1d").unwrap();
    assert_eq!(
        render(&chart("wifi_clients"), &p).unwrap(),
        "SELECT COUNT(DISTINCT(clients)) AS wifi_clients FROM wifi_clients WHERE time >= '2024-05-13 10:15:03'  AND content_type = 'config.device' AND object_id = '5d2b7c1e-8f43-4a7e-9c61-2f0e9b1a7d33' AND ifname = 'wlan0' GROUP BY time(10m) tz('Europe/Rome')"
    );
    // Without the ifname tag the template cannot be filled.
    let p = device_params("clients", "wifi_clients", &[]);
    assert_eq!(
        render(&chart("wifi_clients"), &p),
        Err(RenderError::UnknownPlaceholder("ifname".into()))
    );
    let mut p = device_params("signal_strength", "signal", &[]);
    p.timeframe = Timeframe::parse("30d").unwrap();
    p.summary = true;
    assert_eq!(
        render(&chart("signal_strength"), &p).unwrap(),
        "SELECT ROUND(MEAN(signal_strength)) AS signal_strength, ROUND(MEAN(signal_power)) AS signal_power FROM signal WHERE time >= '2024-04-14'  AND content_type = 'config.device' AND object_id = '5d2b7c1e-8f43-4a7e-9c61-2f0e9b1a7d33'  LIMIT 1 tz('Europe/Rome')"
    );
    let mut p = general_params("clients", "wifi_clients");
    p.timezone = "UTC".into();
    p.extra.insert("location_id".into(), list(&["loc"]));
    assert_eq!(
        render(&chart("gen_wifi_clients"), &p).unwrap(),
        "SELECT COUNT(DISTINCT(clients)) AS wifi_clients FROM wifi_clients WHERE time >= '2024-05-08'   AND (location_id = 'loc')  GROUP BY time(1h) tz('UTC')"
    );
}

#[test]
fn every_default_chart_renders() {
    let r = Registry::defaults();
    for (name, metric) in r.metrics() {
        for c in &metric.charts {
            let chart = r.chart(c).unwrap();
            let mut p = if metric.name.starts_with("General") {
                general_params(&metric.field_name, &metric.key)
            } else {
                device_params(&metric.field_name, "m", &[("ifname", "wlan0")])
            };
            for summary in [false, true] {
                p.summary = summary;
                let q = render(chart, &p).unwrap_or_else(|e| panic!("{name}/{c}: {e}"));
                assert_eq!(q.contains("GROUP BY time(1h)"), !summary, "{q}");
                assert_eq!(q.contains(" LIMIT 1 "), summary, "{q}");
                assert!(q.ends_with(" tz('Europe/Rome')"), "{q}");
                assert!(!q.contains('{'), "{q}");
            }
        }
    }
}

#[test]
fn default_query_when_the_chart_has_none() {
    let mut c = chart("cpu");
    c.query = None;
    c.unit = Some("%".into());
    let p = device_params("cpu_usage", "cpu", &[]);
    // Not an aggregate: no GROUP BY is added.
    assert_eq!(
        render(&c, &p).unwrap(),
        "SELECT cpu_usage FROM cpu WHERE time >= '2024-05-08'  AND content_type = 'config.device' AND object_id = '5d2b7c1e-8f43-4a7e-9c61-2f0e9b1a7d33' tz('Europe/Rome')"
    );
    let mut p = general_params("cpu_usage", "cpu");
    p.summary = true;
    assert_eq!(
        render(&c, &p).unwrap(),
        "SELECT cpu_usage FROM cpu WHERE time >= '2024-05-08'  LIMIT 1 tz('Europe/Rome')"
    );
}

fn custom_chart(query: &str, chart_type: &str) -> ChartConfig {
    let mut c = chart("cpu");
    c.query = Some(query.into());
    c.chart_type = chart_type.into();
    c
}

#[test]
fn fields_expansion() {
    let c = custom_chart(
        "SELECT {fields|SUM|/ 1} FROM {key} WHERE time >= '{time}' GROUP BY time(1d)",
        "histogram",
    );
    let mut p = general_params("ssh", "traffic_apps");
    p.fields = Some(vec!["ssh".into(), "apple-music".into()]);
    p.timezone = "UTC".into();
    // Histograms drop the time grouping.
    assert_eq!(
        render(&c, &p).unwrap(),
        "SELECT SUM(\"ssh\") / 1 AS ssh, SUM(\"apple-music\") / 1 AS apple_music FROM traffic_apps WHERE time >= '2024-05-08'  tz('UTC')"
    );
    // No field list: the metric's field.
    p.fields = None;
    assert_eq!(
        render(&c, &p).unwrap(),
        "SELECT SUM(\"ssh\") / 1 AS ssh FROM traffic_apps WHERE time >= '2024-05-08'  tz('UTC')"
    );
    // An empty list counts as none.
    p.fields = Some(Vec::new());
    assert!(
        render(&c, &p)
            .unwrap()
            .starts_with("SELECT SUM(\"ssh\") / 1 AS ssh FROM")
    );
    let bare = custom_chart("SELECT {fields} FROM {key} WHERE time >= '{time}'", "bar");
    p.fields = Some(vec!["a".into(), "b-c".into()]);
    assert_eq!(
        render(&bare, &p).unwrap(),
        "SELECT a, b-c FROM traffic_apps WHERE time >= '2024-05-08' tz('UTC')"
    );
    // A bare {fields} without a list is an ordinary (unknown) placeholder.
    p.fields = None;
    assert_eq!(
        render(&bare, &p),
        Err(RenderError::UnknownPlaceholder("fields".into()))
    );
    assert_eq!(
        expand_fields("SELECT {FIELDS|max} FROM x", None, "f"),
        "SELECT max(\"f\") AS f FROM x"
    );
    assert_eq!(
        expand_fields("SELECT {fields|MEAN|} FROM x", Some(&["a".into()]), "f"),
        "SELECT MEAN(\"a\") AS a FROM x"
    );
    assert_eq!(
        expand_fields("{fields|} {fields|SUM|* 8}", Some(&["a".into()]), "f"),
        "{fields|} SUM(\"a\") * 8 AS a"
    );
    // A field name with a double quote would escape FUNC("…").
    p.fields = Some(vec!["a\"b".into()]);
    assert!(matches!(
        render(&c, &p),
        Err(RenderError::UnsafeValue { .. })
    ));
}

#[test]
fn group_by_rewrite() {
    let q = "SELECT MEAN(x) FROM m WHERE time >= 'a' GROUP BY time(1d), ifname";
    assert_eq!(
        group_by(q, "1h", false),
        "SELECT MEAN(x) FROM m WHERE time >= 'a' GROUP BY time(1h), ifname"
    );
    assert_eq!(
        group_by(q, "1h", true),
        "SELECT MEAN(x) FROM m WHERE time >= 'a' GROUP BY ifname"
    );
    let q = "SELECT MEAN(x) FROM m GROUP BY time(1d)";
    assert_eq!(
        group_by(q, "20m", false),
        "SELECT MEAN(x) FROM m GROUP BY time(20m)"
    );
    assert_eq!(group_by(q, "20m", true), "SELECT MEAN(x) FROM m ");
    let q = "SELECT MEAN(x) FROM m";
    assert_eq!(
        group_by(q, "20m", false),
        "SELECT MEAN(x) FROM m GROUP BY time(20m)"
    );
    assert_eq!(group_by(q, "20m", true), "SELECT MEAN(x) FROM m ");
    // Case-insensitive, and upstream's `\s?` swallows the blank after time(...).
    assert_eq!(
        group_by(
            "select mean(x) from m group by TIME(1d) fill(0)",
            "1h",
            false
        ),
        "select mean(x) from m group by time(1h)fill(0)"
    );
    assert_eq!(
        group_by(
            "select mean(x) from m group by TIME(1d) fill(0)",
            "1h",
            true
        ),
        "select mean(x) from m fill(0)"
    );
    // `GROUP BY time(x),tag` without a blank is not the tag form: upstream leaves `,tag`.
    assert_eq!(
        group_by("SELECT SUM(x) FROM m GROUP BY time(1d),ifname", "1h", true),
        "SELECT SUM(x) FROM m ,ifname"
    );
    // GROUP BY a tag only: nothing to strip (upstream crashes here).
    assert_eq!(
        group_by("SELECT SUM(x) FROM m GROUP BY ifname", "1h", true),
        "SELECT SUM(x) FROM m GROUP BY ifname"
    );
    assert_eq!(
        group_by("SELECT SUM(x) FROM m GROUP BY ifname", "1h", false),
        "SELECT SUM(x) FROM m GROUP BY ifname"
    );
}

#[test]
fn aggregate_detection() {
    assert!(is_aggregate("SELECT MEAN(x) FROM m"));
    assert!(is_aggregate("select count(distinct(x)) from m"));
    assert!(is_aggregate("SELECT {fields|SUM} FROM m"));
    assert!(is_aggregate("SELECT {fields|sum|/ 1} FROM m"));
    assert!(is_aggregate("SELECT cumulative_sum(x) FROM m"));
    assert!(!is_aggregate(
        "SELECT {field_name} FROM {key} WHERE time >= '{time}'"
    ));
    assert!(!is_aggregate("SELECT ROUND(x) FROM m"));
    assert!(!is_aggregate("SELECT MEAN (x) FROM m"));
    for name in Registry::defaults().charts().keys() {
        assert!(
            is_aggregate(chart(name).query.as_deref().unwrap()),
            "{name}"
        );
    }
}

#[test]
fn template_substitution() {
    let p: BTreeMap<String, String> = [("a".to_owned(), "1".to_owned())].into();
    assert_eq!(python_format("{{a}} {a}}}", &p).unwrap(), "{a} 1}");
    assert_eq!(
        python_format("{b}", &p),
        Err(RenderError::UnknownPlaceholder("b".into()))
    );
    for bad in [
        "{", "a}", "{a", "{}", "{0}", "{a.b}", "{a[0]}", "{a!r}", "{a:>3}", "{a{b}}",
    ] {
        assert!(
            matches!(python_format(bad, &p), Err(RenderError::BadTemplate(_))),
            "{bad}"
        );
    }
    assert_eq!(python_format("", &p).unwrap(), "");
    assert_eq!(python_format("é{a}ü", &p).unwrap(), "é1ü");
}

#[test]
fn parameters_precedence_and_all_organizations() {
    let c = custom_chart(
        "SELECT SUM(x) FROM {key} WHERE time >= '{time}' {end_date} {organization_id} {ifname} {start_date} {days} GROUP BY time(1d)",
        "bar",
    );
    let mut p = device_params("x", "m", &[("ifname", "eth0")]);
    p.timezone = "UTC".into();
    let mut c2 = c.clone();
    c2.query_default_param
        .insert("ifname".into(), ParamValue::Text("dflt".into()));
    c2.query_default_param
        .insert("organization_id".into(), ParamValue::Text(String::new()));
    // A tag beats the chart default; start_date outside a custom range is Python's None.
    assert_eq!(
        render(&c2, &p).unwrap(),
        "SELECT SUM(x) FROM m WHERE time >= '2024-05-08'   eth0 None 7d GROUP BY time(1h) tz('UTC')"
    );
    // Caller parameters beat tags.
    p.extra.insert("ifname".into(), list(&["a", "b"]));
    assert_eq!(
        render(&c2, &p).unwrap(),
        "SELECT SUM(x) FROM m WHERE time >= '2024-05-08'   AND (ifname = 'a' OR ifname = 'b') None 7d GROUP BY time(1h) tz('UTC')"
    );
    // __all__ charts: a missing or empty organization filter becomes ['__all__'].
    c2.all_organizations = true;
    assert!(
        render(&c2, &p)
            .unwrap()
            .contains("'2024-05-08'  AND (organization_id = '__all__') AND (ifname")
    );
    p.extra
        .insert("organization_id".into(), ParamValue::Text("org".into()));
    assert!(render(&c2, &p).unwrap().contains("'2024-05-08'  org AND"));
}

#[test]
fn hostile_values_are_refused() {
    let c = chart("traffic");
    let mut p = device_params("rx_bytes", "traffic", &[("ifname", "x' OR '1'='1")]);
    assert_eq!(
        render(&c, &p),
        Err(RenderError::UnsafeValue {
            name: "ifname".into(),
            value: "x' OR '1'='1".into()
        })
    );
    p = device_params("rx_bytes", "traffic", &[("ifname", "eth0")]);
    p.extra.insert("location_id".into(), list(&["a\\"]));
    assert!(matches!(
        render(&c, &p),
        Err(RenderError::UnsafeValue { .. })
    ));
    p.extra.clear();
    p.timezone = "Europe/Rome') ".into();
    assert!(matches!(
        render(&c, &p),
        Err(RenderError::UnsafeValue { .. })
    ));
    // Upstream's forbidden words, checked on the rendered query.
    p = device_params("rx_bytes", "traffic", &[("ifname", "dropbox0")]);
    assert_eq!(render(&c, &p), Err(RenderError::ForbiddenWord("DROP")));
    assert_eq!(
        RenderError::ForbiddenWord("DROP").to_string(),
        "the word \"DROP\" is not allowed"
    );
    let q = custom_chart("SELECT MEAN(x) INTO y FROM {key}", "bar");
    assert_eq!(
        render(&q, &device_params("x", "m", &[])),
        Err(RenderError::ForbiddenWord("INTO"))
    );
}

#[test]
fn summary_query_replaces_the_query_for_summaries() {
    let mut c = chart("cpu");
    c.summary_query = Some("SELECT LAST(cpu_usage) FROM {key} WHERE time >= '{time}'".into());
    let mut p = device_params("cpu_usage", "cpu", &[]);
    p.timezone = "UTC".into();
    assert!(
        render(&c, &p)
            .unwrap()
            .starts_with("SELECT MEAN(cpu_usage)")
    );
    p.summary = true;
    assert_eq!(
        render(&c, &p).unwrap(),
        "SELECT LAST(cpu_usage) FROM cpu WHERE time >= '2024-05-08'  LIMIT 1 tz('UTC')"
    );
}

#[test]
fn civil_date_round_trip() {
    assert_eq!(days_from_civil(1, 1, 1), MIN_DAY);
    assert_eq!(days_from_civil(9999, 12, 31), MAX_DAY);
    assert_eq!(days_from_civil(1970, 1, 1), 0);
    for z in [MIN_DAY, -1, 0, 1, 19_857, 59, 60, MAX_DAY] {
        let (y, m, d) = civil_from_days(z);
        assert_eq!(days_from_civil(y, m, d), z);
    }
    assert_eq!(civil_from_days(19_857), (2024, 5, 14));
}

#[test]
fn top_fields_query() {
    let c = custom_chart(
        "SELECT {fields|SUM|/ 1} FROM {key} WHERE time >= '{time}'",
        "histogram",
    );
    let mut p = device_params("ssh", "traffic_apps", &[]);
    p.timezone = "UTC".into();
    p.fields = Some(vec!["ignored".into()]);
    assert_eq!(
        render_top_fields_query(&c, &p).unwrap(),
        "SELECT SUM(*) FROM traffic_apps WHERE time >= '2024-05-08'  AND content_type = 'config.device' AND object_id = '5d2b7c1e-8f43-4a7e-9c61-2f0e9b1a7d33'  LIMIT 1 tz('UTC')"
    );
    let p = general_params("ssh", "traffic_apps");
    assert_eq!(
        render_top_fields_query(&c, &p).unwrap(),
        "SELECT SUM(*) FROM traffic_apps WHERE time >= '2024-05-08'   LIMIT 1 tz('Europe/Rome')"
    );
}

proptest::proptest! {
    /// Arbitrary templates, time values and custom dates give a result or an error, never a
    /// panic; the rewrite helpers keep text they do not match.
    #[test]
    fn junk_never_panics(
        template in r"[{}a-zA-Z_|()0-9 ,é\-]{0,60}",
        time in r"[-+0-9a-z]{0,12}",
        start in r"[0-9: \-]{0,20}",
        now in proptest::num::i64::ANY,
    ) {
        let mut c = chart("cpu");
        c.query = Some(template.clone());
        let mut p = device_params("f", "m", &[("ifname", "eth0")]);
        p.now = now;
        if let Ok(t) = Timeframe::parse(&time) {
            let _ = t.start(now);
            p.timeframe = t;
        }
        let _ = Timeframe::custom(&start, "2024-01-01 00:00:00");
        for summary in [false, true] {
            p.summary = summary;
            let _ = render(&c, &p);
        }
        let _ = expand_fields(&template, None, "f");
        for strip in [false, true] {
            let _ = group_by(&template, "1h", strip);
        }
        let empty = BTreeMap::new();
        if !template.contains(['{', '}']) {
            proptest::prop_assert_eq!(python_format(&template, &empty).unwrap(), template);
        }
    }
}
