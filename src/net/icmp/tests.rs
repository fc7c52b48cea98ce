//! Pinger tests over real sockets: loopback in this network namespace, and loss, send errors
//! and unprivileged ping sockets inside throwaway namespaces of our own. Packets only ever go
//! to 127.0.0.0/8, ::1, or addresses that exist in such a namespace alone.
//!
//! Host tests skip (saying why) when no ICMP socket can be opened, unless `CI_REQUIRE_ICMP` is
//! set; namespace tests skip when `ip` is missing or namespaces cannot be created, unless
//! `CI_REQUIRE_NETNS` is set.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::check::packet_property;
use super::{PingError, PingResult, Pinger, Probe, SocketMode};

// ---------------------------------------------------------------------------------------------
// Seeds: the fuzz target's property, on every seed file.

#[test]
fn seeds_satisfy_the_fuzz_property() {
    let accepted = crate::seeds::replay("icmp", 10, packet_property);
    assert!(
        accepted >= 3,
        "seeds should contain valid replies too ({accepted})"
    );
}

// ---------------------------------------------------------------------------------------------
// Host loopback.

/// Host tests run one at a time: a raw socket sees every ICMP message of the host, so a
/// 2,000-target burst in one test would crowd the receive buffers of the others.
static HOST_ICMP: parking_lot::Mutex<()> = parking_lot::const_mutex(());

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn env_flag(name: &str) -> bool {
    matches!(std::env::var(name).as_deref(), Ok(v) if !v.is_empty() && v != "0")
}

/// Opens the pinger's socket for the family, or says why the test is skipped.
fn open_or_skip(pinger: &Pinger, v6: bool) -> Option<SocketMode> {
    match pinger.open(v6) {
        Ok(mode) => Some(mode),
        Err(PingError::NoSocket(why)) if !env_flag("CI_REQUIRE_ICMP") => {
            eprintln!("skipping: {why}");
            None
        }
        Err(e) => panic!("cannot open an ICMP socket: {e}"),
    }
}

fn assert_all_answered(r: &PingResult, probe: &Probe) {
    assert!(r.reachable(), "{r:?}");
    assert_eq!(r.loss_percent(), 0.0, "{r:?}");
    assert_eq!((r.sent, r.received), (probe.count, probe.count), "{r:?}");
    assert_eq!(r.rtts.len(), probe.count as usize);
    assert!(
        r.rtts
            .iter()
            .all(|rtt| rtt.is_some_and(|d| d <= probe.timeout))
    );
    let (min, avg, max) = r.rtt_min_avg_max_ms().expect("rtt stats");
    assert!(0.0 < min && min <= avg && avg <= max, "{min} {avg} {max}");
    assert!(r.jitter_ms().is_some());
}

#[test]
fn ping_ipv4_loopback() {
    let _host = HOST_ICMP.lock();
    let rt = runtime();
    let pinger = Pinger::new();
    let Some(mode) = rt.block_on(async { open_or_skip(&pinger, false) }) else {
        return;
    };
    assert_eq!(pinger.mode(false), Some(mode));
    assert_eq!(pinger.mode(true), None, "IPv6 opens only when used");
    let probe = Probe::default();
    let started = Instant::now();
    let r = rt
        .block_on(pinger.ping(IpAddr::V4(Ipv4Addr::LOCALHOST), &probe))
        .unwrap();
    let elapsed = started.elapsed();
    assert_all_answered(&r, &probe);
    // Four intervals between five probes, then the last reply.
    assert!(elapsed >= Duration::from_millis(100), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(700), "{elapsed:?}");
    assert_eq!(pinger.waiting_probes(false), 0);
}

#[test]
fn ping_ipv6_loopback() {
    let _host = HOST_ICMP.lock();
    let disabled = std::fs::read_to_string("/proc/sys/net/ipv6/conf/lo/disable_ipv6")
        .map(|s| s.trim() == "1")
        .unwrap_or(true);
    if disabled {
        eprintln!("skipping: IPv6 is disabled on lo");
        return;
    }
    let rt = runtime();
    let pinger = Pinger::new();
    if rt.block_on(async { open_or_skip(&pinger, true) }).is_none() {
        return;
    }
    let probe = Probe::default();
    let r = rt
        .block_on(pinger.ping(IpAddr::V6(Ipv6Addr::LOCALHOST), &probe))
        .unwrap();
    assert_all_answered(&r, &probe);
    assert_eq!(pinger.waiting_probes(true), 0);
}

