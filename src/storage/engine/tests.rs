use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::storage::hot::HotBlock;
use crate::storage::kv::MemKv;
use crate::storage::rollup::Part;
use crate::time::{MockClock, Timestamp};

const S: i64 = 1_000_000_000;
const T0: i64 = 1_700_000_000 * S;

fn clock_at(t: i64) -> Arc<MockClock> {
    Arc::new(MockClock::new(Timestamp::from_nanos(t)))
}

fn cfg() -> EngineConfig {
    EngineConfig {
        background: false,
        max_points_per_block: 64,
        ..EngineConfig::default()
    }
}

/// A backend and a log that outlive engines, so dropping an engine and opening another over
/// the same `Disk` is a crash and restart.
#[derive(Clone)]
struct Disk {
    kv: Arc<dyn Kv>,
    wal: Wal,
}

impl Disk {
    fn new() -> Self {
        Disk {
            kv: Arc::new(MemKv::default()),
            wal: Wal::memory(),
        }
    }
    fn range(
        &self,
        tree: &str,
        r: (Bound<Vec<u8>>, Bound<Vec<u8>>),
    ) -> Result<crate::storage::kv::KvIter<'_>, KvError> {
        self.kv.range(tree, r)
    }
    fn insert(&self, tree: &str, k: &[u8], v: &[u8]) -> Result<(), KvError> {
        self.kv.insert(tree, k, v)
    }
}

fn open_with(d: &Disk, cfg: EngineConfig, clock: Arc<MockClock>) -> Engine {
    Engine::open(
        d.kv.clone(),
        d.wal.clone(),
        d.wal.replay_memory(),
        cfg,
        clock,
        false,
    )
    .unwrap()
}

fn open(d: &Disk, clock: Arc<MockClock>) -> Engine {
    open_with(d, cfg(), clock)
}

fn fresh() -> (Disk, Engine) {
    let kv = Disk::new();
    let e = open(&kv, clock_at(T0));
    e.create_database("db").unwrap();
    (kv, e)
}

fn pt(m: &str, tags: &[(&str, &str)], fields: Vec<(&str, FieldValue)>, t: i64) -> Point {
    Point {
        measurement: m.into(),
        tags: tags
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect(),
        fields: fields.into_iter().map(|(k, v)| (k.into(), v)).collect(),
        time: t,
    }
}

fn write(e: &Engine, points: Vec<Point>) -> WriteOutcome {
    e.write(WriteBatch {
        database: "db".into(),
        retention_policy: None,
        points,
    })
    .unwrap()
}

fn series(e: &Engine, m: &str, host: &str) -> SeriesId {
    let ids = e.series_with_tag("db", m, "host", host).unwrap();
    assert_eq!(
        ids,
        e.series_where_tag("db", m, "host", &|v| v == host).unwrap()
    );
    ids[0]
}

fn floats(e: &Engine, s: SeriesId, f: &str) -> Vec<(i64, f64)> {
    match e.read("db", None, s, f, i64::MIN, i64::MAX).unwrap() {
        None => vec![],
        Some(c) => match c.values {
            ColumnValues::Float(v) => c.ts.into_iter().zip(v).collect(),
            other => panic!("not floats: {other:?}"),
        },
    }
}

#[test]
fn same_series_and_time_merge_field_by_field_and_microseconds_stay_apart() {
    let (_, e) = fresh();
    write(
        &e,
        vec![pt(
            "cpu",
            &[("host", "a")],
            vec![("x", FieldValue::Float(1.0)), ("y", FieldValue::Float(2.0))],
            T0,
        )],
    );
    write(
        &e,
        vec![pt(
            "cpu",
            &[("host", "a")],
            vec![("y", FieldValue::Float(3.0))],
            T0,
        )],
    );
    write(
        &e,
        vec![pt(
            "cpu",
            &[("host", "a")],
            vec![("x", FieldValue::Float(9.0))],
            T0 + 1_000,
        )],
    );
    let s = series(&e, "cpu", "a");
    assert_eq!(floats(&e, s, "x"), [(T0, 1.0), (T0 + 1_000, 9.0)]);
    assert_eq!(floats(&e, s, "y"), [(T0, 3.0)]);
    e.seal().unwrap();
    assert_eq!(floats(&e, s, "x"), [(T0, 1.0), (T0 + 1_000, 9.0)]);
    assert_eq!(floats(&e, s, "y"), [(T0, 3.0)]);
    // Overwrite after sealing: the head wins over the block, then the seal keeps the new value.
    write(
        &e,
        vec![pt(
            "cpu",
            &[("host", "a")],
            vec![("y", FieldValue::Float(4.0))],
            T0,
        )],
    );
    assert_eq!(floats(&e, s, "y"), [(T0, 4.0)]);
    e.seal().unwrap();
    assert_eq!(floats(&e, s, "y"), [(T0, 4.0)]);
}

#[test]
fn field_type_conflict_refuses_the_whole_point_only() {
    let (_, e) = fresh();
    write(
        &e,
        vec![pt("m", &[], vec![("f", FieldValue::Float(1.0))], T0)],
    );
    let out = write(
        &e,
        vec![
            pt(
                "m",
                &[],
                vec![("f", FieldValue::Integer(1)), ("g", FieldValue::Float(1.0))],
                T0 + 1,
            ),
            pt("m", &[], vec![("f", FieldValue::Float(2.0))], T0 + 2),
            // Within one batch, the first point fixes the type of a new field.
            pt("m", &[], vec![("h", FieldValue::Boolean(true))], T0 + 3),
            pt(
                "m",
                &[],
                vec![("h", FieldValue::String("x".into()))],
                T0 + 4,
            ),
        ],
    );
    assert_eq!(out.written, 2);
    assert_eq!(out.rejected.len(), 2);
    assert_eq!(
        out.rejected[0].1.to_string(),
        "field type conflict: input field \"f\" on measurement \"m\" is type integer, already exists as type float"
    );
    assert_eq!(out.rejected[1].0, 3);
    // Nothing of the refused point was stored: not even its other, new field.
    let keys: Vec<String> = e
        .field_keys("db", "m")
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, ["f", "h"]);
}

