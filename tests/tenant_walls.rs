//! The walls between organizations, route by route: an organization's administrator (and its
//! viewer) asking for another organization's objects by id gets a 404 whatever the method, the
//! object is unchanged afterwards, every list holds one's own organization's objects alone,
//! and a device's key opens nothing but that device.
//!
//! Two organizations (`isp` = A, `other` = B), each with a placed device (management IP on
//! loopback) that has posted samples (metrics, charts, alert settings, WiFi sessions, a disk
//! notification), its automatic checks, an indoor location with coordinates and a floor plan
//! with an image, and a maintenance window; B's device also has a parent device.

use serde_json::{Value, json};

use crate::device_metrics::{enc, metrics_path, post};
use crate::operator_api::{call, server, tenants, token};
use crate::util::TestServer;

/// One organization's objects, as ids (dashed UUIDs) and names.
struct Tenant {
    org: String,
    device: String,
    key: String,
    device_name: &'static str,
    mac: &'static str,
    location: String,
    location_name: &'static str,
    floorplan: String,
    image: &'static [u8],
    checks: Vec<String>,
    /// The "CPU usage" metric (it has alert settings).
    cpu_metric: String,
    metrics: Vec<String>,
    sessions: Vec<String>,
    ssid: &'static str,
    clients: &'static [&'static str],
    notification: String,
    window: String,
}

struct World {
    s: TestServer,
    admin: String,
    alice: String,
    victor: String,
    bob: String,
    a: Tenant,
    b: Tenant,
    /// B's second device, the parent of B's access point (never placed, never posting).
    b_core: String,
    _dir: tempfile::TempDir,
}

/// A monitoring sample: CPU, memory, a disk `disk_percent` full, wired traffic and one access
/// point with `clients`. No addresses: nothing in it points anywhere but at the test.
fn sample(ssid: &str, clients: &[&str], disk_percent: u64) -> Vec<u8> {
    let clients: Vec<Value> = clients
        .iter()
        .map(|mac| {
            json!({"mac": mac, "auth": true, "authorized": true, "ht": true, "vht": false,
                   "wmm": true, "mfp": false})
        })
        .collect();
    json!({
        "type": "DeviceMonitoring",
        "general": {"uptime": 5000},
        "resources": {
            "load": [0.5, 0.1, 0.1], "cpus": 2,
            "memory": {"total": 1000, "free": 500, "buffered": 0, "shared": 0},
            "disk": [{"filesystem": "/dev/root", "mount_point": "/", "size_bytes": 100,
                      "used_bytes": disk_percent, "available_bytes": 100 - disk_percent,
                      "used_percent": disk_percent}],
        },
        "interfaces": [
            {"name": "eth0", "statistics": {"rx_bytes": 1000, "tx_bytes": 500}},
            {"name": "wlan0", "type": "wireless",
             "wireless": {"ssid": ssid, "mode": "access_point", "channel": 1, "country": "IT",
                          "frequency": 2412, "noise": -90, "tx_power": 20, "clients": clients}},
        ],
    })
    .to_string()
    .into_bytes()
}

fn id_of(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_owned()
}

/// `GET path` with `t`, asserting a 200.
fn get_ok(s: &TestServer, path: &str, t: &str) -> Value {
    let (st, v) = call("GET", &s.url(path), Some(t), None);
    assert_eq!(st, 200, "GET {path}: {v}");
    v
}

/// `method path` with `t` and a JSON body, asserting `want`.
fn send(s: &TestServer, method: &str, path: &str, t: &str, body: &Value, want: u16) -> Value {
    let (st, v) = call(method, &s.url(path), Some(t), Some(body));
    assert_eq!(st, want, "{method} {path}: {v}");
    v
}

/// The raw answer to `method url` with a bearer token and an optional PNG body.
fn raw(method: &str, url: &str, t: &str, png: Option<&[u8]>) -> (u16, Vec<u8>) {
    let req = ureq::request(method, url).set("Authorization", &format!("Bearer {t}"));
    let resp = match png {
        Some(b) => req.set("Content-Type", "image/png").send_bytes(b),
        None => req.call(),
    };
    let resp = match resp {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = resp.status();
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut resp.into_reader(), &mut body).unwrap();
    (status, body)
}

/// An agent's form POST (config agent routes).
fn form(url: &str, body: &str) -> u16 {
    let r = ureq::post(url)
        .set("Content-Type", "application/x-www-form-urlencoded")
        .send_string(body);
    match r {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r.status(),
        Err(e) => panic!("POST {url}: {e}"),
    }
}

/// Builds one organization's objects (as the superuser, except the window, made by `manager`).
/// What distinguishes one tenant's objects from the other's.
struct Names {
    device: &'static str,
    mac: &'static str,
    location: &'static str,
    /// The location's longitude (both are near Rome, about 50 m apart).
    lng: f64,
    image: &'static [u8],
    ssid: &'static str,
    clients: &'static [&'static str],
}

