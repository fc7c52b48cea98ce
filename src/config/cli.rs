//! The command line: subcommands and the flags that override config keys.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// wispmon: network monitoring for small ISPs and air-gapped LANs, in one binary.
#[derive(Debug, Parser)]
#[command(name = "wispmon", version, about, propagate_version = true)]
pub struct Cli {
    /// TOML config file (also `WISPMON_CONFIG`).
    #[arg(long, global = true, env = "WISPMON_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Config keys set on the command line; they win over env and file.
    #[command(flatten)]
    pub overrides: Overrides,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Flags that override config keys of the same name.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Overrides {
    /// Data directory (key `data_dir`, default `./wispmon-data`).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// HTTP listen address (key `listen`, default `127.0.0.1:8086`).
    #[arg(long, global = true, value_name = "HOST:PORT")]
    pub listen: Option<String>,

    /// Log level: error, warn, info, debug, trace (key `log_level`; `RUST_LOG` wins).
    #[arg(long, global = true, value_name = "LEVEL")]
    pub log_level: Option<String>,
}

impl Overrides {
    /// The overrides that are set, as `(key, flag, value)`.
    pub fn entries(&self) -> Vec<(&'static str, &'static str, String)> {
        let mut v = Vec::new();
        if let Some(d) = &self.data_dir {
            v.push(("data_dir", "--data-dir", d.to_string_lossy().into_owned()));
        }
        if let Some(l) = &self.listen {
            v.push(("listen", "--listen", l.clone()));
        }
        if let Some(l) = &self.log_level {
            v.push(("log_level", "--log-level", l.clone()));
        }
        v
    }
}

/// The subcommands.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Run the appliance: storage, monitoring and the HTTP listener.
    Serve,
    /// Print the effective configuration, or every problem with its key path (exit 1).
    CheckConfig,
    /// Run every active check once (ping, data collected, ...) on a stopped appliance's data
    /// and store the results, as the running appliance does each period.
    RunChecks,
    /// Rewrite the database of a stopped appliance so the space of dropped and expired data
    /// goes back to the file system.
    Vacuum,
    /// Write a consistent backup of the appliance's data to a file: from the running
    /// appliance through its control socket (writes pause only for a moment), or from the
    /// stopped data directory.
    Backup {
        /// The backup file to write (written beside it first, checked, then renamed).
        #[arg(long, short, value_name = "FILE")]
        output: PathBuf,
    },
    /// Restore a backup file into the data directory, which must hold no database (stop the
    /// appliance and move the old directory away first).
    Restore {
        /// The backup file to read.
        #[arg(long, short, value_name = "FILE")]
        input: PathBuf,
    },
}
