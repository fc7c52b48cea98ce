//! The block container: header, timestamp and value sections, checksum.
//!
//! See the module documentation of the parent for the byte layout.

use super::bits::ByteReader;
use super::{
    BooleanCodec, CodecError, CodedStrings, ColumnValues, FieldType, FloatCodec, IntegerCodec,
    StringCodec, TimestampCodec, check_decode_count, check_encode_len, decode_booleans,
    decode_floats, decode_integers, decode_strings, decode_strings_coded, decode_timestamps,
    decode_unsigned, encode_booleans, encode_floats, encode_integers, encode_strings,
    encode_timestamps, encode_unsigned,
};

/// Version byte written at the start of every block.
pub const BLOCK_FORMAT_VERSION: u8 = 1;

/// Trailing CRC-32.
const CRC_LEN: usize = 4;
/// version + field type + count + 2 x (tag + section length) + crc.
const MIN_BLOCK_LEN: usize = 1 + 1 + 4 + 2 * (1 + 4) + CRC_LEN;

/// What a block holds, read without decoding its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockSummary {
    /// Type of the value column.
    pub field_type: FieldType,
    /// Number of points.
    pub count: u32,
    /// Smallest and largest timestamp (inclusive), `None` for an empty block.
    pub time_range: Option<(i64, i64)>,
}

/// Encodes points into one self-checking block.
pub fn encode_block(timestamps: &[i64], values: &ColumnValues) -> Result<Vec<u8>, CodecError> {
    if timestamps.len() != values.len() {
        return Err(CodecError::LengthMismatch {
            timestamps: timestamps.len() as u64,
            values: values.len() as u64,
        });
    }
    let count = check_encode_len(timestamps.len())?;
    let (ts_codec, ts_bytes) = encode_timestamps(timestamps)?;
    let (value_code, value_bytes) = encode_values(values)?;

    let mut out = Vec::with_capacity(MIN_BLOCK_LEN + ts_bytes.len() + value_bytes.len());
    out.push(BLOCK_FORMAT_VERSION);
    out.push(values.field_type().to_code());
    out.extend_from_slice(&count.to_le_bytes());
    push_section(&mut out, ts_codec.to_code(), &ts_bytes)?;
    push_section(&mut out, value_code, &value_bytes)?;
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    Ok(out)
}

/// Appends `tag | len u32 LE | section`, the framing of every section.
pub(crate) fn push_section(out: &mut Vec<u8>, tag: u8, section: &[u8]) -> Result<(), CodecError> {
    // Sections are bounded by MAX_BLOCK_POINTS x 8 bytes or by
    // MAX_BLOCK_STRING_BYTES plus lengths, far below u32::MAX; the check is
    // here so a future limit change cannot silently truncate.
    let len = u32::try_from(section.len()).map_err(|_| CodecError::Invalid {
        what: "section length",
    })?;
    out.push(tag);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(section);
    Ok(())
}

fn encode_values(values: &ColumnValues) -> Result<(u8, Vec<u8>), CodecError> {
    Ok(match values {
        ColumnValues::Float(v) => {
            let (c, b) = encode_floats(v)?;
            (c.to_code(), b)
        }
        ColumnValues::Integer(v) => {
            let (c, b) = encode_integers(v)?;
            (c.to_code(), b)
        }
        ColumnValues::Unsigned(v) => {
            let (c, b) = encode_unsigned(v)?;
            (c.to_code(), b)
        }
        ColumnValues::Boolean(v) => {
            let (c, b) = encode_booleans(v)?;
            (c.to_code(), b)
        }
        ColumnValues::String(v) => {
            let (c, b) = encode_strings(v)?;
            (c.to_code(), b)
        }
    })
}

/// A block whose checksum and framing have been verified.
struct Parsed<'a> {
    field_type: FieldType,
    count: u32,
    ts_codec: TimestampCodec,
    ts_bytes: &'a [u8],
    value_code: u8,
    value_bytes: &'a [u8],
}

