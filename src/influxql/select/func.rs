//! InfluxQL functions: aggregates and selectors over a bucket's points, transformations over a
//! sequence of rows, and row-wise math — with InfluxDB 1.8's result types and tie rules.

use std::cmp::Ordering;

use crate::influxql::value::{Value, arith, compare};

use super::super::ast::BinaryOp;

/// A function reducing a bucket's points.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Agg {
    Count,
    CountDistinct,
    Distinct,
    Sum,
    Mean,
    Median,
    Mode,
    Spread,
    Stddev,
    Integral(i64),
    Min,
    Max,
    First,
    Last,
    Percentile(f64),
    Top(usize),
    Bottom(usize),
    /// `SAMPLE(f, n)`; `seed` varies per statement (from its `now()`).
    Sample {
        n: usize,
        seed: u64,
    },
}

impl Agg {
    /// The function's InfluxQL name (for errors and column names).
    pub(super) fn name(&self) -> &'static str {
        match self {
            Agg::Count | Agg::CountDistinct => "count",
            Agg::Distinct => "distinct",
            Agg::Sum => "sum",
            Agg::Mean => "mean",
            Agg::Median => "median",
            Agg::Mode => "mode",
            Agg::Spread => "spread",
            Agg::Stddev => "stddev",
            Agg::Integral(_) => "integral",
            Agg::Min => "min",
            Agg::Max => "max",
            Agg::First => "first",
            Agg::Last => "last",
            Agg::Percentile(_) => "percentile",
            Agg::Top(_) => "top",
            Agg::Bottom(_) => "bottom",
            Agg::Sample { .. } => "sample",
        }
    }

    /// Selectors return a point of the input (with its own time when alone in a query).
    pub(super) fn is_selector(&self) -> bool {
        matches!(
            self,
            Agg::Min
                | Agg::Max
                | Agg::First
                | Agg::Last
                | Agg::Percentile(_)
                | Agg::Top(_)
                | Agg::Bottom(_)
                | Agg::Sample { .. }
        )
    }

    /// Whether the function only takes numbers.
    fn numeric_only(&self) -> bool {
        !matches!(
            self,
            Agg::Count
                | Agg::CountDistinct
                | Agg::Distinct
                | Agg::First
                | Agg::Last
                | Agg::Mode
                | Agg::Sample { .. }
        )
    }
}

/// InfluxDB's wording when a function meets a type it has no iterator for.
pub(super) fn type_error(agg: &Agg, v: &Value) -> Option<String> {
    if !agg.numeric_only() {
        return None;
    }
    let kind = match v {
        Value::Str(_) => "string",
        Value::Bool(_) => "boolean",
        _ => return None,
    };
    Some(format!(
        "unsupported {} iterator type: *query.{kind}InterruptIterator",
        agg.name()
    ))
}

/// A reduced point: `time` is `Some` when the function picked an input point.
pub(super) type Reduced = (Option<i64>, Value);

fn better(a: &Value, b: &Value) -> Ordering {
    compare(a, b).unwrap_or(Ordering::Equal)
}

