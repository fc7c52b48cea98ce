//! The worked timelines of spec §5.3, and tolerances under jittered sampling.

use super::*;

const MIN: i64 = 60_000_000_000;

/// A metric as upstream's tests drive it: points written, flags kept, alerts collected.
struct Sim {
    rule: Rule,
    ti_s: i64,
    points: Vec<(i64, f64)>,
    flags: (Option<bool>, Option<bool>),
    alerts: Vec<(i64, Alert)>,
}

impl Sim {
    fn new(operator: Operator, threshold: f64, tolerance_min: i64, ti_s: i64) -> Sim {
        Sim {
            rule: Rule {
                operator,
                threshold,
                tolerance_s: tolerance_min * 60,
            },
            ti_s,
            points: Vec::new(),
            flags: (None, None),
            alerts: Vec::new(),
        }
    }

    /// Writes `v` at `t` ns and evaluates it, as a real-time write does.
    fn write(&mut self, t: i64, v: f64) -> Outcome {
        self.points.push((t, v));
        let tol = if needs_window(self.rule, self.ti_s, v, self.flags.1) {
            tolerant_crossed(self.rule, self.ti_s, v, self.flags.1, t, &self.points)
        } else {
            crossed(self.rule.operator, self.rule.threshold, v)
        };
        // The shortcut must agree with the full computation.
        assert_eq!(
            tol,
            tolerant_crossed(self.rule, self.ti_s, v, self.flags.1, t, &self.points)
        );
        let o = evaluate(self.rule, self.flags, v, tol);
        self.flags = (o.is_healthy, o.is_healthy_tolerant);
        if let Some(a) = o.alert {
            self.alerts.push((t, a));
        }
        o
    }

    /// Stores a point without evaluating it (checks disabled, or a historical write).
    fn store(&mut self, t: i64, v: f64) {
        self.points.push((t, v));
    }
}

#[test]
fn zero_tolerance_alerts_at_once_both_ways() {
    let mut s = Sim::new(Operator::GreaterThan, 90.0, 0, 300);
    s.write(0, 99.0);
    s.write(1, 95.0);
    s.write(2, 60.0);
    s.write(3, 40.0);
    assert_eq!(s.alerts, [(0, Alert::Problem), (2, Alert::Recovery)]);
}

#[test]
fn five_minutes_with_a_five_minute_interval() {
    let mut s = Sim::new(Operator::GreaterThan, 90.0, 5, 300);
    assert_eq!(window_s(300, 300), Some(600));
    for m in [0, 2, 4] {
        s.write(m * MIN, 99.0);
    }
    assert_eq!(s.flags, (Some(false), Some(true)));
    assert!(s.alerts.is_empty());
    s.write(6 * MIN, 99.0);
    assert_eq!(s.flags, (Some(false), Some(false)));
    assert_eq!(s.alerts, [(6 * MIN, Alert::Problem)]);
    s.write(8 * MIN, 71.0);
    assert_eq!(s.flags, (Some(true), Some(false)));
    assert_eq!(s.alerts.len(), 1);
    s.write(13 * MIN, 71.0);
    assert_eq!(s.flags, (Some(true), Some(true)));
    assert_eq!(
        s.alerts,
        [(6 * MIN, Alert::Problem), (13 * MIN, Alert::Recovery)]
    );
}

#[test]
fn one_minute_with_a_one_minute_interval() {
    let mut s = Sim::new(Operator::GreaterThan, 90.0, 1, 60);
    assert_eq!(window_s(60, 60), Some(120));
    s.write(0, 99.0);
    s.write(10 * MIN, 99.0);
    assert!(s.alerts.is_empty(), "the older point is outside the window");
    s.write(11 * MIN, 99.0);
    assert_eq!(s.alerts, [(11 * MIN, Alert::Problem)]);
}

