//! The monitoring database in the timeseries engine (spec §1.2): created at every start with
//! its two retention policies, `autogen` (the default, 3 years) and `short` (24 hours),
//! whose durations follow the configuration, as upstream re-applies them at every start-up.

use crate::config::TimeseriesConfig;
use crate::storage::{Engine, StorageError};

/// Name of the retention policy for short-lived data (device snapshots, check results).
pub const SHORT_RP: &str = "short";

fn ns(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// Creates the database and policies, or re-applies their durations; idempotent.
///
/// # Errors
/// A duration the engine refuses (under an hour), or a storage failure.
pub fn ensure_database(engine: &Engine, cfg: &TimeseriesConfig) -> Result<(), StorageError> {
    engine.create_database(super::counters::COUNTERS_DB)?;
    engine.alter_retention_policy(
        super::counters::COUNTERS_DB,
        "autogen",
        Some(super::counters::COUNTERS_RETENTION_NS),
        None,
        None,
        true,
    )?;
    engine.create_database(&cfg.database)?;
    engine.alter_retention_policy(
        &cfg.database,
        "autogen",
        Some(ns(cfg.default_retention_policy)),
        None,
        None,
        true,
    )?;
    let db = engine
        .database(&cfg.database)
        .ok_or_else(|| StorageError::DatabaseNotFound {
            name: cfg.database.clone(),
        })?;
    if db.rp(Some(SHORT_RP)).is_some() {
        engine.alter_retention_policy(
            &cfg.database,
            SHORT_RP,
            Some(ns(cfg.short_retention_policy)),
            None,
            None,
            false,
        )
    } else {
        engine.create_retention_policy(
            &cfg.database,
            SHORT_RP,
            ns(cfg.short_retention_policy),
            None,
            1,
            false,
        )
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::config::Config;
    use crate::storage::Storage;
    use crate::time::SystemClock;

    #[test]
    fn database_and_policies_are_created_then_re_applied() {
        let s = Storage::in_memory(Arc::new(SystemClock));
        let mut cfg = Config::default().timeseries;
        ensure_database(s.engine(), &cfg).unwrap();
        let d = s.engine().database("openwisp2").unwrap();
        assert_eq!(d.default_rp.as_deref(), Some("autogen"));
        assert_eq!(d.rp(None).unwrap().duration_ns, 26280 * 3_600_000_000_000);
        assert_eq!(
            d.rp(Some("short")).unwrap().duration_ns,
            24 * 3_600_000_000_000
        );
        cfg.short_retention_policy = Duration::from_secs(48 * 3600);
        ensure_database(s.engine(), &cfg).unwrap();
        ensure_database(s.engine(), &cfg).unwrap();
        let d = s.engine().database("openwisp2").unwrap();
        assert_eq!(
            d.rp(Some("short")).unwrap().duration_ns,
            48 * 3_600_000_000_000
        );
        assert_eq!(d.rps.len(), 2);
    }
}
