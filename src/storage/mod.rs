//! Storage: the embedded timeseries engine and the record store; the only user of `sled`.
//!
//! Owns: the data directory's database, its format version, the unclean-shutdown marker,
//! durability, and (with the timeseries engine) blocks, rollups and retention. Must not: know
//! about line protocol, InfluxQL, devices or HTTP; callers hand it typed values.
//!
//! Data directory:
//! ```text
//! <data_dir>/
//!   wal/               write-ahead log segments (wal.rs)
//!   db/                sled 0.34 database (trees below)
//!   unclean-shutdown   present while running; found at start = previous run crashed
//! ```
//! Trees:
//! ```text
//! meta        "format_version" -> u32 LE (FORMAT_VERSION)
//! <records>   one tree per record type, see record.rs for the value layout
//! ts_catalog  database name -> DatabaseInfo record (policies, shards, measurements, fields)
//! ts_series   db id u32 BE | series key -> SeriesRecord (series.rs)
//! ts_blocks   rp u32 | shard start | series u64 | field u32 | block start -> stored block
//!             (keys.rs; value = codec block + hourly rollups, rollup.rs)
//! ```
//! Keys are big-endian (sled orders keys bytewise), values little-endian, versioned and
//! checksummed.
#![warn(missing_docs)]

mod backup;
mod catalog;
pub mod check;
pub mod codec;
mod column;
mod engine;
mod error;
mod hash;
mod head;
mod hot;
mod intern;
pub mod model_check;

mod keys;
mod kv;
mod meta;
mod point;
mod record;
mod rollup;
mod series;
mod space;
mod wal;

pub use backup::BackupSummary;
pub use catalog::{
    DatabaseInfo, FieldInfo, MeasurementInfo, RetentionPolicyInfo, ShardInfo,
    default_shard_duration,
};
pub use codec::{ColumnValues, FieldType};
pub use column::Column;
pub use engine::{Corruption, Engine, EngineConfig, EngineStats};
pub use intern::{InternedColumn, Interner};

/// Databases whose name starts with this hold wispmon's own bookkeeping (raw interface
/// counters): usable by name, but not listed by `SHOW DATABASES`, so InfluxDB clients (Grafana's
/// database picker, OpenWISP's start-up checks, scripts that drop every database) see only what
/// they or the monitoring stack created.
pub const INTERNAL_DB_PREFIX: &str = "_wispmon";

/// Whether `name` is an internal database (see [`INTERNAL_DB_PREFIX`]).
pub fn is_internal_database(name: &str) -> bool {
    name.starts_with(INTERNAL_DB_PREFIX)
}
pub use error::{KvError, StorageError};
pub use meta::UNCLEAN_MARKER;
pub use point::{FieldValue, Point, PointRejection, WriteBatch, WriteOutcome, type_name};
pub use record::{Record, Records, Unsynced};
pub use rollup::{HourFold, Need, Part, Partials, hour_partials, window_start};
pub use series::{SeriesId, SeriesInfo, series_key};

use std::path::Path;
use std::sync::Arc;

use crate::config::StorageConfig;
use crate::time::SharedClock;
use kv::{Gated, Kv, MemKv, SledKv};
use meta::Marker;

/// The open storage of one data directory.
#[derive(Debug)]
pub struct Storage {
    kv: Arc<dyn Kv>,
    /// The same backend, for holding writes still during a backup.
    gated: Arc<Gated>,
    engine: Arc<Engine>,
    marker: Option<Marker>,
    unclean: bool,
    /// The data directory's free-space guard (none in memory).
    space: Option<Arc<space::Space>>,
}

/// The engine settings of a storage config.
pub fn engine_config(cfg: &StorageConfig) -> EngineConfig {
    EngineConfig {
        space: None,
        max_series_per_database: cfg.max_series_per_database,
        head_memory_limit: usize::try_from(cfg.head_memory_limit.0).unwrap_or(usize::MAX),
        seal_interval: cfg.seal_interval,
        retention_check_interval: cfg.retention_check_interval,
        ..EngineConfig::default()
    }
}

