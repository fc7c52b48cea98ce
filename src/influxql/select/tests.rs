//! The fast paths (hourly rollups, per-bucket column accumulators) must answer exactly what
//! the general path (rows of raw points) answers, on random data that is partly sealed into
//! blocks and partly still in the head.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use proptest::prelude::*;

use crate::influxql::exec::{Context, StatementResult};
use crate::influxql::{Statement, parse_query};
use crate::storage::{FieldValue, Point, Storage, WriteBatch};
use crate::time::{MockClock, Timestamp};

const HOUR: i64 = 3_600_000_000_000;
/// 2024-03-29T00:00:00Z: the range below crosses the 2024-03-31 DST change in Rome.
const T0: i64 = 1_711_670_400_000_000_000;

/// An in-memory engine whose clock reads `now`, with an empty database `db`.
fn storage_at(now: i64) -> Storage {
    let storage = Storage::in_memory(Arc::new(MockClock::new(Timestamp::from_nanos(now))));
    storage.engine().create_database("db").unwrap();
    storage
}

fn write(storage: &Storage, points: Vec<Point>) {
    storage
        .engine()
        .write(WriteBatch {
            database: "db".into(),
            retention_policy: None,
            points,
        })
        .unwrap();
}

/// The SELECT `q` on database `db` at `now`, with a deadline and a row budget.
fn select(
    storage: &Storage,
    q: &str,
    now: i64,
    deadline: Option<std::time::Instant>,
    max_rows: Option<usize>,
) -> StatementResult {
    let query = parse_query(q).unwrap();
    let Statement::Select(s) = &query.statements[0] else {
        panic!("not a SELECT: {q}");
    };
    let ctx = Context {
        db: Some("db"),
        rp: None,
        now,
        deadline,
        max_rows,
    };
    super::execute(storage.engine(), s, &ctx)
}

fn run(storage: &Storage, q: &str, general_only: bool) -> StatementResult {
    super::GENERAL_PATH_ONLY.with(|g| g.set(general_only));
    let r = select(storage, q, T0 + 10 * 24 * HOUR, None, None);
    super::GENERAL_PATH_ONLY.with(|g| g.set(false));
    r
}