/// Reduces a bucket's points (sorted by time). An empty bucket gives nothing.
#[allow(clippy::cast_precision_loss, clippy::cast_possible_wrap)]
pub(super) fn reduce(agg: &Agg, pts: &[(i64, Value)]) -> Vec<Reduced> {
    if pts.is_empty() {
        return Vec::new();
    }
    let one = |v: Value| vec![(None, v)];
    match agg {
        Agg::Count => one(Value::Int(pts.len() as i64)),
        Agg::CountDistinct => one(Value::Int(distinct(pts).len() as i64)),
        Agg::Distinct => distinct(pts).into_iter().map(|v| (None, v)).collect(),
        Agg::Sum => {
            let mut acc = pts[0].1.clone();
            for (_, v) in &pts[1..] {
                acc = arith(BinaryOp::Add, &acc, v);
            }
            one(acc)
        }
        Agg::Mean => {
            let sum: f64 = floats(pts).sum();
            one(Value::Float(sum / pts.len() as f64))
        }
        Agg::Median => {
            let mut v: Vec<f64> = floats(pts).collect();
            v.sort_by(f64::total_cmp);
            let n = v.len();
            one(Value::Float(if n % 2 == 1 {
                v[n / 2]
            } else {
                v[n / 2 - 1] + (v[n / 2] - v[n / 2 - 1]) / 2.0
            }))
        }
        Agg::Mode => one(mode(pts)),
        Agg::Spread => {
            let mut min = &pts[0].1;
            let mut max = &pts[0].1;
            for (_, v) in pts {
                if better(v, min) == Ordering::Less {
                    min = v;
                }
                if better(v, max) == Ordering::Greater {
                    max = v;
                }
            }
            one(arith(BinaryOp::Sub, max, min))
        }
        Agg::Stddev => {
            if pts.len() < 2 {
                return one(Value::Null);
            }
            let n = pts.len() as f64;
            let mean = floats(pts).sum::<f64>() / n;
            let var = floats(pts).map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
            one(Value::Float(var.sqrt()))
        }
        Agg::Integral(unit) => {
            let mut area = 0.0;
            let mut prev: Option<(i64, f64)> = None;
            for (t, v) in pts {
                let Some(x) = v.as_f64() else { continue };
                if let Some((pt, px)) = prev {
                    if *t != pt {
                        area += (px + x) / 2.0 * ((t - pt) as f64 / *unit as f64);
                    }
                }
                prev = Some((*t, x));
            }
            one(Value::Float(area))
        }
        Agg::Min | Agg::Max => {
            let want = if *agg == Agg::Min {
                Ordering::Less
            } else {
                Ordering::Greater
            };
            let mut best = &pts[0];
            for p in &pts[1..] {
                // Ties keep the earliest point.
                if better(&p.1, &best.1) == want {
                    best = p;
                }
            }
            vec![(Some(best.0), best.1.clone())]
        }
        Agg::First => {
            let t0 = pts[0].0;
            let mut best = &pts[0];
            // Points at the same earliest time: the greatest value wins, as in InfluxDB.
            for p in pts.iter().take_while(|p| p.0 == t0) {
                if better(&p.1, &best.1) == Ordering::Greater {
                    best = p;
                }
            }
            vec![(Some(best.0), best.1.clone())]
        }
        Agg::Last => {
            let Some(last) = pts.last() else {
                return Vec::new();
            };
            let mut best = last;
            for p in pts.iter().rev().take_while(|p| p.0 == last.0) {
                if better(&p.1, &best.1) == Ordering::Greater {
                    best = p;
                }
            }
            vec![(Some(best.0), best.1.clone())]
        }
        Agg::Percentile(p) => {
            let mut sorted: Vec<&(i64, Value)> = pts.iter().collect();
            sorted.sort_by(|a, b| better(&a.1, &b.1));
            let n = sorted.len() as f64;
            let i = (n * p / 100.0 + 0.5).floor() as i64 - 1;
            match usize::try_from(i).ok().and_then(|i| sorted.get(i)) {
                Some(pt) => vec![(Some(pt.0), pt.1.clone())],
                None => Vec::new(),
            }
        }
        Agg::Top(n) | Agg::Bottom(n) => {
            let top = matches!(agg, Agg::Top(_));
            let mut sorted: Vec<&(i64, Value)> = pts.iter().collect();
            sorted.sort_by(|a, b| {
                let o = better(&a.1, &b.1);
                let o = if top { o.reverse() } else { o };
                o.then(a.0.cmp(&b.0))
            });
            sorted.truncate(*n);
            sorted.sort_by_key(|p| p.0);
            sorted
                .into_iter()
                .map(|p| (Some(p.0), p.1.clone()))
                .collect()
        }
        Agg::Sample { n, seed } => {
            if pts.len() <= *n {
                return pts.iter().map(|p| (Some(p.0), p.1.clone())).collect();
            }
            // Reservoir sampling. SAMPLE is random by definition; the seed (mixed from the
            // statement's time) changes from one query to the next, which is all it needs.
            let mut x = (seed ^ 0x9e37_79b9_7f4a_7c15).wrapping_mul(0xbf58_476d_1ce4_e5b9) | 1;
            let mut next = move || {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x
            };
            let mut keep: Vec<usize> = (0..*n).collect();
            for i in *n..pts.len() {
                let j = (next() % (i as u64 + 1)) as usize;
                if j < *n {
                    keep[j] = i;
                }
            }
            keep.sort_unstable();
            keep.into_iter()
                .map(|i| (Some(pts[i].0), pts[i].1.clone()))
                .collect()
        }
    }
}

