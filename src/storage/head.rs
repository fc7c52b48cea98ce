//! The head: points acknowledged (durable in the write-ahead log) but not yet sealed into
//! blocks, kept per series field as append-only typed columns.

use super::column::Column;
use super::hash::FastMap;
use super::point::FieldValue;

/// Identifies one stored column: retention policy, series and field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ColumnKey {
    pub(crate) rp: u32,
    pub(crate) series: u64,
    pub(crate) field: u32,
}

/// Unsealed points.
#[derive(Debug, Default)]
pub(crate) struct Head {
    pub(crate) columns: FastMap<ColumnKey, Column>,
    /// Approximate memory held, bytes.
    pub(crate) bytes: usize,
    /// Highest write-ahead log sequence number whose points are in this head.
    pub(crate) max_seq: u64,
}

/// Fixed cost of a column in the head's accounting (map entry, vectors).
const COLUMN_OVERHEAD: usize = 96;

impl Head {
    pub(crate) fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// Appends one value; `false` when the column holds another type (a bug upstream).
    pub(crate) fn push(&mut self, key: ColumnKey, ts: i64, v: &FieldValue) -> bool {
        let col = self.columns.entry(key).or_insert_with(|| {
            self.bytes += COLUMN_OVERHEAD;
            Column::empty(v.field_type())
        });
        let ok = col.push(ts, v);
        if ok {
            self.bytes += 16 + v.heap_bytes();
        }
        ok
    }

    /// The normalized points of `key` within `lo..=hi`.
    pub(crate) fn read(&self, key: &ColumnKey, lo: i64, hi: i64) -> Option<Column> {
        let c = self.columns.get(key)?;
        let r = c.normalized().into_range(lo, hi);
        (!r.is_empty()).then_some(r)
    }
}
