//! The webhook client against the sink of `tests/support/http_sink.rs` on loopback.
#![allow(clippy::unwrap_used)] // tests: a panic is a failure

use std::time::{Duration, Instant};

use super::*;

use crate::notify::http_sink::{HttpSink, HttpSinkOptions};
// The test certificate lives with the SMTP sink.
use crate::notify::smtp_sink::TestCert;

const BODY: &[u8] = r#"{"event":"device_down","device":"AP-1","note":"Gerät"}"#.as_bytes();

fn settings(url: String) -> WebhookSettings {
    WebhookSettings {
        url,
        headers: vec![("Authorization".to_owned(), "Bearer t0ken".to_owned())],
        timeout: Duration::from_secs(5),
        ca_file: None,
    }
}

#[tokio::test]
async fn post_sends_the_body_and_headers() {
    let (addr, sink) = HttpSink::start(HttpSinkOptions::default()).await;
    post(
        &settings(sink.url("/hooks/wispmon?team=ops")),
        BODY,
        "d-123",
    )
    .await
    .unwrap();
    let requests = sink.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/hooks/wispmon?team=ops");
    assert_eq!(r.body, BODY);
    assert!(!r.tls);
    assert_eq!(r.header("Host"), Some(addr.to_string().as_str()));
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert_eq!(
        r.header("Content-Length"),
        Some(BODY.len().to_string().as_str())
    );
    assert_eq!(
        r.header("User-Agent"),
        Some(concat!("wispmon/", env!("CARGO_PKG_VERSION")))
    );
    assert_eq!(r.header("X-Wispmon-Delivery"), Some("d-123"));
    assert_eq!(r.header("Authorization"), Some("Bearer t0ken"));
}

#[tokio::test]
async fn post_classifies_statuses() {
    let cases = [
        (200, None),
        (202, None),
        (500, Some(true)),
        (503, Some(true)),
        (408, Some(true)),
        (429, Some(true)),
        (404, Some(false)),
        (400, Some(false)),
        (401, Some(false)),
        (301, Some(false)),
        (307, Some(false)),
    ];
    for (status, expected) in cases {
        let (_, sink) = HttpSink::start(HttpSinkOptions {
            then: status,
            response_headers: vec![("Location".to_owned(), "http://elsewhere.test/".to_owned())],
            response_body: "{\"error\":\"nope\"}".to_owned(),
            ..Default::default()
        })
        .await;
        let result = post(&settings(sink.url("/")), BODY, "d-1").await;
        match expected {
            None => assert_eq!(result, Ok(()), "{status}"),
            Some(transient) => {
                let err = result.unwrap_err();
                assert_eq!(err.is_transient(), transient, "{status}: {err}");
                assert!(err.to_string().contains(&status.to_string()), "{err}");
                assert!(err.to_string().contains("nope"), "{err}");
            }
        }
        // Redirects are not followed: one request only.
        assert_eq!(sink.requests().len(), 1, "{status}");
    }
}

#[tokio::test]
async fn post_succeeds_once_the_receiver_recovers() {
    let (_, sink) = HttpSink::start(HttpSinkOptions {
        responses: vec![500],
        ..Default::default()
    })
    .await;
    let s = settings(sink.url("/hook"));
    assert!(post(&s, BODY, "d-7").await.unwrap_err().is_transient());
    post(&s, BODY, "d-7").await.unwrap();
    let ids: Vec<_> = sink
        .requests()
        .iter()
        .map(|r| r.header("X-Wispmon-Delivery").unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["d-7", "d-7"]);
}

#[tokio::test]
async fn post_gives_up_on_a_silent_receiver_within_the_timeout() {
    let (_, sink) = HttpSink::start(HttpSinkOptions {
        stall: true,
        ..Default::default()
    })
    .await;
    let s = WebhookSettings {
        timeout: Duration::from_millis(300),
        ..settings(sink.url("/"))
    };
    let started = Instant::now();
    let err = post(&s, BODY, "d-1").await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(sink.requests().len(), 1);
}

#[tokio::test]
async fn post_reports_a_refused_connection_as_transient() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = post(&settings(format!("http://{addr}/")), BODY, "d-1")
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err}");
}

