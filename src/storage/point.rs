//! Storage's own input types: points, field values and write batches. Line protocol and the
//! device endpoint convert into these at the edge; storage never sees their text forms.

use super::codec::FieldType;

/// A typed field value.
#[derive(Debug, Clone, PartialEq, bincode::Encode, bincode::Decode)]
pub enum FieldValue {
    /// 64-bit float.
    Float(f64),
    /// Signed 64-bit integer.
    Integer(i64),
    /// Unsigned 64-bit integer.
    Unsigned(u64),
    /// Boolean.
    Boolean(bool),
    /// UTF-8 string.
    String(String),
}

impl FieldValue {
    /// The value as a float, for numbers and booleans (1/0); `None` for strings.
    #[allow(clippy::cast_precision_loss)] // thresholds compare as floats, as upstream's do
    pub fn as_f64(&self) -> Option<f64> {
        Some(match self {
            FieldValue::Float(f) => *f,
            FieldValue::Integer(n) => *n as f64,
            FieldValue::Unsigned(n) => *n as f64,
            FieldValue::Boolean(b) => f64::from(u8::from(*b)),
            FieldValue::String(_) => return None,
        })
    }

    /// The value's type.
    pub fn field_type(&self) -> FieldType {
        match self {
            FieldValue::Float(_) => FieldType::Float,
            FieldValue::Integer(_) => FieldType::Integer,
            FieldValue::Unsigned(_) => FieldType::Unsigned,
            FieldValue::Boolean(_) => FieldType::Boolean,
            FieldValue::String(_) => FieldType::String,
        }
    }

    /// Bytes this value costs in the head, for memory accounting.
    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            FieldValue::String(s) => s.len(),
            _ => 0,
        }
    }
}

/// One point: measurement, tags, at least one field, and a timestamp in ns.
#[derive(Debug, Clone, PartialEq, bincode::Encode, bincode::Decode)]
pub struct Point {
    /// Measurement name.
    pub measurement: String,
    /// Tags; any order, keys unique (the series key sorts them).
    pub tags: Vec<(String, String)>,
    /// Fields; keys unique.
    pub fields: Vec<(String, FieldValue)>,
    /// Nanoseconds since the epoch.
    pub time: i64,
}

/// Points for one database and retention policy, written together.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteBatch {
    /// Target database.
    pub database: String,
    /// Target retention policy; `None` means the database's default.
    pub retention_policy: Option<String>,
    /// The points.
    pub points: Vec<Point>,
}

/// Why one point of a batch was not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PointRejection {
    /// A field's type differs from the type fixed for the measurement (InfluxDB's wording).
    FieldTypeConflict {
        /// Field name.
        field: String,
        /// Measurement name.
        measurement: String,
        /// The type the point carried.
        given: FieldType,
        /// The type already fixed.
        existing: FieldType,
    },
    /// Older than the retention policy keeps.
    BeyondRetention,
    /// Malformed for storage (no fields, empty names, duplicate keys, too many series).
    Invalid(String),
}

/// What a write did: how many points were stored and which were refused.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WriteOutcome {
    /// Points stored (durably, when the call returned).
    pub written: usize,
    /// `(index in the batch, reason)` of every refused point.
    pub rejected: Vec<(usize, PointRejection)>,
}

/// Lower-case type names as InfluxDB prints them in errors.
pub fn type_name(t: FieldType) -> &'static str {
    match t {
        FieldType::Float => "float",
        FieldType::Integer => "integer",
        FieldType::Unsigned => "unsigned",
        FieldType::Boolean => "boolean",
        FieldType::String => "string",
    }
}

impl std::fmt::Display for PointRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PointRejection::FieldTypeConflict {
                field,
                measurement,
                given,
                existing,
            } => write!(
                f,
                "field type conflict: input field \"{field}\" on measurement \"{measurement}\" is type {}, already exists as type {}",
                type_name(*given),
                type_name(*existing)
            ),
            PointRejection::BeyondRetention => f.write_str("points beyond retention policy"),
            PointRejection::Invalid(why) => f.write_str(why),
        }
    }
}
