//! String column codecs.
//!
//! Lengths are bounded by [`MAX_STRING_LEN`] and a whole column by
//! [`MAX_BLOCK_STRING_BYTES`], on encode and on decode alike, so anything
//! the encoder accepts decodes and no input can make the decoder allocate
//! more than that.

use std::collections::HashMap;

use super::bits::{self, ByteReader};
use super::{
    CodecError, MAX_BLOCK_STRING_BYTES, MAX_STRING_LEN, check_decode_count, check_encode_len,
    smallest,
};

/// How a string section is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum StringCodec {
    /// Bit-packed lengths followed by the concatenated bytes.
    Plain = 1,
    /// Distinct strings once, then bit-packed ids.
    Dictionary = 2,
}

impl StringCodec {
    /// Candidates in tie-breaking order: cheapest to decode first.
    const PREFERENCE: [Self; 2] = [Self::Plain, Self::Dictionary];

    /// The tag stored on disk.
    pub const fn to_code(self) -> u8 {
        self as u8
    }

    /// Parses a stored tag, or `None` if unknown.
    pub const fn try_from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::Plain),
            2 => Some(Self::Dictionary),
            _ => None,
        }
    }
}

/// Encodes with the smallest applicable codec.
pub fn encode_strings<S: AsRef<str>>(values: &[S]) -> Result<(StringCodec, Vec<u8>), CodecError> {
    let values = checked_strs(values)?;
    smallest(&StringCodec::PREFERENCE, |codec| {
        Some(encode_with(codec, &values))
    })
}

/// Encodes with one codec; `Ok(None)` if it cannot represent `values`.
pub fn encode_strings_with<S: AsRef<str>>(
    codec: StringCodec,
    values: &[S],
) -> Result<Option<Vec<u8>>, CodecError> {
    let values = checked_strs(values)?;
    Ok(Some(encode_with(codec, &values)))
}

/// Applies the count and size limits the decoder enforces.
fn checked_strs<S: AsRef<str>>(values: &[S]) -> Result<Vec<&str>, CodecError> {
    check_encode_len(values.len())?;
    let mut total: u64 = 0;
    let mut out = Vec::with_capacity(values.len());
    for value in values {
        let s = value.as_ref();
        let len = s.len() as u64;
        if len > u64::from(MAX_STRING_LEN) {
            return Err(CodecError::StringTooLong {
                len,
                max: MAX_STRING_LEN,
            });
        }
        total = total.saturating_add(len);
        out.push(s);
    }
    check_total(total)?;
    Ok(out)
}

fn check_total(total: u64) -> Result<(), CodecError> {
    if total > u64::from(MAX_BLOCK_STRING_BYTES) {
        return Err(CodecError::TooManyStringBytes {
            total,
            max: MAX_BLOCK_STRING_BYTES,
        });
    }
    Ok(())
}

fn encode_with(codec: StringCodec, values: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    match codec {
        StringCodec::Plain => write_plain(values, &mut out),
        StringCodec::Dictionary => {
            if values.is_empty() {
                return out;
            }
            let mut index: HashMap<&str, u64> = HashMap::new();
            let mut entries: Vec<&str> = Vec::new();
            let ids: Vec<u64> = values
                .iter()
                .map(|&s| {
                    *index.entry(s).or_insert_with(|| {
                        entries.push(s);
                        entries.len() as u64 - 1
                    })
                })
                .collect();
            // At most MAX_BLOCK_POINTS entries (checked by the caller), so
            // this fits in u32.
            out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
            write_plain(&entries, &mut out);
            let width = bits::bit_width(entries.len() as u64 - 1);
            out.push(width as u8);
            bits::pack(&ids, width, &mut out);
        }
    }
    out
}

/// Writes `width u8 | packed lengths | bytes`, or nothing for no strings.
fn write_plain(values: &[&str], out: &mut Vec<u8>) {
    if values.is_empty() {
        return;
    }
    let lens: Vec<u64> = values.iter().map(|s| s.len() as u64).collect();
    let width = lens.iter().map(|&l| bits::bit_width(l)).max().unwrap_or(0);
    out.push(width as u8);
    bits::pack(&lens, width, out);
    for s in values {
        out.extend_from_slice(s.as_bytes());
    }
}

