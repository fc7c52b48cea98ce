//! The property the fuzz target (`fuzz/fuzz_targets/storage_block.rs`) checks, shared with the
//! seed-replay test so CI runs the same property on every seed in `fuzz/seeds/block/`: the
//! column codecs and the stored block (codec block plus hourly rollups) that every sealed
//! point goes through. Not part of the API.

use super::column::Column;
use super::rollup::{
    decode_stored_block, encode_stored_block, hour_partials, stored_block_rollups,
    stored_block_summary,
};
use crate::storage::codec::{
    ColumnValues, block_count, block_summary, decode_block, decode_block_coded, encode_block,
};

/// Values equal, floats compared by their bits (NaN payloads and -0.0 must survive).
fn same(a: &ColumnValues, b: &ColumnValues) -> bool {
    match (a, b) {
        (ColumnValues::Float(x), ColumnValues::Float(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits())
        }
        _ => a == b,
    }
}

/// A column made of `data`: the first byte picks the type, the rest gives one value per 8
/// bytes (strings take 1–8 of them), and each value's timestamp steps up by an amount read
/// from the same bytes, so runs, repeats, gaps and extremes all occur.
fn column_of(data: &[u8]) -> Column {
    let (kind, rest) = match data.split_first() {
        Some((k, r)) => (*k, r),
        None => (0, &[][..]),
    };
    let words: Vec<u64> = rest
        .chunks(8)
        .map(|c| {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            u64::from_le_bytes(w)
        })
        .collect();
    let mut t: i64 = i64::from(kind) * 3_600_000_000_000 - 1_000_000_000_000_000_000;
    let ts: Vec<i64> = words
        .iter()
        .map(|w| {
            t = t.saturating_add(1 + i64::from((*w >> 40) as u16) * 1_000_000);
            t
        })
        .collect();
    let values = match kind % 5 {
        0 => ColumnValues::Float(words.iter().map(|w| f64::from_bits(*w)).collect()),
        1 => ColumnValues::Integer(words.iter().map(|w| *w as i64).collect()),
        2 => ColumnValues::Unsigned(words.clone()),
        3 => ColumnValues::Boolean(words.iter().map(|w| w & 1 == 1).collect()),
        _ => ColumnValues::String(
            words
                .iter()
                .map(|w| {
                    String::from_utf8_lossy(&w.to_le_bytes()[..(*w % 8) as usize]).into_owned()
                })
                .collect(),
        ),
    };
    Column { ts, values }
}

/// The coded string decoder must accept exactly the string blocks the plain one accepts and
/// expand to the same strings.
fn coded_agrees(data: &[u8]) -> Result<(), String> {
    let plain = decode_block(data);
    let coded = decode_block_coded(data);
    match (plain, coded) {
        (Ok((ts, ColumnValues::String(v))), Ok((cts, c))) => {
            let expanded: Option<Vec<&String>> =
                c.codes.iter().map(|&i| c.entries.get(i as usize)).collect();
            if cts != ts || expanded.is_none_or(|e| e.into_iter().ne(v.iter())) {
                return Err("coded strings differ from the decoded ones".to_owned());
            }
        }
        (Ok((_, ColumnValues::String(_))), Err(e)) => {
            return Err(format!("a string block the coded decoder refuses: {e}"));
        }
        (Ok(_), Ok(_)) => return Err("the coded decoder took a non-string block".to_owned()),
        // A dictionary whose expansion is too large is refused only when expanded.
        (Err(_), Ok(_)) | (Ok(_) | Err(_), Err(_)) => {}
    }
    Ok(())
}

