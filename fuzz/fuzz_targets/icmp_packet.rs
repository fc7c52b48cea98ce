//! cargo-fuzz target for wispmon's ICMP echo codec (`wispmon::net::icmp::packet`).
//!
//! Arbitrary bytes, as a socket could hand them to the pinger, must never panic the decoder in
//! any framing (raw IPv4 with its header, ICMPv4 alone, ICMPv6 alone), a reply it accepts must
//! be consistent, and the same bytes read as (identifier, sequence, payload) must survive an
//! encode → decode round trip. The property itself is
//! `wispmon::net::icmp::check::packet_property`, which the seed-replay test
//! (`net::icmp::tests::seeds_satisfy_the_fuzz_property`) also runs in CI over `seeds/icmp/`;
//! use that directory as the initial corpus:
//!
//! ```text
//! cargo fuzz run --sanitizer=none icmp_packet fuzz/seeds/icmp/
//! ```
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(violation) = wispmon::net::icmp::check::packet_property(data) {
        panic!("ICMP packet property violated: {violation}");
    }
});
