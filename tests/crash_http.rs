//! kill -9 of the real server while clients write over HTTP, round after round on one data
//! directory: an InfluxDB client posting line protocol to `/write` and a device agent posting
//! NetJSON samples, both cut off at a pseudo-random moment with requests in flight. Proves, as
//! the clients see it through `/query` and the REST API after the last restart, that
//! - every `/write` batch answered 204 is there in full, and no batch is half-there (one
//!   batch is one log record, whether or not its answer arrived);
//! - every device sample answered 200 has its snapshot, cpu and memory points, and traffic is
//!   exactly each sample's counter increase: an agent retrying an unanswered sample (as real
//!   agents do) neither double-counts nor turns the lifetime counter into a spike;
//! - the records made once (token, organization, device, its metrics) outlive every crash.
//!
//! `tests/crash.rs` kills a process writing through the engine directly; this test kills the
//! whole server, so the HTTP layer's promise — answer only once durable — is what is tested.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::ExitStatusExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::device_metrics::{agent_time, enc, metrics_path, now_secs};
use crate::operator_api::{ADMIN_PASSWORD, call, create_device, create_org, token};
use crate::util::TestServer;

/// Crashes before the final check.
const ROUNDS: u64 = 22;
/// Lines per `/write` batch.
const LINES: i64 = 20;
/// Seconds between two samples of the agent.
const SAMPLE_EVERY: i64 = 5;
/// Interface counters at sample 0 (a lifetime counter: its appearance as traffic is a spike).
const RX0: u64 = 7_000_000_000;
const TX0: u64 = 900_000_000;
/// Bytes the interface moves between two samples: every traffic point must be exactly this.
const RX_STEP: u64 = 12_345;
const TX_STEP: u64 = 678;

/// A client with short timeouts of its own (no pooled connection is shared between threads).
fn client() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .build()
}

/// How a POST ended: an HTTP status, or no answer at all (connection refused, reset, cut).
enum Answer {
    Status(u16, String),
    NoAnswer(String),
}

impl Answer {
    /// The status and body of an answer that must have come.
    fn status(self) -> (u16, String) {
        match self {
            Answer::Status(st, text) => (st, text),
            Answer::NoAnswer(e) => panic!("no answer: {e}"),
        }
    }
}

fn post(agent: &ureq::Agent, url: &str, content_type: &str, body: &[u8]) -> Answer {
    match agent
        .post(url)
        .set("Content-Type", content_type)
        .send_bytes(body)
    {
        Ok(r) => {
            let st = r.status();
            Answer::Status(st, r.into_string().unwrap_or_default())
        }
        Err(ureq::Error::Status(st, r)) => Answer::Status(st, r.into_string().unwrap_or_default()),
        Err(e) => Answer::NoAnswer(e.to_string()),
    }
}

/// Batch `k`: `LINES` points of `crash,writer=w{k%4}` at `t0 + k ms + j ns`, fields n = k, i = j.
fn batch(t0: i64, k: u64) -> String {
    let base = t0 + i64::try_from(k).unwrap() * 1_000_000;
    (0..LINES)
        .map(|j| format!("crash,writer=w{} n={k}i,i={j}i {}\n", k % 4, base + j))
        .collect()
}

/// One round of the `/write` client: batches from `next` on until the server stops answering.
struct WriteRound {
    acked: Vec<u64>,
    /// The batch whose answer never came (it may or may not be stored, but only whole).
    in_flight: Option<u64>,
    next: u64,
    /// Anything but a 204 from a live server, or a cut while the server was not being killed.
    errors: Vec<String>,
}

fn write_until_cut(base: &str, t0: i64, mut next: u64, killing: &AtomicBool) -> WriteRound {
    let agent = client();
    let url = format!("{base}/write?db=crashdb&precision=ns");
    let mut r = WriteRound {
        acked: Vec::new(),
        in_flight: None,
        next,
        errors: Vec::new(),
    };
    // No stop flag: the loop ends at the first request the kill cuts, so one is always in
    // flight when the server dies.
    loop {
        match post(&agent, &url, "text/plain", batch(t0, next).as_bytes()) {
            Answer::Status(204, _) => r.acked.push(next),
            Answer::Status(st, text) => {
                r.errors.push(format!("batch {next}: {st} {text}"));
                next += 1;
                break;
            }
            Answer::NoAnswer(e) => {
                if !killing.load(Ordering::SeqCst) {
                    r.errors
                        .push(format!("batch {next} cut before the kill: {e}"));
                }
                r.in_flight = Some(next);
                next += 1;
                break;
            }
        }
        next += 1;
    }
    r.next = next;
    r
}