#[test]
fn unknown_database_and_policy_are_errors() {
    let (_, e) = fresh();
    let err = e
        .write(WriteBatch {
            database: "nope".into(),
            retention_policy: None,
            points: vec![pt("m", &[], vec![("f", FieldValue::Float(1.0))], T0)],
        })
        .unwrap_err();
    assert_eq!(err.to_string(), "database not found: \"nope\"");
    let err = e
        .write(WriteBatch {
            database: "db".into(),
            retention_policy: Some("weekly".into()),
            points: vec![pt("m", &[], vec![("f", FieldValue::Float(1.0))], T0)],
        })
        .unwrap_err();
    assert_eq!(err.to_string(), "retention policy not found: weekly");
}

#[test]
fn points_survive_reboot_without_seal_and_after_seal() {
    let kv = Disk::new();
    let e = open(&kv, clock_at(T0));
    e.create_database("db").unwrap();
    write(
        &e,
        vec![pt(
            "cpu",
            &[("host", "a")],
            vec![("x", FieldValue::Float(1.0))],
            T0,
        )],
    );
    drop(e); // a crash: no seal, no close
    let e = open(&kv, clock_at(T0));
    let s = series(&e, "cpu", "a");
    assert_eq!(floats(&e, s, "x"), [(T0, 1.0)]);
    write(
        &e,
        vec![pt(
            "cpu",
            &[("host", "a")],
            vec![("x", FieldValue::Float(2.0))],
            T0 + S,
        )],
    );
    e.seal().unwrap();
    assert!(kv.wal.replay_memory().is_empty());
    drop(e);
    let e = open(&kv, clock_at(T0));
    let s2 = series(&e, "cpu", "a");
    assert_eq!(s, s2, "series ids are stable across reboots");
    assert_eq!(floats(&e, s, "x"), [(T0, 1.0), (T0 + S, 2.0)]);
}

#[test]
fn seal_merges_appends_into_few_blocks_and_splits_at_the_limit() {
    let (kv, e) = fresh();
    for round in 0..10 {
        let points = (0..20)
            .map(|i| {
                let t = T0 + (round * 20 + i) * 300 * S;
                pt(
                    "ping",
                    &[("host", "a")],
                    vec![("rtt", FieldValue::Float(i as f64))],
                    t,
                )
            })
            .collect();
        write(&e, points);
        e.seal().unwrap();
    }
    let s = series(&e, "ping", "a");
    assert_eq!(floats(&e, s, "rtt").len(), 200);
    let blocks = kv
        .range(BLOCKS, (Bound::Unbounded, Bound::Unbounded))
        .unwrap()
        .count();
    // 200 points, at most 64 per block: 4 blocks, not one per seal (10) or more.
    assert!(blocks <= 5, "{blocks} blocks");
    assert!(e.verify().unwrap().is_empty());
}

#[test]
fn beyond_retention_is_refused_and_expired_shards_are_dropped() {
    let kv = Disk::new();
    let clock = clock_at(T0);
    let e = open(&kv, clock.clone());
    e.create_database("db").unwrap();
    e.create_retention_policy("db", "short", 24 * HOUR, None, 1, true)
        .unwrap();
    let out = write(
        &e,
        vec![
            pt(
                "m",
                &[],
                vec![("f", FieldValue::Float(1.0))],
                T0 - 25 * HOUR,
            ),
            pt("m", &[], vec![("f", FieldValue::Float(2.0))], T0 - HOUR),
        ],
    );
    assert_eq!(out.written, 1);
    assert_eq!(out.rejected, [(0, PointRejection::BeyondRetention)]);
    e.seal().unwrap();
    assert_eq!(e.enforce_retention().unwrap(), 0);
    let s = e.series_of("db", "m").unwrap()[0];
    assert_eq!(floats(&e, s, "f").len(), 1);
    clock.advance(std::time::Duration::from_secs(26 * 3600));
    assert_eq!(e.enforce_retention().unwrap(), 1);
    assert_eq!(floats(&e, s, "f").len(), 0);
    assert_eq!(
        kv.range(BLOCKS, (Bound::Unbounded, Bound::Unbounded))
            .unwrap()
            .count(),
        0
    );
    assert!(
        e.database("db")
            .unwrap()
            .rp(None)
            .unwrap()
            .shards
            .is_empty()
    );
}

#[test]
fn delete_drop_series_measurement_and_database_remove_blocks() {
    let (kv, e) = fresh();
    for host in ["a", "b"] {
        write(
            &e,
            (0..10)
                .map(|i| {
                    pt(
                        "cpu",
                        &[("host", host)],
                        vec![("x", FieldValue::Float(i as f64))],
                        T0 + i * S,
                    )
                })
                .collect(),
        );
    }
    write(
        &e,
        vec![pt(
            "mem",
            &[("host", "a")],
            vec![("x", FieldValue::Integer(1))],
            T0,
        )],
    );
    e.seal().unwrap();
    let a = series(&e, "cpu", "a");
    let b = series(&e, "cpu", "b");
    e.delete_range("db", &[a], T0 + 2 * S, T0 + 7 * S).unwrap();
    let left: Vec<i64> = floats(&e, a, "x")
        .into_iter()
        .map(|(t, _)| (t - T0) / S)
        .collect();
    assert_eq!(left, [0, 1, 8, 9]);
    assert_eq!(floats(&e, b, "x").len(), 10);
    e.drop_series("db", &[b]).unwrap();
    assert!(e.series_info(b).is_none());
    assert_eq!(e.tag_values("db", "cpu", "host").unwrap(), ["a"]);
    e.drop_measurement("db", "cpu").unwrap();
    assert_eq!(e.measurements("db").unwrap(), ["mem"]);
    assert!(e.field_keys("db", "cpu").unwrap().is_empty());
    e.drop_database("db").unwrap();
    assert_eq!(
        kv.range(BLOCKS, (Bound::Unbounded, Bound::Unbounded))
            .unwrap()
            .count(),
        0
    );
    assert_eq!(
        kv.range(SeriesRecord::TREE, (Bound::Unbounded, Bound::Unbounded))
            .unwrap()
            .count(),
        0
    );
    assert!(e.databases().is_empty());
    // A dropped database stays dropped after a reboot.
    drop(e);
    let e = open(&kv, clock_at(T0));
    assert!(e.databases().is_empty());
}

