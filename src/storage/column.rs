//! Typed columns of `(timestamp, value)` points and the operations sealing and reading need:
//! normalise (sort by time, a later write of the same timestamp wins), merge with priority,
//! slice and cut by time range. Every operation is one "gather by index" over the typed vector.

use super::codec::{ColumnValues, FieldType};
use super::point::FieldValue;

/// Points of one series field: `ts[i]` goes with value `i` of `values`.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Timestamps, ns.
    pub ts: Vec<i64>,
    /// Values, of the field's type.
    pub values: ColumnValues,
}

macro_rules! gather {
    ($sources:expr, $picks:expr, $($var:ident),+) => {{
        let sources: &[&ColumnValues] = $sources;
        match sources.first() {
            None => None,
            $(Some(ColumnValues::$var(_)) => {
                let mut vecs = Vec::with_capacity(sources.len());
                for s in sources {
                    match s {
                        ColumnValues::$var(v) => vecs.push(v),
                        _ => return None,
                    }
                }
                Some(ColumnValues::$var(
                    $picks.iter().map(|&(s, i)| vecs[s as usize][i as usize].clone()).collect(),
                ))
            })+
        }
    }};
}

/// Builds a column by picking `(source, index)` pairs; `None` when sources differ in type.
fn gather(sources: &[&ColumnValues], picks: &[(u8, u32)]) -> Option<ColumnValues> {
    gather!(sources, picks, Float, Integer, Unsigned, Boolean, String)
}