#[test]
fn ping_many_loopback_addresses_at_once() {
    let _host = HOST_ICMP.lock();
    let rt = runtime();
    let pinger = Arc::new(Pinger::new());
    if rt
        .block_on(async { open_or_skip(&pinger, false) })
        .is_none()
    {
        return;
    }
    // A generous timeout: the point is 2,000 concurrent pings on one socket, and a loaded
    // CI machine can stall this process for a while.
    let probe = Probe {
        timeout: Duration::from_secs(3),
        ..Probe::default()
    };
    let targets: Vec<IpAddr> = (0..2_000u32)
        .map(|i| IpAddr::V4(Ipv4Addr::new(127, 1, (i / 250) as u8, (i % 250 + 1) as u8)))
        .collect();
    let started = Instant::now();
    let results = rt.block_on(async {
        let tasks: Vec<_> = targets
            .iter()
            .map(|&target| {
                let pinger = Arc::clone(&pinger);
                let probe = probe.clone();
                tokio::spawn(async move { (target, pinger.ping(target, &probe).await) })
            })
            .collect();
        let mut results = Vec::with_capacity(tasks.len());
        for task in tasks {
            results.push(task.await.unwrap());
        }
        results
    });
    let elapsed = started.elapsed();
    let received: u32 = results
        .iter()
        .map(|(_, r)| r.as_ref().unwrap().received)
        .sum();
    eprintln!(
        "2,000 targets x 5 probes: {received} replies in {:.0} ms",
        elapsed.as_secs_f64() * 1e3
    );
    let mut lost_by_index = [0u32; 5];
    for (_, r) in &results {
        for (i, rtt) in r.as_ref().unwrap().rtts.iter().enumerate() {
            if rtt.is_none() {
                lost_by_index[i] += 1;
            }
        }
    }
    eprintln!("lost by probe index: {lost_by_index:?}");
    for (target, r) in &results {
        let r = r.as_ref().unwrap();
        assert!(r.reachable(), "{target}: {r:?}");
        assert_eq!(r.sent, 5);
    }
    assert_eq!(received, 10_000, "every probe of every target answered");
    assert_eq!(pinger.waiting_probes(false), 0);
}

#[test]
fn two_pingers_pinging_one_target_each_get_their_own_replies() {
    let _host = HOST_ICMP.lock();
    let rt = runtime();
    let (a, b) = (Pinger::new(), Pinger::new());
    if rt.block_on(async { open_or_skip(&a, false) }).is_none() {
        return;
    }
    let probe = Probe {
        count: 10,
        interval: Duration::from_millis(10),
        ..Probe::default()
    };
    let target = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
    let (ra, rb) =
        rt.block_on(async { tokio::join!(a.ping(target, &probe), b.ping(target, &probe)) });
    // Each pinger counts exactly its own ten replies, though on raw sockets both see all 20.
    assert_all_answered(&ra.unwrap(), &probe);
    assert_all_answered(&rb.unwrap(), &probe);
}

#[test]
fn a_reply_after_the_timeout_counts_as_lost() {
    let _host = HOST_ICMP.lock();
    let rt = runtime();
    let pinger = Pinger::new();
    if rt
        .block_on(async { open_or_skip(&pinger, false) })
        .is_none()
    {
        return;
    }
    let probe = Probe {
        count: 3,
        interval: Duration::from_millis(10),
        bytes: 56,
        timeout: Duration::ZERO,
    };
    let r = rt
        .block_on(pinger.ping(IpAddr::V4(Ipv4Addr::LOCALHOST), &probe))
        .unwrap();
    assert_eq!((r.sent, r.received), (3, 0), "{r:?}");
    assert!(!r.reachable());
    assert_eq!(r.loss_percent(), 100.0);
    assert_eq!(r.rtt_min_avg_max_ms(), None);
}

