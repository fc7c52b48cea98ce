//! cargo-fuzz target for wispmon's line-protocol parser and writer.
//!
//! Arbitrary bytes, read as lossy UTF-8 the way a `/write` body would be, must never panic the
//! parser or the writer, and every line that parses must be writable and read back bit-for-bit
//! equal. The property itself is `wispmon::lineproto::check::body_roundtrip`, which the
//! seed-replay test (`seeds_satisfy_the_fuzz_property`) also runs in CI over `seeds/`; use that
//! directory as the initial corpus:
//!
//! ```text
//! cargo fuzz run --sanitizer=none lp_parse fuzz/seeds/lp/
//! ```
//!
//! `fuzz/Cargo.toml` needs `libfuzzer-sys = "0.4"` and `wispmon = { path = ".." }`, plus a
//! `[[bin]] name = "lp_parse"` with `path = "fuzz_targets/lp_parse.rs"`, `test = false`,
//! `doc = false`, `bench = false`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let body = String::from_utf8_lossy(data);
    if let Err(violation) = wispmon::lineproto::check::body_roundtrip(&body) {
        panic!("line protocol property violated: {violation}");
    }
});
