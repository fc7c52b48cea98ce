//! Statement execution over the engine, and the result shapes `/query` serialises.
//!
//! Owns: what each statement means against `storage::Engine` and the rows it answers.
//! Must not: know HTTP or JSON (the API renders [`StatementResult`]). Statements not yet
//! implemented answer a per-statement error saying so — never a guess.

use crate::storage::{Engine, StorageError};
use crate::time::format_duration;

use super::ast::{
    AlterRetentionPolicy, BinaryOp, CreateDatabase, CreateRetentionPolicy, DataType, Expr, Literal,
    Measurement, MeasurementName, SeriesFilter, ShowFieldKeys, ShowMeasurements, ShowTagKeys,
    ShowTagValues, Statement, TagKeyFilter,
};
use crate::storage::type_name;

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
        Statement::ShowMeasurements(s) if show_measurements_supported(s) => {
            with_db(s.database.as_deref(), db, |d| {
                match show_measurements(engine, d, s) {
                    // Matches InfluxDB 1.x: the measurements of a missing database are none (the
                    // other SHOW statements do report the missing database).
                    Err(StorageError::DatabaseNotFound { .. }) => Ok(StatementResult::default()),
                    other => other,
                }
            })
        }
        Statement::ShowTagKeys(s) if show_tag_keys_supported(s) => {
            with_db(s.database.as_deref(), db, |d| show_tag_keys(engine, d, s))
        }
        Statement::ShowTagValues(s) if show_tag_values_supported(s) => {
            with_db(s.database.as_deref(), db, |d| show_tag_values(engine, d, s))
        }
        Statement::ShowFieldKeys(s) if show_field_keys_supported(s) => {
            with_db(s.database.as_deref(), db, |d| show_field_keys(engine, d, s))
        }
        Statement::DropSeries(f) if drop_series_supported(f) => {
            with_db(None, db, |d| drop_series(engine, d, f))
        }
        Statement::DropMeasurement { name } => with_db(None, db, |d| {
            engine
                .drop_measurement(d, name)
                .map(|()| StatementResult::default())
        }),
        Statement::Unsupported(u) => {
            return StatementResult::error(format!("{} is not supported by wispmon", u.kind()));
        }
        other => {
            let text = other.to_string();
            let kind: String = text
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" ");
            return StatementResult::error(format!("{kind} is not supported by wispmon yet"));
        }
    };
    r.unwrap_or_else(|e| StatementResult::error(message(&e)))
}