impl Column {
    /// An empty column of type `t`.
    pub fn empty(t: FieldType) -> Self {
        let values = match t {
            FieldType::Float => ColumnValues::Float(Vec::new()),
            FieldType::Integer => ColumnValues::Integer(Vec::new()),
            FieldType::Unsigned => ColumnValues::Unsigned(Vec::new()),
            FieldType::Boolean => ColumnValues::Boolean(Vec::new()),
            FieldType::String => ColumnValues::String(Vec::new()),
        };
        Column {
            ts: Vec::new(),
            values,
        }
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    /// Whether there are no points.
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    /// The column's type.
    pub fn field_type(&self) -> FieldType {
        self.values.field_type()
    }

    /// Appends a point; `false` (nothing appended) when the value has another type.
    pub(crate) fn push(&mut self, ts: i64, v: &FieldValue) -> bool {
        match (&mut self.values, v) {
            (ColumnValues::Float(c), FieldValue::Float(x)) => c.push(*x),
            (ColumnValues::Integer(c), FieldValue::Integer(x)) => c.push(*x),
            (ColumnValues::Unsigned(c), FieldValue::Unsigned(x)) => c.push(*x),
            (ColumnValues::Boolean(c), FieldValue::Boolean(x)) => c.push(*x),
            (ColumnValues::String(c), FieldValue::String(x)) => c.push(x.clone()),
            _ => return false,
        }
        self.ts.push(ts);
        true
    }

    /// The value at `i`.
    pub fn value(&self, i: usize) -> Option<FieldValue> {
        Some(match &self.values {
            ColumnValues::Float(v) => FieldValue::Float(*v.get(i)?),
            ColumnValues::Integer(v) => FieldValue::Integer(*v.get(i)?),
            ColumnValues::Unsigned(v) => FieldValue::Unsigned(*v.get(i)?),
            ColumnValues::Boolean(v) => FieldValue::Boolean(*v.get(i)?),
            ColumnValues::String(v) => FieldValue::String(v.get(i)?.clone()),
        })
    }

    fn with_picks(&self, ts: Vec<i64>, picks: &[(u8, u32)]) -> Column {
        let values = gather(&[&self.values], picks).unwrap_or_else(|| self.values.clone());
        Column { ts, values }
    }

    /// Whether timestamps strictly increase (sorted, no duplicates).
    pub fn is_normalized(&self) -> bool {
        self.ts.windows(2).all(|w| w[0] < w[1])
    }

    /// Sorted by time with one point per timestamp: the one appended last.
    pub fn normalized(&self) -> Column {
        if self.is_normalized() {
            return self.clone();
        }
        let mut idx: Vec<u32> = (0..self.ts.len() as u32).collect();
        // Stable: among equal timestamps the append order is kept, so the last one is newest.
        idx.sort_by_key(|&i| self.ts[i as usize]);
        let mut picks: Vec<(u8, u32)> = Vec::with_capacity(idx.len());
        let mut ts = Vec::with_capacity(idx.len());
        for i in idx {
            let t = self.ts[i as usize];
            if ts.last() == Some(&t) {
                if let Some(p) = picks.last_mut() {
                    *p = (0, i);
                }
            } else {
                ts.push(t);
                picks.push((0, i));
            }
        }
        self.with_picks(ts, &picks)
    }

    /// Merges two normalized columns; on equal timestamps `newer` wins. `None` on a type clash.
    pub fn merge(older: &Column, newer: &Column) -> Option<Column> {
        if older.is_empty() {
            return Some(newer.clone());
        }
        if newer.is_empty() {
            return Some(older.clone());
        }
        let (a, b) = (&older.ts, &newer.ts);
        let mut ts = Vec::with_capacity(a.len() + b.len());
        let mut picks = Vec::with_capacity(a.len() + b.len());
        let (mut i, mut j) = (0usize, 0usize);
        while i < a.len() || j < b.len() {
            if j >= b.len() || (i < a.len() && a[i] < b[j]) {
                ts.push(a[i]);
                picks.push((0u8, i as u32));
                i += 1;
            } else {
                if i < a.len() && a[i] == b[j] {
                    i += 1;
                }
                ts.push(b[j]);
                picks.push((1u8, j as u32));
                j += 1;
            }
        }
        let values = gather(&[&older.values, &newer.values], &picks)?;
        Some(Column { ts, values })
    }

    /// Appends `later` when all its points come after this column's last one and the types
    /// match (the common case when reading blocks in time order); gives it back otherwise.
    pub(crate) fn try_append(&mut self, later: Column) -> Result<(), Column> {
        let after = match (self.ts.last(), later.ts.first()) {
            (Some(a), Some(b)) => a < b,
            _ => true,
        };
        if !after {
            return Err(later);
        }
        match (&mut self.values, later.values) {
            (ColumnValues::Float(a), ColumnValues::Float(b)) => a.extend(b),
            (ColumnValues::Integer(a), ColumnValues::Integer(b)) => a.extend(b),
            (ColumnValues::Unsigned(a), ColumnValues::Unsigned(b)) => a.extend(b),
            (ColumnValues::Boolean(a), ColumnValues::Boolean(b)) => a.extend(b),
            (ColumnValues::String(a), ColumnValues::String(b)) => a.extend(b),
            (_, values) => {
                return Err(Column {
                    ts: later.ts,
                    values,
                });
            }
        }
        self.ts.extend(later.ts);
        Ok(())
    }

    /// Points with `lo <= ts <= hi` of a normalized column.
    pub fn range(&self, lo: i64, hi: i64) -> Column {
        let start = self.ts.partition_point(|&t| t < lo);
        let end = self.ts.partition_point(|&t| t <= hi);
        self.slice(start, end.max(start))
    }

    /// [`Column::range`] of an owned column: the points move (strings are not copied), and
    /// nothing moves at all when every point is in range.
    pub fn into_range(mut self, lo: i64, hi: i64) -> Column {
        let start = self.ts.partition_point(|&t| t < lo);
        let end = self.ts.partition_point(|&t| t <= hi).max(start);
        fn keep<T>(v: &mut Vec<T>, start: usize, end: usize) {
            v.truncate(end);
            v.drain(..start);
        }
        keep(&mut self.ts, start, end);
        match &mut self.values {
            ColumnValues::Float(v) => keep(v, start, end),
            ColumnValues::Integer(v) => keep(v, start, end),
            ColumnValues::Unsigned(v) => keep(v, start, end),
            ColumnValues::Boolean(v) => keep(v, start, end),
            ColumnValues::String(v) => keep(v, start, end),
        }
        self
    }

    /// Points `start..end` by position.
    pub fn slice(&self, start: usize, end: usize) -> Column {
        let picks: Vec<(u8, u32)> = (start..end).map(|i| (0, i as u32)).collect();
        self.with_picks(self.ts[start..end].to_vec(), &picks)
    }

    /// Points of a normalized column outside `lo..=hi`.
    pub fn without_range(&self, lo: i64, hi: i64) -> Column {
        let picks: Vec<(u8, u32)> = (0..self.ts.len())
            .filter(|&i| self.ts[i] < lo || self.ts[i] > hi)
            .map(|i| (0, i as u32))
            .collect();
        let ts = picks.iter().map(|&(_, i)| self.ts[i as usize]).collect();
        self.with_picks(ts, &picks)
    }

    /// Points whose timestamp satisfies `keep`.
    pub fn filter(&self, keep: impl Fn(i64) -> bool) -> Column {
        let picks: Vec<(u8, u32)> = (0..self.ts.len())
            .filter(|&i| keep(self.ts[i]))
            .map(|i| (0, i as u32))
            .collect();
        let ts = picks.iter().map(|&(_, i)| self.ts[i as usize]).collect();
        self.with_picks(ts, &picks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(ts: &[i64], v: &[f64]) -> Column {
        Column {
            ts: ts.to_vec(),
            values: ColumnValues::Float(v.to_vec()),
        }
    }

    #[test]
    fn normalize_keeps_the_last_write_of_a_timestamp() {
        let c = col(&[3, 1, 3, 2, 1], &[30.0, 10.0, 31.0, 20.0, 11.0]).normalized();
        assert_eq!(c, col(&[1, 2, 3], &[11.0, 20.0, 31.0]));
    }

    #[test]
    fn merge_prefers_newer_on_equal_timestamps() {
        let m = Column::merge(
            &col(&[1, 3, 5], &[1.0, 3.0, 5.0]),
            &col(&[2, 3, 6], &[2.5, 3.5, 6.5]),
        )
        .unwrap();
        assert_eq!(m, col(&[1, 2, 3, 5, 6], &[1.0, 2.5, 3.5, 5.0, 6.5]));
        let other = Column {
            ts: vec![1],
            values: ColumnValues::Integer(vec![1]),
        };
        assert!(Column::merge(&col(&[1], &[1.0]), &other).is_none());
    }

    #[test]
    fn appends_only_what_comes_after() {
        let mut a = col(&[1, 2], &[1.0, 2.0]);
        assert!(a.try_append(col(&[3, 4], &[3.0, 4.0])).is_ok());
        assert_eq!(a, col(&[1, 2, 3, 4], &[1.0, 2.0, 3.0, 4.0]));
        assert!(a.try_append(col(&[4, 5], &[4.5, 5.0])).is_err());
        let ints = Column {
            ts: vec![9],
            values: ColumnValues::Integer(vec![9]),
        };
        assert!(a.try_append(ints).is_err());
        assert_eq!(a.len(), 4);
    }

    #[test]
    fn range_and_cut() {
        let c = col(&[1, 2, 3, 4], &[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(c.range(2, 3), col(&[2, 3], &[2.0, 3.0]));
        assert_eq!(c.range(5, 9), col(&[], &[]));
        for (lo, hi) in [(2, 3), (5, 9), (0, 9), (-3, 0), (4, 4), (3, 2)] {
            assert_eq!(c.clone().into_range(lo, hi), c.range(lo, hi), "{lo}..={hi}");
        }
        let s = Column {
            ts: vec![1, 2, 3],
            values: ColumnValues::String(vec!["a".into(), "b".into(), "c".into()]),
        };
        assert_eq!(s.clone().into_range(2, 9), s.range(2, 9));
        assert_eq!(c.without_range(2, 3), col(&[1, 4], &[1.0, 4.0]));
        assert_eq!(c.filter(|t| t % 2 == 0), col(&[2, 4], &[2.0, 4.0]));
    }
}
