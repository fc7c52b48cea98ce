//! Quiet on purpose, as an operator uses it: a maintenance window holds a router's alert,
//! the alert is told once the window is gone if the problem still stands, and parent links
//! are kept within an organization.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::notifications::{post_sample, sample};
use crate::operator_api::{agent_date, call, create_device, create_org, server, tenants, token};

/// Midnight UTC of the day `days` from today, in RFC 3339.
fn day(days: i64) -> String {
    #[allow(clippy::disallowed_methods)] // the server's clock is the system's
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let dmy = agent_date((now + days * 86_400) as u64);
    let p: Vec<&str> = dmy.split('-').collect();
    format!("{}-{}-{}T00:00:00Z", p[2], p[1], p[0])
}

#[test]
fn a_window_holds_an_alert_until_it_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let (s, admin) = server(dir.path());
    let (org, other) = tenants(&s, &admin);
    let (alice, victor, bob) = (
        token(&s, "alice", "password-123"),
        token(&s, "victor", "password-123"),
        token(&s, "bob", "password-123"),
    );
    let dev = create_device(&s, &admin, &org, "ap-lobby-01", "00:11:22:33:44:55");
    let (id, key) = (dev["id"].as_str().unwrap(), dev["key"].as_str().unwrap());
    let windows = s.url("/api/v1/monitoring/maintenance-window/");
    let body = json!({
        "organization": org, "scope": "device", "object_id": id,
        "start": day(-1), "end": day(2),
        "reason": "replacing the overlay flash",
    });
    // A viewer may not open a window; another organization's admin may not name our device.
    assert_eq!(call("POST", &windows, Some(&victor), Some(&body)).0, 403);
    let (st, v) = call(
        "POST",
        &windows,
        Some(&bob),
        Some(
            &json!({"organization": other, "scope": "device", "object_id": id,
            "start": "2000-01-01T00:00:00Z", "end": "2001-01-01T00:00:00Z"}),
        ),
    );
    assert_eq!(
        (st, &v["object_id"]),
        (400, &json!(["Not found in the window's organization."]))
    );
    let (st, v) = call(
        "POST",
        &windows,
        Some(&alice),
        Some(&json!({"organization": org, "scope": "organization",
            "start": "2030-01-01T00:00:00Z", "end": "2029-01-01T00:00:00Z"})),
    );
    assert_eq!(
        (st, &v["end"]),
        (400, &json!(["The end must be after the start."]))
    );
    let (st, w) = call("POST", &windows, Some(&alice), Some(&body));
    assert_eq!(st, 201, "{w}");
    assert_eq!(w["is_open"], true);
    assert_eq!(w["scope"], "device");
    let wid = w["id"].as_str().unwrap().to_owned();
    let one = s.url(&format!("/api/v1/monitoring/maintenance-window/{wid}/"));
    assert_eq!(call("GET", &one, Some(&bob), None).0, 404);
    assert_eq!(call("DELETE", &one, Some(&bob), None).0, 404);
    assert_eq!(call("GET", &windows, Some(&bob), None).1["count"], 0);
    assert_eq!(call("GET", &windows, Some(&victor), None).1["count"], 1);

    // The router's overlay fills up during the maintenance: status moves, nobody is paged.
    post_sample(&s, id, key, &sample(10));
    post_sample(&s, id, key, &sample(95));
    let health = s.url(&format!("/api/v1/monitoring/device/{id}/health/"));
    let (st, h) = call("GET", &health, Some(&alice), None);
    assert_eq!(st, 200, "{h}");
    assert_eq!(h["status"], "problem");
    assert_eq!(h["silenced"]["reason"], "maintenance");
    assert_eq!(h["silenced"]["maintenance_window"], wid.as_str());
    assert_eq!(h["held_alerts"].as_array().unwrap().len(), 1, "{h}");
    assert_eq!(h["status_changes"][0]["to"], "problem");
    assert_eq!(h["flapping"], false);
    assert_eq!(call("GET", &health, Some(&bob), None).0, 404);
    let count = || {
        call(
            "GET",
            &s.url("/api/v1/notifications/notification/"),
            Some(&alice),
            None,
        )
        .1["count"]
            .clone()
    };
    assert_eq!(count(), 0);

    // The work is over but the disk is still full: the alert arrives once the window is gone.
    let (st, v) = call(
        "PATCH",
        &one,
        Some(&alice),
        Some(&json!({"reason": "flash replaced; still full"})),
    );
    assert_eq!(
        (st, &v["reason"]),
        (200, &json!("flash replaced; still full"))
    );
    assert_eq!(call("DELETE", &one, Some(&alice), None).0, 204);
    let deadline = Instant::now() + Duration::from_secs(30);
    while count() == 0 {
        assert!(Instant::now() < deadline, "the held alert was never told");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (_, list) = call(
        "GET",
        &s.url("/api/v1/notifications/notification/"),
        Some(&alice),
        None,
    );
    assert_eq!(list["count"], 1, "{list}");
    assert_eq!(list["results"][0]["type"], "disk_problem");
    let h: Value = call("GET", &health, Some(&alice), None).1;
    assert_eq!(h["silenced"], Value::Null);
    assert_eq!(h["held_alerts"], json!([]));
}

#[test]
fn parents_stay_within_the_organization_and_form_no_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let (s, admin) = server(dir.path());
    let org = create_org(&s, &admin, "isp")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = create_org(&s, &admin, "other")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let router = create_device(&s, &admin, &org, "tower-router", "00:11:22:33:44:01");
    let ap = create_device(&s, &admin, &org, "tower-ap", "00:11:22:33:44:02");
    let theirs = create_device(&s, &admin, &other, "theirs", "00:11:22:33:44:03");
    let (r, a, t) = (
        router["id"].as_str().unwrap(),
        ap["id"].as_str().unwrap(),
        theirs["id"].as_str().unwrap(),
    );
    let parent = |dev: &str| s.url(&format!("/api/v1/monitoring/device/{dev}/parent/"));
    let (st, v) = call("PUT", &parent(a), Some(&admin), Some(&json!({"parent": r})));
    assert_eq!(st, 200, "{v}");
    assert_eq!(v, json!({"parent": r, "children": []}));
    let (_, v) = call("GET", &parent(r), Some(&admin), None);
    assert_eq!(v, json!({"parent": null, "children": [a]}));
    let (st, v) = call("PUT", &parent(r), Some(&admin), Some(&json!({"parent": a})));
    assert_eq!(st, 400, "{v}");
    assert!(
        v["parent"][0].as_str().unwrap().contains("descendants"),
        "{v}"
    );
    let (st, _) = call("PUT", &parent(a), Some(&admin), Some(&json!({"parent": t})));
    assert_eq!(st, 400, "another organization's device is no parent");
    let (st, v) = call("PUT", &parent(a), Some(&admin), Some(&json!({})));
    assert_eq!(
        (st, &v["parent"]),
        (400, &json!(["This field is required."]))
    );
    let (st, v) = call(
        "GET",
        &s.url(&format!("/api/v1/monitoring/device/{a}/health/")),
        Some(&admin),
        None,
    );
    assert_eq!((st, &v["parent"]), (200, &json!(r)));
    assert_eq!(call("DELETE", &parent(a), Some(&admin), None).0, 204);
    assert_eq!(
        call("GET", &parent(a), Some(&admin), None).1["parent"],
        Value::Null
    );
}
