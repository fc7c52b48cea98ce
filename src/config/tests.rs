use super::*;

fn table(s: &str) -> toml::Table {
    s.parse().unwrap()
}

fn problems(s: &str) -> Vec<Problem> {
    Config::from_table(table(s), &[]).unwrap_err()
}

fn keys(ps: &[Problem]) -> Vec<&str> {
    ps.iter().map(|p| p.key.as_str()).collect()
}

#[test]
fn defaults_match_upstream() {
    let c = Config::default();
    assert_eq!(c.data_dir, PathBuf::from("./wispmon-data"));
    assert_eq!(c.listen.0.port(), 8086);
    assert_eq!(c.timeseries.database, "openwisp2");
    assert_eq!(
        format_duration(c.timeseries.default_retention_policy),
        "26280h0m0s"
    );
    assert_eq!(
        format_duration(c.timeseries.short_retention_policy),
        "24h0m0s"
    );
    assert_eq!(c.monitoring.tolerance_interval, Duration::from_secs(300));
    assert_eq!(c.monitoring.critical_device_metrics.len(), 2);
    assert_eq!(c.monitoring.health_status_labels["critical"], "critical");
    assert_eq!(
        c.monitoring.dashboard_traffic_chart["__all__"],
        ["wan", "eth1", "eth0.2"]
    );
    assert_eq!(c.monitoring.auto_charts.len(), 8);
    assert_eq!(c.monitoring.default_chart_time, ChartTime::D7);
    assert!(c.checks.auto_ping && c.checks.auto_device_config_check);
    assert!(c.checks.auto_data_collected_check);
    assert!(!c.checks.auto_wifi_clients_check && !c.checks.auto_iperf3);
    assert!(c.checks.management_ip_only);
    assert_eq!(c.checks.ping_check_config.count.default, 5);
    assert_eq!(c.checks.ping_check_config.bytes.maximum, 65508);
    assert_eq!(c.checks.wifi_clients_min_check_interval, mins(4320));
    assert_eq!(c.checks.iperf3_check_lock_expire, Duration::from_secs(600));
}

#[test]
fn data_collected_is_critical_only_when_its_check_is_auto_created() {
    let c = Config::from_table(table("[checks]\nauto_data_collected_check = false"), &[]).unwrap();
    assert_eq!(c.monitoring.critical_device_metrics.len(), 1);
    assert_eq!(c.monitoring.critical_device_metrics[0].key, "ping");
}

#[test]
fn typoed_key_is_refused_with_its_path() {
    let ps = problems("[monitoring]\ntolerence_interval = \"5m\"");
    assert_eq!(keys(&ps), ["monitoring.tolerence_interval"]);
    assert_eq!(ps[0].message, "unknown key");
    let ps = problems("lisen = \"127.0.0.1:1\"");
    assert_eq!(keys(&ps), ["lisen"]);
    let ps = problems("[checks.ping_check_config.count]\ndefualt = 3");
    assert_eq!(keys(&ps), ["checks.ping_check_config.count.defualt"]);
    let ps = problems("[nonsense]\na = 1");
    assert_eq!(keys(&ps), ["nonsense"]);
}

#[test]
fn every_problem_is_reported_at_once() {
    let ps = problems(
        r#"
        listen = "nowhere"
        log_level = "loud"
        [monitoring]
        tolerance_interval = 300
        default_chart_time = "2d"
        health_status_labels = { ok = "fine", bogus = "x" }
        critical_device_metrics = [{ key = "ping" }]
        [checks]
        auto_ping = "yes"
        wifi_clients_check_snooze_schedule = [["12-25", "06:00"]]
        [checks.ping_check_config.count]
        default = 50
        "#,
    );
    let mut k = keys(&ps);
    k.sort();
    assert_eq!(
        k,
        [
            "checks.auto_ping",
            "checks.ping_check_config.count.default",
            "checks.wifi_clients_check_snooze_schedule[0]",
            "listen",
            "log_level",
            "monitoring.critical_device_metrics",
            "monitoring.default_chart_time",
            "monitoring.health_status_labels.bogus",
            "monitoring.tolerance_interval",
        ]
    );
    let snooze = ps.iter().find(|p| p.key.contains("snooze")).unwrap();
    assert!(snooze.message.starts_with("Inconsistent format"));
}

#[test]
fn partial_overrides_merge_over_defaults() {
    let c = Config::from_table(
        table(
            r#"
            [monitoring]
            health_status_labels = { critical = "down" }
            dashboard_traffic_chart = { "4b7c" = ["wan"] }
            [checks.ping_check_config.timeout]
            maximum = 3000
            default = 2000
            "#,
        ),
        &[],
    )
    .unwrap();
    assert_eq!(c.monitoring.health_status_labels["critical"], "down");
    assert_eq!(c.monitoring.health_status_labels["ok"], "ok");
    assert_eq!(c.monitoring.dashboard_traffic_chart.len(), 2);
    assert_eq!(c.checks.ping_check_config.timeout.default, 2000);
    assert_eq!(c.checks.ping_check_config.timeout.minimum, 5);
}

