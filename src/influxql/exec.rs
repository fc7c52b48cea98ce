//! Statement execution over the engine, and the result shapes `/query` serialises.
//!
//! Owns: what each statement means against `storage::Engine` and the rows it answers.
//! Must not: know HTTP or JSON (the API renders [`StatementResult`]). Statements not yet
//! implemented answer a per-statement error saying so — never a guess.

use crate::storage::{Engine, StorageError};
use crate::time::format_duration;

use super::ast::{
    AlterRetentionPolicy, CardinalityOf, CreateDatabase, CreateRetentionPolicy, Expr, Measurement,
    MeasurementName, SeriesFilter, ShowCardinality, ShowFieldKeys, ShowMeasurements, ShowSeries,
    ShowTagKeys, ShowTagValues, Statement, TagKeyFilter,
};
use crate::storage::type_name;

use super::select::{self, Names};

pub use super::value::Value;

/// One series of a statement's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Series name (`databases`, a measurement...); `None` prints no `name` key.
    pub name: Option<String>,
    /// Tags of a `GROUP BY` series (omitted from the JSON when empty).
    pub tags: Vec<(String, String)>,
    /// Column names.
    pub columns: Vec<String>,
    /// Rows (omitted from the JSON when empty, as InfluxDB does).
    pub values: Vec<Vec<Value>>,
}

/// The answer to one statement.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatementResult {
    /// Series, in order.
    pub series: Vec<Series>,
    /// Informational messages (`level`, `text`), e.g. deprecation warnings.
    pub messages: Vec<(String, String)>,
    /// The statement failed with this message.
    pub error: Option<String>,
    /// The `tz()` zone times are rendered in (UTC when `None`).
    pub zone: Option<crate::time::Zone>,
}

impl StatementResult {
    fn error(msg: impl Into<String>) -> Self {
        StatementResult {
            error: Some(msg.into()),
            ..Default::default()
        }
    }
}

/// Whether a statement changes data or schema (InfluxDB wants those sent by POST).
pub fn is_write(stmt: &Statement) -> bool {
    matches!(
        stmt,
        Statement::CreateDatabase(_)
            | Statement::DropDatabase { .. }
            | Statement::CreateRetentionPolicy(_)
            | Statement::AlterRetentionPolicy(_)
            | Statement::DropRetentionPolicy { .. }
            | Statement::DropSeries(_)
            | Statement::Delete(_)
            | Statement::DropMeasurement { .. }
    )
}

/// Query errors name databases without quotes (unlike `/write`'s 404).
fn message(e: &StorageError) -> String {
    match e {
        StorageError::DatabaseNotFound { name } => format!("database not found: {name}"),
        other => other.to_string(),
    }
}

/// What a statement runs with besides itself.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    /// The request's `db`.
    pub db: Option<&'a str>,
    /// The request's `rp`.
    pub rp: Option<&'a str>,
    /// The time `now()` stands for (ns).
    pub now: i64,
    /// When a SELECT gives up with "query-timeout limit exceeded" (none: never).
    pub deadline: Option<std::time::Instant>,
    /// Rows the answer may still hold (`[influx] max_row_limit`): a SELECT whose series come
    /// out in their final order stops computing further series once it holds one row more,
    /// so the caller can cut the answer there and mark it partial without having built the
    /// rest (the series that crosses the limit is still read whole).
    pub max_rows: Option<usize>,
}

