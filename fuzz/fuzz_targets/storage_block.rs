//! cargo-fuzz target for the storage codecs: the column block (delta-of-delta timestamps,
//! Gorilla floats, zig-zag integers, bitmaps, dictionaries) and the stored block with its
//! hourly rollups that every sealed point goes through.
//!
//! Arbitrary bytes must never panic a decoder, and the column made of them must round-trip
//! bit for bit. The property is `wispmon::storage::check::block_property`, which the
//! seed-replay test (`seeds_satisfy_the_fuzz_property` in `src/storage/check.rs`) also runs
//! in CI over `seeds/block/`; use that directory as the initial corpus:
//!
//! ```text
//! cargo fuzz run --sanitizer=none storage_block fuzz/seeds/block/
//! ```
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(violation) = wispmon::storage::check::block_property(data) {
        panic!("storage block property violated: {violation}");
    }
});
