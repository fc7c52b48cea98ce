//! The SMTP client against the sink of `tests/support/smtp_sink.rs` on loopback, and the
//! message encodings on their own.
#![allow(clippy::unwrap_used)] // tests: a panic is a failure

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::message::{self, Mailbox};
use super::*;
use crate::time::Timestamp;

use crate::notify::smtp_sink::{self, SmtpSink, SmtpSinkOptions, Step, TestCert};

/// 2023-11-14T22:13:20Z, a Tuesday.
const DATE_SECS: i64 = 1_700_000_000;

fn settings(addr: SocketAddr, security: Security) -> SmtpSettings {
    SmtpSettings {
        host: addr.ip().to_string(),
        port: addr.port(),
        security,
        username: None,
        password: None,
        from: "wispmon <noreply@example.com>".to_owned(),
        helo_name: "wispmon.test".to_owned(),
        timeout: Duration::from_secs(5),
        ca_file: None,
        allow_insecure_auth: false,
    }
}

fn email() -> Email {
    Email {
        to: vec!["ops@example.com".to_owned()],
        subject: "Device down".to_owned(),
        text: "The device is down.\n".to_owned(),
        html: None,
        message_id: "<42.1@wispmon>".to_owned(),
        date: Timestamp::from_nanos(DATE_SECS * 1_000_000_000),
    }
}

fn tls_sink(cert: &TestCert, capabilities: &[&str]) -> SmtpSinkOptions {
    SmtpSinkOptions {
        capabilities: capabilities.iter().map(|c| (*c).to_owned()).collect(),
        tls: Some(cert.server_config()),
        ..Default::default()
    }
}

fn with_ca(mut s: SmtpSettings, cert: &TestCert) -> SmtpSettings {
    s.ca_file = Some(cert.cert_path.clone());
    s
}

fn permanent(r: Result<(), DeliveryError>) -> String {
    match r {
        Err(DeliveryError::Permanent(m)) => m,
        other => panic!("expected a permanent failure, got {other:?}"),
    }
}

fn transient(r: Result<(), DeliveryError>) -> String {
    match r {
        Err(DeliveryError::Transient(m)) => m,
        other => panic!("expected a transient failure, got {other:?}"),
    }
}

#[tokio::test]
async fn send_plain_delivers_exact_headers_and_decodable_body() {
    let (addr, sink) = SmtpSink::start(SmtpSinkOptions::default()).await;
    let long_line = "x".repeat(1990) + " ünïcödé";
    let text = format!(
        "Gerät ausgefallen — 東京 ✓\n.hidden line starting with a dot\n.\n{long_line}\ntrailing space \nend"
    );
    let mail = Email {
        subject: "Störung: Gerät „AP-1“ ist nicht erreichbar seit 5 Minuten ✓".to_owned(),
        text: text.clone(),
        ..email()
    };
    send(&settings(addr, Security::None), &mail).await.unwrap();

    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert_eq!(m.mail_from, "noreply@example.com");
    assert_eq!(m.rcpt_to, ["ops@example.com"]);
    assert_eq!(m.helo, "wispmon.test");
    assert!(!m.tls);
    assert_eq!(m.auth_user, None);
    let names: Vec<String> = m.headers().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "Date",
            "From",
            "To",
            "Subject",
            "Message-ID",
            "Auto-Submitted",
            "MIME-Version",
            "Content-Type",
            "Content-Transfer-Encoding"
        ]
    );
    assert_eq!(m.header("Date").unwrap(), "Tue, 14 Nov 2023 22:13:20 +0000");
    assert_eq!(m.header("From").unwrap(), "wispmon <noreply@example.com>");
    assert_eq!(m.header("To").unwrap(), "ops@example.com");
    assert_eq!(m.header("Message-ID").unwrap(), "<42.1@wispmon>");
    assert_eq!(m.header("MIME-Version").unwrap(), "1.0");
    assert_eq!(
        m.header("Content-Type").unwrap(),
        "text/plain; charset=UTF-8"
    );
    assert_eq!(
        m.header("Content-Transfer-Encoding").unwrap(),
        "quoted-printable"
    );
    assert!(m.header("Subject").unwrap().starts_with("=?UTF-8?B?"));
    assert_eq!(m.subject().unwrap(), mail.subject);
    // 7-bit, and every line within the quoted-printable limit (far below SMTP's 998).
    assert!(m.data.is_ascii());
    assert!(m.longest_line() <= 76, "{}", m.longest_line());
    let parts = m.parts();
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0].1, text.replace('\n', "\r\n") + "\r\n");
    assert_eq!(sink.commands(), ["EHLO", "MAIL", "RCPT", "DATA", "QUIT"]);
}

