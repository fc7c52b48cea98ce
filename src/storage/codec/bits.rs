//! Bit and byte level helpers shared by the column codecs.
//!
//! Bits are packed least-significant first: the first bit written lands in
//! bit 0 of byte 0. A value of `w` bits occupies the next `w` bit positions,
//! its own bit 0 first. Streams are padded with zero bits to a whole byte.

use super::{CodecError, MAX_BLOCK_POINTS};

/// Number of bits needed to represent `value` (0 for 0).
pub(super) fn bit_width(value: u64) -> u32 {
    u64::BITS - value.leading_zeros()
}

/// Maps signed to unsigned so that small magnitudes get small codes.
pub(super) fn zigzag_encode(value: i64) -> u64 {
    ((value as u64) << 1) ^ ((value >> 63) as u64)
}

/// Inverse of [`zigzag_encode`]; total over all inputs.
pub(super) fn zigzag_decode(code: u64) -> i64 {
    ((code >> 1) as i64) ^ -((code & 1) as i64)
}

/// Keeps the low `width` bits of `value` (`width` in `0..=64`).
fn low_bits(value: u64, width: u32) -> u64 {
    if width >= 64 {
        value
    } else {
        value & ((1u64 << width) - 1)
    }
}

/// Appends bit fields of up to 64 bits to a growing byte buffer.
pub(super) struct BitWriter {
    bytes: Vec<u8>,
    // A u128 accumulator can hold the <8 pending bits plus a full 64-bit
    // field, so no write ever has to be split.
    acc: u128,
    acc_bits: u32,
}

impl BitWriter {
    /// Creates a writer whose output buffer starts with `bytes` of capacity.
    pub(super) fn with_capacity(bytes: usize) -> Self {
        Self {
            bytes: Vec::with_capacity(bytes),
            acc: 0,
            acc_bits: 0,
        }
    }

    /// Writes the low `width` bits of `value`; `width` must be at most 64.
    pub(super) fn write_bits(&mut self, value: u64, width: u32) {
        // Widths come from the encoders' own arithmetic, never from input
        // bytes, so an out-of-range width is a bug in this module.
        debug_assert!(width <= 64, "bit width {width} out of range");
        let width = width.min(64);
        if width == 0 {
            return;
        }
        self.acc |= u128::from(low_bits(value, width)) << self.acc_bits;
        self.acc_bits += width;
        while self.acc_bits >= 8 {
            // Truncation to the low byte is the point here.
            self.bytes.push(self.acc as u8);
            self.acc >>= 8;
            self.acc_bits -= 8;
        }
    }

    /// Writes a single bit.
    pub(super) fn write_bit(&mut self, bit: bool) {
        self.write_bits(u64::from(bit), 1);
    }

    /// Pads the last partial byte with zero bits and returns the buffer.
    pub(super) fn finish(mut self) -> Vec<u8> {
        if self.acc_bits > 0 {
            self.bytes.push(self.acc as u8);
        }
        self.bytes
    }
}

/// Reads bit fields written by [`BitWriter`] from a byte slice.
pub(super) struct BitReader<'a> {
    bytes: &'a [u8],
    bit_pos: u64,
}

