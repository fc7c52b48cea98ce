//! Soak: a steady mixed load for minutes against one server, watching that its resident memory
//! and its latencies stay flat. Routers post full NetJSON samples, a Grafana-like client writes
//! line protocol and runs InfluxQL, operators open device charts, the dashboard and the device
//! list. Each client works to a fixed schedule (an offered load, not "as fast as possible"), so
//! the latencies of the early and late parts of the run are comparable.
//!
//! It is `#[ignore]`d because it takes minutes and wants the machine to itself: `.ci/run` runs
//! it after the test suite (`cargo test --test tests soak -- --ignored --nocapture`), for
//! `CI_SOAK_SECONDS` (60 when unset). It prints a table of memory and p50/p99/max per class and
//! per third of the run, and fails on any error answer, on memory still growing after the
//! first third, or on a class whose p99 in the last third is far above the middle third's.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::device_metrics::{agent_time, metrics_path, now_secs};
use crate::operator_api::{ADMIN_PASSWORD, call, create_org, token};
use crate::util::{TestServer, enc};

/// Devices posting samples, each every [`AGENT_PERIOD`].
const DEVICES: usize = 40;
const AGENT_PERIOD: Duration = Duration::from_secs(2);
/// Prefilled history per device, so that a day's chart reads much more than the run adds.
const HISTORY: i64 = 96;
const HISTORY_STEP: i64 = 900;
/// Line-protocol hosts and the writer's period (one batch of `LP_HOSTS` × 10 lines).
const LP_HOSTS: usize = 100;
const LP_PERIOD: Duration = Duration::from_millis(500);
const READ_PERIOD: Duration = Duration::from_millis(500);
/// Resident memory sampling.
const RSS_PERIOD: Duration = Duration::from_secs(2);

/// Resident memory of a process (VmRSS, kB in the file) in bytes.
fn rss_of(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .unwrap()
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kb * 1024
}

/// One answered request: when it started (since the load began), its class and its latency.
struct Sample {
    at: Duration,
    class: &'static str,
    took: Duration,
}

/// What every client shares: the clock, the end, and the record of answers.
struct Run {
    start: Instant,
    end: Instant,
    samples: Mutex<Vec<Sample>>,
}

impl Run {
    /// Calls `request` every `period` until the end (skipping slots it fell behind on), records
    /// each latency under `class`, and fails on any status outside 2xx.
    fn every(&self, period: Duration, class: &'static str, mut request: impl FnMut(u64) -> u16) {
        let mut n = 0u64;
        let mut next = Instant::now();
        while next < self.end {
            let now = Instant::now();
            if next > now {
                std::thread::sleep(next - now);
            }
            let t = Instant::now();
            let status = request(n);
            let took = t.elapsed();
            assert!(
                (200..300).contains(&status),
                "{class}: status {status} at {:?} into the run",
                t - self.start
            );
            self.samples.lock().unwrap().push(Sample {
                at: t - self.start,
                class,
                took,
            });
            n += 1;
            next += period;
            while next + period < Instant::now() {
                next += period;
            }
        }
    }
}

