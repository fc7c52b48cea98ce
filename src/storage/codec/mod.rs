//! Column codecs: the byte format of one stored block of points.
//!
//! This module owns how a run of `(timestamp, value)` points of a single
//! series and field is turned into bytes and back. It is pure and
//! synchronous: no I/O, no clocks, no global state. Callers (the storage
//! layer) decide which points go into a block and where its bytes live.
//!
//! Each column is encoded by trying every applicable codec of its type and
//! keeping the smallest output; on a tie the codec that is cheaper to decode
//! wins. Decoders treat their input as hostile: counts are bounded by
//! [`MAX_BLOCK_POINTS`] before anything is allocated, every length is
//! checked, all arithmetic on decoded data is checked or deliberately
//! wrapping, and every byte of a section must be consumed.
//!
//! # Block layout
//!
//! All multi-byte integers are little-endian and fixed-width.
//!
//! ```text
//!  0        1        2            6        7           11
//! +--------+--------+------------+--------+-----------+=============+
//! |version | field  | count      | ts tag | ts len    | ts section  |
//! |u8 = 1  | type u8| u32        | u8     | u32       | ts len bytes|
//! +--------+--------+------------+--------+-----------+=============+
//! +--------+-----------+================+-----------+
//! | v tag  | v len     | value section  | crc32     |
//! | u8     | u32       | v len bytes    | u32       |
//! +--------+-----------+================+-----------+
//! ```
//!
//! The CRC-32 (IEEE, as computed by `crc32fast`) covers every byte before
//! it. The minimum block (zero points) is 20 bytes.
//!
//! # Section layouts
//!
//! A tag's meaning depends on the block's field type; tag 0 is never
//! written. A section holds exactly `count` values; for `count == 0` every
//! codec writes an empty section. Constant codecs take their length from
//! the header count alone, which the checksum protects. "packed(w)" means values of `w` bits each,
//! least-significant bit first, padded with zero bits to a whole byte.
//!
//! ```text
//! timestamps (i64 ns)
//!   1 raw            count x i64
//!   2 constant-delta first i64 | delta i64       t[i] = first + i*delta (wrapping)
//!   3 delta-of-delta first i64 | [if count >= 2: scale exponent k u8 (0..=18)
//!                    | first delta / 10^k i64 | chunks of up to 32
//!                    | zigzag(delta-of-delta / 10^k), each chunk:
//!                    |   width u8 (0..=64) | packed(width)]
//!                    k is the largest with every delta a multiple of 10^k
//! floats (f64 bit patterns)
//!   1 raw            count x u64
//!   2 constant       bits u64
//!   3 gorilla xor    first u64 as 64 bits | per later value a bit stream:
//!                    |   0                       same as previous
//!                    |   1 0 <len bits>          xor fits previous window
//!                    |   1 1 lead:6 (len-1):6 <len bits>   new window
//!   4 decimal        scale k u8 (0..=12) | mantissa tag u8 (an integer
//!                    | codec tag below) | that integer section of the
//!                    | mantissas m (i64, count values, |m| < 2^53)
//!                    value = (m as f64) / 10^k, 10^k the exact double;
//!                    the encoder checks every value bit-exactly
//! integers (i64) and unsigned (u64), one family over the 64-bit words
//!   1 raw            count x u64
//!   2 constant       word u64
//!   3 delta-packed   first u64 | [if count >= 2: base u64 | width u8 |
//!                    |   packed(width) of zigzag(wrapping delta) - base]
//! booleans
//!   1 bitmap         packed(1), bit i = value i
//!   2 constant       u8 (0 or 1)
//! strings (UTF-8)
//!   1 plain          width u8 | packed(width) byte lengths | bytes
//!   2 dictionary     entries u32 | plain section of the distinct strings
//!                    | id width u8 | packed(width) ids
//! ```

mod bits;
mod block;
mod boolean;
mod float;
mod integer;
mod string;
#[cfg(test)]
mod tests;
mod timestamp;