impl<'a> BitReader<'a> {
    /// Starts reading at the first bit of `bytes`.
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, bit_pos: 0 }
    }

    fn total_bits(&self) -> u64 {
        (self.bytes.len() as u64).saturating_mul(8)
    }

    /// Reads a `width`-bit field (`0..=64`), or fails if the input runs out.
    pub(super) fn read_bits(&mut self, width: u32, what: &'static str) -> Result<u64, CodecError> {
        if width == 0 {
            return Ok(0);
        }
        if width > 64 {
            return Err(CodecError::Invalid { what: "bit width" });
        }
        let remaining = self.total_bits().saturating_sub(self.bit_pos);
        if u64::from(width) > remaining {
            return Err(CodecError::Truncated { what });
        }
        let start =
            usize::try_from(self.bit_pos / 8).map_err(|_| CodecError::Truncated { what })?;
        let shift = (self.bit_pos % 8) as u32;
        // At most 9 bytes: 7 bits of offset plus 64 bits of field.
        let span = (shift + width).div_ceil(8) as usize;
        let end = start
            .checked_add(span)
            .ok_or(CodecError::Truncated { what })?;
        let window = self
            .bytes
            .get(start..end)
            .ok_or(CodecError::Truncated { what })?;
        let mut acc: u128 = 0;
        for (i, &byte) in window.iter().enumerate() {
            acc |= u128::from(byte) << (8 * i);
        }
        self.bit_pos += u64::from(width);
        Ok(low_bits((acc >> shift) as u64, width))
    }

    /// Reads one bit.
    pub(super) fn read_bit(&mut self, what: &'static str) -> Result<bool, CodecError> {
        Ok(self.read_bits(1, what)? == 1)
    }

    /// Whole bytes touched so far (a partially read byte counts).
    pub(super) fn bytes_consumed(&self) -> usize {
        // bit_pos never exceeds total_bits, which came from a usize.
        (self.bit_pos.div_ceil(8)) as usize
    }

    /// Requires that only zero padding bits remain after the last field.
    ///
    /// Rejecting trailing garbage keeps every byte string decodable in at
    /// most one way, so corruption is reported instead of silently ignored.
    pub(super) fn finish(&self, what: &'static str) -> Result<(), CodecError> {
        let consumed = self.bytes_consumed();
        if consumed < self.bytes.len() {
            return Err(CodecError::TrailingBytes {
                what,
                count: (self.bytes.len() - consumed) as u64,
            });
        }
        let used_in_last = (self.bit_pos % 8) as u32;
        if used_in_last != 0 {
            let last = self.bytes.last().copied().unwrap_or(0);
            if last >> used_in_last != 0 {
                return Err(CodecError::Invalid {
                    what: "nonzero padding bits",
                });
            }
        }
        Ok(())
    }
}

/// Appends `values` packed at `width` bits each, padded to a whole byte.
pub(super) fn pack(values: &[u64], width: u32, out: &mut Vec<u8>) {
    let bits = (values.len() as u64).saturating_mul(u64::from(width));
    let mut writer = BitWriter::with_capacity(bits.div_ceil(8) as usize);
    for &value in values {
        writer.write_bits(value, width);
    }
    out.extend_from_slice(&writer.finish());
}

/// Reads `count` values of `width` bits from the start of `bytes`.
///
/// Returns the values and the number of bytes they occupied (including
/// padding), so callers can continue parsing after them.
pub(super) fn unpack(
    bytes: &[u8],
    count: usize,
    width: u32,
    what: &'static str,
) -> Result<(Vec<u64>, usize), CodecError> {
    // No more than the input can hold (a zero width holds any count; `unpack_with` bounds it).
    let fits = match width {
        0 => count,
        w => bytes.len().saturating_mul(8) / w as usize,
    };
    let mut values = Vec::with_capacity(count.min(fits).min(MAX_BLOCK_POINTS as usize));
    let used = unpack_with(bytes, count, width, what, |v| values.push(v))?;
    Ok((values, used))
}

/// [`unpack`] handing each value to `each` instead of collecting them. Returns the bytes used.
pub(super) fn unpack_with(
    bytes: &[u8],
    count: usize,
    width: u32,
    what: &'static str,
    mut each: impl FnMut(u64),
) -> Result<usize, CodecError> {
    if width > 64 {
        return Err(CodecError::Invalid { what: "bit width" });
    }
    // Callers already bound `count`; repeating the check here keeps a
    // zero-width field from ever turning into a huge loop or allocation.
    if count as u64 > u64::from(MAX_BLOCK_POINTS) {
        return Err(CodecError::TooManyValues {
            count: count as u64,
            max: MAX_BLOCK_POINTS,
        });
    }
    // Check the input is long enough before allocating for `count` values.
    let bits = (count as u64)
        .checked_mul(u64::from(width))
        .ok_or(CodecError::Invalid { what })?;
    let len = usize::try_from(bits.div_ceil(8)).map_err(|_| CodecError::Truncated { what })?;
    let packed = bytes.get(..len).ok_or(CodecError::Truncated { what })?;
    if width == 0 {
        for _ in 0..count {
            each(0);
        }
    } else if width <= 56 {
        // Fast path: a field of at most 56 bits starting at bit offset 0..=7 lies inside the
        // little-endian 8-byte word at its first byte; the last words are zero-extended.
        let mask = (1u64 << width) - 1;
        let mut bit = 0u64;
        for _ in 0..count {
            // bit < count * width <= len * 8, so the byte index fits and is in range.
            let at = (bit / 8) as usize;
            let word = match packed.get(at..at + 8) {
                Some(w) => {
                    u64::from_le_bytes(w.try_into().map_err(|_| CodecError::Truncated { what })?)
                }
                None => {
                    let rest = packed.get(at..).unwrap_or(&[]);
                    let mut w = [0u8; 8];
                    w[..rest.len()].copy_from_slice(rest);
                    u64::from_le_bytes(w)
                }
            };
            each((word >> (bit % 8)) & mask);
            bit += u64::from(width);
        }
        let used_in_last = (bits % 8) as u32;
        if used_in_last != 0 && packed.last().is_some_and(|&b| b >> used_in_last != 0) {
            return Err(CodecError::Invalid {
                what: "nonzero padding bits",
            });
        }
    } else {
        let mut reader = BitReader::new(packed);
        for _ in 0..count {
            each(reader.read_bits(width, what)?);
        }
        reader.finish(what)?;
    }
    Ok(len)
}

