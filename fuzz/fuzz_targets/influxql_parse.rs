//! cargo-fuzz target for wispmon's InfluxQL parser and printer.
//!
//! Arbitrary bytes, read as lossy UTF-8 the way a `q` parameter would be, must never panic the
//! lexer, the parser or the printer; every query that parses must print canonical text that
//! parses back to an equal tree and prints identically; every error must be well formed. The
//! property itself is `wispmon::influxql::check::query_roundtrip`, which the seed-replay test
//! (`seeds_satisfy_the_fuzz_property`) also runs in CI over the seeds; use that directory as the
//! initial corpus:
//!
//! ```text
//! cargo fuzz run --sanitizer=none influxql_parse fuzz/seeds/influxql/
//! ```
//!
//! `fuzz/Cargo.toml` needs `libfuzzer-sys = "0.4"` and `wispmon = { path = ".." }`, plus a
//! `[[bin]] name = "influxql_parse"` with `path = "fuzz_targets/influxql_parse.rs"`,
//! `test = false`, `doc = false`, `bench = false`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let q = String::from_utf8_lossy(data);
    if let Err(violation) = wispmon::influxql::check::query_roundtrip(&q) {
        panic!("InfluxQL property violated: {violation}");
    }
});
