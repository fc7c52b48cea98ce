//! Integer column codecs, shared by signed (i64) and unsigned (u64) fields.
//!
//! Both types are encoded as their 64-bit two's-complement words; deltas are
//! wrapping, so `i64::MIN`/`MAX` and `u64::MAX` neighbours round-trip and
//! hostile input cannot overflow.

use super::bits::{self, ByteReader};
use super::{CodecError, check_decode_count, check_encode_len, smallest};

/// How an integer (signed or unsigned) section is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum IntegerCodec {
    /// Each value as 8 bytes.
    Raw = 1,
    /// One value repeated.
    Constant = 2,
    /// Zig-zag deltas, frame-of-reference, bit-packed at the minimum width.
    DeltaPacked = 3,
}

impl IntegerCodec {
    /// Candidates in tie-breaking order: cheapest to decode first.
    const PREFERENCE: [Self; 3] = [Self::Constant, Self::Raw, Self::DeltaPacked];

    /// The tag stored on disk.
    pub const fn to_code(self) -> u8 {
        self as u8
    }

    /// Parses a stored tag, or `None` if unknown.
    pub const fn try_from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::Raw),
            2 => Some(Self::Constant),
            3 => Some(Self::DeltaPacked),
            _ => None,
        }
    }
}

/// Encodes signed integers with the smallest applicable codec.
pub fn encode_integers(values: &[i64]) -> Result<(IntegerCodec, Vec<u8>), CodecError> {
    check_encode_len(values.len())?;
    let words = signed_words(values);
    smallest(&IntegerCodec::PREFERENCE, |codec| {
        encode_words(codec, &words)
    })
}

/// Encodes signed integers with one codec; `Ok(None)` if it does not apply.
pub fn encode_integers_with(
    codec: IntegerCodec,
    values: &[i64],
) -> Result<Option<Vec<u8>>, CodecError> {
    check_encode_len(values.len())?;
    Ok(encode_words(codec, &signed_words(values)))
}

/// Encodes unsigned integers with the smallest applicable codec.
pub fn encode_unsigned(values: &[u64]) -> Result<(IntegerCodec, Vec<u8>), CodecError> {
    check_encode_len(values.len())?;
    smallest(&IntegerCodec::PREFERENCE, |codec| {
        encode_words(codec, values)
    })
}

/// Encodes unsigned integers with one codec; `Ok(None)` if it does not apply.
pub fn encode_unsigned_with(
    codec: IntegerCodec,
    values: &[u64],
) -> Result<Option<Vec<u8>>, CodecError> {
    check_encode_len(values.len())?;
    Ok(encode_words(codec, values))
}

/// Decodes exactly `count` signed integers from a section written by `codec`.
pub fn decode_integers(
    codec: IntegerCodec,
    bytes: &[u8],
    count: u32,
) -> Result<Vec<i64>, CodecError> {
    Ok(decode_words(codec, bytes, count)?
        .into_iter()
        .map(|w| w as i64)
        .collect())
}

/// Decodes exactly `count` unsigned integers from a section written by `codec`.
pub fn decode_unsigned(
    codec: IntegerCodec,
    bytes: &[u8],
    count: u32,
) -> Result<Vec<u64>, CodecError> {
    decode_words(codec, bytes, count)
}

fn signed_words(values: &[i64]) -> Vec<u64> {
    // Reinterpreting the bits is the intent: wrapping deltas on the words
    // equal wrapping deltas on the signed values.
    values.iter().map(|&v| v as u64).collect()
}

fn encode_words(codec: IntegerCodec, words: &[u64]) -> Option<Vec<u8>> {
    match codec {
        IntegerCodec::Raw => {
            let mut out = Vec::with_capacity(words.len() * 8);
            bits::write_u64_words(words.iter().copied(), &mut out);
            Some(out)
        }
        IntegerCodec::Constant => match words.first() {
            None => Some(Vec::new()),
            Some(&first) if words.iter().all(|&w| w == first) => Some(first.to_le_bytes().to_vec()),
            Some(_) => None,
        },
        IntegerCodec::DeltaPacked => Some(encode_delta_packed(words)),
    }
}

