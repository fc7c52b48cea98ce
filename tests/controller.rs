//! A router's configuration agent against wispmon, as openwisp-config speaks: it registers
//! with its organization's shared secret, polls the checksum, downloads the archive, reports
//! the status and its facts. Every answer carries the header the agent greps for, bodies end
//! lines with `\n` only, and the key never reaches the log.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::json;

use crate::operator_api::{ADMIN_PASSWORD, call, create_org, server, tenants, token};
use crate::util::TestServer;

struct Answer {
    status: u16,
    controller_header: bool,
    body: Vec<u8>,
}

impl Answer {
    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }
}

fn agent(method: &str, url: &str, form: Option<&str>) -> Answer {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .redirects(0)
        .build();
    let req = agent.request(method, url);
    let r = match form {
        Some(f) => req
            .set("Content-Type", "application/x-www-form-urlencoded")
            .send_string(f),
        None => req.call(),
    };
    let r = match r {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = r.status();
    let controller_header = r.header("X-Openwisp-Controller") == Some("true");
    let mut body = Vec::new();
    r.into_reader().read_to_end(&mut body).unwrap();
    Answer {
        status,
        controller_header,
        body,
    }
}

fn md5sum(data: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("archive.tar.gz");
    std::fs::write(&f, data).unwrap();
    let out = std::process::Command::new("md5sum")
        .arg(&f)
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()[..32].to_owned()
}

fn value<'a>(body: &'a str, name: &str) -> &'a str {
    body.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("no {name} in {body:?}"))
}

