//! Disk full: the data directory on a small tmpfs that fills up while a client writes through
//! `/write`. Writes that cannot be made durable are refused with a clear error (never a 204),
//! the appliance keeps answering, everything acknowledged stays readable, and once space comes
//! back (the tmpfs grown) writes succeed again and a restart after kill -9 finds every
//! acknowledged point and no corruption. Records (organizations, devices) are written until
//! a quarter of the floor is left, then refused the same way.
//!
//! Needs root (to mount the tmpfs); elsewhere it says so and passes, unless
//! `CI_REQUIRE_TMPFS=1` (set by `.ci/run`, which runs as root) makes it fail.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::operator_api::{ADMIN_PASSWORD, call, token};
use crate::util::{TestServer, get};

/// A tmpfs mounted on a directory of ours, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(dir.to_owned()))
    }

    fn resize(&self, size: &str) {
        let s = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(s.success(), "remount failed");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Bytes an unprivileged writer may still use on the file system of `dir` (`stat -f`).
fn available(dir: &Path) -> u64 {
    let out = Command::new("stat")
        .args(["-f", "-c", "%a %S"])
        .arg(dir)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let mut it = text.split_whitespace().map(|n| n.parse::<u64>().unwrap());
    it.next().unwrap() * it.next().unwrap()
}

fn query(s: &TestServer, q: &str) -> (u16, String) {
    get(&format!(
        "{}?db=full&epoch=ns&q={}",
        s.url("/query"),
        crate::device_metrics::enc(q)
    ))
}

/// Batch `k`: 200 lines with a 200-byte string field, so the log grows fast.
fn batch(k: u64, t0: u64) -> String {
    let pad = "x".repeat(200);
    (0..200)
        .map(|i| {
            format!(
                "fill,batch=b{k} i={i}i,pad=\"{pad}\" {}\n",
                t0 + k * 1_000_000 + i
            )
        })
        .collect()
}

#[test]
fn a_full_disk_refuses_writes_clearly_and_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let Some(fs) = Tmpfs::mount(&mnt, "24m") else {
        assert!(
            std::env::var("CI_REQUIRE_TMPFS").is_err(),
            "CI_REQUIRE_TMPFS=1 but a tmpfs cannot be mounted (not root?)"
        );
        eprintln!("SKIPPED: mounting a tmpfs needs root");
        return;
    };
    let data = mnt.join("data");
    // Sealing every second: the database (sled) meets the full disk too, not only the log.
    let env = [
        ("WISPMON_STORAGE__SEAL_INTERVAL", "1s"),
        ("WISPMON_STORAGE__MIN_FREE_SPACE", "4MiB"),
        ("WISPMON_ADMIN_PASSWORD", ADMIN_PASSWORD),
    ];
    let mut s = TestServer::spawn(&data, &[], &env);
    let admin = token(&s, "admin", ADMIN_PASSWORD);
    let r = ureq::post(&s.url("/query"))
        .send_form(&[("q", "CREATE DATABASE full")])
        .unwrap();
    assert_eq!(r.status(), 200);
    let t0 = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 3600)
        * 1_000_000_000;
    let mut acked = Vec::new();
    let mut refusal = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    for k in 0.. {
        assert!(Instant::now() < deadline, "24 MiB never filled up");
        let r = ureq::post(&format!("{}?db=full&precision=ns", s.url("/write")))
            .send_string(&batch(k, t0));
        // Slow enough for seals to run in between.
        std::thread::sleep(Duration::from_millis(5));
        match r {
            Ok(r) => {
                assert_eq!(r.status(), 204);
                acked.push(k);
            }
            Err(ureq::Error::Status(code, r)) => {
                refusal = Some((code, r.into_string().unwrap_or_default()));
                break;
            }
            Err(e) => panic!("the server stopped answering: {e}\n{}", s.stderr()),
        }
    }
    let (code, body) = refusal.unwrap();
    eprintln!("disk full after {} batches: {code} {body}", acked.len());
    assert_eq!(code, 507, "{body}");
    assert!(body.contains("disk full"), "the error says why: {body}");
    // Still answering, and what was acknowledged is readable.
    assert_eq!(get(&s.url("/ping")).0, 204);
    let count = |s: &TestServer| -> u64 {
        let (st, text) = query(s, "SELECT count(i) FROM fill");
        assert_eq!(st, 200, "{text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["results"][0]["series"][0]["values"][0][1]
            .as_u64()
            .unwrap_or_else(|| panic!("{text}"))
    };
    let n = count(&s);
    assert!(
        n >= acked.len() as u64 * 200,
        "{n} points for {} acknowledged batches",
        acked.len()
    );

    // Records (organizations, devices, tokens) are still written down to a quarter of the
    // floor; below it they are refused the same clear way, and nothing is half-created.
    let (st, v) = call(
        "POST",
        &s.url("/api/v1/users/organization/"),
        Some(&admin),
        Some(&json!({"name": "before"})),
    );
    assert_eq!(
        st, 201,
        "records still fit above a quarter of the floor: {v}"
    );
    let filler = mnt.join("filler");
    {
        let mut f = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 64 << 10];
        while available(&mnt) > 512 << 10 {
            f.write_all(&chunk).unwrap();
            f.sync_data().unwrap();
        }
    }
    std::thread::sleep(Duration::from_millis(300)); // the guard reuses a reading for 250 ms
    let (st, v) = call(
        "POST",
        &s.url("/api/v1/users/organization/"),
        Some(&admin),
        Some(&json!({"name": "during"})),
    );
    assert_eq!(st, 507, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("disk full"), "{v}");
    std::fs::remove_file(&filler).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let (st, list) = call(
        "GET",
        &s.url("/api/v1/users/organization/"),
        Some(&admin),
        None,
    );
    assert_eq!(st, 200, "{list}");
    let names: Vec<&str> = list["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["name"].as_str())
        .collect();
    assert!(
        names.contains(&"before") && !names.contains(&"during"),
        "{list}"
    );

    // Space comes back: writes succeed again (the first may still meet a full log segment).
    fs.resize("96m");
    let mut resumed = false;
    for k in 100_000..100_050u64 {
        if let Ok(r) = ureq::post(&format!("{}?db=full&precision=ns", s.url("/write")))
            .send_string(&batch(k, t0))
        {
            assert_eq!(r.status(), 204);
            acked.push(k);
            resumed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        resumed,
        "writes never resumed once space came back\n{}",
        s.stderr()
    );

    // kill -9 and restart: every acknowledged batch is there in full.
    s.child.kill().unwrap();
    s.child.wait().unwrap();
    let s = TestServer::spawn(&data, &[], &env);
    for k in &acked {
        let (st, text) = query(
            &s,
            &format!("SELECT count(i) FROM fill WHERE batch = 'b{k}'"),
        );
        assert_eq!(st, 200, "{text}");
        assert!(
            text.contains("[0,200]") || text.contains(",200]"),
            "batch {k}: {text}"
        );
    }
    drop(s);
    drop(fs);
}