#[tokio::test]
async fn send_with_html_is_multipart_alternative() {
    let (addr, sink) = SmtpSink::start(SmtpSinkOptions::default()).await;
    let mail = Email {
        html: Some("<p>Gerät <b>down</b></p>\n<p>=_ and -- are harmless</p>".to_owned()),
        ..email()
    };
    send(&settings(addr, Security::None), &mail).await.unwrap();
    let m = &sink.messages()[0];
    assert!(
        m.header("Content-Type")
            .unwrap()
            .starts_with("multipart/alternative; boundary=")
    );
    assert_eq!(m.header("Content-Transfer-Encoding"), None);
    let parts = m.parts();
    assert_eq!(
        parts,
        [
            (
                "text/plain; charset=UTF-8".to_owned(),
                "The device is down.\r\n".to_owned()
            ),
            (
                "text/html; charset=UTF-8".to_owned(),
                "<p>Gerät <b>down</b></p>\r\n<p>=_ and -- are harmless</p>\r\n".to_owned()
            ),
        ]
    );
}

#[tokio::test]
async fn send_falls_back_to_helo() {
    let (addr, sink) = SmtpSink::start(SmtpSinkOptions {
        refuse_ehlo: true,
        ..Default::default()
    })
    .await;
    send(&settings(addr, Security::None), &email())
        .await
        .unwrap();
    assert_eq!(sink.messages()[0].helo, "wispmon.test");
    assert_eq!(sink.commands()[..2], ["EHLO", "HELO"]);
}

#[tokio::test]
async fn send_with_starttls_delivers_over_tls() {
    let cert = TestCert::generate();
    let (addr, sink) = SmtpSink::start(tls_sink(&cert, &["8BITMIME", "STARTTLS"])).await;
    let s = with_ca(settings(addr, Security::StartTls), &cert);
    send(&s, &email()).await.unwrap();
    assert!(sink.messages()[0].tls);
    assert_eq!(
        sink.commands(),
        ["EHLO", "STARTTLS", "EHLO", "MAIL", "RCPT", "DATA", "QUIT"]
    );
}

#[tokio::test]
async fn send_with_starttls_refuses_a_server_without_it() {
    let cert = TestCert::generate();
    let (addr, sink) = SmtpSink::start(tls_sink(&cert, &["8BITMIME"])).await;
    let s = with_ca(settings(addr, Security::StartTls), &cert);
    let msg = permanent(send(&s, &email()).await);
    assert!(msg.contains("does not offer STARTTLS"), "{msg}");
    assert!(sink.messages().is_empty());
    assert_eq!(sink.commands(), ["EHLO", "QUIT"]);
}

