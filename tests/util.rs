//! Test harness: the real `wispmon` binary as a child process on `127.0.0.1:0`, plus HTTP helpers.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_wispmon");

/// A `wispmon serve` child process.
pub struct TestServer {
    pub child: Child,
    pub addr: String,
    /// Lines the server printed on stdout up to and including the listening line.
    pub stdout: Vec<String>,
    pub stderr_path: PathBuf,
    _stdout_rx: mpsc::Receiver<String>,
}

impl TestServer {
    /// Starts `wispmon serve` on `data_dir` with extra args and env, waiting for the listening line.
    pub fn spawn(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> TestServer {
        let stderr_path = data_dir.with_extension("stderr.log");
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        let mut cmd = Command::new(BIN);
        cmd.arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(data_dir)
            .args(args)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawning wispmon");
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut stdout = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    let addr = line
                        .strip_prefix("wispmon: listening on http://")
                        .map(str::to_owned);
                    stdout.push(line);
                    if let Some(addr) = addr {
                        return TestServer {
                            child,
                            addr,
                            stdout,
                            stderr_path,
                            _stdout_rx: rx,
                        };
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "server did not report listening; stdout {stdout:?}; stderr:\n{}",
                        std::fs::read_to_string(&stderr_path).unwrap_or_default()
                    );
                }
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Sends `signal` (such as "TERM", "KILL") to this child only, by PID.
    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{signal} failed");
    }

    /// Waits for the child to exit, up to `limit`; `None` if it is still running (it is then killed).
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return Some(s);
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// GET `url`, returning status and body, whatever the status.
pub fn get(url: &str) -> (u16, String) {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .build();
    match agent.get(url).call() {
        Ok(r) => (r.status(), r.into_string().unwrap()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap()),
        Err(e) => panic!("GET {url}: {e}"),
    }
}

/// Runs the binary with `args` to completion.
pub fn run(args: &[&str], env: &[(&str, &str)], cwd: Option<&Path>) -> std::process::Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env_remove("RUST_LOG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    if let Some(d) = cwd {
        cmd.current_dir(d);
    }
    cmd.output().unwrap()
}

/// The stdout of a finished run, asserting it succeeded (both streams in the failure message).
pub fn succeeded(out: &std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Percent-encodes a query value, leaving what the agent sends raw (`:`, `-`, `_`, `.`) alone.
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b":-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `q` on the InfluxDB API at `base` (`http://host:port` of a wispmon or an influxd) against
/// `db`, times in ns → the first statement's result (`{"series": …}` or `{"error": …}`);
/// asserts a 200.
pub fn influxql(base: &str, db: &str, q: &str) -> serde_json::Value {
    let (st, text) = get(&format!("{base}/query?db={db}&epoch=ns&q={}", enc(q)));
    assert_eq!(st, 200, "{q}: {text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["results"][0].clone()
}
