//! The web UI: its page and files with their security headers, login sessions with CSRF and
//! throttling, one's token page, live updates over server-sent events, and the whole UI in a
//! real browser (tests/browser/ui.test.mjs in Debian's Chromium).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::notifications::{post_sample, sample};
use crate::operator_api::{ADMIN_PASSWORD, call, create_device, server, tenants};
use crate::util::TestServer;

/// A raw HTTP/1.1 exchange, for the headers ureq would hide (Set-Cookie) or handle itself.
fn raw(
    s: &TestServer,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Vec<(String, String)>, String) {
    let mut req = ureq::request(method, &s.url(path));
    for (k, v) in headers {
        req = req.set(k, v);
    }
    let resp = match if body.is_empty() {
        req.call()
    } else {
        req.send_string(body)
    } {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {path}: {e}"),
    };
    let status = resp.status();
    let hs = resp
        .headers_names()
        .into_iter()
        .flat_map(|n| {
            resp.all(&n)
                .into_iter()
                .map(|v| (n.clone(), v.to_owned()))
                .collect::<Vec<_>>()
        })
        .collect();
    (status, hs, resp.into_string().unwrap())
}

fn header<'a>(hs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    hs.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Logs in; returns the cookie pair (`wispmon_session=…`) and the CSRF token.
fn login(s: &TestServer, user: &str, password: &str) -> (String, String) {
    let (st, hs, body) = raw(
        s,
        "POST",
        "/api/v1/ui/session/",
        &[("Content-Type", "application/json")],
        &json!({"username": user, "password": password}).to_string(),
    );
    assert_eq!(st, 200, "{body}");
    let set = header(&hs, "set-cookie")
        .expect("a session cookie")
        .to_owned();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(flag), "{set} lacks {flag}");
    }
    assert!(
        !set.contains("Secure"),
        "plain-http appliance: no Secure flag ({set})"
    );
    let cookie = set.split(';').next().unwrap().to_owned();
    let v: Value = serde_json::from_str(&body).unwrap();
    (cookie, v["csrf_token"].as_str().unwrap().to_owned())
}

#[test]
fn the_page_and_its_files_are_embedded_with_safe_headers() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = server(dir.path());
    let (st, hs, body) = raw(&s, "GET", "/", &[], "");
    assert_eq!(st, 200);
    assert!(body.contains("/static/js/app.js"));
    assert!(
        header(&hs, "content-type")
            .unwrap()
            .starts_with("text/html")
    );
    let csp = header(&hs, "content-security-policy").unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"));
    assert_eq!(header(&hs, "x-frame-options"), Some("DENY"));
    assert_eq!(header(&hs, "x-content-type-options"), Some("nosniff"));
    let etag = header(&hs, "etag").unwrap().to_owned();
    let (st, _, _) = raw(&s, "GET", "/", &[("If-None-Match", &etag)], "");
    assert_eq!(st, 304);
    for (path, ty) in [
        ("/static/js/app.js", "text/javascript"),
        ("/static/css/app.css", "text/css"),
        ("/static/vendor/uplot.js", "text/javascript"),
        ("/static/vendor/leaflet.js", "text/javascript"),
        ("/static/vendor/countries-50m.json", "application/json"),
        ("/static/vendor/images/marker-icon.png", "image/png"),
    ] {
        let (st, hs, _) = raw(&s, "GET", path, &[], "");
        assert_eq!(st, 200, "{path}");
        assert!(
            header(&hs, "content-type").unwrap().starts_with(ty),
            "{path}"
        );
    }
    // Nothing outside the embedded tables, however the path is spelled.
    for path in [
        "/static/../Cargo.toml",
        "/static/%2e%2e/Cargo.toml",
        "/static/vendor/../../build.rs",
        "/static/vendor/%2e%2e%2fbuild.rs",
        "/static/nothing.js",
    ] {
        let (st, _, body) = raw(&s, "GET", path, &[], "");
        assert_eq!(st, 404, "{path}: {body}");
        assert!(!body.contains("[package]") && !body.contains("fn main"));
    }
    // The path-traversal attempt through a raw socket, where no client normalises the path.
    let mut c = TcpStream::connect(&s.addr).unwrap();
    write!(
        c,
        "GET /static/../../Cargo.toml HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut first = String::new();
    BufReader::new(c).read_line(&mut first).unwrap();
    assert!(first.contains(" 404 "), "{first}");
}