#[test]
fn a_cancelled_ping_leaves_no_probe_behind() {
    let _host = HOST_ICMP.lock();
    let rt = runtime();
    let pinger = Pinger::new();
    if rt
        .block_on(async { open_or_skip(&pinger, false) })
        .is_none()
    {
        return;
    }
    let probe = Probe {
        count: 20,
        interval: Duration::from_millis(20),
        ..Probe::default()
    };
    let cut = rt.block_on(async {
        tokio::time::timeout(
            Duration::from_millis(70),
            pinger.ping(IpAddr::V4(Ipv4Addr::LOCALHOST), &probe),
        )
        .await
    });
    assert!(cut.is_err(), "the ping should have been cut short");
    assert_eq!(pinger.waiting_probes(false), 0);
    // The pinger is still usable afterwards.
    let r = rt
        .block_on(pinger.ping(IpAddr::V4(Ipv4Addr::LOCALHOST), &Probe::default()))
        .unwrap();
    assert_all_answered(&r, &Probe::default());
}

#[test]
fn a_pinger_outlives_the_runtime_that_opened_its_socket() {
    let _host = HOST_ICMP.lock();
    let pinger = Pinger::new();
    let probe = Probe {
        count: 2,
        ..Probe::default()
    };
    for _ in 0..2 {
        let rt = runtime();
        if rt
            .block_on(async { open_or_skip(&pinger, false) })
            .is_none()
        {
            return;
        }
        let r = rt
            .block_on(pinger.ping(IpAddr::V4(Ipv4Addr::LOCALHOST), &probe))
            .unwrap();
        assert_all_answered(&r, &probe);
        drop(rt);
    }
}

#[test]
fn invalid_probes_and_missing_runtimes_are_errors() {
    let pinger = Pinger::new();
    assert!(matches!(pinger.open(false), Err(PingError::Runtime(_))));
    let rt = runtime();
    let probe = Probe {
        count: 0,
        ..Probe::default()
    };
    let e = rt
        .block_on(pinger.ping(IpAddr::V4(Ipv4Addr::LOCALHOST), &probe))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid probe: count 0 is outside 1..=100000"
    );
}

// ---------------------------------------------------------------------------------------------
// Network namespaces: loss, send errors, unprivileged ping sockets.
//
// The test thread cannot enter a namespace without `unsafe` (setns), so each scenario runs
// this test binary again under `ip netns exec`, filtered down to `netns_helper`, which reads
// the scenario from the environment, asserts, and prints a marker line.

const SCENARIO_ENV: &str = "WISPMON_NETNS_SCENARIO";
const HELPER_OK: &str = "WISPMON_NETNS_HELPER_OK";

/// A network namespace of our own; deleted on drop, also when the test fails.
struct Netns {
    name: String,
}

