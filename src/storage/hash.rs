//! A fast, non-cryptographic hasher for the engine's in-memory maps (head columns, series
//! keys). Their keys come from trusted internal ids or are bounded per database, and the
//! per-point lookups are hot enough that SipHash showed up in profiles of ingest.
//!
//! Word-at-a-time multiply-rotate mixing (the "Fx" scheme): fast, adequate spread for these
//! keys. Not for maps keyed by attacker-chosen strings without a size bound.

use std::hash::{BuildHasherDefault, Hasher};

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// The hasher state.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FastHasher(u64);

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// `HashMap` with [`FastHasher`].
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<FastHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_map_works_and_spreads_ids() {
        let mut m: FastMap<(u32, u64, u32), u32> = FastMap::default();
        for i in 0..10_000u32 {
            m.insert((1, u64::from(i), i % 7), i);
        }
        assert_eq!(m.len(), 10_000);
        assert_eq!(m.get(&(1, 42, 0)), Some(&42));
        let mut h1 = FastHasher::default();
        h1.write(b"series,a=1");
        let mut h2 = FastHasher::default();
        h2.write(b"series,a=2");
        assert_ne!(h1.finish(), h2.finish());
    }
}
