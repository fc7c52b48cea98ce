//! `wispmon-load`: load and crash tools for the timeseries engine.
//!
//! - `fleet`: writes OpenWISP-shaped data for a fleet (ping, traffic on 3 interfaces, WiFi
//!   clients, CPU, memory, disk every 5 minutes per device) through the engine API, then
//!   reports ingest rate, on-disk size per value, RSS and query latencies.
//! - `emit-lp`: the very same data as line protocol, for loading a reference InfluxDB.
//! - `crash-writer`: writes numbered batches forever and prints `ack N` once batch N is
//!   durable; the crash test kills it with SIGKILL and checks what survived.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use wispmon::config::{ByteSize, StorageConfig};
use wispmon::storage::{FieldValue, Point, Storage, WriteBatch, dir_size};
use wispmon::time::{SharedClock, SystemClock};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "wispmon-load",
    about = "load and crash tools for wispmon's timeseries engine"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Ingest a simulated fleet through the engine API and report the numbers.
    Fleet {
        /// Data directory (must not exist yet).
        #[arg(long)]
        data_dir: PathBuf,
        #[command(flatten)]
        fleet: FleetArgs,
        /// sled page cache.
        #[arg(long, default_value = "64MiB")]
        cache: String,
        /// Head memory limit (unsealed points).
        #[arg(long, default_value = "64MiB")]
        head: String,
    },
    /// Print the same data as line protocol (nanosecond timestamps) to a file.
    EmitLp {
        /// Output file.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        fleet: FleetArgs,
    },
    /// Open an existing fleet data directory and time the 365-day aggregate.
    Query {
        /// Data directory written by `fleet`.
        #[arg(long)]
        data_dir: PathBuf,
        /// Days the fleet run simulated (the query ends there).
        #[arg(long, default_value_t = 1.0)]
        days: f64,
        /// sled page cache.
        #[arg(long, default_value = "64MiB")]
        cache: String,
    },
    /// Write numbered batches until killed, printing `ack N` after each durable batch.
    CrashWriter {
        /// Data directory.
        #[arg(long)]
        data_dir: PathBuf,
        /// First batch number (continue after a previous run).
        #[arg(long, default_value_t = 0)]
        start: u64,
    },
}

#[derive(Debug, Clone, clap::Args)]
struct FleetArgs {
    /// Devices in the fleet.
    #[arg(long, default_value_t = 10_000)]
    devices: u32,
    /// Simulated days (5-minute samples).
    #[arg(long, default_value_t = 1.0)]
    days: f64,
    /// Devices per write batch.
    #[arg(long, default_value_t = 200)]
    batch_devices: u32,
    /// Each sample's drift from its device's fixed reporting phase: uniform in ± this many
    /// milliseconds, at microsecond resolution (agents report every 300 s on their own timer;
    /// the server stamps with µs precision).
    #[arg(long, default_value_t = 500)]
    jitter_ms: u64,
}

/// Deterministic xorshift generator: the data set is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// A value rounded to `decimals`, as an agent reports it.
    fn decimal(&mut self, lo: f64, hi: f64, decimals: i32) -> f64 {
        let scale = 10f64.powi(decimals);
        let span = ((hi - lo) * scale) as u64;
        ((lo * scale).round() + self.below(span + 1) as f64) / scale
    }
}

const STEP_NS: i64 = 300 * 1_000_000_000;
const DAY_NS: i64 = 86_400 * 1_000_000_000;
/// 2026-01-01T00:00:00Z: data starts at a fixed, realistic time.
const START_NS: i64 = 1_767_225_600 * 1_000_000_000;

/// Per-device state that evolves between samples: what makes the data look like a real
/// router's (stable link RTT, smoothed load averages, persistent WiFi clients, diurnal
/// traffic) rather than independent noise.
#[derive(Clone)]
struct DeviceState {
    id: String,
    org: String,
    /// When in each 5-minute cycle this device reports, ns.
    phase: i64,
    rtt_base: f64,
    traffic_base: [f64; 3],
    load: [f64; 3],
    mem_free: i64,
    disk: f64,
    clients: Vec<String>,
}