fn show_databases(engine: &Engine) -> StatementResult {
    let mut dbs: Vec<(u32, String)> = engine
        .databases()
        .into_iter()
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

/// Plain measurement names of a FROM clause; `None` when it holds anything else (regex,
/// qualifiers) that this executor does not evaluate yet.
fn plain_names(sources: &[Measurement]) -> Option<Vec<String>> {
    sources
        .iter()
        .map(|m| match (&m.database, &m.retention_policy, &m.name) {
            (None, None, MeasurementName::Name(n)) => Some(n.clone()),
            _ => None,
        })
        .collect()
}

fn show_measurements_supported(s: &ShowMeasurements) -> bool {
    s.with_measurement.is_none() && s.condition.is_none() && s.order_by.is_none()
}

fn show_tag_keys_supported(s: &ShowTagKeys) -> bool {
    plain_names(&s.sources).is_some()
        && s.key.is_none()
        && s.condition.is_none()
        && s.order_by.is_none()
        && s.limit.is_none()
        && s.offset.is_none()
        && s.slimit.is_none()
        && s.soffset.is_none()
}

fn show_tag_values_supported(s: &ShowTagValues) -> bool {
    plain_names(&s.sources).is_some()
        && matches!(s.key, TagKeyFilter::Eq(_) | TagKeyFilter::In(_))
        && s.condition.is_none()
        && s.order_by.is_none()
        && s.limit.is_none()
        && s.offset.is_none()
}

fn show_field_keys_supported(s: &ShowFieldKeys) -> bool {
    plain_names(&s.sources).is_some()
        && s.order_by.is_none()
        && s.limit.is_none()
        && s.offset.is_none()
}

/// The measurements a FROM clause names that have series, or all of them when it is empty.
fn measurements_of(
    engine: &Engine,
    db: &str,
    sources: &[Measurement],
) -> Result<Vec<String>, StorageError> {
    let all = engine.measurements(db)?;
    let names = plain_names(sources).unwrap_or_default();
    if names.is_empty() {
        return Ok(all);
    }
    Ok(all.into_iter().filter(|m| names.contains(m)).collect())
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
) -> Result<StatementResult, StorageError> {
    let ms = page(engine.measurements(db)?, s.limit, s.offset);
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
) -> Result<StatementResult, StorageError> {
    let mut r = StatementResult::default();
    for m in measurements_of(engine, db, &s.sources)? {
        let keys = engine.tag_keys(db, &m)?;
        if !keys.is_empty() {
            r.series.push(one_series(
                &m,
                &["tagKey"],
                keys.into_iter().map(|k| vec![Value::Str(k)]).collect(),
            ));
        }
    }
    Ok(r)
}

fn show_tag_values(
    engine: &Engine,
    db: &str,
    s: &ShowTagValues,
) -> Result<StatementResult, StorageError> {
    let mut wanted: Vec<String> = match &s.key {
        TagKeyFilter::Eq(k) => vec![k.clone()],
        TagKeyFilter::In(ks) => ks.clone(),
        _ => Vec::new(),
    };
    wanted.sort();
    wanted.dedup();
    let mut r = StatementResult::default();
    for m in measurements_of(engine, db, &s.sources)? {
        let mut rows = Vec::new();
        for k in &wanted {
            for v in engine.tag_values(db, &m, k)? {
                rows.push(vec![Value::Str(k.clone()), Value::Str(v)]);
            }
        }
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
    let mut r = StatementResult::default();
    for m in measurements_of(engine, db, &s.sources)? {
        let fields = engine.field_keys(db, &m)?;
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

/// The `tag = 'value'` terms of a condition made only of such terms joined by `AND`
/// (parentheses allowed); `false` for anything else (regex, `OR`, `!=`, time, numbers).
fn tag_equalities(e: &Expr, out: &mut Vec<(String, String)>) -> bool {
    match e {
        Expr::Paren(x) => tag_equalities(x, out),
        Expr::Binary(b) if b.op == BinaryOp::And => {
            tag_equalities(&b.lhs, out) && tag_equalities(&b.rhs, out)
        }
        Expr::Binary(b) if b.op == BinaryOp::Eq => match (&b.lhs, &b.rhs) {
            (Expr::VarRef(v), Expr::Literal(Literal::String(s)))
                if matches!(v.data_type, None | Some(DataType::Tag)) && v.name != "time" =>
            {
                out.push((v.name.clone(), s.clone()));
                true
            }
            _ => false,
        },
        _ => false,
    }
}

fn drop_series_supported(f: &SeriesFilter) -> bool {
    let mut terms = Vec::new();
    plain_names(&f.sources).is_some()
        && f.condition
            .as_ref()
            .is_none_or(|c| tag_equalities(c, &mut terms))
}

/// `DROP SERIES [FROM m, ...] [WHERE tag = 'v' AND ...]`: the series matching every term.
fn drop_series(
    engine: &Engine,
    db: &str,
    f: &SeriesFilter,
) -> Result<StatementResult, StorageError> {
    let mut terms = Vec::new();
    if let Some(c) = &f.condition {
        tag_equalities(c, &mut terms);
    }
    for m in measurements_of(engine, db, &f.sources)? {
        let fields = engine.field_keys(db, &m)?;
        if terms
            .iter()
            .any(|(k, _)| fields.iter().any(|(f, _)| f == k))
        {
            return Ok(StatementResult::error(
                "fields not supported in WHERE clause during deletion",
            ));
        }
        let mut ids = engine.series_of(db, &m)?;
        for (k, v) in &terms {
            let with: std::collections::BTreeSet<_> =
                engine.series_with_tag(db, &m, k, v)?.into_iter().collect();
            ids.retain(|id| with.contains(id));
        }
        if !ids.is_empty() {
            engine.drop_series(db, &ids)?;
        }
    }
    Ok(StatementResult::default())
}
