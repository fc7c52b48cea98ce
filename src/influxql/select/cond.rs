//! `WHERE` clauses: the time range they bound, and the tag/field condition left over,
//! evaluated once per series (tags known, fields not yet) and then per row.

use std::collections::HashMap;

use regex::Regex;

use crate::time::Zone;

use super::super::ast::{BinaryOp, DataType, Expr, Literal};
use crate::influxql::value::{Value, compare};

/// InfluxDB's smallest and largest query times (`MinInt64 + 2`, `MaxInt64 - 1`).
pub(super) const MIN_TIME: i64 = i64::MIN + 2;
pub(super) const MAX_TIME: i64 = i64::MAX - 1;

/// Query time bounds, inclusive; `None` when the condition does not bound that side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct TimeRange {
    pub lo: Option<i64>,
    pub hi: Option<i64>,
}

impl TimeRange {
    fn lower(&mut self, t: i64) {
        self.lo = Some(self.lo.map_or(t, |l| l.max(t)));
    }
    fn upper(&mut self, t: i64) {
        self.hi = Some(self.hi.map_or(t, |h| h.min(t)));
    }
}

fn is_time(e: &Expr) -> bool {
    match e {
        Expr::VarRef(v) => v.name.eq_ignore_ascii_case("time"),
        Expr::Paren(inner) => is_time(inner),
        _ => false,
    }
}

fn mentions_time(e: &Expr) -> bool {
    match e {
        Expr::VarRef(_) => is_time(e),
        Expr::Binary(b) => mentions_time(&b.lhs) || mentions_time(&b.rhs),
        Expr::Paren(inner) => mentions_time(inner),
        _ => false,
    }
}

/// The instant an expression on the other side of `time <op>` stands for.
pub(super) fn time_value(e: &Expr, zone: &Zone, now: i64) -> Result<i64, String> {
    match e {
        // Strings that look like dates are times (and must be valid ones); other strings
        // cannot be compared with time.
        Expr::Literal(Literal::String(s)) if looks_like_date(s) => {
            zone.parse_time(s).map_err(|e| e.to_string())
        }
        Expr::Literal(Literal::String(_)) => {
            Err("invalid operation: time and *influxql.StringLiteral are not compatible".into())
        }
        Expr::Literal(Literal::Integer(n)) => Ok(*n),
        Expr::Literal(Literal::Duration(n)) => Ok(*n),
        #[allow(clippy::cast_possible_truncation)]
        Expr::Literal(Literal::Float(f)) => Ok(*f as i64),
        Expr::Call(c) if c.name == "now" && c.args.is_empty() => Ok(now),
        Expr::Paren(inner) => time_value(inner, zone, now),
        Expr::Binary(b) if matches!(b.op, BinaryOp::Add | BinaryOp::Sub) => {
            let l = time_value(&b.lhs, zone, now)?;
            let r = match &b.rhs {
                Expr::Literal(Literal::Duration(d) | Literal::Integer(d)) => *d,
                other => time_value(other, zone, now)?,
            };
            Ok(if b.op == BinaryOp::Add {
                l.saturating_add(r)
            } else {
                l.saturating_sub(r)
            })
        }
        other => Err(format!("invalid time comparison: {other}")),
    }
}

fn looks_like_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
}

/// Takes the `time` comparisons out of `cond` (they must be joined to the rest by `AND`) and
/// returns the range they bound with what is left of the condition.
pub(super) fn split_time(
    cond: &Expr,
    zone: &Zone,
    now: i64,
    range: &mut TimeRange,
) -> Result<Option<Expr>, String> {
    match cond {
        Expr::Paren(inner) => {
            Ok(split_time(inner, zone, now, range)?.map(|e| Expr::Paren(Box::new(e))))
        }
        Expr::Binary(b) if b.op == BinaryOp::And => {
            let l = split_time(&b.lhs, zone, now, range)?;
            let r = split_time(&b.rhs, zone, now, range)?;
            Ok(match (l, r) {
                (Some(l), Some(r)) => Some(Expr::Binary(Box::new(super::super::ast::BinaryExpr {
                    op: BinaryOp::And,
                    lhs: l,
                    rhs: r,
                }))),
                (l, r) => l.or(r),
            })
        }
        Expr::Binary(b) if b.op == BinaryOp::Or => {
            if mentions_time(&b.lhs) || mentions_time(&b.rhs) {
                // InfluxDB 1.x cannot combine time ranges with OR: the range it extracts is
                // empty and the answer has no series (no error).
                range.lower(MAX_TIME);
                range.upper(MIN_TIME);
                return Ok(None);
            }
            Ok(Some(cond.clone()))
        }
        Expr::Binary(b) if is_time(&b.lhs) || is_time(&b.rhs) => {
            let (op, other) = if is_time(&b.lhs) {
                (b.op, &b.rhs)
            } else {
                let flipped = match b.op {
                    BinaryOp::Lt => BinaryOp::Gt,
                    BinaryOp::LtEq => BinaryOp::GtEq,
                    BinaryOp::Gt => BinaryOp::Lt,
                    BinaryOp::GtEq => BinaryOp::LtEq,
                    o => o,
                };
                (flipped, &b.lhs)
            };
            let t = time_value(other, zone, now)?;
            match op {
                BinaryOp::Gt => range.lower(t.saturating_add(1)),
                BinaryOp::GtEq => range.lower(t),
                BinaryOp::Lt => range.upper(t.saturating_sub(1)),
                BinaryOp::LtEq => range.upper(t),
                BinaryOp::Eq => {
                    range.lower(t);
                    range.upper(t);
                }
                o => return Err(format!("invalid operator {o} in time condition")),
            }
            Ok(None)
        }
        other => Ok(Some(other.clone())),
    }
}

