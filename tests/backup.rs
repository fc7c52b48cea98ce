//! `wispmon backup` and `wispmon restore` as an operator runs them: an online backup of a
//! busy appliance through its control socket, a restore into a fresh data directory, and the
//! restored appliance answering with everything that was acknowledged before the backup.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde_json::Value;

use crate::operator_api::{ADMIN_PASSWORD, call, create_device, create_org, server, token};
use crate::util::{TestServer, run, succeeded};

fn write_lp(url: &str, body: &str) -> u16 {
    let r = ureq::post(url).send_string(body);
    match r {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(c, _)) => c,
        Err(e) => panic!("{e}"),
    }
}

fn count(s: &TestServer) -> u64 {
    let url = s.url("/query?db=openwisp2&q=SELECT%20count(v)%20FROM%20load");
    let v: Value = ureq::get(&url).call().unwrap().into_json().unwrap();
    v["results"][0]["series"][0]["values"][0][1]
        .as_u64()
        .unwrap_or(0)
}

#[test]
fn an_online_backup_of_a_busy_appliance_restores_everything_acknowledged_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (s, admin) = server(&data);
    let org = create_org(&s, &admin, "isp");
    let dev = create_device(
        &s,
        &admin,
        org["id"].as_str().unwrap(),
        "ap-1",
        "00:11:22:33:44:55",
    );
    let id = dev["id"].as_str().unwrap().to_owned();
    crate::notifications::post_sample(
        &s,
        &id,
        dev["key"].as_str().unwrap(),
        &crate::notifications::sample(40),
    );

    // A writer keeps /write busy during the backup, one acknowledged point at a time.
    let write_url = s.url("/write?db=openwisp2");
    let acked = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (url, acked, stop) = (write_url, acked.clone(), stop.clone());
        let t0 = (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            - 3600)
            * 1_000_000_000;
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                assert_eq!(
                    write_lp(&url, &format!("load,host=a v={i}i {}", t0 + i * 1000)),
                    204
                );
                i += 1;
                acked.store(i, Ordering::SeqCst);
            }
        })
    };
    while acked.load(Ordering::SeqCst) < 50 {
        assert!(!writer.is_finished(), "the writer failed");
        std::thread::sleep(Duration::from_millis(5));
    }
    let before = acked.load(Ordering::SeqCst);
    let file = dir.path().join("wispmon.backup");
    let out = run(
        &[
            "backup",
            "--data-dir",
            data.to_str().unwrap(),
            "--output",
            file.to_str().unwrap(),
        ],
        &[],
        None,
    );
    let stdout = succeeded(&out);
    assert!(
        stdout.contains("backed up the running appliance"),
        "{stdout}"
    );
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    assert!(file.exists() && !dir.path().join("wispmon.backup.partial").exists());
    // The source goes on.
    assert!(count(&s) >= acked.load(Ordering::SeqCst));
    let mut s = s;
    s.signal("TERM");
    assert!(s.wait_exit(Duration::from_secs(10)).unwrap().success());

    // Restore into a fresh directory and start from it.
    let restored = dir.path().join("restored");
    let out = run(
        &[
            "restore",
            "--data-dir",
            restored.to_str().unwrap(),
            "--input",
            file.to_str().unwrap(),
        ],
        &[],
        None,
    );
    succeeded(&out);
    let r = TestServer::spawn(&restored, &[], &[]);
    assert!(
        !r.stdout.iter().any(|l| l.contains("password")),
        "the admin account came back"
    );
    let points = count(&r);
    assert!(
        points >= before,
        "acknowledged before the backup: {before}, restored {points}"
    );
    let t = token(&r, "admin", ADMIN_PASSWORD);
    let (st, v) = call(
        "GET",
        &r.url(&format!("/api/v1/controller/device/{id}/")),
        Some(&t),
        None,
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["name"], "ap-1");
    let q = format!(
        "/query?db=openwisp2&q=SELECT%20count(data)%20FROM%20short.device_data%20WHERE%20pk%3D%27{id}%27"
    );
    let v: Value = ureq::get(&r.url(&q)).call().unwrap().into_json().unwrap();
    assert_eq!(
        v["results"][0]["series"][0]["values"][0][1], 1,
        "the device's sample came back: {v}"
    );
    drop(r);

    // A restore never overwrites a database.
    let out = run(
        &[
            "restore",
            "--data-dir",
            data.to_str().unwrap(),
            "--input",
            file.to_str().unwrap(),
        ],
        &[],
        None,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));

    // A stopped appliance is backed up from its directory.
    let file2 = dir.path().join("stopped.backup");
    let out = run(
        &[
            "backup",
            "--data-dir",
            data.to_str().unwrap(),
            "--output",
            file2.to_str().unwrap(),
        ],
        &[],
        None,
    );
    let stdout = succeeded(&out);
    assert!(
        stdout.contains("backed up the stopped data directory"),
        "{stdout}"
    );
}
