//! `SELECT`: planning a statement against the catalog and executing it over the engine.
//!
//! Owns: what a `SELECT` means — sources and wildcards resolved against the measurements'
//! fields and tags, the `WHERE` split into a time range, a per-series tag filter and a per-row
//! condition, `GROUP BY` tags and time buckets (zone-aware), functions, `fill`, ordering and
//! limits — and the result series InfluxDB 1.8 would answer. Bucketed aggregates that whole
//! hours can answer (count, sum, mean, min, max, spread) come from the engine's hourly
//! rollups; everything else from raw points.
//! Must not: know HTTP or JSON.
//!
//! ```text
//! plan:    fields -> Node trees (Agg / Transform / Math / Bin / Ref / Lit), per statement
//! execute: per measurement -> series (postings, tag filter) -> groups -> rows or buckets
//! ```

mod cond;
mod func;
#[cfg(test)]
mod tests;
mod window;

#[cfg(test)]
thread_local! {
    /// Tests turn the rollup and column fast paths off to compare them with the general path.
    static GENERAL_PATH_ONLY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether the fast paths may answer (always, outside tests).
fn fast_paths() -> bool {
    #[cfg(test)]
    {
        !GENERAL_PATH_ONLY.with(std::cell::Cell::get)
    }
    #[cfg(not(test))]
    {
        true
    }
}

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::storage::{
    ColumnValues, Engine, FieldType, HourFold, Interner, Need, Part, SeriesId, SeriesInfo,
    StorageError,
};
use crate::time::Zone;

use super::ast::{
    BinaryOp, Call, DataType, Dimension, Expr, Fill, Literal, MeasurementName, SelectStatement,
    Source, VarRef, WildcardType,
};
use super::exec::{Context, Series, StatementResult};
use super::value::{Value, arith};
use cond::{Env, MAX_TIME, MIN_TIME, Operand, Regexes, TimeRange, Tri};
use func::{Agg, Math, Transform};
use window::Windowing;

const HOUR: i64 = 3_600_000_000_000;
const SECOND: i64 = 1_000_000_000;
/// Buckets one series may produce (InfluxDB's `max-select-buckets`, which is unlimited by
/// default there; a bound keeps a typo like `time(1ns)` over a year from exhausting memory).
const MAX_BUCKETS: usize = 1_000_000;

/// A statement-level failure, reported as the statement's `error`.
type Fail = String;

/// Where a statement's points come from: the engine, or the rows a subquery answered.
#[derive(Clone, Copy)]
enum Data<'a> {
    Engine(&'a Engine),
    Rows(&'a Virtual),
}

/// A subquery's answer seen as measurements: its series (name and tags) with their columns
/// as fields and their rows as points.
#[derive(Default)]
struct Virtual {
    series: Vec<VirtualSeries>,
}

struct VirtualSeries {
    info: std::sync::Arc<SeriesInfo>,
    /// Column names without `time`.
    columns: Vec<String>,
    /// Rows: time, then one value per column.
    rows: Vec<(i64, Vec<Value>)>,
}

impl Virtual {
    fn from_series(result: Vec<Series>) -> Virtual {
        let mut v = Virtual::default();
        for (i, s) in result.into_iter().enumerate() {
            let name = s.name.clone().unwrap_or_default();
            let mut tags: Vec<(String, String)> = s.tags.clone();
            tags.sort();
            let key = crate::storage::series_key(&name, &tags);
            let info = std::sync::Arc::new(SeriesInfo {
                id: i as SeriesId,
                db: 0,
                measurement: name,
                tags,
                key,
            });
            let rows = s
                .values
                .into_iter()
                .filter_map(|mut row| {
                    if row.is_empty() {
                        return None;
                    }
                    let t = match row.remove(0) {
                        Value::Time(t) => t,
                        _ => 0,
                    };
                    Some((t, row))
                })
                .collect();
            v.series.push(VirtualSeries {
                info,
                columns: s.columns.into_iter().skip(1).collect(),
                rows,
            });
        }
        v
    }

    /// Measurements with their fields (typed by their first value) and tag keys.
    fn targets(&self) -> Vec<Target> {
        let mut by: BTreeMap<String, Target> = BTreeMap::new();
        for s in &self.series {
            let t = by
                .entry(s.info.measurement.clone())
                .or_insert_with(|| Target {
                    db: String::new(),
                    rp: None,
                    name: s.info.measurement.clone(),
                    fields: BTreeMap::new(),
                    tags: BTreeSet::new(),
                });
            t.tags.extend(s.info.tags.iter().map(|(k, _)| k.clone()));
            for (ci, c) in s.columns.iter().enumerate() {
                let ty = s.rows.iter().find_map(|(_, r)| match r.get(ci)? {
                    Value::Float(_) => Some(FieldType::Float),
                    Value::Int(_) => Some(FieldType::Integer),
                    Value::Unsigned(_) => Some(FieldType::Unsigned),
                    Value::Bool(_) => Some(FieldType::Boolean),
                    Value::Str(_) => Some(FieldType::String),
                    Value::Null | Value::Time(_) => None,
                });
                if let Some(ty) = ty {
                    t.fields.entry(c.clone()).or_insert(ty);
                }
            }
        }
        by.into_values().collect()
    }

    fn rows(&self, id: SeriesId, fields: &[String], lo: i64, hi: i64) -> Vec<(i64, Vec<Value>)> {
        let Some(s) = usize::try_from(id).ok().and_then(|i| self.series.get(i)) else {
            return Vec::new();
        };
        let idx: Vec<Option<usize>> = fields
            .iter()
            .map(|f| s.columns.iter().position(|c| c == f))
            .collect();
        s.rows
            .iter()
            .filter(|(t, _)| *t >= lo && *t <= hi)
            .map(|(t, r)| {
                let vals = idx
                    .iter()
                    .map(|i| i.and_then(|i| r.get(i).cloned()).unwrap_or(Value::Null))
                    .collect();
                (*t, vals)
            })
            .collect()
    }
}

fn storage(e: StorageError) -> Fail {
    match e {
        StorageError::DatabaseNotFound { name } => format!("database not found: {name}"),
        other => other.to_string(),
    }
}

/// The parser's regex check: InfluxDB refuses a bad regex as a parse error, in Go's words
/// for the common mistakes.
///
/// # Errors
/// ``error parsing regexp: missing closing ): `(` `` and the like.
pub fn check_regex(source: &str) -> Result<(), String> {
    let Err(e) = cond::compile(source) else {
        return Ok(());
    };
    let code = [
        ("unclosed group", "missing closing )"),
        ("unopened group", "unexpected )"),
        ("unclosed character class", "missing closing ]"),
        (
            "repetition operator missing expression",
            "missing argument to repetition operator",
        ),
        ("unrecognized escape sequence", "invalid escape sequence"),
        (
            "invalid character class range",
            "invalid character class range",
        ),
        (
            "repetition quantifier expects a valid decimal",
            "invalid repeat count",
        ),
    ]
    .iter()
    .find(|(rust, _)| e.contains(rust))
    .map_or(e.as_str(), |(_, go)| go);
    Err(format!("error parsing regexp: {code}: `{source}`"))
}

/// The time range a condition bounds (inclusive; unbounded sides are InfluxDB's min/max
/// time), for `DELETE`.
///
/// # Errors
/// A time comparison InfluxDB refuses.
pub fn condition_time_range(cond: Option<&Expr>, now: i64) -> Result<(i64, i64), String> {
    let mut range = TimeRange::default();
    if let Some(c) = cond {
        cond::split_time(c, &Zone::utc(), now, &mut range)?;
    }
    Ok((range.lo.unwrap_or(MIN_TIME), range.hi.unwrap_or(MAX_TIME)))
}

/// Compiles an InfluxQL regex (bounded in size) for the metadata statements.
///
/// # Errors
/// The regex does not compile.
pub fn compile_regex(source: &str) -> Result<regex::Regex, String> {
    cond::compile(source)
}

/// The parser's `tz()` check.
///
/// # Errors
/// `unable to find time zone X`.
pub fn check_time_zone(name: &str) -> Result<(), String> {
    Zone::named(name).map(|_| ()).map_err(|e| e.to_string())
}

/// Series found by [`matching_series`]: per measurement, its matching series.
pub type MatchedSeries = Vec<(String, Vec<std::sync::Arc<SeriesInfo>>)>;

/// A result series with what it sorts by (measurement, group tags).
type KeyedSeries = (String, Vec<(String, String)>, Series);

/// A point of one field in a group: time, value, the series' index in the group, and the
/// row it came from.
type FieldPoint = (i64, Value, usize, usize);

/// A reduced bucket value: row time, the selected point (time, series index, row index) when
/// a selector picked one, and the value.
type Picked = (i64, Option<(i64, usize, usize)>, Value);

/// How [`matching_series`] reads the names of a condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Names<'a> {
    /// `SHOW` statements: every name is a tag, and tags only compare for (in)equality.
    AllTags,
    /// `DROP SERIES`/`DELETE`: a name that is a field is refused with this message.
    RefuseFields(&'a str),
}

/// The series of the measurements named in `sources` (all of the database when empty; names
/// and regexes) whose tags satisfy `cond` (time comparisons are ignored, as InfluxDB's
/// metadata statements do): per measurement in name order, series in key order.
///
/// # Errors
/// The message to answer: a field in the condition (see [`Names`]), an order comparison of
/// tags, an unknown database or a bad regex.
pub fn matching_series(
    engine: &Engine,
    db: &str,
    sources: &[super::ast::Measurement],
    cond: Option<&Expr>,
    now: i64,
    names_are: Names<'_>,
) -> Result<MatchedSeries, String> {
    let metadata = names_are == Names::AllTags;
    let other = |e: String| e;
    let all = engine.measurements(db).map_err(|e| other(storage(e)))?;
    let mut names: BTreeSet<String> = BTreeSet::new();
    if sources.is_empty() {
        names.extend(all.iter().cloned());
    }
    for s in sources {
        match &s.name {
            MeasurementName::Name(n) => {
                if all.contains(n) {
                    names.insert(n.clone());
                }
            }
            MeasurementName::Regex(r) => {
                let re = cond::compile(&r.source).map_err(other)?;
                names.extend(all.iter().filter(|n| re.is_match(n)).cloned());
            }
            MeasurementName::SourceMeasurement => {}
        }
    }
    let rest = match cond {
        Some(c) => {
            let mut range = TimeRange::default();
            cond::split_time(c, &Zone::utc(), now, &mut range).map_err(other)?
        }
        None => None,
    };
    let mut regexes = Regexes::new();
    if let Some(c) = &rest {
        cond::compile_regexes(c, &mut regexes).map_err(other)?;
        // SHOW statements read every name as a tag, and tags only compare for (in)equality.
        if metadata && has_order_comparison(c) {
            return Err(other("invalid tag comparison operator".into()));
        }
    }
    let mut out = Vec::new();
    for name in names {
        let fields = if metadata {
            Vec::new()
        } else {
            engine
                .field_keys(db, &name)
                .map_err(|e| other(storage(e)))?
        };
        let t = Target {
            db: db.to_owned(),
            rp: None,
            name: name.clone(),
            fields: fields.into_iter().collect(),
            tags: BTreeSet::new(),
        };
        if let Some(c) = &rest {
            if let Names::RefuseFields(msg) = names_are {
                if mentions_field(c, &t) {
                    return Err(msg.to_owned());
                }
            }
        }
        let plan_cond = rest.clone();
        let mut series: Vec<std::sync::Arc<SeriesInfo>> = Vec::new();
        for id in engine.series_of(db, &name).map_err(|e| other(storage(e)))? {
            let Some(info) = engine.series_info(id) else {
                continue;
            };
            let keep = match &plan_cond {
                None => true,
                Some(c) => {
                    cond::eval(
                        c,
                        &SeriesEnv {
                            info: &info,
                            target: &t,
                        },
                        &regexes,
                    ) == Tri::True
                }
            };
            if keep {
                series.push(info);
            }
        }
        series.sort_by(|a, b| a.key.cmp(&b.key));
        out.push((name, series));
    }
    Ok(out)
}

fn has_order_comparison(e: &Expr) -> bool {
    match e {
        Expr::Binary(b) => {
            matches!(
                b.op,
                BinaryOp::Lt | BinaryOp::LtEq | BinaryOp::Gt | BinaryOp::GtEq
            ) || has_order_comparison(&b.lhs)
                || has_order_comparison(&b.rhs)
        }
        Expr::Paren(inner) => has_order_comparison(inner),
        _ => false,
    }
}

fn mentions_field(e: &Expr, t: &Target) -> bool {
    match e {
        Expr::VarRef(v) => t.is_field(v),
        Expr::Binary(b) => mentions_field(&b.lhs, t) || mentions_field(&b.rhs, t),
        Expr::Paren(inner) => mentions_field(inner, t),
        _ => false,
    }
}

/// Runs a `SELECT`.
pub fn execute(engine: &Engine, stmt: &SelectStatement, ctx: &Context<'_>) -> StatementResult {
    match run_any(engine, stmt, ctx) {
        Ok(series) => StatementResult {
            series,
            zone: stmt.tz.as_deref().and_then(|z| Zone::named(z).ok()),
            ..Default::default()
        },
        Err(e) => StatementResult {
            error: Some(e),
            ..Default::default()
        },
    }
}

// ----------------------------------------------------------------------------------------------
// Plan.

/// A compiled select expression.
#[derive(Debug, Clone)]
enum Node {
    Lit(Value),
    /// A field or tag of the row (raw queries; auxiliary fields of a lone selector).
    Ref(VarRef),
    /// A function over a bucket's points of one field (`by`: TOP/BOTTOM tag arguments).
    Agg {
        agg: Agg,
        field: VarRef,
        by: Vec<String>,
    },
    /// A transformation over the rows of its input.
    Transform {
        t: Transform,
        inner: Box<Node>,
    },
    Math {
        m: Math,
        args: Vec<Node>,
    },
    Bin {
        op: BinaryOp,
        l: Box<Node>,
        r: Box<Node>,
    },
}

impl Node {
    fn walk<'a>(&'a self, f: &mut dyn FnMut(&'a Node)) {
        f(self);
        match self {
            Node::Transform { inner, .. } => inner.walk(f),
            Node::Math { args, .. } => args.iter().for_each(|a| a.walk(f)),
            Node::Bin { l, r, .. } => {
                l.walk(f);
                r.walk(f);
            }
            _ => {}
        }
    }

    fn has_var(&self) -> bool {
        let mut v = false;
        self.walk(&mut |n| v |= matches!(n, Node::Ref(_) | Node::Agg { .. }));
        v
    }
}

/// One output column.
#[derive(Debug, Clone)]
struct Column {
    name: String,
    node: Node,
}

fn literal_value(l: &Literal) -> Value {
    match l {
        Literal::Integer(n) | Literal::Duration(n) => Value::Int(*n),
        Literal::Unsigned(n) => Value::Unsigned(*n),
        Literal::Float(f) => Value::Float(*f),
        Literal::String(s) => Value::Str(s.clone()),
        Literal::Boolean(b) => Value::Bool(*b),
        Literal::Regex(r) => Value::Str(r.source.clone()),
    }
}

fn number_arg(e: Option<&Expr>) -> Option<f64> {
    match e? {
        Expr::Literal(Literal::Integer(n)) => Some(*n as f64),
        Expr::Literal(Literal::Float(f)) => Some(*f),
        _ => None,
    }
}

fn int_arg(e: Option<&Expr>) -> Option<i64> {
    match e? {
        Expr::Literal(Literal::Integer(n)) => Some(*n),
        _ => None,
    }
}

fn duration_arg(e: Option<&Expr>, fname: &str, default: i64) -> Result<i64, Fail> {
    match e {
        None => Ok(default),
        Some(Expr::Literal(Literal::Duration(d))) if *d > 0 => Ok(*d),
        Some(_) => Err(format!("second argument to {fname} must be a duration")),
    }
}

/// The field an aggregate reads: `f`, `f::type`, or `DISTINCT(f)`.
fn field_arg(c: &Call) -> Result<VarRef, Fail> {
    match c.args.first() {
        Some(Expr::VarRef(v)) => Ok(v.clone()),
        Some(Expr::Paren(inner)) => match inner.as_ref() {
            Expr::VarRef(v) => Ok(v.clone()),
            _ => Err(format!("expected field argument in {}()", c.name)),
        },
        _ => Err(format!("expected field argument in {}()", c.name)),
    }
}

struct Planner {
    group_by_time: bool,
    /// Function nodes seen (for the statement-wide rules).
    calls: Vec<&'static str>,
    /// The statement's `now()`, which seeds SAMPLE.
    now: i64,
}

impl Planner {
    fn compile(&mut self, e: &Expr) -> Result<Node, Fail> {
        match e {
            Expr::Literal(l) => Ok(Node::Lit(literal_value(l))),
            Expr::VarRef(v) => Ok(Node::Ref(v.clone())),
            Expr::Paren(inner) => self.compile(inner),
            Expr::Binary(b) => Ok(Node::Bin {
                op: b.op,
                l: Box::new(self.compile(&b.lhs)?),
                r: Box::new(self.compile(&b.rhs)?),
            }),
            Expr::Distinct(name) => {
                self.calls.push("distinct");
                Ok(Node::Agg {
                    agg: Agg::Distinct,
                    field: VarRef {
                        name: name.clone(),
                        data_type: None,
                    },
                    by: Vec::new(),
                })
            }
            Expr::Call(c) => self.call(c),
            Expr::Wildcard(_) => Err("unsupported wildcard in an expression".into()),
        }
    }

    fn call(&mut self, c: &Call) -> Result<Node, Fail> {
        let name = c.name.as_str();
        check_arity(name, c.args.len())?;
        if let Some((m, arity)) = Math::from_name(name) {
            if c.args.len() != arity {
                return Err(format!(
                    "invalid number of arguments for {name}, expected {arity}, got {}",
                    c.args.len()
                ));
            }
            let args = c
                .args
                .iter()
                .map(|a| self.compile(a))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(Node::Math { m, args });
        }
        let transform = match name {
            "derivative" | "non_negative_derivative" => Some(Transform::Derivative {
                unit: 0,
                non_negative: name == "non_negative_derivative",
            }),
            "difference" | "non_negative_difference" => Some(Transform::Difference {
                non_negative: name == "non_negative_difference",
            }),
            "moving_average" => {
                let n = int_arg(c.args.get(1))
                    .filter(|n| *n > 0)
                    .ok_or("moving_average window must be greater than 1")?;
                Some(Transform::MovingAverage(usize::try_from(n).unwrap_or(1)))
            }
            "cumulative_sum" => Some(Transform::CumulativeSum),
            "elapsed" => Some(Transform::Elapsed(duration_arg(c.args.get(1), name, 1)?)),
            _ => None,
        };
        if let Some(mut t) = transform {
            self.calls.push(t.name());
            let inner = match c.args.first() {
                Some(Expr::Call(inner)) => {
                    let n = self.call(inner)?;
                    if !matches!(n, Node::Agg { .. }) {
                        return Err(format!("{name} requires an aggregate or a field argument"));
                    }
                    if !self.group_by_time {
                        return Err(format!("{name} aggregate requires a GROUP BY interval"));
                    }
                    n
                }
                Some(Expr::VarRef(v)) => {
                    if self.group_by_time {
                        return Err(format!(
                            "aggregate function required inside the call to {name}"
                        ));
                    }
                    Node::Ref(v.clone())
                }
                _ => return Err(format!("expected field argument in {name}()")),
            };
            if let Transform::Derivative { unit, .. } = &mut t {
                *unit = duration_arg(c.args.get(1), name, 0)?;
            }
            return Ok(Node::Transform {
                t,
                inner: Box::new(inner),
            });
        }
        let agg = match name {
            "count" => match c.args.first() {
                Some(Expr::Call(d)) if d.name == "distinct" => {
                    return Ok(self.agg(Agg::CountDistinct, field_arg(d)?));
                }
                Some(Expr::Distinct(f)) => {
                    return Ok(self.agg(
                        Agg::CountDistinct,
                        VarRef {
                            name: f.clone(),
                            data_type: None,
                        },
                    ));
                }
                _ => Agg::Count,
            },
            "distinct" => Agg::Distinct,
            "sum" => Agg::Sum,
            "mean" => Agg::Mean,
            "median" => Agg::Median,
            "mode" => Agg::Mode,
            "spread" => Agg::Spread,
            "stddev" => Agg::Stddev,
            "integral" => Agg::Integral(duration_arg(c.args.get(1), name, SECOND)?),
            "min" => Agg::Min,
            "max" => Agg::Max,
            "first" => Agg::First,
            "last" => Agg::Last,
            "percentile" => {
                let p =
                    number_arg(c.args.get(1)).ok_or("expected float argument in percentile()")?;
                Agg::Percentile(p)
            }
            "top" | "bottom" => {
                let n = int_arg(c.args.last()).filter(|n| *n > 0).ok_or_else(|| {
                    format!(
                        "expected integer as last argument in {name}(), found {}",
                        c.args.last().map(ToString::to_string).unwrap_or_default()
                    )
                })?;
                let n = usize::try_from(n).unwrap_or(usize::MAX);
                let mut by = Vec::new();
                for a in &c.args[1..c.args.len() - 1] {
                    match a {
                        Expr::VarRef(v) => by.push(v.name.clone()),
                        other => {
                            return Err(format!(
                                "only fields or tags are allowed in {name}(), found {other}"
                            ));
                        }
                    }
                }
                let agg = if name == "top" {
                    Agg::Top(n)
                } else {
                    Agg::Bottom(n)
                };
                self.calls.push(agg.name());
                return Ok(Node::Agg {
                    agg,
                    field: field_arg(c)?,
                    by,
                });
            }
            "sample" => {
                let n = int_arg(c.args.get(1))
                    .filter(|n| *n > 0)
                    .ok_or("sample window must be greater than 1")?;
                Agg::Sample {
                    n: usize::try_from(n).unwrap_or(usize::MAX),
                    #[allow(clippy::cast_sign_loss)]
                    seed: self.now as u64,
                }
            }
            "now" => return Err("now() is only allowed in a time condition".into()),
            _ => return Err(format!("undefined function {name}()")),
        };
        let field = field_arg(c)?;
        Ok(self.agg(agg, field))
    }

    fn agg(&mut self, agg: Agg, field: VarRef) -> Node {
        self.calls.push(agg.name());
        Node::Agg {
            agg,
            field,
            by: Vec::new(),
        }
    }
}

/// InfluxDB's argument-count errors.
fn check_arity(name: &str, got: usize) -> Result<(), Fail> {
    let (min, max) = match name {
        "count"
        | "distinct"
        | "sum"
        | "mean"
        | "median"
        | "mode"
        | "spread"
        | "stddev"
        | "min"
        | "max"
        | "first"
        | "last"
        | "difference"
        | "non_negative_difference"
        | "cumulative_sum" => (1, 1),
        "percentile" | "sample" | "moving_average" => (2, 2),
        "derivative" | "non_negative_derivative" | "elapsed" | "integral" => (1, 2),
        "top" | "bottom" => (2, usize::MAX),
        _ => return Ok(()),
    };
    if (min..=max).contains(&got) {
        return Ok(());
    }
    Err(if min == max {
        format!("invalid number of arguments for {name}, expected {min}, got {got}")
    } else if max == usize::MAX {
        format!("invalid number of arguments for {name}, expected at least {min}, got {got}")
    } else {
        format!(
            "invalid number of arguments for {name}, expected at least {min} but no more than {max}, got {got}"
        )
    })
}

/// InfluxDB's column name for a field: its alias, a call's name, a reference's name, or the
/// names in an expression joined by `_`.
fn column_name(e: &Expr) -> String {
    fn names(e: &Expr, out: &mut Vec<String>) {
        match e {
            Expr::VarRef(v) => out.push(v.name.clone()),
            Expr::Call(c) => out.push(c.name.clone()),
            Expr::Distinct(_) => out.push("distinct".into()),
            Expr::Binary(b) => {
                names(&b.lhs, out);
                names(&b.rhs, out);
            }
            Expr::Paren(inner) => names(inner, out),
            _ => {}
        }
    }
    match e {
        Expr::Call(c) => c.name.clone(),
        Expr::VarRef(v) => v.name.clone(),
        Expr::Distinct(_) => "distinct".into(),
        Expr::Paren(inner) => column_name(inner),
        _ => {
            let mut v = Vec::new();
            names(e, &mut v);
            v.join("_")
        }
    }
}

/// Column names as InfluxDB resolves them: aliases are taken first, then generated names,
/// a repeated one suffixed `_1`, `_2`, ...
fn dedupe(cols: Vec<(String, bool)>) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out: Vec<Option<String>> = vec![None; cols.len()];
    for (i, (name, aliased)) in cols.iter().enumerate() {
        if *aliased {
            out[i] = Some(name.clone());
            seen.insert(name.clone(), 1);
        }
    }
    for (i, (name, aliased)) in cols.iter().enumerate() {
        if *aliased {
            continue;
        }
        let Some(&first) = seen.get(name) else {
            seen.insert(name.clone(), 1);
            out[i] = Some(name.clone());
            continue;
        };
        let mut count = first;
        loop {
            let candidate = format!("{name}_{count}");
            if !seen.contains_key(&candidate) {
                seen.insert(name.clone(), count + 1);
                out[i] = Some(candidate);
                break;
            }
            count += 1;
        }
    }
    out.into_iter().map(Option::unwrap_or_default).collect()
}

/// A measurement a statement reads.
#[derive(Debug, Clone)]
struct Target {
    db: String,
    rp: Option<String>,
    name: String,
    fields: BTreeMap<String, FieldType>,
    tags: BTreeSet<String>,
}

impl Target {
    fn is_field(&self, v: &VarRef) -> bool {
        match v.data_type {
            Some(DataType::Tag) => false,
            _ => self.fields.contains_key(&v.name),
        }
    }
}

fn resolve_targets(
    engine: &Engine,
    stmt: &SelectStatement,
    ctx: &Context<'_>,
) -> Result<Vec<Target>, Fail> {
    let mut out: Vec<Target> = Vec::new();
    for s in &stmt.sources {
        let m = match s {
            Source::Measurement(m) => m,
            Source::Subquery(_) => {
                return Err("subqueries are not supported by wispmon yet".into());
            }
        };
        let db = m
            .database
            .as_deref()
            .or(ctx.db)
            .filter(|d| !d.is_empty())
            .ok_or("database name required")?;
        let info = engine
            .database(db)
            .ok_or_else(|| format!("database not found: {db}"))?;
        let rp = m
            .retention_policy
            .as_deref()
            .or(ctx.rp)
            .filter(|r| !r.is_empty());
        if let Some(rp) = rp {
            if !info.rps.iter().any(|p| p.name == rp) {
                return Err(format!("retention policy not found: {rp}"));
            }
        }
        let names: Vec<String> = match &m.name {
            MeasurementName::Name(n) => vec![n.clone()],
            MeasurementName::Regex(r) => {
                let re = cond::compile(&r.source)?;
                engine
                    .measurements(db)
                    .map_err(storage)?
                    .into_iter()
                    .filter(|n| re.is_match(n))
                    .collect()
            }
            MeasurementName::SourceMeasurement => {
                return Err(":MEASUREMENT is only allowed in INTO".into());
            }
        };
        for name in names {
            if out
                .iter()
                .any(|t| t.db == db && t.rp.as_deref() == rp && t.name == name)
            {
                continue;
            }
            let fields = engine.field_keys(db, &name).map_err(storage)?;
            let tags = engine.tag_keys(db, &name).map_err(storage)?;
            out.push(Target {
                db: db.to_owned(),
                rp: rp.map(str::to_owned),
                name,
                fields: fields.into_iter().collect(),
                tags: tags.into_iter().collect(),
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn type_ok_for(agg_name: &str, t: FieldType) -> bool {
    let numeric = matches!(
        t,
        FieldType::Float | FieldType::Integer | FieldType::Unsigned
    );
    match agg_name {
        "count" | "distinct" | "first" | "last" | "mode" | "sample" => true,
        _ => numeric,
    }
}

/// Expands `*`, `/re/`, `f(*)` and `f(/re/)` in the field list against the targets.
fn expand_fields(
    stmt: &SelectStatement,
    field_targets: &[Target],
    targets: &[Target],
    group: &Grouping,
) -> Result<Vec<(Expr, Option<String>)>, Fail> {
    let all_fields: BTreeMap<String, FieldType> = field_targets
        .iter()
        .flat_map(|t| t.fields.iter().map(|(k, v)| (k.clone(), *v)))
        .collect();
    // Tags that group the output are in the series' tags, not in the columns.
    let all_tags: BTreeSet<String> = targets
        .iter()
        .flat_map(|t| t.tags.iter().cloned())
        .filter(|k| {
            !group.all_tags
                && !group.tags.contains(k)
                && !group.tag_regexes.iter().any(|re| re.is_match(k))
        })
        .collect();
    let var = |name: &str, t: DataType| {
        Expr::VarRef(VarRef {
            name: name.to_owned(),
            data_type: Some(t),
        })
    };
    let mut out = Vec::new();
    for f in &stmt.fields {
        match &f.expr {
            Expr::Wildcard(kind) => {
                let mut items: Vec<(String, DataType)> = Vec::new();
                if *kind != Some(WildcardType::Tag) {
                    items.extend(all_fields.keys().map(|k| (k.clone(), DataType::Field)));
                }
                if *kind != Some(WildcardType::Field) {
                    items.extend(all_tags.iter().map(|k| (k.clone(), DataType::Tag)));
                }
                items.sort_by(|a, b| a.0.cmp(&b.0));
                out.extend(items.into_iter().map(|(k, t)| (var(&k, t), None)));
            }
            Expr::Literal(Literal::Regex(r)) => {
                let re = cond::compile(&r.source)?;
                let mut items: Vec<(String, DataType)> = Vec::new();
                items.extend(
                    all_fields
                        .keys()
                        .filter(|k| re.is_match(k))
                        .map(|k| (k.clone(), DataType::Field)),
                );
                items.extend(
                    all_tags
                        .iter()
                        .filter(|k| re.is_match(k))
                        .map(|k| (k.clone(), DataType::Tag)),
                );
                items.sort_by(|a, b| a.0.cmp(&b.0));
                out.extend(items.into_iter().map(|(k, t)| (var(&k, t), None)));
            }
            Expr::Call(c)
                if matches!(
                    c.args.first(),
                    Some(Expr::Wildcard(_) | Expr::Literal(Literal::Regex(_)))
                ) =>
            {
                let re = match c.args.first() {
                    Some(Expr::Literal(Literal::Regex(r))) => Some(cond::compile(&r.source)?),
                    _ => None,
                };
                for (k, t) in &all_fields {
                    if re.as_ref().is_some_and(|re| !re.is_match(k)) || !type_ok_for(&c.name, *t) {
                        continue;
                    }
                    let mut args = c.args.clone();
                    args[0] = var(k, DataType::Field);
                    let e = Expr::Call(Call {
                        name: c.name.clone(),
                        args,
                    });
                    let name = match &f.alias {
                        Some(a) => format!("{a}_{k}"),
                        None => format!("{}_{k}", c.name),
                    };
                    out.push((e, Some(name)));
                }
            }
            e => out.push((e.clone(), f.alias.clone())),
        }
    }
    Ok(out)
}

/// The static type of a field expression, when known (`None` for calls and unknown names).
fn static_type(e: &Expr, targets: &[Target]) -> Option<&'static str> {
    match e {
        Expr::VarRef(v) => targets.iter().find_map(|t| {
            t.fields.get(&v.name).map(|ft| match ft {
                FieldType::Float => "float",
                FieldType::Integer => "integer",
                FieldType::Unsigned => "unsigned",
                FieldType::String => "string",
                FieldType::Boolean => "boolean",
            })
        }),
        Expr::Literal(Literal::String(_)) => Some("string"),
        Expr::Literal(Literal::Boolean(_)) => Some("boolean"),
        Expr::Literal(Literal::Float(_)) => Some("float"),
        Expr::Literal(Literal::Integer(_)) => Some("integer"),
        Expr::Paren(inner) => static_type(inner, targets),
        _ => None,
    }
}

/// Refuses arithmetic between numbers and strings or booleans, with InfluxDB's wording
/// (`type error: f::float + s::string: incompatible types: float and string`).
fn check_types(fields: &[(Expr, Option<String>)], targets: &[Target]) -> Result<(), Fail> {
    fn walk(e: &Expr, targets: &[Target]) -> Result<(), Fail> {
        match e {
            Expr::Binary(b) => {
                walk(&b.lhs, targets)?;
                walk(&b.rhs, targets)?;
                let (Some(l), Some(r)) =
                    (static_type(&b.lhs, targets), static_type(&b.rhs, targets))
                else {
                    return Ok(());
                };
                let numeric = |t: &str| matches!(t, "float" | "integer" | "unsigned");
                if numeric(l) != numeric(r) || (!numeric(l) && !numeric(r)) {
                    let show = |x: &Expr, t: &str| match x {
                        Expr::VarRef(v) => format!("{}::{t}", v.name),
                        other => other.to_string(),
                    };
                    return Err(format!(
                        "type error: {} {} {}: incompatible types: {l} and {r}",
                        show(&b.lhs, l),
                        b.op,
                        show(&b.rhs, r)
                    ));
                }
                Ok(())
            }
            Expr::Paren(inner) => walk(inner, targets),
            Expr::Call(c) => c.args.iter().try_for_each(|a| walk(a, targets)),
            _ => Ok(()),
        }
    }
    fields.iter().try_for_each(|(e, _)| walk(e, targets))
}

/// `GROUP BY` resolved: the time buckets and which tags group.
#[derive(Debug, Clone, Default)]
struct Grouping {
    every: Option<(i64, i64)>,
    tags: Vec<String>,
    all_tags: bool,
    tag_regexes: Vec<regex::Regex>,
}

fn grouping(stmt: &SelectStatement) -> Result<Grouping, Fail> {
    let mut g = Grouping::default();
    for d in &stmt.group_by {
        match d {
            Dimension::Regex(r) => g.tag_regexes.push(cond::compile(&r.source)?),
            Dimension::Expr(Expr::Wildcard(_)) => g.all_tags = true,
            Dimension::Expr(Expr::VarRef(v)) => g.tags.push(v.name.clone()),
            Dimension::Expr(Expr::Call(c)) if c.name == "time" => {
                if g.every.is_some() {
                    return Err("multiple time dimensions not allowed".into());
                }
                let every = match c.args.first() {
                    Some(Expr::Literal(Literal::Duration(d))) => *d,
                    _ => return Err("time dimension must have duration argument".into()),
                };
                let offset = match c.args.get(1) {
                    None => 0,
                    Some(Expr::Literal(Literal::Duration(d))) => *d,
                    Some(Expr::Call(n)) if n.name == "now" => {
                        return Err(
                            "time dimension offset now() is not supported by wispmon yet".into(),
                        );
                    }
                    Some(_) => return Err("time dimension offset must be duration or now()".into()),
                };
                if every < 0 {
                    return Err("time dimension must have positive duration".into());
                }
                if every > 0 {
                    g.every = Some((every, offset.rem_euclid(every)));
                }
            }
            Dimension::Expr(other) => return Err(format!("invalid dimension: {other}")),
        }
    }
    Ok(g)
}

// ----------------------------------------------------------------------------------------------
// Execute.

struct Plan {
    columns: Vec<Column>,
    time_name: String,
    aggregate: bool,
    /// A lone selector: rows carry the selected point's time and auxiliary fields.
    lone_selector: bool,
    group: Grouping,
    range: TimeRange,
    cond: Option<Expr>,
    regexes: Regexes,
    zone: Zone,
    fill: Fill,
    now: i64,
    descending: bool,
}

/// Runs a statement over the engine, or over the answer of its subquery.
fn run_any(
    engine: &Engine,
    stmt: &SelectStatement,
    ctx: &Context<'_>,
) -> Result<Vec<Series>, Fail> {
    let subs: Vec<&SelectStatement> = stmt
        .sources
        .iter()
        .filter_map(|s| match s {
            Source::Subquery(q) => Some(q.as_ref()),
            Source::Measurement(_) => None,
        })
        .collect();
    if subs.is_empty() {
        return run(Data::Engine(engine), stmt, ctx);
    }
    if subs.len() != stmt.sources.len() || subs.len() > 1 {
        return Err("a subquery mixed with other sources is not supported by wispmon yet".into());
    }
    // The outer time range bounds the inner query too, as in InfluxDB.
    let zone = match &stmt.tz {
        Some(z) => Zone::named(z).map_err(|e| e.to_string())?,
        None => Zone::utc(),
    };
    let mut outer = TimeRange::default();
    if let Some(c) = &stmt.condition {
        cond::split_time(c, &zone, ctx.now, &mut outer)?;
    }
    let mut inner = subs[0].clone();
    let bound = |op: BinaryOp, t: i64| {
        Expr::Binary(Box::new(super::ast::BinaryExpr {
            op,
            lhs: Expr::VarRef(VarRef {
                name: "time".into(),
                data_type: None,
            }),
            rhs: Expr::Literal(Literal::Integer(t)),
        }))
    };
    let and = |a: Expr, b: Expr| {
        Expr::Binary(Box::new(super::ast::BinaryExpr {
            op: BinaryOp::And,
            lhs: a,
            rhs: b,
        }))
    };
    for b in [
        outer.lo.map(|t| bound(BinaryOp::GtEq, t)),
        outer.hi.map(|t| bound(BinaryOp::LtEq, t)),
    ]
    .into_iter()
    .flatten()
    {
        inner.condition = Some(match inner.condition.take() {
            Some(c) => and(Expr::Paren(Box::new(c)), b),
            None => b,
        });
    }
    let rows = Virtual::from_series(run_any(engine, &inner, ctx)?);
    run(Data::Rows(&rows), stmt, ctx)
}

/// InfluxDB's error for a query past its `query-timeout`.
pub const QUERY_TIMEOUT: &str = "query-timeout limit exceeded";

fn run(data: Data<'_>, stmt: &SelectStatement, ctx: &Context<'_>) -> Result<Vec<Series>, Fail> {
    if stmt.into.is_some() {
        return Err("SELECT INTO is not supported by wispmon".into());
    }
    let zone = match &stmt.tz {
        Some(z) => Zone::named(z).map_err(|e| e.to_string())?,
        None => Zone::utc(),
    };
    let group = grouping(stmt)?;
    let targets = match data {
        Data::Engine(engine) => resolve_targets(engine, stmt, ctx)?,
        Data::Rows(v) => v.targets(),
    };

    // Time range and the rest of the condition.
    let mut range = TimeRange::default();
    let cond = match &stmt.condition {
        Some(c) => cond::split_time(c, &zone, ctx.now, &mut range)?,
        None => None,
    };
    let mut regexes = Regexes::new();
    if let Some(c) = &cond {
        cond::compile_regexes(c, &mut regexes)?;
    }

    // Fields. Wildcards over several measurements take the columns of those with points in
    // the range, as InfluxDB takes them from the shards the range covers.
    let wildcard = stmt.fields.iter().any(|f| {
        matches!(&f.expr, Expr::Wildcard(_) | Expr::Literal(Literal::Regex(_)))
            || matches!(&f.expr, Expr::Call(c) if matches!(c.args.first(), Some(Expr::Wildcard(_) | Expr::Literal(Literal::Regex(_)))))
    });
    // (Tags come from every measurement, as InfluxDB's index is database-wide.)
    let field_targets = if wildcard && targets.len() > 1 {
        let (lo, hi) = (range.lo.unwrap_or(MIN_TIME), range.hi.unwrap_or(MAX_TIME));
        let mut kept = Vec::with_capacity(targets.len());
        for t in &targets {
            if has_points(data, t, lo, hi)? {
                kept.push(t.clone());
            }
        }
        kept
    } else {
        targets.clone()
    };
    let expanded = expand_fields(stmt, &field_targets, &targets, &group)?;
    check_types(&expanded, &targets)?;
    let mut planner = Planner {
        group_by_time: group.every.is_some(),
        calls: Vec::new(),
        now: ctx.now,
    };
    let mut columns = Vec::new();
    let mut names = Vec::new();
    let mut time_name = "time".to_owned();
    for (e, alias) in &expanded {
        if let Expr::VarRef(v) = e {
            if v.name == "time" {
                if let Some(a) = alias {
                    time_name = a.clone();
                }
                continue;
            }
        }
        let node = planner.compile(e)?;
        names.push(match alias {
            Some(a) => (a.clone(), true),
            None => (column_name(e), false),
        });
        // TOP/BOTTOM tag arguments become columns after the call.
        let extra: Vec<String> = match &node {
            Node::Agg { by, .. } => by.clone(),
            _ => Vec::new(),
        };
        columns.push(node);
        for tag in extra {
            names.push((tag.clone(), false));
            columns.push(Node::Ref(VarRef {
                name: tag,
                data_type: None,
            }));
        }
    }
    if columns.is_empty() {
        return Ok(Vec::new());
    }
    let names = dedupe(names);
    let columns: Vec<Column> = names
        .into_iter()
        .zip(columns)
        .map(|(name, node)| Column { name, node })
        .collect();

    // Statement-wide rules, with InfluxDB's wording.
    let has_agg = columns.iter().any(|c| {
        let mut a = false;
        c.node
            .walk(&mut |n| a |= matches!(n, Node::Agg { .. } | Node::Transform { .. }));
        a
    });
    let agg_calls: Vec<&Node> = columns
        .iter()
        .flat_map(|c| {
            let mut v = Vec::new();
            c.node.walk(&mut |n| {
                if matches!(n, Node::Agg { .. }) {
                    v.push(n);
                }
            });
            v
        })
        .collect();
    let lone_selector = agg_calls.len() == 1
        && planner.calls.len() == 1
        && matches!(agg_calls[0], Node::Agg { agg, .. } if agg.is_selector());
    for c in &columns {
        if !c.node.has_var() {
            return Err("field must contain at least one variable".into());
        }
    }
    if has_agg {
        for n in &agg_calls {
            if let Node::Agg {
                agg: agg @ (Agg::Top(_) | Agg::Bottom(_)),
                ..
            } = n
            {
                if planner.calls.len() > 1 {
                    return Err(format!(
                        "selector function {}() cannot be combined with other functions",
                        agg.name()
                    ));
                }
            }
        }
        let raw_refs = columns.iter().any(|c| {
            let mut r = false;
            // References inside a transformation of raw points are its input, not a column.
            fn top_refs(n: &Node, r: &mut bool) {
                match n {
                    Node::Ref(_) => *r = true,
                    Node::Math { args, .. } => args.iter().for_each(|a| top_refs(a, r)),
                    Node::Bin { l, r: rr, .. } => {
                        top_refs(l, r);
                        top_refs(rr, r);
                    }
                    _ => {}
                }
            }
            top_refs(&c.node, &mut r);
            r
        });
        if raw_refs && !lone_selector {
            return Err("mixing aggregate and non-aggregate queries is not supported".into());
        }
    } else if group.every.is_some() {
        return Err("GROUP BY requires at least one aggregate function".into());
    }

    let plan = Plan {
        columns,
        time_name,
        aggregate: has_agg,
        lone_selector,
        group,
        range,
        cond,
        regexes,
        zone,
        fill: stmt.fill.unwrap_or(Fill::Null),
        now: ctx.now,
        descending: stmt.order_by.is_some_and(|o| !o.is_ascending()),
    };
    let column_names: Vec<String> = std::iter::once(plan.time_name.clone())
        .chain(plan.columns.iter().map(|c| c.name.clone()))
        .collect();

    let lo = plan.range.lo.unwrap_or(MIN_TIME);
    let hi = plan.range.hi.unwrap_or(if plan.group.every.is_some() {
        plan.now
    } else {
        MAX_TIME
    });
    let mut out: Vec<KeyedSeries> = Vec::new();
    let soffset = usize::try_from(stmt.soffset.unwrap_or(0)).unwrap_or(usize::MAX);
    let slimit = match stmt.slimit.unwrap_or(0) {
        0 => usize::MAX,
        n => usize::try_from(n).unwrap_or(usize::MAX),
    };
    let offset = usize::try_from(stmt.offset.unwrap_or(0)).unwrap_or(usize::MAX);
    let limit = match stmt.limit.unwrap_or(0) {
        0 => usize::MAX,
        n => usize::try_from(n).unwrap_or(usize::MAX),
    };
    // With one target, no offsets and time ascending, the groups come in their final order,
    // so rows past the caller's budget are known to be cut before they are computed.
    let budget = ctx
        .max_rows
        .filter(|_| targets.len() == 1 && !plan.descending && offset == 0 && soffset == 0);
    let mut held = 0usize;
    let mut over_budget = false;
    if lo <= hi {
        'targets: for t in &targets {
            for (key, members) in groups(data, t, &plan)? {
                // Checked per group: a query over many series stops soon after its deadline.
                if ctx.deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                    return Err(QUERY_TIMEOUT.into());
                }
                let rows = if plan.aggregate {
                    aggregate_group(data, t, &plan, &members, lo, hi)?
                } else {
                    raw_group(data, t, &plan, &members, lo, hi)?
                };
                if rows.is_empty() {
                    continue;
                }
                let mut rows = rows;
                let followed_cut = over_budget;
                if followed_cut {
                    // The first row of the next series only tells the caller that series
                    // followed the cut (InfluxDB then marks the result partial).
                    rows.truncate(1);
                } else if let Some(b) = budget {
                    // One row past the budget tells the caller the answer was cut.
                    rows.truncate(b.saturating_add(1).saturating_sub(held));
                    held = held.saturating_add(rows.len().min(limit));
                    over_budget = held > b;
                }
                out.push((
                    t.name.clone(),
                    key.clone(),
                    Series {
                        name: Some(t.name.clone()),
                        tags: key,
                        columns: column_names.clone(),
                        values: rows,
                    },
                ));
                if followed_cut {
                    break 'targets;
                }
            }
        }
    }
    out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    let descending = plan.descending;
    if descending {
        // ORDER BY time DESC also reverses the order of series, as InfluxDB does.
        out.reverse();
    }
    let mut series = Vec::new();
    for (_, _, mut s) in out.into_iter().skip(soffset).take(slimit) {
        if descending {
            s.values.reverse();
        }
        s.values = s.values.into_iter().skip(offset).take(limit).collect();
        if !s.values.is_empty() {
            series.push(s);
        }
    }
    Ok(series)
}

/// Whether any series of a target has a point within `lo..=hi`.
fn has_points(data: Data<'_>, t: &Target, lo: i64, hi: i64) -> Result<bool, Fail> {
    let engine = match data {
        Data::Engine(e) => e,
        Data::Rows(v) => {
            return Ok(v.series.iter().any(|s| {
                s.info.measurement == t.name && s.rows.iter().any(|r| r.0 >= lo && r.0 <= hi)
            }));
        }
    };
    for id in engine.series_of(&t.db, &t.name).map_err(storage)? {
        for f in t.fields.keys() {
            if engine
                .read(&t.db, t.rp.as_deref(), id, f, lo, hi)
                .map_err(storage)?
                .is_some()
            {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// The series of a target passing the tag filter, grouped by the `GROUP BY` tags (sorted by
/// group key; members in series-key order).
#[allow(clippy::type_complexity)]
fn groups(data: Data<'_>, t: &Target, plan: &Plan) -> Result<Vec<Group>, Fail> {
    let is_tag = |name: &str| !t.fields.contains_key(name);
    let engine = match data {
        Data::Engine(e) => e,
        Data::Rows(v) => {
            let infos = v
                .series
                .iter()
                .filter(|s| s.info.measurement == t.name)
                .map(|s| s.info.clone())
                .collect();
            return Ok(group_series(infos, t, plan));
        }
    };
    let candidates: Vec<SeriesId> = match &plan.cond {
        Some(c) => {
            let eqs = cond::tag_equalities(c, &is_tag);
            engine
                .series_matching_all(&t.db, &t.name, &eqs)
                .map_err(storage)?
        }
        None => engine.series_of(&t.db, &t.name).map_err(storage)?,
    };
    let infos = candidates
        .into_iter()
        .filter_map(|id| engine.series_info(id))
        .collect();
    Ok(group_series(infos, t, plan))
}

/// A series of a group, with whether its rows need the row condition.
type Member = (std::sync::Arc<SeriesInfo>, bool);

/// A group's tags and its members.
type Group = (Vec<(String, String)>, Vec<Member>);

/// Filters series by the tag condition and groups them by the `GROUP BY` tags.
fn group_series(infos: Vec<std::sync::Arc<SeriesInfo>>, t: &Target, plan: &Plan) -> Vec<Group> {
    let group_keys: Vec<String> = if plan.group.all_tags {
        t.tags.iter().cloned().collect()
    } else {
        let mut k: BTreeSet<String> = plan.group.tags.iter().cloned().collect();
        for re in &plan.group.tag_regexes {
            k.extend(t.tags.iter().filter(|x| re.is_match(x)).cloned());
        }
        k.into_iter().collect()
    };
    let mut groups: BTreeMap<Vec<(String, String)>, Vec<Member>> = BTreeMap::new();
    for info in infos {
        let verdict = match &plan.cond {
            None => Tri::True,
            Some(c) => cond::eval(
                c,
                &SeriesEnv {
                    info: &info,
                    target: t,
                },
                &plan.regexes,
            ),
        };
        if verdict == Tri::False {
            continue;
        }
        let key: Vec<(String, String)> = group_keys
            .iter()
            .map(|k| (k.clone(), info.tag(k).unwrap_or("").to_owned()))
            .collect();
        groups
            .entry(key)
            .or_default()
            .push((info, verdict == Tri::Unknown));
    }
    let mut out: Vec<_> = groups.into_iter().collect();
    for (_, members) in &mut out {
        members.sort_by(|a, b| a.0.key.cmp(&b.0.key));
    }
    out
}

struct SeriesEnv<'a> {
    info: &'a SeriesInfo,
    target: &'a Target,
}

impl Env for SeriesEnv<'_> {
    fn resolve(&self, name: &str, cast: Option<DataType>) -> Operand<'_> {
        let v = VarRef {
            name: name.to_owned(),
            data_type: cast,
        };
        if self.target.is_field(&v) {
            Operand::Unknown
        } else {
            Operand::Tag(self.info.tag(name).unwrap_or(""))
        }
    }
}

/// Rows of one series (or of a group): time, the series' index in the group, and one value
/// per needed field.
struct Rows {
    fields: Vec<String>,
    rows: Vec<(i64, usize, Vec<Value>)>,
}

struct RowEnv<'a> {
    info: &'a SeriesInfo,
    target: &'a Target,
    fields: &'a [String],
    vals: &'a [Value],
}

impl Env for RowEnv<'_> {
    fn resolve(&self, name: &str, cast: Option<DataType>) -> Operand<'_> {
        let v = VarRef {
            name: name.to_owned(),
            data_type: cast,
        };
        if self.target.is_field(&v) {
            let i = self.fields.iter().position(|f| f == name);
            Operand::Field(i.map_or(Value::Null, |i| self.vals[i].clone()))
        } else {
            Operand::Tag(self.info.tag(name).unwrap_or(""))
        }
    }
}

fn column_values(c: crate::storage::Column) -> Vec<(i64, Value)> {
    fn pair<T>(ts: Vec<i64>, v: Vec<T>, f: impl Fn(T) -> Value) -> Vec<(i64, Value)> {
        ts.into_iter().zip(v).map(|(t, x)| (t, f(x))).collect()
    }
    match c.values {
        ColumnValues::Float(v) => pair(c.ts, v, Value::Float),
        ColumnValues::Integer(v) => pair(c.ts, v, Value::Int),
        ColumnValues::Unsigned(v) => pair(c.ts, v, Value::Unsigned),
        ColumnValues::Boolean(v) => pair(c.ts, v, Value::Bool),
        ColumnValues::String(v) => pair(c.ts, v, Value::Str),
    }
}

/// Reads `fields` of a group's series within `lo..=hi`, applies the row condition, and merges
/// the rows of all members by time (members in order at equal times).
fn read_rows(
    data: Data<'_>,
    t: &Target,
    plan: &Plan,
    members: &[Member],
    fields: &[String],
    lo: i64,
    hi: i64,
) -> Result<Rows, Fail> {
    let mut rows: Vec<(i64, usize, Vec<Value>)> = Vec::new();
    for (si, (info, needs_check)) in members.iter().enumerate() {
        let series_rows: Vec<(i64, Vec<Value>)> = match data {
            Data::Rows(v) => v.rows(info.id, fields, lo, hi),
            Data::Engine(engine) => {
                let mut per_time: BTreeMap<i64, Vec<Value>> = BTreeMap::new();
                for (fi, f) in fields.iter().enumerate() {
                    let Some(col) = engine
                        .read(&t.db, t.rp.as_deref(), info.id, f, lo, hi)
                        .map_err(storage)?
                    else {
                        continue;
                    };
                    for (ts, v) in column_values(col) {
                        per_time
                            .entry(ts)
                            .or_insert_with(|| vec![Value::Null; fields.len()])[fi] = v;
                    }
                }
                per_time.into_iter().collect()
            }
        };
        for (ts, vals) in series_rows {
            if *needs_check {
                if let Some(c) = &plan.cond {
                    let env = RowEnv {
                        info,
                        target: t,
                        fields,
                        vals: &vals,
                    };
                    if cond::eval(c, &env, &plan.regexes) != Tri::True {
                        continue;
                    }
                }
            }
            rows.push((ts, si, vals));
        }
    }
    rows.sort_by_key(|r| (r.0, r.1));
    Ok(Rows {
        fields: fields.to_vec(),
        rows,
    })
}

/// Fields a target must read: those the columns and the condition name.
fn needed_fields(t: &Target, plan: &Plan) -> Vec<String> {
    let mut set = BTreeSet::new();
    for c in &plan.columns {
        c.node.walk(&mut |n| match n {
            Node::Ref(v) | Node::Agg { field: v, .. } if t.is_field(v) => {
                set.insert(v.name.clone());
            }
            _ => {}
        });
    }
    fn cond_refs(e: &Expr, t: &Target, set: &mut BTreeSet<String>) {
        match e {
            Expr::VarRef(v) if t.is_field(v) => {
                set.insert(v.name.clone());
            }
            Expr::Binary(b) => {
                cond_refs(&b.lhs, t, set);
                cond_refs(&b.rhs, t, set);
            }
            Expr::Paren(inner) => cond_refs(inner, t, set),
            _ => {}
        }
    }
    if let Some(c) = &plan.cond {
        cond_refs(c, t, &mut set);
    }
    set.into_iter().collect()
}

/// Evaluates a node on one row (raw queries and auxiliary fields).
fn eval_row(n: &Node, t: &Target, rows: &Rows, info: &SeriesInfo, vals: &[Value]) -> Value {
    match n {
        Node::Lit(v) => v.clone(),
        Node::Ref(v) => {
            if t.is_field(v) {
                let i = rows.fields.iter().position(|f| *f == v.name);
                let val = i.map_or(Value::Null, |i| vals[i].clone());
                cast(val, v.data_type)
            } else if v.data_type == Some(DataType::Field) {
                Value::Null
            } else {
                info.tag(&v.name)
                    .map_or(Value::Null, |s| Value::Str(s.to_owned()))
            }
        }
        Node::Math { m, args } => {
            let a: Vec<Value> = args
                .iter()
                .map(|a| eval_row(a, t, rows, info, vals))
                .collect();
            m.apply(&a)
        }
        Node::Bin { op, l, r } => arith(
            *op,
            &eval_row(l, t, rows, info, vals),
            &eval_row(r, t, rows, info, vals),
        ),
        Node::Agg { .. } | Node::Transform { .. } => Value::Null,
    }
}

/// A `::type` cast on a field value: numbers convert between integer and float; other
/// mismatches give null.
#[allow(clippy::cast_possible_truncation)]
fn cast(v: Value, to: Option<DataType>) -> Value {
    match (to, v) {
        (Some(DataType::Float), Value::Int(i)) => Value::Float(i as f64),
        (Some(DataType::Integer), Value::Float(f)) => Value::Int(f as i64),
        (Some(DataType::Float), v @ Value::Float(_))
        | (Some(DataType::Integer), v @ Value::Int(_))
        | (Some(DataType::Unsigned), v @ Value::Unsigned(_))
        | (Some(DataType::String), v @ Value::Str(_))
        | (Some(DataType::Boolean), v @ Value::Bool(_))
        | (None | Some(DataType::Field | DataType::Tag), v) => v,
        _ => Value::Null,
    }
}

/// Whether a column's value comes from a field (a row with only tags is not a row).
fn from_field(n: &Node, t: &Target) -> bool {
    let mut f = false;
    n.walk(&mut |x| {
        if let Node::Ref(v) = x {
            f |= t.is_field(v);
        }
    });
    f
}

fn raw_group(
    data: Data<'_>,
    t: &Target,
    plan: &Plan,
    members: &[Member],
    lo: i64,
    hi: i64,
) -> Result<Vec<Vec<Value>>, Fail> {
    let fields = needed_fields(t, plan);
    if fields.is_empty() {
        return Ok(Vec::new());
    }
    let rows = read_rows(data, t, plan, members, &fields, lo, hi)?;
    let field_cols: Vec<bool> = plan
        .columns
        .iter()
        .map(|c| from_field(&c.node, t))
        .collect();
    let mut out = Vec::with_capacity(rows.rows.len());
    for (ts, si, vals) in &rows.rows {
        let info = &members[*si].0;
        let cells: Vec<Value> = plan
            .columns
            .iter()
            .map(|c| eval_row(&c.node, t, &rows, info, vals))
            .collect();
        if !cells
            .iter()
            .zip(&field_cols)
            .any(|(v, is_field)| *is_field && !v.is_null())
        {
            continue;
        }
        let mut row = Vec::with_capacity(cells.len() + 1);
        row.push(Value::Time(*ts));
        row.extend(cells);
        out.push(row);
    }
    Ok(out)
}

/// The buckets of a group: their starts, in order.
fn buckets(plan: &Plan, lo: i64, hi: i64) -> Result<Vec<i64>, Fail> {
    let Some((every, offset)) = plan.group.every else {
        return Ok(vec![lo]);
    };
    let w = Windowing {
        every,
        offset,
        zone: plan.zone.clone(),
    };
    let mut starts = Vec::new();
    let mut s = w.start_of(lo);
    let last = w.start_of(hi);
    while s <= last {
        starts.push(s);
        if starts.len() > MAX_BUCKETS {
            return Err(format!(
                "max-select-buckets limit exceeded: ({}/{MAX_BUCKETS})",
                starts.len()
            ));
        }
        let n = w.next(s);
        if n <= s {
            break;
        }
        s = n;
    }
    Ok(starts)
}

/// A column's output: `(time, value)` points in time order (several may share a time).
type Seq = Vec<(i64, Value)>;

/// Index of the bucket holding `t` (`starts` sorted, `t >= starts[0]`).
fn bucket_of(starts: &[i64], t: i64) -> Option<usize> {
    match starts.binary_search(&t) {
        Ok(i) => Some(i),
        Err(0) => None,
        Err(i) => Some(i - 1),
    }
}

fn aggregate_group(
    data: Data<'_>,
    t: &Target,
    plan: &Plan,
    members: &[Member],
    lo: i64,
    hi: i64,
) -> Result<Vec<Vec<Value>>, Fail> {
    let fields = needed_fields(t, plan);
    let any_check = members.iter().any(|m| m.1);
    let mut first_lo = lo;
    if plan.range.lo.is_none() && plan.group.every.is_some() {
        // Without a lower bound, buckets start at the group's first point.
        let rows = read_rows(data, t, plan, members, &fields, lo, hi)?;
        match rows.rows.first() {
            Some(r) => first_lo = r.0,
            None => return Ok(Vec::new()),
        }
    }
    let starts = buckets(plan, first_lo, hi)?;
    // Transformations of buckets look back: DERIVATIVE(MEAN(x)) at the first bucket needs the
    // bucket before it, MOVING_AVERAGE(.., n) the n - 1 before it.
    let mut lookback = 0usize;
    for c in &plan.columns {
        c.node.walk(&mut |n| {
            if let Node::Transform { t, inner } = n {
                if matches!(inner.as_ref(), Node::Agg { .. }) {
                    // InfluxDB reads one bucket before the range for every transformation
                    // but a running sum.
                    lookback = lookback.max(usize::from(!matches!(t, Transform::CumulativeSum)));
                }
            }
        });
    }
    let mut ext_starts = starts.clone();
    let mut read_lo = lo;
    if lookback > 0 {
        if let (Some((every, offset)), Some(&first)) = (plan.group.every, starts.first()) {
            let w = Windowing {
                every,
                offset,
                zone: plan.zone.clone(),
            };
            let mut before = Vec::with_capacity(lookback);
            let mut s = first;
            for _ in 0..lookback.min(MAX_BUCKETS) {
                s = w.start_of(s.saturating_sub(1));
                before.push(s);
            }
            before.reverse();
            read_lo = before.first().copied().unwrap_or(lo).max(MIN_TIME);
            before.extend(ext_starts);
            ext_starts = before;
        }
    }
    let first_start = starts.first().copied().unwrap_or(lo);
    let ctx = AggCtx {
        data,
        t,
        plan,
        members,
        fields: &fields,
        lo: read_lo,
        hi,
        starts: &ext_starts,
        any_check,
        saw_points: std::cell::Cell::new(false),
    };
    let mut cache: Option<Rows> = None;
    let mut seqs: Vec<Seq> = Vec::with_capacity(plan.columns.len());
    for c in &plan.columns {
        let mut seq = ctx.eval(&c.node, &mut cache)?;
        // Buckets before the range only fed the transformations.
        if lookback > 0 && plan.group.every.is_some() {
            seq.retain(|p| p.0 >= first_start);
        }
        seqs.push(seq);
    }
    // No point at all in the range: no series (not a row of nulls or zeros).
    if !ctx.saw_points.get() || seqs.iter().all(Vec::is_empty) {
        return Ok(Vec::new());
    }
    // Join the columns on (time, occurrence at that time).
    let mut keys: BTreeSet<(i64, usize)> = BTreeSet::new();
    let mut maps: Vec<HashMap<(i64, usize), Value>> = Vec::with_capacity(seqs.len());
    for s in &seqs {
        let mut m = HashMap::new();
        let mut prev: Option<i64> = None;
        let mut k = 0usize;
        for (time, v) in s {
            k = if prev == Some(*time) { k + 1 } else { 0 };
            prev = Some(*time);
            keys.insert((*time, k));
            m.insert((*time, k), v.clone());
        }
        maps.push(m);
    }
    let mut out: Vec<Vec<Value>> = Vec::with_capacity(keys.len());
    for key in keys {
        let mut row = Vec::with_capacity(seqs.len() + 1);
        row.push(Value::Time(key.0));
        for m in &maps {
            row.push(m.get(&key).cloned().unwrap_or(Value::Null));
        }
        out.push(row);
    }
    Ok(out)
}

struct AggCtx<'a> {
    data: Data<'a>,
    t: &'a Target,
    plan: &'a Plan,
    members: &'a [Member],
    fields: &'a [String],
    lo: i64,
    hi: i64,
    starts: &'a [i64],
    any_check: bool,
    /// Whether any aggregate met a point.
    saw_points: std::cell::Cell<bool>,
}