#[test]
fn sessions_need_csrf_for_changes_and_end_at_logout() {
    let dir = tempfile::tempdir().unwrap();
    let (s, admin) = server(dir.path());
    let (org, _) = tenants(&s, &admin);
    // Anonymous: an answer, not an error; stale cookie: 401.
    let (st, _, body) = raw(&s, "GET", "/api/v1/ui/session/", &[], "");
    assert_eq!(st, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["username"],
        Value::Null
    );
    let stale = format!("wispmon_session={}", "ab".repeat(32));
    let (st, _, _) = raw(&s, "GET", "/api/v1/ui/session/", &[("Cookie", &stale)], "");
    assert_eq!(st, 401);
    // Logging in takes JSON only (a cross-site form cannot send it).
    let (st, _, _) = raw(
        &s,
        "POST",
        "/api/v1/ui/session/",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        "username=alice&password=password-123",
    );
    assert_eq!(st, 415);

    let (cookie, csrf) = login(&s, "alice", "password-123");
    let (st, _, body) = raw(&s, "GET", "/api/v1/ui/session/", &[("Cookie", &cookie)], "");
    assert_eq!(st, 200, "{body}");
    let me: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(me["username"], "alice");
    assert_eq!(me["csrf_token"], csrf.as_str());
    assert_eq!(me["organizations"].as_array().unwrap().len(), 1);
    assert_eq!(me["organizations"][0]["role"], "admin");
    assert_eq!(me["map"]["tile_url"], "");
    // Reads with the cookie alone; the operator API sees alice's organization only.
    let (st, _, body) = raw(
        &s,
        "GET",
        "/api/v1/users/organization/",
        &[("Cookie", &cookie)],
        "",
    );
    assert_eq!(st, 200);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["count"], 1);
    // A change with the cookie but without the token (what another site could make a logged-in
    // browser send) is refused and changes nothing; with the token it goes through.
    let new_device =
        json!({"name": "csrf-probe", "organization": org, "mac_address": "02:00:00:00:01:01"})
            .to_string();
    for bad in [None, Some("wrong"), Some("")] {
        let mut hs = vec![
            ("Cookie", cookie.as_str()),
            ("Content-Type", "application/json"),
        ];
        if let Some(t) = bad {
            hs.push(("X-CSRF-Token", t));
        }
        let (st, _, body) = raw(&s, "POST", "/api/v1/controller/device/", &hs, &new_device);
        assert_eq!(st, 403, "{body}");
        assert!(body.contains("CSRF"), "{body}");
    }
    let (_, list) = call(
        "GET",
        &s.url("/api/v1/controller/device/"),
        Some(&admin),
        None,
    );
    assert_eq!(list["count"], 0, "a refused request created something");
    let (st, _, body) = raw(
        &s,
        "POST",
        "/api/v1/controller/device/",
        &[
            ("Cookie", &cookie),
            ("Content-Type", "application/json"),
            ("X-CSRF-Token", &csrf),
        ],
        &new_device,
    );
    assert_eq!(st, 201, "{body}");
    // Tokens in headers need no CSRF token (scripts are not browsers).
    create_device(&s, &admin, &org, "by-token", "02:00:00:00:01:02");

    // Logging out needs the token too, then the cookie is worthless.
    let (st, _, _) = raw(
        &s,
        "DELETE",
        "/api/v1/ui/session/",
        &[("Cookie", &cookie)],
        "",
    );
    assert_eq!(st, 403);
    let (st, hs, _) = raw(
        &s,
        "DELETE",
        "/api/v1/ui/session/",
        &[("Cookie", &cookie), ("X-CSRF-Token", &csrf)],
        "",
    );
    assert_eq!(st, 204);
    assert!(header(&hs, "set-cookie").unwrap().contains("Max-Age=0"));
    let (st, _, _) = raw(
        &s,
        "GET",
        "/api/v1/controller/device/",
        &[("Cookie", &cookie)],
        "",
    );
    assert_eq!(st, 401);
    // The session survived nothing it should not: the secret is not in the server's log.
    let secret = cookie.split_once('=').unwrap().1;
    assert!(!s.stderr().contains(secret));
}

#[test]
fn failed_logins_are_throttled_per_address() {
    let dir = tempfile::tempdir().unwrap();
    let (s, admin) = server(dir.path());
    tenants(&s, &admin);
    let attempt = |password: &str| {
        raw(
            &s,
            "POST",
            "/api/v1/ui/session/",
            &[("Content-Type", "application/json")],
            &json!({"username": "alice", "password": password}).to_string(),
        )
    };
    for _ in 0..10 {
        let (st, _, body) = attempt("guess");
        assert_eq!(st, 400, "{body}");
        assert!(body.contains("Unable to log in"));
    }
    // Even the right password waits now: guessing on cannot tell which one was right.
    let (st, hs, body) = attempt("password-123");
    assert_eq!(st, 429, "{body}");
    let wait: u64 = header(&hs, "retry-after").unwrap().parse().unwrap();
    assert!((1..=900).contains(&wait), "{wait}");
    // API tokens are unaffected (scripts keep working while someone hammers the login).
    let (st, _) = call(
        "GET",
        &s.url("/api/v1/controller/device/"),
        Some(&admin),
        None,
    );
    assert_eq!(st, 200);
}