/// A request's status, whatever it is; a transport error fails the test.
fn status(r: Result<ureq::Response, ureq::Error>, what: &str) -> u16 {
    match r {
        Ok(r) => {
            let st = r.status();
            let _ = r.into_string();
            st
        }
        Err(ureq::Error::Status(st, r)) => {
            panic!("{what}: {st} {}", r.into_string().unwrap_or_default())
        }
        Err(e) => panic!("{what}: {e}"),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn mib(b: u64) -> f64 {
    b as f64 / (1 << 20) as f64
}

#[test]
#[ignore = "minutes long: .ci/run runs it alone, `cargo test --test tests soak -- --ignored`"]
fn steady_mixed_load_keeps_memory_and_latency_flat() {
    let seconds: u64 = std::env::var("CI_SOAK_SECONDS")
        .ok()
        .map(|s| s.parse().expect("CI_SOAK_SECONDS is a number of seconds"))
        .unwrap_or(60);
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::spawn(
        dir.path(),
        &[],
        &[
            ("WISPMON_ADMIN_PASSWORD", ADMIN_PASSWORD),
            ("WISPMON_CHECKS__AUTO_PING", "false"),
            // Seal often, so the run goes through many head fill-and-seal cycles.
            ("WISPMON_STORAGE__SEAL_INTERVAL", "10s"),
        ],
    );
    let pid = s.child.id();
    let admin = token(&s, "admin", ADMIN_PASSWORD);
    let org = create_org(&s, &admin, "isp")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let devices: Vec<(String, String)> = (0..DEVICES)
        .map(|i| {
            let (st, d) = call(
                "POST",
                &s.url("/api/v1/controller/device/"),
                Some(&admin),
                Some(&json!({"name": format!("ap-{i}"), "organization": org,
                             "mac_address": format!("02:00:00:01:00:{i:02x}")})),
            );
            assert_eq!(st, 201, "{d}");
            (
                d["id"].as_str().unwrap().to_owned(),
                d["key"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let sample = std::fs::read(format!(
        "{}ap-two-radios.json",
        crate::netjson_cases::FIXTURES
    ))
    .unwrap();
    let base = format!("http://{}", s.addr);
    let post_sample = |agent: &ureq::Agent, (id, key): &(String, String), time: Option<i64>| {
        let mut url = format!("{base}{}?key={key}", metrics_path(id));
        if let Some(t) = time {
            url.push_str(&format!("&time={}", enc(&agent_time(t))));
        }
        status(
            agent
                .post(&url)
                .set("Content-Type", "application/json")
                .send_bytes(&sample),
            "device sample",
        )
    };

    // A day of history for every device, posted as a backlog.
    let t0 = now_secs() - HISTORY * HISTORY_STEP;
    std::thread::scope(|scope| {
        for chunk in devices.chunks(DEVICES.div_ceil(4)) {
            let post_sample = &post_sample;
            scope.spawn(move || {
                let agent = ureq::Agent::new();
                for d in chunk {
                    for n in 0..HISTORY {
                        assert_eq!(post_sample(&agent, d, Some(t0 + n * HISTORY_STEP)), 200);
                    }
                }
            });
        }
    });
    let (st, v) = call(
        "POST",
        &s.url(&format!("/query?q={}", enc("CREATE DATABASE soak"))),
        None,
        None,
    );
    assert_eq!(st, 200, "{v}");

    let run = Run {
        start: Instant::now(),
        end: Instant::now() + Duration::from_secs(seconds),
        samples: Mutex::new(Vec::new()),
    };
    let rss: Mutex<Vec<(Duration, u64)>> = Mutex::new(Vec::new());
    let bearer = format!("Bearer {admin}");
    std::thread::scope(|scope| {
        // Routers: each device posts a current sample every AGENT_PERIOD; each agent a fresh
        // connection per request, as curl in the agent does.
        for chunk in devices.chunks(DEVICES.div_ceil(4)) {
            let (run, post_sample) = (&run, &post_sample);
            scope.spawn(move || {
                let period = AGENT_PERIOD / chunk.len() as u32;
                run.every(period, "agent POST", |n| {
                    let agent = ureq::Agent::new();
                    post_sample(&agent, &chunk[n as usize % chunk.len()], None)
                });
            });
        }
        // A line-protocol writer, as Telegraf or a script would be.
        let (run, base_ref) = (&run, &base);
        scope.spawn(move || {
            let agent = ureq::Agent::new();
            run.every(LP_PERIOD, "/write 1000 lines", |n| {
                let ns = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos();
                let mut body = String::new();
                for h in 0..LP_HOSTS {
                    for f in 0..10 {
                        body.push_str(&format!(
                            "cpu,host=h{h},core={f} usage={}.5,steal={}i {}\n",
                            (n + h as u64) % 100,
                            f,
                            ns + f as u128
                        ));
                    }
                }
                status(
                    agent
                        .post(&format!("{base_ref}/write?db=soak"))
                        .send_string(&body),
                    "/write",
                )
            });
        });
        // Grafana-like InfluxQL over a sliding window, and a tag listing.
        scope.spawn(move || {
            let agent = ureq::Agent::new();
            let q = enc(
                "SELECT mean(usage) FROM cpu WHERE time > now() - 20s GROUP BY time(5s), host; \
                 SHOW TAG VALUES FROM cpu WITH KEY = host",
            );
            run.every(READ_PERIOD, "/query window", |_| {
                status(
                    agent.get(&format!("{base_ref}/query?db=soak&q={q}")).call(),
                    "/query",
                )
            });
        });
        // Operators: a device's day of charts, the dashboard, the device list.
        let (devices, bearer) = (&devices, &bearer);
        scope.spawn(move || {
            let agent = ureq::Agent::new();
            run.every(READ_PERIOD, "device charts 1d", |n| {
                let (id, _) = &devices[n as usize % devices.len()];
                status(
                    agent
                        .get(&format!("{base_ref}{}?timeframe=1d", metrics_path(id)))
                        .set("Authorization", bearer)
                        .call(),
                    "device charts",
                )
            });
        });
        scope.spawn(move || {
            let agent = ureq::Agent::new();
            run.every(READ_PERIOD * 2, "dashboard + list", |n| {
                let path = if n % 2 == 0 {
                    "/api/v1/monitoring/dashboard/?timeframe=1d"
                } else {
                    "/api/v1/monitoring/device/?page=1"
                };
                status(
                    agent
                        .get(&format!("{base_ref}{path}"))
                        .set("Authorization", bearer)
                        .call(),
                    path,
                )
            });
        });
        // The server's resident memory.
        let rss = &rss;
        scope.spawn(move || {
            while Instant::now() < run.end {
                rss.lock().unwrap().push((run.start.elapsed(), rss_of(pid)));
                std::thread::sleep(RSS_PERIOD);
            }
        });
    });

    // The report: per third of the run, memory and each class's latencies.
    let samples = run.samples.into_inner().unwrap();
    let rss = rss.into_inner().unwrap();
    let third = Duration::from_secs(seconds) / 3;
    let part = |at: Duration| ((at.as_secs_f64() / third.as_secs_f64()) as usize).min(2);
    let mut classes: Vec<&str> = samples.iter().map(|s| s.class).collect();
    classes.sort_unstable();
    classes.dedup();
    let mut report = format!(
        "soak: {seconds} s, {} requests; resident memory by third (max MiB):",
        samples.len()
    );
    let mut rss_max = [0u64; 3];
    for (at, b) in &rss {
        rss_max[part(*at)] = rss_max[part(*at)].max(*b);
    }
    for m in rss_max {
        report.push_str(&format!(" {:.1}", mib(m)));
    }
    report.push('\n');
    let mut p99s: Vec<(&str, [Duration; 3])> = Vec::new();
    for class in &classes {
        let mut p99 = [Duration::ZERO; 3];
        report.push_str(&format!("  {class:<20}"));
        for (i, p) in p99.iter_mut().enumerate() {
            let mut t: Vec<Duration> = samples
                .iter()
                .filter(|s| s.class == *class && part(s.at) == i)
                .map(|s| s.took)
                .collect();
            t.sort_unstable();
            *p = percentile(&t, 0.99);
            report.push_str(&format!(
                " | n {:>4} p50 {:>6.1} p99 {:>6.1} max {:>6.1} ms",
                t.len(),
                ms(percentile(&t, 0.5)),
                ms(*p),
                ms(t.last().copied().unwrap_or_default())
            ));
        }
        report.push('\n');
        p99s.push((class, p99));
    }
    eprintln!("{report}");
    let stderr = s.stderr();
    assert!(
        !stderr.contains("panicked"),
        "the server panicked:\n{stderr}"
    );

    // Every client kept to its schedule (a stalled server would make them fall behind).
    let expected = |period: Duration| seconds as f64 / period.as_secs_f64();
    let count = |class: &str| samples.iter().filter(|s| s.class == class).count() as f64;
    assert!(
        count("agent POST") >= 0.8 * expected(AGENT_PERIOD) * DEVICES as f64,
        "agents fell behind:\n{report}"
    );
    assert!(
        count("/write 1000 lines") >= 0.8 * expected(LP_PERIOD),
        "the writer fell behind:\n{report}"
    );
    // Memory: after the first third (warm-up: caches, the head's first fill) it stays within
    // 32 MiB and 15% of the middle third's peak.
    let allowed = rss_max[1] + (32 << 20) + rss_max[1] * 15 / 100;
    assert!(
        rss_max[2] <= allowed,
        "resident memory grew from {:.1} to {:.1} MiB:\n{report}",
        mib(rss_max[1]),
        mib(rss_max[2])
    );
    // Latency: no class's p99 in the last third is more than 3× the middle third's plus 100 ms
    // (the allowance for a shared, noisy machine).
    for (class, p99) in p99s {
        assert!(
            p99[2] <= p99[1] * 3 + Duration::from_millis(100),
            "{class}: p99 went from {:.1} to {:.1} ms:\n{report}",
            ms(p99[1]),
            ms(p99[2])
        );
    }
    // And the data is all there: each device's latest sample and the writer's last batch.
    let r = crate::util::influxql(&base, "soak", "SELECT count(usage) FROM cpu");
    let written = r["series"][0]["values"][0][1].as_u64().unwrap_or(0) as f64;
    assert_eq!(
        written,
        count("/write 1000 lines") * 1000.0,
        "points stored against batches acknowledged: {r}"
    );
}