/// Whether an aggregate's values are integers (so `fill(1.5)` gives 1).
fn int_output(agg: &Agg, ft: Option<FieldType>) -> bool {
    match agg {
        Agg::Count | Agg::CountDistinct => true,
        Agg::Mean | Agg::Median | Agg::Stddev | Agg::Integral(_) => false,
        _ => matches!(ft, Some(FieldType::Integer | FieldType::Unsigned)),
    }
}

impl AggCtx<'_> {
    fn rows<'c>(&self, cache: &'c mut Option<Rows>) -> Result<&'c Rows, Fail> {
        if cache.is_none() {
            *cache = Some(read_rows(
                self.data,
                self.t,
                self.plan,
                self.members,
                self.fields,
                self.lo,
                self.hi,
            )?);
        }
        cache.as_ref().ok_or_else(|| "internal: rows".to_owned())
    }

    /// The points of one field of the group, in time order, with the row's series index.
    fn points(&self, field: &VarRef, cache: &mut Option<Rows>) -> Result<Vec<FieldPoint>, Fail> {
        if !self.t.is_field(field) {
            return Ok(Vec::new());
        }
        let rows = self.rows(cache)?;
        let Some(i) = rows.fields.iter().position(|f| *f == field.name) else {
            return Ok(Vec::new());
        };
        let pts: Vec<FieldPoint> = rows
            .rows
            .iter()
            .enumerate()
            .filter(|(_, r)| !r.2[i].is_null())
            .map(|(ri, r)| (r.0, cast(r.2[i].clone(), field.data_type), r.1, ri))
            .filter(|p| !p.1.is_null())
            .collect();
        if !pts.is_empty() {
            self.saw_points.set(true);
        }
        Ok(pts)
    }

    fn descending(&self) -> bool {
        self.plan.descending
    }

    fn eval(&self, n: &Node, cache: &mut Option<Rows>) -> Result<Seq, Fail> {
        match n {
            Node::Agg { agg, field, by } => self.aggregate(agg, field, by, cache),
            Node::Transform { t, inner } => {
                let mut input: Seq = match inner.as_ref() {
                    Node::Ref(v) => self
                        .points(v, cache)?
                        .into_iter()
                        .map(|(t, v, ..)| (t, v))
                        .collect(),
                    other => self.eval(other, cache)?,
                };
                let mut t = t.clone();
                if let Transform::Derivative { unit, .. } = &mut t {
                    if *unit == 0 {
                        // Per second on raw points, per bucket on buckets.
                        *unit = self.plan.group.every.map_or(SECOND, |(e, _)| e);
                    }
                }
                // Transformations run in the output order (ORDER BY time DESC included).
                if self.descending() {
                    input.reverse();
                }
                let mut out = func::transform(&t, &input, !self.descending());
                if self.descending() {
                    out.reverse();
                }
                Ok(out)
            }
            Node::Math { m, args } => {
                let seqs = args
                    .iter()
                    .map(|a| self.eval(a, cache))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(zip_seqs(&seqs, |vals| m.apply(vals)))
            }
            Node::Bin { op, l, r } => {
                let seqs = vec![self.eval(l, cache)?, self.eval(r, cache)?];
                Ok(zip_seqs(&seqs, |v| arith(*op, &v[0], &v[1])))
            }
            Node::Lit(v) => Ok(vec![(i64::MIN, v.clone())]),
            Node::Ref(v) => self.aux(v, cache),
        }
    }

    /// An auxiliary field next to a lone selector: its value at the selected point.
    fn aux(&self, v: &VarRef, cache: &mut Option<Rows>) -> Result<Seq, Fail> {
        let sel = self
            .plan
            .columns
            .iter()
            .find_map(|c| {
                let mut found = None;
                c.node.walk(&mut |n| {
                    if let Node::Agg { agg, field, by } = n {
                        found = Some((agg.clone(), field.clone(), by.clone()));
                    }
                });
                found
            })
            .ok_or("mixing aggregate and non-aggregate queries is not supported")?;
        let picked = self.raw_agg(&sel.0, &sel.1, &sel.2, cache)?;
        let rows = self.rows(cache)?;
        let mut out = Vec::new();
        for (bucket_time, point, _) in picked {
            let cell = match point.and_then(|(_, si, ri)| rows.rows.get(ri).map(|r| (si, r))) {
                Some((si, r)) => eval_row(
                    &Node::Ref(v.clone()),
                    self.t,
                    rows,
                    &self.members[si].0,
                    &r.2,
                ),
                None => Value::Null,
            };
            out.push((bucket_time, cell));
        }
        Ok(out)
    }

    /// Reduces raw points per bucket: `(row time, selected point (time, series, row), value)`.
    #[allow(clippy::type_complexity)]
    fn raw_agg(
        &self,
        agg: &Agg,
        field: &VarRef,
        by: &[String],
        cache: &mut Option<Rows>,
    ) -> Result<Vec<Picked>, Fail> {
        let pts = self.points(field, cache)?;
        if let Some(p) = pts.first() {
            if let Some(e) = func::type_error(agg, &p.1) {
                return Err(e);
            }
        }
        let bucketed = self.plan.group.every.is_some();
        if let (Agg::Integral(unit), true) = (agg, bucketed) {
            return Ok(self.integral_buckets(&pts, *unit));
        }
        let mut out = Vec::new();
        let mut i = 0;
        for (bi, &start) in self.starts.iter().enumerate() {
            let end = self.starts.get(bi + 1).copied().unwrap_or(i64::MAX);
            let j = i + pts[i..].partition_point(|p| p.0 < end);
            let mut bucket: Vec<(i64, Value)> = Vec::with_capacity(j - i);
            let mut origin: Vec<usize> = Vec::with_capacity(j - i);
            if by.is_empty() {
                for (k, p) in pts.iter().enumerate().take(j).skip(i) {
                    bucket.push((p.0, p.1.clone()));
                    origin.push(k);
                }
            } else {
                // TOP/BOTTOM(f, tag..., n): the best point of each tag combination first.
                let top = matches!(agg, Agg::Top(_));
                let mut best: BTreeMap<Vec<String>, usize> = BTreeMap::new();
                for k in i..j {
                    let info = &self.members[pts[k].2].0;
                    let key: Vec<String> = by
                        .iter()
                        .map(|b| info.tag(b).unwrap_or("").to_owned())
                        .collect();
                    match best.get(&key) {
                        Some(&cur) => {
                            let o = crate::influxql::value::compare(&pts[k].1, &pts[cur].1);
                            let better = if top {
                                o == Some(std::cmp::Ordering::Greater)
                            } else {
                                o == Some(std::cmp::Ordering::Less)
                            };
                            if better {
                                best.insert(key, k);
                            }
                        }
                        None => {
                            best.insert(key, k);
                        }
                    }
                }
                let mut ks: Vec<usize> = best.into_values().collect();
                ks.sort_unstable();
                for k in ks {
                    bucket.push((pts[k].0, pts[k].1.clone()));
                    origin.push(k);
                }
            }
            let reduced = func::reduce(agg, &bucket);
            i = j;
            let n = reduced.len();
            for (sel_time, v) in reduced {
                let keeps_time = matches!(agg, Agg::Top(_) | Agg::Bottom(_) | Agg::Sample { .. });
                let row_time = match sel_time {
                    Some(st) if keeps_time => st,
                    _ if bucketed => start,
                    Some(st) if self.plan.lone_selector => st,
                    _ if matches!(agg, Agg::Integral(_)) => 0,
                    _ => self.plan.range.lo.unwrap_or(0),
                };
                // The selected point: the first bucket point with that time and value.
                let point = sel_time.and_then(|st| {
                    bucket.iter().position(|p| p.0 == st && p.1 == v).map(|bi| {
                        let k = origin[bi];
                        (st, pts[k].2, pts[k].3)
                    })
                });
                out.push((row_time, point, v));
            }
            if n == 0 && bucketed {
                out.push((start, None, Value::Null));
            }
        }
        Ok(out)
    }

    /// INTEGRAL per bucket as InfluxDB streams it: each bucket's area is closed at the bucket
    /// end by interpolating towards the next point, and the next bucket starts from there.
    #[allow(clippy::cast_precision_loss)]
    fn integral_buckets(&self, pts: &[FieldPoint], unit: i64) -> Vec<Picked> {
        let unit = unit as f64;
        let mut sums: Vec<Option<f64>> = vec![None; self.starts.len()];
        let end_of = |b: usize| self.starts.get(b + 1).copied().unwrap_or(i64::MAX);
        let mut prev: Option<(i64, f64)> = None;
        let mut cur: Option<usize> = None;
        let mut sum = 0.0;
        for (t, v, ..) in pts {
            let Some(x) = v.as_f64() else { continue };
            let Some(b) = bucket_of(self.starts, *t) else {
                continue;
            };
            match (prev, cur) {
                (None, _) | (_, None) => {
                    prev = Some((*t, x));
                    cur = Some(b);
                    continue;
                }
                (Some((pt, _)), Some(_)) if pt == *t => {
                    prev = Some((*t, x));
                    continue;
                }
                (Some((pt, px)), Some(cb)) => {
                    let mut p = (pt, px);
                    if b != cb {
                        let end = end_of(cb);
                        if p.0 != end {
                            let value = px + (x - px) * ((end - pt) as f64 / (*t - pt) as f64);
                            sum += 0.5 * (value + px) * ((end - pt) as f64 / unit);
                            p = (end, value);
                        }
                        sums[cb] = Some(sum);
                        sum = 0.0;
                        cur = Some(b);
                    }
                    sum += 0.5 * (x + p.1) * ((*t - p.0) as f64 / unit);
                    prev = Some((*t, x));
                }
            }
        }
        if let Some(cb) = cur {
            sums[cb] = Some(sum);
        }
        self.starts
            .iter()
            .zip(sums)
            .map(|(&s, v)| (s, None, v.map_or(Value::Null, Value::Float)))
            .collect()
    }

    fn aggregate(
        &self,
        agg: &Agg,
        field: &VarRef,
        by: &[String],
        cache: &mut Option<Rows>,
    ) -> Result<Seq, Fail> {
        let rolled = if by.is_empty() {
            match self.rollup_answer(agg, field)? {
                Some(s) => Some(s),
                None => self.column_answer(agg, field)?,
            }
        } else {
            None
        };
        let mut seq: Seq = match rolled {
            Some(s) => s,
            None => self
                .raw_agg(agg, field, by, cache)?
                .into_iter()
                .map(|(t, _, v)| (t, v))
                .collect(),
        };
        if self.plan.group.every.is_some() {
            let ints = int_output(agg, self.t.fields.get(&field.name).copied());
            fill(
                &mut seq,
                self.plan.fill,
                matches!(agg, Agg::Count | Agg::CountDistinct),
                ints,
            );
        }
        Ok(seq)
    }

    /// Count, count of distinct values, sum, mean (and, per bucket, min, max, spread) reduced
    /// straight from each series' decoded columns into per-bucket accumulators, without
    /// building rows: the path for buckets shorter than an hour and for dashboard-wide
    /// queries over thousands of series. `None` when a row condition, a cast or another
    /// function needs the general path.
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_wrap)]
    fn column_answer(&self, agg: &Agg, field: &VarRef) -> Result<Option<Seq>, Fail> {
        let Data::Engine(engine) = self.data else {
            return Ok(None);
        };
        if !fast_paths() {
            return Ok(None);
        }
        let bucketed = self.plan.group.every.is_some();
        let supported = match agg {
            Agg::Count | Agg::Sum | Agg::Mean | Agg::CountDistinct => true,
            // Without buckets these report the selected point's time: the general path.
            Agg::Min | Agg::Max | Agg::Spread => bucketed,
            _ => false,
        };
        if !supported
            || self.any_check
            || self.starts.is_empty()
            || field.data_type.is_some_and(|d| d != DataType::Field)
            || !self.t.is_field(field)
        {
            return Ok(None);
        }
        let nb = self.starts.len();
        let mut count = vec![0u64; nb];
        let mut fsum = vec![0f64; nb];
        let mut isum = vec![0i64; nb];
        let mut usum = vec![0u64; nb];
        let mut min: Vec<Option<Value>> = vec![None; nb];
        let mut max: Vec<Option<Value>> = vec![None; nb];
        let keep = |slot: &mut Option<Value>, v: Value, want: std::cmp::Ordering| match slot {
            Some(cur) if crate::influxql::value::compare(&v, cur) != Some(want) => {}
            _ => *slot = Some(v),
        };
        // Strings can only be counted; they are read as interned numbers, so that a distinct
        // count compares numbers and no string is copied per point.
        let strings = matches!(agg, Agg::Count | Agg::CountDistinct)
            && self.t.fields.get(&field.name) == Some(&FieldType::String);
        let mut distinct: Vec<std::collections::HashSet<DistinctKey>> =
            if *agg == Agg::CountDistinct && !strings {
                (0..nb).map(|_| std::collections::HashSet::new()).collect()
            } else {
                Vec::new()
            };
        let mut kind: Option<FieldType> = None;
        let mut interner = Interner::new();
        let mut ids = DistinctIds::new(if *agg == Agg::CountDistinct { nb } else { 0 });
        for (info, _) in self.members {
            if strings {
                let Some(col) = engine
                    .read_interned(
                        &self.t.db,
                        self.t.rp.as_deref(),
                        info.id,
                        &field.name,
                        self.lo,
                        self.hi,
                        &mut interner,
                    )
                    .map_err(storage)?
                else {
                    continue;
                };
                self.saw_points.set(true);
                kind = Some(FieldType::String);
                ids.next_series();
                let mut b = 0usize;
                for (&t, &id) in col.ts.iter().zip(&col.ids) {
                    if t < self.starts[0] {
                        continue;
                    }
                    while b + 1 < nb && self.starts[b + 1] <= t {
                        b += 1;
                    }
                    count[b] += 1;
                    ids.add(b, id);
                }
                continue;
            }
            let Some(col) = engine
                .read(
                    &self.t.db,
                    self.t.rp.as_deref(),
                    info.id,
                    &field.name,
                    self.lo,
                    self.hi,
                )
                .map_err(storage)?
            else {
                continue;
            };
            if col.is_empty() {
                continue;
            }
            self.saw_points.set(true);
            kind = Some(col.field_type());
            if !matches!(agg, Agg::Count | Agg::CountDistinct)
                && matches!(col.field_type(), FieldType::String | FieldType::Boolean)
            {
                let sample = match col.field_type() {
                    FieldType::String => Value::Str(String::new()),
                    _ => Value::Bool(false),
                };
                if let Some(e) = func::type_error(agg, &sample) {
                    return Err(e);
                }
                return Ok(None);
            }
            // Strings are read interned (above) when the catalog says so.
            if col.field_type() == FieldType::String {
                return Ok(None);
            }
            let mut b = 0usize;
            for (i, &t) in col.ts.iter().enumerate() {
                if t < self.starts[0] {
                    continue;
                }
                while b + 1 < nb && self.starts[b + 1] <= t {
                    b += 1;
                }
                count[b] += 1;
                match &col.values {
                    ColumnValues::Float(v) => {
                        fsum[b] += v[i];
                        if bucketed {
                            keep(&mut min[b], Value::Float(v[i]), std::cmp::Ordering::Less);
                            keep(&mut max[b], Value::Float(v[i]), std::cmp::Ordering::Greater);
                        }
                        if !distinct.is_empty() {
                            distinct[b].insert(DistinctKey::Float(v[i].to_bits()));
                        }
                    }
                    ColumnValues::Integer(v) => {
                        fsum[b] += v[i] as f64;
                        isum[b] = isum[b].wrapping_add(v[i]);
                        if bucketed {
                            keep(&mut min[b], Value::Int(v[i]), std::cmp::Ordering::Less);
                            keep(&mut max[b], Value::Int(v[i]), std::cmp::Ordering::Greater);
                        }
                        if !distinct.is_empty() {
                            distinct[b].insert(DistinctKey::Int(v[i]));
                        }
                    }
                    ColumnValues::Unsigned(v) => {
                        fsum[b] += v[i] as f64;
                        usum[b] = usum[b].wrapping_add(v[i]);
                        if bucketed {
                            keep(&mut min[b], Value::Unsigned(v[i]), std::cmp::Ordering::Less);
                            keep(
                                &mut max[b],
                                Value::Unsigned(v[i]),
                                std::cmp::Ordering::Greater,
                            );
                        }
                        if !distinct.is_empty() {
                            distinct[b].insert(DistinctKey::Unsigned(v[i]));
                        }
                    }
                    // Returned above: strings take the interned path.
                    ColumnValues::String(_) => {}
                    ColumnValues::Boolean(v) => {
                        if !distinct.is_empty() {
                            distinct[b].insert(DistinctKey::Bool(v[i]));
                        }
                    }
                }
            }
        }
        let distinct_ids = ids.counts();
        let mut seq = Seq::with_capacity(nb);
        for b in 0..nb {
            let row_time = if bucketed {
                self.starts[b]
            } else {
                self.plan.range.lo.unwrap_or(0)
            };
            if count[b] == 0 {
                if bucketed {
                    seq.push((row_time, Value::Null));
                }
                continue;
            }
            let v = match agg {
                Agg::Count => Value::Int(count[b] as i64),
                Agg::CountDistinct if strings => Value::Int(distinct_ids[b] as i64),
                Agg::CountDistinct => Value::Int(distinct[b].len() as i64),
                Agg::Mean => Value::Float(fsum[b] / count[b] as f64),
                Agg::Sum => match kind {
                    Some(FieldType::Integer) => Value::Int(isum[b]),
                    Some(FieldType::Unsigned) => Value::Unsigned(usum[b]),
                    _ => Value::Float(fsum[b]),
                },
                Agg::Min => min[b].take().unwrap_or(Value::Null),
                Agg::Max => max[b].take().unwrap_or(Value::Null),
                Agg::Spread => match (max[b].take(), min[b].take()) {
                    (Some(hi), Some(lo)) => arith(BinaryOp::Sub, &hi, &lo),
                    _ => Value::Null,
                },
                _ => Value::Null,
            };
            seq.push((row_time, v));
        }
        Ok(Some(seq))
    }

    /// Bucketed count/sum/mean/min/max/spread from hourly rollups, when buckets are whole
    /// hours and no row condition applies. `None` when the rollups cannot answer.
    fn rollup_answer(&self, agg: &Agg, field: &VarRef) -> Result<Option<Seq>, Fail> {
        let Some((every, _)) = self.plan.group.every else {
            return Ok(None);
        };
        if !fast_paths() {
            return Ok(None);
        }
        let single = self.members.len() == 1;
        let ok_fn = matches!(
            agg,
            Agg::Count | Agg::Sum | Agg::Mean | Agg::Min | Agg::Max | Agg::Spread
        ) || (single && matches!(agg, Agg::First | Agg::Last));
        let Some(ft) = self.t.fields.get(&field.name) else {
            return Ok(None);
        };
        let numeric = matches!(
            ft,
            FieldType::Float | FieldType::Integer | FieldType::Unsigned
        );
        if !ok_fn
            || !numeric
            || self.any_check
            || field.data_type.is_some_and(|d| d != DataType::Field)
            || every < HOUR
            || !window::hour_aligned(self.starts)
        {
            return Ok(None);
        }
        // Only the engine keeps rollups; a subquery's rows are always reduced from points.
        let Data::Engine(engine) = self.data else {
            return Ok(None);
        };
        let none = Need::COUNT;
        let need = match agg {
            Agg::Sum | Agg::Mean => Need { sum: true, ..none },
            Agg::Min => Need { min: true, ..none },
            Agg::Max => Need { max: true, ..none },
            Agg::Spread => Need {
                min: true,
                max: true,
                ..none
            },
            Agg::First => Need {
                first: true,
                ..none
            },
            Agg::Last => Need { last: true, ..none },
            _ => none,
        };
        // Hour by hour, series after series, into the buckets (whole hours, uneven across a
        // DST change): the same additions in the same order as folding each hour's partials.
        let mut fold = HourFold::new(self.starts.to_vec(), need);
        for (info, _) in self.members {
            let saw = engine
                .fold_hours(
                    &self.t.db,
                    self.t.rp.as_deref(),
                    info.id,
                    &field.name,
                    self.lo,
                    self.hi,
                    &mut fold,
                )
                .map_err(storage)?;
            if saw {
                self.saw_points.set(true);
            }
        }
        let part = |b: usize, p: Part| fold.value(b, p).map_or(Value::Null, Value::from);
        let seq = (0..self.starts.len())
            .map(|b| {
                let count = fold.count(b);
                #[allow(clippy::cast_possible_wrap, clippy::cast_precision_loss)]
                let v = match agg {
                    _ if count == 0 => Value::Null,
                    Agg::Count => Value::Int(count as i64),
                    Agg::Sum => part(b, Part::Sum),
                    Agg::Mean => match part(b, Part::Sum).as_f64() {
                        Some(x) => Value::Float(x / count as f64),
                        None => Value::Null,
                    },
                    Agg::Min => part(b, Part::Min),
                    Agg::Max => part(b, Part::Max),
                    Agg::Spread => arith(BinaryOp::Sub, &part(b, Part::Max), &part(b, Part::Min)),
                    Agg::First => part(b, Part::First),
                    Agg::Last => part(b, Part::Last),
                    _ => Value::Null,
                };
                (self.starts[b], v)
            })
            .collect();
        Ok(Some(seq))
    }
}