fn encode_delta_packed(words: &[u64]) -> Vec<u8> {
    let mut out = Vec::new();
    let Some(&first) = words.first() else {
        return out;
    };
    out.extend_from_slice(&first.to_le_bytes());
    let codes: Vec<u64> = words
        .windows(2)
        .map(|w| bits::zigzag_encode(w[1].wrapping_sub(w[0]) as i64))
        .collect();
    let (Some(&base), Some(&max)) = (codes.iter().min(), codes.iter().max()) else {
        return out;
    };
    // Subtracting the minimum (frame of reference) lets a counter that
    // grows by 1000 +- 50 pack in 8 bits instead of 12.
    let width = bits::bit_width(max - base);
    let offsets: Vec<u64> = codes.iter().map(|&c| c - base).collect();
    out.extend_from_slice(&base.to_le_bytes());
    // bit_width is at most 64, so the cast is lossless.
    out.push(width as u8);
    bits::pack(&offsets, width, &mut out);
    out
}

fn decode_words(codec: IntegerCodec, bytes: &[u8], count: u32) -> Result<Vec<u64>, CodecError> {
    let count = check_decode_count(count)?;
    if count == 0 {
        bits::expect_empty(bytes, "empty integer section")?;
        return Ok(Vec::new());
    }
    match codec {
        IntegerCodec::Raw => bits::read_u64_words(bytes, count, "raw integers"),
        IntegerCodec::Constant => {
            let mut reader = ByteReader::new(bytes);
            let value = reader.read_u64("constant integer")?;
            reader.finish("constant integer")?;
            Ok(vec![value; count])
        }
        IntegerCodec::DeltaPacked => decode_delta_packed(bytes, count),
    }
}