/// Three-valued truth: a condition on fields is `Unknown` while only tags are known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tri {
    True,
    False,
    Unknown,
}

impl Tri {
    fn from(b: bool) -> Tri {
        if b { Tri::True } else { Tri::False }
    }
}

/// What a name in a condition resolves to.
pub(super) enum Operand<'a> {
    /// A tag's value ("" when the series lacks the tag).
    Tag(&'a str),
    /// A field's value in the current row (`Null` when absent).
    Field(Value),
    /// A field while only the series is known.
    Unknown,
}

/// Resolves names: `field(name, cast)` is `Some(value)` for fields (in a row) or `None` when
/// the name is a tag.
pub(super) trait Env {
    fn resolve(&self, name: &str, cast: Option<DataType>) -> Operand<'_>;
}

/// Compiled regexes of a statement, by source text.
pub(super) type Regexes = HashMap<String, Regex>;

/// Compiles every regex literal in `e` into `out`.
pub(super) fn compile_regexes(e: &Expr, out: &mut Regexes) -> Result<(), String> {
    match e {
        Expr::Literal(Literal::Regex(r)) => {
            if !out.contains_key(&r.source) {
                let re = compile(&r.source)?;
                out.insert(r.source.clone(), re);
            }
            Ok(())
        }
        Expr::Binary(b) => {
            compile_regexes(&b.lhs, out)?;
            compile_regexes(&b.rhs, out)
        }
        Expr::Paren(inner) => compile_regexes(inner, out),
        Expr::Call(c) => c.args.iter().try_for_each(|a| compile_regexes(a, out)),
        _ => Ok(()),
    }
}

/// Compiles one InfluxQL regex (Go RE2 syntax), bounded in size.
pub(super) fn compile(source: &str) -> Result<Regex, String> {
    regex::RegexBuilder::new(source)
        .size_limit(1 << 20)
        .dfa_size_limit(1 << 20)
        .build()
        .map_err(|e| format!("invalid regex {source:?}: {e}"))
}

/// Evaluates a condition. With an `Env` that knows only tags, field comparisons are
/// `Unknown`; with a row `Env`, the answer is `True` or `False`.
pub(super) fn eval(e: &Expr, env: &dyn Env, res: &Regexes) -> Tri {
    match e {
        Expr::Paren(inner) => eval(inner, env, res),
        Expr::Binary(b) if b.op == BinaryOp::And => match eval(&b.lhs, env, res) {
            Tri::False => Tri::False,
            l => match (l, eval(&b.rhs, env, res)) {
                (_, Tri::False) => Tri::False,
                (Tri::True, Tri::True) => Tri::True,
                _ => Tri::Unknown,
            },
        },
        Expr::Binary(b) if b.op == BinaryOp::Or => match eval(&b.lhs, env, res) {
            Tri::True => Tri::True,
            l => match (l, eval(&b.rhs, env, res)) {
                (_, Tri::True) => Tri::True,
                (Tri::False, Tri::False) => Tri::False,
                _ => Tri::Unknown,
            },
        },
        Expr::Binary(b) if b.op.is_regex() => {
            let Expr::Literal(Literal::Regex(r)) = &b.rhs else {
                return Tri::False;
            };
            let Some(re) = res.get(&r.source) else {
                return Tri::False;
            };
            let matched = match operand(&b.lhs, env) {
                Operand::Tag(v) => re.is_match(v),
                Operand::Field(Value::Str(s)) => re.is_match(&s),
                Operand::Field(_) => return Tri::False,
                Operand::Unknown => return Tri::Unknown,
            };
            Tri::from(matched == (b.op == BinaryOp::EqRegex))
        }
        Expr::Binary(b) if b.op.is_condition() => {
            let l = operand(&b.lhs, env);
            let r = operand(&b.rhs, env);
            let (l, r) = match (l, r) {
                (Operand::Unknown, _) | (_, Operand::Unknown) => return Tri::Unknown,
                (l, r) => (to_value(l), to_value(r)),
            };
            if l == Value::Null || r == Value::Null {
                return Tri::False;
            }
            let Some(ord) = compare(&l, &r) else {
                // Values of different kinds never compare equal.
                return Tri::from(b.op == BinaryOp::NotEq && !matches!(l, Value::Null));
            };
            use std::cmp::Ordering::*;
            Tri::from(match b.op {
                BinaryOp::Eq => ord == Equal,
                BinaryOp::NotEq => ord != Equal,
                BinaryOp::Lt => ord == Less,
                BinaryOp::LtEq => ord != Greater,
                BinaryOp::Gt => ord == Greater,
                BinaryOp::GtEq => ord != Less,
                _ => false,
            })
        }
        Expr::VarRef(_) => match operand(e, env) {
            Operand::Field(Value::Bool(b)) => Tri::from(b),
            Operand::Unknown => Tri::Unknown,
            _ => Tri::False,
        },
        Expr::Literal(Literal::Boolean(b)) => Tri::from(*b),
        _ => Tri::False,
    }
}