fn floats(pts: &[(i64, Value)]) -> impl Iterator<Item = f64> + '_ {
    pts.iter().filter_map(|(_, v)| v.as_f64())
}

fn distinct(pts: &[(i64, Value)]) -> Vec<Value> {
    let mut seen: Vec<Value> = Vec::new();
    let mut keys = std::collections::HashSet::new();
    for (_, v) in pts {
        let key = match v {
            Value::Float(f) => format!("f{}", f.to_bits()),
            other => format!("{other:?}"),
        };
        if keys.insert(key) {
            seen.push(v.clone());
        }
    }
    seen
}

/// The most frequent value; on equal counts the one seen first in time among the smallest
/// values' order (InfluxDB sorts by value, then keeps the earliest-seen value of the top count).
fn mode(pts: &[(i64, Value)]) -> Value {
    if pts.len() == 1 {
        return pts[0].1.clone();
    }
    let mut sorted: Vec<&(i64, Value)> = pts.iter().collect();
    sorted.sort_by(|a, b| better(&a.1, &b.1));
    let (mut most_freq, mut curr_freq) = (0usize, 0usize);
    let mut curr_mode = &sorted[0].1;
    let mut most_mode = &sorted[0].1;
    let (mut most_time, mut curr_time) = (sorted[0].0, sorted[0].0);
    for p in &sorted {
        if p.1 != *curr_mode {
            curr_freq = 1;
            curr_mode = &p.1;
            curr_time = p.0;
            continue;
        }
        curr_freq += 1;
        if most_freq > curr_freq || (most_freq == curr_freq && curr_time > most_time) {
            continue;
        }
        most_freq = curr_freq;
        most_mode = &p.1;
        most_time = p.0;
    }
    most_mode.clone()
}

/// A transformation over a sequence of rows.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Transform {
    Derivative { unit: i64, non_negative: bool },
    Difference { non_negative: bool },
    MovingAverage(usize),
    CumulativeSum,
    Elapsed(i64),
}

impl Transform {
    pub(super) fn name(&self) -> &'static str {
        match self {
            Transform::Derivative {
                non_negative: false,
                ..
            } => "derivative",
            Transform::Derivative { .. } => "non_negative_derivative",
            Transform::Difference {
                non_negative: false,
            } => "difference",
            Transform::Difference { .. } => "non_negative_difference",
            Transform::MovingAverage(_) => "moving_average",
            Transform::CumulativeSum => "cumulative_sum",
            Transform::Elapsed(_) => "elapsed",
        }
    }
}

fn is_negative(v: &Value) -> bool {
    v.as_f64().is_some_and(|x| x < 0.0)
}