#[test]
fn corrupted_block_is_reported_with_its_key_not_served() {
    let (kv, e) = fresh();
    write(
        &e,
        (0..50)
            .map(|i| {
                pt(
                    "m",
                    &[("host", "a")],
                    vec![("f", FieldValue::Float(i as f64 * 0.5))],
                    T0 + i * S,
                )
            })
            .collect(),
    );
    e.seal().unwrap();
    let (k, mut v) = kv
        .range(BLOCKS, (Bound::Unbounded, Bound::Unbounded))
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    // A byte inside the codec block (after its 4-byte length).
    v[12] ^= 0x10;
    kv.insert(BLOCKS, &k, &v).unwrap();
    let s = series(&e, "m", "a");
    let err = e.read("db", None, s, "f", i64::MIN, i64::MAX).unwrap_err();
    assert!(matches!(err, StorageError::Corrupted { .. }), "{err}");
    assert!(err.to_string().contains(&hex_key(&k)), "{err}");
    let bad = e.verify().unwrap();
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].key, hex_key(&k));
}

#[test]
fn a_full_head_with_a_stalled_sealer_refuses_writes_then_recovers_losing_nothing() {
    let d = Disk::new();
    let c = EngineConfig {
        background: true,
        head_memory_limit: 16 << 10,
        head_wait: Duration::from_millis(300),
        ..cfg()
    };
    let e = open_with(&d, c, clock_at(T0));
    e.create_database("db").unwrap();
    let batch = |n: i64| WriteBatch {
        database: "db".into(),
        retention_policy: None,
        points: (0..50)
            .map(|i| {
                pt(
                    "m",
                    &[("host", "a")],
                    vec![("v", FieldValue::Float(1.0))],
                    T0 - (n * 50 + i) * S,
                )
            })
            .collect(),
    };
    // The sealer cannot seal while this is held: the head only grows.
    let stall = e.shared.seal_lock.lock();
    let mut acknowledged = 0;
    let refusal = loop {
        match e.write(batch(acknowledged)) {
            Ok(_) => acknowledged += 1,
            Err(err) => break err,
        }
        assert!(acknowledged < 10_000, "the head grew without bound");
    };
    assert!(
        matches!(&refusal, StorageError::WriteFailed(m) if m.contains("memory limit")),
        "{refusal}"
    );
    assert!(
        e.stats().head_bytes <= 2 * (16 << 10) + (16 << 10),
        "{:?}",
        e.stats()
    );
    drop(stall);
    // Sealing catches up and writers are let in again.
    e.write(batch(acknowledged)).unwrap();
    let s = series(&e, "m", "a");
    assert_eq!(floats(&e, s, "v").len() as i64, (acknowledged + 1) * 50);
    // And after a crash, exactly the acknowledged points are there.
    drop(e);
    let e = open(&d, clock_at(T0));
    assert_eq!(floats(&e, s, "v").len() as i64, (acknowledged + 1) * 50);
}

#[test]
fn recent_window_reads_see_long_and_late_blocks_of_a_new_shard() {
    let (_d, e) = fresh();
    let p = |t: i64, v: f64| {
        pt(
            "m",
            &[("host", "a")],
            vec![("v", FieldValue::Float(v))],
            T0 + t * S,
        )
    };
    // A shard created by this engine: its spans are tracked from the first block.
    write(&e, (0..100).map(|t| p(t, t as f64)).collect());
    e.seal().unwrap();
    write(&e, vec![p(3600, 1.0)]);
    e.seal().unwrap();
    // One seal holding a point far back and one far ahead: a block spanning 6,800 s.
    write(&e, vec![p(200, 2.0), p(7000, 3.0)]);
    e.seal().unwrap();
    // A late point inside the first block, and appends after the last.
    write(&e, vec![p(50, 50.5)]);
    e.seal().unwrap();
    for t in 7001..7010 {
        write(&e, vec![p(t, 4.0)]);
        e.seal().unwrap();
    }
    let s = series(&e, "m", "a");
    let window = |lo: i64, hi: i64| -> Vec<i64> {
        match e
            .read("db", None, s, "v", T0 + lo * S, T0 + hi * S)
            .unwrap()
        {
            None => vec![],
            Some(c) => c.ts.iter().map(|t| (t - T0) / S).collect(),
        }
    };
    assert_eq!(window(6900, 7100), (7000..7010).collect::<Vec<_>>());
    assert_eq!(window(3000, 4000), vec![3600]);
    assert_eq!(window(45, 55), (45..56).collect::<Vec<_>>());
    assert_eq!(window(150, 250), vec![200]);
    assert_eq!(floats(&e, s, "v").len(), 100 + 1 + 2 + 9);
    // After compaction too (blocks rewritten, spans grown with them).
    e.compact_shards(i64::MAX).unwrap();
    assert_eq!(window(6900, 7100), (7000..7010).collect::<Vec<_>>());
    assert_eq!(window(150, 250), vec![200]);
    let agg = e
        .aggregate(
            "db",
            None,
            s,
            "v",
            T0 + 7000 * S,
            T0 + 7010 * S - 1,
            HOUR,
            0,
        )
        .unwrap()
        .unwrap();
    assert_eq!(agg.counts.iter().sum::<u64>(), 10);
}

