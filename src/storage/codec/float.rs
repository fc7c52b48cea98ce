//! Float column codecs.
//!
//! Floats are handled as their 64-bit patterns throughout, so NaN payloads,
//! signed zeros and infinities round-trip bit-exactly.

use super::bits::{self, BitReader, BitWriter, ByteReader};
use super::{
    CodecError, IntegerCodec, check_decode_count, check_encode_len, decode_integers,
    encode_integers, smallest,
};

/// How a float section is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FloatCodec {
    /// Each value's bits as 8 bytes.
    Raw = 1,
    /// One value repeated (bit-identical).
    Constant = 2,
    /// Gorilla-style XOR with the previous value.
    Gorilla = 3,
    /// Integers `m` with one decimal scale `k`, value = `m / 10^k` bit-exactly.
    Decimal = 4,
}

impl FloatCodec {
    /// Candidates in tie-breaking order: cheapest to decode first. Decimal
    /// decodes with a fixed-width unpack and one division per value, which
    /// is no dearer than Gorilla's variable-length bit stream.
    const PREFERENCE: [Self; 4] = [Self::Constant, Self::Raw, Self::Decimal, Self::Gorilla];

    /// The tag stored on disk.
    pub const fn to_code(self) -> u8 {
        self as u8
    }

    /// Parses a stored tag, or `None` if unknown.
    pub const fn try_from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::Raw),
            2 => Some(Self::Constant),
            3 => Some(Self::Gorilla),
            4 => Some(Self::Decimal),
            _ => None,
        }
    }
}

/// Encodes with the smallest applicable codec.
pub fn encode_floats(values: &[f64]) -> Result<(FloatCodec, Vec<u8>), CodecError> {
    check_encode_len(values.len())?;
    smallest(&FloatCodec::PREFERENCE, |codec| encode_with(codec, values))
}

/// Encodes with one codec; `Ok(None)` if it cannot represent `values`.
pub fn encode_floats_with(
    codec: FloatCodec,
    values: &[f64],
) -> Result<Option<Vec<u8>>, CodecError> {
    check_encode_len(values.len())?;
    Ok(encode_with(codec, values))
}

fn encode_with(codec: FloatCodec, values: &[f64]) -> Option<Vec<u8>> {
    match codec {
        FloatCodec::Raw => {
            let mut out = Vec::with_capacity(values.len() * 8);
            bits::write_u64_words(values.iter().map(|v| v.to_bits()), &mut out);
            Some(out)
        }
        FloatCodec::Constant => {
            let Some(first) = values.first() else {
                return Some(Vec::new());
            };
            let first = first.to_bits();
            // Compare bits, not values: NaN != NaN and 0.0 == -0.0.
            if values.iter().all(|v| v.to_bits() == first) {
                Some(first.to_le_bytes().to_vec())
            } else {
                None
            }
        }
        FloatCodec::Gorilla => Some(encode_gorilla(values)),
        FloatCodec::Decimal => encode_decimal(values),
    }
}

/// Largest decimal scale `k` the decimal codec uses (and accepts).
const MAX_DECIMAL_SCALE: u8 = 12;

/// `10^k` for `k` in `0..=MAX_DECIMAL_SCALE`, each exactly representable
/// (every power of ten up to `10^22` is). A table rather than `powi`,
/// whose result is not guaranteed to be correctly rounded.
const POW10: [f64; MAX_DECIMAL_SCALE as usize + 1] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
];

/// Mantissas must satisfy `|m| < 2^53`, so `m as f64` is exact.
const MANTISSA_LIMIT: i64 = 1 << 53;

/// The one reconstruction formula, shared by the encoder's check and the
/// decoder: `m` converts exactly (|m| < 2^53) and IEEE division by the
/// exact power of ten is correctly rounded, so the result is the double
/// nearest to `m / 10^k` on every conforming platform.
fn decimal_value(m: i64, pow10: f64) -> f64 {
    m as f64 / pow10
}

/// Outcome of looking for a mantissa of one value at one scale.
enum Mantissa {
    /// `decimal_value(m, 10^k)` reproduces the value's bits.
    Found(i64),
    /// None at this scale; a larger scale may have one.
    NotAtThisScale,
    /// None at this scale or at any larger one.
    Never,
}

