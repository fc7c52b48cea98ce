//! The ICMP pinger: one socket per address family shared by all probes, replies matched by
//! (identifier, sequence), fping-equivalent statistics; the only user of `socket2`.
//!
//! Owns: ICMP echo packets and sockets. Must not: know about devices, checks or storage.
//!
//! - [`packet`]: Echo Request encoding and Echo Reply decoding for IPv4 and IPv6 (pure, never
//!   panics on input; fuzzed by `fuzz/fuzz_targets/icmp_packet.rs`).
//! - `socket`: opening a socket per family, unprivileged `SOCK_DGRAM` ping sockets where
//!   `net.ipv4.ping_group_range` includes our group, else `SOCK_RAW` with `CAP_NET_RAW`.
//! - `pinger`: [`Pinger::ping`], fping's `-c count -p interval -b bytes -t timeout` over those
//!   sockets, and [`PingResult`] with OpenWISP's reachable / loss / rtt min-avg-max.
//!
//! ```no_run
//! # async fn demo() -> Result<(), wispmon::net::icmp::PingError> {
//! use std::net::Ipv4Addr;
//! use std::sync::Arc;
//! use wispmon::net::icmp::{Pinger, Probe};
//!
//! let pinger = Arc::new(Pinger::new());
//! let result = pinger.ping(Ipv4Addr::LOCALHOST.into(), &Probe::default()).await?;
//! println!("loss {}%, rtt {:?}", result.loss_percent(), result.rtt_min_avg_max_ms());
//! # Ok(())
//! # }
//! ```

pub mod check;
pub mod packet;
mod pinger;
mod socket;

#[cfg(test)]
mod tests;

pub use pinger::{MAX_COUNT, MAX_PROBE_DURATION, PingError, PingResult, Pinger, Probe};
pub use socket::SocketMode;