/// (series index, minutes from T0, integer value, string value index)
fn points() -> impl Strategy<Value = Vec<(u8, u32, i32, u8)>> {
    prop::collection::vec(
        // Strings: more than the 64 slots of the distinct count's table of recent strings (so
        // that strings share slots), "" among them.
        (0u8..3, 0u32..(5 * 24 * 60), -1000i32..1000, 0u8..100),
        1..300,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn fast_paths_equal_the_general_path(
        pts in points(),
        seal_at in 0usize..300,
        seal_again_at in 0usize..300,
    ) {
        let storage = storage_at(T0 + 10 * 24 * HOUR);
        let write_part = |part: &[(u8, u32, i32, u8)]| {
            let points = part
                .iter()
                .map(|&(s, m, v, c)| Point {
                    measurement: "m".into(),
                    tags: vec![("host".into(), format!("h{s}"))],
                    fields: vec![
                        // Integer-valued floats: sums are exact in any order.
                        ("f".into(), FieldValue::Float(f64::from(v))),
                        ("i".into(), FieldValue::Integer(i64::from(v))),
                        (
                            "s".into(),
                            FieldValue::String(if c == 0 { String::new() } else { format!("mac{c}") }),
                        ),
                    ],
                    time: T0 + i64::from(m) * 60_000_000_000 + i64::from(s),
                })
                .collect();
            write(&storage, points);
        };
        // Two seals: a series can have several blocks (overlapping in time when a later
        // part rewrites earlier points) and a head.
        let cut = seal_at.min(pts.len());
        let cut2 = seal_again_at.clamp(cut, pts.len());
        write_part(&pts[..cut]);
        storage.engine().seal().unwrap();
        write_part(&pts[cut..cut2]);
        storage.engine().seal().unwrap();
        write_part(&pts[cut2..]);
        let lo = "'2024-03-29T00:30:00Z'";
        let hi = "'2024-04-02T12:00:00Z'";
        for sel in [
            "COUNT(f)", "SUM(f)", "MEAN(f)", "MIN(f)", "MAX(f)", "SPREAD(f)",
            "COUNT(i)", "SUM(i)", "MEAN(i)", "MIN(i)", "MAX(i)", "SPREAD(i)",
            "COUNT(DISTINCT(s))", "COUNT(s)", "FIRST(f)", "LAST(i)",
        ] {
            for group in [
                "GROUP BY time(1h)",
                "GROUP BY time(10m)",
                "GROUP BY time(1d)",
                "GROUP BY time(1d) tz('Europe/Rome')",
                "GROUP BY time(6h), host",
                "GROUP BY time(2h, 1h) fill(0)",
                "",
            ] {
                let q = format!("SELECT {sel} FROM m WHERE time >= {lo} AND time <= {hi} {group}");
                let fast = run(&storage, &q, false);
                let general = run(&storage, &q, true);
                prop_assert_eq!(fast, general, "{}", q);
            }
        }
    }
}

#[test]
fn a_select_past_its_deadline_stops_with_influxdbs_error() {
    let storage = storage_at(T0 + HOUR);
    let points = (0..50)
        .map(|h| Point {
            measurement: "m".into(),
            tags: vec![("host".into(), format!("h{h}"))],
            fields: vec![("f".into(), FieldValue::Float(1.0))],
            time: T0,
        })
        .collect();
    write(&storage, points);
    let at = |deadline| {
        select(
            &storage,
            "SELECT count(f) FROM m GROUP BY host",
            T0 + HOUR,
            deadline,
            None,
        )
    };
    let passed = std::time::Instant::now();
    let r = at(Some(passed));
    assert_eq!(r.error.as_deref(), Some(super::QUERY_TIMEOUT));
    assert!(r.series.is_empty());
    let later = passed + std::time::Duration::from_secs(3600);
    for deadline in [None, Some(later)] {
        let r = at(deadline);
        assert_eq!(r.error, None);
        assert_eq!(r.series.len(), 50);
    }
}

/// With a row budget, a SELECT whose series come out in their final order holds at most one
/// row past the budget plus one row of the next series, and those rows are the prefix of the
/// unbudgeted answer; an answer it cannot compute in order is computed whole.
#[test]
fn a_row_budget_stops_an_ordered_select_early_and_changes_nothing_before_the_cut() {
    let storage = storage_at(T0 + HOUR);
    let points = (0..200)
        .flat_map(|h| {
            (0..50).map(move |k| Point {
                measurement: "m".into(),
                tags: vec![("host".into(), format!("h{h:03}"))],
                fields: vec![("f".into(), FieldValue::Float(f64::from(h * 100 + k)))],
                time: T0 + i64::from(k) * 1_000_000_000,
            })
        })
        .collect();
    write(&storage, points);
    let run = |q: &str, max_rows| select(&storage, q, T0 + HOUR, None, max_rows);
    let rows = |r: &StatementResult| r.series.iter().map(|s| s.values.len()).sum::<usize>();
    for (q, per_series) in [
        ("SELECT f FROM m GROUP BY host", 50),
        ("SELECT f FROM m GROUP BY host LIMIT 3", 3),
    ] {
        let whole = run(q, None);
        assert_eq!(rows(&whole), 200 * per_series);
        let cut = run(q, Some(120));
        let held = rows(&cut);
        assert!(held <= 120 + 2 && held > 120, "{q}: {held} rows held");
        // The prefix is the whole answer's, series by series.
        for (a, b) in cut.series.iter().zip(&whole.series) {
            assert_eq!(a.tags, b.tags);
            assert_eq!(a.values[..], b.values[..a.values.len().min(b.values.len())]);
        }
    }
    // Descending (series in reverse): not in final order while computed, so computed whole.
    let desc = "SELECT f FROM m GROUP BY host ORDER BY time DESC";
    assert_eq!(run(desc, Some(120)), run(desc, None));
}
