//! InfluxDB 1.x line protocol: a bounded, hand-written, mostly zero-copy parser and a canonical
//! writer.
//!
//! Owns: the text grammar only — splitting a `/write` body into lines, parsing each line into a
//! [`ParsedLine`] (measurement, tags, typed fields, optional timestamp) with InfluxDB 1.x's
//! acceptance rules and error wording, scaling timestamps by the request's [`Precision`], and
//! writing a [`ParsedLine`] back as text that parses to the same value.
//!
//! Must not: know about storage or HTTP. It does not sort tags for series keys, merge duplicate
//! fields, check field types against earlier writes, reject reserved names such as `time`, pick
//! the default timestamp for lines without one, decompress bodies or enforce a body size limit:
//! those belong to the engine and to the HTTP edge, which convert [`ParsedLine`]s into storage's
//! write batches.
//!
//! Shape of the API:
//! - [`parse_lines`] / [`parse_lines_with_precision`] yield one `Result` per non-blank,
//!   non-comment line, so one bad line never hides the others (InfluxDB 1.x writes the valid
//!   lines of a body and reports the bad ones). [`LineError`] displays exactly as InfluxDB 1.x
//!   does: `unable to parse '<line>': <reason>`.
//! - [`write_line`] appends one canonical line (no trailing newline) and refuses, rather than
//!   corrupts, values line protocol cannot carry (NaN, ±inf, names 1.x cannot escape).
//!
//! Bounds: parsing is a single forward pass per line with no recursion and no backtracking, so
//! time is linear in the body; memory is the parsed values (escaped names and strings are the
//! only copies). String field values are capped at [`MAX_STRING_LEN`] bytes and series keys at
//! [`MAX_KEY_LEN`] bytes.
//!
//! Compatibility: the target is InfluxDB 1.8, checked side by side against the 1.6.7 reference
//! (which lacks only `u` unsigned values). Each rule that mirrors a 1.x quirk says "matches
//! InfluxDB 1.x" where it is implemented, and each deliberate departure (all on inputs where
//! 1.x stores garbage or silently drops lines: text after a closing quote, quotes inside
//! comments, empty or backslash-ended field keys) says so where it is made.

use std::borrow::Cow;

mod error;
mod parse;
mod precision;
mod write;

#[doc(hidden)]
pub mod check;

#[cfg(test)]
mod tests;

pub use error::{LineError, LineErrorKind, Part, WriteError};
pub use parse::{Lines, parse_lines, parse_lines_with_precision};
pub use precision::{MAX_NANO_TIME, MIN_NANO_TIME, Precision};
pub use write::write_line;

/// Largest string field value, in bytes after unescaping (64 KiB, InfluxDB's documented limit).
pub const MAX_STRING_LEN: usize = 64 * 1024;

/// Largest series key (escaped measurement and tags as written, plus 4 and the escaped field key
/// for each field); matches InfluxDB 1.x's `models.MaxKeyLength`.
pub const MAX_KEY_LEN: usize = 65_535;

/// One parsed line of line protocol.
///
/// Names and string values borrow from the request body unless they contained escapes.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedLine<'a> {
    /// Measurement name, unescaped; never empty.
    pub measurement: Cow<'a, str>,
    /// Tags in the order written, unescaped; keys are unique and keys and values non-empty.
    /// Sorting for the series key is the engine's job (see [`ParsedLine::sorted_tags`]).
    pub tags: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// Fields in the order written, unescaped keys; never empty. Duplicate keys are kept in
    /// order (InfluxDB 1.x accepts them and the last one wins; the engine dedups).
    pub fields: Vec<(Cow<'a, str>, FieldValue<'a>)>,
    /// Timestamp in nanoseconds since the epoch (already scaled by the precision the lines were
    /// parsed with), or `None` when the line had none and the server's clock decides.
    pub timestamp: Option<i64>,
}

/// A typed field value.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue<'a> {
    /// 64-bit float, always finite (`1`, `-1.5`, `1e10`, `.5`).
    Float(f64),
    /// Signed 64-bit integer (`12i`).
    Integer(i64),
    /// Unsigned 64-bit integer (`12u`; InfluxDB 1.8, not 1.6).
    Unsigned(u64),
    /// Boolean (`t`, `true`, `F`, `FALSE`, ...).
    Boolean(bool),
    /// String (`"..."`), unescaped; at most [`MAX_STRING_LEN`] bytes.
    String(Cow<'a, str>),
}

impl<'a> ParsedLine<'a> {
    /// Tags sorted by key (byte order of the unescaped key), as a series key wants them.
    /// Keys are unique, so the order is total.
    pub fn sorted_tags(&self) -> Vec<(&str, &str)> {
        let mut tags: Vec<(&str, &str)> = self.tags.iter().map(|(k, v)| (&**k, &**v)).collect();
        tags.sort_unstable_by(|a, b| a.0.cmp(b.0));
        tags
    }

    /// Copies everything borrowed from the body, so the line can outlive it.
    pub fn into_owned(self) -> ParsedLine<'static> {
        ParsedLine {
            measurement: Cow::Owned(self.measurement.into_owned()),
            tags: self
                .tags
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k.into_owned()), Cow::Owned(v.into_owned())))
                .collect(),
            fields: self
                .fields
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k.into_owned()), v.into_owned()))
                .collect(),
            timestamp: self.timestamp,
        }
    }

    /// Equality that compares floats by their bits (so `-0.0 != 0.0`), which is what a
    /// round trip must preserve; `==` follows IEEE instead.
    pub fn bitwise_eq(&self, other: &ParsedLine<'_>) -> bool {
        self.measurement == other.measurement
            && self.tags == other.tags
            && self.timestamp == other.timestamp
            && self.fields.len() == other.fields.len()
            && self
                .fields
                .iter()
                .zip(&other.fields)
                .all(|((ka, va), (kb, vb))| ka == kb && va.bitwise_eq(vb))
    }
}

impl FieldValue<'_> {
    /// Copies a borrowed string value.
    pub fn into_owned(self) -> FieldValue<'static> {
        match self {
            FieldValue::Float(v) => FieldValue::Float(v),
            FieldValue::Integer(v) => FieldValue::Integer(v),
            FieldValue::Unsigned(v) => FieldValue::Unsigned(v),
            FieldValue::Boolean(v) => FieldValue::Boolean(v),
            FieldValue::String(v) => FieldValue::String(Cow::Owned(v.into_owned())),
        }
    }

    /// Equality with floats compared by bits.
    pub fn bitwise_eq(&self, other: &FieldValue<'_>) -> bool {
        match (self, other) {
            (FieldValue::Float(a), FieldValue::Float(b)) => a.to_bits() == b.to_bits(),
            (FieldValue::Integer(a), FieldValue::Integer(b)) => a == b,
            (FieldValue::Unsigned(a), FieldValue::Unsigned(b)) => a == b,
            (FieldValue::Boolean(a), FieldValue::Boolean(b)) => a == b,
            (FieldValue::String(a), FieldValue::String(b)) => a == b,
            _ => false,
        }
    }
}
