//! The timeseries engine: write path, head, sealing, reads, aggregates, deletes, retention and
//! recovery, over the key-value backend.
//!
//! Write path: writers queue their batch and one of them (the leader, holding the commit
//! lock) validates every queued batch, writes one log record per batch in one atomic backend
//! batch, flushes once for the whole group (group commit), applies the points to the head and
//! answers everyone. A call returns only after its batch is durable.
//!
//! Sealing (background, on memory pressure or age, and at close): the head is frozen, its
//! columns are split by shard, merged with the existing blocks they overlap (or the small
//! block they extend), re-cut into blocks of at most `max_points_per_block` points preferably
//! at hour boundaries, and written with their rollups; new series and catalog changes are
//! written first, the log records last. The block an append extends is looked up in the
//! seal's directory of each series field's newest block (`hot.rs`) when it is known, and
//! found by a range scan otherwise. Replaying a log record whose points are already
//! sealed is harmless (merging is idempotent), so a crash anywhere in a seal loses nothing.
//!
//! Invariants: blocks of one series field in one shard never overlap in time and hold one
//! point per timestamp; sources are merged with priority active head > frozen heads (newest
//! first) > blocks.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ops::Bound;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam::channel;
use parking_lot::{Condvar, Mutex, RwLock};
use tracing::{error, info, warn};

use super::catalog::{
    Catalog, DatabaseInfo, FieldInfo, RetentionPolicyInfo, default_shard_duration,
};
use super::codec::{ColumnValues, FieldType};
use super::column::Column;
use super::error::{KvError, StorageError, hex_key};
use super::head::{ColumnKey, Head};
use super::hot::{HotBlock, HotBlocks};
use super::intern::{InternedColumn, Interner};
use super::keys::{self, BlockKey};
use super::kv::{BatchOp, Kv};
use super::point::{FieldValue, Point, PointRejection, WriteBatch, WriteOutcome};
use super::record::{Record, Records};
use super::rollup::{self, HOUR, HourFold, Hours, Need, Partials};
use super::series::{
    MeasurementPostings, SeriesId, SeriesIndex, SeriesInfo, SeriesRecord, storage_key,
};
use super::wal::{Replayed, Wal};
use crate::time::SharedClock;

pub(crate) const BLOCKS: &str = "ts_blocks";
/// Columns sealed per group: bounds the memory a seal needs beyond the head itself.
const SEAL_GROUP_COLUMNS: usize = 2048;

/// Tuning of the engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// New series beyond this many per database are refused (InfluxDB's default 1,000,000).
    pub max_series_per_database: usize,
    /// The head is sealed when it holds more than this many bytes; writers wait above twice it.
    pub head_memory_limit: usize,
    /// The head is sealed at least this often.
    pub seal_interval: Duration,
    /// How long a writer waits for room in a head over twice its limit before it is refused
    /// (sealing failing or far behind).
    pub head_wait: Duration,
    /// Largest block, in points (what compaction builds).
    pub max_points_per_block: usize,
    /// A seal appends to the newest block of a series field only while it has fewer points
    /// than this; bigger blocks are left alone until their shard is compacted. Keeps the
    /// bytes rewritten per seal small.
    pub hot_block_points: usize,
    /// How often expired shards are dropped.
    pub retention_check_interval: Duration,
    /// Run the background sealer thread (tests drive sealing by hand when false).
    pub background: bool,
    /// The data directory's free-space guard (none in memory).
    pub(crate) space: Option<Arc<super::space::Space>>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            max_series_per_database: 1_000_000,
            head_memory_limit: 64 << 20,
            seal_interval: Duration::from_secs(30 * 60),
            head_wait: Duration::from_secs(30),
            max_points_per_block: 4096,
            hot_block_points: 256,
            retention_check_interval: Duration::from_secs(30 * 60),
            background: true,
            space: None,
        }
    }
}

/// One write-ahead log record: the accepted points of one batch.
#[derive(Debug, Clone, PartialEq, bincode::Encode, bincode::Decode)]
struct WalRecord {
    db: String,
    rp: String,
    points: Vec<Point>,
}

/// The borrowed twin of [`WalRecord`]: same encoding, built without copying the points.
#[derive(bincode::Encode)]
struct WalRecordRef<'a> {
    db: &'a str,
    rp: &'a str,
    points: &'a [Point],
}

impl Record for WalRecord {
    const TREE: &'static str = "wal";
    const VERSION: u8 = 1;
}

/// A damaged value found by [`Engine::verify`] or at recovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corruption {
    /// Tree name.
    pub tree: &'static str,
    /// Key, hex.
    pub key: String,
    /// What failed.
    pub detail: String,
}

/// Sizes for self-monitoring.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Bytes of the write-ahead log.
    pub wal_bytes: u64,
    /// Series in the index.
    pub series: usize,
    /// Bytes held by the head (active and frozen).
    pub head_bytes: usize,
    /// Columns in the active head.
    pub head_columns: usize,
    /// Next log sequence number.
    pub next_seq: u64,
}

struct State {
    catalog: Catalog,
    series: SeriesIndex,
    active: Head,
    frozen: Vec<Arc<Head>>,
    next_seq: u64,
}

impl State {
    fn head_bytes(&self) -> usize {
        self.active.bytes + self.frozen.iter().map(|h| h.bytes).sum::<usize>()
    }
}

struct Pending {
    batch: WriteBatch,
    reply: channel::Sender<Result<WriteOutcome, StorageError>>,
}

#[derive(Default)]
struct Signal {
    stop: bool,
    seal_requested: bool,
}

struct Shared {
    kv: Arc<dyn Kv>,
    wal: Wal,
    cfg: EngineConfig,
    clock: SharedClock,
    state: RwLock<State>,
    /// Serializes group commits and DDL.
    commit: Mutex<()>,
    queue: Mutex<Vec<Pending>>,
    /// One seal (or block-rewriting operation) at a time.
    seal_lock: Mutex<()>,
    /// Readers scan blocks under `read`; block rewrites apply under `write`, so a scan never
    /// sees half of a rewrite.
    blocks_lock: RwLock<()>,
    /// Per (retention policy id, shard start) created by this process, the longest time any of
    /// its blocks spans (last point minus key start). A block that ends at or after `t` then
    /// starts at or after `t - span`, so reads and seals of a recent window scan only the
    /// blocks from there instead of every block the series has in the shard. Grown (under
    /// `blocks_lock` write) before a block that needs it becomes visible, never shrunk. Shards
    /// opened from disk have no entry: they are scanned from their start, as their older
    /// blocks' spans are not known.
    spans: Mutex<HashMap<(u32, i64), i64>>,
    /// The newest block of each series field in the recent shards, as seals left it, so a
    /// seal appending to it need not scan for it (see `storage::hot`). Changed only under
    /// `seal_lock`.
    hot: Mutex<HotBlocks>,
    signal: Mutex<Signal>,
    wake: Condvar,
    space: Condvar,
}