#[test]
fn points_stored_without_evaluation_count_only_inside_the_window() {
    let mut s = Sim::new(Operator::GreaterThan, 90.0, 5, 300);
    s.store(-10 * MIN, 89.0);
    s.store(-10 * MIN + 1, 91.0);
    s.write(0, 92.0);
    assert!(s.alerts.is_empty());
    s.write(5 * MIN, 95.0);
    assert_eq!(s.alerts, [(5 * MIN, Alert::Problem)]);
}

#[test]
fn a_flap_inside_the_window_holds_the_decision() {
    let mut s = Sim::new(Operator::LessThan, 1.0, 10, 600);
    assert_eq!(window_s(600, 600), Some(1200));
    assert_eq!(window_s(1800, 300), Some(2250));
    for (m, v) in [(-25, 1.0), (-20, 0.0), (-15, 1.0), (-10, 0.0), (-5, 0.0)] {
        s.write(m * MIN, v);
        assert!(s.alerts.is_empty(), "no alert at minute {m}");
    }
    s.write(0, 0.0);
    assert_eq!(s.alerts, [(0, Alert::Problem)]);
}

#[test]
fn a_new_metric_that_starts_healthy_sends_nothing_and_a_bad_first_value_sends_a_problem() {
    let mut good = Sim::new(Operator::GreaterThan, 90.0, 0, 300);
    let o = good.write(0, 10.0);
    assert_eq!(o.alert, None);
    assert_eq!(o.first_time, Some(true));
    assert_eq!(good.flags, (Some(true), Some(true)));
    let mut bad = Sim::new(Operator::GreaterThan, 90.0, 0, 300);
    let o = bad.write(0, 99.0);
    assert_eq!(o.alert, Some(Alert::Problem));
    assert_eq!(o.first_time, Some(true));
    let o = bad.write(1, 99.0);
    assert!(!o.changed);
    assert_eq!(o.first_time, None);
    let o = bad.write(2, 10.0);
    assert_eq!(
        (o.alert, o.first_time),
        (Some(Alert::Recovery), Some(false))
    );
}

#[test]
fn tolerances_below_the_interval_are_immediate_and_comparisons_are_strict() {
    assert_eq!(window_s(240, 300), None);
    assert_eq!(window_s(0, 300), None);
    let mut s = Sim::new(Operator::GreaterThan, 90.0, 4, 300);
    s.write(0, 90.0);
    assert_eq!(s.flags, (Some(true), Some(true)), "90 is not above 90");
    s.write(MIN, 90.5);
    assert_eq!(s.alerts, [(MIN, Alert::Problem)]);
    assert!(crossed(Operator::LessThan, 1.0, 0.0));
    assert!(!crossed(Operator::LessThan, 1.0, 1.0));
}

/// A small deterministic generator, so the jitter runs are repeatable.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    /// Uniform in `-spread..=spread`.
    fn jitter(&mut self, spread: i64) -> i64 {
        let span = u64::try_from(2 * spread + 1).unwrap_or(1);
        i64::try_from(self.next() % span).unwrap_or(0) - spread
    }
}

/// Upstream's window, for comparison: the slack only inside `TI..=2·TI`.
fn upstream_window_s(tol: i64, ti: i64) -> Option<i64> {
    if tol <= 0 || tol < ti {
        return None;
    }
    Some(if tol <= 2 * ti { tol + tol / 4 } else { tol })
}

