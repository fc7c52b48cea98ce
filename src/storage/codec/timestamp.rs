//! Timestamp column codecs (i64 nanoseconds).
//!
//! Timestamps are normally ascending and often evenly spaced, but the
//! decoders never assume either: all delta arithmetic wraps, so any i64
//! sequence round-trips and hostile input cannot overflow.

use super::bits::{self, ByteReader};
use super::{CodecError, check_decode_count, check_encode_len, smallest};

/// Delta-of-deltas are packed in chunks of this many, each with its own
/// width, so one irregular gap only widens its own chunk.
const DOD_CHUNK_LEN: usize = 32;

/// How a timestamp section is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum TimestampCodec {
    /// Each timestamp as 8 bytes.
    Raw = 1,
    /// First timestamp and one fixed delta.
    ConstantDelta = 2,
    /// Zig-zag delta-of-deltas bit-packed per chunk.
    DeltaOfDelta = 3,
}

impl TimestampCodec {
    /// Candidates in tie-breaking order: cheapest to decode first.
    const PREFERENCE: [Self; 3] = [Self::ConstantDelta, Self::Raw, Self::DeltaOfDelta];

    /// The tag stored on disk.
    pub const fn to_code(self) -> u8 {
        self as u8
    }

    /// Parses a stored tag, or `None` if unknown.
    pub const fn try_from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::Raw),
            2 => Some(Self::ConstantDelta),
            3 => Some(Self::DeltaOfDelta),
            _ => None,
        }
    }
}

/// Encodes with the smallest applicable codec.
pub fn encode_timestamps(values: &[i64]) -> Result<(TimestampCodec, Vec<u8>), CodecError> {
    check_encode_len(values.len())?;
    smallest(&TimestampCodec::PREFERENCE, |codec| {
        encode_with(codec, values)
    })
}

/// Encodes with one codec; `Ok(None)` if it cannot represent `values`.
pub fn encode_timestamps_with(
    codec: TimestampCodec,
    values: &[i64],
) -> Result<Option<Vec<u8>>, CodecError> {
    check_encode_len(values.len())?;
    Ok(encode_with(codec, values))
}

fn encode_with(codec: TimestampCodec, values: &[i64]) -> Option<Vec<u8>> {
    match codec {
        TimestampCodec::Raw => Some(encode_raw(values)),
        TimestampCodec::ConstantDelta => encode_constant_delta(values),
        TimestampCodec::DeltaOfDelta => Some(encode_delta_of_delta(values)),
    }
}

fn encode_raw(values: &[i64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() * 8);
    bits::write_u64_words(values.iter().map(|&v| v as u64), &mut out);
    out
}

fn encode_constant_delta(values: &[i64]) -> Option<Vec<u8>> {
    let Some(&first) = values.first() else {
        return Some(Vec::new());
    };
    let delta = match values {
        [a, b, ..] => b.wrapping_sub(*a),
        _ => 0,
    };
    if !values.windows(2).all(|w| w[1].wrapping_sub(w[0]) == delta) {
        return None;
    }
    let mut out = Vec::with_capacity(16);
    out.extend_from_slice(&first.to_le_bytes());
    out.extend_from_slice(&delta.to_le_bytes());
    Some(out)
}

/// Largest exponent with `10^k` representable in i64.
const MAX_SCALE_EXP: u8 = 18;

/// Largest `k` such that every delta is a multiple of `10^k`.
///
/// Timestamps written at second or millisecond precision have deltas that
/// are multiples of 10^9 or 10^6 ns; dividing that out first turns a one
/// second wobble from a 31-bit delta-of-delta into a 2-bit one.
///
/// The first nonzero delta's trailing decimal zeros bound the answer, so one
/// pass over the deltas usually settles it (a pass per power of ten tried
/// made this a tenth of a seal's encoding time).
fn common_scale(deltas: &[i64]) -> (u8, i64) {
    let Some(&probe) = deltas.iter().find(|&&d| d != 0) else {
        // All zero (or none): every power divides them.
        return (MAX_SCALE_EXP, 10i64.pow(u32::from(MAX_SCALE_EXP)));
    };
    let mut exp = 0;
    let mut scale: i64 = 1;
    while exp < MAX_SCALE_EXP && probe % (scale * 10) == 0 {
        exp += 1;
        scale *= 10;
    }
    while exp > 0 && !deltas.iter().all(|d| d % scale == 0) {
        exp -= 1;
        scale /= 10;
    }
    (exp, scale)
}