#[test]
fn series_limit_refuses_new_series() {
    let kv = Disk::new();
    let e = open_with(
        &kv,
        EngineConfig {
            max_series_per_database: 2,
            ..cfg()
        },
        clock_at(T0),
    );
    e.create_database("db").unwrap();
    let out = write(
        &e,
        ["a", "b", "c"]
            .iter()
            .map(|h| pt("m", &[("host", h)], vec![("f", FieldValue::Float(1.0))], T0))
            .collect(),
    );
    assert_eq!(out.written, 2);
    assert_eq!(
        out.rejected[0].1.to_string(),
        "max-series-per-database limit exceeded: (2)"
    );
}

#[test]
fn retention_policies_follow_influxdb_rules() {
    let (_, e) = fresh();
    e.create_retention_policy("db", "short", 24 * HOUR, None, 1, false)
        .unwrap();
    // Same again: a no-op; different settings: a conflict.
    e.create_retention_policy("db", "short", 24 * HOUR, None, 1, false)
        .unwrap();
    assert!(matches!(
        e.create_retention_policy("db", "short", 48 * HOUR, None, 1, false),
        Err(StorageError::RetentionPolicyConflict)
    ));
    assert!(
        e.create_retention_policy("db", "tiny", 60 * S, None, 1, false)
            .is_err()
    );
    e.alter_retention_policy("db", "autogen", Some(26280 * HOUR), None, None, false)
        .unwrap();
    let d = e.database("db").unwrap();
    assert_eq!(d.default_rp.as_deref(), Some("autogen"));
    assert_eq!(d.rp(Some("short")).unwrap().shard_duration_ns, HOUR);
    assert_eq!(d.rp(None).unwrap().duration_ns, 26280 * HOUR);
    e.drop_retention_policy("db", "short").unwrap();
    assert!(e.database("db").unwrap().rp(Some("short")).is_none());
}

// ---- rollups equal raw -------------------------------------------------------------------

fn numeric_points() -> impl Strategy<Value = Vec<(i64, i64)>> {
    // (seconds offset within ~3 days, value in hundredths)
    prop::collection::vec((0i64..3 * 86_400, -10_000i64..10_000), 1..300)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn rollup_aggregates_equal_raw_aggregates(
        batches in prop::collection::vec(numeric_points(), 1..5),
        seal_after in prop::collection::vec(any::<bool>(), 5),
        lo_h in 0i64..24, span_h in 1i64..80, lo_jitter in 0i64..3600, every_h in prop::sample::select(vec![1i64, 2, 3, 6, 24, 168]),
        offset_h in 0i64..3, int_field in any::<bool>(),
    ) {
        let (_, e) = fresh();
        for (i, b) in batches.iter().enumerate() {
            let points = b.iter().map(|&(s, v)| {
                let value = if int_field { FieldValue::Integer(v * 1_000_003) } else { FieldValue::Float(v as f64 / 100.0) };
                pt("m", &[("host", "a")], vec![("f", value)], T0 + s * S)
            }).collect();
            write(&e, points);
            if seal_after[i] { e.seal().unwrap(); }
        }
        let s = series(&e, "m", "a");
        let base = T0.div_euclid(HOUR) * HOUR;
        let lo = base + lo_h * HOUR + if lo_jitter % 2 == 0 { 0 } else { lo_jitter * S };
        let hi = lo + span_h * HOUR - 1;
        let every = every_h * HOUR;
        let offset = offset_h * HOUR;
        let fast = e.aggregate("db", None, s, "f", lo, hi, every, offset).unwrap();
        let raw = e.aggregate_raw("db", None, s, "f", lo, hi, every, offset).unwrap();
        prop_assert_eq!(fast, raw);
        // Folding into uneven buckets (a chart's windows across a DST change), twice over as
        // for two series, equals folding the raw hour partials one at a time.
        let starts: Vec<i64> = {
            let mut at = base + lo_h * HOUR - offset_h * HOUR;
            let mut v = Vec::new();
            for k in 0..(span_h / every_h + 2) {
                v.push(at);
                at += every + if k % 3 == 1 { HOUR } else { 0 };
            }
            v
        };
        let need = Need { sum: int_field || every_h % 2 == 0, min: offset_h != 1, max: offset_h != 2, first: lo_h % 2 == 0, last: lo_h % 3 == 0 };
        let mut fold = HourFold::new(starts.clone(), need);
        let mut saw = false;
        for _ in 0..2 {
            saw |= e.fold_hours("db", None, s, "f", lo, hi, &mut fold).unwrap();
        }
        let hours = e.aggregate_raw("db", None, s, "f", lo, hi, HOUR, 0).unwrap();
        prop_assert_eq!(saw, hours.is_some());
        let expected = reference_fold(&starts, hours.as_ref(), 2);
        for (b, want) in expected.iter().enumerate() {
            prop_assert_eq!(fold.count(b), want.0);
            let got: Vec<Option<FieldValue>> = [Part::Sum, Part::Min, Part::Max, Part::First, Part::Last]
                .into_iter()
                .map(|p| fold.value(b, p))
                .collect();
            let wanted: Vec<Option<FieldValue>> = want.1.iter().zip([need.sum, need.min, need.max, need.first, need.last])
                .map(|(v, w)| if w { v.clone() } else { None })
                .collect();
            prop_assert_eq!(got, wanted);
        }
    }
}