fn to_value(o: Operand<'_>) -> Value {
    match o {
        Operand::Tag(s) => Value::Str(s.to_owned()),
        Operand::Field(v) => v,
        Operand::Unknown => Value::Null,
    }
}

fn operand<'a>(e: &Expr, env: &'a dyn Env) -> Operand<'a> {
    match e {
        Expr::VarRef(v) => env.resolve(&v.name, v.data_type),
        Expr::Paren(inner) => operand(inner, env),
        Expr::Literal(l) => Operand::Field(match l {
            Literal::Integer(n) | Literal::Duration(n) => Value::Int(*n),
            Literal::Unsigned(n) => Value::Unsigned(*n),
            Literal::Float(f) => Value::Float(*f),
            Literal::String(s) => Value::Str(s.clone()),
            Literal::Boolean(b) => Value::Bool(*b),
            Literal::Regex(_) => Value::Null,
        }),
        Expr::Binary(b) if !b.op.is_condition() => {
            let l = operand(&b.lhs, env);
            let r = operand(&b.rhs, env);
            match (l, r) {
                (Operand::Unknown, _) | (_, Operand::Unknown) => Operand::Unknown,
                (l, r) => Operand::Field(crate::influxql::value::arith(
                    b.op,
                    &to_value(l),
                    &to_value(r),
                )),
            }
        }
        _ => Operand::Field(Value::Null),
    }
}

/// Tags named in `e` with `=` against a string literal in a top-level `AND` chain (possibly an
/// `OR` of such within parentheses): `[(key, [values])]`, for postings lookups.
pub(super) fn tag_equalities(
    e: &Expr,
    is_tag: &dyn Fn(&str) -> bool,
) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    collect_and(e, is_tag, &mut out);
    out
}

fn collect_and(e: &Expr, is_tag: &dyn Fn(&str) -> bool, out: &mut Vec<(String, Vec<String>)>) {
    match e {
        Expr::Paren(inner) => collect_and(inner, is_tag, out),
        Expr::Binary(b) if b.op == BinaryOp::And => {
            collect_and(&b.lhs, is_tag, out);
            collect_and(&b.rhs, is_tag, out);
        }
        other => {
            let mut alts = Vec::new();
            if or_of_equalities(other, is_tag, &mut alts) {
                let key = alts[0].0.clone();
                if alts.iter().all(|(k, _)| *k == key) {
                    out.push((key, alts.into_iter().map(|(_, v)| v).collect()));
                }
            }
        }
    }
}

fn or_of_equalities(
    e: &Expr,
    is_tag: &dyn Fn(&str) -> bool,
    alts: &mut Vec<(String, String)>,
) -> bool {
    match e {
        Expr::Paren(inner) => or_of_equalities(inner, is_tag, alts),
        Expr::Binary(b) if b.op == BinaryOp::Or => {
            or_of_equalities(&b.lhs, is_tag, alts) && or_of_equalities(&b.rhs, is_tag, alts)
        }
        Expr::Binary(b) if b.op == BinaryOp::Eq => match (&b.lhs, &b.rhs) {
            (Expr::VarRef(v), Expr::Literal(Literal::String(s)))
            | (Expr::Literal(Literal::String(s)), Expr::VarRef(v))
                if v.data_type.is_none_or(|t| t == DataType::Tag) && is_tag(&v.name) =>
            {
                alts.push((v.name.clone(), s.clone()));
                true
            }
            _ => false,
        },
        _ => false,
    }
}