fn encode_delta_of_delta(values: &[i64]) -> Vec<u8> {
    let mut out = Vec::new();
    let Some(&first) = values.first() else {
        return out;
    };
    out.extend_from_slice(&first.to_le_bytes());
    let deltas: Vec<i64> = values.windows(2).map(|w| w[1].wrapping_sub(w[0])).collect();
    let Some((&first_delta, rest)) = deltas.split_first() else {
        return out;
    };
    let (exp, scale) = common_scale(&deltas);
    out.push(exp);
    // Exact division: every delta is a multiple of `scale`.
    let mut prev = first_delta / scale;
    out.extend_from_slice(&prev.to_le_bytes());
    let dods: Vec<u64> = rest
        .iter()
        .map(|&d| {
            let d = d / scale;
            let dod = d.wrapping_sub(prev);
            prev = d;
            bits::zigzag_encode(dod)
        })
        .collect();
    for chunk in dods.chunks(DOD_CHUNK_LEN) {
        let width = chunk.iter().map(|&z| bits::bit_width(z)).max().unwrap_or(0);
        // bit_width is at most 64, so the cast is lossless.
        out.push(width as u8);
        bits::pack(chunk, width, &mut out);
    }
    out
}

/// Decodes exactly `count` timestamps from a section written by `codec`.
pub fn decode_timestamps(
    codec: TimestampCodec,
    bytes: &[u8],
    count: u32,
) -> Result<Vec<i64>, CodecError> {
    let count = check_decode_count(count)?;
    if count == 0 {
        bits::expect_empty(bytes, "empty timestamp section")?;
        return Ok(Vec::new());
    }
    match codec {
        TimestampCodec::Raw => Ok(bits::read_u64_words(bytes, count, "raw timestamps")?
            .into_iter()
            .map(|w| w as i64)
            .collect()),
        TimestampCodec::ConstantDelta => decode_constant_delta(bytes, count),
        TimestampCodec::DeltaOfDelta => decode_delta_of_delta(bytes, count),
    }
}

fn decode_constant_delta(bytes: &[u8], count: usize) -> Result<Vec<i64>, CodecError> {
    let mut reader = ByteReader::new(bytes);
    let first = reader.read_u64("constant-delta first timestamp")? as i64;
    let delta = reader.read_u64("constant-delta delta")? as i64;
    reader.finish("constant-delta timestamps")?;
    let mut out = Vec::with_capacity(count);
    let mut t = first;
    for _ in 0..count {
        out.push(t);
        t = t.wrapping_add(delta);
    }
    Ok(out)
}

