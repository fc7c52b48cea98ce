//! Error types. Reason texts are InfluxDB 1.x's own (checked against 1.6.7), because clients and
//! people read them in `/write` responses; the few reasons 1.x does not have say so.

use std::fmt;

/// A line that could not be parsed.
///
/// Displays as InfluxDB 1.x reports it: `unable to parse '<line>': <reason>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unable to parse '{line}': {kind}")]
pub struct LineError {
    /// 1-based number of the physical line (in the body) where the bad line starts.
    pub line_number: usize,
    /// The line as InfluxDB quotes it: without leading whitespace and without the newline that
    /// ended it (a string field may span several physical lines, and then so does this).
    pub line: String,
    /// Why it was rejected.
    pub kind: LineErrorKind,
}

/// Why a line was rejected; `Display` is InfluxDB 1.x's reason text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LineErrorKind {
    /// The line starts with a comma.
    #[error("missing measurement")]
    MissingMeasurement,
    /// The line ends inside the measurement or the tags (no space before the fields).
    #[error("missing fields")]
    MissingFields,
    /// A tag key is empty (`m,=v`, `m, f=1`, `m,t=v,`).
    #[error("missing tag key")]
    MissingTagKey,
    /// A tag has no `=` or an empty value (`m,t f=1`, `m,t= f=1`).
    #[error("missing tag value")]
    MissingTagValue,
    /// An unescaped `=` inside a tag value (`m,t=a=b f=1`).
    #[error("invalid tag format")]
    InvalidTagFormat,
    /// The same tag key twice.
    #[error("duplicate tags")]
    DuplicateTags,
    /// The series key (escaped measurement and tags, or that plus 4 plus an escaped field key)
    /// is longer than [`super::MAX_KEY_LEN`].
    #[error("max key length exceeded: {0} > 65535")]
    MaxKeyLength(usize),
    /// A field has no key (`m =1`, `m f=1,=2`).
    #[error("missing field key")]
    MissingFieldKey,
    /// A field has no value (`m f=`, `m f=,g=1`, `m f= 1`).
    #[error("missing field value")]
    MissingFieldValue,
    /// The fields are not `key=value` pairs separated by single commas (`m f`, `m f=1,`,
    /// `m f=1,g`, `m `); also wispmon's reason for text after a closing quote (`f="a"x`) and for
    /// a field key ending in a backslash, which 1.x silently mangles.
    #[error("invalid field format")]
    InvalidFieldFormat,
    /// A string field value has no closing quote before the end of the body.
    #[error("unbalanced quotes")]
    UnbalancedQuotes,
    /// A value starting like a number is not one (`1.2.3`, `1x`, `NaN`, `-`, `1.5i`, `-1u`).
    #[error("invalid number")]
    InvalidNumber,
    /// A float in exponent form does not parse, or the float overflows (`1e`, `1e400`).
    #[error("invalid float")]
    InvalidFloat,
    /// An integer (`…i`) outside the i64 range; the text is the digits as written.
    #[error("unable to parse integer {0}: strconv.ParseInt: parsing \"{0}\": value out of range")]
    IntegerOutOfRange(String),
    /// An unsigned integer (`…u`) above u64::MAX; the text is the digits as written.
    #[error("unable to parse unsigned {0}: strconv.ParseUint: parsing \"{0}\": value out of range")]
    UnsignedOutOfRange(String),
    /// A value that is not a number or string and not one of the ten boolean spellings.
    #[error("invalid boolean")]
    InvalidBoolean,
    /// A string field value longer than [`super::MAX_STRING_LEN`] bytes (wispmon's own
    /// reason: 1.x documents the limit but has no parser message for it).
    #[error("max string length exceeded: {0} > 65536")]
    StringTooLong(usize),
    /// The timestamp contains something other than an optional leading `-` and digits (this is
    /// also what a CRLF line end gives, as in InfluxDB 1.x).
    #[error("bad timestamp")]
    BadTimestamp,
    /// The timestamp is a lone `-`; the text is Go's, as 1.x passes it through.
    #[error("strconv.ParseInt: parsing \"{0}\": invalid syntax")]
    TimestampSyntax(String),
    /// The timestamp does not fit an i64 before scaling.
    #[error("strconv.ParseInt: parsing \"{0}\": value out of range")]
    TimestampOverflow(String),
    /// The timestamp, scaled to nanoseconds by the precision, is outside the range 1.x can
    /// store ([`super::MIN_NANO_TIME`]..=[`super::MAX_NANO_TIME`]).
    #[error("time outside range -9223372036854775806 - 9223372036854775806")]
    TimeOutOfRange,
    /// Something other than spaces follows the timestamp (`m f=1 1 2`).
    #[error("point is invalid")]
    PointIsInvalid,
}

/// Which name of a line a [`WriteError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The measurement.
    Measurement,
    /// A tag key.
    TagKey,
    /// A tag value.
    TagValue,
    /// A field key.
    FieldKey,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::Measurement => "measurement",
            Part::TagKey => "tag key",
            Part::TagValue => "tag value",
            Part::FieldKey => "field key",
        })
    }
}

/// Why [`super::write_line`] refused a line: writing it would not parse back to the same line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// A measurement, tag key, tag value or field key is empty.
    #[error("empty {0}")]
    Empty(Part),
    /// A name InfluxDB 1.x's escaping cannot express (see the reason).
    #[error("{part} cannot be written as line protocol: {reason}")]
    Unrepresentable {
        /// Which name.
        part: Part,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The same tag key twice.
    #[error("duplicate tag key {0:?}")]
    DuplicateTag(String),
    /// A line needs at least one field.
    #[error("no fields")]
    NoFields,
    /// NaN and ±infinity have no line-protocol form.
    #[error("field {0:?} is not a finite float")]
    NonFiniteFloat(String),
    /// A string value over [`super::MAX_STRING_LEN`] bytes.
    #[error("string field {field:?} is {len} bytes, more than 65536")]
    StringTooLong {
        /// The field key.
        field: String,
        /// Its length in bytes.
        len: usize,
    },
    /// The escaped series key would exceed [`super::MAX_KEY_LEN`].
    #[error("series key of {0} bytes exceeds 65535")]
    KeyTooLong(usize),
    /// The timestamp is outside [`super::MIN_NANO_TIME`]..=[`super::MAX_NANO_TIME`].
    #[error("timestamp {0} is outside the range InfluxDB accepts")]
    TimestampOutOfRange(i64),
}
