//! cargo-fuzz target for the form bodies wispmon reads: the config agent's controller
//! requests and the InfluxDB API's `POST /query`.
//!
//! Arbitrary bytes must never panic either reader; they must agree, and what they read must
//! read back the same once re-encoded. The property is `wispmon::api::check::form_property`,
//! which the seed-replay test (`form_seeds_satisfy_the_fuzz_property` in
//! `src/api/controller.rs`) also runs in CI over `seeds/form/`; use that directory as the
//! initial corpus:
//!
//! ```text
//! cargo fuzz run --sanitizer=none form_body fuzz/seeds/form/
//! ```
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(violation) = wispmon::api::check::form_property(data) {
        panic!("form property violated: {violation}");
    }
});