fn uuid_like(n: u64) -> String {
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        (n.wrapping_mul(2_654_435_761)) as u32,
        (n >> 3) as u16,
        (n % 4096) as u16,
        (n * 7 % 4096) as u16,
        n.wrapping_mul(0x9e37_79b9_7f4a_7c15) & 0xffff_ffff_ffff
    )
}

fn tags(d: &DeviceState, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut t = vec![
        ("content_type".to_owned(), "config.device".to_owned()),
        ("object_id".to_owned(), d.id.clone()),
        ("organization_id".to_owned(), d.org.clone()),
    ];
    t.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    t
}

/// The points one device reports at `t` (≈ 25 field values).
fn device_points(d: &mut DeviceState, t: i64, rng: &mut Rng, out: &mut Vec<Point>) {
    let f = |k: &str, v: FieldValue| (k.to_owned(), v);
    let round = |x: f64, dp: i32| (x * 10f64.powi(dp)).round() / 10f64.powi(dp);
    // Five pings: loss comes in steps of 20 %, and is rare.
    let lost = if rng.below(40) == 0 {
        1 + rng.below(5)
    } else {
        0
    };
    let loss = lost as f64 * 20.0;
    let rtt =
        |rng: &mut Rng, k: f64| round(d.rtt_base * k * (1.0 + rng.below(200) as f64 / 1000.0), 3);
    let mut fields = vec![
        f("reachable", FieldValue::Integer(i64::from(lost < 5))),
        f("loss", FieldValue::Float(loss)),
    ];
    if lost < 5 {
        fields.push(f("rtt_min", FieldValue::Float(rtt(rng, 0.9))));
        fields.push(f("rtt_avg", FieldValue::Float(rtt(rng, 1.0))));
        fields.push(f("rtt_max", FieldValue::Float(rtt(rng, 1.3))));
    }
    out.push(Point {
        measurement: "ping".into(),
        tags: tags(d, &[]),
        fields,
        time: t,
    });
    // Traffic per 5 minutes follows the day: low at night, high in the evening.
    let hour = (t / 3_600_000_000_000).rem_euclid(24) as f64;
    let diurnal = 0.55 + 0.45 * ((hour - 20.0) / 24.0 * std::f64::consts::TAU).cos();
    for (i, ifname) in ["wan", "eth1", "wlan0"].into_iter().enumerate() {
        let noise = 0.7 + rng.below(600) as f64 / 1000.0;
        let rx = (d.traffic_base[i] * diurnal * noise) as i64;
        out.push(Point {
            measurement: "traffic".into(),
            tags: tags(d, &[("ifname", ifname)]),
            fields: vec![
                f("rx_bytes", FieldValue::Integer(rx)),
                f(
                    "tx_bytes",
                    FieldValue::Integer(rx / 8 + rng.below(10_000) as i64),
                ),
            ],
            time: t,
        });
    }
    // Clients come and go slowly; the n-th client point is n µs after the sample (upstream).
    if d.clients.len() < 6 && rng.below(10) == 0 {
        d.clients.push(format!(
            "a4:5e:60:{:02x}:{:02x}:{:02x}",
            rng.below(256),
            rng.below(256),
            rng.below(256)
        ));
    }
    if !d.clients.is_empty() && rng.below(12) == 0 {
        let i = rng.below(d.clients.len() as u64) as usize;
        d.clients.remove(i);
    }
    for (n, mac) in d.clients.iter().enumerate() {
        out.push(Point {
            measurement: "wifi_clients".into(),
            tags: tags(d, &[("ifname", "wlan0")]),
            fields: vec![f("clients", FieldValue::String(mac.clone()))],
            time: t + n as i64 * 1_000,
        });
    }
    // Load averages: a random walk for the 1-minute value, smoothed for 5 and 15 minutes.
    let step = (rng.below(41) as f64 - 20.0) / 100.0;
    d.load[0] = round((d.load[0] + step).clamp(0.0, 4.0), 2);
    d.load[1] = round(0.6 * d.load[1] + 0.4 * d.load[0], 2);
    d.load[2] = round(0.85 * d.load[2] + 0.15 * d.load[0], 2);
    out.push(Point {
        measurement: "cpu".into(),
        tags: tags(d, &[]),
        fields: vec![
            f(
                "cpu_usage",
                FieldValue::Float(round(d.load[0] * 100.0 / 2.0, 2)),
            ),
            f("load_1", FieldValue::Float(d.load[0])),
            f("load_5", FieldValue::Float(d.load[1])),
            f("load_15", FieldValue::Float(d.load[2])),
        ],
        time: t,
    });
    d.mem_free =
        (d.mem_free + (rng.below(400_001) as i64 - 200_000) * 4).clamp(10_000_000, 100_000_000);
    let total = 128_000_000i64;
    out.push(Point {
        measurement: "memory".into(),
        tags: tags(d, &[]),
        fields: vec![
            f(
                "percent_used",
                FieldValue::Float(round((1.0 - d.mem_free as f64 / total as f64) * 100.0, 2)),
            ),
            f("total_memory", FieldValue::Integer(total)),
            f("free_memory", FieldValue::Integer(d.mem_free)),
            f("buffered_memory", FieldValue::Integer(4_194_304)),
            f("shared_memory", FieldValue::Integer(90_112)),
            f("cached_memory", FieldValue::Integer(12_582_912)),
        ],
        time: t,
    });
    if rng.below(50) == 0 {
        d.disk = round((d.disk + 0.01).min(99.0), 2);
    }
    out.push(Point {
        measurement: "disk".into(),
        tags: tags(d, &[]),
        fields: vec![f("used_disk", FieldValue::Float(d.disk))],
        time: t,
    });
}

