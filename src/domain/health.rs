//! Device health status from its metrics (spec §5.5), as a pure function.
//!
//! Owns: the rule "any unhealthy metric → problem; every critical metric unhealthy →
//! critical", with critical metrics matched by key and field name.

use super::device::HealthStatus;
use crate::config::CriticalMetric;

/// The status a device's metrics imply: `metrics` are (key, field name, `is_healthy`).
pub fn status_from_metrics<'a>(
    metrics: impl IntoIterator<Item = (&'a str, &'a str, Option<bool>)>,
    critical: &[CriticalMetric],
) -> HealthStatus {
    let mut unhealthy = 0usize;
    let mut critical_unhealthy = 0usize;
    for (key, field, healthy) in metrics {
        if healthy != Some(false) {
            continue;
        }
        unhealthy += 1;
        if critical
            .iter()
            .any(|c| c.key == key && c.field_name == field)
        {
            critical_unhealthy += 1;
        }
    }
    if !critical.is_empty() && critical_unhealthy == critical.len() {
        HealthStatus::Critical
    } else if unhealthy > 0 {
        HealthStatus::Problem
    } else {
        HealthStatus::Ok
    }
}

/// Whether the metrics imply `critical`.
pub fn is_critical<'a>(
    metrics: impl IntoIterator<Item = (&'a str, &'a str, Option<bool>)>,
    critical: &[CriticalMetric],
) -> bool {
    status_from_metrics(metrics, critical) == HealthStatus::Critical
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crit(key: &str, field: &str) -> CriticalMetric {
        CriticalMetric {
            key: key.into(),
            field_name: field.into(),
            check: None,
        }
    }

    /// The device's metrics as a small mutable table, driven like upstream's tests.
    struct Dev {
        m: Vec<(&'static str, &'static str, Option<bool>)>,
        critical: Vec<CriticalMetric>,
    }

    impl Dev {
        fn set(&mut self, key: &'static str, field: &'static str, healthy: bool) -> &'static str {
            match self.m.iter_mut().find(|(k, f, _)| *k == key && *f == field) {
                Some(e) => e.2 = Some(healthy),
                None => self.m.push((key, field, Some(healthy))),
            }
            status_from_metrics(self.m.iter().copied(), &self.critical).as_str()
        }
    }

    #[test]
    fn every_transition_table_of_the_spec() {
        let ping_only = || Dev {
            m: Vec::new(),
            critical: vec![crit("ping", "reachable")],
        };
        // (ping reachable ↔ healthy; load > 90 unhealthy, non-critical)
        let mut d = ping_only();
        assert_eq!(d.set("ping", "reachable", false), "critical");
        assert_eq!(d.set("ping", "reachable", true), "ok");
        let mut d = ping_only();
        assert_eq!(d.set("load", "load", false), "problem");
        assert_eq!(d.set("load", "load", true), "ok");
        let mut d = ping_only();
        assert_eq!(d.set("load", "load", false), "problem");
        assert_eq!(d.set("ping", "reachable", false), "critical");
        assert_eq!(d.set("ping", "reachable", true), "problem");
        assert_eq!(d.set("load", "load", true), "ok");
        let mut d = ping_only();
        assert_eq!(d.set("ping", "reachable", false), "critical");
        assert_eq!(d.set("load", "load", false), "critical");
        assert_eq!(d.set("load", "load", true), "critical");
        assert_eq!(d.set("ping", "reachable", true), "ok");
        let mut d = ping_only();
        assert_eq!(d.set("load", "load", false), "problem");
        assert_eq!(d.set("process_count", "process_count", true), "problem");
        assert_eq!(d.set("process_count", "process_count", true), "problem");
        assert_eq!(d.set("load", "load", true), "ok");
        // Two critical metrics: one failing is a problem, both critical.
        let mut d = Dev {
            m: Vec::new(),
            critical: vec![
                crit("ping", "reachable"),
                crit("data_collected", "data_collected"),
            ],
        };
        assert_eq!(d.set("data_collected", "data_collected", false), "problem");
        assert_eq!(d.set("ping", "reachable", false), "critical");
        // Metrics not yet assessed count as healthy; no critical entries → never critical.
        assert_eq!(
            status_from_metrics([("ping", "reachable", None)], &[crit("ping", "reachable")]),
            HealthStatus::Ok
        );
        assert_eq!(
            status_from_metrics([("ping", "reachable", Some(false))], &[]),
            HealthStatus::Problem
        );
        // Same key, other field: not the critical metric.
        assert_eq!(
            status_from_metrics(
                [("ping", "loss", Some(false))],
                &[crit("ping", "reachable")]
            ),
            HealthStatus::Problem
        );
    }
}
