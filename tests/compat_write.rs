//! `/write` side by side with a real InfluxDB 1.x (Debian's 1.6.7, started by hand on
//! loopback): the same bodies must get the same status and the same error text from both.
//! Where 1.8 differs from 1.6 (unsigned integers) or wispmon departs on purpose (documented in
//! `src/lineproto`), the case is not listed here.
//!
//! Needs `influxd` on the PATH. Without it the test says so and passes, unless
//! `CI_REQUIRE_INFLUXD=1` (set by `.ci/run`, which installs the package) makes it fail.

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::TestServer;

pub struct Influxd {
    child: Child,
    pub url: String,
}

impl Drop for Influxd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two distinct free loopback ports, picked while both sockets are open: two separate picks
/// can return the same port, and influxd then exits with "address already in use".
fn two_free_ports() -> (u16, u16) {
    let a = TcpListener::bind("127.0.0.1:0").unwrap();
    let b = TcpListener::bind("127.0.0.1:0").unwrap();
    (
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    )
}

pub fn start_influxd(dir: &Path) -> Option<Influxd> {
    let bin = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("influxd"))
            .find(|p| p.is_file())
    });
    let Some(bin) = bin else {
        assert!(
            std::env::var("CI_REQUIRE_INFLUXD").is_err(),
            "influxd is required (apt-get install influxdb) but not installed"
        );
        eprintln!(
            "SKIPPED: influxd not installed; `apt-get install influxdb` to compare with the reference"
        );
        return None;
    };
    // A port picked here can be taken by a parallel test before influxd binds it; influxd
    // then exits at once, and a fresh pair of ports is tried.
    let mut logs = String::new();
    for _attempt in 0..3 {
        match try_start_influxd(&bin, dir) {
            Ok(i) => return Some(i),
            Err(log) => logs.push_str(&log),
        }
    }
    panic!("influxd did not start in 3 attempts: {logs}");
}

