//! The monitoring agent's endpoint as real routers use it: every NetJSON fixture case, the
//! complete example of spec §3.7 checked through `/query`, backlogs arriving out of order,
//! and the 404/403 rules. Data is read back with InfluxQL, as OpenWISP and Grafana read it.

use serde_json::{Value, json};

use crate::netjson_cases::{self, FIXTURES};
use crate::operator_api::{call, create_device, create_org, server};
use crate::util::TestServer;

pub use crate::util::enc;

/// POSTs `body` as the agent does; returns (status, body text).
pub fn post(s: &TestServer, path: &str, query: &[(&str, &str)], body: &[u8]) -> (u16, String) {
    let qs: Vec<String> = query
        .iter()
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect();
    let url = format!("{}?{}", s.url(path), qs.join("&"));
    let r = ureq::post(&url)
        .set("Content-Type", "application/json")
        .set("User-Agent", "curl/8.5.0")
        .send_bytes(body);
    let r = match r {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("POST {url}: {e}"),
    };
    (r.status(), r.into_string().unwrap())
}

pub fn metrics_path(id: &str) -> String {
    format!("/api/v1/monitoring/device/{id}/")
}

/// `q` against the monitoring database with ns timestamps → the first statement's series.
fn influx(s: &TestServer, q: &str) -> Vec<Value> {
    let r = crate::util::influxql(&format!("http://{}", s.addr), "openwisp2", q);
    assert!(r.get("error").is_none(), "{q}: {r}");
    r["series"].as_array().cloned().unwrap_or_default()
}