/// Samples every 300 s ± `spread` s: healthy for an hour, then bad for `bad_for` minutes, then
/// good again. Returns (minutes from the first bad sample to the problem alert, minutes from
/// the first good sample to the recovery alert), `None` for an alert that never came.
fn jittered_run(tolerance_min: i64, seed: u64, upstream: bool) -> (Option<i64>, Option<i64>) {
    let ti_s = 300;
    let rule = Rule {
        operator: Operator::GreaterThan,
        threshold: 90.0,
        tolerance_s: tolerance_min * 60,
    };
    let mut rng = Lcg(seed);
    let mut points = Vec::new();
    let mut flags = (None, None);
    let bad_from = 60 * MIN;
    let good_from = bad_from + (tolerance_min + 60) * MIN;
    let end = good_from + (tolerance_min + 60) * MIN;
    let (mut first_bad, mut first_good) = (None, None);
    let (mut problem, mut recovery) = (None, None);
    let mut t = 0;
    while t < end {
        let v = if (bad_from..good_from).contains(&t) {
            99.0
        } else {
            10.0
        };
        if v > 90.0 {
            first_bad.get_or_insert(t);
        } else if first_bad.is_some() {
            first_good.get_or_insert(t);
        }
        points.push((t, v));
        let tol = if upstream {
            let r = Rule {
                tolerance_s: rule.tolerance_s,
                ..rule
            };
            upstream_tolerant(r, ti_s, v, flags.1, t, &points)
        } else {
            tolerant_crossed(rule, ti_s, v, flags.1, t, &points)
        };
        let o = evaluate(rule, flags, v, tol);
        flags = (o.is_healthy, o.is_healthy_tolerant);
        match o.alert {
            Some(Alert::Problem) => {
                problem.get_or_insert((t - first_bad.unwrap_or(t)) / MIN);
            }
            Some(Alert::Recovery) => {
                recovery.get_or_insert((t - first_good.unwrap_or(t)) / MIN);
            }
            None => {}
        }
        t += 300_000_000_000 + rng.jitter(30) * 1_000_000_000;
    }
    (problem, recovery)
}

/// Upstream's decision rule (spec §5.3 rule 2, literally), for the comparison.
fn upstream_tolerant(
    rule: Rule,
    ti_s: i64,
    value: f64,
    state: Option<bool>,
    now_ns: i64,
    points: &[(i64, f64)],
) -> bool {
    let c = crossed(rule.operator, rule.threshold, value);
    let Some(w) = upstream_window_s(rule.tolerance_s, ti_s) else {
        return c;
    };
    let lo = now_ns - w * 1_000_000_000;
    let in_window: Vec<&(i64, f64)> = points
        .iter()
        .filter(|(t, _)| (lo..=now_ns).contains(t))
        .collect();
    let new_side: Vec<&&(i64, f64)> = in_window
        .iter()
        .filter(|(_, v)| crossed(rule.operator, rule.threshold, *v) == c)
        .take(2)
        .collect();
    if new_side.len() < 2
        || now_ns / 1_000_000_000 - new_side[0].0 / 1_000_000_000 < rule.tolerance_s
    {
        return state == Some(false);
    }
    if in_window
        .iter()
        .any(|(_, v)| crossed(rule.operator, rule.threshold, *v) != c)
    {
        return state != Some(true);
    }
    c
}

#[test]
fn every_shipped_tolerance_alerts_with_jittered_five_minute_samples() {
    for tolerance in [5, 10, 30, 120] {
        for seed in 1..=40 {
            let (problem, recovery) = jittered_run(tolerance, seed, false);
            let problem =
                problem.unwrap_or_else(|| panic!("{tolerance} min, seed {seed}: no problem alert"));
            let recovery = recovery
                .unwrap_or_else(|| panic!("{tolerance} min, seed {seed}: no recovery alert"));
            // Never before the tolerance has passed; at most a few samples after it.
            assert!(
                (tolerance..=tolerance + 20).contains(&problem),
                "{tolerance} min, seed {seed}: problem after {problem} min"
            );
            assert!(
                (tolerance..=tolerance + 20).contains(&recovery),
                "{tolerance} min, seed {seed}: recovery after {recovery} min"
            );
        }
    }
}

#[test]
fn upstreams_window_misses_long_tolerances_which_is_why_it_is_widened() {
    let mut fired = 0;
    for seed in 1..=40 {
        if jittered_run(30, seed, true).0.is_some() {
            fired += 1;
        }
    }
    assert!(fired < 10, "upstream's rule fired {fired} times of 40");
    // ... and a 5-minute tolerance waits for an interval longer than 300 s.
    let slow = (1..=40)
        .filter(|&seed| jittered_run(5, seed, true).0.is_some_and(|m| m > 15))
        .count();
    assert!(slow > 0);
}
