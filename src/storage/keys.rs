//! Block key layout. Keys are big-endian so sled's bytewise order is numeric order; signed
//! times are stored with the sign bit flipped so negative times sort before positive ones.
//!
//! ```text
//! ts_blocks:  rp id u32 | shard start u64* | series id u64 | field id u32 | block start u64*
//!             (32 bytes; * = i64 ns with the sign bit flipped)
//! ts_wal:     sequence u64
//! ```
//! A shard is one key range (`rp | shard start`), and one series field over a shard is one
//! short range (`rp | shard start | series | field`).

/// Sign-flipped big-endian form of a time, so byte order equals time order.
pub(crate) fn time_bytes(t: i64) -> [u8; 8] {
    ((t as u64) ^ (1 << 63)).to_be_bytes()
}

pub(crate) fn time_from_bytes(b: [u8; 8]) -> i64 {
    (u64::from_be_bytes(b) ^ (1 << 63)) as i64
}

/// A decoded block key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlockKey {
    pub(crate) rp: u32,
    pub(crate) shard: i64,
    pub(crate) series: u64,
    pub(crate) field: u32,
    pub(crate) start: i64,
}

impl BlockKey {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut k = column_prefix(self.rp, self.shard, self.series, self.field);
        k.extend_from_slice(&time_bytes(self.start));
        k
    }

    pub(crate) fn decode(k: &[u8]) -> Option<BlockKey> {
        if k.len() != 32 {
            return None;
        }
        let u32_at = |i: usize| u32::from_be_bytes([k[i], k[i + 1], k[i + 2], k[i + 3]]);
        let b8 = |i: usize| -> [u8; 8] {
            let mut a = [0u8; 8];
            a.copy_from_slice(&k[i..i + 8]);
            a
        };
        Some(BlockKey {
            rp: u32_at(0),
            shard: time_from_bytes(b8(4)),
            series: u64::from_be_bytes(b8(12)),
            field: u32_at(20),
            start: time_from_bytes(b8(24)),
        })
    }
}

/// The prefix of every block of one retention policy.
pub(crate) fn rp_prefix(rp: u32) -> Vec<u8> {
    rp.to_be_bytes().to_vec()
}

/// The prefix of every block of one shard.
pub(crate) fn shard_prefix(rp: u32, shard: i64) -> Vec<u8> {
    let mut k = rp_prefix(rp);
    k.extend_from_slice(&time_bytes(shard));
    k
}

/// The prefix of every block of one series field in one shard.
pub(crate) fn column_prefix(rp: u32, shard: i64, series: u64, field: u32) -> Vec<u8> {
    let mut k = shard_prefix(rp, shard);
    k.extend_from_slice(&series.to_be_bytes());
    k.extend_from_slice(&field.to_be_bytes());
    k
}

/// The smallest key greater than every key starting with `prefix`.
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last != 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

pub(crate) fn wal_key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_bytes_order_matches_time_order() {
        let ts = [i64::MIN, -5, -1, 0, 1, 7, i64::MAX];
        for w in ts.windows(2) {
            assert!(time_bytes(w[0]) < time_bytes(w[1]));
            assert_eq!(time_from_bytes(time_bytes(w[0])), w[0]);
        }
    }

    #[test]
    fn block_key_round_trips_and_nests_in_prefixes() {
        let k = BlockKey {
            rp: 3,
            shard: -86_400,
            series: 99,
            field: 2,
            start: -10,
        };
        let b = k.encode();
        assert_eq!(b.len(), 32);
        assert_eq!(BlockKey::decode(&b), Some(k));
        assert!(b.starts_with(&column_prefix(3, -86_400, 99, 2)));
        assert!(b.starts_with(&shard_prefix(3, -86_400)));
        assert!(prefix_end(&shard_prefix(3, -86_400)).unwrap() > b);
        assert_eq!(prefix_end(&[1, 0xff]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xff]), None);
        assert_eq!(BlockKey::decode(&b[..31]), None);
    }
}