/// Runs one statement.
pub fn execute(engine: &Engine, stmt: &Statement, ctx: &Context<'_>) -> StatementResult {
    let db = ctx.db;
    let r = match stmt {
        Statement::Select(s) => return super::select::execute(engine, s, ctx),
        Statement::ShowDatabases => Ok(show_databases(engine)),
        Statement::CreateDatabase(c) => create_database(engine, c),
        Statement::DropDatabase { name } => match engine.drop_database(name) {
            // Dropping a database that does not exist succeeds, as in InfluxDB.
            Ok(()) | Err(StorageError::DatabaseNotFound { .. }) => Ok(StatementResult::default()),
            Err(e) => Err(e),
        },
        Statement::ShowRetentionPolicies { database } => {
            match database.as_deref().or(db).filter(|d| !d.is_empty()) {
                None => return StatementResult::error("database name required"),
                Some(d) => show_retention_policies(engine, d),
            }
        }
        Statement::CreateRetentionPolicy(c) => create_rp(engine, c),
        Statement::AlterRetentionPolicy(a) => alter_rp(engine, a),
        Statement::DropRetentionPolicy { name, database } => {
            match engine.drop_retention_policy(database, name) {
                // Missing policies drop silently, as in InfluxDB.
                Ok(()) | Err(StorageError::RetentionPolicyNotFound { .. }) => {
                    Ok(StatementResult::default())
                }
                Err(e) => Err(e),
            }
        }
        Statement::ShowMeasurements(s) => {
            with_db(s.database.as_deref(), db, |d| {
                match show_measurements(engine, d, s, ctx.now) {
                    // Matches InfluxDB 1.x: the measurements of a missing database are none (the
                    // other SHOW statements do report the missing database).
                    Err(StorageError::DatabaseNotFound { .. }) => Ok(StatementResult::default()),
                    other => other,
                }
            })
        }
        Statement::ShowTagKeys(s) => with_db(s.database.as_deref(), db, |d| {
            show_tag_keys(engine, d, s, ctx.now)
        }),
        Statement::ShowTagValues(s) => with_db(s.database.as_deref(), db, |d| {
            show_tag_values(engine, d, s, ctx.now)
        }),
        Statement::ShowFieldKeys(s) => {
            with_db(s.database.as_deref(), db, |d| show_field_keys(engine, d, s))
        }
        Statement::DropSeries(f) => with_db(None, db, |d| drop_series(engine, d, f, ctx.now)),
        Statement::Delete(f) => with_db(None, db, |d| delete(engine, d, f, ctx.now)),
        Statement::ShowCardinality(c) => with_db(c.database.as_deref(), db, |d| {
            cardinality(engine, d, c, ctx.now)
        }),
        Statement::ShowSeries(s) => with_db(s.database.as_deref(), db, |d| {
            show_series(engine, d, s, ctx.now)
        }),
        Statement::DropMeasurement { name } => with_db(None, db, |d| {
            engine
                .drop_measurement(d, name)
                .map(|()| StatementResult::default())
        }),
        Statement::Unsupported(u) => {
            return StatementResult::error(format!("{} is not supported by wispmon", u.kind()));
        }
    };
    r.unwrap_or_else(|e| StatementResult::error(message(&e)))
}

fn show_databases(engine: &Engine) -> StatementResult {
    let mut dbs: Vec<(u32, String)> = engine
        .databases()
        .into_iter()
        .filter(|n| !crate::storage::is_internal_database(n))
        .filter_map(|n| engine.database(&n).map(|d| (d.id, n)))
        .collect();
    // InfluxDB lists databases in creation order.
    dbs.sort();
    StatementResult {
        series: vec![Series {
            tags: Vec::new(),
            name: Some("databases".into()),
            columns: vec!["name".into()],
            values: dbs.into_iter().map(|(_, n)| vec![Value::Str(n)]).collect(),
        }],
        ..Default::default()
    }
}

fn create_database(engine: &Engine, c: &CreateDatabase) -> Result<StatementResult, StorageError> {
    let existed = engine.database(&c.name).is_some();
    engine.create_database(&c.name)?;
    if let (Some(w), false) = (&c.with, existed) {
        let name = w.name.clone().unwrap_or_else(|| "autogen".into());
        if name == "autogen" {
            engine.alter_retention_policy(
                &c.name,
                &name,
                w.duration,
                w.shard_duration,
                w.replication,
                true,
            )?;
        } else {
            engine.create_retention_policy(
                &c.name,
                &name,
                w.duration.unwrap_or(0),
                w.shard_duration,
                w.replication.unwrap_or(1),
                true,
            )?;
            engine.drop_retention_policy(&c.name, "autogen")?;
        }
    }
    Ok(StatementResult::default())
}

