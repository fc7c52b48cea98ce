//! Column codec throughput on the shapes monitoring data has (fixed seeds).

#![allow(clippy::unwrap_used)] // a benchmark: a failure should stop it loudly

use criterion::{BenchmarkId, Criterion, Throughput, black_box, criterion_group, criterion_main};
use wispmon::storage::codec::{
    ColumnValues, decode_block, encode_block, encode_floats, encode_integers, encode_timestamps,
};

const N: usize = 4096;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn shapes() -> Vec<(&'static str, Vec<i64>, ColumnValues)> {
    let mut r = Rng(42);
    let ts: Vec<i64> = (0..N as i64)
        .map(|i| 1_767_225_600_000_000_000 + i * 300_000_000_000)
        .collect();
    let jittered: Vec<i64> = ts
        .iter()
        .map(|t| t + (r.next() % 60_000) as i64 * 1_000_000)
        .collect();
    let load: Vec<f64> = (0..N).map(|_| (r.next() % 400) as f64 / 100.0).collect();
    let noisy: Vec<f64> = (0..N)
        .map(|_| f64::from_bits(0x3ff0_0000_0000_0000 | (r.next() >> 12)))
        .collect();
    let mut c = 0i64;
    let counter: Vec<i64> = (0..N)
        .map(|_| {
            c += 1_000_000 + (r.next() % 100_000) as i64;
            c
        })
        .collect();
    vec![
        ("cpu_load_2dp", ts.clone(), ColumnValues::Float(load)),
        ("noisy_float", jittered.clone(), ColumnValues::Float(noisy)),
        ("traffic_counter", jittered, ColumnValues::Integer(counter)),
        ("constant_reachable", ts, ColumnValues::Integer(vec![1; N])),
    ]
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("codec");
    g.throughput(Throughput::Elements(N as u64));
    for (name, ts, values) in shapes() {
        g.bench_with_input(
            BenchmarkId::new("encode_block", name),
            &(&ts, &values),
            |b, (ts, v)| b.iter(|| encode_block(black_box(ts), black_box(v)).unwrap()),
        );
        let block = encode_block(&ts, &values).unwrap();
        g.bench_with_input(
            BenchmarkId::new("decode_block", name),
            &block,
            |b, block| b.iter(|| decode_block(black_box(block)).unwrap()),
        );
        if let ColumnValues::Float(f) = &values {
            g.bench_with_input(BenchmarkId::new("encode_floats", name), f, |b, f| {
                b.iter(|| encode_floats(black_box(f)).unwrap())
            });
        }
        if let ColumnValues::Integer(i) = &values {
            g.bench_with_input(BenchmarkId::new("encode_integers", name), i, |b, i| {
                b.iter(|| encode_integers(black_box(i)).unwrap())
            });
        }
        g.bench_with_input(BenchmarkId::new("encode_timestamps", name), &ts, |b, ts| {
            b.iter(|| encode_timestamps(black_box(ts)).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
