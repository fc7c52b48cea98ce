//! The integration test binary: the real server on `127.0.0.1:0`, spoken to over HTTP.
#![allow(unreachable_pub)] // test helpers are shared between modules of one binary
#![allow(clippy::unwrap_used, clippy::disallowed_methods)] // a test harness: panics are failures, and it waits on child processes from plain threads

mod backup;
mod checks;
mod compat_select;
mod compat_write;
mod config_cli;
mod controller;
mod crash_http;
mod device_metrics;
mod disk_full;
mod geo_api;
#[path = "support/http_sink.rs"]
mod http_sink;
mod import;
mod influx_write;
mod lifecycle;
mod limits;
mod maintenance;
#[path = "support/netjson_cases.rs"]
mod netjson_cases;
mod notifications;
mod operator_api;
mod overload;
mod packaging;
mod python_client;
mod remote_backend;
#[path = "support/smtp_sink.rs"]
mod smtp_sink;
mod soak;
mod tenant_walls;
mod ui;
mod util;
