//! Slow and numerous clients: the listener's limits (`[http]`) as a client meets them. A
//! client that sends its request head slower than `header_read_timeout` is disconnected while
//! others are served; connections beyond `max_connections` get a 503 with `Retry-After`
//! (agents retry it, device-agents §1.4) and the appliance serves again once they go; a body
//! sent too slowly is answered 503 after `request_timeout`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::util::{TestServer, get};

fn connect(s: &TestServer) -> TcpStream {
    let c = TcpStream::connect(&s.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c
}

/// Reads until the peer closes (or the read timeout); returns what came and how long it took.
fn read_to_close(mut c: TcpStream) -> (String, Duration) {
    let t = Instant::now();
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    (String::from_utf8_lossy(&out).into_owned(), t.elapsed())
}

#[test]
fn slow_heads_are_cut_off_and_others_are_served_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::spawn(
        dir.path(),
        &[],
        &[("WISPMON_HTTP__HEADER_READ_TIMEOUT", "1s")],
    );
    // Twenty clients that start a request and never finish its head, and one that says nothing.
    let mut slow: Vec<TcpStream> = (0..20)
        .map(|i| {
            let mut c = connect(&s);
            write!(c, "POST /write?db=x HTTP/1.1\r\nHost: a\r\nX-Slow-{i}: ").unwrap();
            c
        })
        .collect();
    slow.push(connect(&s));
    // Others are answered while they hang.
    assert_eq!(get(&s.url("/ping")).0, 204);
    for c in slow {
        let (text, took) = read_to_close(c);
        assert!(
            took < Duration::from_secs(5),
            "a slow head held its connection {took:?}"
        );
        assert!(!text.contains(" 204 ") && !text.contains(" 200 "), "{text}");
    }
    // An idle kept-alive connection is closed too, after its first answer.
    let mut c = connect(&s);
    c.write_all(b"GET /ping HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    let (text, took) = read_to_close(c);
    assert!(text.starts_with("HTTP/1.1 204"), "{text}");
    assert!(took < Duration::from_secs(5), "idle for {took:?}");
    assert_eq!(get(&s.url("/ping")).0, 204);
}

#[test]
fn connections_beyond_the_limit_get_a_503_then_service_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::spawn(
        dir.path(),
        &[],
        &[
            ("WISPMON_HTTP__MAX_CONNECTIONS", "8"),
            ("WISPMON_HTTP__HEADER_READ_TIMEOUT", "30s"),
        ],
    );
    // Eight kept-alive connections, each answered once so they are surely being served.
    let held: Vec<TcpStream> = (0..8)
        .map(|_| {
            let mut c = connect(&s);
            c.write_all(b"GET /ping HTTP/1.1\r\nHost: a\r\n\r\n")
                .unwrap();
            let mut buf = [0u8; 512];
            let n = c.read(&mut buf).unwrap();
            assert!(buf[..n].starts_with(b"HTTP/1.1 204"));
            c
        })
        .collect();
    let mut extra = connect(&s);
    extra
        .write_all(b"GET /ping HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    let (text, _) = read_to_close(extra);
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(text.contains("Retry-After: 5"), "{text}");
    assert!(text.contains("max_connections"), "{text}");
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(5);
    while get(&s.url("/ping")).0 != 204 {
        assert!(
            Instant::now() < deadline,
            "not served again after the others left"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_body_sent_too_slowly_is_answered_503() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::spawn(dir.path(), &[], &[("WISPMON_HTTP__REQUEST_TIMEOUT", "1s")]);
    let mut c = connect(&s);
    c.write_all(
        b"POST /write?db=openwisp2 HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\ncpu v=1",
    )
    .unwrap();
    let t = Instant::now();
    let mut buf = [0u8; 1024];
    let n = c.read(&mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(text.contains("request_timeout"), "{text}");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    // Nothing of the cut body was stored.
    let (st, body) = get(&s.url("/query?db=openwisp2&q=SELECT%20*%20FROM%20cpu"));
    assert_eq!(st, 200);
    assert!(!body.contains("values"), "{body}");
}

/// After an outage every router flushes its backlog at once (device-agents §1.5). 200 agents,
/// each with a backlog of 5 samples, post at the same moment to an appliance allowed 32
/// connections: some get a 503 and retry it as real agents do (only 200 and 400 end a
/// sample), every sample ends stored exactly once, no other status is seen, and the resident
/// memory stays bounded.
#[test]
fn a_thundering_herd_of_backlogs_is_stored_whole() {
    use serde_json::json;

    use crate::device_metrics::{agent_time, enc, metrics_path, now_secs};
    use crate::operator_api::{ADMIN_PASSWORD, call, create_org, token};

    const AGENTS: usize = 200;
    const BACKLOG: i64 = 5;
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::spawn(
        dir.path(),
        &[],
        &[
            ("WISPMON_ADMIN_PASSWORD", ADMIN_PASSWORD),
            ("WISPMON_HTTP__MAX_CONNECTIONS", "32"),
            ("WISPMON_CHECKS__AUTO_PING", "false"),
        ],
    );
    let admin = token(&s, "admin", ADMIN_PASSWORD);
    let org = create_org(&s, &admin, "isp")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let devices: Vec<(String, String)> = (0..AGENTS)
        .map(|i| {
            let (st, d) = call(
                "POST",
                &s.url("/api/v1/controller/device/"),
                Some(&admin),
                Some(&json!({"name": format!("cpe-{i}"), "organization": org,
                             "mac_address": format!("02:00:00:00:{:02x}:{:02x}", i / 256, i % 256)})),
            );
            assert_eq!(st, 201, "{d}");
            (
                d["id"].as_str().unwrap().to_owned(),
                d["key"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let rss = |s: &TestServer| -> f64 {
        let (_, text) = get(&s.url("/metrics"));
        text.lines()
            .find_map(|l| l.strip_prefix("process_resident_memory_bytes "))
            .unwrap()
            .parse()
            .unwrap()
    };
    let before = rss(&s);
    let t0 = now_secs() - 3600;
    let start = std::sync::Arc::new(std::sync::Barrier::new(AGENTS));
    let statuses: Vec<Vec<u16>> = std::thread::scope(|scope| {
        let handles: Vec<_> = devices
            .iter()
            .map(|(id, key)| {
                let start = start.clone();
                let base = s.url(&metrics_path(id));
                scope.spawn(move || {
                    start.wait();
                    let mut seen = Vec::new();
                    for n in 0..BACKLOG {
                        let body = json!({"type": "DeviceMonitoring",
                            "resources": {"load": [0.2, 0.1, 0.1], "cpus": 1}})
                        .to_string();
                        loop {
                            let url =
                                format!("{base}?key={key}&time={}", enc(&agent_time(t0 + n * 300)));
                            let st = match ureq::post(&url)
                                .set("Content-Type", "application/json")
                                .send_string(&body)
                            {
                                Ok(r) => r.status(),
                                Err(ureq::Error::Status(st, _)) => st,
                                // Refused at connect time, as a full backlog queue may: retry.
                                Err(_) => 0,
                            };
                            seen.push(st);
                            if st == 200 {
                                break;
                            }
                            // The agent waits 2–15 s; a shorter wait keeps the test short.
                            std::thread::sleep(Duration::from_millis(50));
                        }
                    }
                    seen
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let all: Vec<u16> = statuses.into_iter().flatten().collect();
    let refused = all.iter().filter(|&&st| st == 503).count();
    eprintln!(
        "{} requests, {refused} answered 503 and retried; RSS {:.0} MB before, {:.0} MB after",
        all.len(),
        before / 1e6,
        rss(&s) / 1e6
    );
    assert!(all.iter().all(|st| [0, 200, 503].contains(st)), "{all:?}");
    assert_eq!(
        all.iter().filter(|&&st| st == 200).count(),
        AGENTS * BACKLOG as usize
    );
    // Every sample stored once: one snapshot per sample time per device.
    let (st, text) = get(&format!(
        "{}?db=openwisp2&q={}",
        s.url("/query"),
        crate::device_metrics::enc("SELECT count(cpu_usage) FROM cpu")
    ));
    assert_eq!(st, 200);
    assert!(
        text.contains(&format!(",{}]", AGENTS * BACKLOG as usize)),
        "{text}"
    );
    assert!(
        rss(&s) < before + 200e6,
        "memory grew by {:.0} MB",
        (rss(&s) - before) / 1e6
    );
}