#[tokio::test]
async fn send_with_starttls_refuses_data_injected_before_the_handshake() {
    let cert = TestCert::generate();
    let (addr, sink) = SmtpSink::start(SmtpSinkOptions {
        inject_after_starttls: true,
        ..tls_sink(&cert, &["STARTTLS"])
    })
    .await;
    let s = with_ca(settings(addr, Security::StartTls), &cert);
    // Refused before the handshake when the bytes arrived with the reply (as they do here, in
    // one write), or by the handshake itself when they trail in a segment of their own.
    let msg = permanent(send(&s, &email()).await);
    assert!(
        msg.contains("after its STARTTLS reply") || msg.contains("tls handshake"),
        "{msg}"
    );
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn send_with_implicit_tls_delivers() {
    let cert = TestCert::generate();
    let (addr, sink) = SmtpSink::start(SmtpSinkOptions {
        implicit_tls: true,
        ..tls_sink(&cert, &[])
    })
    .await;
    let s = with_ca(settings(addr, Security::Tls), &cert);
    send(&s, &email()).await.unwrap();
    assert!(sink.messages()[0].tls);
}

#[tokio::test]
async fn send_refuses_an_untrusted_certificate() {
    let cert = TestCert::generate();
    let (addr, sink) = SmtpSink::start(SmtpSinkOptions {
        implicit_tls: true,
        ..tls_sink(&cert, &[])
    })
    .await;
    // No ca_file: only the system bundle, which does not know the test certificate.
    let msg = permanent(send(&settings(addr, Security::Tls), &email()).await);
    assert!(msg.contains("certificate"), "{msg}");
    assert!(sink.messages().is_empty());
    // Trusted through ca_file, the certificate is checked against a DNS name as well as an IP.
    let mut s = with_ca(settings(addr, Security::Tls), &cert);
    s.host = "localhost".to_owned();
    send(&s, &email()).await.unwrap();
    // An unreadable ca_file is a configuration error, not a network one.
    s.host = "127.0.0.1".to_owned();
    s.ca_file = Some(std::path::PathBuf::from("/nonexistent/ca.pem"));
    let msg = permanent(send(&s, &email()).await);
    assert!(msg.contains("ca_file"), "{msg}");
}

async fn auth_sink(cert: &TestCert, mechanisms: &str) -> (SocketAddr, SmtpSink) {
    SmtpSink::start(SmtpSinkOptions {
        credentials: Some(("alerts".to_owned(), "s3cret:pässword".to_owned())),
        ..tls_sink(cert, &["STARTTLS", mechanisms])
    })
    .await
}

fn with_login(mut s: SmtpSettings, password: &str) -> SmtpSettings {
    s.username = Some("alerts".to_owned());
    s.password = Some(password.to_owned());
    s
}

#[tokio::test]
async fn send_authenticates_with_plain_when_offered() {
    let cert = TestCert::generate();
    let (addr, sink) = auth_sink(&cert, "AUTH LOGIN PLAIN").await;
    let s = with_login(
        with_ca(settings(addr, Security::StartTls), &cert),
        "s3cret:pässword",
    );
    send(&s, &email()).await.unwrap();
    let m = &sink.messages()[0];
    assert_eq!(m.auth_user.as_deref(), Some("alerts"));
    assert!(m.tls);
    assert_eq!(
        sink.commands(),
        [
            "EHLO", "STARTTLS", "EHLO", "AUTH", "MAIL", "RCPT", "DATA", "QUIT"
        ]
    );

    let s = with_login(with_ca(settings(addr, Security::StartTls), &cert), "wrong");
    let msg = permanent(send(&s, &email()).await);
    assert!(msg.contains("535"), "{msg}");
    assert!(!msg.contains("wrong"), "the password leaked into {msg}");
    assert_eq!(sink.messages().len(), 1);
}

#[tokio::test]
async fn send_authenticates_with_login() {
    let cert = TestCert::generate();
    let (addr, sink) = auth_sink(&cert, "AUTH=LOGIN").await;
    let s = with_login(
        with_ca(settings(addr, Security::StartTls), &cert),
        "s3cret:pässword",
    );
    send(&s, &email()).await.unwrap();
    assert_eq!(sink.messages()[0].auth_user.as_deref(), Some("alerts"));

    let s = with_login(with_ca(settings(addr, Security::StartTls), &cert), "wrong");
    let msg = permanent(send(&s, &email()).await);
    assert!(msg.contains("535"), "{msg}");
}

#[tokio::test]
async fn send_refuses_auth_in_clear_text_unless_allowed() {
    let (addr, sink) = SmtpSink::start(SmtpSinkOptions {
        capabilities: vec!["AUTH PLAIN".to_owned()],
        credentials: Some(("alerts".to_owned(), "pw".to_owned())),
        ..Default::default()
    })
    .await;
    let s = with_login(settings(addr, Security::None), "pw");
    let msg = permanent(send(&s, &email()).await);
    assert!(msg.contains("unencrypted"), "{msg}");
    assert_eq!(sink.connections(), 0, "nothing may be sent");

    let s = SmtpSettings {
        allow_insecure_auth: true,
        ..s
    };
    send(&s, &email()).await.unwrap();
    assert_eq!(sink.messages()[0].auth_user.as_deref(), Some("alerts"));
}

#[test]
fn settings_debug_hides_the_password() {
    let addr: SocketAddr = "127.0.0.1:25".parse().unwrap();
    let shown = format!(
        "{:?}",
        with_login(settings(addr, Security::None), "hunter2")
    );
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("<redacted>"), "{shown}");
}

