//! Alerts as an operator meets them: a router posts a sample that crosses a threshold, the
//! device's status changes, the organization's administrator finds the notification through
//! the API (and nobody else does), marks it read, and sets preferences.

use serde_json::{Value, json};

use crate::operator_api::{call, create_device, create_org, server, tenants, token};

/// The spec §3.7 sample with disk usage set to `percent` on its overlay.
pub fn sample(percent: u64) -> Vec<u8> {
    let mut doc: Value = serde_json::from_str(include_str!("support/spec_example.json")).unwrap();
    let disks = doc["resources"]["disk"].as_array_mut().unwrap();
    // /rom is always full on OpenWrt: the agent's disk usage is the overlay's.
    disks.retain(|d| d["mount_point"] == "/overlay");
    let size = 6_029_312u64;
    let used = size * percent / 100;
    disks[0]["used_bytes"] = json!(used);
    disks[0]["available_bytes"] = json!(size - used);
    disks[0]["used_percent"] = json!(percent);
    serde_json::to_vec(&doc).unwrap()
}

pub fn post_sample(s: &crate::util::TestServer, id: &str, key: &str, body: &[u8]) {
    let url = s.url(&format!("/api/v1/monitoring/device/{id}/?key={key}"));
    let r = ureq::post(&url)
        .set("Content-Type", "application/json")
        .send_bytes(body)
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[test]
fn a_threshold_crossing_reaches_the_organizations_administrator_only() {
    let dir = tempfile::tempdir().unwrap();
    let (s, admin) = server(dir.path());
    let (org, other) = tenants(&s, &admin);
    let dev = create_device(&s, &admin, &org, "ap-lobby-01", "00:11:22:33:44:55");
    let (id, key) = (dev["id"].as_str().unwrap(), dev["key"].as_str().unwrap());
    let status = || {
        call(
            "GET",
            &s.url(&format!("/api/v1/controller/device/{id}/")),
            Some(&admin),
            None,
        )
        .1["monitoring"]["status"]
            .clone()
    };
    let alice = token(&s, "alice", "password-123");
    let list = |t: &str, q: &str| {
        let (st, v) = call(
            "GET",
            &s.url(&format!("/api/v1/notifications/notification/{q}")),
            Some(t),
            None,
        );
        assert_eq!(st, 200, "{v}");
        v
    };

    post_sample(&s, id, key, &sample(10));
    assert_eq!(status(), "ok");
    assert_eq!(
        list(&alice, "")["count"],
        0,
        "a healthy first sample notifies nobody"
    );

    // Disk alerts have no tolerance: one sample over 90 % is a problem at once.
    post_sample(&s, id, key, &sample(95));
    assert_eq!(status(), "problem");
    let v = list(&alice, "?unread=true");
    assert_eq!(v["count"], 1, "{v}");
    let n = &v["results"][0];
    assert_eq!(n["type"], "disk_problem");
    assert_eq!(n["level"], "warning");
    assert_eq!(
        n["email_subject"],
        "[wispmon] PROBLEM: ap-lobby-01 is experiencing a peak in disk usage"
    );
    assert_eq!(n["target_object_id"], id);
    assert!(
        n["message"]
            .as_str()
            .unwrap()
            .ends_with("is experiencing a peak in disk usage which has gone over 90%."),
        "{n}"
    );
    assert_eq!(
        list(&admin, "")["count"],
        1,
        "superusers hear of everything"
    );
    let victor = token(&s, "victor", "password-123");
    let bob = token(&s, "bob", "password-123");
    assert_eq!(list(&victor, "")["count"], 0);
    assert_eq!(list(&bob, "")["count"], 0);
    // Someone else's notification does not exist for bob.
    let nid = n["id"].as_str().unwrap();
    let one = |t: &str, m: &str| {
        call(
            m,
            &s.url(&format!("/api/v1/notifications/notification/{nid}/")),
            Some(t),
            None,
        )
    };
    assert_eq!(one(&bob, "GET").0, 404);
    assert_eq!(one(&bob, "DELETE").0, 404);

    let unread = |t: &str| {
        call(
            "GET",
            &s.url("/api/v1/notifications/notification/unread-count/"),
            Some(t),
            None,
        )
        .1["count"]
            .clone()
    };
    assert_eq!(unread(&alice), 1);
    let (st, v) = one(&alice, "PATCH");
    assert_eq!((st, &v["unread"]), (200, &json!(false)), "{v}");
    assert_eq!(unread(&alice), 0);

    // Recovery, then everything marked read at once.
    post_sample(&s, id, key, &sample(20));
    assert_eq!(status(), "ok");
    let v = list(&alice, "");
    assert_eq!(v["results"][0]["type"], "disk_recovery");
    assert_eq!(
        v["results"][0]["email_subject"],
        "[wispmon] RECOVERY: ap-lobby-01 disk usage has returned to normal levels"
    );
    assert_eq!(unread(&alice), 1);
    let (st, v) = call(
        "POST",
        &s.url("/api/v1/notifications/notification/read/"),
        Some(&alice),
        None,
    );
    assert_eq!((st, &v["marked_read"]), (200, &json!(1)), "{v}");
    assert_eq!(unread(&alice), 0);

    // Preferences: no web notifications of disk problems for this organization.
    let prefs = |body: Value| {
        call(
            "PUT",
            &s.url("/api/v1/notifications/user/preferences/"),
            Some(&alice),
            Some(&body),
        )
    };
    let (st, v) = prefs(json!({"email": "alice@example.com",
        "rules": [{"organization": org, "type": "disk_problem", "web": false, "email": false}]}));
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        prefs(json!({"rules": [{"organization": other, "type": null}]})).0,
        400,
        "an organization alice cannot see"
    );
    assert_eq!(
        prefs(json!({"rules": [{"type": "nonsense_problem"}]})).0,
        400
    );
    assert_eq!(prefs(json!({"email": "not an address"})).0, 400);
    let (_, v) = call(
        "GET",
        &s.url("/api/v1/notifications/user/preferences/"),
        Some(&alice),
        None,
    );
    assert_eq!(v["email"], "alice@example.com");
    post_sample(&s, id, key, &sample(96));
    assert_eq!(status(), "problem");
    assert_eq!(
        list(&alice, "")["count"],
        2,
        "the new problem is not shown to alice"
    );
    assert_eq!(list(&admin, "")["count"], 3);
    // Deleting.
    assert_eq!(one(&alice, "DELETE").0, 204);
    assert_eq!(list(&alice, "")["count"], 1);
    // Without a token: 401.
    assert_eq!(
        call(
            "GET",
            &s.url("/api/v1/notifications/notification/"),
            None,
            None
        )
        .0,
        401
    );
}