/// Parses a plain run of `count` strings from the start of `bytes`.
///
/// Returns the strings and how many bytes they occupied.
fn read_plain(bytes: &[u8], count: usize) -> Result<(Vec<String>, usize), CodecError> {
    const WHAT: &str = "string lengths";
    if count == 0 {
        return Ok((Vec::new(), 0));
    }
    let mut reader = ByteReader::new(bytes);
    let width = u32::from(reader.read_u8("string length width")?);
    let (lens, used) = bits::unpack(reader.rest(), count, width, WHAT)?;
    reader.advance(used, WHAT)?;
    let mut total: u64 = 0;
    for &len in &lens {
        if len > u64::from(MAX_STRING_LEN) {
            return Err(CodecError::StringTooLong {
                len,
                max: MAX_STRING_LEN,
            });
        }
        // Each term is at most 2^16 and there are at most 2^16 terms.
        total += len;
    }
    check_total(total)?;
    let total = usize::try_from(total).map_err(|_| CodecError::Truncated {
        what: "string bytes",
    })?;
    let data = reader.take(total, "string bytes")?;
    let mut strings = Vec::with_capacity(count);
    let mut data_reader = ByteReader::new(data);
    for len in lens {
        // len <= MAX_STRING_LEN, so it fits in usize.
        let raw = data_reader.take(len as usize, "string bytes")?;
        let s = std::str::from_utf8(raw).map_err(|_| CodecError::InvalidUtf8)?;
        strings.push(s.to_owned());
    }
    Ok((strings, 1 + used + total))
}

/// Decodes exactly `count` strings from a section written by `codec`.
pub fn decode_strings(
    codec: StringCodec,
    bytes: &[u8],
    count: u32,
) -> Result<Vec<String>, CodecError> {
    let count = check_decode_count(count)?;
    if count == 0 {
        bits::expect_empty(bytes, "empty string section")?;
        return Ok(Vec::new());
    }
    match codec {
        StringCodec::Plain => {
            let (strings, used) = read_plain(bytes, count)?;
            let mut reader = ByteReader::new(bytes);
            reader.advance(used, "plain strings")?;
            reader.finish("plain strings")?;
            Ok(strings)
        }
        StringCodec::Dictionary => decode_dictionary(bytes, count),
    }
}

/// Strings of a section as distinct-enough entries plus one code per value: `entries[codes[i]]`
/// is value `i`. A dictionary section gives its dictionary as stored, without expanding a
/// copy of an entry per value; a plain section gives each value as its own entry. For
/// readers that compare or count values rather than keep them (`COUNT(DISTINCT)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodedStrings {
    /// The entries; a plain section may hold equal ones.
    pub entries: Vec<String>,
    /// One index into `entries` per value.
    pub codes: Vec<u32>,
}

/// Decodes exactly `count` strings from a section written by `codec`, as [`CodedStrings`].
pub fn decode_strings_coded(
    codec: StringCodec,
    bytes: &[u8],
    count: u32,
) -> Result<CodedStrings, CodecError> {
    let n = check_decode_count(count)?;
    if n == 0 {
        bits::expect_empty(bytes, "empty string section")?;
        return Ok(CodedStrings {
            entries: Vec::new(),
            codes: Vec::new(),
        });
    }
    match codec {
        StringCodec::Plain => {
            let entries = decode_strings(codec, bytes, count)?;
            // n <= MAX_BLOCK_POINTS, which fits in u32.
            let codes = (0..n as u32).collect();
            Ok(CodedStrings { entries, codes })
        }
        StringCodec::Dictionary => {
            let (entries, ids) = read_dictionary(bytes, n)?;
            let codes = ids
                .into_iter()
                .map(|id| {
                    u32::try_from(id)
                        .ok()
                        .filter(|&i| (i as usize) < entries.len())
                        .ok_or(CodecError::Invalid {
                            what: "string dictionary id",
                        })
                })
                .collect::<Result<Vec<u32>, CodecError>>()?;
            Ok(CodedStrings { entries, codes })
        }
    }
}