#[test]
fn ones_tokens_are_listed_created_and_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let (s, admin) = server(dir.path());
    tenants(&s, &admin);
    let (cookie, csrf) = login(&s, "victor", "password-123");
    let with = [("Cookie", cookie.as_str()), ("X-CSRF-Token", csrf.as_str())];
    let (st, _, body) = raw(&s, "POST", "/api/v1/ui/token/", &with, "");
    assert_eq!(st, 201, "{body}");
    let key = serde_json::from_str::<Value>(&body).unwrap()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let (st, _) = call(
        "GET",
        &s.url("/api/v1/controller/device/"),
        Some(&key),
        None,
    );
    assert_eq!(st, 200);
    let (_, _, body) = raw(&s, "GET", "/api/v1/ui/token/", &with, "");
    let list: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    let id = list[0]["id"].as_str().unwrap().to_owned();
    // Another user cannot see or revoke it.
    let (bob, bob_csrf) = login(&s, "bob", "password-123");
    let (_, _, body) = raw(&s, "GET", "/api/v1/ui/token/", &[("Cookie", &bob)], "");
    assert_eq!(body.trim(), "[]");
    let (st, _, _) = raw(
        &s,
        "DELETE",
        &format!("/api/v1/ui/token/{id}/"),
        &[("Cookie", &bob), ("X-CSRF-Token", &bob_csrf)],
        "",
    );
    assert_eq!(st, 404);
    let (st, _, _) = raw(&s, "DELETE", &format!("/api/v1/ui/token/{id}/"), &with, "");
    assert_eq!(st, 204);
    let (st, _) = call(
        "GET",
        &s.url("/api/v1/controller/device/"),
        Some(&key),
        None,
    );
    assert_eq!(st, 401);
}

/// Reads server-sent events from a raw connection until all of `want` have been seen or time
/// is up.
fn read_events(stream: TcpStream, want: &[&str], limit: Duration) -> String {
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut r = BufReader::new(stream);
    let mut seen = String::new();
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline && !want.iter().all(|w| seen.contains(w)) {
        let mut line = String::new();
        match r.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) => seen.push_str(&line),
            Err(_) => continue,
        }
    }
    seen
}

fn open_events(s: &TestServer, cookie: &str) -> TcpStream {
    let mut c = TcpStream::connect(&s.addr).unwrap();
    write!(
        c,
        "GET /api/v1/ui/events/ HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .unwrap();
    c
}

#[test]
fn live_updates_reach_the_pages_of_those_concerned_only() {
    let dir = tempfile::tempdir().unwrap();
    let (s, admin) = server(dir.path());
    let (org, _) = tenants(&s, &admin);
    let dev = create_device(&s, &admin, &org, "ap-live", "02:00:00:00:02:01");
    let (id, key) = (dev["id"].as_str().unwrap(), dev["key"].as_str().unwrap());
    let (alice, _) = login(&s, "alice", "password-123");
    let (bob, _) = login(&s, "bob", "password-123");
    let alice_stream = open_events(&s, &alice);
    let bob_stream = open_events(&s, &bob);
    std::thread::sleep(Duration::from_millis(300));
    // A full disk: the device turns problem and alice (isp's admin) is notified.
    post_sample(&s, id, key, &sample(97));
    let seen = read_events(
        alice_stream,
        &["event: notification", "\"to\":\"problem\""],
        Duration::from_secs(15),
    );
    assert!(seen.starts_with("HTTP/1.1 200"), "{seen}");
    assert!(seen.contains("text/event-stream"), "{seen}");
    assert!(seen.contains("event: status"), "{seen}");
    assert!(seen.contains(&format!("\"device\":\"{id}\"")), "{seen}");
    assert!(seen.contains("\"to\":\"problem\""), "{seen}");
    assert!(seen.contains("event: notification"), "{seen}");
    // bob (another organization) hears nothing of it.
    let other = read_events(bob_stream, &["event: "], Duration::from_secs(2));
    assert!(other.starts_with("HTTP/1.1 200"), "{other}");
    assert!(!other.contains("event: "), "{other}");
    // No session, no stream.
    let (st, _, _) = raw(&s, "GET", "/api/v1/ui/events/", &[], "");
    assert_eq!(st, 401);
}

/// Where screenshots of the browser test go: under the target directory, kept after the run.
fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let target = if target.is_absolute() {
        target
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(target)
    };
    target.join("ui-screenshots")
}