fn show_retention_policies(engine: &Engine, db: &str) -> Result<StatementResult, StorageError> {
    let d = engine
        .database(db)
        .ok_or_else(|| StorageError::DatabaseNotFound { name: db.into() })?;
    let dur = |ns: i64| format_duration(std::time::Duration::from_nanos(ns.max(0) as u64));
    let values = d
        .rps
        .iter()
        .map(|r| {
            vec![
                Value::Str(r.name.clone()),
                Value::Str(dur(r.duration_ns)),
                Value::Str(dur(r.shard_duration_ns)),
                Value::Int(i64::from(r.replication)),
                Value::Bool(d.default_rp.as_deref() == Some(r.name.as_str())),
            ]
        })
        .collect();
    Ok(StatementResult {
        series: vec![Series {
            tags: Vec::new(),
            name: None,
            columns: [
                "name",
                "duration",
                "shardGroupDuration",
                "replicaN",
                "default",
            ]
            .map(String::from)
            .to_vec(),
            values,
        }],
        ..Default::default()
    })
}

fn create_rp(engine: &Engine, c: &CreateRetentionPolicy) -> Result<StatementResult, StorageError> {
    engine.create_retention_policy(
        &c.database,
        &c.name,
        c.duration,
        c.shard_duration,
        c.replication,
        c.default,
    )?;
    Ok(StatementResult::default())
}

fn alter_rp(engine: &Engine, a: &AlterRetentionPolicy) -> Result<StatementResult, StorageError> {
    engine.alter_retention_policy(
        &a.database,
        &a.name,
        a.duration,
        a.shard_duration,
        a.replication,
        a.default,
    )?;
    Ok(StatementResult::default())
}

/// Runs `f` on the statement's database (`ON db`, else the request's `db`).
fn with_db(
    on: Option<&str>,
    db: Option<&str>,
    f: impl FnOnce(&str) -> Result<StatementResult, StorageError>,
) -> Result<StatementResult, StorageError> {
    match on.or(db).filter(|d| !d.is_empty()) {
        None => Ok(StatementResult::error("database name required")),
        Some(d) => f(d),
    }
}

/// The measurements `sources` names (names and regexes; all when empty), in name order.
fn measurements_of(
    engine: &Engine,
    db: &str,
    sources: &[Measurement],
) -> Result<Vec<String>, String> {
    let all = engine.measurements(db).map_err(|e| message(&e))?;
    if sources.is_empty() {
        return Ok(all);
    }
    let mut out = std::collections::BTreeSet::new();
    for m in sources {
        match &m.name {
            MeasurementName::Name(n) if all.contains(n) => {
                out.insert(n.clone());
            }
            MeasurementName::Regex(r) => {
                let re = select::compile_regex(&r.source)?;
                out.extend(all.iter().filter(|n| re.is_match(n)).cloned());
            }
            _ => {}
        }
    }
    Ok(out.into_iter().collect())
}

/// A predicate on names (tag keys, measurements).
type NameFilter = Box<dyn Fn(&str) -> bool>;

/// A `WITH KEY` filter as a predicate on tag keys.
fn key_filter(f: &TagKeyFilter) -> Result<NameFilter, String> {
    Ok(match f.clone() {
        TagKeyFilter::Eq(k) => Box::new(move |x| x == k),
        TagKeyFilter::NotEq(k) => Box::new(move |x| x != k),
        TagKeyFilter::In(ks) => Box::new(move |x| ks.iter().any(|k| k == x)),
        TagKeyFilter::Regex(r) => {
            let re = select::compile_regex(&r.source)?;
            Box::new(move |x| re.is_match(x))
        }
        TagKeyFilter::NotRegex(r) => {
            let re = select::compile_regex(&r.source)?;
            Box::new(move |x| !re.is_match(x))
        }
    })
}