#[test]
fn a_router_registers_polls_downloads_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    // At the most verbose level: nothing secret may reach the log at any level.
    let s = TestServer::spawn(
        dir.path(),
        &["--log-level", "trace"],
        &[("WISPMON_ADMIN_PASSWORD", ADMIN_PASSWORD)],
    );
    let admin = token(&s, "admin", ADMIN_PASSWORD);
    let org = create_org(&s, &admin, "isp");
    let secret = org["shared_secret"].as_str().unwrap().to_owned();
    assert!(secret.len() >= 16, "a secret is generated: {org}");

    // Registration, fields in the agent's order, with an empty pair as it sometimes sends.
    let form = |secret: &str| {
        format!(
            "backend=netjsonconfig.OpenWrt&secret={secret}&name=ap-roof&hardware_id=&\
             mac_address=00%3A11%3A22%3A33%3A44%3A99&tags=roof+north&model=TP-Link+Archer+C7+v5&\
             os=OpenWrt+23.05.5+r24106-10cc5fcd00&system=Qualcomm+Atheros+QCA956X&&"
        )
    };
    let a = agent(
        "POST",
        &s.url("/controller/register/"),
        Some(&form(&secret)),
    );
    assert_eq!(a.status, 201, "{}", a.text());
    assert!(a.controller_header);
    let body = a.text();
    assert!(!body.contains('\r'));
    assert_eq!(value(&body, "registration-result"), "success");
    assert_eq!(value(&body, "hostname"), "ap-roof");
    assert_eq!(value(&body, "is-new"), "1");
    let uuid = value(&body, "uuid").to_owned();
    let key = value(&body, "key").to_owned();
    assert_eq!(uuid.len(), 32, "32 hex digits, as upstream hands out");
    assert_eq!(key.len(), 32);

    // Refusals carry the header too, so the agent reads their status.
    for (f, status) in [
        (form("wrong-secret"), 403),
        (
            "backend=netjsonconfig.OpenWrt&name=x&mac_address=00:11:22:33:44:98".to_owned(),
            400,
        ),
    ] {
        let a = agent("POST", &s.url("/controller/device/register/"), Some(&f));
        assert_eq!(
            (a.status, a.controller_header),
            (status, true),
            "{}",
            a.text()
        );
    }

    // The checksum, on the legacy path, with the dashed id and a doubled slash.
    let dashed = format!(
        "{}-{}-{}-{}-{}",
        &uuid[..8],
        &uuid[8..12],
        &uuid[12..16],
        &uuid[16..20],
        &uuid[20..]
    );
    let a = agent(
        "GET",
        &s.url(&format!(
            "//controller/checksum/{dashed}/?key={key}&management_ip=127.0.0.9"
        )),
        None,
    );
    assert_eq!((a.status, a.controller_header), (200, true));
    let checksum = a.text();
    assert_eq!(checksum.len(), 33);
    assert!(checksum.ends_with('\n'));
    let checksum = checksum.trim_end().to_owned();
    assert!(
        checksum
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );

    let a = agent(
        "GET",
        &s.url(&format!(
            "/controller/download-config/{uuid}/?key={key}&management_ip=127.0.0.9"
        )),
        None,
    );
    assert_eq!(a.status, 200);
    assert_eq!(
        md5sum(&a.body),
        checksum,
        "the agent compares md5sum with the checksum"
    );
    let again = agent(
        "GET",
        &s.url(&format!(
            "/controller/device/download-config/{uuid}/?key={key}&management_ip=127.0.0.9"
        )),
        None,
    );
    assert_eq!(again.body, a.body, "one archive, byte for byte");

    let a = agent(
        "POST",
        &s.url(&format!("/controller/report-status/{uuid}/")),
        Some(&format!("key={key}&status=applied&")),
    );
    assert_eq!((a.status, a.controller_header), (200, true));
    assert_eq!(
        a.text(),
        "report-result: success\ncurrent-status: applied\n"
    );
    let a = agent(
        "POST",
        &s.url(&format!("/controller/device/update-info/{uuid}/")),
        Some(&format!(
            "key={key}&model=GL.iNet+GL-MT3000&os=OpenWrt+24.10.0&system=MediaTek+MT7981"
        )),
    );
    assert_eq!(
        (a.status, a.text().as_str()),
        (200, "update-info: success\n")
    );

    // Wrong key and unknown device: 403 and 404, with the header.
    let a = agent(
        "GET",
        &s.url(&format!("/controller/checksum/{uuid}/?key=0000")),
        None,
    );
    assert_eq!((a.status, a.controller_header), (403, true));
    let a = agent(
        "GET",
        &s.url(&format!(
            "/controller/checksum/{}/?key={key}",
            "0".repeat(32)
        )),
        None,
    );
    assert_eq!((a.status, a.controller_header), (404, true));
    let a = agent(
        "POST",
        &s.url(&format!("/controller/report-status/{uuid}/")),
        Some(&format!("key={key}&status=rebooting")),
    );
    assert_eq!(a.status, 403);

    // What the operator sees.
    let (st, d) = call(
        "GET",
        &s.url(&format!("/api/v1/controller/device/{dashed}/")),
        Some(&admin),
        None,
    );
    assert_eq!(st, 200, "{d}");
    assert_eq!(d["name"], "ap-roof");
    assert_eq!(d["mac_address"], "00:11:22:33:44:99");
    assert_eq!(d["model"], "GL.iNet GL-MT3000");
    assert_eq!(d["os"], "OpenWrt 24.10.0");
    assert_eq!(d["management_ip"], "127.0.0.9");
    assert_eq!(d["last_ip"], "127.0.0.1");
    assert_eq!(d["key"], key.as_str());

    // A reflashed router with the same consistent key is the same device.
    let consistent = "c0ffeec0ffeec0ffeec0ffeec0ffee00";
    let f = format!(
        "{}&key={consistent}",
        form(&secret).replace("ap-roof", "ap-lobby")
    );
    let f = f.replace("00%3A11%3A22%3A33%3A44%3A99", "00%3A11%3A22%3A33%3A44%3A9a");
    let first = agent("POST", &s.url("/controller/register/"), Some(&f)).text();
    let second = agent("POST", &s.url("/controller/register/"), Some(&f)).text();
    assert_eq!(value(&first, "key"), consistent);
    assert_eq!(value(&first, "uuid"), value(&second, "uuid"));
    assert_eq!(value(&second, "is-new"), "0");

    // Registration switched off by the organization's administrator.
    let (st, _) = call(
        "PATCH",
        &s.url(&format!(
            "/api/v1/users/organization/{}/",
            org["id"].as_str().unwrap()
        )),
        Some(&admin),
        Some(&json!({"registration_enabled": false})),
    );
    assert_eq!(st, 200);
    let a = agent(
        "POST",
        &s.url("/controller/register/"),
        Some(
            &form(&secret)
                .replace("ap-roof", "ap-new")
                .replace("44%3A99", "44%3A9b"),
        ),
    );
    assert_eq!((a.status, a.controller_header), (403, true));

    // Keys travel in query strings and forms: none reached the log, even at trace level; nor
    // did the API token or the administrator's password.
    let log = s.stderr();
    assert!(log.contains("device registered"), "{log}");
    assert!(!log.contains(&key) && !log.contains(consistent), "{log}");
    assert!(!log.contains(&secret));
    assert!(!log.contains(&admin) && !log.contains(ADMIN_PASSWORD));
}

