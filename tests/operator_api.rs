//! The operator REST API as an OpenWISP script uses it: a token from username and password,
//! organizations, users and devices, and the walls between organizations.

use serde_json::{Value, json};

use crate::util::TestServer;

pub const ADMIN_PASSWORD: &str = "admin-password-1";

/// `method url` with an optional bearer token and JSON body → (status, JSON body or Null).
pub fn call(method: &str, url: &str, token: Option<&str>, body: Option<&Value>) -> (u16, Value) {
    let mut req = ureq::request(method, url);
    if let Some(t) = token {
        req = req.set("Authorization", &format!("Bearer {t}"));
    }
    let resp = match body {
        Some(b) => req
            .set("Content-Type", "application/json")
            .send_string(&b.to_string()),
        None => req.call(),
    };
    let resp = match resp {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = resp.status();
    let text = resp.into_string().unwrap();
    let v = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, v)
}

/// `dd-mm-YYYY` of a UTC epoch second (the date part of the agent's `time`).
pub fn agent_date(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap();
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{d:02}-{m:02}-{y:04}")
}

pub fn token(s: &TestServer, user: &str, password: &str) -> String {
    let (st, v) = call(
        "POST",
        &s.url("/api/v1/users/token/"),
        None,
        Some(&json!({"username": user, "password": password})),
    );
    assert_eq!(st, 200, "{v}");
    v["token"].as_str().unwrap().to_owned()
}

/// A started server with an admin token.
pub fn server(dir: &std::path::Path) -> (TestServer, String) {
    let s = TestServer::spawn(dir, &[], &[("WISPMON_ADMIN_PASSWORD", ADMIN_PASSWORD)]);
    let t = token(&s, "admin", ADMIN_PASSWORD);
    (s, t)
}

/// Two organizations, `isp` and `other`, with alice (admin of isp), victor (viewer of isp) and
/// bob (admin of other), all with the password `password-123`. Returns the two ids.
pub fn tenants(s: &TestServer, admin: &str) -> (String, String) {
    let id = |v: Value| v["id"].as_str().unwrap().to_owned();
    let org = id(create_org(s, admin, "isp"));
    let other = id(create_org(s, admin, "other"));
    for (user, o, is_admin) in [
        ("alice", &org, true),
        ("victor", &org, false),
        ("bob", &other, true),
    ] {
        let (st, v) = call(
            "POST",
            &s.url("/api/v1/users/user/"),
            Some(admin),
            Some(&json!({
                "username": user, "password": "password-123",
                "organization_users": [{"organization": o, "is_admin": is_admin}],
            })),
        );
        assert_eq!(st, 201, "{v}");
    }
    (org, other)
}

pub fn create_org(s: &TestServer, t: &str, name: &str) -> Value {
    let (st, v) = call(
        "POST",
        &s.url("/api/v1/users/organization/"),
        Some(t),
        Some(&json!({ "name": name })),
    );
    assert_eq!(st, 201, "{v}");
    v
}

pub fn create_device(s: &TestServer, t: &str, org: &str, name: &str, mac: &str) -> Value {
    let (st, v) = call(
        "POST",
        &s.url("/api/v1/controller/device/"),
        Some(t),
        Some(&json!({ "name": name, "organization": org, "mac_address": mac })),
    );
    assert_eq!(st, 201, "{v}");
    v
}