/// The series of one measurement matching a metadata statement's `WHERE`.
fn series_matching(
    engine: &Engine,
    db: &str,
    measurement: &str,
    cond: &Expr,
    now: i64,
) -> Result<Vec<std::sync::Arc<crate::storage::SeriesInfo>>, String> {
    let source = Measurement {
        database: None,
        retention_policy: None,
        name: MeasurementName::Name(measurement.to_owned()),
    };
    select::matching_series(engine, db, &[source], Some(cond), now, Names::AllTags)
        .map(|found| found.into_iter().flat_map(|(_, s)| s).collect())
}

fn page<T>(v: Vec<T>, limit: Option<u64>, offset: Option<u64>) -> Vec<T> {
    let skip = usize::try_from(offset.unwrap_or(0)).unwrap_or(usize::MAX);
    let take = limit
        .filter(|&l| l > 0)
        .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
    v.into_iter().skip(skip).take(take).collect()
}

fn one_series(name: &str, columns: &[&str], values: Vec<Vec<Value>>) -> Series {
    Series {
        tags: Vec::new(),
        name: Some(name.to_owned()),
        columns: columns.iter().map(|c| (*c).to_owned()).collect(),
        values,
    }
}

fn show_measurements(
    engine: &Engine,
    db: &str,
    s: &ShowMeasurements,
    now: i64,
) -> Result<StatementResult, StorageError> {
    let mut ms = engine.measurements(db)?;
    if let Some((op, m)) = &s.with_measurement {
        let keep: NameFilter = match (&m.name, op) {
            (MeasurementName::Regex(r), _) => match select::compile_regex(&r.source) {
                Ok(re) => Box::new(move |x| re.is_match(x)),
                Err(e) => return Ok(StatementResult::error(e)),
            },
            (MeasurementName::Name(n), _) => {
                let n = n.clone();
                Box::new(move |x| x == n)
            }
            _ => Box::new(|_| false),
        };
        ms.retain(|m| keep(m));
    }
    if let Some(c) = &s.condition {
        let mut kept = Vec::new();
        for m in ms {
            match series_matching(engine, db, &m, c, now) {
                Ok(found) if !found.is_empty() => kept.push(m),
                Ok(_) => {}
                Err(e) => return Ok(StatementResult::error(e)),
            }
        }
        ms = kept;
    }
    let ms = page(ms, s.limit, s.offset);
    let mut r = StatementResult::default();
    if !ms.is_empty() {
        r.series.push(one_series(
            "measurements",
            &["name"],
            ms.into_iter().map(|m| vec![Value::Str(m)]).collect(),
        ));
    }
    Ok(r)
}

fn show_tag_keys(
    engine: &Engine,
    db: &str,
    s: &ShowTagKeys,
    now: i64,
) -> Result<StatementResult, StorageError> {
    let names = match measurements_of(engine, db, &s.sources) {
        Ok(n) => n,
        Err(e) => return Ok(StatementResult::error(e)),
    };
    let keep = match s.key.as_ref().map(key_filter).transpose() {
        Ok(k) => k,
        Err(e) => return Ok(StatementResult::error(e)),
    };
    let mut r = StatementResult::default();
    for m in names {
        let keys: Vec<String> = match &s.condition {
            None => engine.tag_keys(db, &m)?,
            Some(c) => match series_matching(engine, db, &m, c, now) {
                Ok(found) => found
                    .iter()
                    .flat_map(|i| i.tags.iter().map(|(k, _)| k.clone()))
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect(),
                Err(e) => return Ok(StatementResult::error(e)),
            },
        };
        let keys: Vec<String> = keys
            .into_iter()
            .filter(|k| keep.as_ref().is_none_or(|f| f(k)))
            .collect();
        let keys = page(keys, s.limit, s.offset);
        if !keys.is_empty() {
            r.series.push(one_series(
                &m,
                &["tagKey"],
                keys.into_iter().map(|k| vec![Value::Str(k)]).collect(),
            ));
        }
    }
    // SLIMIT/SOFFSET parse but InfluxDB 1.x ignores them here.
    Ok(r)
}

