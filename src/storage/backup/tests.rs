use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::*;
use crate::storage::{FieldValue, Point, Storage, WriteBatch};
use crate::time::{Clock, SharedClock, SystemClock};

/// A record type of the tests' own.
#[derive(Debug, Clone, PartialEq, bincode::Encode, bincode::Decode)]
struct Note {
    n: u64,
}

impl Record for Note {
    const TREE: &'static str = "test_notes";
    const VERSION: u8 = 1;
}

fn cfg() -> StorageConfig {
    StorageConfig {
        cache_capacity: crate::config::ByteSize(4 << 20),
        ..StorageConfig::default()
    }
}

fn clock() -> SharedClock {
    Arc::new(SystemClock)
}

fn t0() -> i64 {
    // Recent, so the default retention keeps it; whole seconds for readable failures.
    (SystemClock.now().as_nanos() / 1_000_000_000 - 3600) * 1_000_000_000
}

fn write(s: &Storage, t0: i64, i: u64) {
    let out = s
        .engine()
        .write(WriteBatch {
            database: "db".into(),
            retention_policy: None,
            points: vec![Point {
                measurement: "m".into(),
                tags: vec![("host".into(), "a".into())],
                fields: vec![("v".into(), FieldValue::Integer(i as i64))],
                time: t0 + i as i64 * 1000,
            }],
        })
        .unwrap();
    assert_eq!(out.written, 1);
}

/// Every value of the series, in time order.
fn values(s: &Storage) -> Vec<i64> {
    let e = s.engine();
    let ids = e.series_of("db", "m").unwrap();
    let mut out = Vec::new();
    for id in ids {
        if let Some(c) = e.read("db", None, id, "v", i64::MIN, i64::MAX).unwrap() {
            match c.values {
                crate::storage::ColumnValues::Integer(v) => out.extend(v),
                other => panic!("{other:?}"),
            }
        }
    }
    out
}

fn notes(s: &Storage) -> Vec<u64> {
    let mut out: Vec<u64> = s
        .records()
        .list::<Note>()
        .unwrap()
        .into_iter()
        .map(|(_, n)| n.n)
        .collect();
    out.sort_unstable();
    out
}

fn backup_bytes(s: &Storage) -> (Vec<u8>, BackupSummary) {
    let mut buf = Vec::new();
    let sum = s.backup(&mut buf).unwrap();
    assert_eq!(sum.file_bytes, buf.len() as u64);
    (buf, sum)
}

#[test]
fn sealed_blocks_unsealed_log_and_records_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let s = Storage::open(&dir.path().join("a"), &cfg(), clock()).unwrap();
    s.engine().create_database("db").unwrap();
    let t0 = t0();
    for i in 0..300 {
        write(&s, t0, i);
    }
    s.engine().seal().unwrap(); // these are blocks now
    for i in 300..500 {
        write(&s, t0, i); // these only in the log and the head
    }
    for n in 0..50u64 {
        s.records().put(&n.to_be_bytes(), &Note { n }).unwrap();
    }
    let (buf, sum) = backup_bytes(&s);
    assert!(sum.log_bytes > 0, "{sum:?}");
    assert!(sum.entries > 50, "{sum:?}");
    // The source goes on working after a backup.
    write(&s, t0, 500);
    s.close().unwrap();

    let b = dir.path().join("b");
    let rsum = Storage::restore(&mut buf.as_slice(), &b, &cfg()).unwrap();
    assert_eq!((rsum.entries, rsum.log_bytes), (sum.entries, sum.log_bytes));
    let r = Storage::open(&b, &cfg(), clock()).unwrap();
    assert!(!r.previous_run_was_unclean());
    assert_eq!(values(&r), (0..500).collect::<Vec<i64>>());
    assert_eq!(notes(&r), (0..50).collect::<Vec<u64>>());
    r.close().unwrap();
}

