//! Start, serve, stop: the lifecycle a fresh machine and systemd put the binary through.

use std::time::{Duration, Instant};

use crate::util::{TestServer, get, run};
use serde_json::Value;

#[test]
fn fresh_data_dir_answers_healthz_and_prints_admin_password_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let started = Instant::now();
    let mut s = TestServer::spawn(&data, &[], &[]);
    let (status, body) = get(&s.url("/healthz"));
    let ready_after = started.elapsed();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"status\":\"ok\""), "{body}");
    // The bar: /healthz answers within 2 s of start on an empty data dir.
    assert!(
        ready_after < Duration::from_secs(2),
        "ready after {ready_after:?}"
    );

    let pw_line = s
        .stdout
        .iter()
        .find(|l| l.contains("created with password: "))
        .unwrap_or_else(|| panic!("no password line in {:?}", s.stdout));
    let pw = pw_line.rsplit(": ").next().unwrap();
    assert_eq!(pw.len(), 20);
    assert!(
        !s.stderr().contains(pw),
        "the password must not reach the log"
    );
    assert!(data.join("db").is_dir());
    assert!(
        data.join("unclean-shutdown").exists(),
        "marker while running"
    );

    assert_eq!(get(&s.url("/no/such/path")).0, 404);

    s.signal("TERM");
    let status = s
        .wait_exit(Duration::from_secs(5))
        .expect("exit within 5 s");
    assert!(status.success(), "{status:?}\n{}", s.stderr());
    assert!(
        !data.join("unclean-shutdown").exists(),
        "no marker after a clean stop"
    );

    // Second start: the account exists, so no password is printed.
    let mut s = TestServer::spawn(&data, &[], &[]);
    assert!(
        !s.stdout.iter().any(|l| l.contains("password")),
        "{:?}",
        s.stdout
    );
    assert!(!s.stderr().contains("did not shut down cleanly"));
    s.signal("INT");
    assert!(s.wait_exit(Duration::from_secs(5)).unwrap().success());
}

#[test]
fn admin_password_can_come_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut s = TestServer::spawn(&data, &[], &[("WISPMON_ADMIN_PASSWORD", "a-long-secret")]);
    assert!(!s.stdout.iter().any(|l| l.contains("a-long-secret")));
    assert!(!s.stdout.iter().any(|l| l.contains("created with password")));
    assert!(
        s.stderr().contains("WISPMON_ADMIN_PASSWORD"),
        "{}",
        s.stderr()
    );
    s.signal("TERM");
    assert!(s.wait_exit(Duration::from_secs(5)).unwrap().success());

    let dir = tempfile::tempdir().unwrap();
    let mut s = TestServer::spawn(&dir.path().join("d"), &[], &[]);
    s.signal("TERM");
    assert!(s.wait_exit(Duration::from_secs(5)).unwrap().success());
    let out = run(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            dir.path().join("e").to_str().unwrap(),
        ],
        &[("WISPMON_ADMIN_PASSWORD", "short")],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("password") && err.contains("at least 8"),
        "{err}"
    );
}

#[test]
fn kill_9_leaves_the_marker_and_the_next_start_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut s = TestServer::spawn(&data, &[], &[]);
    s.signal("KILL");
    let status = s.wait_exit(Duration::from_secs(5)).unwrap();
    assert!(!status.success());
    assert!(data.join("unclean-shutdown").exists());

    let mut s = TestServer::spawn(&data, &[], &[]);
    assert_eq!(get(&s.url("/healthz")).0, 200);
    assert!(
        s.stderr().contains("did not shut down cleanly"),
        "{}",
        s.stderr()
    );
    s.signal("TERM");
    assert!(s.wait_exit(Duration::from_secs(5)).unwrap().success());
    assert!(!data.join("unclean-shutdown").exists());
}

