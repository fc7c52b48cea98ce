//! The seal's directory of hot blocks: for each series field in the most recent shards of each
//! retention policy, where its newest block starts, where it ends and how many points it holds,
//! as this process's seals left them.
//!
//! A seal appends a few points to every series field it touches. Finding the block to grow
//! by scanning sled (a reverse range read for the block before the chunk, then a forward one
//! for blocks it overlaps) cost more than a sixth of a 10,000-device seal; with the newest
//! block known, an append is one `get` of that block, or no read at all when it is full.
//!
//! Only exact knowledge is kept. Entries are written after the seal's blocks are applied;
//! every other operation that rewrites blocks (deletes, drops, compaction, retention) clears
//! the directory first, and a miss or a stale entry falls back to the scan. Memory is bounded
//! by the series fields of [`SHARDS_PER_RP`] shards per policy: an entry is 40 bytes (key and
//! [`HotBlock`]) plus the hash table's control byte and spare capacity (by layout, not
//! measured).

use std::collections::BTreeMap;

use super::hash::FastMap;

/// Recent shards remembered per retention policy: the current one and the one before, which
/// still receives late points around a shard boundary.
pub(crate) const SHARDS_PER_RP: usize = 2;

/// The newest block of one series field in one shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HotBlock {
    /// Its first point's time (the block key's start).
    pub(crate) start: i64,
    /// Its last point's time.
    pub(crate) last: i64,
    pub(crate) points: u32,
}

/// Hot blocks by (retention policy id, shard start), then by (series id, field id).
#[derive(Debug, Default)]
pub(crate) struct HotBlocks {
    shards: BTreeMap<(u32, i64), FastMap<(u64, u32), HotBlock>>,
}

impl HotBlocks {
    pub(crate) fn get(&self, rp: u32, shard: i64, series: u64, field: u32) -> Option<HotBlock> {
        self.shards
            .get(&(rp, shard))?
            .get(&(series, field))
            .copied()
    }

    /// Records the newest block of a series field. A shard older than the policy's
    /// [`SHARDS_PER_RP`] newest known ones is not remembered; a newer one pushes the oldest out.
    pub(crate) fn record(&mut self, rp: u32, shard: i64, series: u64, field: u32, b: HotBlock) {
        if !self.shards.contains_key(&(rp, shard)) {
            let known: Vec<i64> = self
                .shards
                .range((rp, i64::MIN)..=(rp, i64::MAX))
                .map(|(k, _)| k.1)
                .collect();
            if known.len() >= SHARDS_PER_RP {
                let oldest = known[0];
                if shard < oldest {
                    return;
                }
                self.shards.remove(&(rp, oldest));
            }
        }
        self.shards
            .entry((rp, shard))
            .or_default()
            .insert((series, field), b);
    }

    /// Forgets one series field (its newest block is no longer known exactly).
    pub(crate) fn forget(&mut self, rp: u32, shard: i64, series: u64, field: u32) {
        if let Some(m) = self.shards.get_mut(&(rp, shard)) {
            m.remove(&(series, field));
        }
    }

    /// Forgets everything: called before any operation other than a seal rewrites blocks.
    pub(crate) fn clear(&mut self) {
        self.shards.clear();
    }

    /// Series fields remembered, over all shards.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards.values().map(|m| m.len()).sum()
    }

    /// Every entry as ((rp, shard, series, field), block).
    #[cfg(test)]
    pub(crate) fn entries(&self) -> Vec<((u32, i64, u64, u32), HotBlock)> {
        self.shards
            .iter()
            .flat_map(|(&(rp, shard), m)| {
                m.iter()
                    .map(move |(&(series, field), &b)| ((rp, shard, series, field), b))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(start: i64) -> HotBlock {
        HotBlock {
            start,
            last: start + 10,
            points: 3,
        }
    }

    #[test]
    fn records_and_finds_per_shard() {
        let mut h = HotBlocks::default();
        h.record(1, 100, 7, 2, b(150));
        assert_eq!(h.get(1, 100, 7, 2), Some(b(150)));
        assert_eq!(h.get(1, 100, 7, 3), None);
        assert_eq!(h.get(1, 200, 7, 2), None);
        assert_eq!(h.get(2, 100, 7, 2), None);
        h.record(1, 100, 7, 2, b(160));
        assert_eq!(h.get(1, 100, 7, 2), Some(b(160)));
        h.forget(1, 100, 7, 2);
        assert_eq!(h.get(1, 100, 7, 2), None);
    }

    #[test]
    fn keeps_the_newest_shards_of_each_policy() {
        let mut h = HotBlocks::default();
        h.record(1, 100, 7, 2, b(100));
        h.record(1, 200, 7, 2, b(200));
        h.record(2, 100, 7, 2, b(100));
        // A third shard of policy 1 pushes its oldest out; policy 2 keeps its own.
        h.record(1, 300, 7, 2, b(300));
        assert_eq!(h.get(1, 100, 7, 2), None);
        assert_eq!(h.get(1, 200, 7, 2), Some(b(200)));
        assert_eq!(h.get(1, 300, 7, 2), Some(b(300)));
        assert_eq!(h.get(2, 100, 7, 2), Some(b(100)));
        // Late data into a shard older than both is not remembered.
        h.record(1, 100, 8, 2, b(100));
        assert_eq!(h.get(1, 100, 8, 2), None);
        assert_eq!(h.len(), 3);
        h.clear();
        assert_eq!(h.len(), 0);
    }
}
