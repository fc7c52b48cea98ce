//! `wispmon-ping-bench`: the ICMP pinger against Debian's `fping` on the same loopback targets.
//!
//! Pings N loopback addresses (127.A.B.C, no component 0 or 255; all answer on Linux) with
//! `count` probes `interval` apart, first with wispmon's [`Pinger`], then with
//! `fping -c count -p interval -b bytes -t timeout -q -i I -f <targets>`, and prints wall time,
//! CPU time (user + system, from `/proc/self/stat`; fping's as our reaped children's), CPU % of
//! one core, loss and RTTs side by side with ratios.
//!
//! The schedules: fping sends round-robin, one packet every `-i` ms across all targets, and a
//! target's next probe is due `-p` after its previous one, so with N × `-i` > `-p` every target
//! gets one probe per round of N × `-i`. wispmon starts one `ping` per target (as the check
//! scheduler would), target k at k × spread / N, each sending its `count` probes `interval`
//! apart. By default spread = N × count × I, so both send the same N × count packets at the same
//! mean rate (1 / I) over the same time: the fair match for a global pacing that fping imposes
//! and wispmon does not need. `--fping-interval-ms` sets I (default 0.2 ms: 10,000 × 5 probes
//! in 10 s).

use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use wispmon::net::icmp::{PingResult, Pinger, Probe};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "wispmon-ping-bench",
    about = "wispmon's ICMP pinger against fping on loopback targets"
)]
struct Cli {
    /// Loopback targets (127.A.B.C).
    #[arg(long, default_value_t = 10_000)]
    targets: u32,
    /// Probes per target (fping -c).
    #[arg(long, default_value_t = 5)]
    count: u32,
    /// Milliseconds between probes to one target (fping -p).
    #[arg(long, default_value_t = 25)]
    interval_ms: u64,
    /// Payload bytes (fping -b).
    #[arg(long, default_value_t = 56)]
    bytes: usize,
    /// Per-probe timeout in milliseconds (fping -t).
    #[arg(long, default_value_t = 800)]
    timeout_ms: u64,
    /// fping's global inter-packet interval -i, in milliseconds (fractions allowed for root).
    #[arg(long, default_value_t = 0.2)]
    fping_interval_ms: f64,
    /// Window over which wispmon starts its pings, in milliseconds; default: targets × count ×
    /// fping interval, the same mean packet rate as fping.
    #[arg(long)]
    spread_ms: Option<f64>,
    /// tokio worker threads (the appliance uses one per core).
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// The fping binary.
    #[arg(long, default_value = "fping")]
    fping: PathBuf,
    /// Only run wispmon's pinger.
    #[arg(long)]
    no_fping: bool,
}

/// One side's measurements.
#[derive(Debug, Default)]
struct Run {
    wall: Duration,
    cpu_user: Duration,
    cpu_sys: Duration,
    sent: u64,
    received: u64,
    reachable: u64,
    /// Per target with replies: (min, avg, max) RTT in ms.
    per_target: Vec<(f64, f64, f64)>,
    /// Every RTT in ms (wispmon only; fping -c reports per target).
    all_rtts: Vec<f64>,
}

impl Run {
    fn cpu(&self) -> Duration {
        self.cpu_user + self.cpu_sys
    }
    fn cpu_percent(&self) -> f64 {
        100.0 * self.cpu().as_secs_f64() / self.wall.as_secs_f64().max(1e-9)
    }
    fn loss_percent(&self) -> f64 {
        100.0 * (self.sent - self.received) as f64 / (self.sent.max(1)) as f64
    }
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if cli.count == 0 || cli.targets == 0 {
        bail!("--targets and --count must be positive");
    }
    let targets = loopback_targets(cli.targets)?;
    let probe = Probe {
        count: cli.count,
        interval: Duration::from_millis(cli.interval_ms),
        bytes: cli.bytes,
        timeout: Duration::from_millis(cli.timeout_ms),
    };
    let spread_ms = cli
        .spread_ms
        .unwrap_or(f64::from(cli.targets) * f64::from(cli.count) * cli.fping_interval_ms);
    let spread = Duration::from_secs_f64(spread_ms.max(0.0) / 1e3);
    let ticks = clock_ticks_per_second();

    println!(
        "targets {} × count {} every {} ms, {} bytes, timeout {} ms; wispmon spread {:.0} ms, \
         fping -i {} ms; {} tokio workers; {} CPUs",
        cli.targets,
        cli.count,
        cli.interval_ms,
        cli.bytes,
        cli.timeout_ms,
        spread_ms,
        cli.fping_interval_ms,
        cli.workers,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );

    let ours = run_wispmon(&targets, &probe, spread, cli.workers, ticks)?;
    let theirs = if cli.no_fping {
        None
    } else {
        Some(run_fping(&cli, &targets, ticks)?)
    };
    report(&ours, theirs.as_ref());
    Ok(())
}

/// 127.A.B.C with every component in 1..=254.
fn loopback_targets(n: u32) -> anyhow::Result<Vec<IpAddr>> {
    let per_b = 254u32;
    let per_a = 254 * per_b;
    if n > 254 * per_a {
        bail!("at most {} loopback targets", 254 * per_a);
    }
    Ok((0..n)
        .map(|i| {
            let a = (i / per_a + 1) as u8;
            let b = (i % per_a / per_b + 1) as u8;
            let c = (i % per_b + 1) as u8;
            IpAddr::V4(Ipv4Addr::new(127, a, b, c))
        })
        .collect())
}

fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// (utime, stime, cutime, cstime) of this process, in seconds.
fn self_cpu(ticks: f64) -> anyhow::Result<[f64; 4]> {
    let stat = std::fs::read_to_string("/proc/self/stat").context("reading /proc/self/stat")?;
    // The command name may contain spaces; fields are counted after its closing parenthesis,
    // where field 3 (state) comes first, so utime (field 14) is the 12th.
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("malformed /proc/self/stat")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let mut out = [0.0; 4];
    for (slot, i) in out.iter_mut().zip(11..15) {
        let v: f64 = fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .context("malformed /proc/self/stat")?;
        *slot = v / ticks;
    }
    Ok(out)
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

fn run_wispmon(
    targets: &[IpAddr],
    probe: &Probe,
    spread: Duration,
    workers: usize,
    ticks: f64,
) -> anyhow::Result<Run> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers.max(1))
        .enable_all()
        .build()
        .context("building the tokio runtime")?;
    let pinger = Arc::new(Pinger::new());
    rt.block_on(async { pinger.open(false) })
        .context("opening the ICMP socket")?;

    let before = self_cpu(ticks)?;
    let started = Instant::now();
    let results: Vec<PingResult> = rt.block_on(async {
        let start = tokio::time::Instant::now();
        let n = targets.len() as u32;
        let mut tasks = Vec::with_capacity(targets.len());
        for (k, &target) in targets.iter().enumerate() {
            let at = start + spread.mul_f64(k as f64 / f64::from(n));
            tokio::time::sleep_until(at).await;
            let pinger = Arc::clone(&pinger);
            let probe = probe.clone();
            tasks.push(tokio::spawn(
                async move { pinger.ping(target, &probe).await },
            ));
        }
        let mut results = Vec::with_capacity(tasks.len());
        for task in tasks {
            results.push(task.await.context("ping task")??);
        }
        anyhow::Ok(results)
    })?;
    let wall = started.elapsed();
    let after = self_cpu(ticks)?;

    let mut run = Run {
        wall,
        cpu_user: secs(after[0] - before[0]),
        cpu_sys: secs(after[1] - before[1]),
        ..Run::default()
    };
    for r in &results {
        run.sent += u64::from(r.sent);
        run.received += u64::from(r.received);
        if let Some(stats) = r.rtt_min_avg_max_ms() {
            run.reachable += 1;
            run.per_target.push(stats);
        }
        run.all_rtts
            .extend(r.rtts.iter().flatten().map(|d| d.as_secs_f64() * 1e3));
    }
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.trim_start_matches("VmHWM:").trim().to_owned())
        })
        .unwrap_or_default();
    println!(
        "wispmon: peak RSS {rss} (whole process); socket mode {:?}",
        pinger.mode(false)
    );
    Ok(run)
}