fn show_tag_values(
    engine: &Engine,
    db: &str,
    s: &ShowTagValues,
    now: i64,
) -> Result<StatementResult, StorageError> {
    let names = match measurements_of(engine, db, &s.sources) {
        Ok(n) => n,
        Err(e) => return Ok(StatementResult::error(e)),
    };
    let keep = match key_filter(&s.key) {
        Ok(k) => k,
        Err(e) => return Ok(StatementResult::error(e)),
    };
    let mut r = StatementResult::default();
    for m in names {
        let pairs: std::collections::BTreeSet<(String, String)> = match &s.condition {
            None => {
                let mut p = std::collections::BTreeSet::new();
                for k in engine.tag_keys(db, &m)? {
                    if keep(&k) {
                        for v in engine.tag_values(db, &m, &k)? {
                            p.insert((k.clone(), v));
                        }
                    }
                }
                p
            }
            Some(c) => match series_matching(engine, db, &m, c, now) {
                Ok(found) => found
                    .iter()
                    .flat_map(|i| i.tags.iter().filter(|(k, _)| keep(k)).cloned())
                    .collect(),
                Err(e) => return Ok(StatementResult::error(e)),
            },
        };
        let rows: Vec<Vec<Value>> = pairs
            .into_iter()
            .map(|(k, v)| vec![Value::Str(k), Value::Str(v)])
            .collect();
        let rows = page(rows, s.limit, s.offset);
        if !rows.is_empty() {
            r.series.push(one_series(&m, &["key", "value"], rows));
        }
    }
    Ok(r)
}

fn show_field_keys(
    engine: &Engine,
    db: &str,
    s: &ShowFieldKeys,
) -> Result<StatementResult, StorageError> {
    let names = match measurements_of(engine, db, &s.sources) {
        Ok(n) => n,
        Err(e) => return Ok(StatementResult::error(e)),
    };
    let mut r = StatementResult::default();
    for m in names {
        let fields = page(engine.field_keys(db, &m)?, s.limit, s.offset);
        if !fields.is_empty() {
            r.series.push(one_series(
                &m,
                &["fieldKey", "fieldType"],
                fields
                    .into_iter()
                    .map(|(k, t)| vec![Value::Str(k), Value::Str(type_name(t).to_owned())])
                    .collect(),
            ));
        }
    }
    Ok(r)
}

/// `DROP SERIES [FROM m, /re/, ...] [WHERE <tag condition>]`: the matching series of every
/// measurement, dropped.
fn drop_series(
    engine: &Engine,
    db: &str,
    f: &SeriesFilter,
    now: i64,
) -> Result<StatementResult, StorageError> {
    match deletion_targets(engine, db, f, now) {
        Ok(targets) => {
            for ids in targets {
                engine.drop_series(db, &ids)?;
            }
            Ok(StatementResult::default())
        }
        Err(r) => Ok(r),
    }
}

/// The series `DROP SERIES` and `DELETE` act on, per measurement (none empty); a condition on a
/// field is refused as InfluxDB does.
fn deletion_targets(
    engine: &Engine,
    db: &str,
    f: &SeriesFilter,
    now: i64,
) -> Result<Vec<Vec<crate::storage::SeriesId>>, StatementResult> {
    let found = select::matching_series(
        engine,
        db,
        &f.sources,
        f.condition.as_ref(),
        now,
        Names::RefuseFields("fields not supported in WHERE clause during deletion"),
    )
    .map_err(StatementResult::error)?;
    Ok(found
        .into_iter()
        .map(|(_, series)| series.iter().map(|s| s.id).collect::<Vec<_>>())
        .filter(|ids| !ids.is_empty())
        .collect())
}

/// `DELETE [FROM m, /re/, ...] [WHERE <time and tag condition>]`: the points of the matching
/// series within the time range, in every retention policy.
fn delete(
    engine: &Engine,
    db: &str,
    f: &SeriesFilter,
    now: i64,
) -> Result<StatementResult, StorageError> {
    let (lo, hi) = match select::condition_time_range(f.condition.as_ref(), now) {
        Ok(r) => r,
        Err(e) => return Ok(StatementResult::error(e)),
    };
    let targets = match deletion_targets(engine, db, f, now) {
        Ok(t) => t,
        Err(r) => return Ok(r),
    };
    if lo <= hi {
        for ids in targets {
            engine.delete_range(db, &ids, lo, hi)?;
        }
    }
    Ok(StatementResult::default())
}

