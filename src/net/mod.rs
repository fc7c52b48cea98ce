//! Network adapters that are not HTTP.
//!
//! Owns: raw network I/O below the product logic. Must not: know about devices or checks.

pub mod icmp;