fn run_fping(cli: &Cli, targets: &[IpAddr], ticks: f64) -> anyhow::Result<Run> {
    let list = std::env::temp_dir().join(format!("wispmon-ping-bench-{}.txt", std::process::id()));
    {
        let mut f = std::fs::File::create(&list).context("writing the target list")?;
        for t in targets {
            writeln!(f, "{t}")?;
        }
    }
    let interval = format!("{}", cli.fping_interval_ms);
    let args = [
        "-c".to_owned(),
        cli.count.to_string(),
        "-p".to_owned(),
        cli.interval_ms.to_string(),
        "-b".to_owned(),
        cli.bytes.to_string(),
        "-t".to_owned(),
        cli.timeout_ms.to_string(),
        "-q".to_owned(),
        "-i".to_owned(),
        interval,
        "-f".to_owned(),
        list.display().to_string(),
    ];
    println!("fping: {} {}", cli.fping.display(), args.join(" "));

    let before = self_cpu(ticks)?;
    let started = Instant::now();
    let child = Command::new(&cli.fping)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {} (apt-get install fping)", cli.fping.display()))?;
    // Reaping adds the child's CPU time to our cutime/cstime.
    let out = child.wait_with_output().context("waiting for fping")?;
    let wall = started.elapsed();
    let after = self_cpu(ticks)?;
    let _ = std::fs::remove_file(&list);
    // 0: all reachable, 1: some unreachable; anything else is a failure.
    if !matches!(out.status.code(), Some(0 | 1)) {
        bail!(
            "fping failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let mut run = Run {
        wall,
        cpu_user: secs(after[2] - before[2]),
        cpu_sys: secs(after[3] - before[3]),
        ..Run::default()
    };
    let mut seen = HashMap::new();
    for line in String::from_utf8_lossy(&out.stderr).lines() {
        if let Some((host, sent, recv, stats)) = parse_fping_line(line) {
            seen.insert(host.to_owned(), ());
            run.sent += sent;
            run.received += recv;
            if let Some(stats) = stats {
                run.reachable += 1;
                run.per_target.push(stats);
            }
        }
    }
    if seen.len() != targets.len() {
        println!(
            "fping: summary lines for {} of {} targets",
            seen.len(),
            targets.len()
        );
    }
    Ok(run)
}

/// One target's fping summary: host, sent, received, and (min, avg, max) RTT if any reply.
type FpingLine<'a> = (&'a str, u64, u64, Option<(f64, f64, f64)>);

/// `127.1.1.1 : xmt/rcv/%loss = 5/5/0%, min/avg/max = 0.03/0.05/0.09`.
fn parse_fping_line(line: &str) -> Option<FpingLine<'_>> {
    let (host, rest) = line.split_once(" : ")?;
    let rest = rest.strip_prefix("xmt/rcv/%loss = ")?;
    let (counts, stats) = match rest.split_once(", min/avg/max = ") {
        Some((c, s)) => (c, Some(s)),
        None => (rest, None),
    };
    let mut c = counts.split('/');
    let sent = c.next()?.trim().parse().ok()?;
    let recv = c.next()?.trim().parse().ok()?;
    let stats = stats.and_then(|s| {
        let mut v = s.trim().split('/').map(|x| x.parse::<f64>().ok());
        Some((v.next()??, v.next()??, v.next()??))
    });
    Some((host.trim(), sent, recv, stats))
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted.get(i).copied().unwrap_or(f64::NAN)
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

/// The table's rows for one side: (name, value, decimals).
fn measures(r: &Run) -> Vec<(&'static str, f64, usize)> {
    let per = |pick: fn(&(f64, f64, f64)) -> f64| sorted(r.per_target.iter().map(pick).collect());
    let (mins, avgs, maxs) = (per(|s| s.0), per(|s| s.1), per(|s| s.2));
    vec![
        ("wall time (s)", r.wall.as_secs_f64(), 2),
        ("CPU user (s)", r.cpu_user.as_secs_f64(), 2),
        ("CPU system (s)", r.cpu_sys.as_secs_f64(), 2),
        ("CPU user+system (s)", r.cpu().as_secs_f64(), 2),
        ("CPU % of one core", r.cpu_percent(), 1),
        ("echo requests sent", r.sent as f64, 0),
        ("replies received", r.received as f64, 0),
        ("loss %", r.loss_percent(), 3),
        ("targets reachable", r.reachable as f64, 0),
        ("median of per-target min RTT (ms)", quantile(&mins, 0.5), 3),
        ("median of per-target avg RTT (ms)", quantile(&avgs, 0.5), 3),
        ("p99 of per-target avg RTT (ms)", quantile(&avgs, 0.99), 3),
        ("median of per-target max RTT (ms)", quantile(&maxs, 0.5), 3),
    ]
}

fn report(ours: &Run, theirs: Option<&Run>) {
    let theirs = theirs.map(measures);
    println!();
    println!("| measure | wispmon | fping | wispmon / fping |");
    println!("|---|---:|---:|---:|");
    for (i, (name, a, decimals)) in measures(ours).into_iter().enumerate() {
        match theirs.as_ref().and_then(|t| t.get(i)) {
            Some(&(_, b, _)) => {
                let ratio = if b != 0.0 {
                    format!("{:.2}", a / b)
                } else {
                    "–".to_owned()
                };
                println!("| {name} | {a:.decimals$} | {b:.decimals$} | {ratio} |");
            }
            None => println!("| {name} | {a:.decimals$} | – | – |"),
        }
    }
    let all = sorted(ours.all_rtts.clone());
    println!();
    println!(
        "wispmon, every RTT: p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        quantile(&all, 0.5),
        quantile(&all, 0.9),
        quantile(&all, 0.99),
        all.last().copied().unwrap_or(f64::NAN)
    );
}