/// Per bucket, the interned numbers of the strings counted there, for `COUNT(DISTINCT)` over
/// strings: numbers are collected, then sorted and counted once. A series repeats the same
/// few strings sample after sample (a router's WiFi clients), so a small table of the numbers
/// this series last put into the current bucket skips the repeats; the count alone decides.
struct DistinctIds {
    buckets: Vec<Vec<u64>>,
    /// `(epoch, number)` by number modulo the table size.
    recent: [(u32, u64); 64],
    /// Changes with the series and the bucket, so the table never needs clearing.
    epoch: u32,
    bucket: usize,
}

impl DistinctIds {
    /// For `nb` buckets; with 0, `add` does nothing.
    fn new(nb: usize) -> Self {
        DistinctIds {
            buckets: vec![Vec::new(); nb],
            recent: [(0, 0); 64],
            epoch: 1,
            bucket: 0,
        }
    }

    /// The next points come from another series.
    fn next_series(&mut self) {
        self.bump();
    }

    fn bump(&mut self) {
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            // Wrapped: entries from 2^32 epochs ago could match again.
            self.recent = [(0, 0); 64];
            self.epoch = 1;
        }
    }

    fn add(&mut self, b: usize, id: u64) {
        if b >= self.buckets.len() {
            return;
        }
        if b != self.bucket {
            self.bucket = b;
            self.bump();
        }
        #[allow(clippy::cast_possible_truncation)]
        let slot = &mut self.recent[(id % 64) as usize];
        if *slot != (self.epoch, id) {
            *slot = (self.epoch, id);
            self.buckets[b].push(id);
        }
    }

    /// The number of distinct numbers per bucket.
    fn counts(self) -> Vec<usize> {
        self.buckets
            .into_iter()
            .map(|mut v| {
                v.sort_unstable();
                v.dedup();
                v.len()
            })
            .collect()
    }
}