/// Per bucket: count and sum, min, max, first, last, folding `hours` (hour partials) `times`
/// times over, one hour at a time, into the buckets starting at `starts`.
fn reference_fold(
    starts: &[i64],
    hours: Option<&Partials>,
    times: usize,
) -> Vec<(u64, Vec<Option<FieldValue>>)> {
    let mut out: Vec<(u64, Vec<Option<FieldValue>>)> = vec![(0, vec![None; 5]); starts.len()];
    let Some(h) = hours else { return out };
    let at = |c: &ColumnValues, i: usize| match c {
        ColumnValues::Float(v) => FieldValue::Float(v[i]),
        ColumnValues::Integer(v) => FieldValue::Integer(v[i]),
        ColumnValues::Unsigned(v) => FieldValue::Unsigned(v[i]),
        _ => unreachable!("numeric"),
    };
    let num = |v: &FieldValue| match v {
        FieldValue::Float(x) => *x,
        FieldValue::Integer(x) => *x as f64,
        _ => unreachable!("test data"),
    };
    for _ in 0..times {
        for i in 0..h.starts.len() {
            let Some(b) = starts.iter().rposition(|&s| s <= h.starts[i]) else {
                continue;
            };
            let vals = [&h.sum, &h.min, &h.max, &h.first, &h.last].map(|c| at(c, i));
            let (count, acc) = &mut out[b];
            if *count == 0 {
                *acc = vals.iter().cloned().map(Some).collect();
            } else {
                acc[0] = Some(match (acc[0].take().unwrap(), &vals[0]) {
                    (FieldValue::Float(a), FieldValue::Float(x)) => FieldValue::Float(a + x),
                    (FieldValue::Integer(a), FieldValue::Integer(x)) => {
                        FieldValue::Integer(a.wrapping_add(*x))
                    }
                    _ => unreachable!("one type"),
                });
                if num(&vals[1]) < num(acc[1].as_ref().unwrap()) {
                    acc[1] = Some(vals[1].clone());
                }
                if num(&vals[2]) > num(acc[2].as_ref().unwrap()) {
                    acc[2] = Some(vals[2].clone());
                }
                acc[4] = Some(vals[4].clone());
            }
            *count += h.counts[i];
        }
    }
    out
}

#[test]
fn aggregate_uses_rollups_yet_equals_raw_over_a_year() {
    let (_, e) = fresh();
    // One series, 5-minute samples for 40 days in several seals, plus some head data.
    let start = T0.div_euclid(HOUR) * HOUR;
    for day in 0..40 {
        let points = (0..288)
            .map(|i| {
                let t = start + day * 86_400 * S + i * 300 * S;
                pt(
                    "cpu",
                    &[("host", "a")],
                    vec![(
                        "load",
                        FieldValue::Float(((day * 288 + i) % 400) as f64 / 100.0),
                    )],
                    t,
                )
            })
            .collect();
        write(&e, points);
        if day % 7 == 6 {
            e.seal().unwrap();
        }
    }
    let s = series(&e, "cpu", "a");
    let (lo, hi) = (start - 365 * 86_400 * S, start + 41 * 86_400 * S);
    let fast = e
        .aggregate("db", None, s, "load", lo, hi, 7 * 24 * HOUR, 0)
        .unwrap()
        .unwrap();
    let raw = e
        .aggregate_raw("db", None, s, "load", lo, hi, 7 * 24 * HOUR, 0)
        .unwrap()
        .unwrap();
    assert_eq!(fast, raw);
    assert_eq!(fast.counts.iter().sum::<u64>(), 40 * 288);
    assert!(
        e.aggregate("db", None, s, "load", lo, hi, 30 * 60 * S, 0)
            .is_err()
    );
}

// ---- the engine against a model, with reboots ---------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    Write(Vec<(u8, u8, i64, i64)>), // (host, field, second, value)
    Seal,
    Compact,
    Crash,
    CleanReboot,
    Delete(u8, i64, i64),
    DropSeries(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => prop::collection::vec((0u8..3, 0u8..2, 0i64..5000, -50i64..50), 1..40).prop_map(Op::Write),
                2 => Just(Op::Seal),
        1 => Just(Op::Compact),
        1 => Just(Op::Crash),
        1 => Just(Op::CleanReboot),
        1 => (0u8..3, 0i64..5000, 0i64..2000).prop_map(|(h, a, l)| Op::Delete(h, a, a + l)),
        1 => (0u8..3).prop_map(Op::DropSeries),
    ]
}

type Model = BTreeMap<(u8, u8), BTreeMap<i64, i64>>;

/// Every series field the seal's hot-block directory names has exactly that block as its
/// newest stored one in that shard.
fn assert_hot_directory_exact(kv: &Disk, e: &Engine) {
    let mut newest: BTreeMap<(u32, i64, u64, u32), HotBlock> = BTreeMap::new();
    for item in kv
        .kv
        .range(BLOCKS, (Bound::Unbounded, Bound::Unbounded))
        .unwrap()
    {
        let (k, v) = item.unwrap();
        let bk = BlockKey::decode(&k).unwrap();
        let sum = rollup::stored_block_summary(&v).unwrap();
        let Some((_, last)) = sum.time_range else {
            continue;
        };
        // Keys are in order, so the last block seen of a series field is its newest.
        newest.insert(
            (bk.rp, bk.shard, bk.series, bk.field),
            HotBlock {
                start: bk.start,
                last,
                points: sum.count,
            },
        );
    }
    for (k, b) in e.shared.hot.lock().entries() {
        assert_eq!(newest.get(&k), Some(&b), "hot directory entry {k:?}");
    }
}