fn tenant(s: &TestServer, admin: &str, manager: &str, org: &str, n: Names) -> Tenant {
    let Names {
        device: device_name,
        mac,
        location: location_name,
        lng,
        image,
        ssid,
        clients,
    } = n;
    let d = send(
        s,
        "POST",
        "/api/v1/controller/device/",
        admin,
        &json!({"organization": org, "name": device_name, "mac_address": mac,
                "management_ip": "127.0.0.1"}),
        201,
    );
    let (device, key) = (id_of(&d), d["key"].as_str().unwrap().to_owned());
    let loc = send(
        s,
        "POST",
        "/api/v1/geo/location/",
        admin,
        &json!({"organization": org, "name": location_name, "type": "indoor",
                "geometry": {"type": "Point", "coordinates": [lng, 41.9028]}}),
        201,
    );
    let location = id_of(&loc);
    let fp = send(
        s,
        "POST",
        "/api/v1/geo/floorplan/",
        admin,
        &json!({"location": location, "floor": 1}),
        201,
    );
    let floorplan = id_of(&fp);
    let (st, _) = raw(
        "PUT",
        &s.url(&format!("/api/v1/geo/floorplan/{floorplan}/image/")),
        admin,
        Some(image),
    );
    assert_eq!(st, 200);
    send(
        s,
        "PUT",
        &format!("/api/v1/controller/device/{device}/location/"),
        admin,
        &json!({"location": location, "floorplan": floorplan, "indoor": "10,20"}),
        200,
    );
    // A healthy sample, then a full disk: a notification for the organization's admin.
    for percent in [10, 95] {
        let (st, text) = post(
            s,
            &metrics_path(&device),
            &[("key", &key)],
            &sample(ssid, clients, percent),
        );
        assert_eq!(st, 200, "{text}");
    }
    let ids = |v: &Value| -> Vec<String> { v.as_array().unwrap().iter().map(id_of).collect() };
    let checks = ids(&get_ok(
        s,
        &format!("/api/v1/monitoring/device/{device}/check/"),
        admin,
    ));
    assert!(!checks.is_empty(), "automatic checks");
    let metric_list = get_ok(
        s,
        &format!("/api/v1/monitoring/device/{device}/metric/"),
        admin,
    );
    let cpu = metric_list
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "CPU usage")
        .unwrap_or_else(|| panic!("no CPU usage metric in {metric_list}"));
    assert!(cpu["alert_settings"].is_object(), "{cpu}");
    let sessions = get_ok(
        s,
        &format!("/api/v1/monitoring/wifi-session/?device={device}"),
        admin,
    );
    assert_eq!(sessions["count"], clients.len(), "{sessions}");
    let notes = get_ok(s, "/api/v1/notifications/notification/", manager);
    let notification = notes["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["target_object_id"] == device.as_str() && n["type"] == "disk_problem")
        .map(id_of)
        .unwrap_or_else(|| panic!("no disk notification: {notes}"));
    let window = id_of(&send(
        s,
        "POST",
        "/api/v1/monitoring/maintenance-window/",
        manager,
        &json!({"organization": org, "scope": "organization", "reason": "future works",
                "start": "2099-01-01T00:00:00Z", "end": "2099-01-02T00:00:00Z"}),
        201,
    ));
    Tenant {
        org: org.to_owned(),
        device,
        key,
        device_name,
        mac,
        location,
        location_name,
        floorplan,
        image,
        checks,
        cpu_metric: id_of(cpu),
        metrics: ids(&metric_list),
        sessions: ids(&sessions["results"]),
        ssid,
        clients,
        notification,
        window,
    }
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let (s, admin) = server(&dir.path().join("data"));
    let (isp, other) = tenants(&s, &admin);
    let (alice, victor, bob) = (
        token(&s, "alice", "password-123"),
        token(&s, "victor", "password-123"),
        token(&s, "bob", "password-123"),
    );
    let a = tenant(
        &s,
        &admin,
        &alice,
        &isp,
        Names {
            device: "isp-ap",
            mac: "00:11:22:33:aa:01",
            location: "isp-hq",
            lng: 12.4964,
            image: b"\x89PNG\r\n\x1a\n-floor-of-isp-",
            ssid: "Isp-WiFi",
            clients: &["aa:aa:00:00:00:01"],
        },
    );
    let b = tenant(
        &s,
        &admin,
        &bob,
        &other,
        Names {
            device: "other-ap",
            mac: "00:11:22:33:bb:01",
            location: "other-hq",
            lng: 12.4970,
            image: b"\x89PNG\r\n\x1a\n-floor-of-other-",
            ssid: "Other-WiFi",
            clients: &["bb:bb:00:00:00:01", "bb:bb:00:00:00:02"],
        },
    );
    let core = send(
        &s,
        "POST",
        "/api/v1/controller/device/",
        &admin,
        &json!({"organization": other, "name": "other-core", "mac_address": "00:11:22:33:bb:02"}),
        201,
    );
    let b_core = id_of(&core);
    send(
        &s,
        "PUT",
        &format!("/api/v1/monitoring/device/{}/parent/", b.device),
        &admin,
        &json!({"parent": b_core}),
        200,
    );
    World {
        s,
        admin,
        alice,
        victor,
        bob,
        a,
        b,
        b_core,
        _dir: dir,
    }
}