/// Walks the fleet in time order, handing out batches of points.
fn generate(
    args: &FleetArgs,
    mut sink: impl FnMut(Vec<Point>) -> anyhow::Result<()>,
) -> anyhow::Result<(u64, u64)> {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut devices: Vec<DeviceState> = (0..args.devices)
        .map(|i| DeviceState {
            id: uuid_like(u64::from(i) + 1),
            phase: (u64::from(i).wrapping_mul(7_919_000_003) % 299_000_000) as i64 * 1_000,
            org: uuid_like(1_000_000 + u64::from(i % 7)),
            rtt_base: rng.decimal(0.3, 40.0, 3),
            traffic_base: [
                rng.below(40_000_000) as f64,
                rng.below(5_000_000) as f64,
                rng.below(20_000_000) as f64,
            ],
            load: [0.2, 0.2, 0.2],
            mem_free: 40_000_000 + rng.below(40_000_000) as i64,
            disk: rng.decimal(5.0, 60.0, 2),
            clients: Vec::new(),
        })
        .collect();
    let steps = (args.days * DAY_NS as f64 / STEP_NS as f64).round() as i64;
    let (mut points, mut values) = (0u64, 0u64);
    for step in 0..steps {
        let t = START_NS + step * STEP_NS;
        for chunk in devices.chunks_mut(args.batch_devices.max(1) as usize) {
            let mut batch = Vec::with_capacity(chunk.len() * 12);
            for d in chunk.iter_mut() {
                let span = args.jitter_ms * 2_000;
                let drift = if span == 0 {
                    0
                } else {
                    (rng.below(span + 1) as i64 - (span / 2) as i64) * 1_000
                };
                device_points(d, t + d.phase + drift, &mut rng, &mut batch);
            }
            points += batch.len() as u64;
            values += batch.iter().map(|p| p.fields.len() as u64).sum::<u64>();
            sink(batch)?;
        }
    }
    Ok((points, values))
}

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn storage_config(cache: &str) -> anyhow::Result<StorageConfig> {
    let cache: ByteSize = cache.parse().map_err(anyhow::Error::msg)?;
    Ok(StorageConfig {
        cache_capacity: cache,
        ..StorageConfig::default()
    })
}