/// Runs `ops` against the engine and a model. `appending`: each write's times follow a cursor
/// that moves on by 20 s per write with points up to 29 s past it, so most chunks append to
/// their series field's newest block and some overlap it, rewriting some of its times (the
/// seal's two paths).
fn engine_against_model(
    ops: Vec<Op>,
    cfg: EngineConfig,
    appending: bool,
) -> Result<(), TestCaseError> {
    let kv = Disk::new();
    let mut e = open_with(&kv, cfg.clone(), clock_at(T0));
    e.create_database("db").unwrap();
    let mut model: Model = BTreeMap::new();
    let hosts = ["h0", "h1", "h2"];
    let fields = ["f0", "f1"];
    let mut cursor = 0i64;
    for op in ops {
        match op {
            Op::Write(pts) => {
                let pts: Vec<(u8, u8, i64, i64)> = if appending {
                    cursor += 20;
                    pts.into_iter()
                        .map(|(h, f, s, v)| (h, f, cursor + s % 30, v))
                        .collect()
                } else {
                    pts
                };
                let points = pts
                    .iter()
                    .map(|&(h, f, s, v)| {
                        pt(
                            "m",
                            &[("host", hosts[h as usize])],
                            vec![(fields[f as usize], FieldValue::Integer(v))],
                            T0 + s * S,
                        )
                    })
                    .collect();
                let out = write(&e, points);
                prop_assert_eq!(out.written, pts.len());
                for (h, f, s, v) in pts {
                    model.entry((h, f)).or_default().insert(s, v);
                }
            }
            Op::Seal => e.seal().unwrap(),
            Op::Compact => {
                e.compact_shards(i64::MAX).unwrap();
            }
            Op::Crash => {
                drop(e);
                e = open_with(&kv, cfg.clone(), clock_at(T0));
            }
            Op::CleanReboot => {
                e.close().unwrap();
                drop(e);
                e = open_with(&kv, cfg.clone(), clock_at(T0));
            }
            Op::Delete(h, a, b) => {
                if let Ok(ids) = e.series_where_tag("db", "m", "host", &|v| v == hosts[h as usize])
                {
                    e.delete_range("db", &ids, T0 + a * S, T0 + b * S).unwrap();
                }
                for f in 0..2 {
                    if let Some(m) = model.get_mut(&(h, f)) {
                        m.retain(|s, _| *s < a || *s > b);
                    }
                }
            }
            Op::DropSeries(h) => {
                let ids = e
                    .series_where_tag("db", "m", "host", &|v| v == hosts[h as usize])
                    .unwrap();
                e.drop_series("db", &ids).unwrap();
                model.remove(&(h, 0));
                model.remove(&(h, 1));
            }
        }
        assert_hot_directory_exact(&kv, &e);
        for h in 0..3u8 {
            let ids = e
                .series_where_tag("db", "m", "host", &|v| v == hosts[h as usize])
                .unwrap();
            for f in 0..2u8 {
                let want: Vec<(i64, i64)> = model
                    .get(&(h, f))
                    .map(|m| m.iter().map(|(s, v)| (T0 + s * S, *v)).collect())
                    .unwrap_or_default();
                let got: Vec<(i64, i64)> = match ids.first() {
                    None => vec![],
                    Some(&s) => match e
                        .read("db", None, s, fields[f as usize], i64::MIN, i64::MAX)
                        .unwrap()
                    {
                        None => vec![],
                        Some(c) => match c.values {
                            ColumnValues::Integer(v) => c.ts.into_iter().zip(v).collect(),
                            other => panic!("{other:?}"),
                        },
                    },
                };
                prop_assert_eq!(got, want, "host {} field {}", h, f);
                // Hourly rollups agree with the points (a block written twice, or two blocks
                // holding one time, would count it twice).
                if let Some(&s) = ids.first() {
                    let (lo, hi) = (T0 - 86_400 * S, T0 + 86_400 * S);
                    prop_assert_eq!(
                        e.aggregate("db", None, s, fields[f as usize], lo, hi, HOUR, 0)
                            .unwrap(),
                        e.aggregate_raw("db", None, s, fields[f as usize], lo, hi, HOUR, 0)
                            .unwrap(),
                        "rollups of host {} field {}",
                        h,
                        f
                    );
                }
            }
        }
    }
    prop_assert!(e.verify().unwrap().is_empty());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn engine_matches_a_model_across_reboots(ops in prop::collection::vec(op(), 1..30)) {
        engine_against_model(ops, cfg(), false)?;
    }

    /// Appends with tiny hot blocks: chunks grow the newest block found through the seal's
    /// directory, skip it once full, overlap it (and scan), across deletes and reboots.
    #[test]
    fn appends_through_the_hot_block_directory_match_a_model(
        ops in prop::collection::vec(op(), 1..40)
    ) {
        let cfg = EngineConfig {
            hot_block_points: 6,
            max_points_per_block: 16,
            ..cfg()
        };
        engine_against_model(ops, cfg, true)?;
    }
}

