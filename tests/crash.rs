//! kill -9 a process writing through the engine at random moments, restart, and check that
//! every acknowledged batch is there in full and nothing unacknowledged is half-there.

#![allow(clippy::unwrap_used)] // a test: a panic is a failure

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wispmon::config::{ByteSize, StorageConfig};
use wispmon::storage::{ColumnValues, Storage};
use wispmon::time::SystemClock;

const LOAD: &str = env!("CARGO_BIN_EXE_wispmon-load");
/// Must match `crash_batch` in src/bin/wispmon-load.rs: batch n = 50 points of series
/// `crash,writer=w{n%8}` at START + n ms + i ns with fields n = n and i = i.
const START_NS: i64 = 1_767_225_600 * 1_000_000_000;

/// Runs the writer until it has acknowledged a few batches past `min_acks`, then SIGKILLs it
/// after a pseudo-random extra delay; returns the highest acknowledged batch.
fn run_and_kill(dir: &std::path::Path, start: u64, delay_ms: u64) -> Option<u64> {
    let mut child = Command::new(LOAD)
        .args(["crash-writer", "--data-dir"])
        .arg(dir)
        .args(["--start", &start.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if let Some(n) = line
                .strip_prefix("ack ")
                .and_then(|n| n.parse::<u64>().ok())
            {
                if tx.send(n).is_err() {
                    break;
                }
            }
        }
    });
    // Wait for the first acknowledgement (the writer is up), then kill after `delay_ms`.
    let first = rx.recv_timeout(Duration::from_secs(30)).ok();
    let deadline = Instant::now() + Duration::from_millis(delay_ms);
    let mut last = first;
    while Instant::now() < deadline {
        if let Ok(n) = rx.recv_timeout(Duration::from_millis(1)) {
            last = Some(n);
        }
    }
    let ok = Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let _ = child.wait();
    // Acks already printed before the kill still count: they were durable when printed.
    while let Ok(n) = rx.recv_timeout(Duration::from_millis(50)) {
        last = Some(n);
    }
    last
}

fn check(dir: &std::path::Path, acked_through: u64) -> u64 {
    let cfg = StorageConfig {
        cache_capacity: ByteSize(8 << 20),
        ..StorageConfig::default()
    };
    let storage = Storage::open(dir, &cfg, Arc::new(SystemClock)).unwrap();
    assert!(storage.previous_run_was_unclean());
    let e = storage.engine().clone();
    let mut present = std::collections::BTreeMap::<u64, usize>::new();
    for s in e.series_of("crash", "crash").unwrap() {
        let c = e
            .read("crash", None, s, "n", i64::MIN, i64::MAX)
            .unwrap()
            .unwrap();
        let ColumnValues::Integer(ns) = c.values else {
            panic!()
        };
        for (t, n) in c.ts.iter().zip(ns) {
            let n = n as u64;
            assert_eq!(
                (t - START_NS) / 1_000_000,
                n as i64,
                "point of batch {n} at wrong time"
            );
            *present.entry(n).or_default() += 1;
        }
        let ci = e
            .read("crash", None, s, "i", i64::MIN, i64::MAX)
            .unwrap()
            .unwrap();
        assert_eq!(ci.ts, c.ts, "fields n and i of one point travel together");
    }
    for n in 0..=acked_through {
        assert_eq!(
            present.get(&n).copied(),
            Some(50),
            "acknowledged batch {n} incomplete or missing"
        );
    }
    // At most the one batch in flight may be there beyond the acks, and only in full.
    let beyond: Vec<_> = present
        .iter()
        .filter(|(n, _)| **n > acked_through)
        .collect();
    assert!(beyond.len() <= 1, "{beyond:?}");
    for (n, count) in beyond {
        assert_eq!(*count, 50, "batch {n} is half-there");
    }
    assert!(e.verify().unwrap().is_empty());
    let last = present.keys().next_back().copied().unwrap_or(0);
    storage.close().unwrap();
    last
}

#[test]
fn acknowledged_batches_survive_kill_9_in_every_round() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut next = 0u64;
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for round in 0..20 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = 20 + seed % 300;
        let acked = run_and_kill(&data, next, delay)
            .unwrap_or_else(|| panic!("round {round}: the writer acknowledged nothing"));
        let last = check(&data, acked);
        next = last + 1;
    }
}
