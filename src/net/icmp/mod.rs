//! The ICMP pinger: one socket per address family shared by all probes, replies matched by
//! (identifier, sequence), fping-equivalent statistics; the only user of `socket2`.
//!
//! Owns: ICMP echo packets and sockets. Must not: know about devices, checks or storage.