fn fleet(data_dir: &Path, args: &FleetArgs, cache: &str, head: &str) -> anyhow::Result<()> {
    if data_dir.exists() {
        bail!("{} exists; give a new directory", data_dir.display());
    }
    let clock: SharedClock = Arc::new(SystemClock);
    let mut cfg = storage_config(cache)?;
    cfg.head_memory_limit = head.parse().map_err(anyhow::Error::msg)?;
    let storage = Storage::open(data_dir, &cfg, clock.clone()).context("opening storage")?;
    let engine = storage.engine().clone();
    engine.create_database("openwisp2")?;
    let started = Instant::now();
    let mut write_time = Duration::ZERO;
    let (points, values) = generate(args, |batch| {
        let t = Instant::now();
        let out = engine.write(WriteBatch {
            database: "openwisp2".into(),
            retention_policy: None,
            points: batch,
        })?;
        write_time += t.elapsed();
        if !out.rejected.is_empty() {
            bail!("rejected points: {:?}", &out.rejected[..1]);
        }
        Ok(())
    })?;
    let ingest = started.elapsed();
    let t = Instant::now();
    engine.seal()?;
    let seal = t.elapsed();
    let hwm_ingest = rss_kib("VmHWM:");
    let disk_sealed = dir_size(&data_dir.join("db"));
    let (_, sealed_bytes, _) = engine.block_stats()?;
    let t = Instant::now();
    let compacted = engine.compact_shards(i64::MAX)?;
    let compaction = t.elapsed();
    let stats = engine.stats();
    let (blocks, block_bytes, rollup_bytes) = engine.block_stats()?;
    drop(engine);
    storage.close()?;
    let disk = dir_size(&data_dir.join("db"));

    println!(
        "fleet: {} devices, {} days, batches of {} devices, jitter ±{} ms",
        args.devices, args.days, args.batch_devices, args.jitter_ms
    );
    println!(
        "points {points}, field values {values}, series {}",
        stats.series
    );
    println!(
        "ingest: {:.2} s wall, {:.2} s inside engine.write -> {:.0} values/s (wall), {:.0} values/s (write calls)",
        ingest.as_secs_f64(),
        write_time.as_secs_f64(),
        values as f64 / ingest.as_secs_f64(),
        values as f64 / write_time.as_secs_f64()
    );
    println!(
        "final seal {:.2} s; compaction of {compacted} shards {:.2} s",
        seal.as_secs_f64(),
        compaction.as_secs_f64()
    );
    println!(
        "disk after seal: {disk_sealed} bytes ({:.3} B/value; live blocks {:.3} B/value)",
        disk_sealed as f64 / values as f64,
        sealed_bytes as f64 / values as f64
    );
    println!(
        "disk after compaction and close: {disk} bytes ({:.3} B/value); live blocks: {blocks}, {block_bytes} bytes ({:.3} B/value, rollups {:.3} B/value)",
        disk as f64 / values as f64,
        block_bytes as f64 / values as f64,
        rollup_bytes as f64 / values as f64
    );
    println!("rss: peak during ingest {} MiB", hwm_ingest / 1024);
    Ok(())
}

/// Opens an existing data directory in a fresh process and times the 365-day query.
fn query(data_dir: &Path, cache: &str, days: f64) -> anyhow::Result<()> {
    let clock: SharedClock = Arc::new(SystemClock);
    let t = Instant::now();
    let storage = Storage::open(data_dir, &storage_config(cache)?, clock)?;
    let open = t.elapsed();
    let engine = storage.engine().clone();
    let series = engine
        .series_where_tag("openwisp2", "cpu", "object_id", &|v| v == uuid_like(1))?
        .first()
        .copied()
        .context("series of device 1")?;
    let end = START_NS + (days * DAY_NS as f64) as i64;
    let (lo, hi) = (end - 365 * DAY_NS, end);
    let mut fast = Vec::new();
    let mut raw = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let a = engine.aggregate("openwisp2", None, series, "load_1", lo, hi, 7 * DAY_NS, 0)?;
        fast.push(t.elapsed());
        let t = Instant::now();
        let b = engine.aggregate_raw("openwisp2", None, series, "load_1", lo, hi, 7 * DAY_NS, 0)?;
        raw.push(t.elapsed());
        if a != b {
            bail!("rollup and raw aggregates differ");
        }
    }
    fast.sort();
    raw.sort();
    println!(
        "open {:.2} s; rss after open + queries {} MiB (peak {} MiB)",
        open.as_secs_f64(),
        rss_kib("VmRSS:") / 1024,
        rss_kib("VmHWM:") / 1024
    );
    println!(
        "365d GROUP BY 7d on one series: rollups median {:?} p95 {:?}; raw median {:?}",
        fast[fast.len() / 2],
        fast[fast.len() * 19 / 20],
        raw[raw.len() / 2]
    );
    drop(engine);
    storage.close()?;
    Ok(())
}

