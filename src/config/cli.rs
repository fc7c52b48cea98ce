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
    /// Copy every measurement of an InfluxDB 1.x database (an OpenWISP stack's) into the
    /// running wispmon, with its retention policies.
    ImportInflux {
        /// The source InfluxDB, `http://host:port`.
        #[arg(long, value_name = "URL")]
        url: String,
        /// The source database.
        #[arg(long, value_name = "NAME", default_value = "openwisp2")]
        db: String,
        /// The source's user name, if it has authentication on.
        #[arg(long, env = "WISPMON_IMPORT_USERNAME", value_name = "USER")]
        username: Option<String>,
        /// The source's password (better given through the environment).
        #[arg(
            long,
            env = "WISPMON_IMPORT_PASSWORD",
            value_name = "PASSWORD",
            hide_env_values = true
        )]
        password: Option<String>,
        /// The destination wispmon (default: this configuration's listen address).
        #[arg(long, value_name = "URL")]
        dest: Option<String>,
        /// The destination database (default: the source's name).
        #[arg(long, value_name = "NAME")]
        dest_db: Option<String>,
        /// The destination's user name, when `[influx] auth_enabled` is on.
        #[arg(long, env = "WISPMON_DEST_USERNAME", value_name = "USER")]
        dest_username: Option<String>,
        /// The destination's password.
        #[arg(
            long,
            env = "WISPMON_DEST_PASSWORD",
            value_name = "PASSWORD",
            hide_env_values = true
        )]
        dest_password: Option<String>,
    },
}
