//! Where the monitoring timeseries live: the [`Timeseries`] backend the domain writes metric
//! points to and reads charts, alert windows and snapshots from, and the monitoring database
//! (spec §1.2) created at every start with its two retention policies, `autogen` (the
//! default, 3 years) and `short` (24 hours), whose durations follow the configuration, as
//! upstream re-applies them at every start-up.
//!
//! The embedded engine is the default ([`Embedded`]); `app` wires a remote InfluxDB 1.x in
//! its place when `[timeseries] backend = "influxdb"`. Every read the domain makes is
//! expressible in InfluxQL, so both answer alike. The traffic counters' own database
//! (`counters`) is ingest bookkeeping, not a timeseries operators query: it always stays in
//! the embedded engine.

use std::sync::Arc;

use super::error::DomainError;
use crate::config::TimeseriesConfig;
use crate::influxql::{self, Statement, exec};
use crate::storage::{Engine, FieldValue, Point, StorageError, WriteBatch};

/// Name of the retention policy for short-lived data (device snapshots, check results).
pub const SHORT_RP: &str = "short";

/// One field of the series of a measurement that carry given tag values, over a time range.
#[derive(Debug, Clone, Copy)]
pub struct FieldQuery<'a> {
    /// Database.
    pub db: &'a str,
    /// Retention policy (`None`: the default).
    pub rp: Option<&'a str>,
    /// Measurement.
    pub measurement: &'a str,
    /// Tag filters: every key must carry one of its values.
    pub tags: &'a [(String, Vec<String>)],
    /// Field.
    pub field: &'a str,
    /// Lower time bound, ns, inclusive.
    pub lo: i64,
    /// Upper time bound, ns, inclusive.
    pub hi: i64,
}

/// A SELECT's rows: column names after `time`, then `(time ns, values)` per row, the rows of
/// every series one after the other.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows {
    /// Column names, without the leading `time`.
    pub columns: Vec<String>,
    /// Rows: time (ns) and the values of the other columns.
    pub rows: Vec<(i64, Vec<serde_json::Value>)>,
}

/// The store of the monitoring timeseries. Calls block (the domain runs on blocking
/// threads); a failure of the store is an error, never an empty answer.
pub trait Timeseries: Send + Sync + std::fmt::Debug {
    /// Creates the monitoring database and its policies, or re-applies their durations;
    /// idempotent.
    ///
    /// # Errors
    /// A duration the store refuses, or the store failing.
    fn ensure(&self, cfg: &TimeseriesConfig) -> Result<(), DomainError>;

    /// Creates database `db` (or re-applies its retention) with its default policy `autogen`
    /// keeping `retention`; idempotent.
    ///
    /// # Errors
    /// A duration the store refuses, or the store failing.
    fn ensure_database(&self, db: &str, retention: std::time::Duration) -> Result<(), DomainError>;

    /// Writes points durably, returning how many were stored; points refused one by one
    /// (beyond retention) are skipped, as InfluxDB drops them.
    ///
    /// # Errors
    /// The store failing; nothing is acknowledged then.
    fn write(&self, db: &str, rp: Option<&str>, points: Vec<Point>) -> Result<usize, DomainError>;

    /// Runs SELECT statements (`;`-separated) on `db`. A statement answering an error (a
    /// measurement never written) contributes no rows, as a chart without data.
    ///
    /// # Errors
    /// Text that is not SELECTs, the store failing.
    fn select(&self, db: &str, q: &str, now: i64) -> Result<Rows, DomainError>;

    /// The points of `q`, in time order (series merged).
    ///
    /// # Errors
    /// The store failing.
    fn points(&self, q: &FieldQuery<'_>) -> Result<Vec<(i64, FieldValue)>, DomainError>;

    /// Whether `q` has any point.
    ///
    /// # Errors
    /// The store failing.
    fn any(&self, q: &FieldQuery<'_>) -> Result<bool, DomainError> {
        Ok(!self.points(q)?.is_empty())
    }

    /// The last point of `q` (`recent` is a hint: where the latest point usually is).
    ///
    /// # Errors
    /// The store failing.
    fn latest(
        &self,
        q: &FieldQuery<'_>,
        recent: i64,
    ) -> Result<Option<(i64, FieldValue)>, DomainError>;

    /// Drops every series of `db` tagged `object_id` or `pk` = `id` (a deleted device).
    ///
    /// # Errors
    /// The store failing.
    fn drop_object(&self, db: &str, id: &str) -> Result<(), DomainError>;
}

/// A shared backend.
pub type SharedTimeseries = Arc<dyn Timeseries>;

fn ns(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// The embedded engine as the backend.
#[derive(Debug, Clone)]
pub struct Embedded {
    engine: Arc<Engine>,
}

impl Embedded {
    /// The backend over `engine`.
    pub fn new(engine: Arc<Engine>) -> Self {
        Embedded { engine }
    }

    /// The points of every series matching `q`, unsorted.
    fn columns(&self, q: &FieldQuery<'_>) -> Result<Vec<crate::storage::Column>, DomainError> {
        if self.engine.database(q.db).is_none() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for s in self
            .engine
            .series_matching_all(q.db, q.measurement, q.tags)?
        {
            out.extend(self.engine.read(q.db, q.rp, s, q.field, q.lo, q.hi)?);
        }
        Ok(out)
    }
}

impl Timeseries for Embedded {
    fn ensure_database(&self, db: &str, retention: std::time::Duration) -> Result<(), DomainError> {
        self.engine.create_database(db)?;
        self.engine
            .alter_retention_policy(db, "autogen", Some(ns(retention)), None, None, true)?;
        Ok(())
    }

    fn ensure(&self, cfg: &TimeseriesConfig) -> Result<(), DomainError> {
        let engine = &self.engine;
        self.ensure_database(&cfg.database, cfg.default_retention_policy)?;
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
            )?;
        } else {
            engine.create_retention_policy(
                &cfg.database,
                SHORT_RP,
                ns(cfg.short_retention_policy),
                None,
                1,
                false,
            )?;
        }
        Ok(())
    }

