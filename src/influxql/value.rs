//! The cell values of query results and InfluxQL's arithmetic on them.
//!
//! Owns: the value kinds a result carries (with `Time` for the time column, rendered by the
//! API per `epoch`), comparison across numeric kinds, and the operator rules of InfluxDB 1.8:
//! `int op int` stays an integer and wraps (`/` gives a float), mixed numbers become floats,
//! division by zero gives 0, anything with null is null.

use std::cmp::Ordering;

use super::ast::BinaryOp;

/// A cell of a result row.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// No value (`null`).
    Null,
    /// A float.
    Float(f64),
    /// An integer (rendered without a decimal point, as InfluxDB does).
    Int(i64),
    /// An unsigned integer.
    Unsigned(u64),
    /// A boolean.
    Bool(bool),
    /// A string.
    Str(String),
    /// A timestamp (ns), rendered as RFC 3339 text or as an epoch number per the request.
    Time(i64),
}

impl From<crate::storage::FieldValue> for Value {
    fn from(v: crate::storage::FieldValue) -> Value {
        use crate::storage::FieldValue as F;
        match v {
            F::Float(x) => Value::Float(x),
            F::Integer(x) => Value::Int(x),
            F::Unsigned(x) => Value::Unsigned(x),
            F::Boolean(x) => Value::Bool(x),
            F::String(x) => Value::Str(x),
        }
    }
}

impl Value {
    /// The value as a float, when numeric.
    #[allow(clippy::cast_precision_loss)]
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(f) => Some(*f),
            Value::Int(i) => Some(*i as f64),
            Value::Unsigned(u) => Some(*u as f64),
            _ => None,
        }
    }

    /// Whether this is `Null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

/// Orders two values of comparable kinds (numbers with numbers, strings with strings,
/// booleans with booleans); `None` otherwise.
pub(crate) fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Unsigned(x), Value::Unsigned(y)) => Some(x.cmp(y)),
        (Value::Int(x), Value::Unsigned(y)) => Some(i128::from(*x).cmp(&i128::from(*y))),
        (Value::Unsigned(x), Value::Int(y)) => Some(i128::from(*x).cmp(&i128::from(*y))),
        (Value::Str(x), Value::Str(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Time(x), Value::Time(y)) => Some(x.cmp(y)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

/// `a op b` for the arithmetic and bitwise operators.
#[allow(clippy::cast_precision_loss)]
pub(crate) fn arith(op: BinaryOp, a: &Value, b: &Value) -> Value {
    use BinaryOp::*;
    match (a, b) {
        (Value::Null, _) | (_, Value::Null) => Value::Null,
        (Value::Int(x), Value::Int(y)) => match op {
            Add => Value::Int(x.wrapping_add(*y)),
            Sub => Value::Int(x.wrapping_sub(*y)),
            Mul => Value::Int(x.wrapping_mul(*y)),
            Div if *y == 0 => Value::Float(0.0),
            Div => Value::Float(*x as f64 / *y as f64),
            Mod if *y == 0 => Value::Int(0),
            Mod => Value::Int(x.wrapping_rem(*y)),
            BitAnd => Value::Int(x & y),
            BitOr => Value::Int(x | y),
            BitXor => Value::Int(x ^ y),
            _ => Value::Null,
        },
        (Value::Unsigned(x), Value::Unsigned(y)) => match op {
            Add => Value::Unsigned(x.wrapping_add(*y)),
            Sub => Value::Unsigned(x.wrapping_sub(*y)),
            Mul => Value::Unsigned(x.wrapping_mul(*y)),
            Div if *y == 0 => Value::Float(0.0),
            Div => Value::Float(*x as f64 / *y as f64),
            Mod if *y == 0 => Value::Unsigned(0),
            Mod => Value::Unsigned(x % y),
            BitAnd => Value::Unsigned(x & y),
            BitOr => Value::Unsigned(x | y),
            BitXor => Value::Unsigned(x ^ y),
            _ => Value::Null,
        },
        (Value::Bool(x), Value::Bool(y)) => match op {
            BitAnd => Value::Bool(x & y),
            BitOr => Value::Bool(x | y),
            BitXor => Value::Bool(x ^ y),
            _ => Value::Null,
        },
        _ => {
            let (Some(x), Some(y)) = (a.as_f64(), b.as_f64()) else {
                return Value::Null;
            };
            match op {
                Add => Value::Float(x + y),
                Sub => Value::Float(x - y),
                Mul => Value::Float(x * y),
                Div if y == 0.0 => Value::Float(0.0),
                Div => Value::Float(x / y),
                Mod if y == 0.0 => Value::Float(0.0),
                Mod => Value::Float(x % y),
                _ => Value::Null,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_arithmetic_follows_influxdb() {
        assert_eq!(
            arith(BinaryOp::Div, &Value::Int(7503506), &Value::Int(1000)),
            Value::Float(7503.506)
        );
        assert_eq!(
            arith(BinaryOp::Mul, &Value::Int(i64::MAX), &Value::Int(2)),
            Value::Int(-2)
        );
        assert_eq!(
            arith(BinaryOp::Mod, &Value::Int(7), &Value::Int(3)),
            Value::Int(1)
        );
        assert_eq!(
            arith(BinaryOp::Add, &Value::Int(1), &Value::Float(0.5)),
            Value::Float(1.5)
        );
        assert_eq!(
            arith(BinaryOp::Add, &Value::Null, &Value::Int(1)),
            Value::Null
        );
        assert_eq!(
            arith(BinaryOp::Div, &Value::Float(1.0), &Value::Float(0.0)),
            Value::Float(0.0)
        );
    }

    #[test]
    fn numbers_compare_across_kinds() {
        assert_eq!(
            compare(&Value::Int(2), &Value::Float(1.5)),
            Some(Ordering::Greater)
        );
        assert_eq!(
            compare(&Value::Int(-1), &Value::Unsigned(u64::MAX)),
            Some(Ordering::Less)
        );
        assert_eq!(compare(&Value::Str("a".into()), &Value::Int(1)), None);
    }
}
