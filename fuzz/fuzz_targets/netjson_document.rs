//! cargo-fuzz target for the monitoring agent's NetJSON DeviceMonitoring documents.
//!
//! Arbitrary bytes as a request body must never panic the validator, and an accepted document
//! must give a JSON snapshot and a sample of finite numbers. The property is
//! `wispmon::domain::netjson::check::document_property`, which the seed-replay test
//! (`seeds_satisfy_the_fuzz_property` in `src/domain/netjson/tests.rs`) also runs in CI over
//! `seeds/netjson/`; use that directory as the initial corpus:
//!
//! ```text
//! cargo fuzz run --sanitizer=none netjson_document fuzz/seeds/netjson/
//! ```
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(violation) = wispmon::domain::netjson::check::document_property(data) {
        panic!("NetJSON property violated: {violation}");
    }
});