/// The device agent's state, kept across rounds like the agent's spool on the router.
struct Agent {
    id: String,
    key: String,
    /// Time of sample 0, epoch seconds.
    d0: i64,
    /// The sample being delivered: samples go out in order, each until it gets a 200.
    next: u64,
    /// `next` was posted and got no answer: the next round starts by posting it again.
    pending: bool,
    retried: Vec<u64>,
}

fn sample_time(d0: i64, s: u64) -> i64 {
    d0 + SAMPLE_EVERY * i64::try_from(s).unwrap()
}

/// Load of sample `s`: distinct per sample, so a point shows which sample it came from.
fn load_1(s: u64) -> f64 {
    f64::from(u32::try_from(s % 1000).unwrap()) / 1000.0
}

/// Sample `s`: counters grow by exactly `RX_STEP`/`TX_STEP`, uptime by the time between samples.
fn sample(s: u64) -> Vec<u8> {
    json!({
        "type": "DeviceMonitoring",
        "general": {"uptime": 100_000 + s * SAMPLE_EVERY as u64},
        "resources": {
            "load": [load_1(s), 0.25, 0.125],
            "cpus": 2,
            "memory": {"total": 268_435_456u64, "free": 100_000_000 + s,
                       "buffered": 4_000_000, "shared": 1_000_000},
        },
        "interfaces": [{"name": "eth0", "statistics": {
            "rx_bytes": RX0 + s * RX_STEP, "tx_bytes": TX0 + s * TX_STEP}}],
    })
    .to_string()
    .into_bytes()
}

fn sample_url(base: &str, a: &Agent, s: u64) -> String {
    format!(
        "{base}{}?key={}&time={}",
        metrics_path(&a.id),
        enc(&a.key),
        enc(&agent_time(sample_time(a.d0, s)))
    )
}

/// One round of the agent: samples from `a.next` on until the server stops answering; returns
/// the samples acknowledged and any error that is not the kill's.
fn agent_until_cut(base: &str, a: &mut Agent, killing: &AtomicBool) -> (Vec<u64>, Vec<String>) {
    let http = client();
    let mut acked = Vec::new();
    let mut errors = Vec::new();
    loop {
        let s = a.next;
        match post(
            &http,
            &sample_url(base, a, s),
            "application/json",
            &sample(s),
        ) {
            Answer::Status(200, _) => {
                if a.pending {
                    a.retried.push(s);
                    a.pending = false;
                }
                acked.push(s);
                a.next += 1;
            }
            Answer::Status(st, text) => {
                errors.push(format!("sample {s}: {st} {text}"));
                return (acked, errors);
            }
            Answer::NoAnswer(e) => {
                if !killing.load(Ordering::SeqCst) {
                    errors.push(format!("sample {s} cut before the kill: {e}"));
                }
                a.pending = true;
                return (acked, errors);
            }
        }
    }
}

fn spawn(data: &std::path::Path) -> TestServer {
    // `spawn` panics with the server's output unless it reports listening.
    TestServer::spawn(data, &[], &[("WISPMON_ADMIN_PASSWORD", ADMIN_PASSWORD)])
}

/// `q` against `db` with ns timestamps → every row of every series of the first statement.
fn query(s: &TestServer, db: &str, q: &str) -> Vec<Vec<Value>> {
    let r = crate::util::influxql(&format!("http://{}", s.addr), db, q);
    assert!(r.get("error").is_none(), "{q}: {r}");
    r["series"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|series| series["values"].as_array().unwrap().iter())
        .map(|row| row.as_array().unwrap().clone())
        .collect()
}

/// Whether the cpu point of the agent's pending sample is stored.
fn sample_stored(s: &TestServer, a: &Agent) -> bool {
    let at = sample_time(a.d0, a.next) * 1_000_000_000;
    let rows = query(
        s,
        "openwisp2",
        &format!(
            "SELECT load_1 FROM cpu WHERE object_id = '{}' AND time = {at}",
            a.id
        ),
    );
    !rows.is_empty()
}

/// The records made in round 0 are all there: the token still opens the API, the device is
/// listed with its name and, once a sample was acknowledged, its metrics exist.
fn check_records(s: &TestServer, admin: &str, id: &str, any_sample: bool, when: &str) {
    let (st, d) = call(
        "GET",
        &s.url(&format!("/api/v1/controller/device/{id}/")),
        Some(admin),
        None,
    );
    assert_eq!(st, 200, "{when}: the device or the token is gone: {d}");
    assert_eq!(d["name"], "crash-cpe", "{when}: {d}");
    if any_sample {
        let (st, list) = call(
            "GET",
            &s.url(&format!("/api/v1/monitoring/device/{id}/metric/")),
            Some(admin),
            None,
        );
        assert_eq!(st, 200, "{when}: {list}");
        let keys: BTreeSet<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m["key"].as_str())
            .collect();
        for k in ["cpu", "memory", "traffic"] {
            assert!(keys.contains(k), "{when}: metric {k} lost: {list}");
        }
    }
}

