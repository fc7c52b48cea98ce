//! `wispmon import-influx` against a real InfluxDB 1.x (Debian's, started by the test on
//! loopback): everything of the source database arrives, with its retention policies, field
//! types, tags that need escaping, strings and booleans, and both servers then answer the same
//! queries the same way.

use serde_json::Value;

use crate::compat_write::start_influxd;
use crate::util::{TestServer, run, succeeded};

fn query(base: &str, db: &str, q: &str) -> Value {
    let url = format!("{base}/query?db={db}&epoch=ns");
    ureq::post(&url)
        .send_form(&[("q", q)])
        .unwrap()
        .into_json()
        .unwrap()
}

fn write(base: &str, db: &str, rp: &str, body: &str) {
    let r = ureq::post(&format!("{base}/write?db={db}&rp={rp}"))
        .send_string(body)
        .unwrap();
    assert_eq!(r.status(), 204);
}

#[test]
fn an_openwisp_influxdb_is_copied_whole() {
    let dir = tempfile::tempdir().unwrap();
    let Some(influx) = start_influxd(dir.path()) else {
        return;
    };
    let src = influx.url.clone();
    query(&src, "", "CREATE DATABASE openwisp2");
    query(
        &src,
        "openwisp2",
        "CREATE RETENTION POLICY short ON openwisp2 DURATION 24h REPLICATION 1 SHARD DURATION 1h",
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 7200;
    let mut lp = String::new();
    for i in 0..12_000u64 {
        let t = (now - i * 60) * 1_000_000_000;
        lp.push_str(&format!(
            "traffic,content_type=config.device,object_id=dev-{},ifname=eth0 rx_bytes={}i,tx_bytes={}i {t}\n",
            i % 7,
            i * 1000,
            i * 17
        ));
        if i % 10 == 0 {
            lp.push_str(&format!(
                "cpu,object_id=dev\\ 1\\,a,content_type=x cpu_usage={},load_1={} {t}\n",
                i as f64 / 3.0,
                0.5
            ));
        }
    }
    lp.push_str(&format!(
        "ping,object_id=d reachable=1i,loss=0.0,note=\"a \\\"quoted\\\" text\",up=true {}\n",
        now * 1_000_000_000
    ));
    for chunk in lp.lines().collect::<Vec<_>>().chunks(5000) {
        write(&src, "openwisp2", "autogen", &chunk.join("\n"));
    }
    write(
        &src,
        "openwisp2",
        "short",
        &format!(
            "device_data,pk=abc data=\"{{\\\"type\\\":\\\"DeviceMonitoring\\\"}}\" {}",
            now * 1_000_000_000
        ),
    );

    let ours = TestServer::spawn(&dir.path().join("w"), &[], &[]);
    let dest = format!("http://{}", ours.addr);
    let out = run(
        &[
            "import-influx",
            "--url",
            &src,
            "--db",
            "openwisp2",
            "--dest",
            &dest,
        ],
        &[],
        None,
    );
    let stdout = succeeded(&out);
    assert!(stdout.contains("imported 13202 points"), "{stdout}");

    for (db_rp, m) in [
        ("autogen", "traffic"),
        ("autogen", "cpu"),
        ("autogen", "ping"),
        ("short", "device_data"),
    ] {
        let q = format!("SELECT * FROM openwisp2.{db_rp}.{m} GROUP BY *");
        assert_eq!(
            query(&src, "openwisp2", &q),
            query(&dest, "openwisp2", &q),
            "{q}"
        );
        let q = format!("SHOW FIELD KEYS FROM {db_rp}.{m}");
        assert_eq!(
            query(&src, "openwisp2", &q),
            query(&dest, "openwisp2", &q),
            "{q}"
        );
    }
    let q = "SELECT sum(rx_bytes) FROM traffic WHERE time > now() - 30d GROUP BY time(1d), object_id fill(none)";
    assert_eq!(query(&src, "openwisp2", q), query(&dest, "openwisp2", q));
    let rps = query(&dest, "openwisp2", "SHOW RETENTION POLICIES ON openwisp2");
    assert!(
        rps.to_string().contains("\"short\",\"24h0m0s\",\"1h0m0s\""),
        "{rps}"
    );

    // An unreachable source is a clear error, not a hang or a panic.
    let out = run(
        &[
            "import-influx",
            "--url",
            "http://127.0.0.1:9",
            "--dest",
            &dest,
        ],
        &[],
        None,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("connecting to 127.0.0.1:9"));
}
