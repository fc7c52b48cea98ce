//! `wispmon check-config` and config errors, as an operator meets them.

use crate::util::run;

#[test]
fn typoed_key_in_config_file_is_refused_with_the_key_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wispmon.toml");
    std::fs::write(&file, "[monitoring]\ntolerence_interval = \"5m\"\n").unwrap();
    let f = file.to_str().unwrap();
    for cmd in [
        &["--config", f, "check-config"][..],
        &["--config", f, "serve", "--listen", "127.0.0.1:0"],
    ] {
        let out = run(cmd, &[], Some(dir.path()));
        assert_eq!(out.status.code(), Some(1), "{cmd:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("monitoring.tolerence_interval: unknown key"),
            "{err}"
        );
    }
    assert!(!dir.path().join("wispmon-data").exists(), "nothing started");
}

#[test]
fn check_config_prints_the_effective_config_with_every_layer_applied() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wispmon.toml");
    std::fs::write(
        &file,
        "log_level = \"debug\"\n[checks]\nauto_iperf3 = true\n",
    )
    .unwrap();
    let out = run(
        &[
            "--config",
            file.to_str().unwrap(),
            "check-config",
            "--listen",
            "0.0.0.0:9000",
        ],
        &[("WISPMON_MONITORING__DEFAULT_CHART_TIME", "30d")],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for expected in [
        "listen = \"0.0.0.0:9000\"",
        "log_level = \"debug\"",
        "auto_iperf3 = true",
        "default_chart_time = \"30d\"",
        "tolerance_interval = \"5m0s\"",
        "default_retention_policy = \"26280h0m0s\"",
    ] {
        assert!(text.contains(expected), "missing {expected} in:\n{text}");
    }
    // The printed config is itself a valid config file.
    let printed = dir.path().join("printed.toml");
    std::fs::write(&printed, &text).unwrap();
    let again = run(
        &["--config", printed.to_str().unwrap(), "check-config"],
        &[],
        None,
    );
    assert!(again.status.success());
    assert_eq!(String::from_utf8(again.stdout).unwrap(), text);
}

#[test]
fn check_config_lists_every_problem() {
    let out = run(
        &["check-config", "--listen", "nowhere", "--log-level", "loud"],
        &[("WISPMON_CHECKS__PERIOD", "1s"), ("WISPMON_BOGUS", "1")],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "listen: invalid listen address \"nowhere\"",
        "(set by --listen)",
        "log_level: invalid log level",
        "checks.period: must be at least 10s (set by env WISPMON_CHECKS__PERIOD)",
        "bogus: unknown key (set by env WISPMON_BOGUS)",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
}

#[test]
fn bad_metric_and_chart_overrides_are_refused_with_the_key_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wispmon.toml");
    std::fs::write(
        &file,
        "[monitoring.metrics.cpu.alert_settings]\nthreshold = \"high\"\n",
    )
    .unwrap();
    let f = file.to_str().unwrap();
    for cmd in [
        &["--config", f, "check-config"][..],
        &["--config", f, "serve", "--listen", "127.0.0.1:0"],
    ] {
        let out = run(cmd, &[], Some(dir.path()));
        assert_eq!(out.status.code(), Some(1), "{cmd:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("METRICS.cpu.alert_settings.threshold: expected a number"),
            "{err}"
        );
    }
    assert!(!dir.path().join("wispmon-data").exists(), "nothing started");
    // A valid override is accepted: a partial change of one default.
    std::fs::write(
        &file,
        "[monitoring.metrics.cpu.alert_settings]\nthreshold = 80\n",
    )
    .unwrap();
    let out = run(&["--config", f, "check-config"], &[], Some(dir.path()));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