fn try_start_influxd(bin: &Path, dir: &Path) -> Result<Influxd, String> {
    let (http, rpc) = two_free_ports();
    for sub in ["meta", "data", "wal"] {
        let _ = std::fs::remove_dir_all(dir.join(sub));
    }
    let conf = dir.join("influxdb.conf");
    let d = dir.display();
    std::fs::write(
        &conf,
        format!(
            "reporting-enabled = false\nreporting-disabled = true\nbind-address = \"127.0.0.1:{rpc}\"\n\
             [meta]\n  dir = \"{d}/meta\"\n[data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n  query-log-enabled = false\n\
             [monitor]\n  store-enabled = false\n[http]\n  bind-address = \"127.0.0.1:{http}\"\n  auth-enabled = false\n  log-enabled = false\n\
             [logging]\n  suppress-logo = true\n"
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("influxd.log")).unwrap();
    let child = Command::new(bin)
        .args(["run", "-config"])
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut i = Influxd {
        child,
        url: format!("http://127.0.0.1:{http}"),
    };
    let read_log = || std::fs::read_to_string(dir.join("influxd.log")).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if let Ok(r) = ureq::get(&format!("{}/ping", i.url)).call() {
            if r.status() == 204 {
                return Ok(i);
            }
        }
        if let Ok(Some(status)) = i.child.try_wait() {
            return Err(format!("influxd exited ({status}): {}\n", read_log()));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!(
        "influxd did not answer /ping in 120 s: {}\n",
        read_log()
    ))
}

fn send(url: &str, body: &[u8], gzip: bool) -> (u16, String) {
    let mut req = ureq::post(url);
    if gzip {
        req = req.set("Content-Encoding", "gzip");
    }
    match req.send_bytes(body) {
        Ok(r) => (r.status(), r.into_string().unwrap()),
        Err(ureq::Error::Status(c, r)) => (c, r.into_string().unwrap()),
        Err(e) => panic!("POST {url}: {e}"),
    }
}

/// The reference and wispmon side by side, or `None` when the reference is not installed.
fn both(dir: &Path) -> Option<(Influxd, TestServer)> {
    let influx = start_influxd(dir)?;
    let ours = TestServer::spawn(
        &dir.join("w"),
        &[],
        &[("WISPMON_ADMIN_PASSWORD", "0123456789")],
    );
    Some((influx, ours))
}

/// Runs set-up statements on the reference and waits until they took effect. influxd applies
/// meta changes asynchronously: a statement can answer 200 with an error in its body because
/// the previous one is not visible yet (a policy on a database it cannot see), and a write can
/// find no policy that a 200 just created. Both made these tests flaky; each statement is
/// repeated until it succeeds, then the `short` policy, when created, must be listed.
fn setup_reference(influx: &Influxd, statements: &[&str]) {
    let url = format!("{}/query", influx.url);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let wait = |what: &str, text: &str| {
        assert!(
            std::time::Instant::now() < deadline,
            "influxd: {what}: {text}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    for q in statements {
        loop {
            let (c, text) = query(&url, "POST", q, None);
            assert_eq!(c, 200, "{q}: {text}");
            if !text.contains("\"error\"") {
                break;
            }
            wait(q, &text);
        }
    }
    if statements.iter().any(|q| q.contains("short")) {
        loop {
            let (_, text) = query(&url, "GET", "SHOW RETENTION POLICIES ON openwisp2", None);
            if text.contains("\"short\"") {
                break;
            }
            wait("the short policy is not listed", &text);
        }
    }
}

/// Creates `openwisp2` on the reference (wispmon creates it at start) and writes the same
/// lines to both; `{T}` in `lines` stands for a recent timestamp in ns.
fn load_both(influx: &Influxd, ours: &TestServer, lines: &str) {
    let (c, _) = query(
        &format!("{}/query", influx.url),
        "POST",
        "CREATE DATABASE openwisp2",
        None,
    );
    assert_eq!(c, 200);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let body = lines.replace("{T}", &((now - 600) * 1_000_000_000).to_string());
    for base in [influx.url.clone(), format!("http://{}", ours.addr)] {
        assert_eq!(
            send(
                &format!("{base}/write?db=openwisp2"),
                body.as_bytes(),
                false
            )
            .0,
            204
        );
    }
}

#[test]
fn write_answers_like_influxdb_1_x() {
    let dir = tempfile::tempdir().unwrap();
    let Some((influx, ours)) = both(dir.path()) else {
        return;
    };
    // The same database and policies on the reference as wispmon creates at start.
    setup_reference(
        &influx,
        &[
            "CREATE DATABASE openwisp2",
            "CREATE RETENTION POLICY short ON openwisp2 DURATION 24h REPLICATION 1",
            "ALTER RETENTION POLICY autogen ON openwisp2 DURATION 26280h",
        ],
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let t = |n: i64| ((now - 600 + n) * 1_000_000_000).to_string();
    let cases: Vec<(&str, String)> = vec![
        (
            "?db=openwisp2",
            format!("cpu,host=a load=1.5 {}\ncpu,host=a load=2 {}\n", t(1), t(2)),
        ),
        ("?db=openwisp2", String::new()),
        ("?db=openwisp2", "# comment only\n\n".into()),
        ("", "cpu v=1".into()),
        ("?db=nosuchdb", "cpu v=1".into()),
        ("?db=openwisp2&rp=nosuchrp", "cpu v=1".into()),
        ("?db=openwisp2", "cpu".into()),
        ("?db=openwisp2", "cpu,host=a".into()),
        ("?db=openwisp2", format!("cpu load= {}", t(3))),
        ("?db=openwisp2", "cpu load=1 abc".into()),
        ("?db=openwisp2", "cpu load=1.2.3".into()),
        ("?db=openwisp2", "cpu load=\"unterminated".into()),
        ("?db=openwisp2", "cpu load=tru".into()),
        (
            "?db=openwisp2",
            format!(
                "cpu,host=b load=3 {}\ncpu,host=b load= {}\ncpu,host=b load=5 {}",
                t(3),
                t(4),
                t(5)
            ),
        ),
        (
            "?db=openwisp2",
            format!("cpu,host=a load=7i {}\ncpu,host=a load=8 {}", t(7), t(8)),
        ),
        ("?db=openwisp2", format!("cpu,host=a load=9i {}", t(9))),
        (
            "?db=openwisp2&rp=short",
            "device_data,pk=x data=\"{}\" 1000".into(),
        ),
        (
            "?db=openwisp2&precision=s",
            format!("mem,host=a used=1i,free=2i,ok=t,s=\"x y\" {}", now - 500),
        ),
        (
            "?db=openwisp2&precision=ms",
            format!("mem,host=b used=3i {}", (now - 500) * 1000),
        ),
        (
            "?db=openwisp2",
            format!(
                "ping,content_type=config.device,object_id=abc reachable=1i,loss=0.0,rtt_avg=0.85 {}",
                t(10)
            ),
        ),
        (
            "?db=openwisp2",
            format!("esc\\ m,t\\,k=v\\=x f\\ k=1 {}", t(11)),
        ),
        (
            "?db=openwisp2",
            format!("cpu,host=a load=99999999999999999999i {}", t(12)),
        ),
        ("?db=openwisp2", format!("cpu load=1 {}\r\n", t(13))),
    ];
    for (q, body) in &cases {
        let theirs = send(&format!("{}/write{q}", influx.url), body.as_bytes(), false);
        let mine = send(&ours.url(&format!("/write{q}")), body.as_bytes(), false);
        assert_eq!(mine, theirs, "POST /write{q} with body {body:?}");
    }
    // gzip bodies.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(format!("cpu,host=z load=4 {}\n", t(14)).as_bytes())
        .unwrap();
    let body = gz.finish().unwrap();
    let theirs = send(&format!("{}/write?db=openwisp2", influx.url), &body, true);
    let mine = send(&ours.url("/write?db=openwisp2"), &body, true);
    assert_eq!(mine, theirs, "gzip body");
}

fn query(url: &str, method: &str, q: &str, db: Option<&str>) -> (u16, String) {
    let mut params = vec![("q", q)];
    if let Some(d) = db {
        params.push(("db", d));
    }
    let r = if method == "POST" {
        ureq::post(url).send_form(&params)
    } else {
        let mut req = ureq::get(url);
        for (k, v) in &params {
            req = req.query(k, v);
        }
        req.call()
    };
    match r {
        Ok(r) => (r.status(), r.into_string().unwrap()),
        Err(ureq::Error::Status(c, r)) => (c, r.into_string().unwrap()),
        Err(e) => panic!("{method} {url}: {e}"),
    }
}

#[test]
fn management_statements_answer_like_influxdb_1_x() {
    let dir = tempfile::tempdir().unwrap();
    let Some((influx, ours)) = both(dir.path()) else {
        return;
    };
    // What wispmon creates at start, made on the reference the way the OpenWISP backend does.
    setup_reference(
        &influx,
        &[
            "CREATE DATABASE \"openwisp2\"",
            "CREATE RETENTION POLICY \"short\" ON \"openwisp2\" DURATION 24h0m0s REPLICATION 1 SHARD DURATION 0s",
            "ALTER RETENTION POLICY \"autogen\" ON \"openwisp2\" DURATION 26280h0m0s",
        ],
    );
    let cases: &[(&str, &str, Option<&str>)] = &[
        ("POST", "SHOW RETENTION POLICIES ON \"openwisp2\"", None),
        ("GET", "SHOW RETENTION POLICIES", Some("openwisp2")),
        ("GET", "SHOW RETENTION POLICIES", None),
        ("POST", "SHOW RETENTION POLICIES ON nosuchdb", None),
        ("POST", "CREATE DATABASE \"openwisp2\"", None),
        (
            "POST",
            "ALTER RETENTION POLICY \"autogen\" ON \"openwisp2\" DURATION 26280h0m0s",
            None,
        ),
        (
            "POST",
            "CREATE RETENTION POLICY \"short\" ON \"openwisp2\" DURATION 24h0m0s REPLICATION 1 SHARD DURATION 0s",
            None,
        ),
        (
            "POST",
            "CREATE RETENTION POLICY \"short\" ON \"openwisp2\" DURATION 48h REPLICATION 1",
            None,
        ),
        (
            "POST",
            "CREATE RETENTION POLICY \"tiny\" ON \"openwisp2\" DURATION 30m REPLICATION 1",
            None,
        ),
        (
            "POST",
            "ALTER RETENTION POLICY nosuch ON \"openwisp2\" DURATION 48h",
            None,
        ),
        ("POST", "CREATE DATABASE second; SHOW DATABASES", None),
        (
            "POST",
            "CREATE RETENTION POLICY weekly ON second DURATION 7d REPLICATION 1 DEFAULT; SHOW RETENTION POLICIES ON second",
            None,
        ),
        (
            "POST",
            "DROP RETENTION POLICY weekly ON second; SHOW RETENTION POLICIES ON second",
            None,
        ),
        (
            "POST",
            "DROP DATABASE second; DROP DATABASE nosuchdb; SHOW DATABASES",
            None,
        ),
        ("GET", "CREATE DATABASE viaget; DROP DATABASE viaget", None),
        ("GET", "", None),
        ("GET", "SELEC 1", None),
        ("GET", "SHOW TAG VALUES FROM cpu", None),
        (
            "POST",
            "CREATE RETENTION POLICY x ON nosuchdb DURATION 1h REPLICATION 1",
            None,
        ),
    ];
    for (method, q, db) in cases {
        let theirs = query(&format!("{}/query", influx.url), method, q, *db);
        let mine = query(&ours.url("/query"), method, q, *db);
        assert_eq!(mine, theirs, "{method} /query q={q:?} db={db:?}");
    }
}

#[test]
fn metadata_statements_answer_like_influxdb_1_x() {
    let dir = tempfile::tempdir().unwrap();
    let Some((influx, ours)) = both(dir.path()) else {
        return;
    };
    load_both(
        &influx,
        &ours,
        "cpu,host=a,region=eu load=1.5,cores=4i {T}\n\
         cpu,host=b,region=us load=2,cores=8i {T}\n\
         traffic,content_type=config.device,ifname=wan,object_id=x rx_bytes=1i,tx_bytes=2i {T}\n\
         traffic,content_type=config.device,ifname=eth1,object_id=y rx_bytes=3i,tx_bytes=4i {T}\n\
         wifi_clients,ifname=wlan0,object_id=x clients=\"aa:bb\" {T}\n\
         status up=true,note=\"ok\" {T}\n",
    );
    let cases: &[(&str, Option<&str>)] = &[
        ("SHOW MEASUREMENTS", Some("openwisp2")),
        ("SHOW MEASUREMENTS ON openwisp2 LIMIT 2", None),
        ("SHOW MEASUREMENTS LIMIT 2 OFFSET 1", Some("openwisp2")),
        ("SHOW MEASUREMENTS", None),
        ("SHOW TAG KEYS", Some("openwisp2")),
        ("SHOW TAG KEYS FROM cpu", Some("openwisp2")),
        ("SHOW TAG KEYS FROM cpu, traffic", Some("openwisp2")),
        ("SHOW TAG KEYS FROM nosuch", Some("openwisp2")),
        ("SHOW TAG VALUES WITH KEY = host", Some("openwisp2")),
        (
            "SHOW TAG VALUES FROM traffic WITH KEY = \"ifname\"",
            Some("openwisp2"),
        ),
        (
            "SHOW TAG VALUES FROM traffic WITH KEY IN (\"ifname\", \"object_id\")",
            Some("openwisp2"),
        ),
        ("SHOW TAG VALUES WITH KEY = object_id", Some("openwisp2")),
        ("SHOW TAG VALUES WITH KEY = nosuch", Some("openwisp2")),
        ("SHOW FIELD KEYS", Some("openwisp2")),
        ("SHOW FIELD KEYS FROM cpu", Some("openwisp2")),
        ("SHOW FIELD KEYS ON openwisp2 FROM status", None),
        ("SHOW MEASUREMENTS", Some("nosuchdb")),
        ("SHOW TAG KEYS", Some("nosuchdb")),
        ("SHOW TAG VALUES WITH KEY = host", Some("nosuchdb")),
        ("SHOW FIELD KEYS", Some("nosuchdb")),
        ("SHOW TAG KEYS", None),
    ];
    for (q, db) in cases {
        let theirs = query(&format!("{}/query", influx.url), "GET", q, *db);
        let mine = query(&ours.url("/query"), "GET", q, *db);
        assert_eq!(mine, theirs, "GET /query q={q:?} db={db:?}");
    }
}

#[test]
fn drop_statements_answer_and_act_like_influxdb_1_x() {
    let dir = tempfile::tempdir().unwrap();
    let Some((influx, ours)) = both(dir.path()) else {
        return;
    };
    load_both(
        &influx,
        &ours,
        "cpu,host=a,region=eu load=1.5 {T}\n\
         cpu,host=a,region=us load=1.5 {T}\n\
         cpu,host=b,region=eu load=2 {T}\n\
         traffic,content_type=config.device,ifname=wan,object_id=x rx_bytes=1i {T}\n\
         traffic,content_type=config.device,ifname=eth1,object_id=x rx_bytes=1i {T}\n\
         traffic,content_type=config.device,ifname=wan,object_id=y rx_bytes=3i {T}\n\
         status up=true {T}\n",
    );
    let steps: &[&str] = &[
        // What the OpenWISP backend sends when a device is deleted.
        "DROP SERIES FROM \"traffic\" WHERE \"content_type\"='config.device' AND \"object_id\"='x'",
        "SHOW TAG VALUES FROM traffic WITH KEY = object_id",
        "DROP SERIES FROM cpu WHERE (host = 'a' AND region = 'eu')",
        "SHOW TAG VALUES FROM cpu WITH KEY IN (host, region)",
        "DROP SERIES WHERE host = 'b'",
        "SHOW TAG VALUES FROM cpu WITH KEY IN (host, region)",
        "DROP MEASUREMENT status",
        "SHOW MEASUREMENTS",
        "SHOW FIELD KEYS",
        "DROP SERIES FROM nosuch WHERE host = 'a'",
        "DROP MEASUREMENT nosuch",
    ];
    for q in steps {
        let theirs = query(
            &format!("{}/query", influx.url),
            "POST",
            q,
            Some("openwisp2"),
        );
        let mine = query(&ours.url("/query"), "POST", q, Some("openwisp2"));
        assert_eq!(mine, theirs, "POST /query q={q:?}");
    }
}
