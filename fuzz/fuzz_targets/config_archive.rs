//! cargo-fuzz target for the reader of an operator's configuration archive
//! (`wispmon::domain::controller::archive`), which every router of an organization would
//! apply as root.
//!
//! Arbitrary bytes, read as a tar (or as a tar.gz when they start with gzip's magic), must
//! never panic nor exceed the reader's bounds, and whatever it accepts must be what the
//! appliance promises: relative paths without `..`, at least one file. The property is
//! `wispmon::domain::controller::archive::fuzz_property`, which the seed-replay test
//! (`seeds_satisfy_the_fuzz_property` in that module) also runs in CI over `seeds/archive/`;
//! use that directory as the initial corpus:
//!
//! ```text
//! cargo fuzz run --sanitizer=none config_archive fuzz/seeds/archive/
//! ```
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(violation) = wispmon::domain::controller::archive::fuzz_property(data) {
        panic!("archive property violated: {violation}");
    }
});