/// Applies a transformation to rows in output order (`ascending` false for `ORDER BY time
/// DESC`: derivatives then divide by the absolute interval); null rows are skipped, as
/// InfluxDB does.
#[allow(clippy::cast_precision_loss)]
pub(super) fn transform(t: &Transform, seq: &[(i64, Value)], ascending: bool) -> Vec<(i64, Value)> {
    let pts: Vec<&(i64, Value)> = seq.iter().filter(|p| !p.1.is_null()).collect();
    let mut out = Vec::new();
    match t {
        Transform::Derivative { unit, non_negative } => {
            for w in pts.windows(2) {
                let (t0, v0) = (w[0].0, &w[0].1);
                let (t1, v1) = (w[1].0, &w[1].1);
                if t1 == t0 {
                    continue;
                }
                let (Some(a), Some(b)) = (v0.as_f64(), v1.as_f64()) else {
                    continue;
                };
                let elapsed = if ascending { t1 - t0 } else { t0 - t1 };
                let d = (b - a) / (elapsed as f64 / *unit as f64);
                if *non_negative && d < 0.0 {
                    continue;
                }
                out.push((t1, Value::Float(d)));
            }
        }
        Transform::Difference { non_negative } => {
            for w in pts.windows(2) {
                let d = arith(BinaryOp::Sub, &w[1].1, &w[0].1);
                if *non_negative && is_negative(&d) {
                    continue;
                }
                out.push((w[1].0, d));
            }
        }
        Transform::MovingAverage(n) => {
            if *n == 0 {
                return out;
            }
            // A running sum (add the new value, drop the oldest), as InfluxDB keeps it: the
            // last digits follow from that order.
            let vals: Vec<f64> = pts.iter().map(|p| p.1.as_f64().unwrap_or(0.0)).collect();
            let mut sum = 0.0;
            for (i, p) in pts.iter().enumerate() {
                sum += vals[i];
                if i >= *n {
                    sum -= vals[i - n];
                }
                if i + 1 >= *n {
                    out.push((p.0, Value::Float(sum / *n as f64)));
                }
            }
        }
        Transform::CumulativeSum => {
            let mut acc: Option<Value> = None;
            for p in pts {
                let next = match &acc {
                    None => p.1.clone(),
                    Some(a) => arith(BinaryOp::Add, a, &p.1),
                };
                out.push((p.0, next.clone()));
                acc = Some(next);
            }
        }
        Transform::Elapsed(unit) => {
            for w in pts.windows(2) {
                out.push((w[1].0, Value::Int((w[1].0 - w[0].0) / (*unit).max(1))));
            }
        }
    }
    out
}

/// Row-wise math functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Math {
    Abs,
    Ceil,
    Floor,
    Round,
    Sqrt,
    Ln,
    Log,
    Log2,
    Log10,
    Exp,
    Pow,
    Sin,
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
    Atan2,
}

impl Math {
    pub(super) fn from_name(name: &str) -> Option<(Math, usize)> {
        Some(match name {
            "abs" => (Math::Abs, 1),
            "ceil" => (Math::Ceil, 1),
            "floor" => (Math::Floor, 1),
            "round" => (Math::Round, 1),
            "sqrt" => (Math::Sqrt, 1),
            "ln" => (Math::Ln, 1),
            "log" => (Math::Log, 2),
            "log2" => (Math::Log2, 1),
            "log10" => (Math::Log10, 1),
            "exp" => (Math::Exp, 1),
            "pow" => (Math::Pow, 2),
            "sin" => (Math::Sin, 1),
            "cos" => (Math::Cos, 1),
            "tan" => (Math::Tan, 1),
            "asin" => (Math::Asin, 1),
            "acos" => (Math::Acos, 1),
            "atan" => (Math::Atan, 1),
            "atan2" => (Math::Atan2, 2),
            _ => return None,
        })
    }

    /// Applies the function; integers stay integers for `abs`, `ceil`, `floor`, `round`.
    pub(super) fn apply(self, args: &[Value]) -> Value {
        let Some(a) = args.first() else {
            return Value::Null;
        };
        if let Value::Int(i) = a {
            match self {
                Math::Abs => return Value::Int(i.wrapping_abs()),
                Math::Ceil | Math::Floor | Math::Round => return Value::Int(*i),
                _ => {}
            }
        }
        if let Value::Unsigned(u) = a {
            if matches!(self, Math::Abs | Math::Ceil | Math::Floor | Math::Round) {
                return Value::Unsigned(*u);
            }
        }
        let Some(x) = a.as_f64() else {
            return Value::Null;
        };
        let y = args.get(1).and_then(Value::as_f64);
        let r = match self {
            Math::Abs => x.abs(),
            Math::Ceil => x.ceil(),
            Math::Floor => x.floor(),
            // Go's math.Round: half away from zero, like Rust's.
            Math::Round => x.round(),
            Math::Sqrt => x.sqrt(),
            Math::Ln => x.ln(),
            Math::Log => match y {
                Some(b) => x.ln() / b.ln(),
                None => return Value::Null,
            },
            Math::Log2 => go_log2(x),
            // Go: ln(x) * (1/ln 10) with the constant rounded once (LOG10_E), so log10(100)
            // is exactly 2 as InfluxDB answers.
            Math::Log10 => x.ln() * std::f64::consts::LOG10_E,
            Math::Exp => x.exp(),
            Math::Pow => match y {
                Some(p) => x.powf(p),
                None => return Value::Null,
            },
            Math::Sin => x.sin(),
            Math::Cos => x.cos(),
            Math::Tan => x.tan(),
            Math::Asin => x.asin(),
            Math::Acos => x.acos(),
            Math::Atan => x.atan(),
            Math::Atan2 => match y {
                Some(b) => x.atan2(b),
                None => return Value::Null,
            },
        };
        Value::Float(r)
    }
}