pub(crate) use self::block::push_section;
pub use self::block::{
    BLOCK_FORMAT_VERSION, BlockSummary, block_count, block_summary, decode_block,
    decode_block_coded, encode_block,
};
pub use self::boolean::{BooleanCodec, decode_booleans, encode_booleans, encode_booleans_with};
pub use self::float::{FloatCodec, decode_floats, encode_floats, encode_floats_with};
pub use self::integer::{
    IntegerCodec, decode_integers, decode_unsigned, encode_integers, encode_integers_with,
    encode_unsigned, encode_unsigned_with,
};
pub use self::string::{
    CodedStrings, StringCodec, decode_strings, decode_strings_coded, encode_strings,
    encode_strings_with,
};
pub use self::timestamp::{
    TimestampCodec, decode_timestamps, encode_timestamps, encode_timestamps_with,
};

/// Most points one block (and one column section) may hold.
pub const MAX_BLOCK_POINTS: u32 = 65_536;

/// Longest string value in bytes, matching InfluxDB's field value limit.
pub const MAX_STRING_LEN: u32 = 65_536;

/// Most string bytes one column may expand to when decoded.
///
/// Without this cap a dictionary of one 64 KiB string referenced 65 536
/// times would decode to 4 GiB from a few dozen kilobytes of input.
pub const MAX_BLOCK_STRING_BYTES: u32 = 32 * 1024 * 1024;

/// Errors from encoding or decoding columns and blocks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The input ended before a required field.
    #[error("truncated input while reading {what}")]
    Truncated {
        /// The field being read.
        what: &'static str,
    },
    /// Bytes were left over after the last field of a section or block.
    #[error("trailing bytes after {what}: {count} left over")]
    TrailingBytes {
        /// The section or block that was over-long.
        what: &'static str,
        /// How many bytes were left over.
        count: u64,
    },
    /// The block was written by an unknown format version.
    #[error("unsupported block format version {found}")]
    UnsupportedVersion {
        /// The version byte found.
        found: u8,
    },
    /// The stored checksum does not match the block contents.
    #[error("checksum mismatch: stored {expected:#010x}, computed {found:#010x}")]
    ChecksumMismatch {
        /// The checksum stored in the block.
        expected: u32,
        /// The checksum computed over the block.
        found: u32,
    },
    /// A field type code is not one of [`FieldType`]'s.
    #[error("unknown field type code {code}")]
    UnknownFieldType {
        /// The code found.
        code: u8,
    },
    /// A codec tag is not defined for the column's type.
    #[error("unknown {kind} codec tag {code}")]
    UnknownCodec {
        /// The column kind whose codec was being read.
        kind: &'static str,
        /// The tag found.
        code: u8,
    },
    /// More values than [`MAX_BLOCK_POINTS`].
    #[error("too many values: {count} exceeds the limit of {max}")]
    TooManyValues {
        /// The count requested.
        count: u64,
        /// The limit.
        max: u32,
    },
    /// Timestamps and values of a block differ in length.
    #[error("length mismatch: {timestamps} timestamps but {values} values")]
    LengthMismatch {
        /// Number of timestamps.
        timestamps: u64,
        /// Number of values.
        values: u64,
    },
    /// A string value is longer than [`MAX_STRING_LEN`].
    #[error("string of {len} bytes exceeds the limit of {max}")]
    StringTooLong {
        /// The string's length in bytes.
        len: u64,
        /// The limit.
        max: u32,
    },
    /// A string column totals more than [`MAX_BLOCK_STRING_BYTES`].
    #[error("string column of {total} bytes exceeds the limit of {max}")]
    TooManyStringBytes {
        /// The column's total string bytes.
        total: u64,
        /// The limit.
        max: u32,
    },
    /// A decoded string is not valid UTF-8.
    #[error("string value is not valid utf-8")]
    InvalidUtf8,
    /// A field holds a value no encoder writes.
    #[error("invalid {what}")]
    Invalid {
        /// The offending field.
        what: &'static str,
    },
}