/// The rows of a one-series answer as (time ns, values).
fn rows(series: &[Value]) -> Vec<Vec<Value>> {
    series
        .first()
        .map(|s| {
            s["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_array().unwrap().clone())
                .collect()
        })
        .unwrap_or_default()
}

/// `dd-mm-YYYY_HH:MM:SS.000000` for a UTC epoch second, as the agent names its files.
pub fn agent_time(secs: i64) -> String {
    let rem = secs.rem_euclid(86_400);
    format!(
        "{}_{:02}:{:02}:{:02}.000000",
        crate::operator_api::agent_date(secs as u64),
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

struct Setup {
    s: TestServer,
    admin: String,
    org: String,
    _dir: tempfile::TempDir,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let (s, admin) = server(&dir.path().join("data"));
    let org = create_org(&s, &admin, "ISP")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    Setup {
        s,
        admin,
        org,
        _dir: dir,
    }
}

fn device(st: &Setup, name: &str, mac: &str) -> (String, String) {
    let d = create_device(&st.s, &st.admin, &st.org, name, mac);
    (
        d["id"].as_str().unwrap().to_owned(),
        d["key"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn every_fixture_case_gets_its_status_and_refusals_store_nothing() {
    let st = setup();
    let (bad_id, bad_key) = device(&st, "refused", "00:00:00:00:01:01");
    let (good_id, good_key) = device(&st, "accepted", "00:00:00:00:01:02");
    let mut n = 0;
    for (file, id, key) in [
        ("malformed-variants.json", &bad_id, &bad_key),
        ("edge-cases-valid.json", &good_id, &good_key),
    ] {
        for case in netjson_cases::requests(file) {
            let mut q: Vec<(&str, &str)> = vec![("key", key)];
            q.extend(case.query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            let (status, text) = post(&st.s, &metrics_path(id), &q, &case.body);
            let want = if case.expect_400 { 400 } else { 200 };
            assert_eq!(status, want, "{file} {}: {text}", case.id);
            if want == 200 {
                assert_eq!(text, "null", "{}", case.id);
            } else {
                assert!(!text.is_empty(), "{}: a refusal says why", case.id);
            }
            n += 1;
        }
    }
    assert_eq!(n, 82 + 25);
    // Nothing of a refused sample is stored; the accepted ones are.
    for (id, want) in [(&bad_id, 0), (&good_id, 1)] {
        let snap = influx(
            &st.s,
            &format!("SELECT count(data) FROM short.device_data WHERE pk = '{id}'"),
        );
        assert_eq!(snap.len(), want, "{id}: {snap:?}");
        let metrics = influx(
            &st.s,
            &format!(
                "SELECT * FROM cpu, memory, disk, traffic, wifi_clients, signal WHERE object_id = '{id}'"
            ),
        );
        assert_eq!(metrics.is_empty(), want == 0, "{metrics:?}");
    }
}

/// The spec's complete example (§3.7), after a previous sample with the counters it assumes.
#[test]
fn the_spec_example_writes_the_spec_points() {
    let st = setup();
    let (id, key) = device(&st, "ap-lobby-01", "94:83:c4:12:aa:00");
    let t = (now_secs() / 300 - 2) * 300;
    let example: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/spec_example.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let previous = json!({
        "type": "DeviceMonitoring",
        "general": {"uptime": 431805},
        "interfaces": [
            {"name": "eth0", "statistics": {"rx_bytes": 10_000_000_000u64, "tx_bytes": 2_000_000_000u64}},
            {"name": "wlan0", "statistics": {"rx_bytes": 500_000_000u64, "tx_bytes": 3_000_000_000u64}},
        ],
    });
    for (doc, at) in [(&previous, t - 300), (&example, t)] {
        let (status, text) = post(
            &st.s,
            &metrics_path(&id),
            &[
                ("key", &key),
                ("time", &agent_time(at)),
                ("current", "true"),
            ],
            doc.to_string().as_bytes(),
        );
        assert_eq!((status, text.as_str()), (200, "null"));
    }
    let ns = t * 1_000_000_000;
    let traffic = |ifname: &str| {
        rows(&influx(
            &st.s,
            &format!(
                "SELECT rx_bytes, tx_bytes FROM traffic WHERE object_id = '{id}' AND ifname = '{ifname}'"
            ),
        ))
    };
    assert_eq!(
        traffic("eth0"),
        [vec![json!(ns), json!(250_000_000), json!(50_000_000)]]
    );
    assert_eq!(
        traffic("wlan0"),
        [vec![json!(ns), json!(20_000_000), json!(100_000_000)]]
    );
    // First samples of an interface: no lifetime counter as one spike (a departure).
    assert!(traffic("wlan1").is_empty());
    assert!(traffic("wwan0").is_empty());
    // Tags exactly as upstream writes them.
    let series = influx(
        &st.s,
        &format!("SHOW SERIES FROM traffic WHERE object_id = '{id}' AND ifname = 'eth0'"),
    );
    assert_eq!(
        series[0]["values"][0][0],
        format!(
            "traffic,content_type=config.device,ifname=eth0,object_id={id},organization_id={}",
            st.org
        )
    );
    let cpu = rows(&influx(
        &st.s,
        &format!("SELECT cpu_usage, load_1, load_5, load_15 FROM cpu WHERE object_id = '{id}'"),
    ));
    assert_eq!(
        cpu,
        [vec![
            json!(ns),
            json!(17.5),
            json!(0.35),
            json!(0.22),
            json!(0.18)
        ]]
    );
    let disk = rows(&influx(
        &st.s,
        &format!("SELECT used_disk FROM disk WHERE object_id = '{id}'"),
    ));
    assert_eq!(disk, [vec![json!(ns), json!(58.92857142857143)]]);
    let mem = rows(&influx(
        &st.s,
        &format!(
            "SELECT percent_used, total_memory, available_memory, cached_memory FROM memory WHERE object_id = '{id}'"
        ),
    ));
    assert_eq!(
        mem,
        [vec![
            json!(ns),
            json!(45.11315185306658),
            json!(249_774_080),
            json!(130_830_336),
            json!(33_558_528)
        ]]
    );
    let signal = rows(&influx(
        &st.s,
        &format!(
            "SELECT signal_strength, signal_power, signal_quality, snr, access_tech FROM signal WHERE object_id = '{id}' AND ifname = 'wwan0'"
        ),
    ));
    // InfluxDB prints whole floats without a decimal point.
    assert_eq!(
        signal,
        [vec![
            json!(ns),
            Value::Null,
            json!(-88),
            json!(-10),
            json!(15),
            json!(5)
        ]]
    );
    let clients = rows(&influx(
        &st.s,
        &format!("SELECT clients FROM wifi_clients WHERE object_id = '{id}' AND ifname = 'wlan0'"),
    ));
    assert_eq!(
        clients,
        [
            vec![json!(ns), json!("3c:22:fb:7a:10:01")],
            vec![json!(ns + 1000), json!("a4:83:e7:01:22:9f")],
        ]
    );
    // The snapshot, at the sample's time, transformed.
    let snap = rows(&influx(
        &st.s,
        &format!("SELECT data FROM short.device_data WHERE pk = '{id}' ORDER BY time DESC LIMIT 1"),
    ));
    assert_eq!(snap[0][0], json!(ns));
    let data: Value = serde_json::from_str(snap[0][1].as_str().unwrap()).unwrap();
    let wlan0 = &data["interfaces"][2]["wireless"];
    assert_eq!(wlan0["bitrate"], json!(144.4));
    assert_eq!(wlan0["clients"][0]["vht"], Value::Null);
    assert_eq!(data["general"]["hostname"], "ap-lobby-01");
}

/// A backlog flushed in file-name order (not time order) still gives exact traffic, and a
/// reboot counts the counters since boot.
#[test]
fn traffic_is_exact_whatever_the_arrival_order() {
    let st = setup();
    let (id, key) = device(&st, "cpe", "00:00:00:00:02:01");
    let t0 = (now_secs() / 300 - 10) * 300;
    let sample = |rx: u64, uptime: u64| -> Vec<u8> {
        json!({
            "type": "DeviceMonitoring",
            "general": {"uptime": uptime},
            "interfaces": [{"name": "eth0.2", "statistics": {"rx_bytes": rx, "tx_bytes": rx / 10}}],
        })
        .to_string()
        .into_bytes()
    };
    let counters = [1_000u64, 4_000, 9_000, 16_000];
    // Arrival order 2, 0, 3, 1.
    for i in [2usize, 0, 3, 1] {
        let body = sample(counters[i], 10_000 + 300 * i as u64);
        let (status, _) = post(
            &st.s,
            &metrics_path(&id),
            &[("key", &key), ("time", &agent_time(t0 + 300 * i as i64))],
            &body,
        );
        assert_eq!(status, 200);
    }
    // A reboot: uptime back to 100 s, counters restarted.
    let body = sample(700, 100);
    let (status, _) = post(
        &st.s,
        &metrics_path(&id),
        &[("key", &key), ("time", &agent_time(t0 + 1200))],
        &body,
    );
    assert_eq!(status, 200);
    let got = rows(&influx(
        &st.s,
        &format!(
            "SELECT rx_bytes, tx_bytes FROM traffic WHERE object_id = '{id}' AND ifname = 'eth0_2'"
        ),
    ));
    let ns = |s: i64| json!(s * 1_000_000_000);
    assert_eq!(
        got,
        [
            vec![ns(t0 + 300), json!(3_000), json!(300)],
            vec![ns(t0 + 600), json!(5_000), json!(500)],
            vec![ns(t0 + 900), json!(7_000), json!(700)],
            vec![ns(t0 + 1200), json!(700), json!(70)],
        ]
    );
    // The same sample sent twice (a retry after a lost answer) changes nothing.
    let body = sample(counters[3], 10_900);
    post(
        &st.s,
        &metrics_path(&id),
        &[("key", &key), ("time", &agent_time(t0 + 900))],
        &body,
    );
    let again = rows(&influx(
        &st.s,
        &format!("SELECT rx_bytes FROM traffic WHERE object_id = '{id}' AND ifname = 'eth0_2'"),
    ));
    assert_eq!(again.len(), 4);
    assert_eq!(again[2][1], json!(7_000));
}

#[test]
fn unknown_devices_keys_and_deactivation_answer_like_upstream() {
    let st = setup();
    let (id, key) = device(&st, "ap", "00:00:00:00:03:01");
    let body = br#"{"type":"DeviceMonitoring"}"#;
    let plain = id.replace('-', "");
    type Case<'a> = (String, Vec<(&'a str, &'a str)>, u16);
    let cases: Vec<Case<'_>> = vec![
        (metrics_path(&id), vec![("key", &key)], 200),
        (metrics_path(&plain), vec![("key", &key)], 200),
        (format!("/{}", metrics_path(&id)), vec![("key", &key)], 200),
        (
            metrics_path(&id),
            vec![("key", "0123456789abcdef0123456789abcdef")],
            403,
        ),
        (metrics_path(&id), vec![], 403),
        (
            metrics_path("5d2b7c1e-8f43-4a7e-9c61-2f0e9b1a7d33"),
            vec![("key", &key)],
            404,
        ),
        (metrics_path("not-a-uuid"), vec![("key", &key)], 404),
    ];
    for (path, q, want) in &cases {
        let (status, text) = post(&st.s, path, q, body);
        assert_eq!(status, *want, "{path} {q:?}: {text}");
    }
    // Deactivated device, then an inactive organization: 404.
    let dev_url = st.s.url(&format!("/api/v1/controller/device/{id}/"));
    call(
        "PATCH",
        &dev_url,
        Some(&st.admin),
        Some(&json!({"is_deactivated": true})),
    );
    assert_eq!(
        post(&st.s, &metrics_path(&id), &[("key", &key)], body).0,
        404
    );
    call(
        "PATCH",
        &dev_url,
        Some(&st.admin),
        Some(&json!({"is_deactivated": false})),
    );
    assert_eq!(
        post(&st.s, &metrics_path(&id), &[("key", &key)], body).0,
        200
    );
    let org_url = st.s.url(&format!("/api/v1/users/organization/{}/", st.org));
    call(
        "PATCH",
        &org_url,
        Some(&st.admin),
        Some(&json!({"is_active": false})),
    );
    assert_eq!(
        post(&st.s, &metrics_path(&id), &[("key", &key)], body).0,
        404
    );
    // Bad time and bad body.
    call(
        "PATCH",
        &org_url,
        Some(&st.admin),
        Some(&json!({"is_active": true})),
    );
    let (status, text) = post(
        &st.s,
        &metrics_path(&id),
        &[("key", &key), ("time", "2026-08-21")],
        body,
    );
    assert_eq!(
        (status, text.as_str()),
        (400, r#"{"detail":"Incorrect time format"}"#)
    );
    let (status, text) = post(
        &st.s,
        &metrics_path(&id),
        &[("key", &key)],
        br#"{"type":"DeviceMonitoring","interfaces":[{}]}"#,
    );
    assert_eq!(status, 400);
    let msg: String = serde_json::from_str(&text).unwrap();
    assert_eq!(
        msg,
        "Invalid data in \"#/interfaces/0\", validator says:\n\n'name' is a required property"
    );
    // Not JSON at all: the framework's answer (§11 quirk 19).
    let (status, text) = post(
        &st.s,
        &metrics_path(&id),
        &[("key", &key)],
        b"Data not sent",
    );
    assert_eq!(status, 400);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .starts_with("JSON parse error - "),
        "{v}"
    );
}

#[test]
fn deleting_a_device_deletes_its_series() {
    let st = setup();
    let (id, key) = device(&st, "gone", "00:00:00:00:04:01");
    let (other, other_key) = device(&st, "stays", "00:00:00:00:04:02");
    let body = std::fs::read(format!("{FIXTURES}ap-two-radios.json")).unwrap();
    for (d, k) in [(&id, &key), (&other, &other_key)] {
        for i in 0..2 {
            let (status, _) = post(
                &st.s,
                &metrics_path(d),
                &[
                    ("key", k),
                    ("time", &agent_time(now_secs() - 600 + 300 * i)),
                ],
                &body,
            );
            assert_eq!(status, 200);
        }
    }
    let series_of = |d: &str| influx(&st.s, &format!("SHOW SERIES WHERE object_id = '{d}'"));
    assert!(!series_of(&id).is_empty());
    let (status, _) = call(
        "DELETE",
        &st.s.url(&format!("/api/v1/controller/device/{id}/")),
        Some(&st.admin),
        None,
    );
    assert_eq!(status, 204);
    assert!(series_of(&id).is_empty());
    assert!(
        influx(
            &st.s,
            &format!("SELECT count(data) FROM short.device_data WHERE pk = '{id}'")
        )
        .is_empty()
    );
    assert!(!series_of(&other).is_empty());
}

/// Two samples five minutes apart, the charts read back through the operator API and with the
/// device's key, as JSON and CSV, and the parameter errors.
#[test]
fn device_charts_show_what_was_posted() {
    let st = setup();
    let (id, key) = device(&st, "ap-charts", "00:00:00:00:05:01");
    let t = (now_secs() / 600) * 600 - 1200;
    let doc = |rx: u64, load: f64| {
        json!({
            "type": "DeviceMonitoring",
            "general": {"uptime": 5000},
            "resources": {
                "load": [load, 0.1, 0.1], "cpus": 2,
                "memory": {"total": 1000, "free": 500, "buffered": 0, "shared": 0},
                "disk": [{"filesystem": "/dev/root", "mount_point": "/", "used_bytes": 25,
                          "available_bytes": 75, "used_percent": 25, "size_bytes": 100}],
            },
            "interfaces": [{"name": "eth0", "statistics": {"rx_bytes": rx, "tx_bytes": rx / 2}}],
        })
        .to_string()
    };
    for (at, rx, load) in [(t, 1_000_000_000u64, 0.5), (t + 300, 3_000_000_000, 1.5)] {
        let (status, _) = post(
            &st.s,
            &metrics_path(&id),
            &[("key", &key), ("time", &agent_time(at))],
            doc(rx, load).as_bytes(),
        );
        assert_eq!(status, 200);
    }
    let url = |q: &str| st.s.url(&format!("{}?{q}", metrics_path(&id)));
    let (status, v) = call("GET", &url("time=1d&status=true"), Some(&st.admin), None);
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["id"], id.as_str());
    assert_eq!(v["monitoring"]["status"], "unknown");
    let related: Vec<&str> = v["monitoring"]["related_metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        related,
        ["CPU usage", "Disk usage", "Memory usage", "eth0 traffic"]
    );
    let titles: Vec<&str> = v["charts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        ["Traffic: eth0", "Memory Usage", "CPU Load", "Disk Usage"]
    );
    let x = v["x"].as_array().unwrap();
    assert!((144..=145).contains(&x.len()), "{} labels", x.len());
    let chart = |title: &str| {
        v["charts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["title"] == title)
            .unwrap()
            .clone()
    };
    let cpu = chart("CPU Load");
    assert_eq!(cpu["summary"], json!({"CPU_load": 50.0}), "{cpu}");
    assert_eq!(cpu["unit"], "%");
    assert_eq!(cpu["colors"], json!(["#7f7f7f"]));
    let traffic = chart("Traffic: eth0");
    // 2 GB downloaded, 1 GB uploaded in the second sample's bucket.
    assert_eq!(traffic["summary"], json!({"download": 2.0, "upload": 1.0}));
    assert_eq!(traffic["traces"][0][0], "download");
    assert_eq!(
        traffic["description"],
        "Network traffic (total, download and upload) of the interface \"eth0\"."
    );
    assert_eq!(chart("Disk Usage")["summary"], json!({"disk_usage": 25.0}));
    assert_eq!(v["data"]["interfaces"][0]["name"], "eth0");

    // The device's own key reads the same; a wrong one is refused; nobody else is let in.
    // Any non-empty `status` adds the snapshot, even `false`; any non-empty `csv` is a CSV
    // (§11 quirk 6, reproduced: scripts may rely on it).
    let (_, v_false) = call("GET", &url("time=1d&status=false"), Some(&st.admin), None);
    assert_eq!(v_false["data"]["interfaces"][0]["name"], "eth0");
    let (_, v_none) = call("GET", &url("time=1d&status="), Some(&st.admin), None);
    assert!(v_none.get("data").is_none());
    let csv0 = ureq::get(&url("time=1d&csv=0"))
        .set("Authorization", &format!("Bearer {}", st.admin))
        .call()
        .unwrap();
    assert_eq!(csv0.header("Content-Type"), Some("text/csv"));
    let (status, by_key) = call("GET", &url(&format!("time=1d&key={key}")), None, None);
    assert_eq!(status, 200);
    assert_eq!(by_key["charts"], v["charts"]);
    assert!(by_key.get("data").is_none());
    let (status, _) = call(
        "GET",
        &url("time=1d&key=0123456789abcdef0123456789abcdef"),
        None,
        None,
    );
    assert_eq!(status, 403);
    let (status, _) = call("GET", &url("time=1d"), None, None);
    assert_eq!(status, 401);

    // CSV.
    let resp = ureq::get(&url("time=1d&csv=1"))
        .set("Authorization", &format!("Bearer {}", st.admin))
        .call()
        .unwrap();
    assert_eq!(resp.header("Content-Type"), Some("text/csv"));
    assert_eq!(
        resp.header("Content-Disposition"),
        Some("attachment; filename=data.csv")
    );
    let text = resp.into_string().unwrap();
    let mut lines = text.split("\r\n");
    assert_eq!(
        lines.next().unwrap(),
        "time,download - Traffic: eth0,upload - Traffic: eth0,memory_usage - Memory Usage,CPU_load - CPU Load,disk_usage - Disk Usage"
    );
    assert!(text.contains(",2.0,1.0,50.0,50.0,25.0\r\n"), "{text}");

    // Parameter errors are one-element lists.
    for (q, msg) in [
        ("time=3w", "Time range not supported"),
        ("timezone=Nowhere/Land", "Unkown Time Zone"),
        (
            "start=2024-01-01&end=2024-01-02",
            "Incorrect custom date format, should be YYYY-MM-DD H:M:S",
        ),
    ] {
        let (status, v) = call("GET", &url(q), Some(&st.admin), None);
        assert_eq!((status, v), (400, json!([msg])), "{q}");
    }
}

/// The dashboard's general charts add up every device in scope, per organization for an org
/// admin, and refuse organizations one cannot see.
#[test]
fn dashboard_general_charts_follow_the_scope() {
    let st = setup();
    let s = &st.s;
    let org_b = create_org(s, &st.admin, "Second")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (a_id, a_key) = device(&st, "dash-a", "00:00:00:00:07:01");
    let b = create_device(s, &st.admin, &org_b, "dash-b", "00:00:00:00:07:02");
    let (b_id, b_key) = (
        b["id"].as_str().unwrap().to_owned(),
        b["key"].as_str().unwrap().to_owned(),
    );
    let t = (now_secs() / 600) * 600 - 1200;
    let doc = |rx: u64, client: &str| {
        json!({
            "type": "DeviceMonitoring",
            "interfaces": [
                {"name": "eth1", "statistics": {"rx_bytes": rx, "tx_bytes": rx}},
                {"name": "lan", "statistics": {"rx_bytes": rx * 7, "tx_bytes": 0}},
                {"name": "wlan0", "type": "wireless",
                 "wireless": {"ssid": "x", "mode": "access_point", "channel": 1, "country": "IT",
                              "frequency": 2412, "noise": -90, "tx_power": 20,
                              "clients": [{"mac": client, "auth": true, "authorized": true,
                                           "ht": true, "vht": false, "wmm": true, "mfp": false}]}},
            ],
        })
        .to_string()
    };
    for (id, key, client) in [
        (&a_id, &a_key, "aa:00:00:00:00:01"),
        (&b_id, &b_key, "aa:00:00:00:00:02"),
    ] {
        for (at, rx) in [(t, 1_000_000_000u64), (t + 300, 2_000_000_000)] {
            let (status, _) = post(
                s,
                &metrics_path(id),
                &[("key", key), ("time", &agent_time(at))],
                doc(rx, client).as_bytes(),
            );
            assert_eq!(status, 200);
        }
    }
    let dash = |token: &str, q: &str| {
        call(
            "GET",
            &s.url(&format!("/api/v1/monitoring/dashboard/?time=1d{q}")),
            Some(token),
            None,
        )
    };
    let summary = |v: &Value, title: &str| {
        v["charts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["title"] == title)
            .unwrap()["summary"]
            .clone()
    };
    let (status, v) = dash(&st.admin, "");
    assert_eq!(status, 200, "{v}");
    // Only eth1 counts (the default interface list), both organizations: 1 GB each.
    assert_eq!(
        summary(&v, "General Traffic"),
        json!({"download": 2.0, "upload": 2.0})
    );
    assert_eq!(
        summary(&v, "General WiFi Clients"),
        json!({"wifi_clients": 2})
    );
    assert_eq!(v["organizations"].as_array().unwrap().len(), 2);
    let (_, v) = dash(&st.admin, "&organization_slug=second");
    assert_eq!(
        summary(&v, "General Traffic"),
        json!({"download": 1.0, "upload": 1.0})
    );
    let (status, _) = dash(&st.admin, "&organization_slug=nope");
    assert_eq!(status, 404);

    // An admin of the first organization sees only it.
    let (status, _) = call(
        "POST",
        &s.url("/api/v1/users/user/"),
        Some(&st.admin),
        Some(&json!({"username": "ann", "password": "password-123",
                     "organization_users": [{"organization": st.org, "is_admin": true}]})),
    );
    assert_eq!(status, 201);
    let ann = crate::operator_api::token(s, "ann", "password-123");
    let (status, v) = dash(&ann, "");
    assert_eq!(status, 200);
    assert_eq!(
        summary(&v, "General Traffic"),
        json!({"download": 1.0, "upload": 1.0})
    );
    assert_eq!(
        summary(&v, "General WiFi Clients"),
        json!({"wifi_clients": 1})
    );
    assert!(v.get("organizations").is_none());
    let (status, _) = dash(&ann, "&organization_slug=second");
    assert_eq!(status, 403);
    // A user of no organization is refused; CSV has upstream's header.
    call(
        "POST",
        &s.url("/api/v1/users/user/"),
        Some(&st.admin),
        Some(&json!({"username": "nobody", "password": "password-123"})),
    );
    let nobody = crate::operator_api::token(s, "nobody", "password-123");
    assert_eq!(dash(&nobody, "").0, 403);
    let text = ureq::get(&s.url("/api/v1/monitoring/dashboard/?time=1d&csv=1"))
        .set("Authorization", &format!("Bearer {}", st.admin))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(
        text.starts_with("time,wifi_clients - General WiFi Clients,download - General Traffic,upload - General Traffic\r\n"),
        "{text}"
    );
}

/// Two mobile interfaces: both signal charts are shown (upstream keeps one of two charts with
/// the same order and title, §11 quirk 10; their queries do not filter by interface, which is
/// reproduced).
#[test]
fn two_modems_show_two_signal_charts() {
    let st = setup();
    let (id, key) = device(&st, "dual-modem", "00:00:00:00:08:01");
    let modem = |name: &str, rsrp: i32| {
        json!({"name": name, "type": "modem-manager",
               "mobile": {"imei": "356938035643809", "operator_code": "22210", "operator_name": "X",
                          "connection_status": "connected", "power_status": "on",
                          "manufacturer": "Q", "model": "M",
                          "signal": {"lte": {"rssi": -60, "rsrp": rsrp, "rsrq": -10, "snr": 9}}}})
    };
    let doc = json!({"type": "DeviceMonitoring", "interfaces": [modem("wwan0", -90), modem("wwan1", -100)]});
    let (status, text) = post(
        &st.s,
        &metrics_path(&id),
        &[("key", &key)],
        doc.to_string().as_bytes(),
    );
    assert_eq!(status, 200, "{text}");
    let (_, v) = call(
        "GET",
        &st.s.url(&format!("{}?time=1d", metrics_path(&id))),
        Some(&st.admin),
        None,
    );
    let strength = v["charts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["title"] == "Signal Strength (RSSI)")
        .count();
    assert_eq!(strength, 2, "{v}");
}

/// Alert settings are created with the metrics that alert, edited by admins only, and custom
/// values equal to the defaults are stored as "use the default".
#[test]
fn alert_settings_follow_the_defaults_until_changed() {
    let st = setup();
    let (id, key) = device(&st, "alerting", "00:00:00:00:09:01");
    let doc = json!({"type": "DeviceMonitoring", "resources": {"load": [0.1, 0.1, 0.1], "cpus": 1},
                     "interfaces": [{"name": "eth0", "statistics": {"rx_bytes": 1, "tx_bytes": 1}}]});
    assert_eq!(
        post(
            &st.s,
            &metrics_path(&id),
            &[("key", &key)],
            doc.to_string().as_bytes()
        )
        .0,
        200
    );
    let list_url = st.s.url(&format!("/api/v1/monitoring/device/{id}/metric/"));
    let (_, list) = call("GET", &list_url, Some(&st.admin), None);
    let find = |name: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .unwrap()
            .clone()
    };
    let cpu = find("CPU usage");
    assert_eq!(
        cpu["alert_settings"],
        json!({"is_active": true, "custom_operator": null, "custom_threshold": null,
               "custom_tolerance": null, "operator": ">", "threshold": 90.0, "tolerance": 30})
    );
    assert_eq!(find("eth0 traffic")["alert_settings"], Value::Null);
    let url = |m: &Value| {
        st.s.url(&format!(
            "/api/v1/monitoring/device/{id}/metric/{}/alert-settings/",
            m["id"].as_str().unwrap()
        ))
    };
    let (status, v) = call(
        "PATCH",
        &url(&cpu),
        Some(&st.admin),
        Some(&json!({"custom_threshold": 80, "custom_tolerance": 30})),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (v["threshold"].clone(), v["custom_tolerance"].clone()),
        (json!(80.0), Value::Null)
    );
    let (_, v) = call(
        "PATCH",
        &url(&cpu),
        Some(&st.admin),
        Some(&json!({"custom_threshold": 90})),
    );
    assert_eq!(v["custom_threshold"], Value::Null);
    let (status, _) = call(
        "PATCH",
        &url(&cpu),
        Some(&st.admin),
        Some(&json!({"custom_tolerance": 10081})),
    );
    assert_eq!(status, 400);
    let (status, _) = call("GET", &url(&find("eth0 traffic")), Some(&st.admin), None);
    assert_eq!(status, 404);
    // A viewer of the organization reads but does not change.
    call(
        "POST",
        &st.s.url("/api/v1/users/user/"),
        Some(&st.admin),
        Some(&json!({
        "username": "vic", "password": "password-123",
        "organization_users": [{"organization": st.org, "is_admin": false}]})),
    );
    let vic = crate::operator_api::token(&st.s, "vic", "password-123");
    assert_eq!(call("GET", &url(&cpu), Some(&vic), None).0, 200);
    assert_eq!(
        call(
            "PATCH",
            &url(&cpu),
            Some(&vic),
            Some(&json!({"is_active": false}))
        )
        .0,
        403
    );
}

/// A 200 means the sample is stored: after `kill -9` right behind the answers, every
/// acknowledged sample is there (metrics, counters for the next delta, snapshot).
#[test]
fn acknowledged_samples_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut s, admin) = server(&data);
    let org = create_org(&s, &admin, "Durable")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let d = create_device(&s, &admin, &org, "tough", "00:00:00:00:0b:01");
    let (id, key) = (
        d["id"].as_str().unwrap().to_owned(),
        d["key"].as_str().unwrap().to_owned(),
    );
    let t0 = (now_secs() / 300 - 6) * 300;
    let sample = |rx: u64| {
        json!({"type": "DeviceMonitoring", "general": {"uptime": 1000 + rx},
               "resources": {"load": [0.5, 0.5, 0.5], "cpus": 1},
               "interfaces": [{"name": "eth0", "statistics": {"rx_bytes": rx, "tx_bytes": rx}}]})
        .to_string()
    };
    for i in 0..4 {
        let (status, _) = post(
            &s,
            &metrics_path(&id),
            &[("key", &key), ("time", &agent_time(t0 + 300 * i))],
            sample(1000 * (i as u64 + 1)).as_bytes(),
        );
        assert_eq!(status, 200);
    }
    s.signal("KILL");
    assert!(s.wait_exit(std::time::Duration::from_secs(10)).is_some());
    drop(s);
    let s = TestServer::spawn(&data, &[], &[]);
    let cpu = rows(&influx(
        &s,
        &format!("SELECT count(cpu_usage) FROM cpu WHERE object_id = '{id}'"),
    ));
    assert_eq!(cpu[0][1], json!(4));
    // The counters survived too: the next sample's traffic is its difference, not unknown.
    let (status, _) = post(
        &s,
        &metrics_path(&id),
        &[("key", &key), ("time", &agent_time(t0 + 1200))],
        sample(5000).as_bytes(),
    );
    assert_eq!(status, 200);
    let traffic = rows(&influx(
        &s,
        &format!("SELECT rx_bytes FROM traffic WHERE object_id = '{id}'"),
    ));
    assert_eq!(traffic.len(), 4);
    assert_eq!(traffic[3][1], json!(1000));
    let snap = influx(
        &s,
        &format!("SELECT count(data) FROM short.device_data WHERE pk = '{id}'"),
    );
    assert_eq!(rows(&snap)[0][1], json!(5));
}

/// WiFi sessions open with the clients of access-point interfaces and close when they leave;
/// the sessions API shows them with the clients' capability flags, within one's organizations.
#[test]
fn wifi_sessions_follow_the_clients() {
    let st = setup();
    let (id, key) = device(&st, "ap-lobby", "00:00:00:00:0c:01");
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/support/spec_example.json"
    ))
    .unwrap();
    assert_eq!(
        post(
            &st.s,
            &metrics_path(&id),
            &[("key", &key)],
            example.as_bytes()
        )
        .0,
        200
    );
    let list = |q: &str| {
        call(
            "GET",
            &st.s.url(&format!("/api/v1/monitoring/wifi-session/{q}")),
            Some(&st.admin),
            None,
        )
        .1
    };
    let v = list("");
    assert_eq!(v["count"], 3, "{v}");
    let lobby_he = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["client"]["mac_address"] == "f0:2f:4b:55:66:77")
        .unwrap()
        .clone();
    assert_eq!(lobby_he["ssid"], "Lobby-Staff");
    assert_eq!(lobby_he["interface_name"], "wlan1");
    assert_eq!(lobby_he["device"], "ap-lobby");
    assert_eq!(lobby_he["client"]["wifi6"], "yes");
    assert_eq!(lobby_he["stop_time"], Value::Null);
    let (status, one) = call(
        "GET",
        &st.s.url(&format!(
            "/api/v1/monitoring/wifi-session/{}/",
            lobby_he["id"].as_str().unwrap()
        )),
        Some(&st.admin),
        None,
    );
    assert_eq!(
        (status, one["client"].clone()),
        (200, lobby_he["client"].clone())
    );
    // wlan1's client leaves.
    let mut doc: Value = serde_json::from_str(&example).unwrap();
    doc["interfaces"][3]["wireless"]["clients"] = json!([]);
    assert_eq!(
        post(
            &st.s,
            &metrics_path(&id),
            &[("key", &key)],
            doc.to_string().as_bytes()
        )
        .0,
        200
    );
    assert_eq!(list("?stop_time__isnull=true")["count"], 2);
    let closed = list("?stop_time__isnull=false");
    assert_eq!(closed["count"], 1);
    assert_eq!(
        closed["results"][0]["client"]["mac_address"],
        "f0:2f:4b:55:66:77"
    );
    assert_eq!(list(&format!("?device={id}"))["count"], 3);
    // Another organization's admin sees none of them.
    let other = create_org(&st.s, &st.admin, "Elsewhere")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    call(
        "POST",
        &st.s.url("/api/v1/users/user/"),
        Some(&st.admin),
        Some(&json!({
        "username": "oz", "password": "password-123",
        "organization_users": [{"organization": other, "is_admin": true}]})),
    );
    let oz = crate::operator_api::token(&st.s, "oz", "password-123");
    let (_, v) = call(
        "GET",
        &st.s.url("/api/v1/monitoring/wifi-session/"),
        Some(&oz),
        None,
    );
    assert_eq!(v["count"], 0);
    assert_eq!(
        call(
            "GET",
            &st.s.url(&format!(
                "/api/v1/monitoring/wifi-session/{}/",
                lobby_he["id"].as_str().unwrap()
            )),
            Some(&oz),
            None
        )
        .0,
        404
    );
}

/// Every authenticated agent request is a contact: `last_ip` and `last_seen` show at once and
/// are stored by a clean stop.
#[test]
fn agent_contacts_set_last_ip_and_last_seen() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut s, admin) = server(&data);
    let org = create_org(&s, &admin, "Seen")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let d = create_device(&s, &admin, &org, "seen", "00:00:00:00:0d:01");
    let (id, key) = (
        d["id"].as_str().unwrap().to_owned(),
        d["key"].as_str().unwrap().to_owned(),
    );
    assert_eq!(d["last_ip"], Value::Null);
    // Even a refused sample proves the device is alive; a wrong key does not.
    assert_eq!(
        post(&s, &metrics_path(&id), &[("key", "0000")], b"{}").0,
        403
    );
    let url = s.url(&format!("/api/v1/controller/device/{id}/"));
    assert_eq!(
        call("GET", &url, Some(&admin), None).1["last_seen"],
        Value::Null
    );
    assert_eq!(
        post(&s, &metrics_path(&id), &[("key", &key)], b"not json").0,
        400
    );
    let (_, v) = call("GET", &url, Some(&admin), None);
    assert_eq!(v["last_ip"], "127.0.0.1");
    assert!(v["last_seen"].as_str().unwrap().ends_with('Z'), "{v}");
    s.signal("TERM");
    assert!(s.wait_exit(std::time::Duration::from_secs(20)).is_some());
    drop(s);
    let s = TestServer::spawn(&data, &[], &[]);
    let (_, v) = call(
        "GET",
        &s.url(&format!("/api/v1/controller/device/{id}/")),
        Some(&admin),
        None,
    );
    assert_eq!(v["last_ip"], "127.0.0.1");
    assert!(v["last_seen"].is_string());
}