#[test]
fn the_web_ui_works_in_a_real_browser() {
    let required = std::env::var("CI_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("tests/browser/ui.test.mjs");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    let ready = Path::new(&chromium).exists()
        && root
            .join("tests/browser/node_modules/playwright-core")
            .exists()
        && Command::new("node")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    if !ready {
        assert!(
            !required,
            "CI_REQUIRE_BROWSER=1 but Chromium ({chromium}), node or tests/browser/node_modules is missing"
        );
        eprintln!("skipping the browser test: install chromium and run `npm ci` in tests/browser");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::spawn(
        &dir.path().join("data"),
        &[],
        &[
            ("WISPMON_ADMIN_PASSWORD", ADMIN_PASSWORD),
            ("WISPMON_TELEMETRY__DATABASE", "wispmon"),
            ("WISPMON_TELEMETRY__INTERVAL", "1s"),
        ],
    );
    let out_dir = screenshot_dir();
    let _ = std::fs::remove_dir_all(&out_dir);
    let out = Command::new("node")
        .arg(&script)
        .arg(format!("http://{}", s.addr))
        .arg(ADMIN_PASSWORD)
        .arg(&out_dir)
        .env("CHROMIUM", &chromium)
        .output()
        .expect("running node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the browser test failed ({}):\n{stdout}\n{stderr}\nscreenshots: {}\nserver log:\n{}",
        out.status,
        out_dir.display(),
        s.stderr()
    );
    for shot in [
        "02-dashboard.png",
        "05-device-charts-7d.png",
        "07-notification-arrived.png",
        "09c-system.png",
    ] {
        let p = out_dir.join(shot);
        let len = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        assert!(
            len > 10_000,
            "{} is missing or blank ({len} bytes)",
            p.display()
        );
    }
    eprintln!("browser test screenshots: {}", out_dir.display());
}

#[test]
fn the_device_list_filters_by_statuses_search_and_problematic_metric() {
    let dir = tempfile::tempdir().unwrap();
    let (s, admin) = server(dir.path());
    let (org, other) = tenants(&s, &admin);
    let full = create_device(&s, &admin, &org, "tower-full", "02:00:00:00:03:01");
    let fine = create_device(&s, &admin, &org, "tower-fine", "02:00:00:00:03:02");
    create_device(&s, &admin, &other, "elsewhere-full", "02:00:00:00:03:03");
    post_sample(
        &s,
        full["id"].as_str().unwrap(),
        full["key"].as_str().unwrap(),
        &sample(97),
    );
    post_sample(
        &s,
        fine["id"].as_str().unwrap(),
        fine["key"].as_str().unwrap(),
        &sample(20),
    );
    let names = |query: &str, token: &str| -> Vec<String> {
        let (st, v) = call(
            "GET",
            &s.url(&format!("/api/v1/monitoring/device/?{query}")),
            Some(token),
            None,
        );
        assert_eq!(st, 200, "{query}: {v}");
        let mut n: Vec<String> = v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["name"].as_str().unwrap().to_owned())
            .collect();
        n.sort();
        n
    };
    assert_eq!(names("monitoring__status=problem", &admin), ["tower-full"]);
    assert_eq!(
        names("monitoring__status=problem,critical", &admin),
        ["tower-full"]
    );
    assert_eq!(
        names("monitoring__status=ok,problem", &admin),
        ["tower-fine", "tower-full"]
    );
    assert_eq!(names("search=TOWER", &admin), ["tower-fine", "tower-full"]);
    assert_eq!(names("search=03:03", &admin), ["elsewhere-full"]);
    assert_eq!(names("problematic_metric=disk", &admin), ["tower-full"]);
    assert_eq!(
        names("problematic_metric=Disk%20usage", &admin),
        ["tower-full"]
    );
    assert!(names("problematic_metric=cpu", &admin).is_empty());
    // A tenant's search never finds another organization's devices.
    let bob = crate::operator_api::token(&s, "bob", "password-123");
    assert!(names("search=tower", &bob).is_empty());
    assert_eq!(names("search=full", &bob), ["elsewhere-full"]);
    let (st, v) = call(
        "GET",
        &s.url("/api/v1/monitoring/device/?monitoring__status=ok,bad"),
        Some(&admin),
        None,
    );
    assert_eq!(st, 400, "{v}");
}