/// Finds an `m` with `|m| < 2^53` and `decimal_value(m, pow10)` bit-equal
/// to `value`, if one exists.
///
/// If `value` is the double nearest to `m / p` for such an `m`, then
/// `x = fl(value * p)` is within `|m| * 2^-52 < 2` of `m`, so `m` is among
/// `round(x) + {0, -1, 1, -2, 2}`: the search is complete, not heuristic.
/// The neighbours are only tried when `round(x)` fails, which only matters
/// for `|m| >= 2^51`.
fn find_mantissa(value: f64, pow10: f64) -> Mantissa {
    let target = value.to_bits();
    let x = value * pow10;
    // NaN, infinities (in the value or from the product) or too large.
    if !x.is_finite() || x.abs() >= (MANTISSA_LIMIT + 4) as f64 {
        // Any valid m at a larger scale would need |m| >= 10 * |x| * (1 -
        // 2^-52) > 2^53, so no larger scale can work either.
        return Mantissa::Never;
    }
    // |x| < 2^53 + 4, so the conversion is exact and cannot saturate.
    let rounded = x.round() as i64;
    for delta in [0, -1, 1, -2, 2] {
        let m = rounded + delta;
        if m.abs() < MANTISSA_LIMIT && decimal_value(m, pow10).to_bits() == target {
            return Mantissa::Found(m);
        }
    }
    Mantissa::NotAtThisScale
}

/// Finds the smallest scale `k` at which every value has a mantissa, and
/// the mantissas at that scale; `None` if there is none up to the maximum.
///
/// The scale only ever grows: a value that fails at `k` moves `k` up until
/// it fits. (If `v` is nearest to `m / 10^k` it is also nearest to
/// `10m / 10^(k+1)`, the same rational, so earlier values keep fitting
/// unless their mantissa outgrows 2^53.) Correctness does not rest on that
/// argument: the final pass re-checks every value at the chosen scale.
fn decimal_mantissas(values: &[f64]) -> Option<(u8, Vec<i64>)> {
    let mut scale = 0u8;
    for &value in values {
        // -0.0 would come back as +0.0; the check below would reject it at
        // every scale, this just skips the search.
        if value.to_bits() == (-0.0f64).to_bits() {
            return None;
        }
        loop {
            match find_mantissa(value, *POW10.get(usize::from(scale))?) {
                Mantissa::Found(_) => break,
                Mantissa::Never => return None,
                Mantissa::NotAtThisScale => scale += 1,
            }
        }
    }
    let pow10 = *POW10.get(usize::from(scale))?;
    let mantissas = values
        .iter()
        .map(|&value| match find_mantissa(value, pow10) {
            Mantissa::Found(m) => Some(m),
            Mantissa::NotAtThisScale | Mantissa::Never => None,
        })
        .collect::<Option<Vec<i64>>>()?;
    Some((scale, mantissas))
}

fn encode_decimal(values: &[f64]) -> Option<Vec<u8>> {
    if values.is_empty() {
        return Some(Vec::new());
    }
    let (scale, mantissas) = decimal_mantissas(values)?;
    // Cannot fail: callers checked the length against MAX_BLOCK_POINTS and
    // the integer candidate list is not empty. Were it to fail anyway,
    // "not applicable" is a safe answer (another float codec is used).
    let (int_codec, int_bytes) = encode_integers(&mantissas).ok()?;
    let mut out = Vec::with_capacity(2 + int_bytes.len());
    out.push(scale);
    out.push(int_codec.to_code());
    out.extend_from_slice(&int_bytes);
    Some(out)
}

/// Bits of the new-window header: 6 for leading zeros, 6 for length - 1.
const WINDOW_HEADER_BITS: u32 = 12;