fn decode_delta_packed(bytes: &[u8], count: usize) -> Result<Vec<u64>, CodecError> {
    const WHAT: &str = "delta-packed integers";
    let mut reader = ByteReader::new(bytes);
    let mut out = Vec::with_capacity(count);
    let mut value = reader.read_u64("delta-packed first value")?;
    out.push(value);
    if count >= 2 {
        let base = reader.read_u64("delta-packed base")?;
        let width = u32::from(reader.read_u8("delta-packed width")?);
        let (offsets, used) = bits::unpack(reader.rest(), count - 1, width, WHAT)?;
        reader.advance(used, WHAT)?;
        for offset in offsets {
            // Hostile base/offset pairs may exceed u64; wrapping keeps that
            // a wrong value caught by the checksum rather than a panic.
            let delta = bits::zigzag_decode(base.wrapping_add(offset));
            value = value.wrapping_add(delta as u64);
            out.push(value);
        }
    }
    reader.finish(WHAT)?;
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ALL: [IntegerCodec; 3] = IntegerCodec::PREFERENCE;

    #[test]
    fn codes_round_trip() {
        for c in ALL {
            assert_eq!(IntegerCodec::try_from_code(c.to_code()), Some(c));
        }
        assert_eq!(IntegerCodec::try_from_code(0), None);
        assert_eq!(IntegerCodec::try_from_code(4), None);
    }

    #[test]
    fn counter_under_two_bytes_per_value() {
        let mut x: i64 = 1_000_000;
        let mut values = Vec::new();
        for i in 0..288i64 {
            values.push(x);
            x += 950 + (i * 37) % 101;
        }
        let (codec, bytes) = encode_integers(&values).unwrap();
        assert_eq!(codec, IntegerCodec::DeltaPacked);
        assert!(bytes.len() < 288 * 3 / 2, "{} bytes", bytes.len());
        assert_eq!(decode_integers(codec, &bytes, 288).unwrap(), values);
    }

    #[test]
    fn extremes() {
        let signed = vec![i64::MIN, i64::MAX, 0, -1, i64::MIN, i64::MAX, 1];
        let unsigned = vec![0, u64::MAX, 1, u64::MAX, u64::MAX - 1, 0];
        for c in ALL {
            if let Some(b) = encode_integers_with(c, &signed).unwrap() {
                assert_eq!(decode_integers(c, &b, 7).unwrap(), signed);
            }
            if let Some(b) = encode_unsigned_with(c, &unsigned).unwrap() {
                assert_eq!(decode_unsigned(c, &b, 6).unwrap(), unsigned);
            }
        }
    }

    fn signed() -> impl Strategy<Value = Vec<i64>> {
        prop_oneof![
            (any::<i64>(), 0usize..400).prop_map(|(v, n)| vec![v; n]),
            // Counters: start, mean step, noise.
            (
                any::<i32>(),
                0i64..100_000,
                0i64..100,
                proptest::collection::vec(any::<u16>(), 0..400)
            )
                .prop_map(|(start, step, noise, r)| {
                    let mut x = i64::from(start);
                    r.iter()
                        .map(|&n| {
                            let v = x;
                            let j = if noise == 0 {
                                0
                            } else {
                                i64::from(n) % (2 * noise) - noise
                            };
                            x = x.wrapping_add(step + j);
                            v
                        })
                        .collect()
                }),
            proptest::collection::vec(-1000i64..1000, 0..400),
            proptest::collection::vec(any::<i64>(), 0..300),
            proptest::collection::vec(
                prop_oneof![
                    Just(i64::MIN),
                    Just(i64::MAX),
                    Just(0i64),
                    Just(-1i64),
                    Just(1i64)
                ],
                0..100
            ),
        ]
    }

    fn unsigned() -> impl Strategy<Value = Vec<u64>> {
        prop_oneof![
            (any::<u64>(), 0usize..400).prop_map(|(v, n)| vec![v; n]),
            (
                any::<u64>(),
                0u64..100_000,
                proptest::collection::vec(0u64..100, 0..400)
            )
                .prop_map(|(start, step, r)| {
                    let mut x = start;
                    r.iter()
                        .map(|&n| {
                            let v = x;
                            x = x.wrapping_add(step + n);
                            v
                        })
                        .collect()
                }),
            proptest::collection::vec(any::<u64>(), 0..300),
            proptest::collection::vec(
                prop_oneof![Just(u64::MAX), Just(0u64), Just(1u64), Just(u64::MAX - 1)],
                0..100
            ),
        ]
    }

    proptest! {
        #[test]
        fn signed_round_trip_every_codec(v in signed()) {
            let count = v.len() as u32;
            let (best, best_bytes) = encode_integers(&v).unwrap();
            prop_assert_eq!(decode_integers(best, &best_bytes, count).unwrap(), v.clone());
            for c in ALL {
                if let Some(bytes) = encode_integers_with(c, &v).unwrap() {
                    prop_assert!(best_bytes.len() <= bytes.len());
                    prop_assert_eq!(decode_integers(c, &bytes, count).unwrap(), v.clone());
                }
            }
            prop_assert!(best_bytes.len() <= v.len() * 8);
        }

        #[test]
        fn unsigned_round_trip_every_codec(v in unsigned()) {
            let count = v.len() as u32;
            let (best, best_bytes) = encode_unsigned(&v).unwrap();
            prop_assert_eq!(decode_unsigned(best, &best_bytes, count).unwrap(), v.clone());
            for c in ALL {
                if let Some(bytes) = encode_unsigned_with(c, &v).unwrap() {
                    prop_assert!(best_bytes.len() <= bytes.len());
                    prop_assert_eq!(decode_unsigned(c, &bytes, count).unwrap(), v.clone());
                }
            }
            prop_assert!(best_bytes.len() <= v.len() * 8);
        }

        #[test]
        fn random_bytes_never_panic(
            code in 1u8..=3,
            bytes in proptest::collection::vec(any::<u8>(), 0..400),
            count in prop_oneof![0u32..300, 0u32..=70_000],
        ) {
            let c = IntegerCodec::try_from_code(code).unwrap();
            if let Ok(out) = decode_integers(c, &bytes, count) {
                prop_assert_eq!(out.len(), count as usize);
            }
        }

        #[test]
        fn corrupted_sections_never_panic(
            v in signed(),
            flips in proptest::collection::vec((any::<usize>(), 1u8..=255), 1..4),
            count_delta in -2i64..=2,
        ) {
            for c in ALL {
                let Some(mut bytes) = encode_integers_with(c, &v).unwrap() else { continue };
                if bytes.is_empty() { continue; }
                for &(at, mask) in &flips {
                    let i = at % bytes.len();
                    bytes[i] ^= mask;
                }
                let count = (v.len() as i64 + count_delta).max(0) as u32;
                if let Ok(out) = decode_integers(c, &bytes, count) {
                    prop_assert_eq!(out.len(), count as usize);
                }
            }
        }
    }
}