/// Strings of `t` that must appear in no answer given to another organization: ids (dashed and
/// plain), names, MAC addresses, the key, the SSID.
fn needles(t: &Tenant, extra: &[&str]) -> Vec<String> {
    let mut ids = vec![
        &t.org,
        &t.device,
        &t.location,
        &t.floorplan,
        &t.cpu_metric,
        &t.notification,
        &t.window,
    ];
    ids.extend(&t.checks);
    ids.extend(&t.metrics);
    ids.extend(&t.sessions);
    let mut out: Vec<String> = ids
        .iter()
        .flat_map(|i| [(*i).clone(), i.replace('-', "")])
        .collect();
    out.extend(
        [
            t.device_name,
            t.mac,
            t.location_name,
            t.ssid,
            t.key.as_str(),
        ]
        .iter()
        .chain(t.clients)
        .chain(extra)
        .map(|s| (*s).to_owned()),
    );
    out
}

fn assert_no_leak(what: &str, text: &str, leaks: &[String]) {
    for n in leaks {
        assert!(!text.contains(n.as_str()), "{what} leaks {n:?}: {text}");
    }
}

/// Requests against another organization's objects, each expected to be refused with a given
/// status (a 404 with DRF's body), none revealing any of `leaks` the request did not name
/// itself (a 400 repeats the id it refuses). Every mismatch is collected, so one run lists
/// all of them.
struct Probe<'a> {
    s: &'a TestServer,
    leaks: Vec<String>,
    tried: Vec<String>,
    wrong: Vec<String>,
}

impl<'a> Probe<'a> {
    fn new(s: &'a TestServer, leaks: Vec<String>) -> Self {
        Probe {
            s,
            leaks,
            tried: Vec::new(),
            wrong: Vec::new(),
        }
    }

    fn expect(
        &mut self,
        (who, t): (&str, &str),
        method: &str,
        path: &str,
        body: Option<&Value>,
        want: u16,
    ) {
        let (st, v) = call(method, &self.s.url(path), Some(t), body);
        let sent = format!("{path} {}", body.unwrap_or(&Value::Null));
        self.judge(
            format!("{who} {method} {path} -> {st}"),
            &sent,
            want,
            st,
            &v.to_string(),
            want == 404 && v != json!({"detail": "Not found."}),
        );
    }

    /// The floor-plan image, GET or PUT (raw bytes, not JSON).
    fn image(&mut self, (who, t): (&str, &str), method: &str, path: &str, want: u16) {
        let png: &[u8] = b"\x89PNG\r\n\x1a\n-someone-elses-plan-";
        let (st, body) = raw(
            method,
            &self.s.url(path),
            t,
            (method == "PUT").then_some(png),
        );
        let text = String::from_utf8_lossy(&body).into_owned();
        let bad_body = want == 404 && text != r#"{"detail":"Not found."}"#;
        self.judge(
            format!("{who} {method} {path} -> {st}"),
            path,
            want,
            st,
            &text,
            bad_body,
        );
    }

    /// Records `line` as wrong unless `got` is `want` (with DRF's body for a 404) and `text`
    /// names nothing of the other organization that the request (`sent`) did not name itself.
    fn judge(&mut self, line: String, sent: &str, want: u16, got: u16, text: &str, bad_body: bool) {
        if got != want || bad_body {
            self.wrong.push(format!("{line} (wanted {want}): {text}"));
        }
        for n in &self.leaks {
            if text.contains(n.as_str()) && !sent.contains(n.as_str()) {
                self.wrong.push(format!("{line} leaks {n:?}: {text}"));
            }
        }
        self.tried.push(line);
    }

    fn finish(self) {
        assert!(
            self.wrong.is_empty(),
            "{} of {} requests answered wrongly:\n{}\n\nall requests:\n{}",
            self.wrong.len(),
            self.tried.len(),
            self.wrong.join("\n"),
            self.tried.join("\n")
        );
    }
}

