//! Why a DeviceMonitoring body was refused, worded like upstream's 400 answer.

use serde_json::Value;

/// Longest rendering of an offending value inside a message: enough to recognise it, small
/// enough that a hostile body cannot make the 400 answer (or the log line) large.
const REPR_MAX: usize = 200;

/// A refused DeviceMonitoring body. Every variant is answered with 400 (never 413 or 5xx: the
/// agent discards a sample only on 400 and retries anything else forever, device-agents §1.4).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    /// Nothing but whitespace: what the agent posts when its generator crashed.
    #[error("request body is empty")]
    Empty,
    /// More bytes than [`super::MAX_BODY_BYTES`].
    #[error("request body is {size} bytes, more than the limit of {limit} bytes")]
    TooLarge {
        /// Bytes received.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Not one JSON value: broken syntax, trailing bytes, `NaN`, nesting deeper than the
    /// parser's recursion limit, a number beyond `f64`.
    #[error("request body is not valid JSON: {reason}")]
    NotJson {
        /// The parser's explanation, with line and column.
        reason: String,
    },
    /// Valid JSON that breaks the DeviceMonitoring schema or one of our stricter rules; the
    /// text is exactly upstream's (spec §3.1 step 3).
    #[error("Invalid data in \"#/{}\", validator says:\n\n{message}", .path.join("/"))]
    Schema {
        /// Keys and array indexes from the root to the offending value, empty for the root.
        path: Vec<String>,
        /// What is wrong, in Python jsonschema's wording where upstream has a rule for it.
        message: String,
    },
}

/// Where the validator is in the document: a stack-allocated list from the current value back
/// to the root, turned into strings only when an error is reported.
#[derive(Debug, Clone, Copy)]
pub(super) enum Path<'a> {
    Root,
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl<'a> Path<'a> {
    pub(super) fn key(&'a self, key: &'a str) -> Path<'a> {
        Path::Key(self, key)
    }

    pub(super) fn index(&'a self, i: usize) -> Path<'a> {
        Path::Index(self, i)
    }

    fn segments(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut at = self;
        loop {
            match at {
                Path::Root => break,
                Path::Key(up, k) => {
                    out.push((*k).to_owned());
                    at = up;
                }
                Path::Index(up, i) => {
                    out.push(i.to_string());
                    at = up;
                }
            }
        }
        out.reverse();
        out
    }

    /// A schema error at this place.
    pub(super) fn invalid(&self, message: String) -> Invalid {
        Invalid::Schema {
            path: self.segments(),
            message,
        }
    }

    /// `<value> is not of type '<ty>'`.
    pub(super) fn not_of_type(&self, v: &Value, ty: &str) -> Invalid {
        self.invalid(format!("{} is not of type '{ty}'", repr(v)))
    }

    /// `'<key>' is a required property`, reported at the object as jsonschema does.
    pub(super) fn required(&self, key: &str) -> Invalid {
        self.invalid(format!("'{key}' is a required property"))
    }
}

/// `v` as Python's `repr` would print the decoded value (`'text'`, `True`, `None`, `1.5`,
/// `{'a': [1, 2]}`), cut at [`REPR_MAX`] characters.
pub(super) fn repr(v: &Value) -> String {
    let mut out = String::new();
    write_repr(v, &mut out);
    if out.len() > REPR_MAX {
        let mut cut = REPR_MAX;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push_str("...");
    }
    out
}

/// Appends the repr of `v`; stops descending once the output is past the limit so a 2 MiB
/// array costs no more than a short one.
fn write_repr(v: &Value, out: &mut String) {
    if out.len() > REPR_MAX {
        return;
    }
    match v {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(n) => {
            if n.is_f64() {
                out.push_str(&py_float(n.as_f64().unwrap_or(f64::NAN)));
            } else {
                out.push_str(&n.to_string());
            }
        }
        Value::String(s) => write_str_repr(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr(item, out);
                if out.len() > REPR_MAX {
                    return;
                }
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_str_repr(k, out);
                out.push_str(": ");
                write_repr(item, out);
                if out.len() > REPR_MAX {
                    return;
                }
            }
            out.push('}');
        }
    }
}

/// Python's `repr(str)` for the usual case: single quotes, backslash escapes for quotes,
/// backslashes and control characters.
pub(super) fn write_str_repr(s: &str, out: &mut String) {
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => out.push(c),
        }
        if out.len() > REPR_MAX {
            return;
        }
    }
    out.push('\'');
}

/// Python's `repr(float)`: shortest round-trip digits, `.0` on integral values, and an
/// exponent with an explicit sign (`1e+300`).
pub(super) fn py_float(f: f64) -> String {
    let text = serde_json::Number::from_f64(f).map_or_else(|| f.to_string(), |n| n.to_string());
    match text.split_once('e') {
        Some((mantissa, exp)) if !exp.starts_with(['-', '+']) => format!("{mantissa}e+{exp}"),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn repr_prints_python_literals() {
        assert_eq!(repr(&json!("356122")), "'356122'");
        assert_eq!(repr(&json!(null)), "None");
        assert_eq!(repr(&json!(true)), "True");
        assert_eq!(repr(&json!(356122.5)), "356122.5");
        assert_eq!(repr(&json!(1e300)), "1e+300");
        assert_eq!(repr(&json!(7890334512.0)), "7890334512.0");
        assert_eq!(repr(&json!(-5)), "-5");
        assert_eq!(
            repr(&json!({"wwan0": {"name": "wwan0"}, "a": [1, 2]})),
            "{'a': [1, 2], 'wwan0': {'name': 'wwan0'}}"
        );
        assert_eq!(repr(&json!("it's")), "'it\\'s'");
    }

    #[test]
    fn repr_is_bounded() {
        let big = Value::Array((0..100_000).map(Value::from).collect());
        assert!(repr(&big).len() < REPR_MAX + 20);
        let long = Value::String("é".repeat(10_000));
        assert!(repr(&long).len() < REPR_MAX + 20);
    }

    #[test]
    fn schema_error_displays_like_upstream() {
        let root = Path::Root;
        let ifs = root.key("interfaces");
        let first = ifs.index(0);
        assert_eq!(
            first.required("name").to_string(),
            "Invalid data in \"#/interfaces/0\", validator says:\n\n'name' is a required property"
        );
        assert_eq!(
            root.not_of_type(&json!([]), "object").to_string(),
            "Invalid data in \"#/\", validator says:\n\n[] is not of type 'object'"
        );
    }
}
