//! wispmon driven by the real `influxdb` Python client from PyPI (the one OpenWISP Monitoring's
//! timeseries backend uses), through `tests/py/influx_client.py`: ping, database and retention
//! policy set-up as OpenWISP does it at start, `write_points` (ISO and epoch times, precisions,
//! `retention_policy`, `batch_size`, shared tags), line-protocol writes, the error codes the client
//! turns into `InfluxDBClientError`/`InfluxDBServerError`, `SHOW` statements, the chart and metric
//! `SELECT`s with exact `ResultSet` contents, `DROP SERIES`, `DROP MEASUREMENT` and the drops.
//! The script's expectations are those of a real InfluxDB 1.x (verified against Debian's 1.6.7).
//!
//! Needs `python3` with the `influxdb` module (`python3 -m pip install influxdb==5.3.2`). Without
//! them the test says so and passes, unless `CI_REQUIRE_PYCLIENT=1` (set by `.ci/run`, which
//! installs the client) makes it fail.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::TestServer;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/influx_client.py");

fn required() -> bool {
    matches!(std::env::var("CI_REQUIRE_PYCLIENT").as_deref(), Ok(v) if !v.is_empty() && v != "0")
}

/// `python3` with the `influxdb` module: its version, or `None` (after saying why) to skip.
fn python_client() -> Option<String> {
    let out = Command::new("python3")
        .args(["-c", "import influxdb; print(influxdb.__version__)"])
        .stdin(Stdio::null())
        .output();
    let why = match out {
        Ok(o) if o.status.success() => {
            return Some(String::from_utf8_lossy(&o.stdout).trim().to_owned());
        }
        Ok(o) => format!(
            "python module `influxdb` not importable ({})",
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .last()
                .unwrap_or_default()
                .trim()
        ),
        Err(e) => format!("python3 not runnable: {e}"),
    };
    assert!(
        !required(),
        "CI_REQUIRE_PYCLIENT is set but {why}; `python3 -m pip install influxdb==5.3.2`"
    );
    eprintln!(
        "SKIPPED: {why}; `python3 -m pip install influxdb==5.3.2` to run the Python client test"
    );
    None
}

/// Runs the script against `url`, killing it after `limit`: (success, stdout, stderr).
fn run_script(url: &str, limit: Duration) -> (bool, String, String) {
    let mut child = Command::new("python3")
        .arg(Path::new(SCRIPT))
        .arg("--url")
        .arg(url)
        .arg("--wispmon")
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        // `requests` honours proxy variables; the server is on loopback.
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (stdout, mut stderr) = (out.join().unwrap(), err.join().unwrap());
    if status.is_none() {
        stderr.push_str(&format!("\n(killed after {limit:?})"));
    }
    (status.is_some_and(|s| s.success()), stdout, stderr)
}

#[test]
fn influxdb_python_client_gets_influxdb_answers() {
    let Some(version) = python_client() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::spawn(
        &dir.path().join("w"),
        &[],
        &[("WISPMON_ADMIN_PASSWORD", "0123456789")],
    );
    let url = format!("http://{}", server.addr);
    let (ok, stdout, stderr) = run_script(&url, Duration::from_secs(300));
    assert!(
        ok,
        "tests/py/influx_client.py failed against wispmon\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- server stderr\n{}",
        server.stderr()
    );
    println!("influxdb {version} against wispmon:\n{stdout}");
}
