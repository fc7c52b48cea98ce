//! `[timeseries] backend = "influxdb"`: the same router samples posted to a wispmon on its
//! embedded engine and to a wispmon storing its timeseries in a real InfluxDB 1.x (Debian's
//! `influxd`, started by hand on loopback) give the same charts, dashboard, snapshot and
//! alerts; the points are in the InfluxDB under OpenWISP's names; deleting the device drops
//! its series there. A remote that cannot be reached stops the start with a clear message.
//!
//! Against the InfluxDB `.ci/run` starts (`CI_INFLUXD_URL`), else one started here
//! (see `compat_write::start_influxd`; needs `influxd`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use crate::compat_write::{Influxd, start_influxd};
use crate::device_metrics::{agent_time, enc, metrics_path, now_secs, post};
use crate::operator_api::{ADMIN_PASSWORD, call, create_device, create_org, token};
use crate::util::TestServer;

/// `q` on the InfluxDB at `base` → the first result.
fn influx(base: &str, q: &str) -> Value {
    crate::util::influxql(base, "openwisp2", q)
}

struct Remote {
    url: String,
}

struct Side {
    s: TestServer,
    admin: String,
    id: String,
    key: String,
}

fn side(dir: &std::path::Path, env: &[(&str, &str)]) -> Side {
    let mut env = env.to_vec();
    env.push(("WISPMON_ADMIN_PASSWORD", ADMIN_PASSWORD));
    // Tolerances from one minute up use the window rule (spec §5.3), so that rule is driven.
    env.push(("WISPMON_MONITORING__TOLERANCE_INTERVAL", "60s"));
    // No active checks: their results land whenever the scheduler gets to them, which would
    // make the two sides' charts differ by timing alone.
    env.push(("WISPMON_CHECKS__AUTO_PING", "false"));
    env.push(("WISPMON_CHECKS__AUTO_DEVICE_CONFIG_CHECK", "false"));
    env.push(("WISPMON_CHECKS__AUTO_DATA_COLLECTED_CHECK", "false"));
    let s = TestServer::spawn(dir, &[], &env);
    let admin = token(&s, "admin", ADMIN_PASSWORD);
    let org = create_org(&s, &admin, "isp")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let d = create_device(&s, &admin, &org, "ap-remote", "00:11:22:33:44:66");
    Side {
        id: d["id"].as_str().unwrap().to_owned(),
        key: d["key"].as_str().unwrap().to_owned(),
        s,
        admin,
    }
}

fn doc(rx: u64, load: f64, client: &str) -> Vec<u8> {
    json!({
        "type": "DeviceMonitoring",
        "general": {"uptime": 5000},
        "resources": {
            "load": [load, 0.1, 0.1], "cpus": 1,
            "memory": {"total": 1000, "free": 500, "buffered": 0, "shared": 0},
            "disk": [{"filesystem": "/dev/root", "mount_point": "/", "used_bytes": 25,
                      "available_bytes": 75, "used_percent": 25, "size_bytes": 100}],
        },
        "interfaces": [
            {"name": "eth0", "statistics": {"rx_bytes": rx, "tx_bytes": rx / 2}},
            {"name": "wlan0", "type": "wireless", "statistics": {"rx_bytes": 5, "tx_bytes": 5},
             "wireless": {"ssid": "x", "mode": "access_point", "channel": 1, "country": "IT",
                          "frequency": 2412, "noise": -90, "tx_power": 20,
                          "clients": [{"mac": client, "auth": true, "authorized": true,
                                       "ht": true, "vht": false, "wmm": true, "mfp": false}]}},
        ],
    })
    .to_string()
    .into_bytes()
}

