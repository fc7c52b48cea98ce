//! Line-protocol parsing throughput on an OpenWISP-like body (fixed generator).

#![allow(clippy::unwrap_used)] // a benchmark: a failure should stop it loudly

use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use wispmon::lineproto::parse_lines;

fn body(lines: usize) -> String {
    let mut s = String::new();
    let t0 = 1_767_225_600_000_000_000i64;
    for i in 0..lines {
        let dev = format!("{:08x}-0000-4000-8000-{:012x}", i / 8, i / 8);
        let t = t0 + (i as i64) * 37_000_000;
        match i % 4 {
            0 => s.push_str(&format!(
                "ping,content_type=config.device,object_id={dev} reachable=1i,loss=0.0,rtt_min=0.512,rtt_avg=0.734,rtt_max=1.201 {t}\n"
            )),
            1 => s.push_str(&format!(
                "traffic,content_type=config.device,ifname=wan,object_id={dev} rx_bytes={}i,tx_bytes={}i {t}\n",
                i * 1013,
                i * 97
            )),
            2 => s.push_str(&format!(
                "cpu,content_type=config.device,object_id={dev} cpu_usage=12.5,load_1=0.25,load_5=0.21,load_15=0.2 {t}\n"
            )),
            _ => s.push_str(&format!(
                "memory,content_type=config.device,object_id={dev} percent_used=53.12,total_memory=128000000i,free_memory={}i,buffered_memory=4194304i,shared_memory=90112i,cached_memory=12582912i {t}\n",
                60_000_000 + i
            )),
        }
    }
    s
}

fn bench(c: &mut Criterion) {
    let b = body(10_000);
    let mut g = c.benchmark_group("lp_parse");
    g.throughput(Throughput::Bytes(b.len() as u64));
    g.bench_function("openwisp_10k_lines", |bench| {
        bench.iter(|| {
            let n = parse_lines(black_box(&b)).filter(|r| r.is_ok()).count();
            assert_eq!(n, 10_000);
            n
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