/// A value as a hash key for counting distinct values (floats by their bits).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum DistinctKey {
    Float(u64),
    Int(i64),
    Unsigned(u64),
    Bool(bool),
}

/// Applies `fill` to a bucketed sequence in which empty buckets are `Null`.
fn fill(seq: &mut Seq, how: Fill, is_count: bool, ints: bool) {
    match how {
        Fill::Null => {
            if is_count {
                for p in seq.iter_mut() {
                    if p.1.is_null() {
                        p.1 = Value::Int(0);
                    }
                }
            }
        }
        Fill::None => seq.retain(|p| !p.1.is_null()),
        // A number fills in the column's type: `fill(1.5)` puts 1 in integer columns.
        #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
        Fill::Integer(_) | Fill::Float(_) => {
            let v = match (how, ints) {
                (Fill::Integer(n), true) => Value::Int(n),
                (Fill::Integer(n), false) => Value::Float(n as f64),
                (Fill::Float(f), true) => Value::Int(f as i64),
                (Fill::Float(f), _) => Value::Float(f),
                _ => Value::Null,
            };
            for p in seq.iter_mut().filter(|p| p.1.is_null()) {
                p.1 = v.clone();
            }
        }
        Fill::Previous => {
            let mut prev = Value::Null;
            for p in seq.iter_mut() {
                if p.1.is_null() {
                    p.1 = prev.clone();
                } else {
                    prev = p.1.clone();
                }
            }
        }
        Fill::Linear => {
            let known: Vec<usize> = (0..seq.len()).filter(|&i| !seq[i].1.is_null()).collect();
            for w in known.windows(2) {
                let (a, b) = (w[0], w[1]);
                let (Some(va), Some(vb)) = (seq[a].1.as_f64(), seq[b].1.as_f64()) else {
                    continue;
                };
                let ints = matches!(seq[a].1, Value::Int(_)) && matches!(seq[b].1, Value::Int(_));
                let (ta, tb) = (seq[a].0 as f64, seq[b].0 as f64);
                for p in seq.iter_mut().take(b).skip(a + 1) {
                    let x = va + (vb - va) * ((p.0 as f64 - ta) / (tb - ta));
                    #[allow(clippy::cast_possible_truncation)]
                    let v = if ints {
                        Value::Int(x as i64)
                    } else {
                        Value::Float(x)
                    };
                    p.1 = v;
                }
            }
        }
    }
}