#[tokio::test]
async fn send_refuses_a_user_when_the_server_has_no_auth() {
    let cert = TestCert::generate();
    let (addr, sink) = SmtpSink::start(tls_sink(&cert, &["STARTTLS"])).await;
    let s = with_login(with_ca(settings(addr, Security::StartTls), &cert), "pw");
    let msg = permanent(send(&s, &email()).await);
    assert!(msg.contains("does not offer AUTH"), "{msg}");
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn send_classifies_refusals_by_reply_class() {
    let cases = [
        (Step::Greeting, 421, true),
        (Step::Greeting, 554, false),
        (Step::Mail, 451, true),
        (Step::Mail, 550, false),
        (Step::Rcpt, 450, true),
        (Step::Rcpt, 550, false),
        (Step::Data, 451, true),
        (Step::Data, 554, false),
        (Step::EndOfData, 452, true),
        (Step::EndOfData, 552, false),
    ];
    for (step, code, is_transient) in cases {
        let (addr, sink) = SmtpSink::start(SmtpSinkOptions {
            fail: Some((step, code)),
            ..Default::default()
        })
        .await;
        let err = send(&settings(addr, Security::None), &email())
            .await
            .unwrap_err();
        assert_eq!(err.is_transient(), is_transient, "{step:?} {code}: {err}");
        assert!(err.to_string().contains(&code.to_string()), "{err}");
        assert!(sink.messages().is_empty());
    }
}

#[tokio::test]
async fn send_skips_a_refused_recipient_when_another_is_accepted() {
    let (addr, sink) = SmtpSink::start(SmtpSinkOptions {
        refuse_recipients: vec!["gone@example.com".to_owned()],
        ..Default::default()
    })
    .await;
    let mail = Email {
        to: vec!["gone@example.com".to_owned(), "ops@example.com".to_owned()],
        ..email()
    };
    send(&settings(addr, Security::None), &mail).await.unwrap();
    let m = &sink.messages()[0];
    assert_eq!(m.rcpt_to, ["ops@example.com"]);
    assert_eq!(m.header("To").unwrap(), "gone@example.com, ops@example.com");

    let mail = Email {
        to: vec!["gone@example.com".to_owned()],
        ..email()
    };
    let msg = permanent(send(&settings(addr, Security::None), &mail).await);
    assert!(msg.contains("every recipient was refused"), "{msg}");
    assert_eq!(sink.messages().len(), 1);
}

#[tokio::test]
async fn send_gives_up_on_a_silent_server_within_the_timeout() {
    for step in [Step::Greeting, Step::EndOfData] {
        let (addr, sink) = SmtpSink::start(SmtpSinkOptions {
            stall: Some(step),
            ..Default::default()
        })
        .await;
        let s = SmtpSettings {
            timeout: Duration::from_millis(300),
            ..settings(addr, Security::None)
        };
        let started = Instant::now();
        let msg = transient(send(&s, &email()).await);
        assert!(started.elapsed() < Duration::from_secs(3), "{step:?}");
        assert!(msg.contains("within"), "{msg}");
        assert!(sink.messages().is_empty());
    }
}

#[tokio::test]
async fn send_reports_a_refused_connection_as_transient() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    transient(send(&settings(addr, Security::None), &email()).await);
}