#[test]
fn tokens_organizations_devices_and_tenant_walls() {
    let dir = tempfile::tempdir().unwrap();
    let (s, admin) = server(&dir.path().join("data"));

    // Credentials.
    let (st, v) = call(
        "POST",
        &s.url("/api/v1/users/token/"),
        None,
        Some(&json!({"username": "admin", "password": "wrong"})),
    );
    assert_eq!(st, 400);
    assert_eq!(
        v,
        json!({"non_field_errors": ["Unable to log in with provided credentials."]})
    );
    let (st, v) = call("GET", &s.url("/api/v1/controller/device/"), None, None);
    assert_eq!(st, 401);
    assert_eq!(v["detail"], "Authentication credentials were not provided.");
    let (st, _) = call(
        "GET",
        &s.url("/api/v1/controller/device/"),
        Some("0123456789012345678901234567890123456789"),
        None,
    );
    assert_eq!(st, 401);

    // Two organizations, a device in each.
    let a = create_org(&s, &admin, "Org A");
    let b = create_org(&s, &admin, "Org B");
    assert_eq!(a["slug"], "org-a");
    assert_eq!(a["shared_secret"].as_str().unwrap().len(), 32);
    let (a_id, b_id) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    let da = create_device(&s, &admin, a_id, "ap-a", "00:11:22:33:44:0a");
    let db = create_device(&s, &admin, b_id, "ap-b", "00:11:22:33:44:0b");
    assert_eq!(da["key"].as_str().unwrap().len(), 32);
    assert_eq!(da["organization"], a_id);
    assert_eq!(da["monitoring"]["status"], "unknown");
    let (st, v) = call(
        "POST",
        &s.url("/api/v1/controller/device/"),
        Some(&admin),
        Some(&json!({ "name": "ap-a", "organization": a_id, "mac_address": "00:11:22:33:44:99" })),
    );
    assert_eq!(st, 400);
    assert!(
        v["name"][0].as_str().unwrap().contains("already exists"),
        "{v}"
    );

    // An admin of A and a viewer of B.
    for (user, org, admin_flag) in [("alice", a_id, true), ("bob", b_id, false)] {
        let (st, v) = call(
            "POST",
            &s.url("/api/v1/users/user/"),
            Some(&admin),
            Some(&json!({
                "username": user, "password": "password-123",
                "organization_users": [{"organization": org, "is_admin": admin_flag}],
            })),
        );
        assert_eq!(st, 201, "{v}");
    }
    let (st, v) = call(
        "POST",
        &s.url("/api/v1/users/user/"),
        Some(&admin),
        Some(&json!({
            "username": "carol", "password": "password-123",
            "organization_users": [{"organization": "5d2b7c1e-8f43-4a7e-9c61-2f0e9b1a7d33"}],
        })),
    );
    assert_eq!(st, 400, "{v}");
    let (st, _) = call(
        "POST",
        &s.url("/api/v1/users/token/"),
        None,
        Some(&json!({"username": "carol", "password": "password-123"})),
    );
    assert_eq!(st, 400, "a refused user is not half-created");
    let alice = token(&s, "alice", "password-123");
    let bob = token(&s, "bob", "password-123");
    let (st, _) = call(
        "POST",
        &s.url("/api/v1/users/user/"),
        Some(&alice),
        Some(&json!({"username": "eve", "password": "password-123"})),
    );
    assert_eq!(st, 403);

    // Lists show only one's own organization.
    let (st, v) = call(
        "GET",
        &s.url("/api/v1/controller/device/"),
        Some(&alice),
        None,
    );
    assert_eq!(st, 200);
    assert_eq!(v["count"], 1);
    assert_eq!(v["results"][0]["name"], "ap-a");
    let (_, v) = call(
        "GET",
        &s.url("/api/v1/users/organization/"),
        Some(&bob),
        None,
    );
    assert_eq!(v["count"], 1);
    assert_eq!(v["results"][0]["name"], "Org B");
    let (_, v) = call(
        "GET",
        &s.url("/api/v1/controller/device/"),
        Some(&admin),
        None,
    );
    assert_eq!(v["count"], 2);

    // Another organization's objects do not exist for you, whatever the method.
    let db_url = s.url(&format!(
        "/api/v1/controller/device/{}/",
        db["id"].as_str().unwrap()
    ));
    for m in ["GET", "PATCH", "PUT", "DELETE"] {
        let (st, v) = call(m, &db_url, Some(&alice), Some(&json!({"notes": "x"})));
        assert_eq!(st, 404, "{m}: {v}");
    }
    let (st, _) = call(
        "GET",
        &s.url(&format!("/api/v1/users/organization/{b_id}/")),
        Some(&alice),
        None,
    );
    assert_eq!(st, 404);
    // Nor can one create into it.
    let (st, v) = call(
        "POST",
        &s.url("/api/v1/controller/device/"),
        Some(&alice),
        Some(
            &json!({ "name": "sneaky", "organization": b_id, "mac_address": "00:11:22:33:44:55" }),
        ),
    );
    assert_eq!(st, 400, "{v}");
    assert!(
        v["organization"][0]
            .as_str()
            .unwrap()
            .contains("does not exist")
    );

    // A viewer reads but does not change, and does not see the secrets (a device key lets one
    // post as the device; the shared secret registers new devices).
    let (st, v) = call("GET", &db_url, Some(&bob), None);
    assert_eq!(st, 200);
    assert_eq!(v["key"], Value::Null);
    let (_, v) = call(
        "GET",
        &s.url(&format!("/api/v1/users/organization/{b_id}/")),
        Some(&bob),
        None,
    );
    assert_eq!(v["shared_secret"], Value::Null);
    let (_, v) = call(
        "GET",
        &s.url("/api/v1/monitoring/device/"),
        Some(&bob),
        None,
    );
    assert_eq!(v["results"][0]["key"], Value::Null);
    let (_, v) = call("GET", &db_url, Some(&admin), None);
    assert_eq!(v["key"], db["key"]);
    let (st, v) = call("PATCH", &db_url, Some(&bob), Some(&json!({"notes": "x"})));
    assert_eq!(st, 403, "{v}");

    // An org admin changes and deletes their own devices; the dashed and plain ids both work.
    let da_id = da["id"].as_str().unwrap();
    let plain = da_id.replace('-', "");
    let (st, v) = call(
        "PATCH",
        &s.url(&format!("/api/v1/controller/device/{plain}/")),
        Some(&alice),
        Some(&json!({"management_ip": "127.1.2.3", "notes": "lobby"})),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["management_ip"], "127.1.2.3");
    assert_eq!(v["notes"], "lobby");
    assert_eq!(v["key"], da["key"]);
    let (st, v) = call(
        "PATCH",
        &s.url(&format!("/api/v1/controller/device/{da_id}/")),
        Some(&alice),
        Some(&json!({"management_ip": "not an ip"})),
    );
    assert_eq!(st, 400, "{v}");
    let (st, _) = call(
        "DELETE",
        &s.url(&format!("/api/v1/controller/device/{da_id}/")),
        Some(&alice),
        None,
    );
    assert_eq!(st, 204);
    let (st, _) = call(
        "GET",
        &s.url(&format!("/api/v1/controller/device/{da_id}/")),
        Some(&admin),
        None,
    );
    assert_eq!(st, 404);
    let (st, _) = call(
        "GET",
        &s.url("/api/v1/controller/device/not-a-uuid/"),
        Some(&admin),
        None,
    );
    assert_eq!(st, 404);
}