impl Storage {
    /// Opens (creating if needed) the storage in `data_dir` and writes the unclean-shutdown marker.
    ///
    /// # Errors
    /// The directory cannot be created, the database is locked by another process or damaged,
    /// or it was written by an unknown format version.
    pub fn open(
        data_dir: &Path,
        cfg: &StorageConfig,
        clock: SharedClock,
    ) -> Result<Storage, StorageError> {
        create_private_dir(data_dir)?;
        kv::finish_interrupted_vacuum(&data_dir.join("db"))?;
        let gated = Arc::new(Gated::new(Arc::new(SledKv::open(
            &data_dir.join("db"),
            cfg.cache_capacity.0,
        )?)));
        let kv: Arc<dyn Kv> = gated.clone();
        meta::check_format(kv.as_ref())?;
        kv.flush()?;
        let (marker, unclean) = Marker::create(data_dir)?;
        let (wal, replay, damage) = wal::Wal::open(&data_dir.join("wal"), cfg.wal_fsync)?;
        for d in &damage {
            tracing::error!(
                segment = %d.segment,
                offset = d.offset,
                detail = %d.detail,
                "damaged write-ahead log record; the records after it in that segment are lost"
            );
        }
        let space = Arc::new(space::Space::new(data_dir, cfg.min_free_space.0));
        let engine_cfg = EngineConfig {
            space: Some(space.clone()),
            ..engine_config(cfg)
        };
        let engine = Arc::new(Engine::open(
            kv.clone(),
            wal,
            replay,
            engine_cfg,
            clock,
            unclean,
        )?);
        Ok(Storage {
            kv,
            gated,
            engine,
            marker: Some(marker),
            unclean,
            space: Some(space),
        })
    }

    /// Rewrites the database of a data directory that is not open (the server stopped), so
    /// the space of dropped and expired data is returned to the file system. Returns the
    /// database's size before and after, in bytes.
    ///
    /// # Errors
    /// The directory is in use, or copying failed (the original is then left untouched).
    pub fn vacuum(data_dir: &Path, cfg: &StorageConfig) -> Result<(u64, u64), StorageError> {
        let db = data_dir.join("db");
        if !db.is_dir() {
            return Err(StorageError::File {
                action: "vacuuming",
                path: db,
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no database here"),
            });
        }
        kv::finish_interrupted_vacuum(&db)?;
        let before = dir_size(&db);
        kv::vacuum(&db, cfg.cache_capacity.0)?;
        Ok((before, dir_size(&db)))
    }

    /// A storage that lives in memory only, for tests; the engine seals only when asked.
    pub fn in_memory(clock: SharedClock) -> Storage {
        let gated = Arc::new(Gated::new(Arc::new(MemKv::default())));
        let kv: Arc<dyn Kv> = gated.clone();
        let cfg = EngineConfig {
            background: false,
            ..EngineConfig::default()
        };
        let engine = Engine::open(
            kv.clone(),
            wal::Wal::memory(),
            Vec::new(),
            cfg,
            clock,
            false,
        )
        .expect("invariant: an empty in-memory engine opens");
        Storage {
            kv,
            gated,
            engine: Arc::new(engine),
            marker: None,
            unclean: false,
            space: None,
        }
    }

    /// The timeseries engine.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Whether the previous run of this data directory ended without a clean close.
    pub fn previous_run_was_unclean(&self) -> bool {
        self.unclean
    }

    /// The record store.
    pub fn records(&self) -> Records {
        match &self.space {
            Some(space) => Records::guarded(self.kv.clone(), space.clone()),
            None => Records::new(self.kv.clone()),
        }
    }

    /// Streams a consistent backup of this (open, possibly busy) storage to `out`; see
    /// `backup.rs` for what consistent means and the file layout. Writes pause only while the
    /// record trees are copied; seals wait until the end.
    ///
    /// # Errors
    /// Reading the database or the log failed, or `out` refused the bytes.
    pub fn backup(&self, out: &mut dyn std::io::Write) -> Result<BackupSummary, StorageError> {
        self.backup_source().backup(out)
    }

    /// A handle that takes backups of this storage while it is open, for a task that does
    /// not own it.
    pub fn backup_source(&self) -> BackupSource {
        BackupSource {
            kv: self.kv.clone(),
            gated: self.gated.clone(),
            engine: self.engine.clone(),
        }
    }

