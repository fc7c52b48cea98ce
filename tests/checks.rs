//! Active checks as an operator meets them: a device created with a reachable management IP
//! is pinged for real (ICMP to loopback) within seconds and its ping metric appears with its
//! charts; `wispmon run-checks` runs every check once on a stopped appliance.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::operator_api::{call, create_org, server};
use crate::util::{BIN, TestServer};

fn ping_metric(s: &TestServer, admin: &str, id: &str) -> Option<Value> {
    let (st, list) = call(
        "GET",
        &s.url(&format!("/api/v1/monitoring/device/{id}/metric/")),
        Some(admin),
        None,
    );
    assert_eq!(st, 200, "{list}");
    list.as_array()?
        .iter()
        .find(|m| m["key"] == "ping" || m["name"] == "Ping")
        .cloned()
}

#[test]
fn a_new_device_is_pinged_within_ten_seconds_then_run_checks_runs_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, admin) = server(dir.path());
    let org = create_org(&s, &admin, "isp")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let created = Instant::now();
    let (st, dev) = call(
        "POST",
        &s.url("/api/v1/controller/device/"),
        Some(&admin),
        Some(&json!({"organization": org, "name": "loopback-ap",
            "mac_address": "00:11:22:33:44:55", "management_ip": "127.0.0.1"})),
    );
    assert_eq!(st, 201, "{dev}");
    let id = dev["id"].as_str().unwrap().to_owned();
    let metric = loop {
        if let Some(m) = ping_metric(&s, &admin, &id)
            && m["is_healthy"] == true
        {
            break m;
        }
        assert!(
            created.elapsed() < Duration::from_secs(10),
            "no ping result within 10 s: {:?}; log:\n{}",
            call(
                "GET",
                &s.url(&format!("/api/v1/monitoring/device/{id}/metric/")),
                Some(&admin),
                None
            )
            .1,
            s.stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(metric["alert_settings"]["operator"], "<", "{metric}");
    // The charts of spec §6.2 come with the first result.
    let (st, charts) = call(
        "GET",
        &s.url(&format!("/api/v1/monitoring/device/{id}/?time=1d")),
        Some(&admin),
        None,
    );
    assert_eq!(st, 200, "{charts}");
    let titles: Vec<&str> = charts["charts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["title"].as_str())
        .collect();
    for t in ["Ping Success Rate", "Packet loss", "Round Trip Time"] {
        assert!(titles.contains(&t), "{t} missing from {titles:?}");
    }
    // Every reply of the round is kept for the latency distribution, which puts it in the
    // current bucket with loss 0 and quartiles within [min, max].
    let (st, dist) = call(
        "GET",
        &s.url(&format!(
            "/api/v1/monitoring/device/{id}/ping-latency/?time=1d"
        )),
        Some(&admin),
        None,
    );
    assert_eq!(st, 200, "{dist}");
    assert_eq!(dist["interval"], "10m");
    assert!(dist["samples"].as_u64().unwrap() >= 1, "{dist}");
    let last = |k: &str| {
        dist[k]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .find_map(Value::as_f64)
            .unwrap_or_else(|| panic!("no {k} in {dist}"))
    };
    let (min, p25, p50, p75, max) = (
        last("min"),
        last("p25"),
        last("p50"),
        last("p75"),
        last("max"),
    );
    assert!(
        min <= p25 && p25 <= p50 && p50 <= p75 && p75 <= max,
        "{dist}"
    );
    assert!(min >= 0.0 && max < 1000.0, "{dist}");
    assert_eq!(last("loss"), 0.0);
    let n = dist["x"].as_array().unwrap().len();
    for k in ["min", "p25", "p50", "p75", "max", "loss"] {
        assert_eq!(
            dist[k].as_array().unwrap().len(),
            n,
            "{k} is aligned with x"
        );
    }
    // Without credentials: nothing.
    let (st, _) = call(
        "GET",
        &s.url(&format!(
            "/api/v1/monitoring/device/{id}/ping-latency/?time=1d"
        )),
        None,
        None,
    );
    assert_eq!(st, 401);
    // The log says which kind of ICMP socket is in use.
    assert!(
        s.stderr().to_lowercase().contains("raw") || s.stderr().to_lowercase().contains("dgram"),
        "{}",
        s.stderr()
    );

    s.signal("TERM");
    assert!(
        s.wait_exit(Duration::from_secs(20))
            .is_some_and(|e| e.success())
    );
    let out = std::process::Command::new(BIN)
        .arg("run-checks")
        .arg("--data-dir")
        .arg(dir.path())
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Ping and data collected store; configuration applied has no configuration to check.
    assert!(
        stdout.contains("ran 3 checks") && stdout.contains("2 stored a result"),
        "{stdout}"
    );
}