/// Checks, for arbitrary bytes `data`:
/// - decoding them as a codec block or a stored block never panics; a block that decodes has
///   as many timestamps as values, its header and summary agree with it, and it re-encodes to
///   a block that decodes to the same points; the coded string decoder agrees with it;
/// - the column made of `data` (see [`column_of`]) encodes to a block and a stored block that
///   decode back to exactly its points, whose summary gives its type, count and time range,
///   and whose rollups are those of the column.
///
/// Returns whether `data` itself decoded as a block, or a description of the first
/// violation. Never panics itself, so a panic under the fuzzer is the codecs'.
pub fn block_property(data: &[u8]) -> Result<bool, String> {
    let decoded = match decode_block(data) {
        Ok((ts, values)) => {
            if ts.len() != values.len() {
                return Err(format!(
                    "{} timestamps for {} values",
                    ts.len(),
                    values.len()
                ));
            }
            let (ty, count) =
                block_count(data).map_err(|e| format!("count of a good block: {e}"))?;
            if ty != values.field_type() || count as usize != ts.len() {
                return Err(format!("header says {ty:?} x {count}"));
            }
            let again = encode_block(&ts, &values).map_err(|e| format!("re-encoding: {e}"))?;
            let (ts2, values2) = decode_block(&again).map_err(|e| format!("re-decoding: {e}"))?;
            if ts2 != ts || !same(&values, &values2) {
                return Err("a decoded block does not survive re-encoding".to_owned());
            }
            true
        }
        Err(_) => {
            let _ = block_summary(data);
            false
        }
    };
    coded_agrees(data)?;
    let _ = decode_stored_block(data);
    let _ = stored_block_summary(data);
    let _ = stored_block_rollups(data);

    let col = column_of(data);
    let block = encode_block(&col.ts, &col.values).map_err(|e| format!("encoding: {e}"))?;
    let (ts, values) = decode_block(&block).map_err(|e| format!("decoding: {e}"))?;
    coded_agrees(&block)?;
    if ts != col.ts || !same(&values, &col.values) {
        return Err(format!("{col:?} does not round-trip"));
    }
    let stored = encode_stored_block(&col).map_err(|e| format!("storing: {e}"))?;
    let back = decode_stored_block(&stored).map_err(|e| format!("reading stored: {e}"))?;
    if back.ts != col.ts || !same(&back.values, &col.values) {
        return Err(format!("{col:?} does not round-trip as a stored block"));
    }
    let summary = stored_block_summary(&stored).map_err(|e| format!("summary: {e}"))?;
    let range = col.ts.first().zip(col.ts.last()).map(|(a, b)| (*a, *b));
    if summary.count as usize != col.ts.len()
        || summary.field_type != col.values.field_type()
        || summary.time_range != range
    {
        return Err(format!("summary {summary:?} of {col:?}"));
    }
    let rollups = stored_block_rollups(&stored).map_err(|e| format!("rollups: {e}"))?;
    // Compared through Debug: NaN sums and extremes are equal there, not under `==`.
    let expected = hour_partials(&col).filter(|p| !p.is_empty());
    if format!("{rollups:?}") != format!("{expected:?}") {
        return Err(format!("rollups {rollups:?} of {col:?}"));
    }
    Ok(decoded)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Every seed, and the codec block and stored block of every seed's column (so the
    /// decoders see well-formed input too, not only what fails its checks).
    #[test]
    fn seeds_satisfy_the_fuzz_property() {
        let files = crate::seeds::files("block", 9);
        let mut blocks = 0;
        for (path, bytes) in &files {
            let fail = |e: String| -> ! { panic!("{}: {e}", path.display()) };
            blocks += usize::from(block_property(bytes).unwrap_or_else(|e| fail(e)));
            let col = column_of(bytes);
            let block = encode_block(&col.ts, &col.values).unwrap();
            assert!(block_property(&block).unwrap_or_else(|e| fail(e)));
            block_property(&encode_stored_block(&col).unwrap()).unwrap_or_else(|e| fail(e));
            // A flipped bit anywhere is caught, never decoded into other points.
            for i in 0..block.len() {
                let mut bad = block.clone();
                bad[i] ^= 0x10;
                if let Ok((ts, values)) = decode_block(&bad) {
                    assert!(
                        ts == col.ts && same(&values, &col.values),
                        "{}: bit {i}",
                        path.display()
                    );
                }
            }
        }
        assert!(blocks >= 3, "seeds should hold real blocks ({blocks})");
    }
}
