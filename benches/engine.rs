//! The engine through its public API on a real sled data directory: group-committed writes of
//! fleet-shaped batches, and a 365-day GROUP BY 7d aggregate from rollups versus raw.

#![allow(clippy::unwrap_used)] // a benchmark: a failure should stop it loudly

use std::sync::Arc;

use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use wispmon::config::StorageConfig;
use wispmon::storage::{FieldValue, Point, Storage, WriteBatch};
use wispmon::time::SystemClock;

// The allocator the shipped binaries use (src/main.rs): the engine's write path allocates
// per point, so timing it under glibc's malloc would measure a configuration nobody runs.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const STEP: i64 = 300_000_000_000;
const DAY: i64 = 86_400_000_000_000;
const T0: i64 = 1_767_225_600_000_000_000;

fn device_points(dev: u32, t: i64, out: &mut Vec<Point>) {
    let tags = |extra: Option<&str>| {
        let mut v = vec![
            ("content_type".to_owned(), "config.device".to_owned()),
            ("object_id".to_owned(), format!("{dev:032x}")),
        ];
        if let Some(i) = extra {
            v.push(("ifname".to_owned(), i.to_owned()));
        }
        v
    };
    let f = |k: &str, v: FieldValue| (k.to_owned(), v);
    let x = f64::from(dev % 97) / 100.0;
    out.push(Point {
        measurement: "ping".into(),
        tags: tags(None),
        fields: vec![
            f("reachable", FieldValue::Integer(1)),
            f("loss", FieldValue::Float(0.0)),
            f("rtt_min", FieldValue::Float(1.0 + x)),
            f("rtt_avg", FieldValue::Float(2.0 + x)),
            f("rtt_max", FieldValue::Float(3.0 + x)),
        ],
        time: t,
    });
    for i in ["wan", "eth1", "wlan0"] {
        out.push(Point {
            measurement: "traffic".into(),
            tags: tags(Some(i)),
            fields: vec![
                f("rx_bytes", FieldValue::Integer(1_000_000 + i64::from(dev))),
                f("tx_bytes", FieldValue::Integer(100_000 + i64::from(dev))),
            ],
            time: t,
        });
    }
    out.push(Point {
        measurement: "cpu".into(),
        tags: tags(None),
        fields: vec![
            f("cpu_usage", FieldValue::Float(x * 50.0)),
            f("load_1", FieldValue::Float(x)),
            f("load_5", FieldValue::Float(x)),
            f("load_15", FieldValue::Float(x)),
        ],
        time: t,
    });
    out.push(Point {
        measurement: "memory".into(),
        tags: tags(None),
        fields: vec![
            f("percent_used", FieldValue::Float(40.0 + x)),
            f("total_memory", FieldValue::Integer(128_000_000)),
            f("free_memory", FieldValue::Integer(60_000_000)),
            f("buffered_memory", FieldValue::Integer(4_194_304)),
            f("shared_memory", FieldValue::Integer(90_112)),
            f("cached_memory", FieldValue::Integer(12_582_912)),
        ],
        time: t,
    });
    out.push(Point {
        measurement: "disk".into(),
        tags: tags(None),
        fields: vec![f("used_disk", FieldValue::Float(20.0 + x))],
        time: t,
    });
}

fn open(dir: &std::path::Path) -> Storage {
    Storage::open(dir, &StorageConfig::default(), Arc::new(SystemClock)).unwrap()
}

fn bench_write(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(dir.path());
    let e = storage.engine().clone();
    e.create_database("db").unwrap();
    let mut points = Vec::new();
    for d in 0..200 {
        device_points(d, T0, &mut points);
    }
    let values: usize = points.iter().map(|p| p.fields.len()).sum();
    let mut g = c.benchmark_group("engine_write");
    g.throughput(Throughput::Elements(values as u64));
    g.sample_size(30);
    let mut t = T0;
    g.bench_function("fleet_batch_200_devices", |b| {
        b.iter(|| {
            t += STEP;
            let batch: Vec<Point> = points
                .iter()
                .map(|p| Point {
                    time: t,
                    ..p.clone()
                })
                .collect();
            e.write(WriteBatch {
                database: "db".into(),
                retention_policy: None,
                points: batch,
            })
            .unwrap()
        })
    });
    g.finish();
    storage.close().unwrap();
}

