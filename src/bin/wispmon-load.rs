//! `wispmon-load`: load and crash tools for the timeseries engine.
//!
//! - `fleet`: writes OpenWISP-shaped data for a fleet (ping, traffic on 3 interfaces, WiFi
//!   clients, CPU, memory, disk every 5 minutes per device) through the engine API, then
//!   reports ingest rate, on-disk size per value, RSS and query latencies.
//! - `emit-lp`: the very same data as line protocol, for loading a reference InfluxDB.
//! - `devices`: creates a fleet of devices through the REST API, then posts the NetJSON
//!   fixtures for them over keep-alive HTTP/1.1 connections as the OpenWrt agent does, and
//!   reports POST rate and latency, then the latency of the device charts GET.
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
    /// Create devices through the API, post agent samples for them and time the charts.
    Devices {
        #[command(flatten)]
        args: DevicesArgs,
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

// `devices`: the device-facing HTTP API under load, through a client of its own.

/// Longest status or header line accepted from the server.
const MAX_HEADER_LINE: usize = 16 << 10;
/// Most header lines accepted in one response.
const MAX_HEADERS: usize = 128;
/// Largest response body accepted (a 365-day chart answer is well under this).
const MAX_RESPONSE_BODY: usize = 64 << 20;
/// A server that stops answering fails the request instead of hanging the tool.
const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// Seconds between an agent's samples (its default `interval`).
const SAMPLE_SECS: i64 = 300;
/// The server replaces sample times more than a day ahead of its clock with its own, which
/// would break the order of a device's samples; runs stop before they get there (with a
/// margin for the run's own duration).
const MAX_AHEAD_ROUNDS: u64 = (86_400 - 2 * 3_600) / SAMPLE_SECS as u64;

#[derive(Debug, Clone, clap::Args)]
struct DevicesArgs {
    /// Base URL of a running `wispmon serve` (plain HTTP).
    #[arg(long)]
    url: String,
    /// Password of the `admin` account.
    #[arg(long, env = "WISPMON_ADMIN_PASSWORD")]
    admin_password: String,
    /// Simulated devices (created through the API).
    #[arg(long, default_value_t = 10_000)]
    devices: usize,
    /// Keep-alive connections posting samples in parallel.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// How long to post samples, e.g. `60s`.
    #[arg(long, default_value = "60s")]
    duration: humantime_lite::Secs,
    /// Total target rate in POST/s; without it every connection posts as fast as it can
    /// (closed loop). With it, latency counts from each request's scheduled time, so a
    /// server that falls behind is not hidden by the client waiting for it.
    #[arg(long)]
    rate: Option<f64>,
    /// Connections used to create the devices.
    #[arg(long, default_value_t = 8)]
    create_connections: usize,
    /// Devices whose charts are timed (spread over the fleet).
    #[arg(long, default_value_t = 50)]
    chart_devices: usize,
    /// Times each chart request is repeated per device and timeframe.
    #[arg(long, default_value_t = 3)]
    chart_repeats: usize,
    /// Days of 5-minute history posted for the chart devices before the run, so the charts
    /// have data to aggregate (the run itself covers only hours).
    #[arg(long, default_value_t = 0)]
    history_days: u32,
    /// Directory holding `ap-two-radios.json` and `lte-router.json`.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/netjson"))]
    fixtures: PathBuf,
    /// Skip the POST phase: only create the devices (and history) and time the charts.
    #[arg(long)]
    no_posts: bool,
    /// Create the devices without a management IP. By default device *i* gets a loopback
    /// address of its own (127.1.0.0 upwards), so the server's ping checks find a live,
    /// healthy fleet, as an operator's is. Without an address the ping check reports a
    /// device that has spoken once as down (spec §6.2), the fleet turns critical, and each
    /// sample then also re-runs the device's ping check (recovery detection).
    #[arg(long)]
    no_management_ip: bool,
}

/// `60s`, `2m`, `1h` or plain seconds, for `--duration`.
mod humantime_lite {
    use std::str::FromStr;
    use std::time::Duration;

    #[derive(Debug, Clone, Copy)]
    pub(crate) struct Secs(pub(crate) Duration);

    impl FromStr for Secs {
        type Err = String;
        fn from_str(s: &str) -> Result<Self, String> {
            let (num, unit) =
                s.split_at(s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len()));
            let n: f64 = num.parse().map_err(|_| format!("bad duration {s:?}"))?;
            let k = match unit {
                "" | "s" => 1.0,
                "ms" => 0.001,
                "m" => 60.0,
                "h" => 3600.0,
                _ => return Err(format!("bad duration unit in {s:?} (s, ms, m, h)")),
            };
            if !(n * k).is_finite() || n * k < 0.0 {
                return Err(format!("bad duration {s:?}"));
            }
            Ok(Secs(Duration::from_secs_f64(n * k)))
        }
    }
}

