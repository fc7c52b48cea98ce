//! The catalog: databases, retention policies, measurements and their typed fields.
//!
//! Kept in memory, persisted as one record per database in the `ts_catalog` tree. Changes made
//! by writes (new measurements, new fields) become durable with the next seal; until then the
//! write-ahead log holds what is needed to recreate them.

use std::collections::{BTreeMap, BTreeSet};

use super::codec::FieldType;
use super::record::Record;

const HOUR_NS: i64 = 3_600_000_000_000;
const DAY_NS: i64 = 24 * HOUR_NS;

/// A retention policy of a database.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct RetentionPolicyInfo {
    /// Engine-wide id; the first component of every block key.
    pub id: u32,
    /// Name, unique within the database.
    pub name: String,
    /// How long data is kept, in ns; 0 keeps it forever.
    pub duration_ns: i64,
    /// Time span of one shard (the unit retention drops), in ns.
    pub shard_duration_ns: i64,
    /// Replication factor (accepted and shown for compatibility; there is one copy).
    pub replication: u32,
    /// Shards holding sealed data, sorted by start, non-overlapping.
    pub shards: Vec<ShardInfo>,
}

/// A time range of a retention policy whose blocks are stored (and dropped) together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct ShardInfo {
    /// First ns of the shard (the key component).
    pub start: i64,
    /// First ns after the shard.
    pub end: i64,
    /// Whether its blocks have been compacted since data last arrived.
    pub compacted: bool,
}

impl RetentionPolicyInfo {
    /// The shard holding `t`, creating it (aligned to the shard duration, clipped so shards
    /// never overlap) when there is none. Returns it and whether it was created.
    pub(crate) fn shard_for(&mut self, t: i64) -> (ShardInfo, bool) {
        let i = self.shards.partition_point(|s| s.end <= t);
        if let Some(s) = self.shards.get(i) {
            if s.start <= t {
                return (*s, false);
            }
        }
        let dur = self.shard_duration_ns.max(1);
        let mut start = t.div_euclid(dur).saturating_mul(dur);
        let mut end = start.saturating_add(dur);
        if i > 0 {
            start = start.max(self.shards[i - 1].end);
        }
        if let Some(next) = self.shards.get(i) {
            end = end.min(next.start);
        }
        let s = ShardInfo {
            start,
            end,
            compacted: false,
        };
        self.shards.insert(i, s);
        (s, true)
    }

    /// Shards overlapping `lo..=hi`.
    pub(crate) fn shards_in(&self, lo: i64, hi: i64) -> impl Iterator<Item = &ShardInfo> {
        self.shards
            .iter()
            .filter(move |s| s.start <= hi && s.end > lo)
    }
}

/// The shard duration InfluxDB 1.x picks for a retention policy duration.
pub fn default_shard_duration(duration_ns: i64) -> i64 {
    if duration_ns == 0 {
        7 * DAY_NS
    } else if duration_ns < 2 * DAY_NS {
        HOUR_NS
    } else if duration_ns <= 180 * DAY_NS {
        DAY_NS
    } else {
        7 * DAY_NS
    }
}

/// A field of a measurement; its type is fixed once written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct FieldInfo {
    /// Id within the measurement; part of block keys.
    pub id: u32,
    /// `FieldType` code.
    pub type_code: u8,
}

impl FieldInfo {
    /// The field's type.
    pub fn field_type(&self) -> FieldType {
        FieldType::try_from_code(self.type_code).unwrap_or(FieldType::Float)
    }
}

/// A measurement's fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct MeasurementInfo {
    /// Field name → field.
    pub fields: BTreeMap<String, FieldInfo>,
}

impl MeasurementInfo {
    /// The id the next new field gets.
    pub(crate) fn next_field_id(&self) -> u32 {
        self.fields.values().map(|f| f.id + 1).max().unwrap_or(0)
    }
}

/// A database: its retention policies and measurements.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct DatabaseInfo {
    /// Engine-wide id; the first component of series index keys.
    pub id: u32,
    /// Name, unique.
    pub name: String,
    /// Name of the default retention policy.
    pub default_rp: Option<String>,
    /// Retention policies.
    pub rps: Vec<RetentionPolicyInfo>,
    /// Measurement name → fields.
    pub measurements: BTreeMap<String, MeasurementInfo>,
}

impl Record for DatabaseInfo {
    const TREE: &'static str = "ts_catalog";
    const VERSION: u8 = 1;
}

