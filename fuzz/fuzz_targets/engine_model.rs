//! cargo-fuzz target for the timeseries engine as a whole: programs of writes, seals,
//! compactions, deletes, drops, clean reboots, crashes (dropped without closing) and kills
//! (the data directory copied while open) on a real data directory, against an in-memory
//! model of what InfluxDB 1.x promises.
//!
//! After every operation the engine must hold exactly the model's series, field types and
//! points, and nothing acknowledged may be lost by a restart. The property is
//! `wispmon::storage::model_check::engine_property`, which the seed-replay test
//! (`seeds_satisfy_the_fuzz_property` in `src/storage/model_check.rs`) also runs in CI over
//! `seeds/engine/`; use that directory as the initial corpus. Each run opens sled a few times
//! and syncs to disk, so expect tens of runs per second, not thousands; `-max_len` beyond a
//! few hundred bytes only adds ignored bytes (programs stop after 64 operations):
//!
//! ```text
//! cargo fuzz run --sanitizer=none engine_model fuzz/seeds/engine/ -- -max_len=512
//! ```
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(violation) = wispmon::storage::model_check::engine_property(data) {
        panic!("engine model property violated: {violation}");
    }
});
