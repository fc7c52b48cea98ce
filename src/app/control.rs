//! The control socket: a Unix stream socket in the data directory through which
//! `wispmon backup` asks the running appliance for a consistent online backup.
//!
//! Trust: the socket lives in the data directory (mode 0700) and is itself mode 0600, so only
//! the service user and root can connect; that is the whole authorization, as for the data
//! itself. Protocol: the client sends one command line (`backup`); the server answers `ok`
//! and the backup's bytes, or `error: <why>`, then closes. A backup cut off by an error ends
//! without its end frame, which the client's check of the file catches.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::storage::{BackupSource, BackupSummary, Storage};

/// The socket's file name inside the data directory.
pub const CONTROL_SOCKET: &str = "control.sock";

/// How long a backup waits on a client that stopped reading before giving up.
const CLIENT_STALL: Duration = Duration::from_secs(60);

/// Longest command line read from a client.
const MAX_COMMAND: u64 = 256;

/// The running control socket.
#[derive(Debug)]
pub struct Control {
    path: PathBuf,
    task: JoinHandle<()>,
}

impl Control {
    /// Binds the socket in `data_dir` (replacing a stale one: the data directory's lock is
    /// held, so no other appliance serves it) and starts answering.
    ///
    /// # Errors
    /// The socket cannot be bound or its mode set.
    pub fn start(data_dir: &Path, source: BackupSource) -> anyhow::Result<Control> {
        use std::os::unix::fs::PermissionsExt;
        let path = data_dir.join(CONTROL_SOCKET);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("removing stale {}", path.display())),
        }
        let listener = tokio::net::UnixListener::bind(&path)
            .with_context(|| format!("binding control socket {}", path.display()))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("restricting {}", path.display()))?;
        let task = tokio::spawn(async move {
            loop {
                let stream = match listener.accept().await {
                    Ok((s, _)) => s,
                    Err(e) => {
                        warn!(error = %e, "control socket accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let source = source.clone();
                // The backup is blocking I/O on the engine: a blocking thread per client.
                let std_stream = match stream.into_std() {
                    Ok(s) => s,
                    Err(e) => {
                        warn!(error = %e, "control socket stream failed");
                        continue;
                    }
                };
                tokio::task::spawn_blocking(move || serve_client(std_stream, &source));
            }
        });
        Ok(Control { path, task })
    }

    /// Stops answering and removes the socket file. A backup already streaming runs on its
    /// blocking thread until done; the storage close waits for the engine's locks it holds.
    pub fn stop(self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

fn serve_client(stream: UnixStream, source: &BackupSource) {
    if let Err(e) = answer(stream, source) {
        warn!(error = %e, "control socket client failed");
    }
}

fn answer(mut stream: UnixStream, source: &BackupSource) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    // The backup holds seals off while it streams: a client that stops reading ends it.
    stream.set_write_timeout(Some(CLIENT_STALL))?;
    let mut line = String::new();
    BufReader::new((&stream).take(MAX_COMMAND)).read_line(&mut line)?;
    match line.trim() {
        "backup" => {
            let t = std::time::Instant::now();
            stream.write_all(b"ok\n")?;
            let mut out = std::io::BufWriter::with_capacity(1 << 20, &stream);
            match source.backup(&mut out) {
                Ok(s) => {
                    out.flush()?;
                    info!(
                        entries = s.entries,
                        log_bytes = s.log_bytes,
                        bytes = s.file_bytes,
                        elapsed_ms = t.elapsed().as_millis() as u64,
                        "online backup sent"
                    );
                }
                // The stream stops without an end frame; the client reports it.
                Err(e) => warn!(error = %e, "online backup failed"),
            }
            Ok(())
        }
        other => {
            let other: String = other.chars().take(40).collect();
            writeln!(stream, "error: unknown command {other:?}")
        }
    }
}

/// Where `wispmon backup` got its bytes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackupFrom {
    /// The running appliance, through its control socket.
    Running,
    /// The data directory of a stopped appliance, opened directly.
    Stopped,
}

/// `wispmon backup`: asks the running appliance of `config` for a backup through its control
/// socket, or backs up its stopped data directory, into `output`. The file is written beside
/// its final name, checked end to end, synced and only then renamed into place.
///
/// # Errors
/// Neither the socket nor the data directory can be used, or the backup is incomplete.
pub fn backup(
    config: &crate::config::Config,
    output: &Path,
) -> anyhow::Result<(BackupFrom, BackupSummary)> {
    let partial = {
        let mut name = output.file_name().unwrap_or_default().to_owned();
        name.push(".partial");
        output.with_file_name(name)
    };
    let from = {
        let mut file = std::fs::File::create(&partial)
            .with_context(|| format!("creating {}", partial.display()))?;
        let from = write_backup(config, &mut file).and_then(|from| {
            file.sync_all()
                .with_context(|| format!("syncing {}", partial.display()))?;
            Ok(from)
        });
        match from {
            Ok(from) => from,
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                return Err(e);
            }
        }
    };
    let checked = std::fs::File::open(&partial)
        .map_err(anyhow::Error::from)
        .and_then(|f| {
            Storage::verify_backup(&mut std::io::BufReader::with_capacity(1 << 20, f))
                .map_err(anyhow::Error::from)
        });
    let summary = match checked {
        Ok(s) => s,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(
                e.context("the backup is incomplete (see the appliance's log for why it stopped)")
            );
        }
    };
    std::fs::rename(&partial, output)
        .with_context(|| format!("renaming {} into place", partial.display()))?;
    Ok((from, summary))
}

fn write_backup(
    config: &crate::config::Config,
    file: &mut std::fs::File,
) -> anyhow::Result<BackupFrom> {
    let socket = config.data_dir.join(CONTROL_SOCKET);
    match UnixStream::connect(&socket) {
        Ok(mut s) => {
            s.write_all(b"backup\n")?;
            let mut r = BufReader::with_capacity(1 << 20, s);
            let mut status = String::new();
            (&mut r).take(MAX_COMMAND).read_line(&mut status)?;
            if status.trim() != "ok" {
                anyhow::bail!("the running appliance refused: {}", status.trim());
            }
            std::io::copy(&mut r, file).context("receiving the backup")?;
            Ok(BackupFrom::Running)
        }
        Err(connect) => {
            // Not running (or not reachable): the data directory itself, which fails with a
            // clear "in use" if an appliance does hold it.
            let clock: crate::time::SharedClock = std::sync::Arc::new(crate::time::SystemClock);
            let storage = Storage::open(&config.data_dir, &config.storage, clock)
                .with_context(|| {
                    format!(
                        "no running appliance answered on {} ({connect}), and opening {} directly failed",
                        socket.display(),
                        config.data_dir.display()
                    )
                })?;
            let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
            let r = storage.backup(&mut out);
            let flushed = out.flush();
            storage.close()?;
            r?;
            flushed?;
            Ok(BackupFrom::Stopped)
        }
    }
}

/// `wispmon restore`: restores `input` into the configured data directory, which must not
/// hold a database (the appliance stopped, the old directory moved away).
///
/// # Errors
/// The data directory holds a database, or the file is not a complete backup.
pub fn restore(config: &crate::config::Config, input: &Path) -> anyhow::Result<BackupSummary> {
    let f = std::fs::File::open(input).with_context(|| format!("opening {}", input.display()))?;
    let mut r = std::io::BufReader::with_capacity(1 << 20, f);
    Storage::restore(&mut r, &config.data_dir, &config.storage).with_context(|| {
        format!(
            "restoring {} into {}",
            input.display(),
            config.data_dir.display()
        )
    })
}