/// Combines the sequences of a function's arguments point by point (a literal, at time
/// `i64::MIN`, applies to every point).
fn zip_seqs(seqs: &[Seq], f: impl Fn(&[Value]) -> Value) -> Seq {
    let is_lit = |s: &Seq| s.len() == 1 && s[0].0 == i64::MIN;
    let Some(driver) = seqs.iter().find(|s| !is_lit(s)) else {
        let vals: Vec<Value> = seqs.iter().map(|s| s[0].1.clone()).collect();
        return vec![(i64::MIN, f(&vals))];
    };
    // Index each non-literal sequence by (time, occurrence).
    let keyed: Vec<Option<HashMap<(i64, usize), &Value>>> = seqs
        .iter()
        .map(|s| {
            if is_lit(s) {
                return None;
            }
            let mut m = HashMap::new();
            let mut prev = None;
            let mut k = 0;
            for (t, v) in s {
                k = if prev == Some(*t) { k + 1 } else { 0 };
                prev = Some(*t);
                m.insert((*t, k), v);
            }
            Some(m)
        })
        .collect();
    let mut out = Vec::with_capacity(driver.len());
    let mut prev = None;
    let mut k = 0;
    for (t, _) in driver {
        k = if prev == Some(*t) { k + 1 } else { 0 };
        prev = Some(*t);
        let vals: Vec<Value> = seqs
            .iter()
            .zip(&keyed)
            .map(|(s, m)| match m {
                None => s[0].1.clone(),
                Some(m) => m.get(&(*t, k)).map_or(Value::Null, |v| (*v).clone()),
            })
            .collect();
        out.push((*t, f(&vals)));
    }
    out
}