fn escape(s: &str, specials: &[char]) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        if specials.contains(&c) {
            o.push('\\');
        }
        o.push(c);
    }
    o
}

fn emit_lp(out: &Path, args: &FleetArgs) -> anyhow::Result<()> {
    let mut w = std::io::BufWriter::new(std::fs::File::create(out)?);
    let (points, values) = generate(args, |batch| {
        for p in batch {
            let mut line = escape(&p.measurement, &[',', ' ']);
            let mut tags = p.tags.clone();
            tags.sort();
            for (k, v) in &tags {
                line.push(',');
                line.push_str(&escape(k, &[',', '=', ' ']));
                line.push('=');
                line.push_str(&escape(v, &[',', '=', ' ']));
            }
            line.push(' ');
            for (i, (k, v)) in p.fields.iter().enumerate() {
                if i > 0 {
                    line.push(',');
                }
                line.push_str(&escape(k, &[',', '=', ' ']));
                line.push('=');
                match v {
                    FieldValue::Float(x) => line.push_str(&format!("{x:?}")),
                    FieldValue::Integer(x) => line.push_str(&format!("{x}i")),
                    FieldValue::Unsigned(x) => line.push_str(&format!("{x}u")),
                    FieldValue::Boolean(x) => line.push_str(if *x { "true" } else { "false" }),
                    FieldValue::String(x) => line.push_str(&format!(
                        "\"{}\"",
                        x.replace('\\', "\\\\").replace('"', "\\\"")
                    )),
                }
            }
            writeln!(w, "{line} {}", p.time)?;
        }
        Ok(())
    })?;
    w.flush()?;
    eprintln!("wrote {points} points, {values} field values");
    Ok(())
}

/// The deterministic content of crash-writer batch `n`: 50 points of one series, 2 fields.
fn crash_batch(n: u64) -> Vec<Point> {
    (0..50)
        .map(|i| Point {
            measurement: "crash".into(),
            tags: vec![("writer".into(), format!("w{}", n % 8))],
            fields: vec![
                ("n".into(), FieldValue::Integer(n as i64)),
                ("i".into(), FieldValue::Float(i as f64)),
            ],
            time: START_NS + (n as i64) * 1_000_000 + i,
        })
        .collect()
}

fn crash_writer(data_dir: &Path, start: u64) -> anyhow::Result<()> {
    let clock: SharedClock = Arc::new(SystemClock);
    let storage = Storage::open(data_dir, &storage_config("8MiB")?, clock)?;
    let engine = storage.engine().clone();
    engine.create_database("crash")?;
    let stdout = std::io::stdout();
    for n in start.. {
        let out = engine.write(WriteBatch {
            database: "crash".into(),
            retention_policy: None,
            points: crash_batch(n),
        })?;
        if out.written != 50 {
            bail!("batch {n}: {out:?}");
        }
        if n % 64 == 0 {
            // Seal now and then so kills also land mid-seal.
            engine.seal()?;
        }
        let mut lock = stdout.lock();
        writeln!(lock, "ack {n}")?;
        lock.flush()?;
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Fleet {
            data_dir,
            fleet: f,
            cache,
            head,
        } => fleet(&data_dir, &f, &cache, &head),
        Cmd::EmitLp { out, fleet: f } => emit_lp(&out, &f),
        Cmd::CrashWriter { data_dir, start } => crash_writer(&data_dir, start),
        Cmd::Query {
            data_dir,
            days,
            cache,
        } => query(&data_dir, &cache, days),
    }
}
