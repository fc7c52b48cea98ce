//! Alert evaluation (spec §5.1–5.3): whether one metric value crosses its threshold, and how
//! a metric's two health flags move, as pure functions over the points of the tolerance
//! window. No storage, no clock: the caller reads the window and passes "now".
//!
//! Owns: the immediate flag (`is_healthy`, any single sample), the tolerant flag
//! (`is_healthy_tolerant`, the threshold crossed for at least the tolerance), which
//! transitions notify, and the tolerance window.
//!
//! The departure from upstream, on purpose (`docs/compatibility.md`): upstream's window is
//! `tol + tol/4` only while `TI ≤ tol ≤ 2·TI` and exactly `tol` above, and it needs two
//! offending points with the oldest at least `tol` old, so with samples every ~300 s that are
//! never exactly periodic the shipped 30- and 120-minute tolerances (cpu, memory, ping, data
//! collected, max WiFi clients) practically never notify, and a 5-minute one waits for an
//! interval that happens to be a little longer than 300 s. Here the window reaches back
//! `tol + max(tol/4, TI)`, so it always holds the sample that completes the tolerance, and the
//! decision looks at the *run*: the newest points on the current value's side of the
//! threshold, after the last point on the other side and without a gap longer than 1.5 `TI`
//! (a missing sample breaks the run, as the point written ten minutes before the current one
//! does in upstream's tests). The run must hold two points and span the tolerance. Every
//! worked timeline of spec §5.3 holds unchanged (`alert/tests.rs`).

use super::registry::Operator;

/// The effective alert rule of a metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rule {
    /// Comparison.
    pub operator: Operator,
    /// Threshold.
    pub threshold: f64,
    /// Tolerance, seconds.
    pub tolerance_s: i64,
}

/// Whether `value` crosses the threshold: strictly above for `>`, strictly below for `<`.
pub fn crossed(operator: Operator, threshold: f64, value: f64) -> bool {
    match operator {
        Operator::GreaterThan => value > threshold,
        Operator::LessThan => value < threshold,
    }
}

/// The tolerance window in seconds, or `None` when the tolerance is below the tolerance
/// interval `ti_s` and the immediate comparison decides (spec §5.3 rule 1).
pub fn window_s(tolerance_s: i64, ti_s: i64) -> Option<i64> {
    if tolerance_s <= 0 || tolerance_s < ti_s {
        return None;
    }
    Some(tolerance_s + (tolerance_s / 4).max(ti_s))
}

/// A notification a transition of the tolerant flag sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alert {
    /// `<configuration>_problem`.
    Problem,
    /// `<configuration>_recovery`.
    Recovery,
}

/// The flags of a metric after one evaluation, and what changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// New `is_healthy`.
    pub is_healthy: Option<bool>,
    /// New `is_healthy_tolerant`.
    pub is_healthy_tolerant: Option<bool>,
    /// The notification due, before "alerts enabled" and suppression are applied.
    pub alert: Option<Alert>,
    /// Whether either flag changed (the `threshold_crossed` event).
    pub changed: bool,
    /// `Some(true)` when the tolerant flag left `None`, `Some(false)` when it changed
    /// otherwise, `None` when it did not change.
    pub first_time: Option<bool>,
}

impl Outcome {
    /// Whether the tolerant flag changed.
    pub fn tolerance_crossed(&self) -> bool {
        self.first_time.is_some()
    }
}

/// Whether the tolerant comparison says "crossed" for `value` at `now_ns`, given the alert
/// field's points of the window (`(time ns, value)`, any order, the current one included).
/// `state` is the current tolerant flag.
pub fn tolerant_crossed(
    rule: Rule,
    ti_s: i64,
    value: f64,
    state: Option<bool>,
    now_ns: i64,
    window: &[(i64, f64)],
) -> bool {
    let now_crossed = crossed(rule.operator, rule.threshold, value);
    let Some(w) = window_s(rule.tolerance_s, ti_s) else {
        return now_crossed;
    };
    let keep = state == Some(false);
    let lo = now_ns.saturating_sub(w.saturating_mul(1_000_000_000));
    let mut pts: Vec<(i64, f64)> = window
        .iter()
        .copied()
        .filter(|(t, _)| (lo..=now_ns).contains(t))
        .collect();
    pts.sort_by_key(|p| p.0);
    // "New side": on the same side of the threshold as the current value.
    let new_side = |v: f64| crossed(rule.operator, rule.threshold, v) == now_crossed;
    let last_old = pts.iter().rposition(|(_, v)| !new_side(*v));
    let mut run = &pts[last_old.map_or(0, |i| i + 1)..];
    // A gap of more than one and a half sampling intervals (a missing sample) breaks the run.
    let max_gap = ti_s.saturating_mul(1_500_000_000);
    if let Some(i) = run.windows(2).rposition(|p| p[1].0 - p[0].0 > max_gap) {
        run = &run[i + 1..];
    }
    let Some(&(oldest, _)) = run.first() else {
        return keep;
    };
    // Times compared at one-second precision, as upstream reads them.
    let age_s = now_ns.div_euclid(1_000_000_000) - oldest.div_euclid(1_000_000_000);
    if run.len() < 2 || age_s < rule.tolerance_s {
        return keep;
    }
    now_crossed
}

/// One evaluation of a metric's flags (spec §5.2–5.3): `flags` = (`is_healthy`,
/// `is_healthy_tolerant`), `tolerant` = the result of [`tolerant_crossed`] (or the immediate
/// comparison when the caller knows the window cannot change the outcome).
pub fn evaluate(
    rule: Rule,
    flags: (Option<bool>, Option<bool>),
    value: f64,
    tolerant: bool,
) -> Outcome {
    let (healthy, tolerant_state) = flags;
    let now_crossed = crossed(rule.operator, rule.threshold, value);
    let is_healthy = match (now_crossed, healthy) {
        (true, Some(true) | None) => Some(false),
        (false, Some(false) | None) => Some(true),
        (_, h) => h,
    };
    let (is_healthy_tolerant, alert) = match (tolerant, tolerant_state) {
        (true, Some(true) | None) => (Some(false), Some(Alert::Problem)),
        (false, Some(false)) => (Some(true), Some(Alert::Recovery)),
        (false, None) => (Some(true), None),
        (_, s) => (s, None),
    };
    let first_time = (is_healthy_tolerant != tolerant_state).then_some(tolerant_state.is_none());
    Outcome {
        is_healthy,
        is_healthy_tolerant,
        alert,
        changed: is_healthy != healthy || is_healthy_tolerant != tolerant_state,
        first_time,
    }
}

/// Whether the window must be read at all: in the steady states (healthy and not crossed,
/// unhealthy and crossed) every possible outcome of [`tolerant_crossed`] leaves the tolerant
/// flag as it is, so the hot path of a healthy device reads nothing.
pub fn needs_window(rule: Rule, ti_s: i64, value: f64, state: Option<bool>) -> bool {
    if window_s(rule.tolerance_s, ti_s).is_none() {
        return false;
    }
    let c = crossed(rule.operator, rule.threshold, value);
    !matches!((c, state), (false, Some(true)) | (true, Some(false)))
}

#[cfg(test)]
mod tests;
