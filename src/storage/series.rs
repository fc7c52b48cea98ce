//! The series index: series key ↔ id, and per measurement the tag key → tag value → series
//! postings that `SHOW TAG VALUES` and tag filters read.
//!
//! Kept in memory (built at open from the `ts_series` tree), persisted one key per series:
//! ```text
//! ts_series: db id u32 BE | canonical series key bytes  ->  SeriesRecord (record encoding)
//! ```
//! The canonical series key is InfluxDB's: `measurement,k1=v1,k2=v2` with tags sorted by key
//! and line-protocol escaping, so it is unambiguous and what `SHOW SERIES` prints.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use super::hash::FastMap;
use super::record::Record;

/// Id of a series, unique in the engine.
pub type SeriesId = u64;

/// A series as stored.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub(crate) struct SeriesRecord {
    /// Its id.
    pub id: SeriesId,
    /// Measurement name.
    pub measurement: String,
    /// Tags sorted by key.
    pub tags: Vec<(String, String)>,
}

impl Record for SeriesRecord {
    const TREE: &'static str = "ts_series";
    const VERSION: u8 = 1;
}

/// A series known to the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesInfo {
    /// Its id.
    pub id: SeriesId,
    /// Database id.
    pub db: u32,
    /// Measurement name.
    pub measurement: String,
    /// Tags sorted by key.
    pub tags: Vec<(String, String)>,
    /// Canonical key.
    pub key: String,
}

impl SeriesInfo {
    /// The value of tag `key`, if the series has it.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
            .ok()
            .map(|i| self.tags[i].1.as_str())
    }
}