#[test]
fn default_data_dir_is_wispmon_data_in_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["check-config"], &[], Some(dir.path()));
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("data_dir = \"./wispmon-data\""), "{text}");
    assert!(text.contains("listen = \"127.0.0.1:8086\""), "{text}");

    let mut child = std::process::Command::new(crate::util::BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !dir.path().join("wispmon-data/db").is_dir() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(dir.path().join("wispmon-data/db").is_dir());
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_data_dir_in_use_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut s = TestServer::spawn(&data, &[], &[]);
    let out = run(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &[],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in use by another process"), "{err}");
    // The running server is unaffected and still stops cleanly.
    assert_eq!(get(&s.url("/healthz")).0, 200);
    s.signal("TERM");
    assert!(s.wait_exit(Duration::from_secs(5)).unwrap().success());
    assert!(!data.join("unclean-shutdown").exists());
}

#[test]
fn occupied_port_is_a_clear_startup_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        &[
            "serve",
            "--listen",
            &port,
            "--data-dir",
            dir.path().to_str().unwrap(),
        ],
        &[],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("binding HTTP listener on {port}")),
        "{err}"
    );
    // Storage was opened before the bind failed and is closed again: no unclean marker.
    assert!(!dir.path().join("unclean-shutdown").exists());
    let mut s = TestServer::spawn(dir.path(), &[], &[]);
    assert_eq!(get(&s.url("/healthz")).0, 200);
    s.signal("TERM");
    assert!(s.wait_exit(Duration::from_secs(5)).unwrap().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_start_and_stop() {
    let dir = tempfile::tempdir().unwrap();
    let config = wispmon::config::Config {
        data_dir: dir.path().join("data"),
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Default::default()
    };
    let clock = std::sync::Arc::new(wispmon::time::SystemClock);
    let running = wispmon::app::start(&config, Some("in-process-pw".into()), clock)
        .await
        .unwrap();
    let url = format!("http://{}/healthz", running.local_addr());
    let (status, _) = tokio::task::spawn_blocking(move || get(&url))
        .await
        .unwrap();
    assert_eq!(status, 200);
    running.stop().await.unwrap();
    assert!(!config.data_dir.join("unclean-shutdown").exists());
}

#[test]
fn sigterm_right_after_listening_still_stops_cleanly() {
    // Regression: handlers were installed after start-up, so an early SIGTERM killed the
    // process with the default action and left the data directory marked unclean.
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let mut s = TestServer::spawn(dir.path(), &[], &[("WISPMON_ADMIN_PASSWORD", "0123456789")]);
        s.signal("TERM");
        let status = s
            .wait_exit(Duration::from_secs(5))
            .expect("exit within 5 s");
        assert!(status.success(), "{status:?}\n{}", s.stderr());
        assert!(!dir.path().join("unclean-shutdown").exists());
    }
}

#[test]
fn vacuum_refuses_a_running_server_and_works_once_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut s = TestServer::spawn(&data, &[], &[("WISPMON_ADMIN_PASSWORD", "0123456789")]);
    let d = data.to_str().unwrap();
    let out = run(&["vacuum", "--data-dir", d], &[], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("in use by another process"));
    s.signal("TERM");
    assert!(s.wait_exit(Duration::from_secs(5)).unwrap().success());
    let out = run(&["vacuum", "--data-dir", d], &[], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("vacuumed"));
    // The administrator account survived the rewrite: no new password is printed.
    let mut s = TestServer::spawn(&data, &[], &[]);
    assert!(!s.stdout.iter().any(|l| l.contains("password")));
    s.signal("TERM");
    assert!(s.wait_exit(Duration::from_secs(5)).unwrap().success());
}

#[test]
fn under_systemd_it_notifies_ready_once_answering_and_stopping_at_sigterm() {
    use std::os::unix::net::UnixDatagram;
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("notify.sock");
    let rx = UnixDatagram::bind(&sock_path).unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut s = TestServer::spawn(
        &dir.path().join("d"),
        &[],
        &[("NOTIFY_SOCKET", sock_path.to_str().unwrap())],
    );
    let mut buf = [0u8; 256];
    let n = rx.recv(&mut buf).expect("READY notice");
    let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(msg.starts_with("READY=1\n"), "{msg}");
    assert!(msg.contains(&s.addr), "{msg}");
    // Ready means answering.
    assert_eq!(get(&s.url("/healthz")).0, 200);

    s.signal("TERM");
    let n = rx.recv(&mut buf).expect("STOPPING notice");
    assert_eq!(&buf[..n], b"STOPPING=1");
    let status = s.wait_exit(Duration::from_secs(5)).expect("exit");
    assert!(status.success(), "{}", s.stderr());
}

#[test]
fn metrics_count_requests_by_route_points_and_engine_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::spawn(&dir.path().join("d"), &[], &[]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let lp = format!("cpu,host=a v=1 {now}000000000\ncpu,host=b v=2 {now}000000000\n");
    for _ in 0..3 {
        let r = ureq::post(&s.url("/write?db=openwisp2"))
            .send_string(&lp)
            .unwrap();
        assert_eq!(r.status(), 204);
    }
    assert_eq!(get(&s.url("/api/v1/controller/device/0123/")).0, 401);
    let (status, text) = get(&s.url("/metrics"));
    assert_eq!(status, 200);
    let value = |line_start: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(line_start))
            .unwrap_or_else(|| panic!("no {line_start} in\n{text}"))
            .rsplit_once(' ')
            .unwrap()
            .1
            .parse()
            .unwrap()
    };
    assert_eq!(
        value("wispmon_http_requests_total{route=\"/write\",method=\"POST\",status=\"204\"}"),
        3.0
    );
    // Route templates, never raw paths with ids.
    assert!(
        text.contains("route=\"/api/v1/controller/device/{pk}/\""),
        "{text}"
    );
    assert!(!text.contains("0123"), "{text}");
    assert_eq!(
        value("wispmon_http_request_duration_seconds_count{route=\"/write\"}"),
        3.0
    );
    assert!(value("wispmon_points_written_total") >= 6.0);
    assert!(value("wispmon_engine_series") >= 2.0);
    assert!(value("wispmon_engine_wal_bytes") > 0.0);
    assert!(value("process_resident_memory_bytes") > 1e6);
}

