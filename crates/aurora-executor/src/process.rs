//! Starting one run of one process: `bash -c CMDLINE` in the task's sandbox, in a process group of
//! its own (so that a kill reaches everything it started), confined (`isolation`: the task's
//! cgroups or rlimits, its user), with stdout and stderr captured to
//! `<sandbox>/.logs/<process>/<run>/{stdout,stderr}`. With `Logger(mode = 'rotate')` the output
//! goes through a pipe and the files rotate (`stdout.1`, `stdout.2`...); otherwise the process
//! writes straight to its files, which keeps logging working even if the executor goes away.
//!
//! This is the only module (with `isolation`) that makes process syscalls; `kill` decides when.

use crate::isolation::Confinement;
use aurora_model::config::{Logger, LoggerMode};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

/// The log directory of one run.
pub fn log_dir(sandbox: &Path, process: &str, run: u32) -> PathBuf {
    sandbox.join(".logs").join(process).join(run.to_string())
}

/// Starts a run. The child leads its own process group (its pid is the group id).
pub fn spawn(
    cmdline: &str,
    sandbox: &Path,
    logs: &Path,
    logger: Option<&Logger>,
    env: &[(&str, String)],
    confine: &Confinement,
) -> io::Result<Child> {
    std::fs::create_dir_all(logs)?;
    let rotate = logger
        .filter(|l| l.mode == LoggerMode::Rotate)
        .and_then(|l| l.rotate.clone());
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(cmdline)
        .current_dir(sandbox)
        .stdin(Stdio::null())
        .kill_on_drop(false);
    for (k, v) in env {
        cmd.env(k, v);
    }
    if rotate.is_some() {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    } else {
        cmd.stdout(File::create(logs.join("stdout"))?)
            .stderr(File::create(logs.join("stderr"))?);
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
        if let Some(out) = child.stdout.take() {
            tokio::spawn(copy_rotating(out, logs.join("stdout"), size, backups));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(copy_rotating(err, logs.join("stderr"), size, backups));
        }
    }
    Ok(child)
}

/// Copies a pipe into `path`, moving it to `path.1` (and older ones up) whenever it reaches `size`.
async fn copy_rotating(mut from: impl AsyncRead + Unpin, path: PathBuf, size: u64, backups: u32) {
    let rotate = |path: &Path| {
        for i in (1..backups).rev() {
            let _ = std::fs::rename(
                format!("{}.{i}", path.display()),
                format!("{}.{}", path.display(), i + 1),
            );
        }
        if backups > 0 {
            let _ = std::fs::rename(path, format!("{}.1", path.display()));
        }
    };
    let Ok(mut file) = tokio::fs::File::create(&path).await else {
        return;
    };
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
                rotate(&path);
                match tokio::fs::File::create(&path).await {
                    Ok(f) => file = f,
                    Err(_) => return,
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