/// Everything of B that a request of A could change, read back by B's admin (and the
/// superuser for B's user): equal before and after means nothing was done.
fn b_state(w: &World) -> Value {
    let (s, b, bob) = (&w.s, &w.b, w.bob.as_str());
    let device = |id: &str| -> Value {
        let d = get_ok(s, &format!("/api/v1/controller/device/{id}/"), bob);
        let keep = [
            "id",
            "name",
            "organization",
            "group",
            "mac_address",
            "key",
            "management_ip",
            "model",
            "os",
            "system",
            "notes",
            "is_deactivated",
        ];
        Value::Object(
            keep.iter()
                .map(|k| ((*k).to_owned(), d[*k].clone()))
                .collect(),
        )
    };
    let (st, image) = raw(
        "GET",
        &s.url(&format!("/api/v1/geo/floorplan/{}/image/", b.floorplan)),
        bob,
        None,
    );
    assert_eq!(st, 200);
    assert_eq!(image, b.image);
    let dev = &b.device;
    let q = format!("SELECT count(cpu_usage) FROM cpu WHERE object_id = '{dev}'");
    let (st, points) = crate::util::get(&format!("{}?db=openwisp2&q={}", s.url("/query"), enc(&q)));
    assert_eq!(st, 200, "{points}");
    json!({
        "device": device(dev),
        "core": device(&w.b_core),
        "organization": get_ok(s, &format!("/api/v1/users/organization/{}/", b.org), bob),
        "location": get_ok(s, &format!("/api/v1/geo/location/{}/", b.location), bob),
        "floorplan": get_ok(s, &format!("/api/v1/geo/floorplan/{}/", b.floorplan), bob),
        "place": get_ok(s, &format!("/api/v1/controller/device/{dev}/location/"), bob),
        "parent": get_ok(s, &format!("/api/v1/monitoring/device/{dev}/parent/"), bob),
        "checks": get_ok(s, &format!("/api/v1/monitoring/device/{dev}/check/"), bob),
        "alert_settings": get_ok(
            s,
            &format!("/api/v1/monitoring/device/{dev}/metric/{}/alert-settings/", b.cpu_metric),
            bob,
        ),
        "sessions": get_ok(s, &format!("/api/v1/monitoring/wifi-session/?device={dev}"), bob)["count"],
        "notification": get_ok(
            s,
            &format!("/api/v1/notifications/notification/{}/", b.notification),
            bob,
        ),
        "window": get_ok(s, &format!("/api/v1/monitoring/maintenance-window/{}/", b.window), bob),
        "user": get_ok(s, "/api/v1/users/user/bob/", &w.admin),
        "points": points,
    })
}