/// Sequential reader of fixed-width little-endian fields.
pub(super) struct ByteReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> ByteReader<'a> {
    /// Starts reading at the beginning of `bytes`.
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    /// Takes the next `len` bytes.
    pub(super) fn take(&mut self, len: usize, what: &'static str) -> Result<&'a [u8], CodecError> {
        let end = self
            .pos
            .checked_add(len)
            .ok_or(CodecError::Truncated { what })?;
        let slice = self
            .bytes
            .get(self.pos..end)
            .ok_or(CodecError::Truncated { what })?;
        self.pos = end;
        Ok(slice)
    }

    fn take_array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], CodecError> {
        self.take(N, what)?
            .try_into()
            .map_err(|_| CodecError::Truncated { what })
    }

    /// Reads one byte.
    pub(super) fn read_u8(&mut self, what: &'static str) -> Result<u8, CodecError> {
        Ok(self.take_array::<1>(what)?[0])
    }

    /// Reads a little-endian `u32`.
    pub(super) fn read_u32(&mut self, what: &'static str) -> Result<u32, CodecError> {
        Ok(u32::from_le_bytes(self.take_array(what)?))
    }

    /// Reads a little-endian `u64`.
    pub(super) fn read_u64(&mut self, what: &'static str) -> Result<u64, CodecError> {
        Ok(u64::from_le_bytes(self.take_array(what)?))
    }

    /// Everything not read yet (does not advance).
    pub(super) fn rest(&self) -> &'a [u8] {
        self.bytes.get(self.pos..).unwrap_or(&[])
    }

    /// Skips `len` bytes that were parsed through [`Self::rest`].
    pub(super) fn advance(&mut self, len: usize, what: &'static str) -> Result<(), CodecError> {
        self.take(len, what).map(|_| ())
    }

    /// Requires that every byte has been read.
    pub(super) fn finish(&self, what: &'static str) -> Result<(), CodecError> {
        let left = self.bytes.len().saturating_sub(self.pos);
        if left == 0 {
            Ok(())
        } else {
            Err(CodecError::TrailingBytes {
                what,
                count: left as u64,
            })
        }
    }
}

/// Requires an empty section, as every codec writes for zero values.
pub(super) fn expect_empty(bytes: &[u8], what: &'static str) -> Result<(), CodecError> {
    ByteReader::new(bytes).finish(what)
}

/// Decodes exactly `count` little-endian `u64` words filling all of `bytes`.
pub(super) fn read_u64_words(
    bytes: &[u8],
    count: usize,
    what: &'static str,
) -> Result<Vec<u64>, CodecError> {
    let need = count.checked_mul(8).ok_or(CodecError::Invalid { what })?;
    if bytes.len() < need {
        return Err(CodecError::Truncated { what });
    }
    if bytes.len() > need {
        return Err(CodecError::TrailingBytes {
            what,
            count: (bytes.len() - need) as u64,
        });
    }
    let mut reader = ByteReader::new(bytes);
    let mut words = Vec::with_capacity(count);
    for _ in 0..count {
        words.push(reader.read_u64(what)?);
    }
    Ok(words)
}