fn encode_gorilla(values: &[f64]) -> Vec<u8> {
    let Some((first, rest)) = values.split_first() else {
        return Vec::new();
    };
    let mut writer = BitWriter::with_capacity(values.len() * 2);
    let mut prev = first.to_bits();
    writer.write_bits(prev, 64);
    // (leading zeros, meaningful length) of the last window written.
    let mut window: Option<(u32, u32)> = None;
    for value in rest {
        let bits = value.to_bits();
        let xor = bits ^ prev;
        prev = bits;
        if xor == 0 {
            writer.write_bit(false);
            continue;
        }
        writer.write_bit(true);
        let lead = xor.leading_zeros();
        let trail = xor.trailing_zeros();
        let len = 64 - lead - trail;
        // Reuse the previous window when it covers this xor, unless opening
        // a tight new one is cheaper than the previous window's slack.
        let reuse = window.filter(|&(w_lead, w_len)| {
            let w_trail = 64 - w_lead - w_len;
            lead >= w_lead && trail >= w_trail && w_len <= WINDOW_HEADER_BITS + len
        });
        if let Some((w_lead, w_len)) = reuse {
            writer.write_bit(false);
            writer.write_bits(xor >> (64 - w_lead - w_len), w_len);
        } else {
            writer.write_bit(true);
            writer.write_bits(u64::from(lead), 6);
            writer.write_bits(u64::from(len - 1), 6);
            writer.write_bits(xor >> trail, len);
            window = Some((lead, len));
        }
    }
    writer.finish()
}

/// Decodes exactly `count` floats from a section written by `codec`.
pub fn decode_floats(codec: FloatCodec, bytes: &[u8], count: u32) -> Result<Vec<f64>, CodecError> {
    let count = check_decode_count(count)?;
    if count == 0 {
        bits::expect_empty(bytes, "empty float section")?;
        return Ok(Vec::new());
    }
    match codec {
        FloatCodec::Raw => Ok(bits::read_u64_words(bytes, count, "raw floats")?
            .into_iter()
            .map(f64::from_bits)
            .collect()),
        FloatCodec::Constant => {
            let mut reader = ByteReader::new(bytes);
            let value = f64::from_bits(reader.read_u64("constant float")?);
            reader.finish("constant float")?;
            Ok(vec![value; count])
        }
        FloatCodec::Gorilla => decode_gorilla(bytes, count),
        FloatCodec::Decimal => decode_decimal(bytes, count),
    }
}

fn decode_decimal(bytes: &[u8], count: usize) -> Result<Vec<f64>, CodecError> {
    let mut reader = ByteReader::new(bytes);
    let scale = reader.read_u8("decimal scale")?;
    let pow10 = *POW10.get(usize::from(scale)).ok_or(CodecError::Invalid {
        what: "decimal scale",
    })?;
    let code = reader.read_u8("decimal mantissa codec")?;
    let int_codec = IntegerCodec::try_from_code(code).ok_or(CodecError::UnknownCodec {
        kind: "decimal mantissa",
        code,
    })?;
    // `count` was checked against MAX_BLOCK_POINTS by the caller (and is
    // again by decode_integers), which also requires the rest of the
    // section to be exactly one integer section.
    let count = u32::try_from(count).map_err(|_| CodecError::TooManyValues {
        count: count as u64,
        max: super::MAX_BLOCK_POINTS,
    })?;
    let mantissas = decode_integers(int_codec, reader.rest(), count)?;
    mantissas
        .into_iter()
        .map(|m| {
            // The encoder never writes |m| >= 2^53; refusing it keeps every
            // decoded value exactly m / 10^k and flags corruption.
            if m.unsigned_abs() < MANTISSA_LIMIT.unsigned_abs() {
                Ok(decimal_value(m, pow10))
            } else {
                Err(CodecError::Invalid {
                    what: "decimal mantissa",
                })
            }
        })
        .collect()
}

