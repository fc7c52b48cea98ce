//! Interned strings: each distinct string a reader meets gets a small number, so that string
//! values can be compared and counted (`COUNT(DISTINCT)`) as numbers. Owns nothing on disk.

use std::collections::HashMap;

use super::codec::{CodedStrings, ColumnValues};
use super::error::StorageError;

/// Numbers for strings, in the order they were first seen. Keys come from devices, so the map
/// keeps std's keyed hasher.
#[derive(Debug, Default)]
pub struct Interner {
    ids: HashMap<Box<str>, u32>,
}

impl Interner {
    /// An empty interner.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of `s`, given a new one the first time.
    ///
    /// # Errors
    /// More than `u32::MAX` distinct strings.
    pub fn id(&mut self, s: &str) -> Result<u32, StorageError> {
        if let Some(&id) = self.ids.get(s) {
            return Ok(id);
        }
        let id = u32::try_from(self.ids.len())
            .map_err(|_| StorageError::Invalid("too many distinct strings in one query".into()))?;
        self.ids.insert(s.into(), id);
        Ok(id)
    }

    /// How many distinct strings have numbers.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether no string has a number yet.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// A coded string section's values as their numbers: each entry is looked up once.
    pub(crate) fn intern_coded(
        &mut self,
        coded: &CodedStrings,
    ) -> Result<ColumnValues, StorageError> {
        let numbers = coded
            .entries
            .iter()
            .map(|e| self.id(e))
            .collect::<Result<Vec<u32>, _>>()?;
        coded
            .codes
            .iter()
            .map(|&c| {
                numbers
                    .get(c as usize)
                    .map(|&n| u64::from(n))
                    .ok_or_else(|| {
                        StorageError::Invalid("string dictionary code out of range".into())
                    })
            })
            .collect::<Result<Vec<u64>, _>>()
            .map(ColumnValues::Unsigned)
    }

    /// `values` as their numbers, for merging like any other column.
    pub(crate) fn intern_column(
        &mut self,
        values: &ColumnValues,
    ) -> Result<ColumnValues, StorageError> {
        let ColumnValues::String(strings) = values else {
            return Err(StorageError::Invalid(
                "stored columns of one field differ in type".into(),
            ));
        };
        strings
            .iter()
            .map(|s| self.id(s).map(u64::from))
            .collect::<Result<Vec<u64>, _>>()
            .map(ColumnValues::Unsigned)
    }
}

/// The points of one string series field with each value as its [`Interner`] number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InternedColumn {
    /// Timestamps, ns, ascending.
    pub ts: Vec<i64>,
    /// The number of the value at the same index.
    pub ids: Vec<u64>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn equal_strings_share_a_number_and_numbers_count_up() {
        let mut i = Interner::new();
        assert!(i.is_empty());
        assert_eq!(i.id("a4:5e:60:4f:2f:8f").unwrap(), 0);
        assert_eq!(i.id("").unwrap(), 1);
        assert_eq!(i.id("a4:5e:60:4f:2f:8f").unwrap(), 0);
        assert_eq!(i.id("b").unwrap(), 2);
        assert_eq!(i.len(), 3);
        let col = ColumnValues::String(vec!["b".into(), "c".into(), "".into()]);
        assert_eq!(
            i.intern_column(&col).unwrap(),
            ColumnValues::Unsigned(vec![2, 3, 1])
        );
        assert!(i.intern_column(&ColumnValues::Float(vec![1.0])).is_err());
    }
}