/// Appends each word as 8 little-endian bytes.
pub(super) fn write_u64_words(words: impl IntoIterator<Item = u64>, out: &mut Vec<u8>) {
    for word in words {
        out.extend_from_slice(&word.to_le_bytes());
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn zigzag_extremes() {
        for v in [0i64, -1, 1, i64::MIN, i64::MAX, i64::MIN + 1, i64::MAX - 1] {
            assert_eq!(zigzag_decode(zigzag_encode(v)), v);
        }
        assert_eq!(zigzag_encode(0), 0);
        assert_eq!(zigzag_encode(-1), 1);
        assert_eq!(zigzag_encode(1), 2);
        assert_eq!(zigzag_encode(i64::MIN), u64::MAX);
    }

    #[test]
    fn bit_width_edges() {
        assert_eq!(bit_width(0), 0);
        assert_eq!(bit_width(1), 1);
        assert_eq!(bit_width(255), 8);
        assert_eq!(bit_width(256), 9);
        assert_eq!(bit_width(u64::MAX), 64);
    }

    #[test]
    fn reader_rejects_overrun_and_padding() {
        let mut r = BitReader::new(&[0xFF]);
        assert!(r.read_bits(9, "x").is_err());
        assert_eq!(r.read_bits(3, "x").unwrap(), 7);
        assert!(matches!(r.finish("x"), Err(CodecError::Invalid { .. })));
        let r = BitReader::new(&[0, 0]);
        assert!(matches!(
            r.finish("x"),
            Err(CodecError::TrailingBytes { .. })
        ));
    }

    proptest! {
        #[test]
        fn zigzag_round_trip(v in any::<i64>()) {
            prop_assert_eq!(zigzag_decode(zigzag_encode(v)), v);
        }

        #[test]
        fn bits_round_trip(fields in proptest::collection::vec((any::<u64>(), 0u32..=64), 0..200)) {
            let mut w = BitWriter::with_capacity(0);
            for &(v, width) in &fields {
                w.write_bits(v, width);
            }
            let bytes = w.finish();
            let mut r = BitReader::new(&bytes);
            for &(v, width) in &fields {
                prop_assert_eq!(r.read_bits(width, "t").unwrap(), low_bits(v, width));
            }
            prop_assert!(r.finish("t").is_ok());
        }

        #[test]
        fn pack_round_trip(values in proptest::collection::vec(any::<u64>(), 0..300), shift in 0u32..64) {
            let values: Vec<u64> = values.iter().map(|v| v >> shift).collect();
            let width = values.iter().map(|&v| bit_width(v)).max().unwrap_or(0);
            let mut out = Vec::new();
            pack(&values, width, &mut out);
            let (back, used) = unpack(&out, values.len(), width, "t").unwrap();
            prop_assert_eq!(used, out.len());
            prop_assert_eq!(back, values);
        }

        #[test]
        fn unpack_equals_reading_field_by_field(
            bytes in proptest::collection::vec(any::<u8>(), 0..80),
            count in 0usize..100,
            width in 0u32..=66,
        ) {
            // The word-at-a-time path must accept and reject exactly what a field-by-field
            // reader does, with the same values.
            let reference = (|| {
                let len = ((count as u64 * u64::from(width)).div_ceil(8)) as usize;
                if width > 64 {
                    return Err(());
                }
                let packed = bytes.get(..len).ok_or(())?;
                let mut r = BitReader::new(packed);
                let v = (0..count)
                    .map(|_| r.read_bits(width, "t").map_err(|_| ()))
                    .collect::<Result<Vec<u64>, ()>>()?;
                r.finish("t").map_err(|_| ())?;
                Ok((v, len))
            })();
            prop_assert_eq!(unpack(&bytes, count, width, "t").map_err(|_| ()), reference);
        }

        #[test]
        fn unpack_random_bytes_never_panics(
            bytes in proptest::collection::vec(any::<u8>(), 0..64),
            count in 0usize..600,
            width in 0u32..=80,
        ) {
            if let Ok((values, used)) = unpack(&bytes, count, width, "t") {
                prop_assert_eq!(values.len(), count);
                prop_assert!(used <= bytes.len());
            }
        }
    }
}
