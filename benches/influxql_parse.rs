//! InfluxQL parsing and canonical printing of the OpenWISP chart queries (every template of
//! the spec, rendered for the default timeframe, a custom range and a summary).

#![allow(clippy::unwrap_used)] // a benchmark: a failure should stop it loudly

use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use wispmon::influxql::{check::openwisp_chart_queries, parse_query};

fn bench(c: &mut Criterion) {
    let queries = openwisp_chart_queries();
    let parsed: Vec<_> = queries.iter().map(|q| parse_query(q).unwrap()).collect();
    let mut g = c.benchmark_group("influxql");
    g.throughput(Throughput::Elements(queries.len() as u64));
    g.bench_function("parse_openwisp_chart_queries", |b| {
        b.iter(|| {
            for q in &queries {
                black_box(parse_query(black_box(q)).unwrap());
            }
        })
    });
    g.bench_function("print_openwisp_chart_queries", |b| {
        b.iter(|| {
            for p in &parsed {
                black_box(p.to_string());
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