#[test]
fn a_repeated_field_key_keeps_the_last_value_and_names_are_checked() {
    let (_, e) = fresh();
    let out = write(
        &e,
        vec![
            pt(
                "m",
                &[("host", "a")],
                vec![
                    ("b", FieldValue::Float(1.0)),
                    ("a", FieldValue::Float(2.0)),
                    ("b", FieldValue::Float(3.0)),
                ],
                T0,
            ),
            pt(
                "m",
                &[("host", "a")],
                vec![("time", FieldValue::Float(1.0))],
                T0,
            ),
            pt(
                "m",
                &[("time", "x")],
                vec![("f", FieldValue::Float(1.0))],
                T0,
            ),
            pt(
                "m",
                &[("host", "a"), ("host", "b")],
                vec![("f", FieldValue::Float(1.0))],
                T0,
            ),
            pt(
                "m",
                &[("host", "")],
                vec![("g", FieldValue::Float(5.0))],
                T0,
            ),
        ],
    );
    assert_eq!(out.written, 2, "{:?}", out.rejected);
    let msgs: Vec<String> = out.rejected.iter().map(|(_, r)| r.to_string()).collect();
    assert_eq!(
        msgs,
        [
            "invalid field name: input field \"time\" on measurement \"m\" is invalid",
            "invalid tag key: input tag \"time\" on measurement \"m\" is invalid",
            "duplicate tags on measurement \"m\"",
        ]
    );
    let s = series(&e, "m", "a");
    assert_eq!(floats(&e, s, "b"), [(T0, 3.0)]);
    assert_eq!(floats(&e, s, "a"), [(T0, 2.0)]);
    // An empty tag value is dropped, as InfluxDB does: that point lands in series `m`.
    let plain = e
        .series_of("db", "m")
        .unwrap()
        .into_iter()
        .find(|s| *s != series(&e, "m", "a"))
        .unwrap();
    assert_eq!(floats(&e, plain, "g"), [(T0, 5.0)]);
}

#[test]
fn seals_keep_blocks_small_and_compaction_makes_them_big_without_changing_answers() {
    let (kv, e) = fresh();
    // 20 seals of 30 points each: hot blocks stop growing at hot_block_points.
    let hot = EngineConfig::default().hot_block_points;
    for round in 0..20i64 {
        let points = (0..30)
            .map(|i| {
                let t = T0 + (round * 30 + i) * 300 * S;
                pt(
                    "cpu",
                    &[("host", "a")],
                    vec![(
                        "load",
                        FieldValue::Float(((round * 30 + i) % 97) as f64 / 10.0),
                    )],
                    t,
                )
            })
            .collect();
        write(&e, points);
        e.seal().unwrap();
    }
    let s = series(&e, "cpu", "a");
    let before = floats(&e, s, "load");
    assert_eq!(before.len(), 600);
    let blocks_before = kv
        .range(BLOCKS, (Bound::Unbounded, Bound::Unbounded))
        .unwrap()
        .count();
    // The test config caps blocks at 64 points, below the hot size: never more than 600/30.
    assert!(blocks_before >= 600 / hot.max(64), "{blocks_before}");
    let (lo, hi) = (T0 - 30 * 86_400 * S, T0 + 30 * 86_400 * S);
    let agg_before = e
        .aggregate("db", None, s, "load", lo, hi, 24 * HOUR, 0)
        .unwrap();
    // Shards have not ended yet: nothing to do.
    assert_eq!(e.compact_shards(T0).unwrap(), 0);
    let n = e.compact_shards(i64::MAX).unwrap();
    assert!(n >= 1);
    assert_eq!(floats(&e, s, "load"), before);
    assert_eq!(
        e.aggregate("db", None, s, "load", lo, hi, 24 * HOUR, 0)
            .unwrap(),
        agg_before
    );
    assert_eq!(
        e.aggregate("db", None, s, "load", lo, hi, 24 * HOUR, 0)
            .unwrap(),
        e.aggregate_raw("db", None, s, "load", lo, hi, 24 * HOUR, 0)
            .unwrap()
    );
    let blocks_after = kv
        .range(BLOCKS, (Bound::Unbounded, Bound::Unbounded))
        .unwrap()
        .count();
    assert!(
        blocks_after <= 600usize.div_ceil(64) + 2,
        "{blocks_after} blocks after compaction"
    );
    // Compacted shards are skipped until new data lands in them.
    assert_eq!(e.compact_shards(i64::MAX).unwrap(), 0);
    write(
        &e,
        vec![pt(
            "cpu",
            &[("host", "a")],
            vec![("load", FieldValue::Float(1.0))],
            T0 + 7,
        )],
    );
    e.seal().unwrap();
    assert_eq!(e.compact_shards(i64::MAX).unwrap(), 1);
    assert!(e.verify().unwrap().is_empty());
}

#[test]
fn compaction_merges_blocks_written_across_seals_with_default_sizes() {
    let d = Disk::new();
    let e = open_with(
        &d,
        EngineConfig {
            background: false,
            ..EngineConfig::default()
        },
        clock_at(T0),
    );
    e.create_database("db").unwrap();
    for round in 0..3i64 {
        let points = (0..200)
            .map(|i| {
                pt(
                    "cpu",
                    &[("host", "a")],
                    vec![("load", FieldValue::Float(i as f64))],
                    T0 + (round * 200 + i) * 300 * S,
                )
            })
            .collect();
        write(&e, points);
        e.seal().unwrap();
    }
    let count = || {
        d.range(BLOCKS, (Bound::Unbounded, Bound::Unbounded))
            .unwrap()
            .count()
    };
    // 200 + 200 merged (hot), then 400 >= 256 so the third seal starts a new block.
    let before = count();
    assert!(before >= 2, "{before}");
    e.compact_shards(i64::MAX).unwrap();
    let s = series(&e, "cpu", "a");
    assert_eq!(floats(&e, s, "load").len(), 600);
    // 600 points span two 7-day shards at most: one block per shard.
    let shards = e.database("db").unwrap().rp(None).unwrap().shards.len();
    assert_eq!(count(), shards, "before {before}");
}