fn decode_delta_of_delta(bytes: &[u8], count: usize) -> Result<Vec<i64>, CodecError> {
    const WHAT: &str = "delta-of-delta timestamps";
    let mut reader = ByteReader::new(bytes);
    let mut out = Vec::with_capacity(count);
    let mut t = reader.read_u64("delta-of-delta first timestamp")? as i64;
    out.push(t);
    if count >= 2 {
        let exp = reader.read_u8("delta-of-delta scale")?;
        if exp > MAX_SCALE_EXP {
            return Err(CodecError::Invalid {
                what: "delta-of-delta scale exponent",
            });
        }
        let scale = 10i64.pow(u32::from(exp));
        // `delta` is in units of `scale`; hostile input may make the
        // product wrap, which yields wrong values (caught by the block
        // checksum), never a panic.
        let mut delta = reader.read_u64("delta-of-delta first delta")? as i64;
        t = t.wrapping_add(delta.wrapping_mul(scale));
        out.push(t);
        let mut remaining = count - 2;
        while remaining > 0 {
            let n = remaining.min(DOD_CHUNK_LEN);
            let width = u32::from(reader.read_u8("delta-of-delta chunk width")?);
            let used = bits::unpack_with(reader.rest(), n, width, WHAT, |code| {
                delta = delta.wrapping_add(bits::zigzag_decode(code));
                t = t.wrapping_add(delta.wrapping_mul(scale));
                out.push(t);
            })?;
            reader.advance(used, WHAT)?;
            remaining -= n;
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

    const ALL: [TimestampCodec; 3] = TimestampCodec::PREFERENCE;

    fn fixed_interval(n: usize, start: i64, step: i64) -> Vec<i64> {
        (0..n as i64).map(|i| start + i * step).collect()
    }

    #[test]
    fn codes_round_trip() {
        for c in ALL {
            assert_eq!(TimestampCodec::try_from_code(c.to_code()), Some(c));
        }
        assert_eq!(TimestampCodec::try_from_code(0), None);
        assert_eq!(TimestampCodec::try_from_code(4), None);
    }

    #[test]
    fn fixed_interval_288_is_tiny() {
        let ts = fixed_interval(288, 1_700_000_000_000_000_000, 300_000_000_000);
        let (codec, bytes) = encode_timestamps(&ts).unwrap();
        assert_eq!(codec, TimestampCodec::ConstantDelta);
        assert!(bytes.len() < 32, "{} bytes", bytes.len());
        assert_eq!(decode_timestamps(codec, &bytes, 288).unwrap(), ts);
    }

    #[test]
    fn one_missed_sample_stays_compact() {
        let mut ts = fixed_interval(289, 1_700_000_000_000_000_000, 300_000_000_000);
        ts.remove(100);
        let (codec, bytes) = encode_timestamps(&ts).unwrap();
        assert_eq!(codec, TimestampCodec::DeltaOfDelta);
        // 17 bytes header, 9 chunk widths, and only the chunk(s) around the
        // gap carry wide values.
        assert!(bytes.len() < 17 + 9 + 2 * 32 * 6, "{} bytes", bytes.len());
        assert_eq!(decode_timestamps(codec, &bytes, 288).unwrap(), ts);
    }

    #[test]
    fn second_precision_wobble_uses_scale() {
        // 300 s samples written at second precision, sometimes a second
        // late: without the power-of-ten scale each delta-of-delta would
        // need ~32 bits.
        let mut t = 1_700_000_000 * 1_000_000_000i64;
        let ts: Vec<i64> = (0..288)
            .map(|i| {
                let v = t;
                t += if i % 7 == 3 { 301 } else { 300 } * 1_000_000_000;
                v
            })
            .collect();
        let (codec, bytes) = encode_timestamps(&ts).unwrap();
        assert_eq!(codec, TimestampCodec::DeltaOfDelta);
        assert_eq!(bytes[8], 9, "scale exponent");
        // 17 header bytes, then 9 chunks of 32 values at 2 bits + width.
        assert!(bytes.len() <= 17 + 9 * 9, "{} bytes", bytes.len());
        assert_eq!(decode_timestamps(codec, &bytes, 288).unwrap(), ts);
    }

    #[test]
    fn extremes_wrap() {
        let ts = vec![i64::MIN, i64::MAX, 0, i64::MIN, -1, i64::MAX];
        for c in ALL {
            if let Some(bytes) = encode_timestamps_with(c, &ts).unwrap() {
                assert_eq!(decode_timestamps(c, &bytes, 6).unwrap(), ts);
            }
        }
        let wrapping = vec![i64::MAX - 1, i64::MAX, i64::MIN, i64::MIN + 1];
        let (codec, bytes) = encode_timestamps(&wrapping).unwrap();
        assert_eq!(codec, TimestampCodec::ConstantDelta);
        assert_eq!(decode_timestamps(codec, &bytes, 4).unwrap(), wrapping);
    }

    #[test]
    fn rejects_bad_sections() {
        assert!(matches!(
            decode_timestamps(TimestampCodec::Raw, &[0; 7], 1),
            Err(CodecError::Truncated { .. })
        ));
        assert!(matches!(
            decode_timestamps(TimestampCodec::Raw, &[0; 9], 1),
            Err(CodecError::TrailingBytes { .. })
        ));
        assert!(matches!(
            decode_timestamps(TimestampCodec::ConstantDelta, &[0; 1], 0),
            Err(CodecError::TrailingBytes { .. })
        ));
        // Chunk width above 64: first, scale 0, first delta, width 65.
        let mut dod = vec![0u8; 17];
        dod.push(65);
        assert_eq!(
            decode_timestamps(TimestampCodec::DeltaOfDelta, &dod, 3),
            Err(CodecError::Invalid { what: "bit width" })
        );
        // Scale exponent above 18.
        let mut dod = vec![0u8; 8];
        dod.push(19);
        dod.extend_from_slice(&[0; 8]);
        assert_eq!(
            decode_timestamps(TimestampCodec::DeltaOfDelta, &dod, 2),
            Err(CodecError::Invalid {
                what: "delta-of-delta scale exponent"
            })
        );
        assert!(matches!(
            decode_timestamps(TimestampCodec::Raw, &[], MAX_BLOCK_POINTS_PLUS_ONE),
            Err(CodecError::TooManyValues { .. })
        ));
    }

    const MAX_BLOCK_POINTS_PLUS_ONE: u32 = super::super::MAX_BLOCK_POINTS + 1;

    fn timestamps() -> impl Strategy<Value = Vec<i64>> {
        prop_oneof![
            // Fixed interval with small jitter, the realistic shape.
            (
                any::<i32>(),
                1i64..1_000_000_000_000,
                0i64..1_000_000,
                proptest::collection::vec(any::<i64>(), 0..600),
            )
                .prop_map(|(start, step, jitter, noise)| {
                    noise
                        .iter()
                        .enumerate()
                        .map(|(i, n)| {
                            let j = if jitter == 0 { 0 } else { n.rem_euclid(jitter) };
                            i64::from(start) * 1_000_000_000 + i as i64 * step + j
                        })
                        .collect()
                }),
            // Second precision with occasional late samples.
            (
                any::<i32>(),
                1i64..3600,
                proptest::collection::vec(prop_oneof![4 => Just(0i64), 1 => -2i64..=2], 0..600),
            )
                .prop_map(|(start, step, wobble)| {
                    let mut t = i64::from(start) * 1_000_000_000;
                    wobble
                        .iter()
                        .map(|w| {
                            let v = t;
                            t += (step + w) * 1_000_000_000;
                            v
                        })
                        .collect()
                }),
            // Exactly fixed interval.
            (any::<i64>(), any::<i64>(), 0usize..600).prop_map(|(start, step, n)| {
                (0..n as i64)
                    .map(|i| start.wrapping_add(step.wrapping_mul(i)))
                    .collect()
            }),
            proptest::collection::vec(any::<i64>(), 0..3),
            proptest::collection::vec(any::<i64>(), 0..300),
            proptest::collection::vec(
                prop_oneof![Just(i64::MIN), Just(i64::MAX), Just(0i64), Just(-1i64)],
                0..100
            ),
        ]
    }

    /// The definition `common_scale` must equal: one pass per power of ten.
    fn common_scale_reference(deltas: &[i64]) -> (u8, i64) {
        let mut exp = 0;
        let mut scale: i64 = 1;
        while exp < MAX_SCALE_EXP {
            let next = scale * 10;
            if !deltas.iter().all(|d| d % next == 0) {
                break;
            }
            exp += 1;
            scale = next;
        }
        (exp, scale)
    }

    /// Deltas with varied trailing decimal zeros, zeros and extremes among them.
    fn scaled_deltas() -> impl Strategy<Value = Vec<i64>> {
        prop::collection::vec(
            prop_oneof![
                3 => (any::<i16>(), 0u32..=14).prop_map(|(m, k)| i64::from(m) * 10i64.pow(k)),
                1 => Just(0i64),
                1 => prop::sample::select(vec![i64::MIN, i64::MAX, -1, 10i64.pow(18)]),
            ],
            0..40,
        )
    }

    proptest! {
        #[test]
        fn common_scale_is_the_largest_power_dividing_every_delta(d in scaled_deltas()) {
            prop_assert_eq!(common_scale(&d), common_scale_reference(&d));
        }

        #[test]
        fn round_trip_every_codec(ts in timestamps()) {
            let count = ts.len() as u32;
            let (best, best_bytes) = encode_timestamps(&ts).unwrap();
            prop_assert_eq!(decode_timestamps(best, &best_bytes, count).unwrap(), ts.clone());
            for c in ALL {
                if let Some(bytes) = encode_timestamps_with(c, &ts).unwrap() {
                    prop_assert!(best_bytes.len() <= bytes.len());
                    prop_assert_eq!(decode_timestamps(c, &bytes, count).unwrap(), ts.clone());
                }
            }
            prop_assert!(best_bytes.len() <= ts.len() * 8);
        }

        #[test]
        fn random_bytes_never_panic(
            code in 1u8..=3,
            bytes in proptest::collection::vec(any::<u8>(), 0..400),
            count in prop_oneof![0u32..300, 0u32..=70_000],
        ) {
            let c = TimestampCodec::try_from_code(code).unwrap();
            if let Ok(out) = decode_timestamps(c, &bytes, count) {
                prop_assert_eq!(out.len(), count as usize);
            }
        }

        #[test]
        fn corrupted_sections_never_panic(
            ts in timestamps(),
            flips in proptest::collection::vec((any::<usize>(), 1u8..=255), 1..4),
            count_delta in -2i64..=2,
        ) {
            for c in ALL {
                let Some(mut bytes) = encode_timestamps_with(c, &ts).unwrap() else { continue };
                if bytes.is_empty() { continue; }
                for &(at, mask) in &flips {
                    let i = at % bytes.len();
                    bytes[i] ^= mask;
                }
                let count = (ts.len() as i64 + count_delta).max(0) as u32;
                if let Ok(out) = decode_timestamps(c, &bytes, count) {
                    prop_assert_eq!(out.len(), count as usize);
                }
            }
        }
    }
}