/// `SHOW <MEASUREMENT|SERIES|TAG KEY|TAG VALUES|FIELD KEY> [EXACT] CARDINALITY ...`: exact
/// counts. The estimate forms of InfluxDB (a sketch) are answered with the exact number.
#[allow(clippy::cast_possible_wrap)]
fn cardinality(
    engine: &Engine,
    db: &str,
    c: &ShowCardinality,
    now: i64,
) -> Result<StatementResult, StorageError> {
    let whole = c.sources.is_empty() && c.condition.is_none();
    let single = |column: &str, n: usize| {
        let mut s = one_series("", &[column], vec![vec![Value::Int(n as i64)]]);
        s.name = None;
        StatementResult {
            series: vec![s],
            ..Default::default()
        }
    };
    let estimate = if c.exact {
        "count"
    } else {
        "cardinality estimation"
    };
    let found = match (&c.of, whole) {
        (CardinalityOf::Measurement, true) => {
            return Ok(single(estimate, engine.measurements(db)?.len()));
        }
        (CardinalityOf::Series, true) if !c.exact => {
            let mut n = 0;
            for m in engine.measurements(db)? {
                n += engine.series_of(db, &m)?.len();
            }
            return Ok(single(estimate, n));
        }
        _ => match select::matching_series(
            engine,
            db,
            &c.sources,
            c.condition.as_ref(),
            now,
            Names::AllTags,
        ) {
            Ok(f) => f,
            Err(e) => return Ok(StatementResult::error(e)),
        },
    };
    if c.of == CardinalityOf::Measurement {
        let n = found.iter().filter(|(_, s)| !s.is_empty()).count();
        return Ok(single("count", n));
    }
    let keep = match c.key.as_ref().map(key_filter).transpose() {
        Ok(k) => k,
        Err(e) => return Ok(StatementResult::error(e)),
    };
    let mut r = StatementResult::default();
    for (m, series) in found {
        let n = match c.of {
            CardinalityOf::Series => series.len(),
            CardinalityOf::TagKey => series
                .iter()
                .flat_map(|s| s.tags.iter().map(|(k, _)| k))
                .collect::<std::collections::BTreeSet<_>>()
                .len(),
            CardinalityOf::TagValues => series
                .iter()
                .flat_map(|s| s.tags.iter())
                .filter(|(k, _)| keep.as_ref().is_none_or(|f| f(k)))
                .collect::<std::collections::BTreeSet<_>>()
                .len(),
            CardinalityOf::FieldKey => engine.field_keys(db, &m)?.len(),
            CardinalityOf::Measurement => 0,
        };
        if n > 0 {
            r.series
                .push(one_series(&m, &["count"], vec![vec![Value::Int(n as i64)]]));
        }
    }
    Ok(r)
}

/// `SHOW SERIES [ON db] [FROM ...] [WHERE <tag condition>] [LIMIT n] [OFFSET n]`: series keys
/// (line-protocol escaped) in key order, in one unnamed series.
fn show_series(
    engine: &Engine,
    db: &str,
    s: &ShowSeries,
    now: i64,
) -> Result<StatementResult, StorageError> {
    let found = match select::matching_series(
        engine,
        db,
        &s.sources,
        s.condition.as_ref(),
        now,
        Names::AllTags,
    ) {
        Ok(found) => found,
        Err(e) => return Ok(StatementResult::error(e)),
    };
    let mut keys: Vec<String> = found
        .into_iter()
        .flat_map(|(_, series)| series.into_iter().map(|i| i.key.clone()))
        .collect();
    keys.sort();
    let keys = page(keys, s.limit, s.offset);
    if keys.is_empty() {
        return Ok(StatementResult::default());
    }
    let mut series = one_series(
        "",
        &["key"],
        keys.into_iter().map(|k| vec![Value::Str(k)]).collect(),
    );
    series.name = None;
    Ok(StatementResult {
        series: vec![series],
        ..Default::default()
    })
}