/// B's device and everything hanging from it (charts, metrics, alert settings, checks, ping
/// latency, health, parent, place, WiFi sessions) by id: 404 for A's admin and viewer, for
/// every method; ids of B's objects under A's device are not found either.
#[test]
fn another_organizations_device_and_its_monitoring_are_not_found() {
    let w = world();
    let (a, b) = (&w.a, &w.b);
    let before = b_state(&w);
    let mut p = Probe::new(&w.s, needles(b, &["other-core"]));
    let dev = b.device.as_str();
    let m = &b.cpu_metric;
    let mut reads: Vec<String> = vec![
        format!("/api/v1/controller/device/{dev}/"),
        format!("/api/v1/monitoring/device/{dev}/?time=1d"),
        format!("/api/v1/monitoring/device/{dev}/?time=1d&status=true"),
        format!("/api/v1/monitoring/device/{dev}/?time=1d&csv=1"),
        format!("/api/v1/monitoring/device/{dev}/metric/"),
        format!("/api/v1/monitoring/device/{dev}/metric/{m}/alert-settings/"),
        format!("/api/v1/monitoring/device/{dev}/check/"),
        format!("/api/v1/monitoring/device/{dev}/ping-latency/?time=1d"),
        format!("/api/v1/monitoring/device/{dev}/health/"),
        format!("/api/v1/monitoring/device/{dev}/parent/"),
        format!("/api/v1/monitoring/device/{}/parent/", w.b_core),
        format!("/api/v1/monitoring/device/{dev}/nearby-devices/"),
        format!("/api/v1/controller/device/{dev}/location/"),
    ];
    reads.extend(
        b.checks
            .iter()
            .map(|c| format!("/api/v1/monitoring/device/{dev}/check/{c}/")),
    );
    reads.extend(
        b.sessions
            .iter()
            .map(|s| format!("/api/v1/monitoring/wifi-session/{s}/")),
    );
    // B's metric and checks under A's own device.
    reads.push(format!(
        "/api/v1/monitoring/device/{}/metric/{m}/alert-settings/",
        a.device
    ));
    reads.extend(
        b.checks
            .iter()
            .map(|c| format!("/api/v1/monitoring/device/{}/check/{c}/", a.device)),
    );
    let stolen_device = json!({"name": "stolen", "organization": a.org, "mac_address": b.mac,
                               "notes": "mine now", "management_ip": null});
    let mut writes: Vec<(&str, String, Value)> = vec![
        (
            "PATCH",
            format!("/api/v1/controller/device/{dev}/"),
            json!({"notes": "mine now"}),
        ),
        (
            "PUT",
            format!("/api/v1/controller/device/{dev}/"),
            stolen_device,
        ),
        (
            "DELETE",
            format!("/api/v1/controller/device/{dev}/"),
            Value::Null,
        ),
        (
            "PATCH",
            format!("/api/v1/monitoring/device/{dev}/metric/{m}/alert-settings/"),
            json!({"is_active": false}),
        ),
        (
            "PUT",
            format!("/api/v1/monitoring/device/{dev}/metric/{m}/alert-settings/"),
            json!({"is_active": false, "custom_threshold": 1}),
        ),
        (
            "POST",
            format!("/api/v1/monitoring/device/{dev}/check/"),
            json!({"check_type": "WifiClients"}),
        ),
        (
            "PUT",
            format!("/api/v1/monitoring/device/{dev}/parent/"),
            json!({"parent": null}),
        ),
        (
            "PATCH",
            format!("/api/v1/monitoring/device/{dev}/parent/"),
            json!({"parent": null}),
        ),
        (
            "DELETE",
            format!("/api/v1/monitoring/device/{dev}/parent/"),
            Value::Null,
        ),
        (
            "PUT",
            format!("/api/v1/controller/device/{dev}/location/"),
            json!({"location": a.location}),
        ),
        (
            "PATCH",
            format!("/api/v1/controller/device/{dev}/location/"),
            json!({"indoor": "1,1"}),
        ),
        (
            "DELETE",
            format!("/api/v1/controller/device/{dev}/location/"),
            Value::Null,
        ),
    ];
    // B's metric and checks under A's own device (for A's admin: a viewer is refused any
    // change of A's device before the id is looked at).
    let mut mixed: Vec<(&str, String, Value)> = vec![(
        "PATCH",
        format!(
            "/api/v1/monitoring/device/{}/metric/{m}/alert-settings/",
            a.device
        ),
        json!({"is_active": false}),
    )];
    for c in &b.checks {
        for (owner, list) in [(dev, &mut writes), (a.device.as_str(), &mut mixed)] {
            let path = format!("/api/v1/monitoring/device/{owner}/check/{c}/");
            list.push(("PUT", path.clone(), json!({"is_active": false})));
            list.push(("PATCH", path.clone(), json!({"is_active": false})));
            list.push(("DELETE", path, Value::Null));
        }
    }
    for who in [("alice", w.alice.as_str()), ("victor", w.victor.as_str())] {
        for path in &reads {
            p.expect(who, "GET", path, None, 404);
        }
        for (method, path, body) in &writes {
            p.expect(who, method, path, (!body.is_null()).then_some(body), 404);
        }
    }
    let alice = ("alice", w.alice.as_str());
    for (method, path, body) in &mixed {
        p.expect(alice, method, path, (!body.is_null()).then_some(body), 404);
    }
    // Pointing A's own objects at B's: refused as nonexistent.
    let own_place = format!("/api/v1/controller/device/{}/location/", a.device);
    p.expect(
        alice,
        "PUT",
        &own_place,
        Some(&json!({"location": b.location})),
        400,
    );
    p.expect(
        alice,
        "PUT",
        &own_place,
        Some(&json!({"location": a.location, "floorplan": b.floorplan, "indoor": "1,1"})),
        400,
    );
    p.expect(
        alice,
        "PUT",
        &format!("/api/v1/monitoring/device/{}/parent/", a.device),
        Some(&json!({"parent": b.device})),
        400,
    );
    p.finish();
    assert_eq!(b_state(&w), before, "B's objects are unchanged");
}