/// A server with an organization `isp`, and that organization's registration secret.
fn server_with_org(dir: &std::path::Path) -> (TestServer, String) {
    let s = TestServer::spawn(dir, &[], &[("WISPMON_ADMIN_PASSWORD", ADMIN_PASSWORD)]);
    let admin = token(&s, "admin", ADMIN_PASSWORD);
    let secret = create_org(&s, &admin, "isp")["shared_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    (s, secret)
}

/// Guessing an organization's shared secret: after 60 wrong ones within 15 minutes an address
/// gets 429 with `Retry-After` (the agent retries on its own), even with the right one, and a
/// right one in between does not reset the count; the operators' logins from that address are
/// unaffected (they have their own throttle).
#[test]
fn guessing_the_shared_secret_is_throttled_per_address() {
    let dir = tempfile::tempdir().unwrap();
    let (s, secret) = server_with_org(dir.path());
    let form = |secret: &str| {
        format!(
            "backend=netjsonconfig.OpenWrt&secret={secret}&name=ap&mac_address=00%3A11%3A22%3A33%3A44%3A55"
        )
    };
    let url = s.url("/controller/register/");
    for n in 0..60 {
        if n == 30 {
            // Knowing one organization's secret does not reset the count of guesses.
            let a = agent("POST", &url, Some(&form(&secret)));
            assert_eq!(a.status, 201, "{}", a.text());
        }
        let a = agent("POST", &url, Some(&form(&format!("guess{n}"))));
        assert_eq!(
            (a.status, a.controller_header, a.text().as_str()),
            (403, true, "error: unrecognized secret\n"),
            "guess {n}"
        );
    }
    let ureq_answer = ureq::post(&url)
        .set("Content-Type", "application/x-www-form-urlencoded")
        .send_string(&form(&secret));
    let Err(ureq::Error::Status(429, r)) = ureq_answer else {
        panic!("the 61st attempt was not throttled: {ureq_answer:?}");
    };
    let retry: u64 = r.header("Retry-After").unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    assert_eq!(r.header("X-Openwisp-Controller"), Some("true"));
    assert!(
        r.into_string()
            .unwrap()
            .starts_with("error: too many registrations with a wrong secret")
    );
    // Operators from the same address still log in.
    token(&s, "admin", ADMIN_PASSWORD);
}

/// An old curl sends `Expect: 100-continue` before a report longer than 1 KiB: the answer
/// must come without a stall.
#[test]
fn a_long_report_with_expect_continue_is_answered() {
    let dir = tempfile::tempdir().unwrap();
    let (s, secret) = server_with_org(dir.path());
    let reg = agent(
        "POST",
        &s.url("/controller/register/"),
        Some(&format!(
            "backend=netjsonconfig.OpenWrt&secret={secret}&name=ap&mac_address=00:11:22:33:44:01"
        )),
    )
    .text();
    let (uuid, key) = (value(&reg, "uuid"), value(&reg, "key"));
    let body = format!(
        "key={key}&status=error&error_reason={}%0A[truncated]",
        "uci: Parse error ".repeat(80).replace(' ', "+")
    );
    let mut c = TcpStream::connect(&s.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        c,
        "POST /controller/report-status/{uuid}/ HTTP/1.1\r\nHost: {}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Expect: 100-continue\r\n\r\n",
        s.addr,
        body.len()
    )
    .unwrap();
    // curl waits up to a second for "100 Continue", then sends the body anyway.
    std::thread::sleep(Duration::from_millis(300));
    c.write_all(body.as_bytes()).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains("current-status: error\n") {
        let n = c.read(&mut buf).unwrap();
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got);
    assert!(text.contains("HTTP/1.1 200 OK"), "{text}");
    assert!(
        text.to_ascii_lowercase()
            .contains("x-openwisp-controller: true"),
        "{text}"
    );
}

/// `tar -czf` of a scratch tree made by `build`, as an operator makes an archive.
fn tar_gz(build: impl FnOnce(&std::path::Path)) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    build(&root);
    let out = dir.path().join("a.tar.gz");
    let st = std::process::Command::new("tar")
        .arg("-C")
        .arg(&root)
        .arg("-czf")
        .arg(&out)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::read(out).unwrap()
}