#[test]
fn series_matching_all_equals_filtering_every_series() {
    let (_d, e) = fresh();
    let mut points = Vec::new();
    for i in 0..60 {
        let obj = format!("dev{}", i % 20);
        let ifname = format!("eth{}", i % 3);
        let mut tags = vec![
            ("content_type", "config.device"),
            ("object_id", obj.as_str()),
        ];
        if i % 4 != 0 {
            tags.push(("ifname", ifname.as_str()));
        }
        points.push(pt(
            "traffic",
            &tags,
            vec![("rx", FieldValue::Integer(i))],
            1_000 + i,
        ));
    }
    write(&e, points);
    let naive = |eqs: &[(&str, &[&str])]| -> Vec<SeriesId> {
        let mut v: Vec<SeriesId> = e
            .series_of("db", "traffic")
            .unwrap()
            .into_iter()
            .filter(|id| {
                let info = e.series_info(*id).unwrap();
                eqs.iter().all(|(k, vals)| {
                    let have = info
                        .tags
                        .iter()
                        .find(|(tk, _)| tk == k)
                        .map_or("", |(_, v)| v.as_str());
                    vals.contains(&have)
                })
            })
            .collect();
        v.sort_unstable();
        v
    };
    let cases: [&[(&str, &[&str])]; 6] = [
        &[
            ("content_type", &["config.device"]),
            ("object_id", &["dev3"]),
        ],
        &[
            ("object_id", &["dev3", "dev7"]),
            ("ifname", &["eth1", "eth2"]),
        ],
        &[("ifname", &[""])],
        &[("object_id", &["dev1"]), ("ifname", &["", "eth1"])],
        &[("object_id", &["nobody"])],
        &[("nokey", &["x"])],
    ];
    for eqs in cases {
        let owned: Vec<(String, Vec<String>)> = eqs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
            .collect();
        let mut got = e.series_matching_all("db", "traffic", &owned).unwrap();
        got.sort_unstable();
        assert_eq!(got, naive(eqs), "{eqs:?}");
    }
}

#[test]
fn a_seal_falls_back_to_scanning_when_the_hot_block_is_not_where_the_directory_says() {
    let (kv, e) = fresh();
    let at = |i: i64| T0 + i * 300 * S;
    let load = |i: i64| {
        pt(
            "cpu",
            &[("host", "a")],
            vec![("load", FieldValue::Float(i as f64))],
            at(i),
        )
    };
    write(&e, (0..3).map(load).collect());
    e.seal().unwrap();
    let entries = e.shared.hot.lock().entries();
    assert_eq!(entries.len(), 1);
    let ((rp, shard, series_id, field), hot) = entries[0];
    assert_eq!((hot.start, hot.last, hot.points), (at(0), at(2), 3));
    // The block vanishes behind the engine's back (as if restored from an older copy).
    let key = BlockKey {
        rp,
        shard,
        series: series_id,
        field,
        start: hot.start,
    }
    .encode();
    kv.kv.apply(BLOCKS, vec![(key, None)]).unwrap();
    write(&e, (3..5).map(load).collect());
    e.seal().unwrap();
    let s = series(&e, "cpu", "a");
    assert_eq!(floats(&e, s, "load"), [(at(3), 3.0), (at(4), 4.0)]);
    // The directory now names the block the scan path wrote, and appends use it again.
    assert_hot_directory_exact(&kv, &e);
    write(&e, (5..7).map(load).collect());
    e.seal().unwrap();
    assert_eq!(
        floats(&e, s, "load"),
        (3..7).map(|i| (at(i), i as f64)).collect::<Vec<_>>()
    );
    assert_hot_directory_exact(&kv, &e);
    assert_eq!(e.shared.hot.lock().entries()[0].1.points, 4);
}

#[test]
fn interned_reads_equal_plain_reads_across_blocks_head_and_rewrites() {
    let (_kv, e) = fresh();
    let macs = [
        "a4:5e:60:4f:2f:8f",
        "",
        "00:11:22:33:44:55",
        "a4:5e:60:4f:2f:8f",
    ];
    let wifi = |i: usize, t: i64, mac: &str| {
        pt(
            "wifi_clients",
            &[("host", "r1")],
            vec![
                ("clients", FieldValue::String(mac.into())),
                ("n", FieldValue::Float(i as f64)),
            ],
            t,
        )
    };
    write(
        &e,
        (0..40)
            .map(|i| wifi(i, T0 + i as i64, macs[i % 4]))
            .collect(),
    );
    e.seal().unwrap();
    // A second block overlapping the first (rewrites of points 10..20), then a head.
    write(
        &e,
        (10..20)
            .map(|i| wifi(i, T0 + i as i64, "rewritten"))
            .collect(),
    );
    e.seal().unwrap();
    write(
        &e,
        (35..50)
            .map(|i| wifi(i, T0 + i as i64, macs[i % 3]))
            .collect(),
    );
    let s = series(&e, "wifi_clients", "r1");
    let (lo, hi) = (T0 + 5, T0 + 45);
    let plain = e.read("db", None, s, "clients", lo, hi).unwrap().unwrap();
    let mut interner = Interner::new();
    let interned = e
        .read_interned("db", None, s, "clients", lo, hi, &mut interner)
        .unwrap()
        .unwrap();
    assert_eq!(interned.ts, plain.ts);
    let ColumnValues::String(strings) = &plain.values else {
        panic!("not strings");
    };
    // Equal strings have equal numbers and different strings different ones.
    let mut by_id = std::collections::HashMap::new();
    for (id, s) in interned.ids.iter().zip(strings) {
        assert_eq!(by_id.entry(*id).or_insert(s), &s);
    }
    let distinct: std::collections::HashSet<&String> = strings.iter().collect();
    assert_eq!(by_id.len(), distinct.len());
    assert!(strings.iter().any(|s| s == "rewritten"));
    // A float field is not read as strings; an empty range reads nothing.
    assert!(
        e.read_interned("db", None, s, "n", lo, hi, &mut interner)
            .is_err()
    );
    assert_eq!(
        e.read_interned("db", None, s, "clients", T0 + 100, T0 + 200, &mut interner)
            .unwrap(),
        None
    );
}