#[tokio::test]
async fn send_refuses_bad_settings_before_connecting() {
    let (addr, sink) = SmtpSink::start(SmtpSinkOptions::default()).await;
    let bad_from = SmtpSettings {
        from: "wispmon <noreply@example.com>\r\nBcc: x@example.com".to_owned(),
        ..settings(addr, Security::None)
    };
    permanent(send(&bad_from, &email()).await);
    let injected = Email {
        to: vec!["ops@example.com>\r\nRCPT TO:<x@example.com".to_owned()],
        ..email()
    };
    permanent(send(&settings(addr, Security::None), &injected).await);
    let nobody = Email {
        to: Vec::new(),
        ..email()
    };
    permanent(send(&settings(addr, Security::None), &nobody).await);
    assert_eq!(sink.connections(), 0);
}

// ---- message rendering --------------------------------------------------------------------

#[test]
fn rfc5322_date_formats_utc() {
    assert_eq!(
        message::rfc5322_date(Timestamp::EPOCH),
        "Thu, 01 Jan 1970 00:00:00 +0000"
    );
    // 2024-02-29T23:59:59.9Z: a leap day, fractions dropped.
    let t = Timestamp::from_nanos(1_709_251_199_900_000_000);
    assert_eq!(message::rfc5322_date(t), "Thu, 29 Feb 2024 23:59:59 +0000");
}

#[test]
fn quoted_printable_keeps_lines_short_and_escapes() {
    let qp = message::quoted_printable("a=b tab\t\nend \n");
    assert_eq!(qp, "a=3Db tab=09\r\nend=20\r\n");
    let long = message::quoted_printable(&"é".repeat(100));
    assert!(long.split("\r\n").all(|l| l.len() <= 76), "{long}");
    // A soft break never splits an escape.
    assert!(
        long.split("=\r\n")
            .all(|l| l.len() % 3 == 0 || l.ends_with("\r\n"))
    );
    assert_eq!(
        smtp_sink::decode_quoted_printable(&long),
        ("é".repeat(100) + "\r\n").into_bytes()
    );
}

#[test]
fn base64_matches_rfc_4648_vectors() {
    for (plain, encoded) in [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ] {
        assert_eq!(message::base64(plain.as_bytes()), encoded);
    }
}

#[test]
fn subject_is_encoded_only_when_needed_and_split_between_characters() {
    assert_eq!(message::encode_subject("Device down"), "Device down");
    assert_eq!(message::encode_subject("a\r\nBcc: x"), "a  Bcc: x");
    let long = "€".repeat(40);
    let encoded = message::encode_subject(&long);
    for word in encoded.split("\r\n ") {
        assert!(word.len() <= 75, "{word}");
    }
    assert_eq!(smtp_sink::decode_encoded_words(&encoded), long);
    assert!(message::encode_subject("=?x?= lookalike").starts_with("=?UTF-8?B?"));
}

#[test]
fn mailbox_parses_and_refuses_injection() {
    assert_eq!(
        Mailbox::parse("wispmon <noreply@example.com>").unwrap(),
        Mailbox {
            name: Some("wispmon".to_owned()),
            address: "noreply@example.com".to_owned()
        }
    );
    assert_eq!(Mailbox::parse("noreply@example.com").unwrap().name, None);
    assert_eq!(
        Mailbox::parse("\"Ops, Team\" <ops@example.com>")
            .unwrap()
            .name
            .as_deref(),
        Some("Ops, Team")
    );
    assert!(Mailbox::parse("no-at-sign").is_err());
    assert!(Mailbox::parse("a@b> SIZE=1").is_err());
    assert!(Mailbox::parse("x <a@b\r\nc>").is_err());
    assert!(message::check_address("a b@c").is_err());
}
