//! cargo-fuzz target for the HTTP answers of a remote InfluxDB (the remote timeseries backend,
//! `import-influx` and the relayed `/write` and `/query`), read by wispmon's own small client.
//!
//! Arbitrary bytes as an answer must never panic the reader, and chunked or length-framed
//! bodies must read back exactly. The property is
//! `wispmon::app::influx_http::answer_property`, which the seed-replay test
//! (`seeds_satisfy_the_fuzz_property` in `src/app/influx_http.rs`) also runs in CI over
//! `seeds/answer/`; use that directory as the initial corpus:
//!
//! ```text
//! cargo fuzz run --sanitizer=none influx_answer fuzz/seeds/answer/
//! ```
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(violation) = wispmon::app::influx_http::answer_property(data) {
        panic!("InfluxDB answer property violated: {violation}");
    }
});