#[test]
fn a_backup_taken_under_writes_and_seals_is_one_instant() {
    let dir = tempfile::tempdir().unwrap();
    let s = Arc::new(Storage::open(&dir.path().join("a"), &cfg(), clock()).unwrap());
    s.engine().create_database("db").unwrap();
    let t0 = t0();
    let acked = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    // One writer: point i, then record i. At any instant the records are a prefix of the
    // points, and both are prefixes of 0, 1, 2, ...
    let writer = {
        let (s, acked, stop) = (s.clone(), acked.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                write(&s, t0, i);
                s.records().put(&i.to_be_bytes(), &Note { n: i }).unwrap();
                i += 1;
                acked.store(i, Ordering::SeqCst);
            }
        })
    };
    let sealer = {
        let (s, stop) = (s.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                s.engine().seal().unwrap();
                std::thread::yield_now();
            }
        })
    };
    while acked.load(Ordering::SeqCst) < 200 {
        std::thread::yield_now();
    }
    let mut backups = Vec::new();
    for _ in 0..3 {
        let before = acked.load(Ordering::SeqCst);
        let (buf, _) = backup_bytes(&s);
        backups.push((before, buf));
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    sealer.join().unwrap();
    let total = acked.load(Ordering::SeqCst);

    for (k, (before, buf)) in backups.into_iter().enumerate() {
        let d = dir.path().join(format!("r{k}"));
        Storage::restore(&mut buf.as_slice(), &d, &cfg()).unwrap();
        let r = Storage::open(&d, &cfg(), clock()).unwrap();
        let v = values(&r);
        let n = notes(&r);
        let points = v.len() as u64;
        assert_eq!(
            v,
            (0..points as i64).collect::<Vec<_>>(),
            "points are a prefix"
        );
        assert_eq!(
            n,
            (0..n.len() as u64).collect::<Vec<_>>(),
            "records are a prefix"
        );
        assert!(
            points >= before,
            "acknowledged before the backup began: {before}, got {points}"
        );
        assert!(points <= total);
        assert!(
            n.len() as u64 == points || n.len() as u64 + 1 == points,
            "records {} against points {points}: not one instant",
            n.len()
        );
        r.close().unwrap();
    }
    Arc::try_unwrap(s).unwrap().close().unwrap();
}

#[test]
fn damaged_or_cut_off_files_restore_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = Storage::open(&dir.path().join("a"), &cfg(), clock()).unwrap();
    s.engine().create_database("db").unwrap();
    let t0 = t0();
    for i in 0..100 {
        write(&s, t0, i);
    }
    let (buf, _) = backup_bytes(&s);
    s.close().unwrap();

    let restore = |bytes: &[u8], name: &str| {
        let d = dir.path().join(name);
        let e = Storage::restore(&mut &bytes[..], &d, &cfg()).unwrap_err();
        assert!(!d.join("db").exists() && !d.join("wal").exists(), "{name}");
        assert!(!d.join("db.restoring").exists(), "{name}");
        e.to_string()
    };
    let e = restore(&buf[..buf.len() - 10], "cut");
    assert!(e.contains("cut-off"), "{e}");
    let mut flipped = buf.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x40;
    let e = restore(&flipped, "flipped");
    assert!(
        e.contains("checksum") || e.contains("damaged") || e.contains("frame"),
        "{e}"
    );
    let e = restore(b"not a backup at all, just text", "text");
    assert!(e.contains("not a wispmon backup"), "{e}");
    let e = restore(b"", "empty");
    assert!(e.contains("too short"), "{e}");

    // A crafted log frame naming a path outside the log directory.
    let mut crafted = buf[..MAGIC.len() + 8].to_vec();
    {
        let mut w = FrameWriter {
            out: &mut crafted,
            bytes: 0,
            body: Vec::new(),
        };
        let name = b"../../etc/passwd.wal";
        w.body.extend_from_slice(&(name.len() as u16).to_le_bytes());
        w.body.extend_from_slice(name);
        w.body.extend_from_slice(b"x");
        w.frame(KIND_LOG).unwrap();
    }
    let e = restore(&crafted, "crafted");
    assert!(e.contains("segment name"), "{e}");

    // An existing database is never overwritten.
    let e = Storage::restore(&mut buf.as_slice(), &dir.path().join("a"), &cfg()).unwrap_err();
    assert!(e.to_string().contains("already exists"), "{e}");
}

#[test]
fn verify_accepts_a_whole_backup_and_refuses_a_cut_one() {
    let dir = tempfile::tempdir().unwrap();
    let s = Storage::open(&dir.path().join("a"), &cfg(), clock()).unwrap();
    s.engine().create_database("db").unwrap();
    write(&s, t0(), 1);
    let (buf, sum) = backup_bytes(&s);
    s.close().unwrap();
    assert_eq!(Storage::verify_backup(&mut buf.as_slice()).unwrap(), sum);
    assert!(Storage::verify_backup(&mut &buf[..buf.len() - 1]).is_err());
}