fn parse(bytes: &[u8]) -> Result<Parsed<'_>, CodecError> {
    // Version first: a future version may frame or checksum differently.
    let version = *bytes.first().ok_or(CodecError::Truncated {
        what: "block format version",
    })?;
    if version != BLOCK_FORMAT_VERSION {
        return Err(CodecError::UnsupportedVersion { found: version });
    }
    if bytes.len() < MIN_BLOCK_LEN {
        return Err(CodecError::Truncated {
            what: "block header",
        });
    }
    // Checksum before trusting any other field.
    let (body, trailer) = bytes.split_at(bytes.len() - CRC_LEN);
    let expected = ByteReader::new(trailer).read_u32("block checksum")?;
    let found = crc32fast::hash(body);
    if expected != found {
        return Err(CodecError::ChecksumMismatch { expected, found });
    }

    let mut reader = ByteReader::new(body);
    reader.read_u8("block format version")?;
    let type_code = reader.read_u8("field type")?;
    let field_type = FieldType::try_from_code(type_code)
        .ok_or(CodecError::UnknownFieldType { code: type_code })?;
    let count = reader.read_u32("point count")?;
    check_decode_count(count)?;

    let ts_code = reader.read_u8("timestamp codec")?;
    let ts_codec = TimestampCodec::try_from_code(ts_code).ok_or(CodecError::UnknownCodec {
        kind: "timestamp",
        code: ts_code,
    })?;
    let ts_len = reader.read_u32("timestamp section length")?;
    let ts_bytes = take_section(&mut reader, ts_len, "timestamp section")?;

    let value_code = reader.read_u8("value codec")?;
    let value_len = reader.read_u32("value section length")?;
    let value_bytes = take_section(&mut reader, value_len, "value section")?;
    reader.finish("block")?;

    Ok(Parsed {
        field_type,
        count,
        ts_codec,
        ts_bytes,
        value_code,
        value_bytes,
    })
}

fn take_section<'a>(
    reader: &mut ByteReader<'a>,
    len: u32,
    what: &'static str,
) -> Result<&'a [u8], CodecError> {
    let len = usize::try_from(len).map_err(|_| CodecError::Truncated { what })?;
    reader.take(len, what)
}

/// A value codec tag resolved against the block's field type.
enum ValueCodec {
    Float(FloatCodec),
    Integer(IntegerCodec),
    Unsigned(IntegerCodec),
    Boolean(BooleanCodec),
    String(StringCodec),
}

fn value_codec(field_type: FieldType, code: u8) -> Result<ValueCodec, CodecError> {
    let unknown = |kind| CodecError::UnknownCodec { kind, code };
    Ok(match field_type {
        FieldType::Float => {
            ValueCodec::Float(FloatCodec::try_from_code(code).ok_or(unknown("float"))?)
        }
        FieldType::Integer => {
            ValueCodec::Integer(IntegerCodec::try_from_code(code).ok_or(unknown("integer"))?)
        }
        FieldType::Unsigned => {
            ValueCodec::Unsigned(IntegerCodec::try_from_code(code).ok_or(unknown("unsigned"))?)
        }
        FieldType::Boolean => {
            ValueCodec::Boolean(BooleanCodec::try_from_code(code).ok_or(unknown("boolean"))?)
        }
        FieldType::String => {
            ValueCodec::String(StringCodec::try_from_code(code).ok_or(unknown("string"))?)
        }
    })
}

fn decode_values(codec: ValueCodec, bytes: &[u8], count: u32) -> Result<ColumnValues, CodecError> {
    Ok(match codec {
        ValueCodec::Float(c) => ColumnValues::Float(decode_floats(c, bytes, count)?),
        ValueCodec::Integer(c) => ColumnValues::Integer(decode_integers(c, bytes, count)?),
        ValueCodec::Unsigned(c) => ColumnValues::Unsigned(decode_unsigned(c, bytes, count)?),
        ValueCodec::Boolean(c) => ColumnValues::Boolean(decode_booleans(c, bytes, count)?),
        ValueCodec::String(c) => ColumnValues::String(decode_strings(c, bytes, count)?),
    })
}

/// Decodes a block into its timestamps and values (always equal in length).
pub fn decode_block(bytes: &[u8]) -> Result<(Vec<i64>, ColumnValues), CodecError> {
    let block = parse(bytes)?;
    let timestamps = decode_timestamps(block.ts_codec, block.ts_bytes, block.count)?;
    let codec = value_codec(block.field_type, block.value_code)?;
    let values = decode_values(codec, block.value_bytes, block.count)?;
    // Section decoders return exactly `count` items or an error.
    debug_assert_eq!(timestamps.len(), values.len());
    Ok((timestamps, values))
}

