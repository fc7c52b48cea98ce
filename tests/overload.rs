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