/// B's places (locations, floor plans and their images, the location's devices and indoor
/// coordinates), B itself, its users, notifications and maintenance windows: not found for
/// A's admin and viewer; creating into B or pointing A's objects at B's is refused.
#[test]
fn another_organizations_places_people_and_notices_are_not_found() {
    let w = world();
    let (a, b) = (&w.a, &w.b);
    let before = b_state(&w);
    let mut p = Probe::new(&w.s, needles(b, &["other-core", "bob"]));
    let (loc, fp) = (&b.location, &b.floorplan);
    let reads = [
        format!("/api/v1/geo/location/{loc}/"),
        format!("/api/v1/monitoring/location/{loc}/device/"),
        format!("/api/v1/monitoring/location/{loc}/indoor-coordinates/"),
        format!("/api/v1/geo/floorplan/{fp}/"),
        format!("/api/v1/users/organization/{}/", b.org),
        "/api/v1/users/user/bob/".to_owned(),
        format!("/api/v1/notifications/notification/{}/", b.notification),
        format!("/api/v1/monitoring/maintenance-window/{}/", b.window),
        format!("/api/v1/monitoring/dashboard/?time=1d&location_id={loc}"),
        format!("/api/v1/monitoring/dashboard/?time=1d&floorplan_id={fp}"),
    ];
    let loc_body = json!({"name": "taken-over", "type": "outdoor", "organization": a.org});
    let window = format!("/api/v1/monitoring/maintenance-window/{}/", b.window);
    let writes: Vec<(&str, String, Value)> = vec![
        (
            "PUT",
            format!("/api/v1/geo/location/{loc}/"),
            loc_body.clone(),
        ),
        ("PATCH", format!("/api/v1/geo/location/{loc}/"), loc_body),
        (
            "DELETE",
            format!("/api/v1/geo/location/{loc}/"),
            Value::Null,
        ),
        (
            "DELETE",
            format!("/api/v1/geo/floorplan/{fp}/"),
            Value::Null,
        ),
        (
            "PUT",
            format!("/api/v1/users/organization/{}/", b.org),
            json!({"name": "taken-over"}),
        ),
        (
            "PATCH",
            format!("/api/v1/users/organization/{}/", b.org),
            json!({"is_active": false, "shared_secret": "0123456789abcdef0123456789abcdef"}),
        ),
        (
            "DELETE",
            format!("/api/v1/users/organization/{}/", b.org),
            Value::Null,
        ),
        (
            "PUT",
            "/api/v1/users/user/bob/".to_owned(),
            json!({"password": "taken-over-1"}),
        ),
        (
            "PATCH",
            "/api/v1/users/user/bob/".to_owned(),
            json!({"organization_users": [{"organization": a.org, "is_admin": false}]}),
        ),
        ("DELETE", "/api/v1/users/user/bob/".to_owned(), Value::Null),
        (
            "PATCH",
            format!("/api/v1/notifications/notification/{}/", b.notification),
            json!({}),
        ),
        (
            "DELETE",
            format!("/api/v1/notifications/notification/{}/", b.notification),
            Value::Null,
        ),
        (
            "POST",
            "/api/v1/notifications/notification/read/".to_owned(),
            json!({"ids": [b.notification]}),
        ),
        (
            "PUT",
            window.clone(),
            json!({"scope": "organization", "reason": "x",
                                       "start": "2000-01-01T00:00:00Z", "end": "2000-01-02T00:00:00Z"}),
        ),
        ("PATCH", window.clone(), json!({"reason": "cancelled"})),
        ("DELETE", window, Value::Null),
    ];
    for who in [("alice", w.alice.as_str()), ("victor", w.victor.as_str())] {
        for path in &reads {
            p.expect(who, "GET", path, None, 404);
        }
        let image = format!("/api/v1/geo/floorplan/{fp}/image/");
        p.image(who, "GET", &image, 404);
        p.image(who, "PUT", &image, 404);
        for (method, path, body) in &writes {
            p.expect(who, method, path, (!body.is_null()).then_some(body), 404);
        }
        // Documented (openapi, spec §4.6): a foreign slug is a 403 where an unknown one is a 404.
        p.expect(
            who,
            "GET",
            "/api/v1/monitoring/dashboard/?time=1d&organization_slug=other",
            None,
            403,
        );
        p.expect(
            who,
            "GET",
            "/api/v1/monitoring/dashboard/?time=1d&organization_slug=nope",
            None,
            404,
        );
    }
    // Creating into B, or pointing A's objects at B's: the same answer as a nonexistent id.
    let alice = ("alice", w.alice.as_str());
    p.expect(
        alice,
        "POST",
        "/api/v1/geo/location/",
        Some(&json!({"organization": b.org, "name": "planted"})),
        400,
    );
    p.expect(
        alice,
        "POST",
        "/api/v1/geo/floorplan/",
        Some(&json!({"location": loc, "floor": 7})),
        400,
    );
    p.expect(
        alice,
        "POST",
        "/api/v1/monitoring/maintenance-window/",
        Some(&json!({"organization": b.org, "scope": "organization",
                     "start": "2000-01-01T00:00:00Z", "end": "2000-01-02T00:00:00Z"})),
        400,
    );
    let own_window = format!("/api/v1/monitoring/maintenance-window/{}/", a.window);
    p.expect(
        alice,
        "PATCH",
        &own_window,
        Some(&json!({"scope": "device", "object_id": b.device})),
        400,
    );
    p.expect(
        alice,
        "PATCH",
        &own_window,
        Some(&json!({"scope": "location", "object_id": loc})),
        400,
    );
    p.expect(
        alice,
        "PUT",
        "/api/v1/notifications/user/preferences/",
        Some(&json!({"rules": [{"organization": b.org, "type": null, "web": false}]})),
        400,
    );
    p.finish();
    assert_eq!(b_state(&w), before, "B's objects are unchanged");
    // bob still logs in with his own password.
    token(&w.s, "bob", "password-123");
}