/// One seal of a 1,000-device fleet (about 23,000 series fields) after ten 5-minute steps:
/// what each seal costs per series field when it appends a few points to every hot block, as
/// during bulk loads. Only the seal is timed.
fn bench_seal(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(dir.path());
    let e = storage.engine().clone();
    e.create_database("db").unwrap();
    let mut t = T0;
    let write_steps = |steps: i64, t: &mut i64| {
        let mut points = Vec::new();
        for _ in 0..steps {
            for d in 0..1000 {
                device_points(d, *t, &mut points);
            }
            *t += STEP;
        }
        e.write(WriteBatch {
            database: "db".into(),
            retention_policy: None,
            points,
        })
        .unwrap();
    };
    // Hot blocks to append to from the first timed seal on.
    write_steps(10, &mut t);
    e.seal().unwrap();
    let mut g = c.benchmark_group("engine_seal");
    g.sample_size(20);
    g.bench_function("append_10_steps_1000_devices", |b| {
        b.iter_custom(|iters| {
            let mut spent = std::time::Duration::ZERO;
            for _ in 0..iters {
                write_steps(10, &mut t);
                let started = std::time::Instant::now();
                e.seal().unwrap();
                spent += started.elapsed();
            }
            spent
        })
    });
    g.finish();
    storage.close().unwrap();
}

fn bench_query(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(dir.path());
    let e = storage.engine().clone();
    e.create_database("db").unwrap();
    // One device, one year of 5-minute samples, written a day at a time.
    for day in 0..365 {
        let mut points = Vec::new();
        for i in 0..288 {
            device_points(1, T0 + day * DAY + i * STEP, &mut points);
        }
        e.write(WriteBatch {
            database: "db".into(),
            retention_policy: None,
            points,
        })
        .unwrap();
    }
    e.seal().unwrap();
    let s = e.series_of("db", "cpu").unwrap()[0];
    let (lo, hi) = (T0, T0 + 365 * DAY);
    let mut g = c.benchmark_group("engine_query");
    g.sample_size(30);
    g.bench_function("aggregate_365d_group_by_7d_rollups", |b| {
        b.iter(|| {
            black_box(
                e.aggregate("db", None, s, "load_1", lo, hi, 7 * DAY, 0)
                    .unwrap(),
            )
        })
    });
    g.bench_function("aggregate_365d_group_by_7d_raw", |b| {
        b.iter(|| {
            black_box(
                e.aggregate_raw("db", None, s, "load_1", lo, hi, 7 * DAY, 0)
                    .unwrap(),
            )
        })
    });
    g.finish();
    storage.close().unwrap();
}

/// 100,000 series (10,000 devices x 10 interfaces): what `SHOW TAG VALUES` and tag filters
/// (equality, prefix/regex-like) cost on the in-memory postings.
fn bench_index(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(dir.path());
    let e = storage.engine().clone();
    e.create_database("db").unwrap();
    for chunk in 0..100 {
        let points = (0..1000)
            .map(|i| {
                let n = chunk * 1000 + i;
                Point {
                    measurement: "traffic".into(),
                    tags: vec![
                        ("object_id".into(), format!("{:032x}", n / 10)),
                        ("ifname".into(), format!("eth{}", n % 10)),
                    ],
                    fields: vec![("rx_bytes".into(), FieldValue::Integer(1))],
                    time: T0,
                }
            })
            .collect();
        e.write(WriteBatch {
            database: "db".into(),
            retention_policy: None,
            points,
        })
        .unwrap();
    }
    assert_eq!(e.series_of("db", "traffic").unwrap().len(), 100_000);
    let mut g = c.benchmark_group("series_index_100k");
    g.bench_function("show_tag_values_object_id", |b| {
        b.iter(|| black_box(e.tag_values("db", "traffic", "object_id").unwrap().len()))
    });
    g.bench_function("show_tag_values_ifname", |b| {
        b.iter(|| black_box(e.tag_values("db", "traffic", "ifname").unwrap().len()))
    });
    let wanted = format!("{:032x}", 4242);
    g.bench_function("series_with_tag_object_id", |b| {
        b.iter(|| {
            black_box(
                e.series_with_tag("db", "traffic", "object_id", &wanted)
                    .unwrap()
                    .len(),
            )
        })
    });
    g.bench_function("filter_object_id_equals", |b| {
        b.iter(|| {
            black_box(
                e.series_where_tag("db", "traffic", "object_id", &|v| v == wanted)
                    .unwrap()
                    .len(),
            )
        })
    });
    g.bench_function("filter_object_id_prefix_like_regex", |b| {
        b.iter(|| {
            black_box(
                e.series_where_tag("db", "traffic", "object_id", &|v| v.ends_with("a7"))
                    .unwrap()
                    .len(),
            )
        })
    });
    g.bench_function("filter_ifname_equals_10k_series", |b| {
        b.iter(|| {
            black_box(
                e.series_where_tag("db", "traffic", "ifname", &|v| v == "eth3")
                    .unwrap()
                    .len(),
            )
        })
    });
    g.finish();
    drop(e);
    storage.close().unwrap();
}

criterion_group!(benches, bench_write, bench_seal, bench_query, bench_index);
criterion_main!(benches);