impl DatabaseInfo {
    /// The retention policy called `name`, or the default one for `None`.
    pub fn rp(&self, name: Option<&str>) -> Option<&RetentionPolicyInfo> {
        let name = name.or(self.default_rp.as_deref())?;
        self.rps.iter().find(|r| r.name == name)
    }
}

/// All databases, with id allocation and a record of what changed since the last persist.
#[derive(Debug, Default, Clone)]
pub(crate) struct Catalog {
    pub(crate) databases: BTreeMap<String, DatabaseInfo>,
    next_db_id: u32,
    next_rp_id: u32,
    /// Databases whose record must be rewritten at the next persist.
    pub(crate) dirty: BTreeSet<String>,
}

impl Catalog {
    pub(crate) fn from_databases(dbs: Vec<DatabaseInfo>) -> Self {
        let next_db_id = dbs.iter().map(|d| d.id + 1).max().unwrap_or(1);
        let next_rp_id = dbs
            .iter()
            .flat_map(|d| d.rps.iter().map(|r| r.id + 1))
            .max()
            .unwrap_or(1);
        Catalog {
            databases: dbs.into_iter().map(|d| (d.name.clone(), d)).collect(),
            next_db_id,
            next_rp_id,
            dirty: BTreeSet::new(),
        }
    }

    /// Creates a database with an infinite default policy `autogen` (as InfluxDB does);
    /// a no-op when it exists.
    pub(crate) fn create_database(&mut self, name: &str) -> &DatabaseInfo {
        if !self.databases.contains_key(name) {
            let id = self.next_db_id;
            self.next_db_id += 1;
            let rp_id = self.next_rp_id;
            self.next_rp_id += 1;
            self.databases.insert(
                name.to_owned(),
                DatabaseInfo {
                    id,
                    name: name.to_owned(),
                    default_rp: Some("autogen".into()),
                    rps: vec![RetentionPolicyInfo {
                        id: rp_id,
                        name: "autogen".into(),
                        duration_ns: 0,
                        shard_duration_ns: default_shard_duration(0),
                        replication: 1,
                        shards: Vec::new(),
                    }],
                    measurements: BTreeMap::new(),
                },
            );
            self.dirty.insert(name.to_owned());
        }
        &self.databases[name]
    }

    pub(crate) fn allocate_rp_id(&mut self) -> u32 {
        let id = self.next_rp_id;
        self.next_rp_id += 1;
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rp(dur: i64) -> RetentionPolicyInfo {
        RetentionPolicyInfo {
            id: 1,
            name: "r".into(),
            duration_ns: 0,
            shard_duration_ns: dur,
            replication: 1,
            shards: Vec::new(),
        }
    }

    #[test]
    fn shards_are_aligned_found_and_never_overlap() {
        let mut r = rp(10);
        assert_eq!(
            r.shard_for(15),
            (
                ShardInfo {
                    start: 10,
                    end: 20,
                    compacted: false
                },
                true
            )
        );
        assert_eq!(
            r.shard_for(19),
            (
                ShardInfo {
                    start: 10,
                    end: 20,
                    compacted: false
                },
                false
            )
        );
        assert_eq!(
            r.shard_for(-1),
            (
                ShardInfo {
                    start: -10,
                    end: 0,
                    compacted: false
                },
                true
            )
        );
        r.shard_duration_ns = 100; // as after ALTER ... SHARD DURATION
        assert_eq!(
            r.shard_for(25),
            (
                ShardInfo {
                    start: 20,
                    end: 100,
                    compacted: false,
                },
                true
            )
        );
        assert_eq!(
            r.shard_for(5),
            (
                ShardInfo {
                    start: 0,
                    end: 10,
                    compacted: false
                },
                true
            )
        );
        let starts: Vec<i64> = r.shards.iter().map(|s| s.start).collect();
        assert_eq!(starts, [-10, 0, 10, 20]);
        assert_eq!(r.shards_in(9, 12).count(), 2);
    }

    #[test]
    fn default_shard_durations_follow_influxdb() {
        assert_eq!(default_shard_duration(0), 7 * DAY_NS);
        assert_eq!(default_shard_duration(24 * HOUR_NS), HOUR_NS);
        assert_eq!(default_shard_duration(30 * DAY_NS), DAY_NS);
        assert_eq!(default_shard_duration(26280 * HOUR_NS), 7 * DAY_NS);
    }
}
