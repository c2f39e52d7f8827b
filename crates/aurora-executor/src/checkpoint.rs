//! The task's checkpoint in the executor's state directory (`STATE/checkpoint.json`, root-only
//! and outside the sandbox, so the task can neither forge nor replace it): which process groups
//! it runs. Written (atomically: temp file, fsync, rename) on every change, so that after the
//! agent restarts (or crashes) it can find the processes that are still alive and re-adopt them
//! instead of losing or duplicating them. Read back bounded (`beneath::read_bounded`), and a
//! group it names is adopted (and may later be killed) only if the task's cgroup holds a
//! process of that group, when there is a cgroup back end.
//!
//! Not here: when the runner writes it (the checkpoint hook, `hooks::checkpoint`).

use crate::status::StopReason;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// What is on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub task_id: String,
    /// Process groups of the runs in progress.
    pub groups: Vec<i32>,
    /// The task has ended: nothing to adopt.
    pub terminal: bool,
}

fn path(state: &Path) -> PathBuf {
    state.join("checkpoint.json")
}

/// Creates the executor's state directory of a task (and its parents) root-only: 0700.
pub fn make_state_dir(state: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(state)?;
    std::fs::set_permissions(state, std::fs::Permissions::from_mode(0o700))
}

/// Writes the checkpoint durably into the state directory `state`.
pub fn write(state: &Path, cp: &Checkpoint) -> std::io::Result<()> {
    make_state_dir(state)?;
    let tmp = state.join("checkpoint.json.tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&serde_json::to_vec(cp).map_err(std::io::Error::other)?)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path(state))
}

/// Reads the checkpoint in `state`, if there is a readable one (at most
/// [`crate::beneath::MAX_STATE_FILE`] bytes, a regular file, valid JSON); anything else is
/// logged and taken as no checkpoint.
pub fn read(state: &Path) -> Option<Checkpoint> {
    let bytes = match crate::beneath::read_bounded(&path(state), crate::beneath::MAX_STATE_FILE) {
        Ok(b) => b,
        Err(e) if e.is_not_found() => return None,
        Err(e) => {
            tracing::warn!("ignoring the checkpoint: {e}");
            return None;
        }
    };
    serde_json::from_slice(&bytes)
        .map_err(|e| tracing::warn!("ignoring the checkpoint in {}: {e}", state.display()))
        .ok()
}

/// The groups of `cp` that may be adopted: under a cgroup back end, only those with a process
/// in the task's own cgroup (so a checkpoint naming someone else's process group never gets it
/// signalled); without one, every group it names.
fn verified_groups(cp: &Checkpoint, isolation: Option<&crate::isolation::Isolation>) -> Vec<i32> {
    let alive = cp
        .groups
        .iter()
        .copied()
        .filter(|g| crate::process::group_alive(*g));
    match isolation.and_then(|i| i.task_groups(&cp.task_id)) {
        Some(mine) => alive.filter(|g| mine.contains(g)).collect(),
        None => alive.collect(),
    }
}

/// A task found alive in its sandbox after a restart.
pub struct Adopted {
    pub task_id: String,
    status: watch::Receiver<crate::TaskStatus>,
    kill: mpsc::UnboundedSender<Duration>,
}

/// Looks for a live task whose state directory is `state`: its checkpoint says it was running
/// and one of its process groups still exists (and, under `isolation`'s cgroups, is in the
/// task's cgroup). The adopted task is watched (it is over when its groups are gone, and is
/// then reported LOST: its exit statuses went with the old executor) and can be killed.
pub fn adopt(state: &Path, isolation: Option<&crate::isolation::Isolation>) -> Option<Adopted> {
    let cp = read(state)?;
    if cp.terminal || !crate::beneath::plain_name(&cp.task_id) {
        return None;
    }
    let groups = verified_groups(&cp, isolation);
    if groups.is_empty() {
        return None;
    }
    let processes = Vec::new();
    let (tx, rx) = watch::channel(crate::TaskStatus {
        state: crate::TaskState::Running,
        message: Some("Re-adopted after an agent restart".into()),
        processes,
    });
    let (kill_tx, mut kill_rx) = mpsc::unbounded_channel::<Duration>();
    let state = state.to_owned();
    let task_id = cp.task_id.clone();
    let isolation = isolation.cloned();
    tokio::spawn(async move {
        let mut killed = false;
        let mut poll = tokio::time::interval(Duration::from_millis(200));
        loop {
            tokio::select! {
                Some(grace) = kill_rx.recv() => {
                    killed = true;
                    // Checked again: a group gone meanwhile may have had its id reused.
                    let cp = Checkpoint { task_id: task_id.clone(), groups: groups.clone(), terminal: false };
                    crate::kill::escalate(verified_groups(&cp, isolation.as_ref()), grace).await;
                }
                _ = poll.tick() => {}
            }
            if !groups.iter().any(|g| crate::process::group_alive(*g)) {
                break;
            }
        }
        let _ = write(
            &state,
            &Checkpoint {
                task_id: task_id.clone(),
                groups: Vec::new(),
                terminal: true,
            },
        );
        // The executor that made the task's cgroups is gone: nobody else removes them.
        let _ = tokio::task::spawn_blocking(move || {
            crate::isolation::remove_leftover_cgroups(&task_id)
        })
        .await;
        let reason = if killed {
            StopReason::Killed
        } else {
            StopReason::AdoptedEnded
        };
        tx.send_modify(|s| {
            s.state = reason.state();
            s.message = Some(reason.to_string());
        });
    });
    Some(Adopted {
        task_id: cp.task_id,
        status: rx,
        kill: kill_tx,
    })
}

impl Adopted {
    /// Turns the adoption into a handle like a started task's.
    pub fn into_handle(self) -> crate::TaskHandle {
        crate::TaskHandle::from_parts(self.status, self.kill)
    }
}