/// The dictionary and the raw ids of a dictionary section of `count` values (ids unchecked).
fn read_dictionary(bytes: &[u8], count: usize) -> Result<(Vec<String>, Vec<u64>), CodecError> {
    const WHAT: &str = "string dictionary ids";
    let mut reader = ByteReader::new(bytes);
    let entries = reader.read_u32("string dictionary size")?;
    // More entries than values would mean unused entries: the encoder never
    // writes that, and allowing it would let `entries` exceed the bound.
    let entries = usize::try_from(entries)
        .ok()
        .filter(|&n| n >= 1 && n <= count)
        .ok_or(CodecError::Invalid {
            what: "string dictionary size",
        })?;
    let (dict, used) = read_plain(reader.rest(), entries)?;
    reader.advance(used, "string dictionary")?;
    let width = u32::from(reader.read_u8("string dictionary id width")?);
    let (ids, used) = bits::unpack(reader.rest(), count, width, WHAT)?;
    reader.advance(used, WHAT)?;
    reader.finish("string dictionary")?;
    Ok((dict, ids))
}

fn decode_dictionary(bytes: &[u8], count: usize) -> Result<Vec<String>, CodecError> {
    let (dict, ids) = read_dictionary(bytes, count)?;
    // Validate ids and the expanded size before cloning anything.
    let mut total: u64 = 0;
    for &id in &ids {
        let entry =
            usize::try_from(id)
                .ok()
                .and_then(|i| dict.get(i))
                .ok_or(CodecError::Invalid {
                    what: "string dictionary id",
                })?;
        total = total.saturating_add(entry.len() as u64);
    }
    check_total(total)?;
    let mut out = Vec::with_capacity(count);
    for id in ids {
        let entry =
            usize::try_from(id)
                .ok()
                .and_then(|i| dict.get(i))
                .ok_or(CodecError::Invalid {
                    what: "string dictionary id",
                })?;
        out.push(entry.clone());
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ALL: [StringCodec; 2] = StringCodec::PREFERENCE;

    #[test]
    fn codes_round_trip() {
        for c in ALL {
            assert_eq!(StringCodec::try_from_code(c.to_code()), Some(c));
        }
        assert_eq!(StringCodec::try_from_code(0), None);
        assert_eq!(StringCodec::try_from_code(3), None);
    }

    #[test]
    fn low_cardinality_uses_dictionary() {
        let pool = ["ok", "warning", "critical"];
        let v: Vec<&str> = (0..288).map(|i| pool[(i * 7 / 5) % 3]).collect();
        let (c, b) = encode_strings(&v).unwrap();
        assert_eq!(c, StringCodec::Dictionary);
        // entries u32 + plain dict (width, 3 lengths x 4 bits, 17 bytes of
        // text) + id width + 288 ids x 2 bits.
        assert_eq!(b.len(), 4 + (1 + 2 + 17) + 1 + 72);
        assert_eq!(decode_strings(c, &b, 288).unwrap(), v);
    }

    #[test]
    fn limits_on_encode() {
        let long = "x".repeat(MAX_STRING_LEN as usize + 1);
        assert!(matches!(
            encode_strings(&[long]),
            Err(CodecError::StringTooLong { .. })
        ));
        let max = "y".repeat(MAX_STRING_LEN as usize);
        let (c, b) = encode_strings(std::slice::from_ref(&max)).unwrap();
        assert_eq!(decode_strings(c, &b, 1).unwrap(), vec![max.clone()]);
        let many = vec![max; (MAX_BLOCK_STRING_BYTES / MAX_STRING_LEN) as usize + 1];
        assert!(matches!(
            encode_strings(&many),
            Err(CodecError::TooManyStringBytes { .. })
        ));
    }

    #[test]
    fn dictionary_expansion_is_bounded() {
        // One maximal entry referenced MAX_BLOCK_POINTS times would expand
        // to 4 GiB; the decoder must refuse before cloning.
        let mut bytes = 1u32.to_le_bytes().to_vec();
        bytes.push(17);
        bytes.extend_from_slice(&(MAX_STRING_LEN as u64).to_le_bytes()[..3]);
        bytes.extend(std::iter::repeat_n(b'a', MAX_STRING_LEN as usize));
        bytes.push(0);
        assert_eq!(
            decode_strings(
                StringCodec::Dictionary,
                &bytes,
                super::super::MAX_BLOCK_POINTS
            ),
            Err(CodecError::TooManyStringBytes {
                total: u64::from(MAX_STRING_LEN) * u64::from(super::super::MAX_BLOCK_POINTS),
                max: MAX_BLOCK_STRING_BYTES
            })
        );
    }

    #[test]
    fn rejects_bad_sections() {
        // Invalid UTF-8.
        let bytes = [8u8, 2, 0xC3, 0x28];
        assert_eq!(
            decode_strings(StringCodec::Plain, &bytes, 1),
            Err(CodecError::InvalidUtf8)
        );
        // Length above the limit.
        let mut bytes = vec![20u8];
        bytes.extend_from_slice(&(MAX_STRING_LEN + 1).to_le_bytes()[..3]);
        assert!(matches!(
            decode_strings(StringCodec::Plain, &bytes, 1),
            Err(CodecError::StringTooLong { .. })
        ));
        // Dictionary id out of range: 1 entry "a", id 1.
        let bytes = [1, 0, 0, 0, 1, 1, b'a', 1, 0b10];
        assert_eq!(
            decode_strings(StringCodec::Dictionary, &bytes, 2),
            Err(CodecError::Invalid {
                what: "string dictionary id"
            })
        );
        // Dictionary larger than the value count.
        let bytes = [3, 0, 0, 0];
        assert!(matches!(
            decode_strings(StringCodec::Dictionary, &bytes, 2),
            Err(CodecError::Invalid { .. })
        ));
    }

    fn strings() -> impl Strategy<Value = Vec<String>> {
        let any_string =
            proptest::collection::vec(any::<char>(), 0..12).prop_map(String::from_iter);
        prop_oneof![
            // Small cardinality: a few tag-like values.
            (
                proptest::collection::vec(any_string.clone(), 1..6),
                proptest::collection::vec(any::<usize>(), 0..400)
            )
                .prop_map(|(pool, picks)| picks
                    .into_iter()
                    .map(|i| pool[i % pool.len()].clone())
                    .collect()),
            (any_string.clone(), 0usize..300).prop_map(|(s, n)| vec![s; n]),
            proptest::collection::vec(any_string, 0..200),
            proptest::collection::vec(
                prop_oneof![
                    Just(String::new()),
                    Just("é€😀".to_string()),
                    Just("\0".to_string())
                ],
                0..50
            ),
        ]
    }

    proptest! {
        #[test]
        fn round_trip_every_codec(v in strings()) {
            let count = v.len() as u32;
            let (best, best_bytes) = encode_strings(&v).unwrap();
            prop_assert_eq!(decode_strings(best, &best_bytes, count).unwrap(), v.clone());
            for c in ALL {
                let bytes = encode_strings_with(c, &v).unwrap().unwrap();
                prop_assert!(best_bytes.len() <= bytes.len());
                prop_assert_eq!(decode_strings(c, &bytes, count).unwrap(), v.clone());
                let coded = decode_strings_coded(c, &bytes, count).unwrap();
                let expanded: Vec<&str> =
                    coded.codes.iter().map(|&i| coded.entries[i as usize].as_str()).collect();
                prop_assert_eq!(expanded, v.iter().map(String::as_str).collect::<Vec<_>>());
                if c == StringCodec::Dictionary {
                    // Each distinct string once.
                    let distinct: std::collections::HashSet<&String> = v.iter().collect();
                    prop_assert_eq!(coded.entries.len(), distinct.len());
                }
            }
        }

        #[test]
        fn random_bytes_never_panic(
            code in 1u8..=2,
            bytes in proptest::collection::vec(any::<u8>(), 0..400),
            count in prop_oneof![0u32..50, 0u32..=70_000],
        ) {
            let c = StringCodec::try_from_code(code).unwrap();
            if let Ok(out) = decode_strings(c, &bytes, count) {
                prop_assert_eq!(out.len(), count as usize);
            }
            if let Ok(coded) = decode_strings_coded(c, &bytes, count) {
                prop_assert_eq!(coded.codes.len(), count as usize);
                prop_assert!(coded.codes.iter().all(|&i| (i as usize) < coded.entries.len()));
            }
        }

        #[test]
        fn corrupted_sections_never_panic(
            v in strings(),
            flips in proptest::collection::vec((any::<usize>(), 1u8..=255), 1..4),
            count_delta in -2i64..=2,
        ) {
            for c in ALL {
                let mut bytes = encode_strings_with(c, &v).unwrap().unwrap();
                if bytes.is_empty() { continue; }
                for &(at, mask) in &flips {
                    let i = at % bytes.len();
                    bytes[i] ^= mask;
                }
                let count = (v.len() as i64 + count_delta).max(0) as u32;
                if let Ok(out) = decode_strings(c, &bytes, count) {
                    prop_assert_eq!(out.len(), count as usize);
                }
            }
        }
    }
}