/// The timeseries engine. Every method blocks; async callers use `spawn_blocking`.
pub struct Engine {
    shared: Arc<Shared>,
    sealer: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Engine {
    /// Stops the sealer thread without sealing: dropping an engine that was not closed is
    /// like a crash, and the log brings the head back at the next open.
    fn drop(&mut self) {
        self.stop_sealer();
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

/// Normalizes a point for storage: tags sorted with empty values dropped, fields deduplicated
/// (the last of a repeated key wins), names checked.
fn normalize_point(mut p: Point) -> Result<Point, PointRejection> {
    let invalid = |s: String| Err(PointRejection::Invalid(s));
    if p.measurement.is_empty() {
        return invalid("invalid measurement: empty".into());
    }
    p.tags.retain(|(_, v)| !v.is_empty());
    if p.tags.iter().any(|(k, _)| k.is_empty()) {
        return invalid(format!(
            "invalid tag key: empty tag key on measurement \"{}\"",
            p.measurement
        ));
    }
    if p.tags.iter().any(|(k, _)| k == "time") {
        return invalid(format!(
            "invalid tag key: input tag \"time\" on measurement \"{}\" is invalid",
            p.measurement
        ));
    }
    p.tags.sort_by(|a, b| a.0.cmp(&b.0));
    if p.tags.windows(2).any(|w| w[0].0 == w[1].0) {
        return invalid(format!(
            "duplicate tags on measurement \"{}\"",
            p.measurement
        ));
    }
    if p.fields.is_empty() {
        return invalid(format!(
            "missing fields on measurement \"{}\"",
            p.measurement
        ));
    }
    for (k, _) in &p.fields {
        if k.is_empty() {
            return invalid(format!(
                "invalid field name: empty field on measurement \"{}\"",
                p.measurement
            ));
        }
        if k == "time" {
            return invalid(format!(
                "invalid field name: input field \"time\" on measurement \"{}\" is invalid",
                p.measurement
            ));
        }
    }
    if !p.fields.windows(2).all(|w| w[0].0 < w[1].0) {
        // Stable, so among repeated keys the last one written stays last, and wins.
        p.fields.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(String, FieldValue)> = Vec::with_capacity(p.fields.len());
        for (k, v) in p.fields.drain(..) {
            match out.last_mut() {
                Some(last) if last.0 == k => last.1 = v,
                _ => out.push((k, v)),
            }
        }
        p.fields = out;
    }
    Ok(p)
}

/// A batch after validation, before it is logged.
struct Prepared {
    db: String,
    rp: String,
    rp_id: u32,
    points: Vec<Point>,
    /// Per point: series id and the field id of each field, in field order.
    ids: Vec<(SeriesId, Vec<u32>)>,
}

/// What a group added to the catalog and index, undone if its log write fails.
#[derive(Default)]
struct Undo {
    fields: Vec<(String, String, String)>,
    series: Vec<SeriesId>,
}

fn prepare(
    st: &mut State,
    cfg: &EngineConfig,
    now: i64,
    batch: WriteBatch,
    undo: &mut Undo,
) -> Result<(Prepared, Vec<(usize, PointRejection)>), StorageError> {
    let db = st.catalog.databases.get(&batch.database).ok_or_else(|| {
        StorageError::DatabaseNotFound {
            name: batch.database.clone(),
        }
    })?;
    let rp = db.rp(batch.retention_policy.as_deref()).ok_or_else(|| {
        StorageError::RetentionPolicyNotFound {
            name: batch
                .retention_policy
                .clone()
                .or_else(|| db.default_rp.clone())
                .unwrap_or_default(),
        }
    })?;
    let (db_id, rp_id, rp_name, cutoff) = (
        db.id,
        rp.id,
        rp.name.clone(),
        (rp.duration_ns > 0).then(|| now.saturating_sub(rp.duration_ns)),
    );
    let mut rejected = Vec::new();
    let mut points = Vec::with_capacity(batch.points.len());
    let mut ids = Vec::with_capacity(batch.points.len());
    for (i, p) in batch.points.into_iter().enumerate() {
        let p = match normalize_point(p) {
            Ok(p) => p,
            Err(r) => {
                rejected.push((i, r));
                continue;
            }
        };
        if cutoff.is_some_and(|c| p.time < c) {
            rejected.push((i, PointRejection::BeyondRetention));
            continue;
        }
        // Check every field before registering any, so a refused point leaves no trace.
        let dbm = st
            .catalog
            .databases
            .get_mut(&batch.database)
            .ok_or_else(|| StorageError::DatabaseNotFound {
                name: batch.database.clone(),
            })?;
        let known = dbm.measurements.get(&p.measurement);
        let conflict = p.fields.iter().find_map(|(k, v)| {
            let f = known?.fields.get(k)?;
            (f.field_type() != v.field_type()).then(|| PointRejection::FieldTypeConflict {
                field: k.clone(),
                measurement: p.measurement.clone(),
                given: v.field_type(),
                existing: f.field_type(),
            })
        });
        if let Some(c) = conflict {
            rejected.push((i, c));
            continue;
        }
        let Some(series) =
            st.series
                .get_or_create(db_id, &p.measurement, &p.tags, cfg.max_series_per_database)
        else {
            rejected.push((
                i,
                PointRejection::Invalid(format!(
                    "max-series-per-database limit exceeded: ({})",
                    cfg.max_series_per_database
                )),
            ));
            continue;
        };
        if st.series.unpersisted.last() == Some(&series) && !undo.series.contains(&series) {
            undo.series.push(series);
        }
        let dbm = st
            .catalog
            .databases
            .get_mut(&batch.database)
            .ok_or_else(|| StorageError::DatabaseNotFound {
                name: batch.database.clone(),
            })?;
        let m = dbm.measurements.entry(p.measurement.clone()).or_default();
        let mut field_ids = Vec::with_capacity(p.fields.len());
        let mut added = false;
        for (k, v) in &p.fields {
            let id = match m.fields.get(k) {
                Some(f) => f.id,
                None => {
                    let id = m.next_field_id();
                    m.fields.insert(
                        k.clone(),
                        FieldInfo {
                            id,
                            type_code: v.field_type().to_code(),
                        },
                    );
                    undo.fields
                        .push((batch.database.clone(), p.measurement.clone(), k.clone()));
                    added = true;
                    id
                }
            };
            field_ids.push(id);
        }
        if added {
            st.catalog.dirty.insert(batch.database.clone());
        }
        ids.push((series, field_ids));
        points.push(p);
    }
    Ok((
        Prepared {
            db: batch.database,
            rp: rp_name,
            rp_id,
            points,
            ids,
        },
        rejected,
    ))
}

fn apply_to_head(head: &mut Head, p: &Prepared) {
    for (point, (series, field_ids)) in p.points.iter().zip(&p.ids) {
        for ((_, v), &field) in point.fields.iter().zip(field_ids) {
            let key = ColumnKey {
                rp: p.rp_id,
                series: *series,
                field,
            };
            if !head.push(key, point.time, v) {
                // The catalog fixes one type per field, so this cannot happen; losing the
                // value silently would be worse than this log line.
                error!(series, field, "head column type mismatch; value dropped");
            }
        }
    }
}

fn undo(st: &mut State, u: Undo) {
    for (db, m, f) in u.fields {
        if let Some(d) = st.catalog.databases.get_mut(&db) {
            if let Some(mi) = d.measurements.get_mut(&m) {
                mi.fields.remove(&f);
                if mi.fields.is_empty() {
                    d.measurements.remove(&m);
                }
            }
        }
    }
    for s in u.series {
        st.series.remove(s);
    }
}

fn corrupted(what: &str, key: &[u8], detail: impl std::fmt::Display) -> StorageError {
    StorageError::Corrupted {
        what: what.to_owned(),
        key: hex_key(key),
        detail: detail.to_string(),
    }
}

/// Splits a normalized column into pieces of at most `max` points, cutting at an hour boundary
/// when one lies in the second half of a piece (so hours rarely straddle blocks).
fn cut_blocks(col: &Column, max: usize) -> Vec<Column> {
    let max = max.max(1);
    let mut out = Vec::new();
    let mut start = 0;
    while col.len() - start > max {
        let limit = start + max;
        let mut cut = limit;
        let last_hour = rollup::hour_of(col.ts[limit]);
        // Move the cut back to the first point of the hour holding the point at `limit`.
        let first_of_hour = col.ts[start..limit].partition_point(|&t| t < last_hour) + start;
        if first_of_hour > start + max / 2 {
            cut = first_of_hour;
        }
        out.push(col.slice(start, cut));
        start = cut;
    }
    out.push(col.slice(start, col.len()));
    out
}

impl Engine {
    /// Opens the engine over `kv`: loads catalog and series index, replays the log into the
    /// head, and (after an unclean shutdown) verifies every stored block.
    pub(crate) fn open(
        kv: Arc<dyn Kv>,
        wal: Wal,
        replay: Vec<Replayed>,
        cfg: EngineConfig,
        clock: SharedClock,
        unclean: bool,
    ) -> Result<Engine, StorageError> {
        let t = Instant::now();
        let records = Records::new(kv.clone());
        let dbs: Vec<DatabaseInfo> = records
            .list::<DatabaseInfo>()?
            .into_iter()
            .map(|(_, d)| d)
            .collect();
        let catalog = Catalog::from_databases(dbs);
        let mut series = SeriesIndex::new();
        for item in kv.range(SeriesRecord::TREE, (Bound::Unbounded, Bound::Unbounded))? {
            let (k, v) = item?;
            let db = k
                .get(..4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_be_bytes)
                .ok_or_else(|| corrupted("series key", &k, "shorter than 4 bytes"))?;
            series.load(db, Records::decode::<SeriesRecord>(&k, &v)?);
        }
        let mut st = State {
            catalog,
            series,
            active: Head::default(),
            frozen: Vec::new(),
            next_seq: 1,
        };
        // Replay the log in order.
        let mut replayed = 0usize;
        let now = clock.now().as_nanos();
        for r in replay {
            let seq = r.seq;
            let key = keys::wal_key(seq);
            st.next_seq = st.next_seq.max(seq + 1);
            let rec = match Records::decode::<WalRecord>(&key, &r.payload) {
                Ok(rec) => rec,
                Err(e) => {
                    // The frame's checksum held, so this is a format problem, not a torn write.
                    error!(seq, err = %e, "undecodable write-ahead log record skipped");
                    continue;
                }
            };
            let batch = WriteBatch {
                database: rec.db,
                retention_policy: Some(rec.rp),
                points: rec.points,
            };
            let mut u = Undo::default();
            match prepare(&mut st, &cfg, now, batch, &mut u) {
                Ok((p, rejected)) => {
                    for (_, r) in rejected {
                        if r != PointRejection::BeyondRetention {
                            warn!(seq, reason = %r, "log record point not replayed");
                        }
                    }
                    apply_to_head(&mut st.active, &p);
                    st.active.max_seq = seq;
                    replayed += 1;
                }
                // The database or policy was dropped after the write: nothing to restore.
                Err(
                    StorageError::DatabaseNotFound { .. }
                    | StorageError::RetentionPolicyNotFound { .. },
                ) => {}
                Err(e) => return Err(e),
            }
        }
        info!(
            series = st.series.len(),
            replayed,
            elapsed_ms = t.elapsed().as_millis() as u64,
            "timeseries engine loaded"
        );
        let shared = Arc::new(Shared {
            kv,
            wal,
            cfg,
            clock,
            state: RwLock::new(st),
            commit: Mutex::new(()),
            queue: Mutex::new(Vec::new()),
            seal_lock: Mutex::new(()),
            blocks_lock: RwLock::new(()),
            spans: Mutex::new(HashMap::new()),
            hot: Mutex::new(HotBlocks::default()),
            signal: Mutex::new(Signal::default()),
            wake: Condvar::new(),
            space: Condvar::new(),
        });
        if unclean {
            let t = Instant::now();
            let bad = shared.verify()?;
            for c in &bad {
                error!(tree = c.tree, key = %c.key, detail = %c.detail, "corrupted block found after unclean shutdown");
            }
            info!(
                corrupted = bad.len(),
                elapsed_ms = t.elapsed().as_millis() as u64,
                "verified stored blocks after unclean shutdown"
            );
        }
        let sealer = if shared.cfg.background {
            let s = shared.clone();
            Some(
                std::thread::Builder::new()
                    .name("wispmon-sealer".into())
                    .spawn(move || s.sealer_loop())
                    .map_err(|e| StorageError::Kv(KvError::Io(e)))?,
            )
        } else {
            None
        };
        Ok(Engine {
            shared,
            sealer: Mutex::new(sealer),
        })
    }

    /// Stops the background sealer and seals the head; durable on return.
    ///
    /// # Errors
    /// The final seal failed (the log still holds the data).
    pub fn close(&self) -> Result<(), StorageError> {
        self.stop_sealer();
        self.shared.seal()
    }

    fn stop_sealer(&self) {
        {
            let mut s = self.shared.signal.lock();
            s.stop = true;
            self.shared.wake.notify_all();
            self.shared.space.notify_all();
        }
        if let Some(h) = self.sealer.lock().take() {
            let _ = h.join();
        }
    }

    /// Writes a batch; returns once it is durable. Points that cannot be stored are listed in
    /// the outcome, the others are stored (InfluxDB's partial write).
    ///
    /// # Errors
    /// Unknown database or retention policy, or a backend failure (nothing of the batch is
    /// then acknowledged).
    pub fn write(&self, batch: WriteBatch) -> Result<WriteOutcome, StorageError> {
        let t = crate::telemetry::global();
        // Refused before the disk is full, so the log fails cleanly and sled never does.
        let r = match &self.shared.cfg.space {
            Some(space) => space.check_write().and_then(|()| self.shared.write(batch)),
            None => self.shared.write(batch),
        };
        match &r {
            Ok(o) => {
                t.points_written.add(o.written as u64);
                t.points_rejected.add(o.rejected.len() as u64);
            }
            Err(_) => t.write_errors.inc(),
        }
        r
    }

    /// Bytes the database occupies on disk.
    ///
    /// # Errors
    /// Backend failure.
    pub fn size_on_disk(&self) -> Result<u64, StorageError> {
        Ok(self.shared.kv.size_on_disk()?)
    }

    /// Seals the head into blocks now.
    ///
    /// # Errors
    /// Backend failure; the head and log keep the data.
    pub fn seal(&self) -> Result<(), StorageError> {
        self.shared.seal()
    }

    /// Creates a database (with default policy `autogen`); a no-op when it exists.
    ///
    /// # Errors
    /// An empty name, or a backend failure.
    pub fn create_database(&self, name: &str) -> Result<(), StorageError> {
        if name.is_empty() {
            return Err(StorageError::Invalid("database name required".into()));
        }
        let _c = self.shared.commit.lock();
        let mut st = self.shared.state.write();
        if st.catalog.databases.contains_key(name) {
            return Ok(());
        }
        st.catalog.create_database(name);
        self.shared.persist_db(&mut st, name)
    }

    /// Names of all databases.
    pub fn databases(&self) -> Vec<String> {
        self.shared
            .state
            .read()
            .catalog
            .databases
            .keys()
            .cloned()
            .collect()
    }

    /// A copy of a database's catalog entry.
    pub fn database(&self, name: &str) -> Option<DatabaseInfo> {
        self.shared
            .state
            .read()
            .catalog
            .databases
            .get(name)
            .cloned()
    }

    /// Creates a retention policy (`duration_ns` 0 = forever; shard duration defaulted as
    /// InfluxDB does when `None`). Creating an identical one again is a no-op.
    ///
    /// # Errors
    /// Unknown database, a conflicting existing policy, bad durations, backend failure.
    pub fn create_retention_policy(
        &self,
        db: &str,
        name: &str,
        duration_ns: i64,
        shard_duration_ns: Option<i64>,
        replication: u32,
        make_default: bool,
    ) -> Result<(), StorageError> {
        if name.is_empty() {
            return Err(StorageError::Invalid(
                "retention policy name required".into(),
            ));
        }
        check_durations(duration_ns, shard_duration_ns)?;
        let _c = self.shared.commit.lock();
        let mut st = self.shared.state.write();
        let shard = shard_duration_ns
            .filter(|s| *s > 0)
            .unwrap_or_else(|| default_shard_duration(duration_ns));
        let id = st.catalog.allocate_rp_id();
        let d = st
            .catalog
            .databases
            .get_mut(db)
            .ok_or_else(|| StorageError::DatabaseNotFound { name: db.into() })?;
        if let Some(existing) = d.rps.iter().find(|r| r.name == name) {
            let same = existing.duration_ns == duration_ns
                && existing.shard_duration_ns == shard
                && existing.replication == replication
                && (!make_default || d.default_rp.as_deref() == Some(name));
            return if same {
                Ok(())
            } else {
                Err(StorageError::RetentionPolicyConflict)
            };
        }
        d.rps.push(RetentionPolicyInfo {
            id,
            name: name.into(),
            duration_ns,
            shard_duration_ns: shard,
            replication,
            shards: Vec::new(),
        });
        if make_default {
            d.default_rp = Some(name.into());
        }
        self.shared.persist_db(&mut st, db)
    }

    /// Changes a retention policy; `None` leaves a setting as it is.
    ///
    /// # Errors
    /// Unknown database or policy, bad durations, backend failure.
    pub fn alter_retention_policy(
        &self,
        db: &str,
        name: &str,
        duration_ns: Option<i64>,
        shard_duration_ns: Option<i64>,
        replication: Option<u32>,
        make_default: bool,
    ) -> Result<(), StorageError> {
        check_durations(duration_ns.unwrap_or(0), shard_duration_ns)?;
        let _c = self.shared.commit.lock();
        let mut st = self.shared.state.write();
        let d = st
            .catalog
            .databases
            .get_mut(db)
            .ok_or_else(|| StorageError::DatabaseNotFound { name: db.into() })?;
        let r = d
            .rps
            .iter_mut()
            .find(|r| r.name == name)
            .ok_or_else(|| StorageError::RetentionPolicyNotFound { name: name.into() })?;
        if let Some(x) = duration_ns {
            r.duration_ns = x;
        }
        if let Some(x) = shard_duration_ns.filter(|s| *s > 0) {
            r.shard_duration_ns = x;
        }
        if let Some(x) = replication {
            r.replication = x;
        }
        if make_default {
            d.default_rp = Some(name.into());
        }
        self.shared.persist_db(&mut st, db)
    }

    /// Measurements of a database that have series.
    ///
    /// # Errors
    /// Unknown database.
    pub fn measurements(&self, db: &str) -> Result<Vec<String>, StorageError> {
        let st = self.shared.state.read();
        let id = db_id(&st, db)?;
        Ok(st.series.measurements(id).into_iter().collect())
    }

    /// Fields of a measurement with their types.
    ///
    /// # Errors
    /// Unknown database.
    pub fn field_keys(
        &self,
        db: &str,
        measurement: &str,
    ) -> Result<Vec<(String, FieldType)>, StorageError> {
        let st = self.shared.state.read();
        let d = st
            .catalog
            .databases
            .get(db)
            .ok_or_else(|| StorageError::DatabaseNotFound { name: db.into() })?;
        Ok(d.measurements
            .get(measurement)
            .map(|m| {
                m.fields
                    .iter()
                    .map(|(k, f)| (k.clone(), f.field_type()))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Runs `f` on a measurement's postings (an unknown measurement gives `T::default()`).
    fn with_postings<T: Default>(
        &self,
        db: &str,
        measurement: &str,
        f: impl FnOnce(&MeasurementPostings) -> T,
    ) -> Result<T, StorageError> {
        let st = self.shared.state.read();
        let id = db_id(&st, db)?;
        Ok(st
            .series
            .postings(id, measurement)
            .map(f)
            .unwrap_or_default())
    }

    /// Tag keys used by a measurement's series.
    ///
    /// # Errors
    /// Unknown database.
    pub fn tag_keys(&self, db: &str, measurement: &str) -> Result<Vec<String>, StorageError> {
        self.with_postings(db, measurement, |p| p.tags.keys().cloned().collect())
    }

    /// Distinct values of a tag in a measurement, sorted.
    ///
    /// # Errors
    /// Unknown database.
    pub fn tag_values(
        &self,
        db: &str,
        measurement: &str,
        key: &str,
    ) -> Result<Vec<String>, StorageError> {
        self.with_postings(db, measurement, |p| {
            p.tags
                .get(key)
                .map(|vals| vals.keys().cloned().collect())
                .unwrap_or_default()
        })
    }

    /// The engine clock's current time (ns): what `now()` means in queries.
    pub fn now(&self) -> i64 {
        self.shared.clock.now().as_nanos()
    }

    /// Every series of a measurement.
    ///
    /// # Errors
    /// Unknown database.
    pub fn series_of(&self, db: &str, measurement: &str) -> Result<Vec<SeriesId>, StorageError> {
        self.with_postings(db, measurement, |p| p.all.iter().copied().collect())
    }

    /// Series of a measurement whose tag `key` has a value accepted by `accept` (for equality,
    /// regex and negated filters; tag values are enumerated once, not per series).
    ///
    /// # Errors
    /// Unknown database.
    pub fn series_where_tag(
        &self,
        db: &str,
        measurement: &str,
        key: &str,
        accept: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<SeriesId>, StorageError> {
        let st = self.shared.state.read();
        let id = db_id(&st, db)?;
        let Some(p) = st.series.postings(id, measurement) else {
            return Ok(Vec::new());
        };
        let mut out = BTreeSet::new();
        if let Some(vals) = p.tags.get(key) {
            for (v, ids) in vals {
                if accept(v) {
                    out.extend(ids.iter().copied());
                }
            }
        }
        // A series without the tag has the empty value, as in InfluxDB.
        if accept("") {
            let with_key: BTreeSet<SeriesId> = p
                .tags
                .get(key)
                .map(|vals| vals.values().flatten().copied().collect())
                .unwrap_or_default();
            out.extend(p.all.iter().filter(|s| !with_key.contains(s)).copied());
        }
        Ok(out.into_iter().collect())
    }

    /// Series of a measurement whose tag `key` equals `value` (one postings lookup).
    ///
    /// # Errors
    /// Unknown database.
    pub fn series_with_tag(
        &self,
        db: &str,
        measurement: &str,
        key: &str,
        value: &str,
    ) -> Result<Vec<SeriesId>, StorageError> {
        if value.is_empty() {
            return self.series_where_tag(db, measurement, key, &|v| v.is_empty());
        }
        self.with_postings(db, measurement, |p| {
            p.tags
                .get(key)
                .and_then(|vals| vals.get(value))
                .map(|ids| ids.iter().copied().collect())
                .unwrap_or_default()
        })
    }

    /// Series of a measurement matching every group of `eqs`, a group matching when the tag
    /// `key` equals one of its values (`k = 'a' AND (j = 'b' OR j = 'c')`). Starts from the
    /// smallest group's postings and checks the others by membership, so a device's series are
    /// found in time proportional to that device, not to every series sharing a common tag
    /// (`content_type = 'config.device'`). An empty value means "tag absent" and is answered
    /// through [`Engine::series_where_tag`].
    ///
    /// # Errors
    /// Unknown database.
    pub fn series_matching_all(
        &self,
        db: &str,
        measurement: &str,
        eqs: &[(String, Vec<String>)],
    ) -> Result<Vec<SeriesId>, StorageError> {
        if eqs.is_empty() {
            return self.series_of(db, measurement);
        }
        if eqs
            .iter()
            .any(|(_, vals)| vals.iter().any(String::is_empty))
        {
            let mut set: Option<BTreeSet<SeriesId>> = None;
            for (k, vals) in eqs {
                let ids: BTreeSet<SeriesId> = self
                    .series_where_tag(db, measurement, k, &|v| vals.iter().any(|x| x == v))?
                    .into_iter()
                    .collect();
                set = Some(match set {
                    None => ids,
                    Some(s) => s.intersection(&ids).copied().collect(),
                });
            }
            return Ok(set.unwrap_or_default().into_iter().collect());
        }
        self.with_postings(db, measurement, |p| {
            let group = |(k, vals): &(String, Vec<String>)| -> Vec<&BTreeSet<SeriesId>> {
                let Some(by_value) = p.tags.get(k) else {
                    return Vec::new();
                };
                vals.iter().filter_map(|v| by_value.get(v)).collect()
            };
            let groups: Vec<Vec<&BTreeSet<SeriesId>>> = eqs.iter().map(group).collect();
            let size = |g: &Vec<&BTreeSet<SeriesId>>| g.iter().map(|s| s.len()).sum::<usize>();
            let Some(smallest) = (0..groups.len()).min_by_key(|&i| size(&groups[i])) else {
                return Vec::new();
            };
            let mut base: BTreeSet<SeriesId> = BTreeSet::new();
            for s in &groups[smallest] {
                base.extend(s.iter().copied());
            }
            base.into_iter()
                .filter(|id| {
                    groups
                        .iter()
                        .enumerate()
                        .all(|(i, g)| i == smallest || g.iter().any(|s| s.contains(id)))
                })
                .collect()
        })
    }

    /// A series by id.
    pub fn series_info(&self, id: SeriesId) -> Option<Arc<SeriesInfo>> {
        self.shared.state.read().series.get(id).cloned()
    }

    /// The points of one series field within `lo..=hi`, merged from blocks and head.
    ///
    /// # Errors
    /// Unknown database or policy, corruption of a block read, backend failure.
    pub fn read(
        &self,
        db: &str,
        rp: Option<&str>,
        series: SeriesId,
        field: &str,
        lo: i64,
        hi: i64,
    ) -> Result<Option<Column>, StorageError> {
        let Some(src) = self.shared.sources(db, rp, series, field, lo, hi)? else {
            return Ok(None);
        };
        merge_sources(src, lo, hi, |k, v| {
            rollup::decode_stored_block(v).map_err(|e| corrupted("block", k, e))
        })
    }

    /// The points of one string series field within `lo..=hi`, merged from blocks and head
    /// exactly as [`Engine::read`] merges them, with each value as its `interner` number. A
    /// dictionary block's strings are looked up once each, not once per point.
    ///
    /// # Errors
    /// Unknown database or policy, a field that does not hold strings, corruption of a block
    /// read, backend failure.
    #[allow(clippy::too_many_arguments)]
    pub fn read_interned(
        &self,
        db: &str,
        rp: Option<&str>,
        series: SeriesId,
        field: &str,
        lo: i64,
        hi: i64,
        interner: &mut Interner,
    ) -> Result<Option<InternedColumn>, StorageError> {
        let Some(mut src) = self.shared.sources(db, rp, series, field, lo, hi)? else {
            return Ok(None);
        };
        if src.field_type != FieldType::String {
            return Err(StorageError::Invalid(format!(
                "field {field:?} does not hold strings"
            )));
        }
        // Interned numbers are merged as an unsigned column: merging looks only at times.
        for c in &mut src.heads {
            c.values = interner.intern_column(&c.values)?;
        }
        let merged = merge_sources(src, lo, hi, |k, v| {
            let (ts, coded) =
                rollup::decode_stored_block_coded(v).map_err(|e| corrupted("block", k, e))?;
            let values = interner.intern_coded(&coded)?;
            Ok(Column { ts, values })
        })?;
        Ok(merged.and_then(|c| match c.values {
            ColumnValues::Unsigned(ids) => Some(InternedColumn { ts: c.ts, ids }),
            _ => None,
        }))
    }

    /// Window aggregates (count, sum, min, max, first, last) of one numeric series field over
    /// `lo..=hi`, windows of `every` ns offset by `offset` ns, both whole hours. Hours held
    /// entirely by one block come from its rollup; the rest from raw points. Equal to
    /// [`Engine::aggregate_raw`] bit for bit.
    ///
    /// # Errors
    /// Windows not whole hours, a non-numeric field, corruption, backend failure.
    #[allow(clippy::too_many_arguments)]
    pub fn aggregate(
        &self,
        db: &str,
        rp: Option<&str>,
        series: SeriesId,
        field: &str,
        lo: i64,
        hi: i64,
        every: i64,
        offset: i64,
    ) -> Result<Option<Partials>, StorageError> {
        check_window(every, offset)?;
        let Some(src) = self.shared.sources(db, rp, series, field, lo, hi)? else {
            return Ok(None);
        };
        let parts = hour_parts(src, field, lo, hi, Need::ALL)?;
        if parts.is_empty() {
            return Ok(None);
        }
        Ok(rollup::coarsen_hours(&parts, every, offset))
    }

    /// Folds the hour partials of one numeric series field over `lo..=hi` into `fold`'s
    /// buckets, in hour order, decoding only the rollup columns the fold needs. Hours come
    /// from rollups and raw points exactly as in [`Engine::aggregate`]. `true` when the field
    /// has points in the range.
    ///
    /// # Errors
    /// A non-numeric field (or one whose type differs from what `fold` holds), corruption,
    /// backend failure.
    #[allow(clippy::too_many_arguments)]
    pub fn fold_hours(
        &self,
        db: &str,
        rp: Option<&str>,
        series: SeriesId,
        field: &str,
        lo: i64,
        hi: i64,
        fold: &mut HourFold,
    ) -> Result<bool, StorageError> {
        let Some(src) = self.shared.sources(db, rp, series, field, lo, hi)? else {
            return Ok(false);
        };
        let parts = hour_parts(src, field, lo, hi, fold.need())?;
        if parts.iter().all(|p| p.starts.is_empty()) {
            return Ok(false);
        }
        if !fold.fold(&parts) {
            return Err(StorageError::Invalid(format!(
                "field {field:?} differs in type between series"
            )));
        }
        Ok(true)
    }

    /// [`Engine::aggregate`] computed from raw points only (the reference for tests).
    ///
    /// # Errors
    /// As [`Engine::aggregate`].
    #[allow(clippy::too_many_arguments)]
    pub fn aggregate_raw(
        &self,
        db: &str,
        rp: Option<&str>,
        series: SeriesId,
        field: &str,
        lo: i64,
        hi: i64,
        every: i64,
        offset: i64,
    ) -> Result<Option<Partials>, StorageError> {
        check_window(every, offset)?;
        let Some(c) = self.read(db, rp, series, field, lo, hi)? else {
            return Ok(None);
        };
        let p = rollup::hour_partials(&c)
            .ok_or_else(|| StorageError::Invalid(format!("field {field:?} is not numeric")))?;
        Ok(p.coarsen(every, offset))
    }

    /// Deletes the points of `series` within `lo..=hi` in every retention policy.
    ///
    /// # Errors
    /// Unknown database, backend failure.
    pub fn delete_range(
        &self,
        db: &str,
        series: &[SeriesId],
        lo: i64,
        hi: i64,
    ) -> Result<(), StorageError> {
        self.shared.rewrite_series(db, series, Some((lo, hi)))
    }

    /// Drops series entirely: their points and their index entries.
    ///
    /// # Errors
    /// Unknown database, backend failure.
    pub fn drop_series(&self, db: &str, series: &[SeriesId]) -> Result<(), StorageError> {
        self.shared.rewrite_series(db, series, None)
    }

    /// Drops a measurement: all its series and its field types.
    ///
    /// # Errors
    /// Unknown database, backend failure.
    pub fn drop_measurement(&self, db: &str, measurement: &str) -> Result<(), StorageError> {
        let ids = self.series_of(db, measurement)?;
        self.shared.rewrite_series(db, &ids, None)?;
        let _c = self.shared.commit.lock();
        let mut st = self.shared.state.write();
        if let Some(d) = st.catalog.databases.get_mut(db) {
            d.measurements.remove(measurement);
        }
        self.shared.persist_db(&mut st, db)
    }

    /// Drops a database with all its data.
    ///
    /// # Errors
    /// Unknown database, backend failure.
    pub fn drop_database(&self, db: &str) -> Result<(), StorageError> {
        let sh = &self.shared;
        let _c = sh.commit.lock();
        let _s = sh.seal_lock.lock();
        sh.seal_locked()?;
        let info = {
            let st = sh.state.read();
            st.catalog
                .databases
                .get(db)
                .cloned()
                .ok_or_else(|| StorageError::DatabaseNotFound { name: db.into() })?
        };
        for rp in &info.rps {
            sh.delete_prefix(&keys::rp_prefix(rp.id))?;
        }
        let mut st = sh.state.write();
        let ids = st.series.of_database(info.id);
        let mut ops = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(s) = st.series.remove(id) {
                ops.push((storage_key(s.db, &s.key), None));
            }
        }
        sh.kv.apply(SeriesRecord::TREE, ops)?;
        sh.kv.remove(DatabaseInfo::TREE, db.as_bytes())?;
        st.catalog.databases.remove(db);
        st.catalog.dirty.remove(db);
        sh.kv.flush()?;
        Ok(())
    }

    /// Drops a retention policy with all its data.
    ///
    /// # Errors
    /// Unknown database or policy, backend failure.
    pub fn drop_retention_policy(&self, db: &str, name: &str) -> Result<(), StorageError> {
        let sh = &self.shared;
        let _c = sh.commit.lock();
        let _s = sh.seal_lock.lock();
        sh.seal_locked()?;
        let rp_id = {
            let st = sh.state.read();
            let d = st
                .catalog
                .databases
                .get(db)
                .ok_or_else(|| StorageError::DatabaseNotFound { name: db.into() })?;
            d.rps
                .iter()
                .find(|r| r.name == name)
                .map(|r| r.id)
                .ok_or_else(|| StorageError::RetentionPolicyNotFound { name: name.into() })?
        };
        sh.delete_prefix(&keys::rp_prefix(rp_id))?;
        let mut st = sh.state.write();
        if let Some(d) = st.catalog.databases.get_mut(db) {
            d.rps.retain(|r| r.name != name);
            if d.default_rp.as_deref() == Some(name) {
                d.default_rp = None;
            }
        }
        sh.persist_db(&mut st, db)
    }

    /// Drops every shard that ended before its policy's retention; returns how many.
    ///
    /// # Errors
    /// Backend failure.
    pub fn enforce_retention(&self) -> Result<usize, StorageError> {
        self.shared.enforce_retention()
    }

    /// Compacts every shard that ended at or before `before` and has new blocks since its
    /// last compaction: each series field's blocks become as few as possible (up to
    /// `max_points_per_block` points each). Returns how many shards were compacted.
    ///
    /// # Errors
    /// Backend failure or a corrupted block (the shard is then left as it is).
    pub fn compact_shards(&self, before: i64) -> Result<usize, StorageError> {
        self.shared.compact_shards(before)
    }

    /// Checks every stored block; lists what is damaged (log damage is reported at open).
    ///
    /// # Errors
    /// Backend failure.
    pub fn verify(&self) -> Result<Vec<Corruption>, StorageError> {
        self.shared.verify()
    }

    /// Number of stored blocks, the bytes of their keys and values, and how many of those
    /// bytes are rollup sections (a full scan).
    ///
    /// # Errors
    /// Backend failure.
    pub fn block_stats(&self) -> Result<(u64, u64, u64), StorageError> {
        let (mut n, mut bytes, mut rollups) = (0u64, 0u64, 0u64);
        for item in self
            .shared
            .kv
            .range(BLOCKS, (Bound::Unbounded, Bound::Unbounded))?
        {
            let (k, v) = item?;
            n += 1;
            bytes += (k.len() + v.len()) as u64;
            let block_len = v
                .get(..4)
                .and_then(|b| b.try_into().ok())
                .map_or(0, u32::from_le_bytes) as usize;
            rollups += v.len().saturating_sub(4 + block_len) as u64;
        }
        Ok((n, bytes, rollups))
    }

    /// Holds the engine still for a backup in two phases. `snapshot` runs with no commit, no
    /// seal and no block rewrite in progress, and gets the log's cut: with the records it
    /// copies then, that is the state a crash at this instant would leave. `blocks` runs
    /// after commits resume (writes go on into the log and the head) but with seals and block
    /// rewrites still held off, so the stored blocks and series it copies are those of the cut.
    pub(crate) fn backup_phases<A, B>(
        &self,
        snapshot: impl FnOnce(Vec<(std::path::PathBuf, u64)>) -> Result<A, StorageError>,
        blocks: impl FnOnce(A) -> Result<B, StorageError>,
    ) -> Result<B, StorageError> {
        let sh = &self.shared;
        // The engine's lock order: commit, then seal.
        let commit = sh.commit.lock();
        let _seal = sh.seal_lock.lock();
        let cut = sh.wal.cut()?;
        let a = snapshot(cut)?;
        drop(commit);
        blocks(a)
    }

    /// Sizes for self-monitoring.
    pub fn stats(&self) -> EngineStats {
        let st = self.shared.state.read();
        EngineStats {
            wal_bytes: self.shared.wal.size(),
            series: st.series.len(),
            head_bytes: st.head_bytes(),
            head_columns: st.active.columns.len(),
            next_seq: st.next_seq,
        }
    }
}

fn check_durations(duration: i64, shard: Option<i64>) -> Result<(), StorageError> {
    if duration != 0 && duration < HOUR {
        return Err(StorageError::Invalid(
            "retention policy duration must be at least 1h0m0s".into(),
        ));
    }
    if let Some(s) = shard {
        if s < 0 {
            return Err(StorageError::Invalid(
                "shard duration must be positive".into(),
            ));
        }
        if duration != 0 && s > duration {
            return Err(StorageError::Invalid(
                "retention policy duration must be greater than the shard duration".into(),
            ));
        }
    }
    Ok(())
}

fn check_window(every: i64, offset: i64) -> Result<(), StorageError> {
    if every <= 0 || every % HOUR != 0 || offset % HOUR != 0 {
        return Err(StorageError::Invalid(
            "rollup aggregates need windows and offsets of whole hours".into(),
        ));
    }
    Ok(())
}

fn db_id(st: &State, db: &str) -> Result<u32, StorageError> {
    st.catalog
        .databases
        .get(db)
        .map(|d| d.id)
        .ok_or_else(|| StorageError::DatabaseNotFound { name: db.into() })
}

/// A stored block's key and its decoded points.
type KeyedBlock = (Vec<u8>, Column);

/// What a seal group's merges produce (see `Shared::merge_chunk`).
#[derive(Default)]
struct Merged {
    /// Block writes (`Some`) and deletes (`None`) by key.
    ops: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// Each touched series field's newest block afterwards, for the hot-block directory.
    hot: Vec<(BlockKey, HotBlock)>,
    /// Per (retention policy, shard), the longest span (last point minus key start) of the
    /// blocks written, for `Shared::spans`.
    spans: HashMap<(u32, i64), i64>,
}

/// `newer` merged over `base`. Blocks come in time order, so this is usually an append (linear
/// over a long read); overlapping sources take the merge.
/// The points of `src` within `lo..=hi`: its blocks, each made a column by `block` (given the
/// block's key and value) and cut to the range, then its head columns, merged in that order
/// (a later one wins a shared timestamp). `None` when no point is in the range.
fn merge_sources(
    src: Sources,
    lo: i64,
    hi: i64,
    mut block: impl FnMut(&[u8], &[u8]) -> Result<Column, StorageError>,
) -> Result<Option<Column>, StorageError> {
    let mut merged: Option<Column> = None;
    for (k, v) in &src.blocks {
        merged = merge_opt(merged, block(k, v)?.into_range(lo, hi))?;
    }
    for c in src.heads {
        merged = merge_opt(merged, c)?;
    }
    Ok(merged.filter(|c| !c.is_empty()))
}

fn merge_opt(base: Option<Column>, newer: Column) -> Result<Option<Column>, StorageError> {
    Ok(Some(match base {
        None => newer,
        Some(mut b) => match b.try_append(newer) {
            Ok(()) => b,
            Err(newer) => Column::merge(&b, &newer).ok_or_else(|| {
                StorageError::Invalid("stored columns of one field differ in type".into())
            })?,
        },
    }))
}

/// The hour partials of one series field over `lo..=hi` from `src`, with the aggregates
/// `need` asks for: hours held entirely by one block come from its rollup, the rest (hours
/// cut by `lo`/`hi`, shared by blocks, or with unsealed points) from raw points. The parts
/// hold disjoint hours.
fn hour_parts(
    src: Sources,
    field: &str,
    lo: i64,
    hi: i64,
    need: Need,
) -> Result<Vec<Hours>, StorageError> {
    if matches!(src.field_type, FieldType::Boolean | FieldType::String) {
        return Err(StorageError::Invalid(format!(
            "field {field:?} is not numeric"
        )));
    }
    // Hours held by more than one block (every block's rollup lists the hours it holds).
    let mut all_hours: Vec<i64> = Vec::new();
    let mut block_rollups = Vec::with_capacity(src.blocks.len());
    for (k, v) in &src.blocks {
        let r = rollup::stored_hours(v, need)
            .map_err(|e| corrupted("block rollup", k, e))?
            .ok_or_else(|| corrupted("block rollup", k, "numeric block without rollup"))?;
        all_hours.extend_from_slice(&r.starts);
        block_rollups.push(r);
    }
    // Blocks come in time order, so this is nearly sorted already.
    all_hours.sort_unstable();
    let shared: Vec<i64> = all_hours
        .windows(2)
        .filter(|w| w[0] == w[1])
        .map(|w| w[0])
        .collect();
    // Hours with unsealed points are never read from a rollup.
    let head_hours: BTreeSet<i64> = src
        .heads
        .iter()
        .flat_map(|c| c.ts.iter().map(|&t| rollup::hour_of(t)))
        .collect();
    let whole = |h: i64| h >= lo && h.saturating_add(HOUR - 1) <= hi;
    let from_rollup =
        |h: i64| whole(h) && shared.binary_search(&h).is_err() && !head_hours.contains(&h);
    let mut parts: Vec<Hours> = Vec::new();
    let mut raw: Option<Column> = None;
    for ((k, v), r) in src.blocks.iter().zip(block_rollups) {
        let take: Vec<usize> = (0..r.starts.len())
            .filter(|&i| from_rollup(r.starts[i]))
            .collect();
        if take.len() < r.starts.len() {
            let c = rollup::decode_stored_block(v).map_err(|e| corrupted("block", k, e))?;
            let c = c.filter(|t| t >= lo && t <= hi && !from_rollup(rollup::hour_of(t)));
            raw = merge_opt(raw, c)?;
        }
        if take.len() == r.starts.len() {
            parts.push(r);
        } else if !take.is_empty() {
            parts.push(r.select(&take));
        }
    }
    for c in src.heads {
        raw = merge_opt(raw, c.filter(|t| !from_rollup(rollup::hour_of(t))))?;
    }
    if let Some(raw) = raw.filter(|c| !c.is_empty()) {
        if let Some(p) = rollup::hour_partials(&raw) {
            parts.push(Hours::from_partials(p, need));
        }
    }
    Ok(parts)
}

/// What a read of one series field needs: stored blocks (raw values, in time order) and head
/// columns (oldest head first), all already limited to the asked range where cheap.
struct Sources {
    field_type: FieldType,
    blocks: Vec<(Vec<u8>, Vec<u8>)>,
    heads: Vec<Column>,
}

impl Shared {
    fn write(&self, batch: WriteBatch) -> Result<WriteOutcome, StorageError> {
        self.wait_for_head_space()?;
        let (tx, rx) = channel::bounded(1);
        self.queue.lock().push(Pending { batch, reply: tx });
        {
            let _leader = self.commit.lock();
            if let Ok(r) = rx.try_recv() {
                return r;
            }
            let group = std::mem::take(&mut *self.queue.lock());
            self.commit_group(group);
        }
        rx.recv().map_err(|_| StorageError::Closed)?
    }

    fn wait_for_head_space(&self) -> Result<(), StorageError> {
        let hard = self.cfg.head_memory_limit.saturating_mul(2);
        let deadline = Instant::now() + self.cfg.head_wait;
        let mut sig = self.signal.lock();
        while self.state.read().head_bytes() > hard {
            if sig.stop || !self.cfg.background {
                break;
            }
            if Instant::now() >= deadline {
                // Sealing is failing or far behind; refuse instead of queueing without bound.
                return Err(StorageError::WriteFailed(
                    "unsealed data is over its memory limit and sealing is not keeping up".into(),
                ));
            }
            sig.seal_requested = true;
            self.wake.notify_all();
            self.space.wait_for(&mut sig, Duration::from_millis(200));
        }
        if sig.stop && self.cfg.background && self.state.read().head_bytes() > hard {
            return Err(StorageError::Closed);
        }
        Ok(())
    }

    fn commit_group(&self, group: Vec<Pending>) {
        let now = self.clock.now().as_nanos();
        let mut u = Undo::default();
        let mut replies = Vec::with_capacity(group.len());
        let mut ops: Vec<(u64, Vec<u8>)> = Vec::new();
        let last_seq;
        {
            let mut st = self.state.write();
            for p in group {
                match prepare(&mut st, &self.cfg, now, p.batch, &mut u) {
                    Ok((prep, rejected)) => {
                        if !prep.points.is_empty() {
                            let seq = st.next_seq;
                            st.next_seq += 1;
                            let rec = WalRecordRef {
                                db: &prep.db,
                                rp: &prep.rp,
                                points: &prep.points,
                            };
                            match Records::encode_as::<WalRecord>(&rec) {
                                Ok(bytes) => ops.push((seq, bytes)),
                                Err(e) => {
                                    let _ = p.reply.send(Err(e));
                                    continue;
                                }
                            }
                        }
                        replies.push((p.reply, Some((prep, rejected))));
                    }
                    Err(e) => {
                        let _ = p.reply.send(Err(e));
                    }
                }
            }
            last_seq = st.next_seq - 1;
        }
        let result = self.wal.append(&ops);
        let mut st = self.state.write();
        match result {
            Ok(()) => {
                for (reply, p) in replies {
                    if let Some((prep, rejected)) = p {
                        apply_to_head(&mut st.active, &prep);
                        let _ = reply.send(Ok(WriteOutcome {
                            written: prep.points.len(),
                            rejected,
                        }));
                    }
                }
                st.active.max_seq = st.active.max_seq.max(last_seq);
                if st.active.bytes > self.cfg.head_memory_limit {
                    drop(st);
                    let mut sig = self.signal.lock();
                    sig.seal_requested = true;
                    self.wake.notify_all();
                }
            }
            Err(e) => {
                undo(&mut st, u);
                let msg = e.to_string();
                error!(err = %msg, "write-ahead log write failed; batch refused");
                for (reply, _) in replies {
                    let _ = reply.send(Err(StorageError::WriteFailed(msg.clone())));
                }
            }
        }
    }

    /// Writes a database's catalog record durably.
    fn persist_db(&self, st: &mut State, db: &str) -> Result<(), StorageError> {
        if let Some(d) = st.catalog.databases.get(db) {
            let bytes = Records::encode(d)?;
            self.kv.insert(DatabaseInfo::TREE, db.as_bytes(), &bytes)?;
        }
        self.kv.flush()?;
        st.catalog.dirty.remove(db);
        Ok(())
    }

    fn sources(
        &self,
        db: &str,
        rp: Option<&str>,
        series: SeriesId,
        field: &str,
        lo: i64,
        hi: i64,
    ) -> Result<Option<Sources>, StorageError> {
        let (rp_info, field_info, heads) = {
            let st = self.state.read();
            let d = st
                .catalog
                .databases
                .get(db)
                .ok_or_else(|| StorageError::DatabaseNotFound { name: db.into() })?;
            let r = d
                .rp(rp)
                .ok_or_else(|| StorageError::RetentionPolicyNotFound {
                    name: rp
                        .map(str::to_owned)
                        .or_else(|| d.default_rp.clone())
                        .unwrap_or_default(),
                })?;
            let Some(s) = st.series.get(series) else {
                return Ok(None);
            };
            let Some(f) = d
                .measurements
                .get(&s.measurement)
                .and_then(|m| m.fields.get(field))
            else {
                return Ok(None);
            };
            let key = ColumnKey {
                rp: r.id,
                series,
                field: f.id,
            };
            let mut heads = Vec::new();
            for h in &st.frozen {
                heads.extend(h.read(&key, lo, hi));
            }
            heads.extend(st.active.read(&key, lo, hi));
            let shards: Vec<_> = r.shards_in(lo, hi).copied().collect();
            ((r.id, shards), *f, heads)
        };
        let (rp_id, shards) = rp_info;
        let mut blocks = Vec::new();
        let _g = self.blocks_lock.read();
        for s in shards {
            let prefix = keys::column_prefix(rp_id, s.start, series, field_info.id);
            let mut hi_key = prefix.clone();
            hi_key.extend_from_slice(&keys::time_bytes(hi));
            let prefix = self.scan_start(prefix, rp_id, s.start, lo);
            let mut candidates: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
            for item in self
                .kv
                .range(BLOCKS, (Bound::Included(prefix), Bound::Included(hi_key)))?
            {
                candidates.push(item?);
            }
            // Blocks starting before `lo` matter only if they reach into the range.
            for (k, v) in candidates {
                let bk = BlockKey::decode(&k)
                    .ok_or_else(|| corrupted("block key", &k, "not 32 bytes"))?;
                if bk.start < lo {
                    let sum =
                        rollup::stored_block_summary(&v).map_err(|e| corrupted("block", &k, e))?;
                    if sum.time_range.is_none_or(|(_, max)| max < lo) {
                        continue;
                    }
                }
                blocks.push((k, v));
            }
        }
        Ok(Some(Sources {
            field_type: field_info.field_type(),
            blocks,
            heads,
        }))
    }

    fn seal(&self) -> Result<(), StorageError> {
        // Sealing writes to sled: put off while the disk is nearly full (the log keeps the
        // points, and reads see the head).
        if let Some(space) = &self.cfg.space {
            space.check_backend()?;
        }
        let _s = self.seal_lock.lock();
        self.seal_locked()
    }

    /// Seals every frozen head plus the active one. Caller holds `seal_lock`.
    fn seal_locked(&self) -> Result<(), StorageError> {
        let t = Instant::now();
        let now = self.clock.now().as_nanos();
        // 1. Freeze, and take what must be persisted before blocks refer to it.
        let (heads, new_series) = {
            let mut st = self.state.write();
            if !st.active.is_empty() {
                // Records appended from now on belong to the new head and a new segment.
                self.wal.rotate()?;
                let h = std::mem::take(&mut st.active);
                st.frozen.push(Arc::new(h));
            }
            let ids = std::mem::take(&mut st.series.unpersisted);
            let recs: Vec<(SeriesId, Vec<u8>, SeriesRecord)> = ids
                .iter()
                .filter_map(|id| st.series.get(*id))
                .map(|s| {
                    (
                        s.id,
                        storage_key(s.db, &s.key),
                        SeriesRecord {
                            id: s.id,
                            measurement: s.measurement.clone(),
                            tags: s.tags.clone(),
                        },
                    )
                })
                .collect();
            (st.frozen.clone(), recs)
        };
        let result = self.seal_heads(&heads, &new_series, now);
        let mut st = self.state.write();
        match result {
            Ok(points) => {
                st.frozen
                    .retain(|h| !heads.iter().any(|s| Arc::ptr_eq(h, s)));
                drop(st);
                if points > 0 {
                    info!(
                        points,
                        heads = heads.len(),
                        elapsed_ms = t.elapsed().as_millis() as u64,
                        "sealed head into blocks"
                    );
                }
                self.space.notify_all();
                Ok(())
            }
            Err(e) => {
                // Persist them with the next attempt.
                for (id, _, _) in new_series {
                    if st.series.get(id).is_some() {
                        st.series.unpersisted.push(id);
                    }
                }
                Err(e)
            }
        }
    }

    fn seal_heads(
        &self,
        heads: &[Arc<Head>],
        new_series: &[(SeriesId, Vec<u8>, SeriesRecord)],
        now: i64,
    ) -> Result<usize, StorageError> {
        // Series first: blocks must never refer to unknown ids.
        if !new_series.is_empty() {
            let mut ops = Vec::with_capacity(new_series.len());
            for (_, key, rec) in new_series {
                ops.push((key.clone(), Some(Records::encode(rec)?)));
            }
            self.kv.apply(SeriesRecord::TREE, ops)?;
        }
        // Then columns in bounded groups, so a seal never holds more than one group's copies
        // and block writes at once.
        let keys: BTreeSet<ColumnKey> = heads
            .iter()
            .flat_map(|h| h.columns.keys().copied())
            .collect();
        let keys: Vec<ColumnKey> = keys.into_iter().collect();
        let mut points = 0;
        for group in keys.chunks(SEAL_GROUP_COLUMNS) {
            points += self.seal_group(heads, group, now)?;
        }
        // Catalog changes made by writes (new fields) that no group persisted yet.
        let dirty: Vec<String> = std::mem::take(&mut self.state.write().catalog.dirty)
            .into_iter()
            .collect();
        if !dirty.is_empty() {
            let st = self.state.read();
            let mut ops = Vec::new();
            for n in &dirty {
                if let Some(d) = st.catalog.databases.get(n) {
                    ops.push((n.as_bytes().to_vec(), Some(Records::encode(d)?)));
                }
            }
            drop(st);
            if let Err(e) = self.kv.apply(DatabaseInfo::TREE, ops) {
                self.state.write().catalog.dirty.extend(dirty);
                return Err(e.into());
            }
        }
        self.kv.flush()?;
        // Log segments last; losing this step only means a harmless replay.
        let max_seq = heads.iter().map(|h| h.max_seq).max().unwrap_or(0);
        self.wal.remove_through(max_seq)?;
        Ok(points)
    }

    /// Seals the columns `keys` of the frozen heads: merges them (newer head wins), drops
    /// points past retention, splits by shard (persisting new shards before any block refers
    /// to them) and writes the merged blocks.
    fn seal_group(
        &self,
        heads: &[Arc<Head>],
        keys: &[ColumnKey],
        now: i64,
    ) -> Result<usize, StorageError> {
        let mut columns: Vec<(ColumnKey, Column)> = Vec::with_capacity(keys.len());
        for k in keys {
            let mut merged: Option<Column> = None;
            for h in heads {
                if let Some(c) = h.columns.get(k) {
                    merged = merge_opt(merged, c.normalized())?;
                }
            }
            if let Some(c) = merged {
                columns.push((*k, c));
            }
        }
        let mut chunks: Vec<(BlockKey, Column)> = Vec::with_capacity(columns.len());
        let mut new_shards: Vec<(u32, i64)> = Vec::new();
        let catalog_ops: Vec<BatchOp> = {
            let mut st = self.state.write();
            let mut created_in: BTreeSet<String> = BTreeSet::new();
            let rps: HashMap<u32, (String, usize)> = st
                .catalog
                .databases
                .values()
                .flat_map(|d| {
                    d.rps
                        .iter()
                        .enumerate()
                        .map(|(i, r)| (r.id, (d.name.clone(), i)))
                })
                .collect();
            for (k, col) in columns {
                let Some((db, idx)) = rps.get(&k.rp) else {
                    continue; // policy dropped meanwhile
                };
                let Some(d) = st.catalog.databases.get_mut(db) else {
                    continue;
                };
                let r = &mut d.rps[*idx];
                let col = if r.duration_ns > 0 {
                    col.filter(|t| t >= now.saturating_sub(r.duration_ns))
                } else {
                    col
                };
                let mut start = 0;
                let mut col = Some(col);
                while let Some(c) = col.take() {
                    if start >= c.len() {
                        break;
                    }
                    let first = c.ts[start];
                    let (shard, created) = r.shard_for(first);
                    if let Some(s) = r.shards.iter_mut().find(|s| s.start == shard.start) {
                        if s.compacted {
                            // Late data: the shard needs compacting again.
                            s.compacted = false;
                            created_in.insert(db.clone());
                        }
                    }
                    if created {
                        created_in.insert(db.clone());
                        new_shards.push((k.rp, shard.start));
                    }
                    let end = c.ts[start..].partition_point(|&t| t < shard.end) + start;
                    let key = BlockKey {
                        rp: k.rp,
                        shard: shard.start,
                        series: k.series,
                        field: k.field,
                        start: first,
                    };
                    if start == 0 && end == c.len() {
                        // The usual case, one shard: the column moves, no copy.
                        chunks.push((key, c));
                    } else {
                        chunks.push((key, c.slice(start, end)));
                        start = end;
                        col = Some(c);
                    }
                }
            }
            let mut ops = Vec::new();
            for n in &created_in {
                if let Some(d) = st.catalog.databases.get(n) {
                    ops.push((n.as_bytes().to_vec(), Some(Records::encode(d)?)));
                }
            }
            ops
        };
        if !catalog_ops.is_empty() {
            self.kv.apply(DatabaseInfo::TREE, catalog_ops)?;
        }
        let mut points = 0;
        let mut merged = Merged {
            hot: Vec::with_capacity(chunks.len()),
            ..Merged::default()
        };
        for (bk, col) in chunks {
            points += col.len();
            self.merge_chunk(&bk, col, &mut merged)?;
        }
        let Merged { ops, hot, spans } = merged;
        let block_ops: Vec<BatchOp> = ops.into_iter().collect();
        let _w = self.blocks_lock.write();
        {
            let mut tracked = self.spans.lock();
            for k in new_shards {
                tracked.entry(k).or_insert(0);
            }
        }
        // Untracked shards stay untracked (see `Shared::spans`).
        self.grow_spans(spans);
        self.kv.apply(BLOCKS, block_ops)?;
        let mut dir = self.hot.lock();
        for (bk, b) in hot {
            dir.record(bk.rp, bk.shard, bk.series, bk.field, b);
        }
        Ok(points)
    }

    /// Where a scan of one series field's blocks in a shard (`prefix`) must start to see every
    /// block holding points at or after `lo`: the prefix itself unless the shard's span is
    /// known (see `Shared::spans`).
    fn scan_start(&self, prefix: Vec<u8>, rp: u32, shard: i64, lo: i64) -> Vec<u8> {
        let Some(span) = self.spans.lock().get(&(rp, shard)).copied() else {
            return prefix;
        };
        let from = lo.saturating_sub(span);
        if from <= shard {
            return prefix;
        }
        let mut k = prefix;
        k.extend_from_slice(&keys::time_bytes(from));
        k
    }

    /// The longest span among the blocks `ops` write, per shard whose span is tracked; for
    /// compaction, which reads its blocks back from their encoding (a seal knows them as it
    /// cuts them, see `Merged::spans`). Computed before `blocks_lock` is taken, so readers are
    /// not held up by it.
    fn written_spans(&self, ops: &[BatchOp]) -> Result<HashMap<(u32, i64), i64>, StorageError> {
        let mut out: HashMap<(u32, i64), i64> = HashMap::new();
        // Only tracked shards need a span: late blocks into older shards skip the decoding.
        let tracked: HashSet<(u32, i64)> = self.spans.lock().keys().copied().collect();
        if tracked.is_empty() {
            return Ok(out);
        }
        for (k, v) in ops {
            let Some(v) = v else { continue };
            let bk =
                BlockKey::decode(k).ok_or_else(|| corrupted("block key", k, "not 32 bytes"))?;
            if !tracked.contains(&(bk.rp, bk.shard)) {
                continue;
            }
            let sum = rollup::stored_block_summary(v).map_err(|e| corrupted("block", k, e))?;
            if let Some((_, last)) = sum.time_range {
                let span = out.entry((bk.rp, bk.shard)).or_insert(0);
                *span = (*span).max(last.saturating_sub(bk.start));
            }
        }
        Ok(out)
    }

    /// Grows the tracked spans by `written` (see [`Shared::written_spans`]); called under
    /// `blocks_lock` write, before the blocks are applied. Untracked shards stay untracked.
    fn grow_spans(&self, written: HashMap<(u32, i64), i64>) {
        let mut spans = self.spans.lock();
        for (shard, w) in written {
            if let Some(span) = spans.get_mut(&shard) {
                *span = (*span).max(w);
            }
        }
    }

    /// Merges a new chunk of one series field in one shard with the blocks it overlaps (or the
    /// small block just before it), re-cuts and records in `out` the block writes, the series
    /// field's newest block afterwards and the written blocks' span.
    fn merge_chunk(
        &self,
        bk: &BlockKey,
        new: Column,
        out: &mut Merged,
    ) -> Result<(), StorageError> {
        let ops = &mut out.ops;
        let (Some(&lo), Some(&hi)) = (new.ts.first(), new.ts.last()) else {
            return Ok(());
        };
        let prefix = keys::column_prefix(bk.rp, bk.shard, bk.series, bk.field);
        // (key, block) of the stored blocks to merge with the chunk, and the newest block of
        // the series field that is not among them, if known.
        let (chosen, newest_kept) = match self.append_base(bk, &prefix, lo, ops)? {
            Some(base) => (base, None),
            None => self.scan_base(bk, &prefix, lo, hi, ops)?,
        };
        let mut base: Option<Column> = None;
        for (k, c) in chosen {
            base = merge_opt(base, c)?;
            ops.insert(k, None);
        }
        let merged = match base {
            None => new,
            Some(b) => Column::merge(&b, &new).ok_or_else(|| {
                StorageError::Invalid("stored and new points of one field differ in type".into())
            })?,
        };
        let mut newest = newest_kept;
        for piece in cut_blocks(&merged, self.cfg.max_points_per_block) {
            let (Some(&start), Some(&last)) = (piece.ts.first(), piece.ts.last()) else {
                continue;
            };
            let key = BlockKey { start, ..*bk }.encode();
            let value = rollup::encode_stored_block(&piece).map_err(|e| StorageError::Encode {
                what: "block",
                detail: e.to_string(),
            })?;
            ops.insert(key, Some(value));
            let span = out.spans.entry((bk.rp, bk.shard)).or_insert(0);
            *span = (*span).max(last.saturating_sub(start));
            if newest.is_none_or(|n: HotBlock| start > n.start) {
                newest = Some(HotBlock {
                    start,
                    last,
                    points: piece.len() as u32,
                });
            }
        }
        if let Some(n) = newest {
            out.hot.push((*bk, n));
        }
        Ok(())
    }

    /// The blocks to merge a chunk starting at `lo` with when it only appends to its series
    /// field and the field's newest block is known (see `storage::hot`): that block while it
    /// is small, else none. `None` when the scan must decide.
    fn append_base(
        &self,
        bk: &BlockKey,
        prefix: &[u8],
        lo: i64,
        ops: &BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    ) -> Result<Option<Vec<KeyedBlock>>, StorageError> {
        let Some(h) = self.hot.lock().get(bk.rp, bk.shard, bk.series, bk.field) else {
            return Ok(None);
        };
        // Overlapping or earlier points, or blocks of this field already rewritten by this
        // seal: the scan sees all of them.
        let touched = ops
            .range::<[u8], _>((Bound::Included(prefix), Bound::Unbounded))
            .next()
            .is_some_and(|(k, _)| k.starts_with(prefix));
        if lo <= h.last || touched {
            return Ok(None);
        }
        if h.points as usize >= self.cfg.hot_block_points {
            return Ok(Some(Vec::new()));
        }
        let key = BlockKey {
            start: h.start,
            ..*bk
        }
        .encode();
        let Some(v) = self.kv.get(BLOCKS, &key)? else {
            self.forget_hot(bk);
            return Ok(None);
        };
        let c = rollup::decode_stored_block(&v).map_err(|e| corrupted("block", &key, e))?;
        if c.ts.last() != Some(&h.last) || c.len() != h.points as usize {
            self.forget_hot(bk);
            return Ok(None);
        }
        Ok(Some(vec![(key, c)]))
    }

    fn forget_hot(&self, bk: &BlockKey) {
        warn!(
            rp = bk.rp,
            shard = bk.shard,
            series = bk.series,
            field = bk.field,
            "hot block directory disagreed with the stored blocks; scanning instead"
        );
        self.hot.lock().forget(bk.rp, bk.shard, bk.series, bk.field);
    }

    /// The blocks a chunk spanning `lo..=hi` must be merged with, found by scanning the series
    /// field's blocks (and this seal's pending writes): those it overlaps, and the block just
    /// before it while that one is small. Also returns the newest of the blocks left alone.
    fn scan_base(
        &self,
        bk: &BlockKey,
        prefix: &[u8],
        lo: i64,
        hi: i64,
        ops: &BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    ) -> Result<(Vec<KeyedBlock>, Option<HotBlock>), StorageError> {
        let end = keys::prefix_end(prefix);
        // Stored blocks that can overlap the chunk, and the hot block just before it (found
        // unless a gap longer than the span lies between: a new block then starts).
        let from = self.scan_start(prefix.to_vec(), bk.rp, bk.shard, lo);
        // (key, value, first time, last time, points) of each block of this series field.
        type Existing = (Vec<u8>, Vec<u8>, i64, i64, u32);
        let mut existing: Vec<Existing> = Vec::new();
        // The block just before the scanned ones may be the hot block to grow.
        let before = if from.len() > prefix.len() {
            self.kv.last_in(
                BLOCKS,
                (
                    Bound::Included(prefix.to_vec()),
                    Bound::Excluded(from.clone()),
                ),
            )?
        } else {
            None
        };
        let scanned = self.kv.range(
            BLOCKS,
            (
                Bound::Included(from),
                end.map_or(Bound::Unbounded, Bound::Excluded),
            ),
        )?;
        for item in before.map(Ok).into_iter().chain(scanned) {
            let (k, v) = item?;
            // An earlier op of this seal on the same key wins over what is stored.
            let v = match ops.get(&k) {
                Some(Some(pending)) => pending.clone(),
                Some(None) => continue,
                None => v,
            };
            let s = rollup::stored_block_summary(&v).map_err(|e| corrupted("block", &k, e))?;
            let (a, b) = s.time_range.unwrap_or((i64::MAX, i64::MIN));
            existing.push((k, v, a, b, s.count));
        }
        for (k, v) in ops.range::<[u8], _>((Bound::Included(prefix), Bound::Unbounded)) {
            if !k.starts_with(prefix) {
                break;
            }
            if let Some(v) = v {
                if !existing.iter().any(|e| &e.0 == k) {
                    let s =
                        rollup::stored_block_summary(v).map_err(|e| corrupted("block", k, e))?;
                    let (a, b) = s.time_range.unwrap_or((i64::MAX, i64::MIN));
                    existing.push((k.clone(), v.clone(), a, b, s.count));
                }
            }
        }
        existing.sort_by_key(|e| e.2);
        let mut chosen: Vec<usize> = existing
            .iter()
            .enumerate()
            .filter(|(_, e)| e.3 >= lo && e.2 <= hi)
            .map(|(i, _)| i)
            .collect();
        // Grow the block just before the chunk while it is small (hot), so appends do not make
        // one tiny block per seal, yet a seal never rewrites a big block.
        if let Some(i) = existing.iter().rposition(|e| e.3 < lo) {
            if (existing[i].4 as usize) < self.cfg.hot_block_points && !chosen.contains(&i) {
                chosen.push(i);
            }
        }
        chosen.sort_unstable();
        // The scan saw every block from `from` on, and `before` is the last one ahead of it,
        // so the newest block left alone is the latest-starting unchosen one. Its key's start
        // is what a later lookup needs; a block with no points has no place in the directory.
        let newest_kept = existing
            .iter()
            .enumerate()
            .filter(|(i, e)| !chosen.contains(i) && e.4 > 0)
            .max_by_key(|(_, e)| e.2)
            .and_then(|(_, e)| {
                let start = BlockKey::decode(&e.0)?.start;
                Some(HotBlock {
                    start,
                    last: e.3,
                    points: e.4,
                })
            });
        let mut out = Vec::with_capacity(chosen.len());
        for i in chosen {
            let (k, v, ..) = &existing[i];
            let c = rollup::decode_stored_block(v).map_err(|e| corrupted("block", k, e))?;
            out.push((k.clone(), c));
        }
        Ok((out, newest_kept))
    }

    /// Removes every block whose key starts with `prefix`.
    fn delete_prefix(&self, prefix: &[u8]) -> Result<(), StorageError> {
        self.hot.lock().clear();
        let end = keys::prefix_end(prefix);
        let mut batch = Vec::new();
        let _w = self.blocks_lock.write();
        for item in self.kv.range(
            BLOCKS,
            (
                Bound::Included(prefix.to_vec()),
                end.map_or(Bound::Unbounded, Bound::Excluded),
            ),
        )? {
            batch.push((item?.0, None));
            if batch.len() >= 10_000 {
                self.kv.apply(BLOCKS, std::mem::take(&mut batch))?;
            }
        }
        self.kv.apply(BLOCKS, batch)?;
        Ok(())
    }

    /// Deletes points of `series` in `range` (or everything, dropping the series, for `None`).
    fn rewrite_series(
        &self,
        db: &str,
        series: &[SeriesId],
        range: Option<(i64, i64)>,
    ) -> Result<(), StorageError> {
        let _c = self.commit.lock();
        let _s = self.seal_lock.lock();
        self.seal_locked()?;
        self.hot.lock().clear();
        let (rps, targets) = {
            let st = self.state.read();
            let d = st
                .catalog
                .databases
                .get(db)
                .ok_or_else(|| StorageError::DatabaseNotFound { name: db.into() })?;
            let mut targets = Vec::new();
            for &id in series {
                let Some(s) = st.series.get(id) else { continue };
                if s.db != d.id {
                    continue;
                }
                let fields: Vec<u32> = d
                    .measurements
                    .get(&s.measurement)
                    .map(|m| m.fields.values().map(|f| f.id).collect())
                    .unwrap_or_default();
                targets.push((id, fields));
            }
            (d.rps.clone(), targets)
        };
        let (lo, hi) = range.unwrap_or((i64::MIN, i64::MAX));
        let mut ops: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
        for r in &rps {
            for shard in r.shards_in(lo, hi) {
                for (id, fields) in &targets {
                    for &f in fields {
                        let prefix = keys::column_prefix(r.id, shard.start, *id, f);
                        let end = keys::prefix_end(&prefix);
                        for item in self.kv.range(
                            BLOCKS,
                            (
                                Bound::Included(prefix.clone()),
                                end.map_or(Bound::Unbounded, Bound::Excluded),
                            ),
                        )? {
                            let (k, v) = item?;
                            if range.is_none() {
                                ops.insert(k, None);
                                continue;
                            }
                            let s = rollup::stored_block_summary(&v)
                                .map_err(|e| corrupted("block", &k, e))?;
                            let Some((a, b)) = s.time_range else { continue };
                            if b < lo || a > hi {
                                continue;
                            }
                            let c = rollup::decode_stored_block(&v)
                                .map_err(|e| corrupted("block", &k, e))?;
                            let kept = c.without_range(lo, hi);
                            ops.insert(k.clone(), None);
                            if let Some(&start) = kept.ts.first() {
                                let bk = BlockKey::decode(&k)
                                    .ok_or_else(|| corrupted("block key", &k, "not 32 bytes"))?;
                                let value = rollup::encode_stored_block(&kept).map_err(|e| {
                                    StorageError::Encode {
                                        what: "block",
                                        detail: e.to_string(),
                                    }
                                })?;
                                ops.insert(BlockKey { start, ..bk }.encode(), Some(value));
                            }
                        }
                    }
                }
            }
        }
        {
            let _w = self.blocks_lock.write();
            self.kv.apply(BLOCKS, ops.into_iter().collect())?;
        }
        if range.is_none() {
            let mut st = self.state.write();
            let mut sops = Vec::new();
            for (id, _) in &targets {
                if let Some(s) = st.series.remove(*id) {
                    sops.push((storage_key(s.db, &s.key), None));
                }
            }
            self.kv.apply(SeriesRecord::TREE, sops)?;
        }
        self.kv.flush()?;
        Ok(())
    }

    fn compact_shards(&self, before: i64) -> Result<usize, StorageError> {
        let _s = self.seal_lock.lock();
        let todo: Vec<(String, u32, i64)> = {
            let st = self.state.read();
            st.catalog
                .databases
                .values()
                .flat_map(|d| {
                    d.rps.iter().flat_map(move |r| {
                        r.shards
                            .iter()
                            .filter(move |s| !s.compacted && s.end <= before)
                            .map(move |s| (d.name.clone(), r.id, s.start))
                    })
                })
                .collect()
        };
        for (db, rp, start) in &todo {
            let t = Instant::now();
            let rewritten = self.compact_shard(*rp, *start)?;
            let mut st = self.state.write();
            if let Some(d) = st.catalog.databases.get_mut(db) {
                if let Some(s) = d
                    .rps
                    .iter_mut()
                    .find(|r| r.id == *rp)
                    .and_then(|r| r.shards.iter_mut().find(|s| s.start == *start))
                {
                    s.compacted = true;
                }
            }
            self.persist_db(&mut st, db)?;
            info!(
                rp,
                shard = start,
                rewritten,
                elapsed_ms = t.elapsed().as_millis() as u64,
                "compacted shard"
            );
        }
        Ok(todo.len())
    }

    /// Merges the blocks of each series field of one shard; returns how many blocks it wrote.
    fn compact_shard(&self, rp: u32, shard: i64) -> Result<usize, StorageError> {
        self.hot.lock().clear();
        let prefix = keys::shard_prefix(rp, shard);
        let end = keys::prefix_end(&prefix);
        let mut ops: Vec<BatchOp> = Vec::new();
        let mut pending_bytes = 0usize;
        let mut written = 0usize;
        let mut group: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let flush_group = |group: &mut Vec<(Vec<u8>, Vec<u8>)>,
                           ops: &mut Vec<BatchOp>,
                           pending: &mut usize,
                           written: &mut usize|
         -> Result<(), StorageError> {
            if group.len() > 1 {
                let mut merged: Option<Column> = None;
                for (k, v) in group.iter() {
                    let c = rollup::decode_stored_block(v).map_err(|e| corrupted("block", k, e))?;
                    merged = merge_opt(merged, c)?;
                    ops.push((k.clone(), None));
                }
                let bk = BlockKey::decode(&group[0].0)
                    .ok_or_else(|| corrupted("block key", &group[0].0, "not 32 bytes"))?;
                if let Some(m) = merged {
                    for piece in cut_blocks(&m, self.cfg.max_points_per_block) {
                        let Some(&start) = piece.ts.first() else {
                            continue;
                        };
                        let value = rollup::encode_stored_block(&piece).map_err(|e| {
                            StorageError::Encode {
                                what: "block",
                                detail: e.to_string(),
                            }
                        })?;
                        *pending += value.len();
                        ops.push((BlockKey { start, ..bk }.encode(), Some(value)));
                        *written += 1;
                    }
                }
            }
            group.clear();
            Ok(())
        };
        let items: Vec<(Vec<u8>, Vec<u8>)> = self
            .kv
            .range(
                BLOCKS,
                (
                    Bound::Included(prefix.clone()),
                    end.map_or(Bound::Unbounded, Bound::Excluded),
                ),
            )?
            .collect::<Result<_, _>>()?;
        for (k, v) in items {
            if let Some((first, _)) = group.first() {
                if first.get(..28) != k.get(..28) {
                    flush_group(&mut group, &mut ops, &mut pending_bytes, &mut written)?;
                }
            }
            group.push((k, v));
            if pending_bytes > 8 << 20 {
                // Deletes and inserts of whole groups only, so each batch keeps every series
                // field complete.
                let written = self.written_spans(&ops)?;
                let _w = self.blocks_lock.write();
                self.grow_spans(written);
                self.kv.apply(BLOCKS, std::mem::take(&mut ops))?;
                pending_bytes = 0;
            }
        }
        flush_group(&mut group, &mut ops, &mut pending_bytes, &mut written)?;
        {
            let written = self.written_spans(&ops)?;
            let _w = self.blocks_lock.write();
            self.grow_spans(written);
            self.kv.apply(BLOCKS, ops)?;
        }
        self.kv.flush()?;
        Ok(written)
    }

    fn enforce_retention(&self) -> Result<usize, StorageError> {
        let _s = self.seal_lock.lock();
        let now = self.clock.now().as_nanos();
        let expired: Vec<(String, u32, i64)> = {
            let st = self.state.read();
            st.catalog
                .databases
                .values()
                .flat_map(|d| {
                    d.rps
                        .iter()
                        .filter(|r| r.duration_ns > 0)
                        .flat_map(move |r| {
                            let cutoff = now.saturating_sub(r.duration_ns);
                            r.shards
                                .iter()
                                .filter(move |s| s.end <= cutoff)
                                .map(move |s| (d.name.clone(), r.id, s.start))
                        })
                })
                .collect()
        };
        for (_, rp, start) in &expired {
            self.delete_prefix(&keys::shard_prefix(*rp, *start))?;
        }
        if !expired.is_empty() {
            let mut st = self.state.write();
            let mut dbs = BTreeSet::new();
            for (db, rp, start) in &expired {
                if let Some(d) = st.catalog.databases.get_mut(db) {
                    if let Some(r) = d.rps.iter_mut().find(|r| r.id == *rp) {
                        r.shards.retain(|s| s.start != *start);
                    }
                }
                dbs.insert(db.clone());
            }
            for db in dbs {
                self.persist_db(&mut st, &db)?;
            }
            info!(
                shards = expired.len(),
                "dropped shards past their retention"
            );
        }
        Ok(expired.len())
    }

    fn verify(&self) -> Result<Vec<Corruption>, StorageError> {
        let mut bad = Vec::new();
        for item in self
            .kv
            .range(BLOCKS, (Bound::Unbounded, Bound::Unbounded))?
        {
            let (k, v) = item?;
            let check = BlockKey::decode(&k)
                .ok_or_else(|| "key is not 32 bytes".to_owned())
                .and_then(|_| rollup::decode_stored_block(&v).map_err(|e| e.to_string()))
                .and_then(|c| match rollup::stored_block_rollups(&v) {
                    Err(e) => Err(format!("rollup: {e}")),
                    Ok(_) if c.is_normalized() => Ok(()),
                    Ok(_) => Err("timestamps not strictly increasing".into()),
                });
            if let Err(detail) = check {
                bad.push(Corruption {
                    tree: BLOCKS,
                    key: hex_key(&k),
                    detail,
                });
            }
        }
        Ok(bad)
    }

    fn sealer_loop(&self) {
        let mut last_seal = Instant::now();
        let mut last_retention = Instant::now();
        let _ = self
            .enforce_retention()
            .map_err(|e| error!(err = %e, "retention enforcement failed"));
        loop {
            {
                let mut sig = self.signal.lock();
                if !sig.stop && !sig.seal_requested {
                    self.wake.wait_for(&mut sig, Duration::from_secs(5));
                }
                if sig.stop {
                    return;
                }
                sig.seal_requested = false;
            }
            let over = self.state.read().head_bytes() > self.cfg.head_memory_limit;
            if over || last_seal.elapsed() >= self.cfg.seal_interval {
                match self.seal() {
                    Ok(()) => last_seal = Instant::now(),
                    Err(e) => error!(err = %e, "sealing the head failed; will retry"),
                }
            }
            if last_retention.elapsed() >= self.cfg.retention_check_interval {
                last_retention = Instant::now();
                if let Err(e) = self.enforce_retention() {
                    error!(err = %e, "retention enforcement failed");
                }
                // Shards that ended a while ago get no more regular writes: compact them.
                let before = self.clock.now().as_nanos().saturating_sub(HOUR);
                if let Err(e) = self.compact_shards(before) {
                    error!(err = %e, "shard compaction failed");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