/// The type of a field's values, as stored in a block header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FieldType {
    /// 64-bit IEEE float.
    Float = 1,
    /// Signed 64-bit integer.
    Integer = 2,
    /// Unsigned 64-bit integer.
    Unsigned = 3,
    /// Boolean.
    Boolean = 4,
    /// UTF-8 string.
    String = 5,
}

impl FieldType {
    /// The byte stored on disk for this type.
    pub const fn to_code(self) -> u8 {
        self as u8
    }

    /// Parses a stored byte, or `None` if no type has that code.
    pub const fn try_from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::Float),
            2 => Some(Self::Integer),
            3 => Some(Self::Unsigned),
            4 => Some(Self::Boolean),
            5 => Some(Self::String),
            _ => None,
        }
    }
}

/// The values of one column, all of one field type.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnValues {
    /// Float values.
    Float(Vec<f64>),
    /// Signed integer values.
    Integer(Vec<i64>),
    /// Unsigned integer values.
    Unsigned(Vec<u64>),
    /// Boolean values.
    Boolean(Vec<bool>),
    /// String values.
    String(Vec<String>),
}

impl ColumnValues {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            Self::Float(v) => v.len(),
            Self::Integer(v) => v.len(),
            Self::Unsigned(v) => v.len(),
            Self::Boolean(v) => v.len(),
            Self::String(v) => v.len(),
        }
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The field type of the values.
    pub fn field_type(&self) -> FieldType {
        match self {
            Self::Float(_) => FieldType::Float,
            Self::Integer(_) => FieldType::Integer,
            Self::Unsigned(_) => FieldType::Unsigned,
            Self::Boolean(_) => FieldType::Boolean,
            Self::String(_) => FieldType::String,
        }
    }

    /// The values at indexes `idx` (each in bounds), in that order.
    pub fn gather(&self, idx: &[usize]) -> ColumnValues {
        match self {
            Self::Float(x) => Self::Float(idx.iter().map(|&i| x[i]).collect()),
            Self::Integer(x) => Self::Integer(idx.iter().map(|&i| x[i]).collect()),
            Self::Unsigned(x) => Self::Unsigned(idx.iter().map(|&i| x[i]).collect()),
            Self::Boolean(x) => Self::Boolean(idx.iter().map(|&i| x[i]).collect()),
            Self::String(x) => Self::String(idx.iter().map(|&i| x[i].clone()).collect()),
        }
    }
}

/// Validates an encoder's input length and returns it as the on-disk count.
fn check_encode_len(len: usize) -> Result<u32, CodecError> {
    match u32::try_from(len) {
        Ok(count) if count <= MAX_BLOCK_POINTS => Ok(count),
        _ => Err(CodecError::TooManyValues {
            count: len as u64,
            max: MAX_BLOCK_POINTS,
        }),
    }
}

/// Validates a decoder's requested count before anything is allocated.
fn check_decode_count(count: u32) -> Result<usize, CodecError> {
    if count > MAX_BLOCK_POINTS {
        return Err(CodecError::TooManyValues {
            count: u64::from(count),
            max: MAX_BLOCK_POINTS,
        });
    }
    usize::try_from(count).map_err(|_| CodecError::TooManyValues {
        count: u64::from(count),
        max: MAX_BLOCK_POINTS,
    })
}

/// Runs `encode` for each codec in preference order and keeps the smallest.
///
/// Candidates come simplest-to-decode first and only a strictly smaller
/// output displaces the current best, which makes ties go to the simpler
/// codec. `encode` returns `None` when a codec does not apply.
fn smallest<C: Copy>(
    candidates: &[C],
    mut encode: impl FnMut(C) -> Option<Vec<u8>>,
) -> Result<(C, Vec<u8>), CodecError> {
    let mut best: Option<(C, Vec<u8>)> = None;
    for &codec in candidates {
        if let Some(bytes) = encode(codec)
            && best.as_ref().is_none_or(|(_, b)| bytes.len() < b.len())
        {
            best = Some((codec, bytes));
        }
    }
    // Every family has an always-applicable raw/plain codec, so this is
    // only reachable through a bug in a candidate list.
    best.ok_or(CodecError::Invalid {
        what: "codec candidate list",
    })
}