#[tokio::test]
async fn post_over_https_trusts_ca_file_only() {
    let cert = TestCert::generate();
    let (addr, sink) = HttpSink::start(HttpSinkOptions {
        tls: Some(cert.server_config()),
        ..Default::default()
    })
    .await;
    let url = sink.url("/secure");
    assert!(url.starts_with("https://"));

    let err = post(&settings(url.clone()), BODY, "d-1").await.unwrap_err();
    assert!(!err.is_transient(), "{err}");
    assert!(err.to_string().contains("certificate"), "{err}");
    assert!(sink.requests().is_empty());

    let s = WebhookSettings {
        ca_file: Some(cert.cert_path.clone()),
        ..settings(url)
    };
    post(&s, BODY, "d-2").await.unwrap();
    let localhost = WebhookSettings {
        url: format!("https://localhost:{}/secure", addr.port()),
        ..s.clone()
    };
    post(&localhost, BODY, "d-3").await.unwrap();
    let requests = sink.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests.iter().all(|r| r.tls && r.body == BODY));
    assert_eq!(
        requests[1].header("Host"),
        Some(format!("localhost:{}", addr.port()).as_str())
    );
}

#[tokio::test]
async fn post_refuses_bad_settings() {
    let bad_header = WebhookSettings {
        headers: vec![("X-Token".to_owned(), "a\r\nInjected: yes".to_owned())],
        ..settings("http://127.0.0.1:9/".to_owned())
    };
    let err = post(&bad_header, BODY, "d-1").await.unwrap_err();
    assert!(!err.is_transient());
    assert!(
        !err.to_string().contains("Injected"),
        "the value leaked: {err}"
    );
    let err = post(&settings("ftp://x/".to_owned()), BODY, "d-1")
        .await
        .unwrap_err();
    assert!(!err.is_transient());
}

#[test]
fn settings_debug_hides_header_values() {
    let shown = format!("{:?}", settings("http://x/".to_owned()));
    assert!(!shown.contains("t0ken"), "{shown}");
    assert!(shown.contains("Authorization"), "{shown}");
}

#[test]
fn validate_url_accepts_http_and_https() {
    for url in [
        "http://hooks.example.com",
        "https://hooks.example.com/path?x=1&y=2",
        "HTTPS://hooks.example.com:8443/a#frag",
        "http://10.0.0.5:8080/hook",
        "http://[fd00::1]:8080/hook",
        "http://host_with_underscore.lan/",
    ] {
        assert_eq!(validate_url(url), Ok(()), "{url}");
    }
}

#[test]
fn validate_url_explains_what_is_wrong() {
    for (url, expected) in [
        ("hooks.example.com/x", "must start with http:// or https://"),
        (
            "ftp://hooks.example.com/",
            "must start with http:// or https://",
        ),
        ("http:///path", "no host"),
        ("https://", "no host"),
        ("http://host:0/", "not a port number"),
        ("http://host:99999/", "not a port number"),
        ("http://host:abc/", "not a port number"),
        ("http://user:pw@host/", "must not carry credentials"),
        ("http://ho st/", "printable ASCII"),
        ("http://h\u{e9}st/", "printable ASCII"),
        ("http://[zz::1]/", "not an IPv6 address"),
        ("http://host%2f/", "not a valid host name"),
    ] {
        let err = validate_url(url).unwrap_err();
        assert!(err.contains(expected), "{url}: {err}");
    }
}

#[test]
fn target_defaults_port_and_path() {
    let t = Target::parse("https://example.com?x=1").unwrap();
    assert_eq!(
        (t.port, t.path_and_query.as_str(), t.host_header()),
        (443, "/?x=1", "example.com".to_owned())
    );
    let t = Target::parse("http://example.com:8080").unwrap();
    assert_eq!(
        (t.port, t.path_and_query.as_str(), t.host_header()),
        (8080, "/", "example.com:8080".to_owned())
    );
    let t = Target::parse("http://[::1]:80/a").unwrap();
    assert_eq!(
        (t.host.as_str(), t.host_header()),
        ("[::1]", "[::1]".to_owned())
    );
}