#[test]
fn upstream_check_class_paths_are_accepted() {
    let c = Config::from_table(
        table(
            r#"[monitoring]
            critical_device_metrics = [{ key = "ping", field_name = "reachable", check = "openwisp_monitoring.check.classes.Ping" }]"#,
        ),
        &[],
    )
    .unwrap();
    assert_eq!(
        c.monitoring.critical_device_metrics[0].check.as_deref(),
        Some("ping")
    );
}

#[test]
fn printed_config_parses_back_equal() {
    let c = Config::from_table(
        table(
            r#"
            data_dir = "/var/lib/wispmon"
            listen = "[::]:9999"
            [storage]
            cache_capacity = "128MiB"
            [monitoring]
            tolerance_interval = "10m"
            metrics = { ping = { alert_settings = { threshold = 2 } } }
            [checks]
            period = "1m30s"
            wifi_clients_check_snooze_schedule = [["22:00", "06:00"], ["12-13 18:00", "12-13 19:00"]]
            "#,
        ),
        &[],
    )
    .unwrap();
    let printed = c.to_string();
    let back = Config::from_table(printed.parse().unwrap(), &[]).unwrap();
    assert_eq!(back, c);
    assert_eq!(
        Config::from_table(Config::default().to_string().parse().unwrap(), &[]).unwrap(),
        Config::default()
    );
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn precedence_is_cli_over_env_over_file_over_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("w.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:1001\"\ndata_dir = \"/from/file\"\nlog_level = \"debug\"\n[monitoring]\ndashboard_map = false\n",
    )
    .unwrap();

    let c = Config::load(Some(&file), env(&[]), &Overrides::default()).unwrap();
    assert_eq!(c.listen.0.port(), 1001);
    assert_eq!(c.log_level, LogLevel::Debug);
    assert!(!c.monitoring.dashboard_map);

    let e = env(&[
        ("WISPMON_LISTEN", "127.0.0.1:1002"),
        ("WISPMON_DATA_DIR", "/from/env"),
        ("WISPMON_MONITORING__DASHBOARD_MAP", "true"),
        ("WISPMON_CHECKS__AUTO_CHARTS_X", "1"),
        ("PATH", "/usr/bin"),
        ("WISPMON_ADMIN_PASSWORD", "secret"),
    ]);
    // An unknown env setting is an error naming the key and the variable.
    let err = Config::load(Some(&file), e.clone(), &Overrides::default()).unwrap_err();
    let LoadError::Invalid(ps) = err else {
        panic!("{err}")
    };
    assert_eq!(keys(&ps), ["checks.auto_charts_x"]);
    assert_eq!(
        ps[0].origin.as_deref(),
        Some("env WISPMON_CHECKS__AUTO_CHARTS_X")
    );

    let e: Vec<_> = e
        .into_iter()
        .filter(|(k, _)| !k.contains("AUTO_CHARTS"))
        .collect();
    let c = Config::load(Some(&file), e.clone(), &Overrides::default()).unwrap();
    assert_eq!(c.listen.0.port(), 1002);
    assert_eq!(c.data_dir, PathBuf::from("/from/env"));
    assert!(c.monitoring.dashboard_map);
    assert_eq!(c.log_level, LogLevel::Debug);

    let o = Overrides {
        listen: Some("127.0.0.1:1003".into()),
        data_dir: None,
        log_level: Some("warn".into()),
    };
    let c = Config::load(Some(&file), e, &o).unwrap();
    assert_eq!(c.listen.0.port(), 1003);
    assert_eq!(c.data_dir, PathBuf::from("/from/env"));
    assert_eq!(c.log_level, LogLevel::Warn);

    let o = Overrides {
        listen: Some("bogus".into()),
        ..Overrides::default()
    };
    let LoadError::Invalid(ps) = Config::load(None, env(&[]), &o).unwrap_err() else {
        panic!()
    };
    assert_eq!(
        ps[0].to_string(),
        format!("listen: {} (set by --listen)", ps[0].message)
    );
}

#[test]
fn env_values_are_read_as_toml_when_they_are() {
    let c = Config::load(
        None,
        env(&[
            ("WISPMON_MONITORING__AUTO_CHARTS", r#"["cpu", "disk"]"#),
            ("WISPMON_MONITORING__TOLERANCE_INTERVAL", "10m"),
            ("WISPMON_STORAGE__CACHE_CAPACITY", "32MiB"),
        ]),
        &Overrides::default(),
    )
    .unwrap();
    assert_eq!(c.monitoring.auto_charts, ["cpu", "disk"]);
    assert_eq!(c.monitoring.tolerance_interval, mins(10));
    assert_eq!(c.storage.cache_capacity, ByteSize(32 << 20));
}

#[test]
fn file_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "listen = \n").unwrap();
    let e = Config::load(Some(&file), env(&[]), &Overrides::default()).unwrap_err();
    assert!(matches!(e, LoadError::Syntax { .. }));
    assert!(e.to_string().contains("bad.toml"), "{e}");
    let e = Config::load(
        Some(&dir.path().join("missing.toml")),
        env(&[]),
        &Overrides::default(),
    )
    .unwrap_err();
    assert!(matches!(e, LoadError::Read { .. }));
}