#[test]
fn device_lists_paginate_like_openwisp() {
    let dir = tempfile::tempdir().unwrap();
    let (s, admin) = server(&dir.path().join("data"));
    let org = create_org(&s, &admin, "Paged");
    let org_id = org["id"].as_str().unwrap();
    for i in 0..23 {
        create_device(
            &s,
            &admin,
            org_id,
            &format!("dev-{i:02}"),
            &format!("00:00:00:00:00:{i:02x}"),
        );
    }
    let (st, v) = call(
        "GET",
        &s.url("/api/v1/controller/device/"),
        Some(&admin),
        None,
    );
    assert_eq!(st, 200);
    assert_eq!(v["count"], 23);
    assert_eq!(v["results"].as_array().unwrap().len(), 10);
    assert_eq!(v["previous"], Value::Null);
    let next = v["next"].as_str().unwrap().to_owned();
    assert!(
        next.ends_with("/api/v1/controller/device/?page=2"),
        "{next}"
    );
    let (_, v) = call("GET", &next, Some(&admin), None);
    assert_eq!(v["results"][0]["name"], "dev-10");
    let (_, v) = call(
        "GET",
        &s.url("/api/v1/controller/device/?page=3&page_size=10"),
        Some(&admin),
        None,
    );
    assert_eq!(v["results"].as_array().unwrap().len(), 3);
    assert_eq!(v["next"], Value::Null);
    let (st, _) = call(
        "GET",
        &s.url("/api/v1/controller/device/?page=4"),
        Some(&admin),
        None,
    );
    assert_eq!(st, 404);
    let (_, v) = call(
        "GET",
        &s.url("/api/v1/controller/device/?page_size=100"),
        Some(&admin),
        None,
    );
    assert_eq!(v["results"].as_array().unwrap().len(), 23);
}

