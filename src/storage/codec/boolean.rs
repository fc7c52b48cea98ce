//! Boolean column codecs.

use super::bits::{self, BitReader, BitWriter, ByteReader};
use super::{CodecError, check_decode_count, check_encode_len, smallest};

/// How a boolean section is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum BooleanCodec {
    /// One bit per value.
    Bitmap = 1,
    /// One value repeated.
    Constant = 2,
}

impl BooleanCodec {
    /// Candidates in tie-breaking order: cheapest to decode first.
    const PREFERENCE: [Self; 2] = [Self::Constant, Self::Bitmap];

    /// The tag stored on disk.
    pub const fn to_code(self) -> u8 {
        self as u8
    }

    /// Parses a stored tag, or `None` if unknown.
    pub const fn try_from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::Bitmap),
            2 => Some(Self::Constant),
            _ => None,
        }
    }
}

/// Encodes with the smallest applicable codec.
pub fn encode_booleans(values: &[bool]) -> Result<(BooleanCodec, Vec<u8>), CodecError> {
    check_encode_len(values.len())?;
    smallest(&BooleanCodec::PREFERENCE, |codec| {
        encode_with(codec, values)
    })
}

/// Encodes with one codec; `Ok(None)` if it cannot represent `values`.
pub fn encode_booleans_with(
    codec: BooleanCodec,
    values: &[bool],
) -> Result<Option<Vec<u8>>, CodecError> {
    check_encode_len(values.len())?;
    Ok(encode_with(codec, values))
}

fn encode_with(codec: BooleanCodec, values: &[bool]) -> Option<Vec<u8>> {
    match codec {
        BooleanCodec::Bitmap => {
            let mut writer = BitWriter::with_capacity(values.len().div_ceil(8));
            for &v in values {
                writer.write_bit(v);
            }
            Some(writer.finish())
        }
        BooleanCodec::Constant => match values.first() {
            None => Some(Vec::new()),
            Some(&first) if values.iter().all(|&v| v == first) => Some(vec![u8::from(first)]),
            Some(_) => None,
        },
    }
}

/// Decodes exactly `count` booleans from a section written by `codec`.
pub fn decode_booleans(
    codec: BooleanCodec,
    bytes: &[u8],
    count: u32,
) -> Result<Vec<bool>, CodecError> {
    let count = check_decode_count(count)?;
    if count == 0 {
        bits::expect_empty(bytes, "empty boolean section")?;
        return Ok(Vec::new());
    }
    match codec {
        BooleanCodec::Bitmap => {
            const WHAT: &str = "boolean bitmap";
            let mut reader = BitReader::new(bytes);
            let mut out = Vec::with_capacity(count);
            for _ in 0..count {
                out.push(reader.read_bit(WHAT)?);
            }
            reader.finish(WHAT)?;
            Ok(out)
        }
        BooleanCodec::Constant => {
            let mut reader = ByteReader::new(bytes);
            let value = match reader.read_u8("constant boolean")? {
                0 => false,
                1 => true,
                _ => {
                    return Err(CodecError::Invalid {
                        what: "constant boolean byte",
                    });
                }
            };
            reader.finish("constant boolean")?;
            Ok(vec![value; count])
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ALL: [BooleanCodec; 2] = BooleanCodec::PREFERENCE;

    #[test]
    fn codes_round_trip() {
        for c in ALL {
            assert_eq!(BooleanCodec::try_from_code(c.to_code()), Some(c));
        }
        assert_eq!(BooleanCodec::try_from_code(0), None);
        assert_eq!(BooleanCodec::try_from_code(3), None);
    }

    #[test]
    fn sizes() {
        let (c, b) = encode_booleans(&[true; 288]).unwrap();
        assert_eq!((c, b.len()), (BooleanCodec::Constant, 1));
        let mut v = vec![true; 288];
        v[7] = false;
        let (c, b) = encode_booleans(&v).unwrap();
        assert_eq!((c, b.len()), (BooleanCodec::Bitmap, 36));
        assert_eq!(decode_booleans(c, &b, 288).unwrap(), v);
    }

    #[test]
    fn rejects_bad_sections() {
        assert_eq!(
            decode_booleans(BooleanCodec::Constant, &[2], 5),
            Err(CodecError::Invalid {
                what: "constant boolean byte"
            })
        );
        // Padding bits beyond the 3 values must be zero.
        assert!(decode_booleans(BooleanCodec::Bitmap, &[0b1000], 3).is_err());
        assert!(decode_booleans(BooleanCodec::Bitmap, &[0b101], 3).is_ok());
    }

    fn booleans() -> impl Strategy<Value = Vec<bool>> {
        prop_oneof![
            (any::<bool>(), 0usize..500).prop_map(|(v, n)| vec![v; n]),
            proptest::collection::vec(0u8..50, 0..500)
                .prop_map(|v| v.into_iter().map(|x| x != 0).collect()),
            proptest::collection::vec(any::<bool>(), 0..500),
        ]
    }

    proptest! {
        #[test]
        fn round_trip_every_codec(v in booleans()) {
            let count = v.len() as u32;
            let (best, best_bytes) = encode_booleans(&v).unwrap();
            prop_assert_eq!(decode_booleans(best, &best_bytes, count).unwrap(), v.clone());
            for c in ALL {
                if let Some(bytes) = encode_booleans_with(c, &v).unwrap() {
                    prop_assert!(best_bytes.len() <= bytes.len());
                    prop_assert_eq!(decode_booleans(c, &bytes, count).unwrap(), v.clone());
                }
            }
        }

        #[test]
        fn random_bytes_never_panic(
            code in 1u8..=2,
            bytes in proptest::collection::vec(any::<u8>(), 0..100),
            count in prop_oneof![0u32..800, 0u32..=70_000],
        ) {
            let c = BooleanCodec::try_from_code(code).unwrap();
            if let Ok(out) = decode_booleans(c, &bytes, count) {
                prop_assert_eq!(out.len(), count as usize);
            }
        }
    }
}