fn escape_into(out: &mut String, s: &str, specials: &[char]) {
    // Most names need no escaping: copy them whole.
    if !s.contains(specials) {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        if specials.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
}

/// The canonical series key of a measurement and tags already sorted by key.
pub fn series_key(measurement: &str, sorted_tags: &[(String, String)]) -> String {
    let mut s = String::with_capacity(measurement.len() + sorted_tags.len() * 16);
    escape_into(&mut s, measurement, &[',', ' ']);
    for (k, v) in sorted_tags {
        s.push(',');
        escape_into(&mut s, k, &[',', '=', ' ']);
        s.push('=');
        escape_into(&mut s, v, &[',', '=', ' ']);
    }
    s
}

/// The key under which a series is persisted.
pub(crate) fn storage_key(db: u32, key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(4 + key.len());
    k.extend_from_slice(&db.to_be_bytes());
    k.extend_from_slice(key.as_bytes());
    k
}

#[derive(Debug, Default)]
pub(crate) struct MeasurementPostings {
    pub(crate) all: BTreeSet<SeriesId>,
    pub(crate) tags: BTreeMap<String, BTreeMap<String, BTreeSet<SeriesId>>>,
}

/// The in-memory series index.
#[derive(Debug, Default)]
pub(crate) struct SeriesIndex {
    by_key: HashMap<u32, FastMap<String, SeriesId>>,
    by_id: HashMap<SeriesId, Arc<SeriesInfo>>,
    postings: HashMap<(u32, String), MeasurementPostings>,
    per_db: HashMap<u32, usize>,
    next_id: SeriesId,
    /// Series created since the last persist.
    pub(crate) unpersisted: Vec<SeriesId>,
}

impl SeriesIndex {
    pub(crate) fn new() -> Self {
        SeriesIndex {
            next_id: 1,
            ..Default::default()
        }
    }

    fn insert(&mut self, info: SeriesInfo) {
        let id = info.id;
        let p = self
            .postings
            .entry((info.db, info.measurement.clone()))
            .or_default();
        p.all.insert(id);
        for (k, v) in &info.tags {
            p.tags
                .entry(k.clone())
                .or_default()
                .entry(v.clone())
                .or_default()
                .insert(id);
        }
        *self.per_db.entry(info.db).or_default() += 1;
        self.by_key
            .entry(info.db)
            .or_default()
            .insert(info.key.clone(), id);
        self.next_id = self.next_id.max(id + 1);
        self.by_id.insert(id, Arc::new(info));
    }

    /// Adds a series read back from storage.
    pub(crate) fn load(&mut self, db: u32, r: SeriesRecord) {
        let key = series_key(&r.measurement, &r.tags);
        self.insert(SeriesInfo {
            id: r.id,
            db,
            measurement: r.measurement,
            tags: r.tags,
            key,
        });
    }

    /// The id of the series, creating it when new (unless the database has `max_series`).
    /// `None` when the limit refuses a new series.
    pub(crate) fn get_or_create(
        &mut self,
        db: u32,
        measurement: &str,
        sorted_tags: &[(String, String)],
        max_series: usize,
    ) -> Option<SeriesId> {
        let key = series_key(measurement, sorted_tags);
        if let Some(id) = self.by_key.get(&db).and_then(|m| m.get(key.as_str())) {
            return Some(*id);
        }
        if self.per_db.get(&db).copied().unwrap_or(0) >= max_series {
            return None;
        }
        let id = self.next_id;
        self.insert(SeriesInfo {
            id,
            db,
            measurement: measurement.to_owned(),
            tags: sorted_tags.to_vec(),
            key,
        });
        self.unpersisted.push(id);
        Some(id)
    }

    pub(crate) fn get(&self, id: SeriesId) -> Option<&Arc<SeriesInfo>> {
        self.by_id.get(&id)
    }

    pub(crate) fn postings(&self, db: u32, measurement: &str) -> Option<&MeasurementPostings> {
        self.postings.get(&(db, measurement.to_owned()))
    }

    /// Measurements of a database that have series.
    pub(crate) fn measurements(&self, db: u32) -> BTreeSet<String> {
        self.postings
            .iter()
            .filter(|((d, _), p)| *d == db && !p.all.is_empty())
            .map(|((_, m), _)| m.clone())
            .collect()
    }

    /// Removes a series from every structure; returns it.
    pub(crate) fn remove(&mut self, id: SeriesId) -> Option<Arc<SeriesInfo>> {
        let info = self.by_id.remove(&id)?;
        if let Some(m) = self.by_key.get_mut(&info.db) {
            m.remove(info.key.as_str());
        }
        if let Some(n) = self.per_db.get_mut(&info.db) {
            *n = n.saturating_sub(1);
        }
        let pk = (info.db, info.measurement.clone());
        if let Some(p) = self.postings.get_mut(&pk) {
            p.all.remove(&id);
            for (k, v) in &info.tags {
                if let Some(vals) = p.tags.get_mut(k) {
                    if let Some(ids) = vals.get_mut(v) {
                        ids.remove(&id);
                        if ids.is_empty() {
                            vals.remove(v);
                        }
                    }
                    if vals.is_empty() {
                        p.tags.remove(k);
                    }
                }
            }
            if p.all.is_empty() {
                self.postings.remove(&pk);
            }
        }
        self.unpersisted.retain(|s| *s != id);
        Some(info)
    }

    /// Every series id of a database.
    pub(crate) fn of_database(&self, db: u32) -> Vec<SeriesId> {
        self.by_id
            .values()
            .filter(|s| s.db == db)
            .map(|s| s.id)
            .collect()
    }

    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(t: &[(&str, &str)]) -> Vec<(String, String)> {
        t.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()
    }

    #[test]
    fn series_key_is_canonical_and_escaped() {
        assert_eq!(series_key("cpu", &[]), "cpu");
        assert_eq!(
            series_key("my m,x", &tags(&[("a b", "c=d"), ("z", "1,2")])),
            "my\\ m\\,x,a\\ b=c\\=d,z=1\\,2"
        );
    }

    #[test]
    fn index_assigns_ids_postings_and_removes() {
        let mut ix = SeriesIndex::new();
        let a = ix
            .get_or_create(1, "ping", &tags(&[("host", "a")]), 10)
            .unwrap();
        let b = ix
            .get_or_create(1, "ping", &tags(&[("host", "b")]), 10)
            .unwrap();
        assert_eq!(
            ix.get_or_create(1, "ping", &tags(&[("host", "a")]), 10),
            Some(a)
        );
        assert_ne!(a, b);
        // Same key in another database is another series.
        let c = ix
            .get_or_create(2, "ping", &tags(&[("host", "a")]), 10)
            .unwrap();
        assert_ne!(a, c);
        let p = ix.postings(1, "ping").unwrap();
        assert_eq!(p.tags["host"]["a"].iter().copied().collect::<Vec<_>>(), [a]);
        assert_eq!(p.all.len(), 2);
        ix.remove(a);
        let p = ix.postings(1, "ping").unwrap();
        assert!(!p.tags["host"].contains_key("a"));
        assert_eq!(ix.len(), 2);
        assert_eq!(ix.get(b).unwrap().tag("host"), Some("b"));
    }

    #[test]
    fn series_limit_refuses_new_series_only() {
        let mut ix = SeriesIndex::new();
        assert!(ix.get_or_create(1, "m", &tags(&[("k", "1")]), 1).is_some());
        assert!(ix.get_or_create(1, "m", &tags(&[("k", "2")]), 1).is_none());
        assert!(ix.get_or_create(1, "m", &tags(&[("k", "1")]), 1).is_some());
    }
}