#[test]
fn snooze_ranges_follow_the_spec_cases() {
    let range = |a: &str, b: &str| {
        parse_snooze_range(&toml::Value::Array(vec![
            toml::Value::String(a.into()),
            toml::Value::String(b.into()),
        ]))
        .unwrap()
    };
    /// A range and a wall-clock moment (month, day, hour, minute).
    type Case<'a> = (&'a str, &'a str, (u8, u8, u8, u8));
    // Spec §6.5: every one of these is snoozed...
    let snoozed: [Case<'_>; 12] = [
        ("01-26", "01-26", (1, 26, 12, 0)),
        ("06-15", "08-31", (6, 15, 8, 0)),
        ("06-15", "08-31", (7, 10, 2, 0)),
        ("06-15", "08-31", (8, 31, 23, 59)),
        ("12-25", "01-10", (12, 30, 0, 0)),
        ("12-25", "01-10", (12, 30, 18, 0)),
        ("12-25", "01-10", (1, 3, 0, 0)),
        ("22:00", "06:00", (3, 1, 22, 0)),
        ("22:00", "06:00", (3, 1, 0, 0)),
        ("22:00", "06:00", (3, 1, 5, 0)),
        ("12-13 18:00", "12-13 19:00", (12, 13, 18, 30)),
        ("12-13 18:00", "12-13 19:00", (12, 13, 19, 0)),
    ];
    for (a, b, (mo, d, h, mi)) in snoozed {
        assert!(
            range(a, b).contains(mo, d, h, mi),
            "{a}–{b} at {mo}-{d} {h}:{mi}"
        );
    }
    // ...and these are not.
    let awake: [Case<'_>; 5] = [
        ("12-13 18:00", "12-13 19:00", (12, 14, 18, 0)),
        ("22:00", "06:00", (3, 1, 6, 1)),
        ("22:00", "06:00", (3, 1, 21, 59)),
        ("12-25", "01-10", (1, 11, 0, 0)),
        ("06-15", "08-31", (9, 1, 0, 0)),
    ];
    for (a, b, (mo, d, h, mi)) in awake {
        assert!(
            !range(a, b).contains(mo, d, h, mi),
            "{a}–{b} at {mo}-{d} {h}:{mi}"
        );
    }
}

#[test]
fn a_remote_backend_needs_an_http_address() {
    let c = Config::default();
    assert_eq!(c.timeseries.backend, TimeseriesBackend::Embedded);
    assert!(c.telemetry.database.is_empty());
    let ps = problems("[timeseries]\nbackend = \"influxdb\"");
    assert_eq!(keys(&ps), ["timeseries.url"]);
    let ps = problems("[timeseries]\nbackend = \"influxdb\"\nurl = \"https://x:8086\"");
    assert_eq!(keys(&ps), ["timeseries.url"]);
    let ps = problems("[timeseries]\nbackend = \"mysql\"");
    assert_eq!(keys(&ps), ["timeseries.backend"]);
    assert!(ps[0].message.contains("\"influxdb\""), "{}", ps[0].message);
    let c = Config::from_table(
        table("[timeseries]\nbackend = \"influxdb\"\nurl = \"http://10.0.0.20:8086/\""),
        &[],
    )
    .unwrap();
    assert_eq!(c.timeseries.backend, TimeseriesBackend::Influxdb);
    // Round trip through the printed form.
    let again = Config::from_table(c.to_table(), &[]).unwrap();
    assert_eq!(again, c);
}

#[test]
fn telemetry_database_is_checked() {
    let ps = problems("[telemetry]\ndatabase = \"openwisp2\"");
    assert_eq!(keys(&ps), ["telemetry.database"]);
    let ps = problems("[telemetry]\ndatabase = \"_internal\"\ninterval = \"0s\"");
    assert_eq!(keys(&ps), ["telemetry.interval", "telemetry.database"]);
    let c = Config::from_table(table("[telemetry]\ndatabase = \"wispmon\""), &[]).unwrap();
    assert_eq!(c.telemetry.interval, Duration::from_secs(60));
    assert_eq!(Config::from_table(c.to_table(), &[]).unwrap(), c);
}

#[test]
fn http_limits_have_defaults_and_bounds() {
    let c = Config::default();
    assert_eq!(c.http.max_connections, 1024);
    assert_eq!(c.http.header_read_timeout, Duration::from_secs(10));
    assert_eq!(c.http.request_timeout, Duration::from_secs(120));
    let ps = problems("[http]\nmax_connections = 0\nheader_read_timeout = \"0s\"");
    assert_eq!(
        keys(&ps),
        ["http.max_connections", "http.header_read_timeout"]
    );
    let c = Config::from_table(table("[http]\nrequest_timeout = \"5m\""), &[]).unwrap();
    assert_eq!(Config::from_table(c.to_table(), &[]).unwrap(), c);
}
