//! wispmon: a network-monitoring appliance for small ISPs and air-gapped LANs, in one binary.
//!
//! Layers (imports only point down; `tests/architecture.rs` enforces it):
//! ```text
//! L5  main.rs ─► app/        thin main; app wires everything, owns every task, start/stop order
//! L4  api/        monitor/    HTTP surface and UI · check scheduler and runners
//! L3  domain/     notify/     product rules and records · notification delivery
//! L2  influxql/   lineproto/  InfluxQL engine · line protocol
//! L1  storage/    net/        timeseries engine and record store on sled · ICMP pinger
//! L0  time.rs     config/     timestamps and clock · configuration · telemetry.rs: self-monitoring counters
//! ```
#![deny(unsafe_code)]

pub mod config;
pub mod telemetry;
pub mod time;

pub mod net;
pub mod storage;

pub mod influxql;
pub mod lineproto;

pub mod domain;
pub mod notify;

pub mod api;
pub mod monitor;

pub mod app;

#[cfg(test)]
mod seeds;
