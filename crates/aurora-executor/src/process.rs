//! Starting one run of one process: `bash -c CMDLINE` in the task's sandbox, in a process group of
//! its own (so that a kill reaches everything it started), confined (`isolation`: the task's
//! cgroups or rlimits, its user), with stdout and stderr captured to
//! `<sandbox>/.logs/<process>/<run>/{stdout,stderr}` (made through `beneath`: the task owns the
//! sandbox, the agent is root). With `Logger(mode = 'rotate')` the output
//! goes through a pipe and the files rotate (`stdout.1`, `stdout.2`...); otherwise the process
//! writes straight to its files, which keeps logging working even if the executor goes away.
//!
//! This is the only module (with `isolation`) that makes process syscalls; `kill` decides when.

use crate::beneath::{self, Owner};
use crate::isolation::Confinement;
use aurora_model::config::{Logger, LoggerMode};
use nix::sys::signal::{Signal, killpg};
use nix::sys::stat::Mode;
use nix::unistd::Pid;
use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

/// Log files: read and written by the task's user, read by its group, nobody else.
const LOG_FILE_MODE: u32 = 0o640;
/// Log folders (`.logs/NAME/RUN`), the same way.
const LOG_DIR_MODE: u32 = 0o750;

/// The log directory of one run, relative to the sandbox.
pub fn log_dir(process: &str, run: u32) -> PathBuf {
    Path::new(".logs").join(process).join(run.to_string())
}

/// The open log folder of one run: created beneath the sandbox without following links (the
/// task owns the sandbox and may have put one anywhere), every file in it made new.
pub struct RunLogs {
    dir: Arc<OwnedFd>,
    owner: Owner,
}

impl RunLogs {
    /// Creates `<sandbox>/.logs/<process>/<run>`; folders and files made belong to `owner`.
    pub fn open(sandbox: &Path, process: &str, run: u32, owner: Owner) -> io::Result<RunLogs> {
        aurora_model::process::check_name(process)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let root = beneath::open_dir(sandbox)?;
        let mode = Mode::from_bits_truncate(LOG_DIR_MODE);
        let dir = beneath::mkdirs(&root, &log_dir(process, run), mode, owner)?;
        Ok(RunLogs {
            dir: Arc::new(dir),
            owner,
        })
    }

    fn create(&self, name: &str) -> io::Result<File> {
        let mode = Mode::from_bits_truncate(LOG_FILE_MODE);
        beneath::create(self.dir.as_ref(), name, mode, self.owner)
    }
}

/// Starts a run with exactly `env` as its environment. The child leads its own process group
/// (its pid is the group id).
pub fn spawn(
    cmdline: &str,
    sandbox: &Path,
    logs: &RunLogs,
    logger: Option<&Logger>,
    env: &[(&str, String)],
    confine: &Confinement,
) -> io::Result<Child> {
    let rotate = logger
        .filter(|l| l.mode == LoggerMode::Rotate)
        .and_then(|l| l.rotate.clone());
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(cmdline)
        .current_dir(sandbox)
        .stdin(Stdio::null())
        .kill_on_drop(false)
        // Nothing of the agent's environment reaches a task by accident.
        .env_clear();
    for (k, v) in env {
        cmd.env(k, v);
    }
    if rotate.is_some() {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    } else {
        cmd.stdout(logs.create("stdout")?)
            .stderr(logs.create("stderr")?);
    }
    let confine = confine.clone();
    // SAFETY: `enter` makes only async-signal-safe calls; it runs in the child between fork and
    // exec.
    unsafe {
        cmd.pre_exec(move || confine.enter());
    }
    let mut child = cmd.spawn()?;
    if let Some(policy) = rotate {
        let size = policy.log_size.max(1) as u64;
        let backups = policy.backups.max(0) as u32;
        for (pipe, name) in [
            (child.stdout.take().map(Pipe::Out), "stdout"),
            (child.stderr.take().map(Pipe::Err), "stderr"),
        ] {
            let Some(pipe) = pipe else { continue };
            let file = logs.create(name)?;
            let logs = RunLogs {
                dir: logs.dir.clone(),
                owner: logs.owner,
            };
            tokio::spawn(copy_rotating(pipe, logs, file, name, size, backups));
        }
    }
    Ok(child)
}

/// A child's output pipe.
enum Pipe {
    Out(tokio::process::ChildStdout),
    Err(tokio::process::ChildStderr),
}

impl AsyncRead for Pipe {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        match self.get_mut() {
            Pipe::Out(p) => std::pin::Pin::new(p).poll_read(cx, buf),
            Pipe::Err(p) => std::pin::Pin::new(p).poll_read(cx, buf),
        }
    }
}

/// Moves `name` to `name.1` (and older ones up) in the run's folder, by name in that folder:
/// a link the task put there is moved, never followed.
fn rotate(logs: &RunLogs, name: &str, backups: u32) {
    let dir = logs.dir.as_ref();
    for i in (1..backups).rev() {
        let _ = nix::fcntl::renameat(
            dir,
            format!("{name}.{i}").as_str(),
            dir,
            format!("{name}.{}", i + 1).as_str(),
        );
    }
    let _ = nix::fcntl::renameat(dir, name, dir, format!("{name}.1").as_str());
}

/// Copies a pipe into the run's file `name` (already created as `file`), moving it to `name.1`
/// (and older ones up) whenever it reaches `size`; without backups the file starts again empty.
async fn copy_rotating(
    mut from: impl AsyncRead + Unpin,
    logs: RunLogs,
    file: File,
    name: &'static str,
    size: u64,
    backups: u32,
) {
    let mut file = tokio::fs::File::from_std(file);
    let mut written = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut chunk = &buf[..n];
        while !chunk.is_empty() {
            let room = (size - written.min(size)) as usize;
            let take = room.min(chunk.len());
            if file.write_all(&chunk[..take]).await.is_err() {
                return;
            }
            written += take as u64;
            chunk = &chunk[take..];
            if written >= size {
                let _ = file.flush().await;
                if backups == 0 {
                    if file.set_len(0).await.is_err()
                        || tokio::io::AsyncSeekExt::rewind(&mut file).await.is_err()
                    {
                        return;
                    }
                } else {
                    rotate(&logs, name, backups);
                    match logs.create(name) {
                        Ok(f) => file = tokio::fs::File::from_std(f),
                        Err(_) => return,
                    }
                }
                written = 0;
            }
        }
    }
    let _ = file.flush().await;
}

/// Sends `signal` to a whole process group; a group that is gone already is not an error.
pub fn signal_group(pgid: i32, signal: Signal) {
    if pgid > 1 {
        let _ = killpg(Pid::from_raw(pgid), signal);
    }
}

/// Does any process of the group still exist?
pub fn group_alive(pgid: i32) -> bool {
    pgid > 1 && killpg(Pid::from_raw(pgid), None).is_ok()
}