/// An operator's tree: a UCI file and a plain file.
fn monitoring_tree(root: &std::path::Path) {
    std::fs::create_dir_all(root.join("etc/config")).unwrap();
    std::fs::write(
        root.join("etc/config/openwisp-monitoring"),
        "config monitoring 'monitoring'\n\toption interval '120'\n",
    )
    .unwrap();
    std::fs::write(root.join("etc/banner.wispmon"), "managed\n").unwrap();
}

fn put_archive(s: &TestServer, t: &str, org: &str, bytes: &[u8]) -> (u16, serde_json::Value) {
    let r = ureq::put(&s.url(&format!("/api/v1/users/organization/{org}/config-archive/")))
        .set("Authorization", &format!("Bearer {t}"))
        .set("Content-Type", "application/gzip")
        .send_bytes(bytes);
    let r = match r {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("PUT archive: {e}"),
    };
    (
        r.status(),
        serde_json::from_str(&r.into_string().unwrap()).unwrap(),
    )
}

/// An organization's administrator replaces the archive its routers download: the routers of
/// that organization see a new checksum at their next poll and download exactly the uploaded
/// bytes, their configuration becomes `modified` until they report; other organizations'
/// routers keep theirs; viewers and other organizations' administrators cannot change it;
/// dangerous or broken archives are refused with the reason; DELETE goes back to the
/// built-in archive.
#[test]
fn an_organizations_own_archive_reaches_its_routers_and_no_others() {
    let dir = tempfile::tempdir().unwrap();
    let (s, admin) = server(dir.path());
    let (org, other) = tenants(&s, &admin);
    let alice = token(&s, "alice", "password-123");
    let victor = token(&s, "victor", "password-123");
    let bob = token(&s, "bob", "password-123");
    let secret_of = |o: &str| {
        let (st, v) = call(
            "GET",
            &s.url(&format!("/api/v1/users/organization/{o}/")),
            Some(&admin),
            None,
        );
        assert_eq!(st, 200);
        v["shared_secret"].as_str().unwrap().to_owned()
    };
    let register = |secret: &str, mac: &str| {
        let a = agent(
            "POST",
            &s.url("/controller/register/"),
            Some(&format!(
                "backend=netjsonconfig.OpenWrt&secret={secret}&name=r-{mac}&mac_address={mac}"
            )),
        );
        assert_eq!(a.status, 201, "{}", a.text());
        let body = a.text();
        (
            value(&body, "uuid").to_owned(),
            value(&body, "key").to_owned(),
        )
    };
    let (dev, key) = register(&secret_of(&org), "00:11:22:33:44:01");
    let (dev_b, key_b) = register(&secret_of(&other), "00:11:22:33:44:02");
    let checksum = |dev: &str, key: &str| {
        let a = agent(
            "GET",
            &s.url(&format!("/controller/checksum/{dev}/?key={key}")),
            None,
        );
        assert_eq!(a.status, 200);
        a.text().trim_end().to_owned()
    };
    let config = |dev: &str| {
        let (st, v) = call(
            "GET",
            &s.url(&format!("/api/v1/controller/device/{dev}/")),
            Some(&alice),
            None,
        );
        assert_eq!(st, 200, "{v}");
        v["config"].clone()
    };
    let builtin = checksum(&dev, &key);
    assert_eq!(checksum(&dev_b, &key_b), builtin);
    assert_eq!(config(&dev)["status"], "modified");
    assert_eq!(config(&dev)["checksum"], builtin.as_str());
    let url = s.url(&format!("/api/v1/users/organization/{org}/config-archive/"));
    let (st, v) = call("GET", &url, Some(&victor), None);
    assert_eq!((st, v["custom"].clone()), (200, json!(false)), "{v}");
    assert_eq!(v["checksum"], builtin.as_str());
    assert_eq!(v["entries"][1]["path"], "etc/wispmon/README");

    let archive = tar_gz(monitoring_tree);

    // Only the organization's administrators (and superusers) may change it.
    assert_eq!(put_archive(&s, &victor, &org, &archive).0, 403);
    assert_eq!(put_archive(&s, &bob, &org, &archive).0, 404);
    assert_eq!(checksum(&dev, &key), builtin);

    // Reported applied before the change; the change makes it modified again.
    let a = agent(
        "POST",
        &s.url(&format!("/controller/report-status/{dev}/")),
        Some(&format!("key={key}&status=applied")),
    );
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(config(&dev)["status"], "applied");
    let (st, v) = put_archive(&s, &alice, &org, &archive);
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["custom"], true, "{v}");
    let sum = v["checksum"].as_str().unwrap().to_owned();
    // Files only: a directory entry would make the agent back up the whole directory.
    let mut listed: Vec<(&str, bool)> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["path"].as_str().unwrap(), e["uci"] == true))
        .collect();
    listed.sort_unstable();
    assert_eq!(
        listed,
        [
            ("etc/banner.wispmon", false),
            ("etc/config/openwisp-monitoring", true)
        ],
        "{v}"
    );
    assert_eq!(config(&dev)["status"], "modified");
    assert_eq!(config(&dev)["checksum"], sum.as_str());

    // The routers: this organization's polls the new checksum and downloads an archive of
    // that md5 which unpacks, with tar, to the uploaded files.
    assert_eq!(checksum(&dev, &key), sum);
    let a = agent(
        "GET",
        &s.url(&format!("/controller/download-config/{dev}/?key={key}")),
        None,
    );
    assert_eq!((a.status, a.controller_header), (200, true));
    assert_eq!(md5sum(&a.body), sum);
    let unpacked = tempfile::tempdir().unwrap();
    let file = unpacked.path().join("download.tar.gz");
    std::fs::write(&file, &a.body).unwrap();
    let listing = std::process::Command::new("tar")
        .arg("-tzf")
        .arg(&file)
        .output()
        .unwrap();
    let mut members: Vec<String> = String::from_utf8(listing.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    members.sort();
    assert_eq!(
        members,
        ["etc/banner.wispmon", "etc/config/openwisp-monitoring"]
    );
    let st = std::process::Command::new("tar")
        .arg("-C")
        .arg(unpacked.path())
        .arg("-xzf")
        .arg(&file)
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(
        std::fs::read_to_string(unpacked.path().join("etc/banner.wispmon")).unwrap(),
        "managed\n"
    );
    assert_eq!(
        checksum(&dev_b, &key_b),
        builtin,
        "another organization's router"
    );

    // The checksum depends on the files alone: the same tree packed again a second later
    // (other times in the tar) changes nothing for the routers.
    let a = agent(
        "POST",
        &s.url(&format!("/controller/report-status/{dev}/")),
        Some(&format!("key={key}&status=applied")),
    );
    assert_eq!(a.status, 200);
    std::thread::sleep(Duration::from_millis(1100));
    let again = tar_gz(monitoring_tree);
    assert_ne!(again, archive);
    let (st, v) = put_archive(&s, &alice, &org, &again);
    assert_eq!(
        (st, v["checksum"].as_str()),
        (200, Some(sum.as_str())),
        "{v}"
    );
    assert_eq!(config(&dev)["status"], "applied");

    // Refused, with the reason, and nothing changes.
    let link = tar_gz(|root| {
        std::fs::write(root.join("file"), "x").unwrap();
        std::os::unix::fs::symlink("/etc/shadow", root.join("evil")).unwrap();
    });
    let dotdot = {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("a")).unwrap();
        std::fs::write(d.path().join("x"), "x").unwrap();
        let out = d.path().join("t.tar.gz");
        // GNU tar keeps `..` in member names only when asked to (-P).
        let st = std::process::Command::new("tar")
            .current_dir(d.path().join("a"))
            .args(["-P", "-czf"])
            .arg(&out)
            .arg("../x")
            .status()
            .unwrap();
        assert!(st.success());
        std::fs::read(out).unwrap()
    };
    let mut cut = archive.clone();
    cut.truncate(archive.len() / 2);
    for (bytes, why) in [
        (link, "evil: symbolic links are refused"),
        (dotdot, "paths with .. are refused"),
        (b"plain text".to_vec(), "not gzip-compressed"),
        (cut, "does not decompress"),
    ] {
        let (st, v) = put_archive(&s, &alice, &org, &bytes);
        assert_eq!(st, 400, "{v}");
        let msg = v["archive"][0].as_str().unwrap_or_default();
        assert!(msg.contains(why), "{msg:?} should say {why:?}");
    }
    assert_eq!(checksum(&dev, &key), sum);

    // Back to the built-in archive.
    let (st, v) = call("DELETE", &url, Some(&alice), None);
    assert_eq!((st, v["custom"].clone()), (200, json!(false)), "{v}");
    assert_eq!(checksum(&dev, &key), builtin);
    assert_eq!(config(&dev)["status"], "modified");
}
