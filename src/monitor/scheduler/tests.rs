//! The scheduler on paused time with a stand-in prober: rounds, immediate runs, concurrency,
//! order and failures.

use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;

use super::*;
use crate::domain::device::DeviceInput;
use crate::domain::testing::{World, world, world_with};

/// Answers every probe after `delay`, records what it was asked, and counts probes in
/// flight; addresses in `down` never answer.
struct FakeProber {
    delay: Duration,
    down: Vec<IpAddr>,
    fail: bool,
    calls: Mutex<Vec<(IpAddr, Instant)>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl FakeProber {
    fn new(delay: Duration) -> Arc<FakeProber> {
        Arc::new(FakeProber {
            delay,
            down: Vec::new(),
            fail: false,
            calls: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        })
    }

    fn calls_to(&self, a: &str) -> usize {
        let a: IpAddr = a.parse().unwrap();
        self.calls.lock().iter().filter(|(t, _)| *t == a).count()
    }
}

impl Prober for FakeProber {
    fn ping(
        &self,
        target: IpAddr,
        params: PingParams,
    ) -> Pin<Box<dyn Future<Output = Result<PingStats, String>> + Send + '_>> {
        Box::pin(async move {
            self.calls.lock().push((target, Instant::now()));
            let n = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_in_flight.fetch_max(n, Ordering::SeqCst);
            tokio::time::sleep(self.delay).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            if self.fail {
                return Err("no ICMP socket".into());
            }
            if self.down.contains(&target) {
                return Ok(PingStats {
                    loss: 100.0,
                    rtt: None,
                    jitter: None,
                    rtts: Vec::new(),
                });
            }
            let rtts = vec![0.1; params.count as usize];
            Ok(PingStats {
                loss: 0.0,
                rtt: Some((0.1, 0.1, 0.1)),
                jitter: Some(0.0),
                rtts,
            })
        })
    }
}

/// Ping only: without agent data the data collected check would make every device a problem
/// (upstream's rule), which is not what these tests look at.
fn ping_world() -> World {
    world_with(|s| {
        s.checks.auto_data_collected_check = false;
        s.health.critical.truncate(1);
    })
}

fn add_devices(w: &World, n: usize) -> Vec<Id> {
    (0..n)
        .map(|i| {
            w.d.create_device(
                &w.root,
                DeviceInput {
                    organization: Some(w.org),
                    name: Some(format!("ap-{i:03}")),
                    mac_address: Some(format!("02:00:00:00:{:02x}:{:02x}", i / 256, i % 256)),
                    management_ip: Some(Some(format!("10.1.{}.{}", i / 250, i % 250 + 1))),
                    ..Default::default()
                },
            )
            .unwrap()
            .id
        })
        .collect()
}

fn start(
    w: &World,
    prober: Arc<FakeProber>,
    period_s: u64,
    concurrency: usize,
) -> watch::Sender<bool> {
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(run(
        w.d.clone(),
        prober,
        SchedulerSettings {
            period: Duration::from_secs(period_s),
            concurrency,
        },
        stopped,
    ));
    stop
}