#[test]
fn users_are_listed_changed_and_deleted_by_the_right_people() {
    let dir = tempfile::tempdir().unwrap();
    let (s, admin) = server(&dir.path().join("data"));
    let a = create_org(&s, &admin, "Alpha")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let b = create_org(&s, &admin, "Beta")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (user, org, is_admin) in [("amy", &a, true), ("art", &a, false), ("ben", &b, false)] {
        let (st, v) = call(
            "POST",
            &s.url("/api/v1/users/user/"),
            Some(&admin),
            Some(&json!({"username": user, "password": "password-123",
                         "organization_users": [{"organization": org, "is_admin": is_admin}]})),
        );
        assert_eq!(st, 201, "{v}");
        assert_eq!(v["organization_users"][0]["is_admin"], is_admin);
    }
    let names = |token: &str| -> Vec<String> {
        let (_, v) = call("GET", &s.url("/api/v1/users/user/"), Some(token), None);
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&admin), ["admin", "amy", "art", "ben"]);
    let amy = token(&s, "amy", "password-123");
    let ben = token(&s, "ben", "password-123");
    assert_eq!(names(&amy), ["amy", "art"]);
    assert_eq!(names(&ben), ["ben"]);
    assert_eq!(
        call("GET", &s.url("/api/v1/users/user/ben/"), Some(&amy), None).0,
        404
    );
    // Own password: yes; someone else's flags: no.
    let (st, _) = call(
        "PATCH",
        &s.url("/api/v1/users/user/ben/"),
        Some(&ben),
        Some(&json!({"password": "new-password-9"})),
    );
    assert_eq!(st, 200);
    token(&s, "ben", "new-password-9");
    assert_eq!(
        call(
            "PATCH",
            &s.url("/api/v1/users/user/art/"),
            Some(&amy),
            Some(&json!({"is_active": false}))
        )
        .0,
        403
    );
    assert_eq!(
        call(
            "PATCH",
            &s.url("/api/v1/users/user/ben/"),
            Some(&ben),
            Some(&json!({"is_superuser": true}))
        )
        .0,
        403
    );
    // Deactivating a user revokes their tokens; deleting removes them.
    assert_eq!(
        call(
            "PATCH",
            &s.url("/api/v1/users/user/ben/"),
            Some(&admin),
            Some(&json!({"is_active": false}))
        )
        .0,
        200
    );
    assert_eq!(
        call("GET", &s.url("/api/v1/users/user/"), Some(&ben), None).0,
        401
    );
    assert_eq!(
        call(
            "DELETE",
            &s.url("/api/v1/users/user/admin/"),
            Some(&admin),
            None
        )
        .0,
        403
    );
    assert_eq!(
        call(
            "DELETE",
            &s.url("/api/v1/users/user/art/"),
            Some(&admin),
            None
        )
        .0,
        204
    );
    assert_eq!(names(&admin), ["admin", "amy", "ben"]);
}

#[test]
fn new_devices_get_their_checks_and_admins_edit_them() {
    let dir = tempfile::tempdir().unwrap();
    let (s, admin) = server(&dir.path().join("data"));
    let org = create_org(&s, &admin, "Checked")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let d = create_device(&s, &admin, &org, "pinged", "00:00:00:00:0a:01");
    let url = s.url(&format!(
        "/api/v1/monitoring/device/{}/check/",
        d["id"].as_str().unwrap()
    ));
    let (st, v) = call("GET", &url, Some(&admin), None);
    assert_eq!(st, 200);
    let types: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["check_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "openwisp_monitoring.check.classes.ConfigApplied",
            "openwisp_monitoring.check.classes.DataCollected",
            "openwisp_monitoring.check.classes.Ping",
        ]
    );
    let ping = v
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Ping")
        .unwrap()
        .clone();
    let ping_url = format!("{url}{}/", ping["id"].as_str().unwrap());
    let (st, v) = call(
        "PATCH",
        &ping_url,
        Some(&admin),
        Some(&json!({"params": {"count": 10}})),
    );
    assert_eq!((st, v["params"].clone()), (200, json!({"count": 10})));
    let (st, v) = call(
        "PATCH",
        &ping_url,
        Some(&admin),
        Some(&json!({"params": {"count": 100}})),
    );
    assert_eq!(st, 400);
    assert_eq!(
        v["params"][0],
        "Invalid param in \"count\": 100 is greater than the maximum of 20"
    );
    let (st, v) = call(
        "POST",
        &url,
        Some(&admin),
        Some(&json!({"check_type": "WifiClients"})),
    );
    assert_eq!((st, v["name"].clone()), (201, json!("WiFi Clients")));
    let (st, _) = call(
        "POST",
        &url,
        Some(&admin),
        Some(&json!({"check_type": "Ping"})),
    );
    assert_eq!(st, 400, "one check name per device");
    assert_eq!(call("DELETE", &ping_url, Some(&admin), None).0, 204);
    assert_eq!(call("GET", &ping_url, Some(&admin), None).0, 404);
}