/// Every chart's non-null points by (title, trace, x), numbers as f64 (InfluxDB renders the
/// float 5.0 as `5`; the embedded engine keeps `5.0`).
fn points(v: &Value) -> BTreeMap<(String, String, i64), f64> {
    let mut out = BTreeMap::new();
    let xs: Vec<i64> = v["x"]
        .as_array()
        .map(|x| x.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default();
    for c in v["charts"].as_array().unwrap() {
        let title = c["title"].as_str().unwrap_or_default().to_owned();
        let cx: Vec<i64> = c["x"]
            .as_array()
            .map(|x| x.iter().filter_map(Value::as_i64).collect())
            .unwrap_or_else(|| xs.clone());
        for t in c["traces"].as_array().into_iter().flatten() {
            let name = t[0].as_str().unwrap_or_default().to_owned();
            for (i, y) in t[1].as_array().into_iter().flatten().enumerate() {
                if let Some(y) = y.as_f64() {
                    let x = cx.get(i).copied().unwrap_or(i as i64);
                    out.insert((title.clone(), name.clone(), x), y);
                }
            }
        }
    }
    out
}

/// The InfluxDB to test against: `.ci/run`'s (its test databases dropped first), or one
/// started now (stopped when the guard drops).
fn remote_influxdb(dir: &std::path::Path) -> Option<(String, Option<Influxd>)> {
    if let Ok(url) = std::env::var("CI_INFLUXD_URL") {
        for db in ["openwisp2", "wispmon"] {
            // Statements that change data must be POSTed.
            let r = ureq::post(&format!("{url}/query"))
                .send_form(&[("q", &format!("DROP DATABASE {db}"))])
                .unwrap();
            assert_eq!(r.status(), 200, "{url}");
        }
        return Some((url, None));
    }
    let i = start_influxd(dir)?;
    Some((i.url.clone(), Some(i)))
}

#[test]
fn a_remote_influxdb_answers_like_the_embedded_engine() {
    let dir = tempfile::tempdir().unwrap();
    let Some((url, _guard)) = remote_influxdb(dir.path()) else {
        return;
    };
    let influxd = Remote { url };
    let embedded = side(&dir.path().join("embedded"), &[]);
    let remote = side(
        &dir.path().join("remote"),
        &[
            ("WISPMON_TIMESERIES__BACKEND", "influxdb"),
            ("WISPMON_TIMESERIES__URL", &influxd.url),
            ("WISPMON_TELEMETRY__DATABASE", "wispmon"),
            ("WISPMON_TELEMETRY__INTERVAL", "1s"),
        ],
    );
    // The monitoring database and its policies are created on the remote at start.
    let rps = influx(&influxd.url, "SHOW RETENTION POLICIES ON openwisp2");
    let names: Vec<&str> = rps["series"][0]["values"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r[0].as_str())
        .collect();
    assert!(
        names.contains(&"autogen") && names.contains(&"short"),
        "{rps}"
    );

    // Whole 10-minute buckets, not straddling a boundary between the two servers' posts.
    while now_secs() % 600 > 560 {
        std::thread::sleep(Duration::from_secs(1));
    }
    let now = now_secs();
    let both = [&embedded, &remote];
    for x in both {
        let samples = [
            (Some(now - 1500), 1_000_000_000u64, 0.2, "aa:00:00:00:00:01"),
            (Some(now - 1200), 3_000_000_000, 0.4, "aa:00:00:00:00:02"),
        ];
        for (at, rx, load, client) in samples {
            let t = at.map(agent_time).unwrap_or_default();
            let (st, body) = post(
                &x.s,
                &metrics_path(&x.id),
                &[("key", &x.key), ("time", &t)],
                &doc(rx, load, client),
            );
            assert_eq!(st, 200, "{body}\n{}", x.s.stderr());
        }
        // The CPU alert with a two-minute tolerance: readings over 90 % for two minutes, at
        // most 1.5 tolerance intervals apart, make it a problem (spec §5.3), read back from
        // the store's window.
        let (_, list) = call(
            "GET",
            &x.s.url(&format!("/api/v1/monitoring/device/{}/metric/", x.id)),
            Some(&x.admin),
            None,
        );
        let cpu = list
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == "CPU usage")
            .unwrap()
            .clone();
        let (st, v) = call(
            "PATCH",
            &x.s.url(&format!(
                "/api/v1/monitoring/device/{}/metric/{}/alert-settings/",
                x.id,
                cpu["id"].as_str().unwrap()
            )),
            Some(&x.admin),
            Some(&json!({"custom_tolerance": 2})),
        );
        assert_eq!(st, 200, "{v}");
        for (at, rx) in [
            (Some(now - 130), 5_000_000_000u64),
            (Some(now - 65), 5_500_000_000),
            (None, 6_000_000_000),
        ] {
            let t = at.map(agent_time);
            let mut q = vec![("key", x.key.as_str())];
            if let Some(t) = &t {
                q.push(("time", t));
            }
            let (st, body) = post(
                &x.s,
                &metrics_path(&x.id),
                &q,
                &doc(rx, 0.95, "aa:00:00:00:00:03"),
            );
            assert_eq!(st, 200, "{body}\n{}", x.s.stderr());
        }
    }

    // The points are in the InfluxDB, under OpenWISP's names.
    let r = influx(
        &influxd.url,
        &format!(
            "SELECT count(rx_bytes) FROM traffic WHERE object_id = '{}' AND ifname = 'eth0'",
            remote.id
        ),
    );
    assert_eq!(r["series"][0]["values"][0][1], 4, "{r}");
    let r = influx(
        &influxd.url,
        &format!(
            "SELECT count(data) FROM short.device_data WHERE pk = '{}'",
            remote.id
        ),
    );
    assert_eq!(r["series"][0]["values"][0][1], 5, "{r}");

    // wispmon's own InfluxDB API is relayed to the remote: Grafana pointed at wispmon sees
    // the same data, and line protocol written to wispmon lands there.
    let q = format!(
        "SELECT count(rx_bytes) FROM traffic WHERE object_id = '{}' GROUP BY ifname",
        remote.id
    );
    let direct = crate::util::get(&format!("{}/query?db=openwisp2&q={}", influxd.url, enc(&q)));
    let relayed = crate::util::get(&format!(
        "{}?db=openwisp2&q={}",
        remote.s.url("/query"),
        enc(&q)
    ));
    assert_eq!(direct, relayed);
    let r = ureq::post(&format!("{}?db=openwisp2", remote.s.url("/write")))
        .send_string(&format!("custom,host=x v=7i {}000000000\n", now))
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = influx(&influxd.url, "SELECT v FROM custom");
    assert_eq!(r["series"][0]["values"][0][1], 7, "{r}");
    // Errors come back as the remote words them.
    let bad = "SELECT FROM";
    let direct = crate::util::get(&format!(
        "{}/query?db=openwisp2&q={}",
        influxd.url,
        enc(bad)
    ));
    let relayed = crate::util::get(&format!(
        "{}?db=openwisp2&q={}",
        remote.s.url("/query"),
        enc(bad)
    ));
    assert_eq!(direct, relayed);
    assert_eq!(relayed.0, 400);

    let get = |x: &Side, path: &str| {
        let (st, v) = call("GET", &x.s.url(path), Some(&x.admin), None);
        assert_eq!(st, 200, "{path}: {v}");
        v
    };
    let charts = |x: &Side| get(x, &format!("{}?time=1d&status=true", metrics_path(&x.id)));
    let (e, r) = (charts(&embedded), charts(&remote));
    let titles = |v: &Value| -> Vec<String> {
        v["charts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["title"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert_eq!(titles(&e), titles(&r));
    for t in ["Traffic: eth0", "CPU Load", "WiFi clients: wlan0"] {
        assert!(
            titles(&r).iter().any(|x| x == t),
            "{t} missing: {:?}",
            titles(&r)
        );
    }
    let (pe, pr) = (points(&e), points(&r));
    assert!(pe.len() > 10, "{pe:?}");
    assert_eq!(pe.len(), pr.len(), "{pe:?}\n{pr:?}");
    for (k, a) in &pe {
        let b = pr
            .get(k)
            .unwrap_or_else(|| panic!("{k:?} missing remotely"));
        assert!((a - b).abs() < 1e-9, "{k:?}: {a} vs {b}");
    }
    // The latest snapshot, read back from the `short` policy.
    assert_eq!(e["data"], r["data"]);
    assert_eq!(r["data"]["resources"]["load"][0], 0.95, "{}", r["data"]);

    // Alerts: the tolerant CPU flag went through the window read on both.
    let metric = |x: &Side, name: &str| {
        get(x, &format!("/api/v1/monitoring/device/{}/metric/", x.id))
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .unwrap()
            .clone()
    };
    for x in both {
        let cpu = metric(x, "CPU usage");
        assert_eq!(
            (
                cpu["is_healthy"].clone(),
                cpu["is_healthy_tolerant"].clone()
            ),
            (json!(false), json!(false)),
            "{cpu}"
        );
        let n = get(x, "/api/v1/notifications/notification/");
        assert!(
            n["results"]
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n["type"] == "cpu_problem"),
            "{n}"
        );
    }

    // The dashboard's general charts.
    let dash = |x: &Side| get(x, "/api/v1/monitoring/dashboard/?time=1d");
    let (de, dr) = (points(&dash(&embedded)), points(&dash(&remote)));
    assert!(!de.is_empty());
    assert_eq!(de.len(), dr.len(), "{de:?}\n{dr:?}");
    for (k, a) in &de {
        assert!((a - dr[k]).abs() < 1e-9, "{k:?}: {a} vs {}", dr[k]);
    }

    // The self-monitoring numbers go to the remote too.
    let url = format!(
        "{}/query?db=wispmon&q={}",
        influxd.url,
        enc("SELECT count(value) FROM wispmon_engine_series")
    );
    let (st, text) = crate::util::get(&url);
    assert_eq!(st, 200, "{text}");
    assert!(text.contains("\"count\""), "{text}");
    // And the System page's charts read them from there, with the same InfluxQL.
    crate::lifecycle::check_system_charts(&remote.s, &remote.admin);
    let off = get(&embedded, "/api/v1/monitoring/system/?time=1d");
    assert_eq!(
        (off["enabled"].clone(), off["charts"].clone()),
        (json!(false), json!([]))
    );

    // Deleting the device drops its series on the remote.
    let (st, v) = call(
        "DELETE",
        &remote
            .s
            .url(&format!("/api/v1/controller/device/{}/", remote.id)),
        Some(&remote.admin),
        None,
    );
    assert_eq!(st, 204, "{v}");
    for tag in ["object_id", "pk"] {
        let r = influx(
            &influxd.url,
            &format!("SHOW SERIES WHERE {tag} = '{}'", remote.id),
        );
        assert!(r["series"].is_null(), "{tag}: {r}");
    }
}

#[test]
fn an_unreachable_remote_stops_the_start_with_the_address() {
    let dir = tempfile::tempdir().unwrap();
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let data = dir.path().join("data");
    let out = crate::util::run(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &[
            ("WISPMON_TIMESERIES__BACKEND", "influxdb"),
            ("WISPMON_TIMESERIES__URL", &url),
            ("WISPMON_TIMESERIES__TIMEOUT", "2s"),
        ],
        None,
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("remote InfluxDB {url}")),
        "stderr: {err}"
    );
    // And a backend without an address is a configuration error naming the key.
    let out = crate::util::run(
        &["check-config"],
        &[("WISPMON_TIMESERIES__BACKEND", "influxdb")],
        Some(dir.path()),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("timeseries.url"), "stderr: {err}");
}