/// Where the server listens: resolved once, with the `Host` header to send.
#[derive(Debug, Clone)]
struct Target {
    addr: std::net::SocketAddr,
    host: String,
}

impl Target {
    fn parse(url: &str) -> anyhow::Result<Self> {
        let Some(rest) = url.strip_prefix("http://") else {
            bail!("--url must start with http:// (the tool speaks plain HTTP/1.1 only)");
        };
        let host = rest.trim_end_matches('/');
        if host.contains('/') {
            bail!("--url must not have a path: {url}");
        }
        let addr = std::net::ToSocketAddrs::to_socket_addrs(host)
            .with_context(|| format!("resolving {host}"))?
            .next()
            .with_context(|| format!("{host} resolves to no address"))?;
        Ok(Self {
            addr,
            host: host.to_owned(),
        })
    }
}

/// One answer: status code and the whole body.
#[derive(Debug)]
struct HttpResponse {
    status: u16,
    body: Vec<u8>,
}

/// Device `i`'s management address: 127.1.0.0 upwards, one per device (Linux answers on all
/// of 127.0.0.0/8, so the server's pings stay on this machine).
fn loopback_address(i: usize) -> String {
    let n = 0x0001_0000 + (i % 0x00fe_ffff);
    format!("127.{}.{}.{}", n >> 16, (n >> 8) & 0xff, n & 0xff)
}

/// A blocking HTTP/1.1 client on one keep-alive connection (no client crate is available to
/// binaries). Everything read from the network is bounded: line lengths, header count and
/// body size.
struct HttpConn {
    target: Target,
    stream: Option<std::io::BufReader<std::net::TcpStream>>,
    request: Vec<u8>,
}

/// Reads one CRLF- or LF-terminated line of at most `MAX_HEADER_LINE` bytes, without the
/// terminator; `None` at end of stream before any byte.
fn read_line(r: &mut impl std::io::BufRead, line: &mut Vec<u8>) -> anyhow::Result<Option<()>> {
    use std::io::{BufRead, Read};
    line.clear();
    let n = r
        .by_ref()
        .take(MAX_HEADER_LINE as u64 + 2)
        .read_until(b'\n', line)?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        bail!("header line longer than {MAX_HEADER_LINE} bytes or cut short");
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Some(()))
}

impl HttpConn {
    fn new(target: &Target) -> Self {
        Self {
            target: target.clone(),
            stream: None,
            request: Vec::with_capacity(16 << 10),
        }
    }

