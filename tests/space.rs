//! Space comes back: dropping data shrinks the data directory on a real sled database.

#![allow(clippy::unwrap_used)] // a test: a panic is a failure

use std::sync::Arc;

use wispmon::config::StorageConfig;
use wispmon::storage::{FieldValue, Point, Storage, WriteBatch, dir_size};
use wispmon::time::SystemClock;

fn fill(s: &Storage, db: &str, n: i64) {
    let e = s.engine();
    e.create_database(db).unwrap();
    for batch in 0..n {
        let points = (0..1000)
            .map(|i| Point {
                measurement: "m".into(),
                tags: vec![("host".into(), format!("h{}", i % 100))],
                fields: vec![(
                    "v".into(),
                    FieldValue::Float(((batch * 1000 + i) % 977) as f64 * 1.37),
                )],
                time: 1_767_225_600_000_000_000 + batch * 300_000_000_000 + i,
            })
            .collect();
        e.write(WriteBatch {
            database: db.into(),
            retention_policy: None,
            points,
        })
        .unwrap();
    }
    e.seal().unwrap();
}

#[test]
fn dropping_a_database_gives_its_space_back() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StorageConfig::default();
    let s = Storage::open(dir.path(), &cfg, Arc::new(SystemClock)).unwrap();
    fill(&s, "keep", 20);
    let small = dir_size(dir.path());
    fill(&s, "big", 400);
    s.close().unwrap();
    let full = dir_size(dir.path());
    let s = Storage::open(dir.path(), &cfg, Arc::new(SystemClock)).unwrap();
    s.engine().drop_database("big").unwrap();
    // sled reclaims segments as later writes go on; keep writing to the surviving database.
    fill(&s, "keep", 20);
    s.close().unwrap();
    let after = dir_size(dir.path());
    // sled reuses the freed space: writing as much again does not grow the directory.
    let s = Storage::open(dir.path(), &cfg, Arc::new(SystemClock)).unwrap();
    fill(&s, "keep", 100);
    s.close().unwrap();
    let reused = dir_size(dir.path());
    assert!(
        reused <= after + after / 10,
        "after drop {after}, after rewriting {reused}"
    );
    // And `wispmon vacuum` returns it to the file system.
    let (before, vacuumed) = Storage::vacuum(dir.path(), &cfg).unwrap();
    eprintln!(
        "small {small} full {full} after drop {after} reused {reused} vacuum {before} -> {vacuumed}"
    );
    assert!(vacuumed < full / 3, "full {full}, vacuumed {vacuumed}");
    let s = Storage::open(dir.path(), &cfg, Arc::new(SystemClock)).unwrap();
    assert_eq!(s.engine().databases(), ["keep"]);
    let ids = s.engine().series_of("keep", "m").unwrap();
    assert_eq!(ids.len(), 100);
    let c = s
        .engine()
        .read("keep", None, ids[0], "v", i64::MIN, i64::MAX)
        .unwrap()
        .unwrap();
    assert_eq!(
        c.len(),
        1000, // `fill` rewrites the same timestamps: 100 batches x 10 points per host
        "every batch of the kept database is still there"
    );
    s.close().unwrap();
}

#[test]
fn an_interrupted_vacuum_is_finished_or_undone_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StorageConfig::default();
    let s = Storage::open(dir.path(), &cfg, Arc::new(SystemClock)).unwrap();
    fill(&s, "keep", 3);
    s.close().unwrap();
    let db = dir.path().join("db");
    // Cut between the renames, with the fresh copy complete.
    std::fs::rename(&db, dir.path().join("db.old")).unwrap();
    copy_dir(&dir.path().join("db.old"), &dir.path().join("db.vacuum"));
    let s = Storage::open(dir.path(), &cfg, Arc::new(SystemClock)).unwrap();
    assert_eq!(s.engine().databases(), ["keep"]);
    s.close().unwrap();
    assert!(!dir.path().join("db.old").exists() && !dir.path().join("db.vacuum").exists());
    // Cut before the copy finished: the original comes back.
    std::fs::rename(&db, dir.path().join("db.old")).unwrap();
    let s = Storage::open(dir.path(), &cfg, Arc::new(SystemClock)).unwrap();
    assert_eq!(s.engine().databases(), ["keep"]);
    s.close().unwrap();
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}