fn decode_gorilla(bytes: &[u8], count: usize) -> Result<Vec<f64>, CodecError> {
    const WHAT: &str = "gorilla floats";
    let mut reader = BitReader::new(bytes);
    let mut out = Vec::with_capacity(count);
    let mut prev = reader.read_bits(64, WHAT)?;
    out.push(f64::from_bits(prev));
    let mut window: Option<(u32, u32)> = None;
    for _ in 1..count {
        if reader.read_bit(WHAT)? {
            let (lead, len) = if reader.read_bit(WHAT)? {
                let lead = reader.read_bits(6, WHAT)? as u32;
                let len = reader.read_bits(6, WHAT)? as u32 + 1;
                if lead + len > 64 {
                    return Err(CodecError::Invalid {
                        what: "gorilla xor window",
                    });
                }
                window = Some((lead, len));
                (lead, len)
            } else {
                window.ok_or(CodecError::Invalid {
                    what: "gorilla window reuse before any window",
                })?
            };
            // lead + len <= 64 and len >= 1, so the shift is below 64.
            let meaningful = reader.read_bits(len, WHAT)?;
            prev ^= meaningful << (64 - lead - len);
        }
        out.push(f64::from_bits(prev));
    }
    reader.finish(WHAT)?;
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::encode_integers_with;
    use super::*;
    use proptest::prelude::*;

    const ALL: [FloatCodec; 4] = FloatCodec::PREFERENCE;

    fn bits_of(v: &[f64]) -> Vec<u64> {
        v.iter().map(|f| f.to_bits()).collect()
    }

    #[test]
    fn codes_round_trip() {
        for c in ALL {
            assert_eq!(FloatCodec::try_from_code(c.to_code()), Some(c));
        }
        assert_eq!(FloatCodec::try_from_code(0), None);
        assert_eq!(FloatCodec::try_from_code(5), None);
        // Tags already on disk keep their meaning.
        assert_eq!(FloatCodec::Raw.to_code(), 1);
        assert_eq!(FloatCodec::Constant.to_code(), 2);
        assert_eq!(FloatCodec::Gorilla.to_code(), 3);
        assert_eq!(FloatCodec::Decimal.to_code(), 4);
    }

    #[test]
    fn constant_288_is_tiny() {
        let v = vec![42.5; 288];
        let (codec, bytes) = encode_floats(&v).unwrap();
        assert_eq!(codec, FloatCodec::Constant);
        assert!(bytes.len() < 16);
        assert_eq!(decode_floats(codec, &bytes, 288).unwrap(), v);
    }

    #[test]
    fn special_values_bit_exact() {
        let v = vec![
            f64::NAN,
            f64::from_bits(0x7ff8_0000_dead_beef),
            f64::from_bits(0xfff0_0000_0000_0001),
            -0.0,
            0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
            f64::from_bits(1),
            f64::MAX,
            f64::MIN,
        ];
        for c in ALL {
            if let Some(bytes) = encode_floats_with(c, &v).unwrap() {
                let back = decode_floats(c, &bytes, v.len() as u32).unwrap();
                assert_eq!(bits_of(&back), bits_of(&v));
            }
        }
        // -0.0 and 0.0 compare equal but are not constant bit-wise.
        assert_eq!(
            encode_floats_with(FloatCodec::Constant, &[0.0, -0.0]).unwrap(),
            None
        );
    }

    #[test]
    fn rejects_bad_windows() {
        // First value, then "1 0": reuse with no window yet.
        let mut w = BitWriter::with_capacity(16);
        w.write_bits(0, 64);
        w.write_bit(true);
        w.write_bit(false);
        let bytes = w.finish();
        assert_eq!(
            decode_floats(FloatCodec::Gorilla, &bytes, 2),
            Err(CodecError::Invalid {
                what: "gorilla window reuse before any window"
            })
        );
        // New window with lead 63 and length 64.
        let mut w = BitWriter::with_capacity(16);
        w.write_bits(0, 64);
        w.write_bits(0b11, 2);
        w.write_bits(63, 6);
        w.write_bits(63, 6);
        let bytes = w.finish();
        assert_eq!(
            decode_floats(FloatCodec::Gorilla, &bytes, 2),
            Err(CodecError::Invalid {
                what: "gorilla xor window"
            })
        );
    }

    /// `m / 10^k` as a parser reads it from text: the double nearest to
    /// the exact decimal, computed independently of the codec's formula.
    fn parsed(m: i64, k: u8) -> f64 {
        format!("{m}e-{k}").parse().unwrap()
    }

    /// Section for hand-made decimal input: scale, integer tag, integers.
    fn decimal_section(scale: u8, int_codec: IntegerCodec, mantissas: &[i64]) -> Vec<u8> {
        let mut out = vec![scale, int_codec.to_code()];
        out.extend(encode_integers_with(int_codec, mantissas).unwrap().unwrap());
        out
    }

    fn scale_of(bytes: &[u8]) -> u8 {
        bytes[0]
    }

    #[test]
    fn decimal_gauges_pick_decimal() {
        let v: Vec<f64> = (0..288).map(|i| parsed(100 + (i * 37) % 61, 2)).collect();
        let (codec, bytes) = encode_floats(&v).unwrap();
        assert_eq!(codec, FloatCodec::Decimal);
        assert_eq!(scale_of(&bytes), 2);
        assert!(bytes.len() < 288, "{} bytes", bytes.len());
        assert_eq!(
            bits_of(&decode_floats(codec, &bytes, 288).unwrap()),
            bits_of(&v)
        );
        // Whole numbers use scale 0; the text examples from the notes.
        let v = [3.0, -7.0, 1e15, 9_007_199_254_740_991.0];
        let bytes = encode_floats_with(FloatCodec::Decimal, &v)
            .unwrap()
            .unwrap();
        assert_eq!(scale_of(&bytes), 0);
        let v = [1.23, 45.67, 0.123, 0.1, 0.2, 0.3];
        let bytes = encode_floats_with(FloatCodec::Decimal, &v)
            .unwrap()
            .unwrap();
        assert_eq!(scale_of(&bytes), 3);
        assert_eq!(
            bits_of(&decode_floats(FloatCodec::Decimal, &bytes, 6).unwrap()),
            bits_of(&v)
        );
    }

    #[test]
    fn decimal_not_applicable() {
        let base: Vec<f64> = (0..50).map(|i| parsed(i * 7, 2)).collect();
        let odd = [
            f64::NAN,
            -0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            0.1 + 0.2,
            std::f64::consts::PI,
            1e-13,
            f64::MIN_POSITIVE,
            f64::from_bits(1),
            f64::MAX,
            9_007_199_254_740_993.0 * 4.0,
            1e16 + 2.0,
        ];
        for x in odd {
            for at in [0, 25, 50] {
                let mut v = base.clone();
                v.insert(at, x);
                assert_eq!(
                    encode_floats_with(FloatCodec::Decimal, &v).unwrap(),
                    None,
                    "{x:e} at {at}"
                );
                let (codec, bytes) = encode_floats(&v).unwrap();
                assert_ne!(codec, FloatCodec::Decimal);
                let back = decode_floats(codec, &bytes, v.len() as u32).unwrap();
                assert_eq!(bits_of(&back), bits_of(&v));
            }
        }
        // 0.0 itself is fine; only its sign-flipped twin is not.
        assert!(
            encode_floats_with(FloatCodec::Decimal, &[0.0, 1.5])
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn decimal_extremes() {
        // Largest mantissas at the largest scale, both signs.
        let m = (1i64 << 53) - 1;
        let v = [parsed(m, 12), parsed(-m, 12), parsed(1, 12), parsed(-1, 12)];
        let bytes = encode_floats_with(FloatCodec::Decimal, &v)
            .unwrap()
            .unwrap();
        assert!(scale_of(&bytes) <= 12);
        assert_eq!(
            bits_of(&decode_floats(FloatCodec::Decimal, &bytes, 4).unwrap()),
            bits_of(&v)
        );
        // An empty column is an empty section.
        assert_eq!(
            encode_floats_with(FloatCodec::Decimal, &[]).unwrap(),
            Some(vec![])
        );
    }

    #[test]
    fn decimal_rejects_hostile_sections() {
        let good = decimal_section(2, IntegerCodec::DeltaPacked, &[123, 124, 120]);
        assert!(decode_floats(FloatCodec::Decimal, &good, 3).is_ok());
        // Scale above the maximum.
        let mut b = good.clone();
        b[0] = MAX_DECIMAL_SCALE + 1;
        assert_eq!(
            decode_floats(FloatCodec::Decimal, &b, 3),
            Err(CodecError::Invalid {
                what: "decimal scale"
            })
        );
        b[0] = 255;
        assert!(decode_floats(FloatCodec::Decimal, &b, 3).is_err());
        // Unknown integer codec tag.
        for tag in [0, 4, 255] {
            let mut b = good.clone();
            b[1] = tag;
            assert_eq!(
                decode_floats(FloatCodec::Decimal, &b, 3),
                Err(CodecError::UnknownCodec {
                    kind: "decimal mantissa",
                    code: tag
                })
            );
        }
        // Mantissas at or beyond 2^53, including i64::MIN (no abs overflow).
        for m in [1i64 << 53, -(1i64 << 53), i64::MAX, i64::MIN] {
            let b = decimal_section(0, IntegerCodec::Constant, &[m]);
            assert_eq!(
                decode_floats(FloatCodec::Decimal, &b, 2),
                Err(CodecError::Invalid {
                    what: "decimal mantissa"
                })
            );
        }
        let b = decimal_section(0, IntegerCodec::Raw, &[(1i64 << 53) - 1, 1 - (1i64 << 53)]);
        assert!(decode_floats(FloatCodec::Decimal, &b, 2).is_ok());
        // Truncations, an extra byte, a wrong count, a non-empty empty section.
        for len in 0..good.len() {
            assert!(
                decode_floats(FloatCodec::Decimal, &good[..len], 3).is_err(),
                "{len}"
            );
        }
        let mut longer = good.clone();
        longer.push(0);
        assert!(decode_floats(FloatCodec::Decimal, &longer, 3).is_err());
        assert!(decode_floats(FloatCodec::Decimal, &good, 4).is_err());
        assert!(decode_floats(FloatCodec::Decimal, &good, 0).is_err());
    }

    fn floats() -> impl Strategy<Value = Vec<f64>> {
        let any_bits = any::<u64>().prop_map(f64::from_bits);
        prop_oneof![
            // Constant, including odd bit patterns.
            (any_bits.clone(), 0usize..400).prop_map(|(v, n)| vec![v; n]),
            // Noisy gauge with two decimals, like cpu load.
            proptest::collection::vec(0u32..=400, 0..400)
                .prop_map(|v| v.into_iter().map(|c| f64::from(c) / 100.0).collect()),
            // Linear counter stored as float.
            (0.0f64..1e12, 0.5f64..5000.0, 0usize..400)
                .prop_map(|(s, d, n)| (0..n).map(|i| s + d * i as f64).collect()),
            // Slowly varying with repeats.
            proptest::collection::vec((0u8..4, -1.0f64..1.0), 0..400).prop_map(|steps| {
                let mut x = 20.0;
                steps
                    .into_iter()
                    .map(|(k, d)| {
                        if k == 0 {
                            x += d;
                        }
                        x
                    })
                    .collect()
            }),
            proptest::collection::vec(any_bits.clone(), 0..300),
            // Decimals read from text, one scale per column.
            (
                0u8..=6,
                proptest::collection::vec(-10_000_000i64..10_000_000, 0..300)
            )
                .prop_map(|(k, m)| m.into_iter().map(|m| parsed(m, k)).collect()),
            // Decimal column with one noisy value mixed in.
            (
                proptest::collection::vec(0i64..10_000, 1..300),
                any_bits,
                any::<proptest::sample::Index>()
            )
                .prop_map(|(m, x, at)| {
                    let mut v: Vec<f64> = m.into_iter().map(|m| parsed(m, 2)).collect();
                    v.insert(at.index(v.len() + 1), x);
                    v
                }),
            proptest::collection::vec(
                prop_oneof![
                    Just(f64::NAN),
                    Just(-0.0),
                    Just(0.0),
                    Just(f64::INFINITY),
                    Just(f64::NEG_INFINITY),
                    Just(f64::MAX),
                    Just(f64::MIN_POSITIVE),
                    Just(f64::from_bits(0x7ff0_0000_0000_0001)),
                ],
                0..100
            ),
        ]
    }

    proptest! {
        #[test]
        fn round_trip_every_codec(v in floats()) {
            let count = v.len() as u32;
            let (best, best_bytes) = encode_floats(&v).unwrap();
            prop_assert_eq!(bits_of(&decode_floats(best, &best_bytes, count).unwrap()), bits_of(&v));
            for c in ALL {
                if let Some(bytes) = encode_floats_with(c, &v).unwrap() {
                    prop_assert!(best_bytes.len() <= bytes.len());
                    prop_assert_eq!(bits_of(&decode_floats(c, &bytes, count).unwrap()), bits_of(&v));
                }
            }
            prop_assert!(best_bytes.len() <= v.len() * 8);
        }

        /// Values `m / 10^k` with k in 0..=6: Decimal applies at a scale
        /// of at most k and round-trips bit-exactly.
        #[test]
        fn decimal_round_trip(
            k in 0u8..=6,
            m in proptest::collection::vec(
                prop_oneof![-1000i64..1000, -10_000_000_000i64..10_000_000_000],
                1..400
            ),
        ) {
            let v: Vec<f64> = m.iter().map(|&m| parsed(m, k)).collect();
            let bytes = encode_floats_with(FloatCodec::Decimal, &v).unwrap().unwrap();
            prop_assert!(scale_of(&bytes) <= k);
            let back = decode_floats(FloatCodec::Decimal, &bytes, v.len() as u32).unwrap();
            prop_assert_eq!(bits_of(&back), bits_of(&v));
            let (best, best_bytes) = encode_floats(&v).unwrap();
            prop_assert!(best_bytes.len() <= bytes.len());
            prop_assert_eq!(bits_of(&decode_floats(best, &best_bytes, v.len() as u32).unwrap()), bits_of(&v));
        }

        /// The mantissa search is complete: any column of doubles nearest
        /// to some m / 10^k (|m| < 2^53, k <= 12) is Decimal-encodable,
        /// including mantissas near 2^53 where v * 10^k is off by up to 2.
        #[test]
        fn decimal_search_is_complete(
            ks in proptest::collection::vec(0u8..=12, 1..50),
            ms in proptest::collection::vec(
                prop_oneof![
                    -(1i64 << 53) + 1..(1i64 << 53),
                    (1i64 << 51)..(1i64 << 53),
                    -1000i64..1000
                ],
                1..50
            ),
        ) {
            let v: Vec<f64> = ks.iter().zip(&ms).map(|(&k, &m)| parsed(m, k)).collect();
            let max_k = ks.iter().zip(&ms).map(|(&k, _)| k).max().unwrap();
            let bytes = encode_floats_with(FloatCodec::Decimal, &v).unwrap();
            // Mixing scales can push a large mantissa past 2^53 at the
            // common scale; only single-scale columns must always fit.
            let single_scale = ks.iter().zip(&ms).all(|(&k, _)| k == ks[0]);
            if single_scale {
                prop_assert!(bytes.is_some(), "{:?}", v);
            }
            if let Some(bytes) = bytes {
                prop_assert!(scale_of(&bytes) <= max_k);
                let back = decode_floats(FloatCodec::Decimal, &bytes, v.len() as u32).unwrap();
                prop_assert_eq!(bits_of(&back), bits_of(&v));
            }
        }

        #[test]
        fn decimal_random_bytes_never_panic(
            scale in prop_oneof![0u8..=12, any::<u8>()],
            int_tag in prop_oneof![1u8..=3, any::<u8>()],
            rest in proptest::collection::vec(any::<u8>(), 0..200),
            count in prop_oneof![0u32..40, 0u32..=70_000],
        ) {
            let mut bytes = vec![scale, int_tag];
            bytes.extend(rest);
            if let Ok(out) = decode_floats(FloatCodec::Decimal, &bytes, count) {
                prop_assert_eq!(out.len(), count as usize);
                // Every decoded value is finite and never -0.0.
                prop_assert!(out.iter().all(|x| x.is_finite() && x.to_bits() != (-0.0f64).to_bits()));
            }
        }

        #[test]
        fn random_bytes_never_panic(
            code in 1u8..=4,
            bytes in proptest::collection::vec(any::<u8>(), 0..400),
            count in prop_oneof![0u32..300, 0u32..=70_000],
        ) {
            let c = FloatCodec::try_from_code(code).unwrap();
            if let Ok(out) = decode_floats(c, &bytes, count) {
                prop_assert_eq!(out.len(), count as usize);
            }
        }

        #[test]
        fn corrupted_sections_never_panic(
            v in floats(),
            flips in proptest::collection::vec((any::<usize>(), 1u8..=255), 1..4),
            count_delta in -2i64..=2,
        ) {
            for c in ALL {
                let Some(mut bytes) = encode_floats_with(c, &v).unwrap() else { continue };
                if bytes.is_empty() { continue; }
                for &(at, mask) in &flips {
                    let i = at % bytes.len();
                    bytes[i] ^= mask;
                }
                let count = (v.len() as i64 + count_delta).max(0) as u32;
                if let Ok(out) = decode_floats(c, &bytes, count) {
                    prop_assert_eq!(out.len(), count as usize);
                }
            }
        }
    }
}