#[test]
fn acknowledged_writes_and_samples_survive_kill_9_of_the_server() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Points an hour old: inside any retention, apart from the agent's samples.
    let t0 = (now_secs() - 3600) * 1_000_000_000;
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next_batch = 0u64;
    let mut acked_batches = BTreeSet::new();
    let mut in_flight_batches = BTreeSet::new();
    let mut acked_samples = BTreeSet::new();
    let mut admin = String::new();
    let mut agent: Option<Agent> = None;
    let mut pre_stored = 0;

    for round in 0..ROUNDS {
        let up = Instant::now();
        let mut s = spawn(&data);
        let startup = up.elapsed();
        if round == 0 {
            admin = token(&s, "admin", ADMIN_PASSWORD);
            let org = create_org(&s, &admin, "Crash ISP")["id"]
                .as_str()
                .unwrap()
                .to_owned();
            let d = create_device(&s, &admin, &org, "crash-cpe", "00:00:00:00:0c:01");
            let (st, text) = post(
                &client(),
                &format!("{}?q={}", s.url("/query"), enc("CREATE DATABASE crashdb")),
                "application/x-www-form-urlencoded",
                b"",
            )
            .status();
            assert_eq!(st, 200, "{text}");
            // Twelve hours back, five seconds apart: room for 8640 samples before now (a
            // round acknowledges a few hundred), all inside the 24 h of `short` (snapshots).
            agent = Some(Agent {
                id: d["id"].as_str().unwrap().to_owned(),
                key: d["key"].as_str().unwrap().to_owned(),
                d0: (now_secs() / 60 - 720) * 60,
                next: 0,
                pending: false,
                retried: Vec::new(),
            });
        }
        let mut a = agent.take().unwrap();
        check_records(
            &s,
            &admin,
            &a.id,
            !acked_samples.is_empty(),
            &format!("restart {round}"),
        );

        // Whether the unanswered sample was stored before the kill (the answer lost, not
        // the sample): then the retry below is a true duplicate. Informational only.
        let pending_stored = a.pending && sample_stored(&s, &a);
        pre_stored += usize::from(pending_stored);

        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = Duration::from_millis(50 + seed % 351);
        let killing = AtomicBool::new(false);
        let base = format!("http://{}", s.addr);
        let (writes, (samples, agent_errors), a) = std::thread::scope(|scope| {
            let w = scope.spawn(|| write_until_cut(&base, t0, next_batch, &killing));
            let d = scope.spawn(|| {
                let r = agent_until_cut(&base, &mut a, &killing);
                (r, a)
            });
            std::thread::sleep(delay);
            // Mark first, so a cut seen by a client is known to be the kill's.
            killing.store(true, Ordering::SeqCst);
            s.child.kill().unwrap(); // SIGKILL on Unix
            let status = s.child.wait().unwrap();
            assert_eq!(status.signal(), Some(9), "round {round}: {status:?}");
            let writes = w.join().unwrap();
            let (r, a) = d.join().unwrap();
            (writes, r, a)
        });
        assert!(
            writes.errors.is_empty() && agent_errors.is_empty(),
            "round {round}: {:?} {agent_errors:?}\n{}",
            writes.errors,
            s.stderr()
        );
        // The crash is visible to the next start.
        assert!(data.join("unclean-shutdown").exists(), "round {round}");
        eprintln!(
            "round {round:2}: kill after {:3} ms (start {:4} ms): {:3} batches acked, in flight {:?}; \
             {:3} samples acked{}, next sample {}{}",
            delay.as_millis(),
            startup.as_millis(),
            writes.acked.len(),
            writes.in_flight,
            samples.len(),
            if pending_stored {
                " (the first, a retry, was already stored)"
            } else {
                ""
            },
            a.next,
            if a.pending {
                " (unanswered, to retry)"
            } else {
                ""
            },
        );
        acked_batches.extend(writes.acked);
        in_flight_batches.extend(writes.in_flight);
        acked_samples.extend(samples);
        next_batch = writes.next;
        agent = Some(a);
    }

    let s = spawn(&data);
    let mut a = agent.unwrap();
    check_records(&s, &admin, &a.id, true, "after the last crash");
    // The agent's first act: deliver the sample the last kill left unanswered.
    if a.pending {
        pre_stored += usize::from(sample_stored(&s, &a));
        let (st, text) = post(
            &client(),
            &sample_url(&format!("http://{}", s.addr), &a, a.next),
            "application/json",
            &sample(a.next),
        )
        .status();
        assert_eq!(st, 200, "{text}");
        a.retried.push(a.next);
        acked_samples.insert(a.next);
        a.next += 1;
    }

    // /write: group the points by batch; each must be whole and where its batch put it.
    let mut present: BTreeMap<u64, BTreeSet<i64>> = BTreeMap::new();
    for row in query(&s, "crashdb", "SELECT n, i FROM crash") {
        let (t, n, i) = (
            row[0].as_i64().unwrap(),
            row[1].as_u64().unwrap(),
            row[2].as_i64().unwrap(),
        );
        assert_eq!(t, t0 + i64::try_from(n).unwrap() * 1_000_000 + i, "{row:?}");
        assert!(present.entry(n).or_default().insert(i), "{row:?} twice");
    }
    let whole: BTreeSet<i64> = (0..LINES).collect();
    for k in &acked_batches {
        assert_eq!(
            present.get(k),
            Some(&whole),
            "acknowledged batch {k} missing or incomplete"
        );
    }
    for (k, is) in &present {
        assert_eq!(is, &whole, "batch {k} is half-there");
        assert!(
            acked_batches.contains(k) || in_flight_batches.contains(k),
            "batch {k} was never sent"
        );
    }
    let landed_unacked = present.len() - acked_batches.len();

    // The agent: every sample went out in order until answered, so samples 0..next are all
    // acknowledged now, and each must have left exactly one point per measurement.
    let want: BTreeSet<u64> = (0..a.next).collect();
    assert_eq!(acked_samples, want);
    let at = |s: u64| sample_time(a.d0, s) * 1_000_000_000;
    let id = &a.id;
    let cpu = query(
        &s,
        "openwisp2",
        &format!("SELECT load_1 FROM cpu WHERE object_id = '{id}'"),
    );
    let cpu_times: Vec<i64> = cpu.iter().map(|r| r[0].as_i64().unwrap()).collect();
    let want_times: Vec<i64> = want.iter().map(|&s| at(s)).collect();
    assert_eq!(cpu_times, want_times, "cpu points ≠ acknowledged samples");
    for (row, &s) in cpu.iter().zip(&want) {
        let load = row[1].as_f64().unwrap();
        assert!((load - load_1(s)).abs() < 1e-9, "sample {s}: {row:?}");
    }
    let memory = query(
        &s,
        "openwisp2",
        &format!("SELECT free_memory FROM memory WHERE object_id = '{id}'"),
    );
    let memory: Vec<(i64, u64)> = memory
        .iter()
        .map(|r| (r[0].as_i64().unwrap(), r[1].as_u64().unwrap()))
        .collect();
    let want_memory: Vec<(i64, u64)> = want.iter().map(|&s| (at(s), 100_000_000 + s)).collect();
    assert_eq!(memory, want_memory, "memory points ≠ acknowledged samples");
    let snapshots = query(
        &s,
        "openwisp2",
        &format!("SELECT count(data) FROM short.device_data WHERE pk = '{id}'"),
    );
    assert_eq!(
        snapshots[0][1],
        json!(want.len()),
        "snapshots ≠ acknowledged samples"
    );
    // Traffic: one point per sample after the first (whose predecessor is unknown), each
    // exactly one step — a retried sample counted twice, or a lost predecessor's counters,
    // would show here as a double step or the lifetime counter.
    let traffic = query(
        &s,
        "openwisp2",
        &format!(
            "SELECT rx_bytes, tx_bytes FROM traffic WHERE object_id = '{id}' AND ifname = 'eth0'"
        ),
    );
    let traffic: Vec<(i64, u64, u64)> = traffic
        .iter()
        .map(|r| {
            (
                r[0].as_i64().unwrap(),
                r[1].as_u64().unwrap(),
                r[2].as_u64().unwrap(),
            )
        })
        .collect();
    let want_traffic: Vec<(i64, u64, u64)> = want
        .iter()
        .skip(1)
        .map(|&s| (at(s), RX_STEP, TX_STEP))
        .collect();
    assert_eq!(traffic, want_traffic, "traffic ≠ one step per sample");

    eprintln!(
        "{ROUNDS} crashes in {:.1} s: {} batches acknowledged, {} in flight at a kill of which \
         {landed_unacked} landed (whole); {} samples acknowledged, {} of them after a retry \
         ({pre_stored} of those already stored)",
        started.elapsed().as_secs_f64(),
        acked_batches.len(),
        in_flight_batches.len(),
        want.len(),
        a.retried.len(),
    );
}
