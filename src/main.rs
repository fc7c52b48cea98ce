//! The `wispmon` binary: parses the command line, loads the configuration and hands over to
//! `wispmon::app`.

use std::process::ExitCode;

use clap::Parser;
use wispmon::config::{Cli, Command, Config};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref(), std::env::vars(), &cli.overrides) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("wispmon: {e}");
            return ExitCode::from(1);
        }
    };
    match cli.command {
        Command::CheckConfig => match wispmon::app::check_config(&config) {
            Ok(()) => {
                print!("{config}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("wispmon: {e:#}");
                ExitCode::from(1)
            }
        },
        Command::Vacuum => {
            wispmon::app::logging::init(config.log_level);
            match wispmon::app::vacuum(&config) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("wispmon: {e:#}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Backup { output } => {
            wispmon::app::logging::init(config.log_level);
            match wispmon::app::control::backup(&config, &output) {
                Ok((from, s)) => {
                    let from = match from {
                        wispmon::app::control::BackupFrom::Running => "the running appliance",
                        wispmon::app::control::BackupFrom::Stopped => "the stopped data directory",
                    };
                    println!(
                        "wispmon: backed up {from} to {}: {} entries, {} bytes of log, {} bytes",
                        output.display(),
                        s.entries,
                        s.log_bytes,
                        s.file_bytes
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("wispmon: backup failed: {e:#}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Restore { input } => {
            wispmon::app::logging::init(config.log_level);
            match wispmon::app::control::restore(&config, &input) {
                Ok(s) => {
                    println!(
                        "wispmon: restored {} into {}: {} entries, {} bytes of log",
                        input.display(),
                        config.data_dir.display(),
                        s.entries,
                        s.log_bytes
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("wispmon: restore failed: {e:#}");
                    ExitCode::from(1)
                }
            }
        }
        Command::ImportInflux {
            url,
            db,
            username,
            password,
            dest,
            dest_db,
            dest_username,
            dest_password,
        } => {
            use wispmon::app::import::{Endpoint, import};
            let pair = |u: Option<String>, p: Option<String>| u.map(|u| (u, p.unwrap_or_default()));
            let dest = dest.unwrap_or_else(|| wispmon::app::import::local_url(&config));
            let endpoints = Endpoint::parse(&url, pair(username, password)).and_then(|s| {
                Ok((
                    s,
                    Endpoint::parse(&dest, pair(dest_username, dest_password))?,
                ))
            });
            let dest_db = dest_db.unwrap_or_else(|| db.clone());
            let result = endpoints.and_then(|(source, target)| {
                import(&source, &db, &target, &dest_db, |rp, m, n| {
                    println!("wispmon: copied {n} points of {rp}.{m}");
                })
            });
            match result {
                Ok(s) => {
                    println!(
                        "wispmon: imported {} points ({} measurement and policy pairs) from {url} {db} into {dest} {dest_db}",
                        s.points(),
                        s.copied.len()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("wispmon: import failed: {e:#}");
                    ExitCode::from(1)
                }
            }
        }
        Command::RunChecks => {
            wispmon::app::logging::init(config.log_level);
            match wispmon::app::run_checks(&config) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("wispmon: {e:#}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Serve => {
            wispmon::app::logging::init(config.log_level);
            match wispmon::app::run(&config) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = format!("{e:#}"), "wispmon failed");
                    eprintln!("wispmon: {e:#}");
                    ExitCode::from(1)
                }
            }
        }
    }
}