/// Decodes a string block into its timestamps and [`CodedStrings`]: each distinct string of a
/// dictionary block once, not once per point.
///
/// # Errors
/// A malformed or corrupted block, or one that does not hold strings.
pub fn decode_block_coded(bytes: &[u8]) -> Result<(Vec<i64>, CodedStrings), CodecError> {
    let block = parse(bytes)?;
    let ValueCodec::String(codec) = value_codec(block.field_type, block.value_code)? else {
        return Err(CodecError::Invalid {
            what: "string block (the block holds another type)",
        });
    };
    let timestamps = decode_timestamps(block.ts_codec, block.ts_bytes, block.count)?;
    let coded = decode_strings_coded(codec, block.value_bytes, block.count)?;
    debug_assert_eq!(timestamps.len(), coded.codes.len());
    Ok((timestamps, coded))
}

/// The type and number of points of a block, from its checked header (nothing is decoded).
///
/// # Errors
/// A malformed or corrupted block.
pub fn block_count(bytes: &[u8]) -> Result<(FieldType, u32), CodecError> {
    let block = parse(bytes)?;
    value_codec(block.field_type, block.value_code)?;
    Ok((block.field_type, block.count))
}

/// Verifies a block and reports its type, count and time range.
///
/// Only the timestamp section is decoded; the value section is covered by
/// the checksum, framing and codec tag check but not parsed.
pub fn block_summary(bytes: &[u8]) -> Result<BlockSummary, CodecError> {
    let block = parse(bytes)?;
    // Resolving the tag is free and catches a block no decoder could read.
    value_codec(block.field_type, block.value_code)?;
    let timestamps = decode_timestamps(block.ts_codec, block.ts_bytes, block.count)?;
    // Min/max rather than first/last: ordering is the writer's promise, not
    // something this decoder relies on.
    let time_range = timestamps
        .iter()
        .min()
        .zip(timestamps.iter().max())
        .map(|(&lo, &hi)| (lo, hi));
    Ok(BlockSummary {
        field_type: block.field_type,
        count: block.count,
        time_range,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sample() -> (Vec<i64>, ColumnValues) {
        let ts: Vec<i64> = (0..50).map(|i| 1_000 + i * 10).collect();
        let v = ColumnValues::Float((0..50).map(|i| f64::from(i) * 0.5).collect());
        (ts, v)
    }

    #[test]
    fn round_trip_and_summary() {
        let (ts, v) = sample();
        let bytes = encode_block(&ts, &v).unwrap();
        assert_eq!(bytes[0], BLOCK_FORMAT_VERSION);
        assert_eq!(decode_block(&bytes).unwrap(), (ts, v));
        assert_eq!(
            block_summary(&bytes).unwrap(),
            BlockSummary {
                field_type: FieldType::Float,
                count: 50,
                time_range: Some((1_000, 1_490)),
            }
        );
    }

    #[test]
    fn empty_block() {
        let bytes = encode_block(&[], &ColumnValues::Boolean(vec![])).unwrap();
        assert_eq!(bytes.len(), MIN_BLOCK_LEN);
        assert_eq!(
            decode_block(&bytes).unwrap(),
            (vec![], ColumnValues::Boolean(vec![]))
        );
        assert_eq!(block_summary(&bytes).unwrap().time_range, None);
    }

    #[test]
    fn every_truncation_and_extension_fails() {
        let (ts, v) = sample();
        let bytes = encode_block(&ts, &v).unwrap();
        for len in 0..bytes.len() {
            assert!(decode_block(&bytes[..len]).is_err(), "prefix {len}");
            assert!(block_summary(&bytes[..len]).is_err(), "prefix {len}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode_block(&longer).is_err());
    }

    #[test]
    fn every_single_bit_flip_fails() {
        let (ts, v) = sample();
        let bytes = encode_block(&ts, &v).unwrap();
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                assert!(decode_block(&b).is_err(), "byte {i} bit {bit}");
            }
        }
    }
}