    fn connect(&mut self) -> anyhow::Result<()> {
        let s = std::net::TcpStream::connect_timeout(&self.target.addr, IO_TIMEOUT)
            .with_context(|| format!("connecting to {}", self.target.addr))?;
        // Requests are written in one call; Nagle would only delay the next one.
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(IO_TIMEOUT))?;
        s.set_write_timeout(Some(IO_TIMEOUT))?;
        self.stream = Some(std::io::BufReader::with_capacity(64 << 10, s));
        Ok(())
    }

    /// Sends one request and reads the whole answer. A reused connection that the server
    /// closed while idle (nothing at all comes back) is reopened once; a request that got
    /// any part of an answer is never resent, so a POST is not stored twice.
    fn send(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&[u8]>,
    ) -> anyhow::Result<HttpResponse> {
        let reused = self.stream.is_some();
        match self.send_once(method, path, token, body) {
            Ok(Some(r)) => Ok(r),
            Ok(None) if reused => {
                self.stream = None;
                self.send_once(method, path, token, body)?
                    .context("connection closed before an answer")
            }
            Ok(None) => bail!("connection closed before an answer"),
            Err(e) => {
                self.stream = None;
                Err(e)
            }
        }
    }

    fn send_once(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&[u8]>,
    ) -> anyhow::Result<Option<HttpResponse>> {
        use std::io::Read;
        if self.stream.is_none() {
            self.connect()?;
        }
        let req = &mut self.request;
        req.clear();
        write!(
            req,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: wispmon-load\r\nAccept: */*\r\n",
            self.target.host
        )?;
        if let Some(t) = token {
            write!(req, "Authorization: Bearer {t}\r\n")?;
        }
        if let Some(b) = body {
            write!(
                req,
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                b.len()
            )?;
        }
        req.extend_from_slice(b"\r\n");
        if let Some(b) = body {
            req.extend_from_slice(b);
        }
        let stream = self.stream.as_mut().context("not connected")?;
        if stream.get_mut().write_all(req).is_err() {
            // The server closed the idle connection; reading shows whether anything came.
            self.stream = None;
            return Ok(None);
        }
        let mut line = Vec::new();
        let status = match read_line(stream, &mut line) {
            Ok(Some(())) => parse_status_line(&line)?,
            Ok(None) => {
                self.stream = None;
                return Ok(None);
            }
            Err(e) => return Err(e.context("reading the status line")),
        };
        let (mut length, mut chunked, mut close) = (None, false, false);
        let mut headers = 0;
        loop {
            if read_line(stream, &mut line)?.is_none() {
                bail!("connection closed inside the headers");
            }
            if line.is_empty() {
                break;
            }
            headers += 1;
            if headers > MAX_HEADERS {
                bail!("more than {MAX_HEADERS} header lines");
            }
            let text = String::from_utf8_lossy(&line);
            let Some((name, value)) = text.split_once(':') else {
                bail!("malformed header line {text:?}");
            };
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
            match name.as_str() {
                "content-length" => {
                    let n: usize = value
                        .parse()
                        .with_context(|| format!("bad Content-Length {value:?}"))?;
                    length = Some(n);
                }
                "transfer-encoding" => {
                    chunked = value.to_ascii_lowercase().contains("chunked");
                }
                "connection" => close = value.eq_ignore_ascii_case("close"),
                _ => {}
            }
        }
        let mut body = Vec::new();
        let bodiless = method == "HEAD" || status == 204 || status == 304 || status < 200;
        if bodiless {
        } else if chunked {
            loop {
                if read_line(stream, &mut line)?.is_none() {
                    bail!("connection closed inside a chunked body");
                }
                let text = String::from_utf8_lossy(&line);
                let size_text = text.split(';').next().unwrap_or("").trim();
                let size = usize::from_str_radix(size_text, 16)
                    .with_context(|| format!("bad chunk size {size_text:?}"))?;
                if size == 0 {
                    // Trailers up to the empty line.
                    loop {
                        if read_line(stream, &mut line)?.is_none() || line.is_empty() {
                            break;
                        }
                    }
                    break;
                }
                if body.len().saturating_add(size) > MAX_RESPONSE_BODY {
                    bail!("response body over {MAX_RESPONSE_BODY} bytes");
                }
                let start = body.len();
                body.resize(start + size, 0);
                stream.read_exact(&mut body[start..])?;
                if read_line(stream, &mut line)?.is_none() || !line.is_empty() {
                    bail!("chunk not followed by CRLF");
                }
            }
        } else if let Some(n) = length {
            if n > MAX_RESPONSE_BODY {
                bail!("response body of {n} bytes is over {MAX_RESPONSE_BODY}");
            }
            body.resize(n, 0);
            stream.read_exact(&mut body)?;
        } else {
            // No length: the body runs to the end of the connection.
            stream
                .by_ref()
                .take(MAX_RESPONSE_BODY as u64 + 1)
                .read_to_end(&mut body)?;
            if body.len() > MAX_RESPONSE_BODY {
                bail!("response body over {MAX_RESPONSE_BODY} bytes");
            }
            close = true;
        }
        if close {
            self.stream = None;
        }
        Ok(Some(HttpResponse { status, body }))
    }

    /// A JSON request whose answer must have status `want`; returns the parsed answer.
    fn json(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: &serde_json::Value,
        want: u16,
    ) -> anyhow::Result<serde_json::Value> {
        let r = self.send(method, path, token, Some(body.to_string().as_bytes()))?;
        if r.status != want {
            bail!(
                "{method} {path}: status {} (wanted {want}): {}",
                r.status,
                String::from_utf8_lossy(&r.body[..r.body.len().min(500)])
            );
        }
        serde_json::from_slice(&r.body)
            .with_context(|| format!("{method} {path}: answer is not JSON"))
    }
}

fn parse_status_line(line: &[u8]) -> anyhow::Result<u16> {
    let text = String::from_utf8_lossy(line);
    let mut parts = text.split_whitespace();
    let (Some(version), Some(code)) = (parts.next(), parts.next()) else {
        bail!("malformed status line {text:?}");
    };
    if !version.starts_with("HTTP/1.") {
        bail!("not an HTTP/1.x answer: {text:?}");
    }
    code.parse()
        .with_context(|| format!("bad status code in {text:?}"))
}

/// `dd-mm-YYYY_HH:MM:SS.000000` of a UTC epoch second, the agent's `time` parameter.
fn agent_time(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{d:02}-{m:02}-{y:04}_{:02}:{:02}:{:02}.000000",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// What a counter in the document does over time.
#[derive(Debug, Clone, Copy)]
enum SlotKind {
    Bytes,
    Packets,
    Uptime,
    LocalTime,
}

/// One fixture, serialised once with its counters cut out, so a request body is built by
/// concatenation instead of re-serialising 10 KB of JSON per request on a machine whose two
/// cores the server needs.
struct BodyTemplate {
    /// `parts.len() == slots.len() + 1`: part, slot, part, ..., part.
    parts: Vec<Vec<u8>>,
    slots: Vec<(SlotKind, u64)>,
}

/// First sentinel number put in place of a counter; 19 digits each, so none is a prefix of
/// another and none occurs in the fixtures.
const SENTINEL: u64 = 9_100_000_000_000_000_000;
/// 2020-01-01T00:00:00Z: counters grow from here, before any sample the tool posts.
const COUNTER_ORIGIN_S: i64 = 1_577_836_800;

impl BodyTemplate {
    fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let mut doc: serde_json::Value =
            serde_json::from_slice(&text).with_context(|| format!("parsing {}", path.display()))?;
        let mut slots = Vec::new();
        let take = |v: &mut serde_json::Value, kind: SlotKind, slots: &mut Vec<(SlotKind, u64)>| {
            if let Some(base) = v.as_u64() {
                *v = serde_json::Value::from(SENTINEL + slots.len() as u64);
                slots.push((kind, base));
            }
        };
        if let Some(g) = doc.get_mut("general") {
            if let Some(v) = g.get_mut("uptime") {
                take(v, SlotKind::Uptime, &mut slots);
            }
            if let Some(v) = g.get_mut("local_time") {
                take(v, SlotKind::LocalTime, &mut slots);
            }
        }
        if let Some(ifaces) = doc.get_mut("interfaces").and_then(|v| v.as_array_mut()) {
            for iface in ifaces {
                let Some(stats) = iface.get_mut("statistics") else {
                    continue;
                };
                for (name, kind) in [
                    ("rx_bytes", SlotKind::Bytes),
                    ("tx_bytes", SlotKind::Bytes),
                    ("rx_packets", SlotKind::Packets),
                    ("tx_packets", SlotKind::Packets),
                ] {
                    if let Some(v) = stats.get_mut(name) {
                        take(v, kind, &mut slots);
                    }
                }
            }
        }
        let compact = serde_json::to_string(&doc)?;
        let mut at: Vec<(usize, usize)> = Vec::with_capacity(slots.len());
        for i in 0..slots.len() {
            let needle = (SENTINEL + i as u64).to_string();
            let pos = compact
                .find(&needle)
                .context("invariant: every sentinel is in the serialised document")?;
            at.push((pos, i));
        }
        at.sort_unstable();
        let width = SENTINEL.to_string().len();
        let (mut parts, mut ordered, mut from) = (Vec::new(), Vec::new(), 0);
        for (pos, i) in at {
            parts.push(compact.as_bytes()[from..pos].to_vec());
            ordered.push(slots[i]);
            from = pos + width;
        }
        parts.push(compact.as_bytes()[from..].to_vec());
        Ok(Self {
            parts,
            slots: ordered,
        })
    }

    /// The body device `dev` sends at `t` (epoch seconds): counters grow at a rate of the
    /// device's own from a fixed origin, so every sample has realistic, positive traffic
    /// deltas against the one before it.
    fn render(&self, out: &mut Vec<u8>, dev: u64, t: i64) {
        let since = u64::try_from(t - COUNTER_ORIGIN_S).unwrap_or(0);
        out.clear();
        for (i, part) in self.parts.iter().enumerate() {
            out.extend_from_slice(part);
            let Some(&(kind, base)) = self.slots.get(i) else {
                break;
            };
            // 1 kB/s to 2 MB/s per interface and device, fixed per (device, slot).
            let mut h = Rng((dev.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ ((i as u64 + 1) << 32)) | 1);
            let rate = 1_000 + h.below(2_000_000);
            let v = match kind {
                SlotKind::Bytes => base + rate * since,
                SlotKind::Packets => base + rate / 700 * since,
                SlotKind::Uptime => base + since,
                SlotKind::LocalTime => u64::try_from(t).unwrap_or(0),
            };
            // Writing into a Vec cannot fail.
            let _ = write!(out, "{v}");
        }
    }
}

/// A device the tool created: its id and agent key.
struct LoadDevice {
    id: String,
    key: String,
}

/// Latencies (µs) and status counts from one connection.
#[derive(Default)]
struct PostStats {
    first: Vec<u32>,
    steady: Vec<u32>,
    statuses: std::collections::BTreeMap<u16, u64>,
    failures: u64,
    first_problem: Option<String>,
    body_bytes: u64,
}

impl PostStats {
    fn merge(&mut self, o: PostStats) {
        self.first.extend(o.first);
        self.steady.extend(o.steady);
        for (k, v) in o.statuses {
            *self.statuses.entry(k).or_default() += v;
        }
        self.failures += o.failures;
        if self.first_problem.is_none() {
            self.first_problem = o.first_problem;
        }
        self.body_bytes += o.body_bytes;
    }
    fn errors(&self) -> u64 {
        self.failures
            + self
                .statuses
                .iter()
                .filter(|(s, _)| **s != 200)
                .map(|(_, n)| n)
                .sum::<u64>()
    }
    fn ok(&self) -> u64 {
        self.statuses.get(&200).copied().unwrap_or(0)
    }
}

/// One posting connection's work: `devs` (indexes into the fleet) round-robin, sample time
/// `base + round * 300 s`, until `rounds` or the deadline.
struct PostPlan<'a> {
    fleet: &'a [LoadDevice],
    templates: &'a [BodyTemplate; 2],
    target: &'a Target,
    base: i64,
    rounds: u64,
    deadline: Option<Instant>,
    /// Time between this connection's requests under `--rate`.
    interval: Option<Duration>,
    done: &'a std::sync::atomic::AtomicU64,
}

fn post_loop(plan: &PostPlan<'_>, devs: &[usize]) -> PostStats {
    use std::fmt::Write as _;
    use std::sync::atomic::Ordering;
    let mut conn = HttpConn::new(plan.target);
    let mut stats = PostStats::default();
    let (mut body, mut path) = (Vec::with_capacity(16 << 10), String::new());
    let started = Instant::now();
    let mut sent: u32 = 0;
    'rounds: for round in 0..plan.rounds {
        let t = plan.base + round as i64 * SAMPLE_SECS;
        let time = agent_time(t);
        for &d in devs {
            if plan.deadline.is_some_and(|dl| Instant::now() >= dl) {
                break 'rounds;
            }
            let Some(dev) = plan.fleet.get(d) else {
                continue;
            };
            // Half the fleet are dual-radio APs, half LTE routers.
            plan.templates[d % 2].render(&mut body, d as u64, t);
            path.clear();
            let _ = write!(
                path,
                "/api/v1/monitoring/device/{}/?key={}&time={time}",
                dev.id, dev.key
            );
            let begin = match plan.interval {
                Some(iv) => {
                    let due = started + iv * sent;
                    let now = Instant::now();
                    if due > now {
                        #[allow(clippy::disallowed_methods)]
                        // a plain blocking thread pacing itself
                        std::thread::sleep(due - now);
                    }
                    due
                }
                None => Instant::now(),
            };
            sent = sent.saturating_add(1);
            let outcome = conn.send("POST", &path, None, Some(&body));
            let us = u32::try_from(begin.elapsed().as_micros()).unwrap_or(u32::MAX);
            match outcome {
                Ok(r) => {
                    *stats.statuses.entry(r.status).or_default() += 1;
                    if r.status != 200 && stats.first_problem.is_none() {
                        stats.first_problem = Some(format!(
                            "status {}: {}",
                            r.status,
                            String::from_utf8_lossy(&r.body[..r.body.len().min(300)])
                        ));
                    }
                }
                Err(e) => {
                    stats.failures += 1;
                    if stats.first_problem.is_none() {
                        stats.first_problem = Some(format!("{e:#}"));
                    }
                }
            }
            if round == 0 {
                stats.first.push(us);
            } else {
                stats.steady.push(us);
            }
            stats.body_bytes += body.len() as u64;
            plan.done.fetch_add(1, Ordering::Relaxed);
        }
    }
    stats
}

/// Splits `devs` over `connections` threads (device `i` always on the same connection, so its
/// samples arrive in order) and runs `post_loop` on each, printing progress every 10 s.
fn post_parallel(plan: &PostPlan<'_>, devs: &[usize], connections: usize) -> (PostStats, Duration) {
    use std::sync::atomic::Ordering;
    let connections = connections.clamp(1, devs.len().max(1));
    let shares: Vec<Vec<usize>> = (0..connections)
        .map(|c| devs.iter().copied().skip(c).step_by(connections).collect())
        .collect();
    let started = Instant::now();
    let finished = std::sync::atomic::AtomicUsize::new(0);
    let mut total = PostStats::default();
    std::thread::scope(|s| {
        let handles: Vec<_> = shares
            .iter()
            .map(|share| {
                let finished = &finished;
                s.spawn(move || {
                    let st = post_loop(plan, share);
                    finished.fetch_add(1, Ordering::Relaxed);
                    st
                })
            })
            .collect();
        let mut last = (Instant::now(), plan.done.load(Ordering::Relaxed));
        while finished.load(Ordering::Relaxed) < handles.len() {
            #[allow(clippy::disallowed_methods)] // the reporting thread only waits
            std::thread::sleep(Duration::from_millis(200));
            if last.0.elapsed() >= Duration::from_secs(10) {
                let n = plan.done.load(Ordering::Relaxed);
                eprintln!(
                    "  {:>5.0} s: {} requests, {:.0}/s over the last {:.0} s",
                    started.elapsed().as_secs_f64(),
                    n,
                    (n - last.1) as f64 / last.0.elapsed().as_secs_f64(),
                    last.0.elapsed().as_secs_f64()
                );
                last = (Instant::now(), n);
            }
        }
        for h in handles {
            match h.join() {
                Ok(st) => total.merge(st),
                Err(_) => {
                    total.failures += 1;
                    total
                        .first_problem
                        .get_or_insert_with(|| "a posting thread panicked".into());
                }
            }
        }
    });
    (total, started.elapsed())
}

/// `p` (0..=1) of sorted microseconds, in ms.
fn pct_ms(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    f64::from(sorted[i.min(sorted.len() - 1)]) / 1000.0
}

fn latency_line(name: &str, v: &mut [u32]) {
    v.sort_unstable();
    println!(
        "  {name}: n={} p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        v.len(),
        pct_ms(v, 0.5),
        pct_ms(v, 0.9),
        pct_ms(v, 0.99),
        pct_ms(v, 1.0)
    );
}

fn report_posts(what: &str, st: &mut PostStats, wall: Duration) {
    let n = (st.first.len() + st.steady.len()) as f64;
    println!(
        "{what}: {} requests in {:.1} s = {:.0} POST/s ({:.1} MB/s of bodies); 200: {}, errors: {}",
        n,
        wall.as_secs_f64(),
        n / wall.as_secs_f64(),
        st.body_bytes as f64 / wall.as_secs_f64() / 1e6,
        st.ok(),
        st.errors()
    );
    if st.errors() > 0 {
        println!(
            "  statuses {:?}, transport failures {}; first problem: {}",
            st.statuses,
            st.failures,
            st.first_problem.as_deref().unwrap_or("-")
        );
    }
    let mut all: Vec<u32> = st.first.iter().chain(&st.steady).copied().collect();
    latency_line("all", &mut all);
    if !st.first.is_empty() && !st.steady.is_empty() {
        latency_line(
            "first sample per device (creates its metrics)",
            &mut st.first,
        );
        latency_line("later samples", &mut st.steady);
    }
}

fn devices_load(a: &DevicesArgs) -> anyhow::Result<()> {
    use wispmon::time::Clock;
    let target = Target::parse(&a.url)?;
    let fixtures = &a.fixtures;
    let templates = [
        BodyTemplate::load(&fixtures.join("ap-two-radios.json"))?,
        BodyTemplate::load(&fixtures.join("lte-router.json"))?,
    ];
    let mut conn = HttpConn::new(&target);
    let token = conn.json(
        "POST",
        "/api/v1/users/token/",
        None,
        &serde_json::json!({"username": "admin", "password": a.admin_password}),
        200,
    )?;
    let token = token["token"]
        .as_str()
        .context("the token answer has no token")?
        .to_owned();
    let now_s = SystemClock.now().as_secs();
    let org = conn.json(
        "POST",
        "/api/v1/users/organization/",
        Some(&token),
        &serde_json::json!({"name": format!("load-{now_s}")}),
        201,
    )?;
    let org = org["id"]
        .as_str()
        .context("the organization answer has no id")?
        .to_owned();

    // Devices, created over several connections; MACs are locally administered and derived
    // from the run's second so reruns against the same server do not collide.
    let started = Instant::now();
    let creators = a.create_connections.clamp(1, a.devices.max(1));
    let mut fleet: Vec<Option<LoadDevice>> = (0..a.devices).map(|_| None).collect();
    let results: Vec<anyhow::Result<Vec<(usize, LoadDevice)>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..creators)
            .map(|c| {
                let (target, token, org) = (&target, &token, &org);
                s.spawn(move || {
                    let mut conn = HttpConn::new(target);
                    let mut out = Vec::new();
                    for i in (c..a.devices).step_by(creators) {
                        let mac = format!(
                            "02:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                            (now_s >> 8) & 0xff,
                            now_s & 0xff,
                            (i >> 16) & 0xff,
                            (i >> 8) & 0xff,
                            i & 0xff
                        );
                        let mut body = serde_json::json!({
                            "name": format!("load-{now_s}-{i}"),
                            "organization": org,
                            "mac_address": mac,
                        });
                        if !a.no_management_ip {
                            body["management_ip"] = serde_json::Value::from(loopback_address(i));
                        }
                        let v = conn.json(
                            "POST",
                            "/api/v1/controller/device/",
                            Some(token),
                            &body,
                            201,
                        )?;
                        let (Some(id), Some(key)) = (v["id"].as_str(), v["key"].as_str()) else {
                            bail!("device answer without id or key: {v}");
                        };
                        out.push((
                            i,
                            LoadDevice {
                                id: id.to_owned(),
                                key: key.to_owned(),
                            },
                        ));
                    }
                    Ok(out)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a creating thread panicked")))
            })
            .collect()
    });
    for r in results {
        for (i, d) in r? {
            fleet[i] = Some(d);
        }
    }
    let fleet: Vec<LoadDevice> = fleet
        .into_iter()
        .collect::<Option<_>>()
        .context("invariant: every device index was created by one thread")?;
    let created = started.elapsed();
    println!(
        "created 1 organization and {} devices over {creators} connections in {:.1} s ({:.0} devices/s)",
        fleet.len(),
        created.as_secs_f64(),
        fleet.len() as f64 / created.as_secs_f64()
    );

    // Samples start at the current 5-minute mark, so they are "current" for the server (a
    // sample more than 5 minutes old is historical and skips the WiFi-session and health
    // work) and advance 300 s per round into the server's one-day-ahead window.
    let base = now_s.div_euclid(SAMPLE_SECS) * SAMPLE_SECS;
    let done = std::sync::atomic::AtomicU64::new(0);
    let step = (fleet.len() / a.chart_devices.max(1)).max(1);
    let charted: Vec<usize> = (0..fleet.len())
        .step_by(step)
        .take(a.chart_devices)
        .collect();
    if a.history_days > 0 && !charted.is_empty() {
        let rounds = u64::from(a.history_days) * 86_400 / SAMPLE_SECS as u64;
        let plan = PostPlan {
            fleet: &fleet,
            templates: &templates,
            target: &target,
            base: base - rounds as i64 * SAMPLE_SECS,
            rounds,
            deadline: None,
            interval: None,
            done: &done,
        };
        let (mut st, wall) = post_parallel(&plan, &charted, a.connections);
        report_posts(
            &format!(
                "history: {} days for {} chart devices",
                a.history_days,
                charted.len()
            ),
            &mut st,
            wall,
        );
    }
    if !a.no_posts {
        done.store(0, std::sync::atomic::Ordering::Relaxed);
        let all: Vec<usize> = (0..fleet.len()).collect();
        let interval = a
            .rate
            .filter(|r| *r > 0.0)
            .map(|r| Duration::from_secs_f64(a.connections.min(fleet.len()).max(1) as f64 / r));
        let plan = PostPlan {
            fleet: &fleet,
            templates: &templates,
            target: &target,
            base,
            rounds: MAX_AHEAD_ROUNDS,
            deadline: Some(Instant::now() + a.duration.0),
            interval,
            done: &done,
        };
        let (mut st, wall) = post_parallel(&plan, &all, a.connections);
        report_posts(
            &format!(
                "device POSTs: {} devices, {} connections, {}",
                fleet.len(),
                a.connections,
                a.rate
                    .map_or("closed loop".to_owned(), |r| format!("target {r} POST/s"))
            ),
            &mut st,
            wall,
        );
    }

    // Charts, one request at a time on one keep-alive connection, as a browser tab asks.
    for timeframe in ["7d", "365d"] {
        let mut lat = Vec::new();
        let (mut bad, mut bytes) = (0u64, 0usize);
        let mut problem = None;
        for _ in 0..a.chart_repeats {
            for &d in &charted {
                let path = format!(
                    "/api/v1/monitoring/device/{}/?time={timeframe}",
                    fleet[d].id
                );
                let t = Instant::now();
                let r = conn.send("GET", &path, Some(&token), None);
                lat.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
                match r {
                    Ok(r) if r.status == 200 => bytes = bytes.max(r.body.len()),
                    Ok(r) => {
                        bad += 1;
                        problem.get_or_insert(format!("status {}", r.status));
                    }
                    Err(e) => {
                        bad += 1;
                        problem.get_or_insert(format!("{e:#}"));
                    }
                }
            }
        }
        lat.sort_unstable();
        println!(
            "charts GET ?time={timeframe}: n={} p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms; largest answer {bytes} bytes; errors {bad}{}",
            lat.len(),
            pct_ms(&lat, 0.5),
            pct_ms(&lat, 0.95),
            pct_ms(&lat, 1.0),
            problem.map_or(String::new(), |p| format!(" (first: {p})"))
        );
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
        Cmd::Devices { args } => devices_load(&args),
        Cmd::CrashWriter { data_dir, start } => crash_writer(&data_dir, start),
        Cmd::Query {
            data_dir,
            days,
            cache,
        } => query(&data_dir, &cache, days),
    }
}

#[cfg(test)]
mod tests {
    use super::loopback_address;

    #[test]
    fn device_addresses_are_distinct_loopback_addresses() {
        assert_eq!(loopback_address(0), "127.1.0.0");
        assert_eq!(loopback_address(9_999), "127.1.39.15");
        let all: std::collections::HashSet<String> = (0..70_000).map(loopback_address).collect();
        assert_eq!(all.len(), 70_000);
        assert!(all.iter().all(|a| a.starts_with("127.")));
    }
}