    /// Restores a backup read from `input` into `data_dir`, which must not hold a database.
    /// Nothing is left behind if the file is damaged or cut off.
    ///
    /// # Errors
    /// The directory already holds a database, the file is not a complete wispmon backup of
    /// this storage format, or writing failed.
    pub fn restore(
        input: &mut dyn std::io::Read,
        data_dir: &Path,
        cfg: &StorageConfig,
    ) -> Result<BackupSummary, StorageError> {
        backup::restore(input, data_dir, cfg)
    }

    /// Checks a backup file from start to end (every checksum, the end frame's counts)
    /// without restoring it.
    ///
    /// # Errors
    /// The file is not a complete, intact wispmon backup of this storage format.
    pub fn verify_backup(input: &mut dyn std::io::Read) -> Result<BackupSummary, StorageError> {
        backup::verify(input)
    }

    /// Bytes the database occupies on disk.
    ///
    /// # Errors
    /// Backend failure.
    pub fn size_on_disk(&self) -> Result<u64, StorageError> {
        Ok(self.kv.size_on_disk()?)
    }

    /// Flushes everything and removes the unclean-shutdown marker.
    ///
    /// # Errors
    /// The flush or the marker removal failed; the marker then stays, and the next start
    /// treats this run as unclean.
    pub fn close(mut self) -> Result<(), StorageError> {
        self.engine.close()?;
        self.kv.flush()?;
        if let Some(m) = self.marker.take() {
            m.remove()?;
        }
        Ok(())
    }
}

/// Takes backups of an open storage; see [`Storage::backup`].
#[derive(Debug, Clone)]
pub struct BackupSource {
    kv: Arc<dyn Kv>,
    gated: Arc<Gated>,
    engine: Arc<Engine>,
}

impl BackupSource {
    /// See [`Storage::backup`].
    ///
    /// # Errors
    /// Reading the database or the log failed, or `out` refused the bytes.
    pub fn backup(&self, out: &mut dyn std::io::Write) -> Result<BackupSummary, StorageError> {
        backup::write_backup(self.kv.as_ref(), || self.gated.hold(), &self.engine, out)
    }
}

/// Bytes of the files under `p` (recursively); unreadable entries count as 0.
pub fn dir_size(p: &Path) -> u64 {
    let mut total = 0;
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            let path = e.path();
            total += if path.is_dir() {
                dir_size(&path)
            } else {
                e.metadata().map(|m| m.len()).unwrap_or(0)
            };
        }
    }
    total
}

/// Creates the data directory readable by its owner only: it holds password hashes and keys.
fn create_private_dir(dir: &Path) -> Result<(), StorageError> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| StorageError::File {
            action: "creating data directory",
            path: dir.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock() -> SharedClock {
        Arc::new(crate::time::SystemClock)
    }

    #[test]
    fn open_close_reopen_tracks_clean_shutdown() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let cfg = StorageConfig {
            cache_capacity: crate::config::ByteSize(1 << 20),
            ..StorageConfig::default()
        };
        let s = Storage::open(&data, &cfg, clock()).unwrap();
        assert!(!s.previous_run_was_unclean());
        assert!(data.join(UNCLEAN_MARKER).exists());
        s.close().unwrap();
        assert!(!data.join(UNCLEAN_MARKER).exists());

        let s = Storage::open(&data, &cfg, clock()).unwrap();
        assert!(!s.previous_run_was_unclean());
        drop(s); // dropped without close: as after a crash, the marker stays
        let s = Storage::open(&data, &cfg, clock()).unwrap();
        assert!(s.previous_run_was_unclean());
        s.close().unwrap();
    }

    #[test]
    fn a_second_open_of_the_same_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = StorageConfig {
            cache_capacity: crate::config::ByteSize(1 << 20),
            ..StorageConfig::default()
        };
        let s = Storage::open(dir.path(), &cfg, clock()).unwrap();
        let e = Storage::open(dir.path(), &cfg, clock()).unwrap_err();
        assert!(matches!(e, StorageError::Kv(KvError::Locked(_))), "{e:?}");
        s.close().unwrap();
    }
}