impl Netns {
    /// Creates `wispmon-test-<pid>-<n>` with `lo` up, or `None` (with the reason printed) if
    /// namespaces are unavailable and not required.
    fn create() -> Option<Netns> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let required = env_flag("CI_REQUIRE_NETNS");
        let skip = |why: String| {
            assert!(!required, "CI_REQUIRE_NETNS is set but {why}");
            eprintln!("skipping: {why}");
            None
        };
        if Command::new("ip").arg("-V").output().is_err() {
            return skip("`ip` (iproute2) is not installed".to_owned());
        }
        let name = format!(
            "wispmon-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let out = Command::new("ip")
            .args(["netns", "add", &name])
            .output()
            .expect("run ip");
        if !out.status.success() {
            return skip(format!(
                "cannot create a network namespace: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        Some(ns)
    }

    /// Runs `ip -n <ns> <args>` and requires success.
    fn ip(&self, args: &[&str]) {
        let out = Command::new("ip")
            .args(["-n", &self.name])
            .args(args)
            .output()
            .expect("run ip");
        assert!(
            out.status.success(),
            "ip -n {} {}: {}",
            self.name,
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Runs the helper test inside the namespace for `scenario`; returns its output.
    fn run_helper(&self, scenario: &str) -> String {
        self.run_helper_via(scenario, &[])
    }

    /// Like `run_helper`, with `wrapper` (a command and its arguments) run between
    /// `ip netns exec` and the test binary.
    fn run_helper_via(&self, scenario: &str, wrapper: &[&str]) -> String {
        let exe = std::env::current_exe().expect("test executable");
        let out = Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(wrapper)
            .arg(exe)
            .args([
                "--exact",
                "net::icmp::tests::netns_helper",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(SCENARIO_ENV, scenario)
            .output()
            .expect("run the helper under ip netns exec");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("--- helper {scenario} in {}:\n{text}---", self.name);
        assert!(out.status.success(), "helper {scenario} failed");
        assert!(
            text.contains(&format!("{HELPER_OK} {scenario}")),
            "helper {scenario} did not run"
        );
        text
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

#[test]
fn netns_silent_target_is_100_percent_loss_after_the_timeout() {
    let Some(ns) = Netns::create() else { return };
    ns.run_helper("silent");
}

#[test]
fn netns_send_errors_are_lost_probes_not_errors() {
    let Some(ns) = Netns::create() else { return };
    // Documentation prefixes (RFC 5737, RFC 3849) routed nowhere: every send fails locally.
    ns.ip(&["route", "add", "unreachable", "198.51.100.0/24"]);
    ns.ip(&["route", "add", "prohibit", "203.0.113.0/24"]);
    ns.run_helper("send_errors");
}

#[test]
fn netns_unprivileged_ping_sockets_are_preferred_and_work() {
    let Some(ns) = Netns::create() else { return };
    ns.run_helper("datagram");
}

#[test]
fn netns_without_privilege_no_socket_is_a_clear_error() {
    let Some(ns) = Netns::create() else { return };
    if Command::new("setpriv").arg("--version").output().is_err() {
        assert!(
            !env_flag("CI_REQUIRE_NETNS"),
            "CI_REQUIRE_NETNS is set but setpriv (util-linux) is missing"
        );
        eprintln!("skipping: setpriv (util-linux) is not installed");
        return;
    }
    // As nobody, without capabilities, in a namespace whose ping_group_range is "1 0".
    ns.run_helper_via(
        "forbidden",
        &[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ],
    );
}

/// Not a test of its own: the body of the namespace tests, run by them in a child process.
#[test]
#[ignore = "run by the netns_* tests inside a network namespace"]
fn netns_helper() {
    let Ok(scenario) = std::env::var(SCENARIO_ENV) else {
        eprintln!("{SCENARIO_ENV} is not set: nothing to do outside the netns_* tests");
        return;
    };
    let rt = runtime();
    match scenario.as_str() {
        "silent" => rt.block_on(helper_silent()),
        "send_errors" => rt.block_on(helper_send_errors()),
        "datagram" => rt.block_on(helper_datagram()),
        "forbidden" => rt.block_on(helper_forbidden()),
        other => panic!("unknown scenario {other}"),
    }
    println!("{HELPER_OK} {scenario}");
}

fn write_sysctl(path: &str, value: &str) {
    std::fs::write(path, value).unwrap_or_else(|e| panic!("write {path}: {e}"));
}

async fn helper_silent() {
    // Loopback that does not answer: the kernel of this namespace ignores echo requests.
    write_sysctl("/proc/sys/net/ipv4/icmp_echo_ignore_all", "1");
    let v6 = std::path::Path::new("/proc/sys/net/ipv6/icmp/echo_ignore_all");
    if v6.exists() {
        write_sysctl("/proc/sys/net/ipv6/icmp/echo_ignore_all", "1");
    }
    let pinger = Pinger::new();
    let probe = Probe {
        count: 3,
        interval: Duration::from_millis(50),
        bytes: 56,
        timeout: Duration::from_millis(300),
    };
    let mut targets = vec![IpAddr::V4(Ipv4Addr::LOCALHOST)];
    if v6.exists() {
        targets.push(IpAddr::V6(Ipv6Addr::LOCALHOST));
    }
    for target in targets {
        let started = Instant::now();
        let r = pinger.ping(target, &probe).await.unwrap();
        let elapsed = started.elapsed();
        println!("{target}: {r:?} in {elapsed:?}");
        assert!(!r.reachable());
        assert_eq!((r.sent, r.received), (3, 0));
        assert_eq!(r.loss_percent(), 100.0);
        assert_eq!(r.rtts, vec![None; 3]);
        assert_eq!(r.rtt_min_avg_max_ms(), None);
        // (count − 1) × interval + timeout = 400 ms, give or take the timer's millisecond.
        assert!(elapsed >= Duration::from_millis(398), "{elapsed:?}");
        assert!(elapsed < Duration::from_millis(800), "{elapsed:?}");
    }
}

async fn helper_send_errors() {
    let pinger = Pinger::new();
    let probe = Probe {
        count: 3,
        interval: Duration::from_millis(20),
        bytes: 56,
        timeout: Duration::from_millis(2_000),
    };
    for target in [
        // unreachable route → EHOSTUNREACH; prohibit → EACCES; no route → ENETUNREACH.
        Ipv4Addr::new(198, 51, 100, 7),
        Ipv4Addr::new(203, 0, 113, 7),
        Ipv4Addr::new(192, 0, 2, 7),
    ] {
        let started = Instant::now();
        let r = pinger.ping(IpAddr::V4(target), &probe).await.unwrap();
        let elapsed = started.elapsed();
        println!("{target}: {r:?} in {elapsed:?}");
        assert_eq!((r.sent, r.received), (3, 0));
        assert_eq!(r.loss_percent(), 100.0);
        // Probes that never left are settled at once: no waiting for the 2 s timeout.
        assert!(elapsed < Duration::from_millis(1_000), "{elapsed:?}");
    }
    // The socket still works for a target that answers.
    let r = pinger
        .ping(IpAddr::V4(Ipv4Addr::LOCALHOST), &Probe::default())
        .await
        .unwrap();
    assert_all_answered(&r, &Probe::default());
}

async fn helper_datagram() {
    // A fresh namespace starts with "1 0" (nobody): raw sockets, as on the host.
    let pinger = Pinger::new();
    assert_eq!(pinger.open(false).unwrap(), SocketMode::Raw);
    drop(pinger);
    // ping_group_range is per namespace; this opens ping sockets to every group.
    write_sysctl("/proc/sys/net/ipv4/ping_group_range", "0 2147483647");
    let pinger = Arc::new(Pinger::new());
    assert_eq!(pinger.open(false).unwrap(), SocketMode::Datagram);
    let probe = Probe::default();
    let mut targets: Vec<IpAddr> = (1..=50u8)
        .map(|i| IpAddr::V4(Ipv4Addr::new(127, 3, 0, i)))
        .collect();
    let v6 = std::fs::read_to_string("/proc/sys/net/ipv6/conf/lo/disable_ipv6")
        .is_ok_and(|s| s.trim() == "0");
    if v6 {
        assert_eq!(pinger.open(true).unwrap(), SocketMode::Datagram);
        targets.push(IpAddr::V6(Ipv6Addr::LOCALHOST));
    }
    let tasks: Vec<_> = targets
        .into_iter()
        .map(|target| {
            let pinger = Arc::clone(&pinger);
            let probe = probe.clone();
            tokio::spawn(async move { (target, pinger.ping(target, &probe).await) })
        })
        .collect();
    for task in tasks {
        let (target, r) = task.await.unwrap();
        let r = r.unwrap();
        println!("{target}: {:?}", r.rtt_min_avg_max_ms());
        assert_all_answered(&r, &probe);
    }
}

async fn helper_forbidden() {
    let pinger = Pinger::new();
    let why = match pinger.open(false) {
        Err(PingError::NoSocket(why)) => why,
        other => panic!("expected no socket, got {other:?}"),
    };
    println!("{why}");
    assert!(
        why.contains("ping_group_range 1 0 excludes gid 65534"),
        "{why}"
    );
    assert!(
        why.contains("raw socket refused (not permitted without CAP_NET_RAW)"),
        "{why}"
    );
    let e = pinger
        .ping(IpAddr::V4(Ipv4Addr::LOCALHOST), &Probe::default())
        .await
        .unwrap_err();
    assert!(matches!(e, PingError::NoSocket(_)), "{e}");
    assert_eq!(pinger.mode(false), None);
}