/// `[telemetry] database`: the same numbers written into a database of the embedded engine
/// every interval, readable with InfluxQL (as the UI and Grafana read them).
#[test]
fn telemetry_is_written_into_its_own_database() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::spawn(
        &dir.path().join("d"),
        &[],
        &[
            ("WISPMON_TELEMETRY__DATABASE", "wispmon"),
            ("WISPMON_TELEMETRY__INTERVAL", "1s"),
            (
                "WISPMON_ADMIN_PASSWORD",
                crate::operator_api::ADMIN_PASSWORD,
            ),
        ],
    );
    for _ in 0..4 {
        assert_eq!(get(&s.url("/ping")).0, 204);
    }
    let q = |q: &str| -> Value {
        let url = format!(
            "{}?db=wispmon&q={}",
            s.url("/query"),
            q.replace(' ', "%20")
                .replace('\'', "%27")
                .replace('"', "%22")
                .replace('=', "%3D")
        );
        let (st, text) = get(&url);
        assert_eq!(st, 200, "{text}");
        serde_json::from_str::<Value>(&text).unwrap()["results"][0].clone()
    };
    // Written at start, then every second: wait for a snapshot taken after the pings.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = q(
            "SELECT last(value) FROM wispmon_http_requests_total WHERE route = '/ping' AND status = '204'",
        );
        if r["series"][0]["values"][0][1].as_f64() >= Some(4.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no snapshot with the pings: {r}\n{}",
            s.stderr()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let r = q("SELECT count(value) FROM process_resident_memory_bytes");
    assert!(r["series"][0]["values"][0][1].as_u64() >= Some(1), "{r}");
    let r = q("SHOW RETENTION POLICIES ON wispmon");
    assert_eq!(r["series"][0]["values"][0][1], "720h0m0s", "{r}");

    // The UI's System page reads them back as charts; superusers only.
    use crate::operator_api::{ADMIN_PASSWORD, call, create_org, token};
    let admin = token(&s, "admin", ADMIN_PASSWORD);
    check_system_charts(&s, &admin);
    let url = s.url("/api/v1/monitoring/system/?time=1d");
    let org = create_org(&s, &admin, "isp")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (st, _) = call(
        "POST",
        &s.url("/api/v1/users/user/"),
        Some(&admin),
        Some(
            &serde_json::json!({"username": "alice", "password": "password-123",
            "organization_users": [{"organization": org, "is_admin": true}]}),
        ),
    );
    assert_eq!(st, 201);
    let alice = token(&s, "alice", "password-123");
    assert_eq!(call("GET", &url, Some(&alice), None).0, 403);
    assert_eq!(call("GET", &url, None, None).0, 401);
}

/// The System page's charts of a server writing `[telemetry] database = "wispmon"` (through
/// its own `/write`, relayed to a remote InfluxDB when that is the backend): two earlier
/// snapshots are written as the writer would have, so the rates have two buckets to derive
/// from: 600 more points and 600 + 1200 more requests (two routes) over ten minutes are 1
/// point/s and 3 requests/s.
pub fn check_system_charts(s: &TestServer, admin: &str) {
    use crate::operator_api::call;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let b = now / 600 * 600;
    let (t1, t2) = (b - 1200 + 60, b - 600 + 60);
    let lp = format!(
        "wispmon_points_written_total value=100 {t1}000000000\n\
         wispmon_points_written_total value=700 {t2}000000000\n\
         wispmon_http_requests_total,route=/a,method=GET,status=200 value=0 {t1}000000000\n\
         wispmon_http_requests_total,route=/a,method=GET,status=200 value=600 {t2}000000000\n\
         wispmon_http_requests_total,route=/b,method=GET,status=200 value=0 {t1}000000000\n\
         wispmon_http_requests_total,route=/b,method=GET,status=200 value=1200 {t2}000000000\n"
    );
    let r = ureq::post(&s.url("/write?db=wispmon"))
        .send_string(&lp)
        .unwrap();
    assert_eq!(r.status(), 204);
    let (st, v) = call(
        "GET",
        &s.url("/api/v1/monitoring/system/?time=1d"),
        Some(admin),
        None,
    );
    assert_eq!(st, 200, "{v}\n{}", s.stderr());
    assert_eq!(v["enabled"], true);
    let values = |title: &str| -> Vec<f64> {
        let c = v["charts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["title"] == title)
            .unwrap_or_else(|| panic!("no {title} chart in {v}"));
        c["traces"][0][1]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_f64)
            .collect()
    };
    assert!(
        values("Points written")
            .iter()
            .any(|x| (x - 1.0).abs() < 1e-9),
        "{v}"
    );
    assert!(
        values("Requests").iter().any(|x| (x - 3.0).abs() < 1e-9),
        "{v}"
    );
    // In megabytes: more than 1 MB.
    assert!(values("Memory").last().is_some_and(|m| *m > 1.0), "{v}");
    assert!(v["x"].as_array().is_some_and(|x| !x.is_empty()), "{v}");
}