#[test]
fn alerts_arrive_by_e_mail_over_starttls_and_by_webhook_over_https() {
    use crate::http_sink::{HttpSink, HttpSinkOptions};
    use crate::smtp_sink::{SmtpSink, SmtpSinkOptions, TestCert};
    use std::time::Duration;

    let rt = tokio::runtime::Runtime::new().unwrap();
    let cert = TestCert::generate();
    let (smtp_addr, mail) = rt.block_on(SmtpSink::start(SmtpSinkOptions {
        capabilities: vec!["STARTTLS".into(), "AUTH PLAIN LOGIN".into()],
        tls: Some(cert.server_config()),
        credentials: Some(("relay-user".into(), "relay-secret".into())),
        ..Default::default()
    }));
    let (_, hook) = rt.block_on(HttpSink::start(HttpSinkOptions {
        tls: Some(cert.server_config()),
        then: 204,
        ..Default::default()
    }));
    let ca = cert.cert_path.to_str().unwrap().to_owned();
    let port = smtp_addr.port().to_string();
    let hook_url = hook.url("/alerts");
    let dir = tempfile::tempdir().unwrap();
    let s = crate::util::TestServer::spawn(
        dir.path(),
        &[],
        &[
            (
                "WISPMON_ADMIN_PASSWORD",
                crate::operator_api::ADMIN_PASSWORD,
            ),
            ("WISPMON_NOTIFICATIONS__SITE_NAME", "nms.example.net"),
            ("WISPMON_NOTIFICATIONS__BASE_URL", "https://nms.example.net"),
            ("WISPMON_NOTIFICATIONS__SMTP__HOST", "127.0.0.1"),
            ("WISPMON_NOTIFICATIONS__SMTP__PORT", &port),
            ("WISPMON_NOTIFICATIONS__SMTP__SECURITY", "starttls"),
            ("WISPMON_NOTIFICATIONS__SMTP__USERNAME", "relay-user"),
            ("WISPMON_NOTIFICATIONS__SMTP__PASSWORD", "relay-secret"),
            ("WISPMON_NOTIFICATIONS__SMTP__FROM", "wispmon@example.net"),
            ("WISPMON_NOTIFICATIONS__SMTP__CA_FILE", &ca),
            ("WISPMON_NOTIFICATIONS__WEBHOOK__URL", &hook_url),
            ("WISPMON_NOTIFICATIONS__WEBHOOK__CA_FILE", &ca),
        ],
    );
    let admin = token(&s, "admin", crate::operator_api::ADMIN_PASSWORD);
    let (st, v) = call(
        "PUT",
        &s.url("/api/v1/notifications/user/preferences/"),
        Some(&admin),
        Some(&json!({"email": "noc@example.net"})),
    );
    assert_eq!(st, 200, "{v}");
    let org = create_org(&s, &admin, "isp")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let dev = create_device(&s, &admin, &org, "ap-lobby-01", "00:11:22:33:44:55");
    let (id, key) = (dev["id"].as_str().unwrap(), dev["key"].as_str().unwrap());
    post_sample(&s, id, key, &sample(10));
    post_sample(&s, id, key, &sample(97));

    let msgs = rt.block_on(mail.wait_for_messages(1, Duration::from_secs(20)));
    assert_eq!(msgs.len(), 1, "{}", s.stderr());
    let m = &msgs[0];
    assert!(m.tls, "sent after STARTTLS");
    assert_eq!(m.auth_user.as_deref(), Some("relay-user"));
    assert_eq!(m.rcpt_to, ["noc@example.net"]);
    assert_eq!(
        m.subject().as_deref(),
        Some("[nms.example.net] PROBLEM: ap-lobby-01 is experiencing a peak in disk usage")
    );
    let parts = m.parts();
    let text = &parts
        .iter()
        .find(|(t, _)| t.starts_with("text/plain"))
        .unwrap()
        .1;
    assert!(
        text.starts_with(
            "The device ap-lobby-01 is experiencing a peak in disk usage which has gone over 90%."
        ),
        "{text}"
    );
    assert!(text.contains(&format!("https://nms.example.net/#/device/{id}")));
    let html = &parts
        .iter()
        .find(|(t, _)| t.starts_with("text/html"))
        .unwrap()
        .1;
    assert!(
        html.contains(&format!(
            "<a href=\"https://nms.example.net/#/device/{id}\">ap-lobby-01</a>"
        )),
        "{html}"
    );

    let reqs = rt.block_on(hook.wait_for_requests(1, Duration::from_secs(20)));
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert!(r.tls);
    assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/alerts"));
    assert!(r.header("X-Wispmon-Delivery").is_some());
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["type"], "disk_problem");
    assert_eq!(body["device"]["id"], id);
    assert_eq!(body["alert_settings"]["threshold"], 90.0);
    // Nothing is sent twice.
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(mail.messages().len(), 1);
    assert_eq!(hook.requests().len(), 1);
    assert!(
        !s.stderr().contains("relay-secret"),
        "the relay password is never logged"
    );
}