/// Every list answers A's objects alone, with A's counts, whatever the filter naming B; the
/// superuser's lists hold both, so the filtering is not an accident of empty data.
#[test]
fn lists_hold_ones_own_organization_alone() {
    let w = world();
    let (a, b) = (&w.a, &w.b);
    let leaks = needles(b, &["other-core"]);
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let ids = |v: &Value, field: &str| -> Vec<String> {
        sorted(v[field].as_array().unwrap().iter().map(id_of).collect())
    };
    let wifi_clients = |v: &Value| {
        v["charts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["title"] == "General WiFi Clients")
            .unwrap_or_else(|| panic!("no WiFi clients chart: {v}"))["summary"]["wifi_clients"]
            .clone()
    };
    let loc_devices = format!("/api/v1/monitoring/location/{}/device/", a.location);
    for (who, t) in [("alice", w.alice.as_str()), ("victor", w.victor.as_str())] {
        let get = |path: &str| {
            let v = get_ok(&w.s, path, t);
            assert_no_leak(&format!("{who} GET {path}"), &v.to_string(), &leaks);
            v
        };
        for (path, want) in [
            ("/api/v1/monitoring/device/", vec![a.device.clone()]),
            ("/api/v1/controller/device/", vec![a.device.clone()]),
            ("/api/v1/geo/location/", vec![a.location.clone()]),
            ("/api/v1/geo/floorplan/", vec![a.floorplan.clone()]),
            ("/api/v1/monitoring/wifi-session/", a.sessions.clone()),
            ("/api/v1/users/organization/", vec![a.org.clone()]),
            (
                "/api/v1/monitoring/maintenance-window/",
                vec![a.window.clone()],
            ),
            (loc_devices.as_str(), vec![a.device.clone()]),
        ] {
            let v = get(path);
            assert_eq!(v["count"], want.len(), "{who} GET {path}: {v}");
            assert_eq!(ids(&v, "results"), sorted(want), "{who} GET {path}");
        }
        let g = get("/api/v1/monitoring/geojson/");
        assert_eq!(
            (g["count"].clone(), ids(&g, "features")),
            (json!(1), vec![a.location.clone()]),
            "{who}: {g}"
        );
        // Filters naming B find nothing (rather than B's objects).
        for path in [
            format!("/api/v1/monitoring/device/?organization={}", b.org),
            "/api/v1/monitoring/device/?organization_slug=other".to_owned(),
            format!("/api/v1/monitoring/device/?search={}", b.device_name),
            format!("/api/v1/monitoring/device/?search={}", b.mac),
            format!("/api/v1/monitoring/wifi-session/?device={}", b.device),
            format!(
                "/api/v1/monitoring/wifi-session/?device__organization={}",
                b.org
            ),
            format!("/api/v1/monitoring/geojson/?organization={}", b.org),
            "/api/v1/monitoring/geojson/?organization_slug=other".to_owned(),
            format!("/api/v1/monitoring/device/{}/nearby-devices/", a.device),
            format!(
                "/api/v1/monitoring/device/{}/nearby-devices/?organization={}",
                a.device, b.org
            ),
        ] {
            assert_eq!(get(&path)["count"], 0, "{who} GET {path}");
        }
        // A's own device's sub-lists.
        let metrics = get(&format!("/api/v1/monitoring/device/{}/metric/", a.device));
        assert!(
            metrics
                .as_array()
                .unwrap()
                .iter()
                .any(|m| id_of(m) == a.cpu_metric)
        );
        let checks = get(&format!("/api/v1/monitoring/device/{}/check/", a.device));
        assert_eq!(
            sorted(checks.as_array().unwrap().iter().map(id_of).collect()),
            sorted(a.checks.clone())
        );
        let indoor = get(&format!(
            "/api/v1/monitoring/location/{}/indoor-coordinates/",
            a.location
        ));
        let placed: Vec<&Value> = indoor["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| &r["device_id"])
            .collect();
        assert_eq!(placed, [&json!(a.device)], "{indoor}");
        // Notifications: only A's (viewers get none: alerts go to administrators).
        let notes = get("/api/v1/notifications/notification/?page_size=100");
        let results = notes["results"].as_array().unwrap();
        assert_eq!(notes["count"], results.len());
        assert!(
            results.iter().all(|n| n["organization"] == a.org.as_str()),
            "{who}: {notes}"
        );
        assert_eq!(
            results.iter().any(|n| id_of(n) == a.notification),
            who == "alice",
            "{who}: {notes}"
        );
        let unread = get("/api/v1/notifications/notification/?unread=true&page_size=100");
        assert_eq!(
            get("/api/v1/notifications/notification/unread-count/")["count"],
            unread["count"]
        );
        // Users: an admin sees the members of her organization, a viewer himself.
        let users = get("/api/v1/users/user/");
        let names: Vec<&str> = users["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap())
            .collect();
        let want: &[&str] = if who == "alice" {
            &["alice", "victor"]
        } else {
            &["victor"]
        };
        assert_eq!(names, want, "{who}: {users}");
        // Dashboard charts without a slug: A's one WiFi client, not B's two.
        let dash = get("/api/v1/monitoring/dashboard/?time=1d");
        assert_eq!(wifi_clients(&dash), json!(a.clients.len()), "{who}: {dash}");
        assert!(dash.get("organizations").is_none(), "{who}: {dash}");
    }
    // The superuser sees both organizations (and B's admin B's alone).
    let admin = |path: &str| get_ok(&w.s, path, &w.admin);
    assert_eq!(admin("/api/v1/monitoring/device/")["count"], 3);
    assert_eq!(admin("/api/v1/geo/location/")["count"], 2);
    assert_eq!(admin("/api/v1/geo/floorplan/")["count"], 2);
    assert_eq!(admin("/api/v1/monitoring/geojson/")["count"], 2);
    assert_eq!(
        admin("/api/v1/monitoring/wifi-session/")["count"],
        a.sessions.len() + b.sessions.len()
    );
    assert_eq!(
        wifi_clients(&admin("/api/v1/monitoring/dashboard/?time=1d")),
        json!(a.clients.len() + b.clients.len())
    );
    assert_eq!(
        wifi_clients(&get_ok(
            &w.s,
            "/api/v1/monitoring/dashboard/?time=1d",
            &w.bob
        )),
        json!(b.clients.len())
    );
    let near = admin(&format!(
        "/api/v1/monitoring/device/{}/nearby-devices/",
        a.device
    ));
    assert_eq!(
        near["count"], 1,
        "the superuser sees B's device near A's: {near}"
    );
}

/// A's device key opens A's device only: on B's device the charts, the monitoring agent's
/// POST and the config agent's routes are refused (403, "wrong key", as upstream answers an
/// agent) and change nothing; B's nearby devices are not found.
#[test]
fn a_device_key_opens_its_own_device_only() {
    let w = world();
    let (a, b) = (&w.a, &w.b);
    let before = b_state(&w);
    let last_seen = |id: &str| {
        get_ok(&w.s, &format!("/api/v1/controller/device/{id}/"), &w.bob)["last_seen"].clone()
    };
    let seen = last_seen(&b.device);
    let leaks = needles(b, &["other-core"]);
    let key = &a.key;
    let dev = &b.device;
    for q in ["time=1d", "time=1d&status=true", "time=1d&csv=1"] {
        let url =
            w.s.url(&format!("/api/v1/monitoring/device/{dev}/?{q}&key={key}"));
        let (st, v) = call("GET", &url, None, None);
        assert_eq!(st, 403, "{q}: {v}");
        assert_no_leak(q, &v.to_string(), &leaks);
    }
    // The same key on its own device works (the refusal above is about B, not the key).
    let (st, _) = call(
        "GET",
        &w.s.url(&format!(
            "/api/v1/monitoring/device/{}/?time=1d&key={key}",
            a.device
        )),
        None,
        None,
    );
    assert_eq!(st, 200);
    let (st, text) = post(
        &w.s,
        &metrics_path(dev),
        &[("key", key)],
        &sample("Planted", &["cc:cc:00:00:00:01"], 99),
    );
    assert_eq!(st, 403, "{text}");
    let (st, v) = call(
        "GET",
        &w.s.url(&format!(
            "/api/v1/monitoring/device/{dev}/nearby-devices/?key={key}"
        )),
        None,
        None,
    );
    assert_eq!(st, 404, "{v}");
    assert_no_leak("nearby-devices", &v.to_string(), &leaks);
    for prefix in ["/controller/", "/controller/device/"] {
        for route in ["checksum", "download-config"] {
            let url = w.s.url(&format!(
                "{prefix}{route}/{dev}/?key={key}&management_ip=127.0.0.2"
            ));
            let (st, body) = crate::util::get(&url);
            assert_eq!(st, 403, "{url}: {body}");
            assert_no_leak(&url, &body, &leaks);
        }
        let url = w.s.url(&format!("{prefix}report-status/{dev}/"));
        assert_eq!(
            form(&url, &format!("key={key}&status=error&error_reason=x")),
            403
        );
        let url = w.s.url(&format!("{prefix}update-info/{dev}/"));
        assert_eq!(
            form(&url, &format!("key={key}&model=Planted&os=x&system=y")),
            403
        );
    }
    assert_eq!(b_state(&w), before, "B's objects are unchanged");
    assert_eq!(last_seen(&b.device), seen, "a refused key is no contact");
    let (_, sessions) = call(
        "GET",
        &w.s.url("/api/v1/monitoring/wifi-session/"),
        Some(&w.admin),
        None,
    );
    assert!(
        !sessions.to_string().contains("cc:cc:00:00:00:01"),
        "{sessions}"
    );
}

/// The nearby devices a device's key reads are its own organization's: another
/// organization's devices (name, MAC, management IP, notes, latest snapshot) stay hidden.
#[test]
fn a_device_key_sees_no_other_organizations_nearby_devices() {
    let w = world();
    let (a, b) = (&w.a, &w.b);
    let (st, v) = call(
        "GET",
        &w.s.url(&format!(
            "/api/v1/monitoring/device/{}/nearby-devices/?key={}",
            a.device, a.key
        )),
        None,
        None,
    );
    assert_eq!(st, 200, "{v}");
    assert_no_leak(
        "nearby-devices?key=",
        &v.to_string(),
        &needles(b, &["other-core"]),
    );
    assert_eq!(v["count"], 0, "A has no other placed device: {v}");
}