/// log2 as Go computes it: exact for powers of two, else from the mantissa's natural log,
/// so results match InfluxDB to the last digit.
fn go_log2(x: f64) -> f64 {
    if !x.is_finite() || x <= 0.0 {
        return x.log2();
    }
    // frexp: x = frac * 2^exp with frac in [0.5, 1).
    let bits = x.to_bits();
    let raw_exp = ((bits >> 52) & 0x7ff) as i64;
    let (frac, exp) = if raw_exp == 0 {
        // Subnormal: scale into the normal range first.
        let y = x * (1u64 << 54) as f64;
        let b = y.to_bits();
        let e = ((b >> 52) & 0x7ff) as i64 - 1022 - 54;
        (f64::from_bits((b & !(0x7ff << 52)) | (1022 << 52)), e)
    } else {
        (
            f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52)),
            raw_exp - 1022,
        )
    };
    if frac == 0.5 {
        return (exp - 1) as f64;
    }
    frac.ln() * std::f64::consts::LOG2_E + exp as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pts(vals: &[(i64, f64)]) -> Vec<(i64, Value)> {
        vals.iter().map(|&(t, v)| (t, Value::Float(v))).collect()
    }

    #[test]
    fn selectors_break_ties_like_influxdb() {
        let p = pts(&[(1, 5.0), (2, 1.0), (3, 5.0), (4, 1.0)]);
        assert_eq!(reduce(&Agg::Max, &p), vec![(Some(1), Value::Float(5.0))]);
        assert_eq!(reduce(&Agg::Min, &p), vec![(Some(2), Value::Float(1.0))]);
        let same_time = pts(&[(1, 2.0), (1, 7.0), (2, 3.0)]);
        assert_eq!(
            reduce(&Agg::First, &same_time),
            vec![(Some(1), Value::Float(7.0))]
        );
        assert_eq!(
            reduce(&Agg::Percentile(50.0), &p),
            vec![(Some(4), Value::Float(1.0))]
        );
    }

    #[test]
    fn aggregates_compute() {
        let p = pts(&[(1, 1.0), (2, 2.0), (3, 3.0), (4, 10.0)]);
        assert_eq!(reduce(&Agg::Mean, &p), vec![(None, Value::Float(4.0))]);
        assert_eq!(reduce(&Agg::Median, &p), vec![(None, Value::Float(2.5))]);
        assert_eq!(reduce(&Agg::Spread, &p), vec![(None, Value::Float(9.0))]);
        assert_eq!(reduce(&Agg::Count, &p), vec![(None, Value::Int(4))]);
        assert!(reduce(&Agg::Mean, &[]).is_empty());
        let m = pts(&[(1, 3.0), (2, 1.0), (3, 3.0), (4, 1.0)]);
        assert_eq!(mode(&m), Value::Float(3.0));
    }

    #[test]
    fn transforms_skip_nulls() {
        let mut s = pts(&[(0, 1.0), (1_000_000_000, 3.0), (3_000_000_000, 2.0)]);
        s.insert(1, (500, Value::Null));
        let d = transform(
            &Transform::Derivative {
                unit: 1_000_000_000,
                non_negative: false,
            },
            &s,
            true,
        );
        assert_eq!(
            d,
            vec![
                (1_000_000_000, Value::Float(2.0)),
                (3_000_000_000, Value::Float(-0.5))
            ]
        );
        let c = transform(&Transform::CumulativeSum, &s, true);
        assert_eq!(c.last(), Some(&(3_000_000_000, Value::Float(6.0))));
    }
}