#[test]
fn organization_administrators_manage_their_members() {
    let dir = tempfile::tempdir().unwrap();
    let (s, admin) = server(&dir.path().join("data"));
    let (org, other) = tenants(&s, &admin);
    let alice = token(&s, "alice", "password-123");
    let victor = token(&s, "victor", "password-123");
    let users = s.url("/api/v1/users/user/");
    let carol = |orgs: Value| json!({"username": "carol", "password": "password-456", "organization_users": orgs});
    // Not in an organization alice does not administer, not a superuser, not by a viewer.
    for (t, body) in [
        (
            &alice,
            carol(json!([{"organization": other, "is_admin": false}])),
        ),
        (&alice, carol(json!([]))),
        (
            &victor,
            carol(json!([{"organization": org, "is_admin": false}])),
        ),
    ] {
        let (st, v) = call("POST", &users, Some(t), Some(&body));
        assert_eq!(st, 403, "{v}");
    }
    let mut su = carol(json!([{"organization": org}]));
    su["is_superuser"] = json!(true);
    assert_eq!(call("POST", &users, Some(&alice), Some(&su)).0, 403);
    let (st, v) = call(
        "POST",
        &users,
        Some(&alice),
        Some(&carol(json!([{"organization": org, "is_admin": false}]))),
    );
    assert_eq!(st, 201, "{v}");
    let carol_url = s.url("/api/v1/users/user/carol/");
    // Promoted within isp; other organizations are out of alice's reach.
    let (st, v) = call(
        "PATCH",
        &carol_url,
        Some(&alice),
        Some(&json!({"organization_users": [{"organization": org, "is_admin": true}]})),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        v["organization_users"],
        json!([{"organization": org, "is_admin": true}])
    );
    let (st, _) = call(
        "PATCH",
        &carol_url,
        Some(&alice),
        Some(&json!({"organization_users": [{"organization": other}]})),
    );
    assert_eq!(st, 403);
    // Only superusers deactivate.
    assert_eq!(
        call(
            "PATCH",
            &carol_url,
            Some(&alice),
            Some(&json!({"is_active": false}))
        )
        .0,
        403
    );
    // bob (other's admin) does not see carol; the superuser adds her to other as well.
    assert_eq!(
        call(
            "GET",
            &carol_url,
            Some(&token(&s, "bob", "password-123")),
            None
        )
        .0,
        404
    );
    let (st, v) = call(
        "PATCH",
        &carol_url,
        Some(&admin),
        Some(&json!({"organization_users": [
        {"organization": org, "is_admin": true}, {"organization": other, "is_admin": false}]})),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["organization_users"].as_array().unwrap().len(), 2);
    // alice takes carol out of isp: her membership in other stays.
    let (st, v) = call(
        "PATCH",
        &carol_url,
        Some(&alice),
        Some(&json!({"organization_users": []})),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["organization_users"], json!([]));
    let (_, v) = call("GET", &carol_url, Some(&admin), None);
    assert_eq!(
        v["organization_users"],
        json!([{"organization": other, "is_admin": false}])
    );
    // carol logs in as other's viewer.
    let c = token(&s, "carol", "password-456");
    let (_, orgs) = call("GET", &s.url("/api/v1/users/organization/"), Some(&c), None);
    assert_eq!(orgs["count"], 1);
}

/// Password guessing is throttled per address across every interface that checks a password:
/// ten failures through the token endpoint and the InfluxDB API together, and the next try
/// anywhere (the UI's login included) is a 429 with `Retry-After`, the right password too.
#[test]
fn password_guessing_is_throttled_across_interfaces() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::spawn(
        dir.path(),
        &[],
        &[
            ("WISPMON_ADMIN_PASSWORD", ADMIN_PASSWORD),
            ("WISPMON_INFLUX__AUTH_ENABLED", "true"),
        ],
    );
    let token_with = |password: &str| {
        call(
            "POST",
            &s.url("/api/v1/users/token/"),
            None,
            Some(&json!({"username": "admin", "password": password})),
        )
    };
    // A success clears earlier failures.
    assert_eq!(token_with("wrong").0, 400);
    assert_eq!(token_with(ADMIN_PASSWORD).0, 200);
    for _ in 0..5 {
        assert_eq!(token_with("wrong").0, 400);
    }
    for _ in 0..5 {
        let (st, _) = crate::util::get(&s.url("/query?q=SHOW%20DATABASES&u=admin&p=wrong"));
        assert_eq!(st, 401);
    }
    let (st, v) = token_with(ADMIN_PASSWORD);
    assert_eq!(st, 429, "{v}");
    let r = ureq::get(&s.url("/query?q=SHOW%20DATABASES&u=admin&p=admin-password-1")).call();
    let Err(ureq::Error::Status(429, r)) = r else {
        panic!("the InfluxDB API is throttled too: {r:?}");
    };
    let wait: u64 = r.header("Retry-After").unwrap().parse().unwrap();
    assert!((1..=900).contains(&wait), "{wait}");
    let r = ureq::post(&s.url("/api/v1/ui/session/"))
        .set("Content-Type", "application/json")
        .send_string(&json!({"username": "admin", "password": ADMIN_PASSWORD}).to_string());
    assert!(
        matches!(r, Err(ureq::Error::Status(429, _))),
        "the UI login is throttled too"
    );
}