/// Lets the scheduler work for `d` of paused time, in small steps so blocking domain calls
/// finish in between.
async fn pass(d: Duration) {
    let end = Instant::now() + d;
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(50)).await;
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn every_check_runs_once_per_period() {
    let w = ping_world();
    let prober = FakeProber::new(Duration::from_millis(100));
    let stop = start(&w, prober.clone(), 60, 16);
    pass(Duration::from_secs(61)).await;
    assert_eq!(prober.calls_to("10.0.0.2"), 1, "one round");
    pass(Duration::from_secs(60)).await;
    assert_eq!(prober.calls_to("10.0.0.2"), 2, "two rounds");
    let calls = prober.calls.lock().clone();
    let gap = calls[1].1.duration_since(calls[0].1);
    assert!(
        gap >= Duration::from_secs(59) && gap <= Duration::from_secs(61),
        "{gap:?}"
    );
    // The result went through the domain: the device is assessed.
    assert_eq!(w.status(), "ok");
    stop.send(true).unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_new_device_is_pinged_within_seconds() {
    let w = ping_world();
    let prober = FakeProber::new(Duration::from_millis(100));
    let stop = start(&w, prober.clone(), 300, 16);
    pass(Duration::from_secs(1)).await;
    let ids = add_devices(&w, 1);
    pass(Duration::from_secs(2)).await;
    assert_eq!(prober.calls_to("10.1.0.1"), 1, "{:?}", prober.calls.lock());
    assert_eq!(w.for_device(ids[0]).status(), "ok");
    stop.send(true).unwrap();
}

#[tokio::test(start_paused = true)]
async fn concurrency_is_bounded() {
    let w = world();
    add_devices(&w, 40);
    let prober = FakeProber::new(Duration::from_secs(2));
    let stop = start(&w, prober.clone(), 10, 4);
    pass(Duration::from_secs(40)).await;
    assert!(prober.max_in_flight.load(Ordering::SeqCst) <= 4);
    assert!(prober.calls.lock().len() >= 41, "every device was pinged");
    stop.send(true).unwrap();
}

#[tokio::test(start_paused = true)]
async fn repeated_requests_for_a_running_or_fresh_check_run_it_once() {
    let w = world();
    let prober = FakeProber::new(Duration::from_millis(500));
    let stop = start(&w, prober.clone(), 3600, 16);
    pass(Duration::from_secs(1)).await;
    let before = prober.calls_to("10.0.0.2");
    for _ in 0..10 {
        w.d.trigger_critical_checks(w.dev.id, true).unwrap();
    }
    pass(Duration::from_secs(3)).await;
    let after = prober.calls_to("10.0.0.2");
    // Recovery detection re-ran the ping at once, and only once or twice (one run may have
    // been under way when the requests came).
    assert!((1..=2).contains(&(after - before)), "{before} then {after}");
    stop.send(true).unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_prober_failure_stores_nothing() {
    let w = ping_world();
    let prober = Arc::new(FakeProber {
        fail: true,
        ..Arc::try_unwrap(FakeProber::new(Duration::ZERO))
            .ok()
            .unwrap()
    });
    let summary = run_all_once(&w.d, prober.clone(), 4).await.unwrap();
    assert!(summary.failed >= 1, "{summary:?}");
    assert_eq!(
        w.status(),
        "unknown",
        "our own failure does not make a device down"
    );
}

#[tokio::test(start_paused = true)]
async fn run_checks_once_runs_every_check_and_marks_the_dead_down() {
    let w = world_with(|s| s.health.critical.truncate(1));
    let prober = Arc::new(FakeProber {
        down: vec!["10.0.0.2".parse().unwrap()],
        ..Arc::try_unwrap(FakeProber::new(Duration::ZERO))
            .ok()
            .unwrap()
    });
    let summary = run_all_once(&w.d, prober.clone(), 4).await.unwrap();
    // Ping stores; data collected stores 0; configuration applied is skipped (no config).
    assert_eq!(
        summary,
        RoundSummary {
            stored: 2,
            skipped: 1,
            failed: 0
        }
    );
    // Unknown before: the first ping result decides.
    assert_eq!(w.status(), "critical");
}

#[test]
fn children_run_after_their_parent_within_the_period() {
    let root = Id([7; 16]);
    let s = |depth| ScheduledCheck {
        id: Id([depth; 16]),
        device: Id([depth; 16]),
        check_type: CheckType::Ping,
        root,
        depth,
    };
    let p = Duration::from_secs(300);
    let (a, b, c) = (offset(&s(0), p), offset(&s(1), p), offset(&s(2), p));
    assert!(a < p && b < p && c < p);
    let lag = |x: Duration, y: Duration| (y + p - x).as_secs() % 300;
    assert_eq!((lag(a, b), lag(b, c)), (5, 5));
}
