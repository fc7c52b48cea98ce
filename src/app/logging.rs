//! Logging set-up: one `tracing` subscriber for the process.

use tracing_subscriber::EnvFilter;

use crate::config::LogLevel;

/// Installs the subscriber: level from the config unless `RUST_LOG` is set; under systemd
/// (`JOURNAL_STREAM` set) no timestamps and no colour, since journald adds its own.
pub fn init(level: LogLevel) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{},sled=warn", level.as_str())));
    let journald = std::env::var_os("JOURNAL_STREAM").is_some();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    // A second init (tests starting several servers) keeps the first subscriber.
    let _ = if journald {
        builder.without_time().with_ansi(false).try_init()
    } else {
        builder.try_init()
    };
}