    fn write(&self, db: &str, rp: Option<&str>, points: Vec<Point>) -> Result<usize, DomainError> {
        if points.is_empty() {
            return Ok(0);
        }
        let outcome = self.engine.write(WriteBatch {
            database: db.to_owned(),
            retention_policy: rp.map(str::to_owned),
            points,
        })?;
        for (i, why) in &outcome.rejected {
            tracing::debug!(db, point = i, reason = %why, "point not stored");
        }
        Ok(outcome.written)
    }

    fn select(&self, db: &str, q: &str, now: i64) -> Result<Rows, DomainError> {
        let query =
            influxql::parse_query(q).map_err(|e| DomainError::Chart(format!("{q}: {e}")))?;
        let mut out = Rows::default();
        for stmt in &query.statements {
            let Statement::Select(s) = stmt else {
                return Err(DomainError::Chart(format!("not a SELECT: {q}")));
            };
            let ctx = exec::Context {
                db: Some(db),
                rp: None,
                now,
                deadline: None,
                max_rows: None,
            };
            let r = influxql::select::execute(&self.engine, s, &ctx);
            if let Some(e) = r.error {
                // A measurement not written yet is "no data", as InfluxDB answers it.
                tracing::debug!(query = q, error = %e, "query answered an error");
                continue;
            }
            for series in r.series {
                if out.columns.is_empty() {
                    out.columns = series.columns.iter().skip(1).cloned().collect();
                }
                for row in series.values {
                    let mut it = row.into_iter();
                    let time = match it.next() {
                        Some(exec::Value::Time(ns)) => ns,
                        Some(v) => v.as_f64().map_or(0, |f| f as i64),
                        None => 0,
                    };
                    out.rows.push((time, it.map(to_json).collect()));
                }
            }
        }
        Ok(out)
    }

    fn points(&self, q: &FieldQuery<'_>) -> Result<Vec<(i64, FieldValue)>, DomainError> {
        let mut out: Vec<(i64, FieldValue)> = Vec::new();
        for col in self.columns(q)? {
            out.extend((0..col.len()).filter_map(|i| Some((col.ts[i], col.value(i)?))));
        }
        // Stable: points of one instant keep their series order, as InfluxDB merges them.
        out.sort_by_key(|p| p.0);
        Ok(out)
    }

    fn any(&self, q: &FieldQuery<'_>) -> Result<bool, DomainError> {
        if self.engine.database(q.db).is_none() {
            return Ok(false);
        }
        // Stops at the first series with a point: the data-collected check asks this of
        // every passive metric of every device each period.
        for s in self
            .engine
            .series_matching_all(q.db, q.measurement, q.tags)?
        {
            if self
                .engine
                .read(q.db, q.rp, s, q.field, q.lo, q.hi)?
                .is_some()
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn latest(
        &self,
        q: &FieldQuery<'_>,
        recent: i64,
    ) -> Result<Option<(i64, FieldValue)>, DomainError> {
        // The latest point is normally minutes old: read from `recent` before the whole
        // range (a day of snapshots is megabytes of JSON text to decode).
        for lo in [recent.max(q.lo), q.lo] {
            let last = self
                .columns(&FieldQuery { lo, ..*q })?
                .into_iter()
                .filter_map(|c| {
                    let i = c.len().checked_sub(1)?;
                    Some((c.ts[i], c.value(i)?))
                })
                .max_by_key(|p| p.0);
            if last.is_some() {
                return Ok(last);
            }
        }
        Ok(None)
    }

    fn drop_object(&self, db: &str, id: &str) -> Result<(), DomainError> {
        if self.engine.database(db).is_none() {
            return Ok(());
        }
        for m in self.engine.measurements(db)? {
            let mut ids = self.engine.series_with_tag(db, &m, "object_id", id)?;
            ids.extend(self.engine.series_with_tag(db, &m, "pk", id)?);
            if !ids.is_empty() {
                self.engine.drop_series(db, &ids)?;
            }
        }
        Ok(())
    }
}

/// A result value as JSON, as InfluxDB renders it.
fn to_json(v: exec::Value) -> serde_json::Value {
    use serde_json::{Value, json};
    match v {
        exec::Value::Null => Value::Null,
        exec::Value::Float(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        exec::Value::Int(i) => json!(i),
        exec::Value::Unsigned(u) => json!(u),
        exec::Value::Bool(b) => json!(b),
        exec::Value::Str(s) => json!(s),
        exec::Value::Time(t) => json!(t),
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
        let ts = Embedded::new(s.engine().clone());
        let mut cfg = Config::default().timeseries;
        ts.ensure(&cfg).unwrap();
        let d = s.engine().database("openwisp2").unwrap();
        assert_eq!(d.default_rp.as_deref(), Some("autogen"));
        assert_eq!(d.rp(None).unwrap().duration_ns, 26280 * 3_600_000_000_000);
        assert_eq!(
            d.rp(Some("short")).unwrap().duration_ns,
            24 * 3_600_000_000_000
        );
        cfg.short_retention_policy = Duration::from_secs(48 * 3600);
        ts.ensure(&cfg).unwrap();
        ts.ensure(&cfg).unwrap();
        let d = s.engine().database("openwisp2").unwrap();
        assert_eq!(
            d.rp(Some("short")).unwrap().duration_ns,
            48 * 3_600_000_000_000
        );
        assert_eq!(d.rps.len(), 2);
    }
}
