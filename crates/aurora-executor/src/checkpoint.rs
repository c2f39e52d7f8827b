//! The task's checkpoint in its sandbox (`.executor/checkpoint.json`): which process groups it
//! runs. Written (atomically: temp file, fsync, rename) on every change, so that after the agent
//! restarts (or crashes) it can find the processes that are still alive and re-adopt them instead
//! of losing or duplicating them.
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

fn path(sandbox: &Path) -> PathBuf {
    sandbox.join(".executor").join("checkpoint.json")
}

/// Writes the checkpoint durably.
pub fn write(sandbox: &Path, cp: &Checkpoint) -> std::io::Result<()> {
    let dir = sandbox.join(".executor");
    std::fs::create_dir_all(&dir)?;
    let tmp = dir.join("checkpoint.json.tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&serde_json::to_vec(cp).map_err(std::io::Error::other)?)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path(sandbox))
}

/// Reads a sandbox's checkpoint, if there is one.
pub fn read(sandbox: &Path) -> Option<Checkpoint> {
    serde_json::from_slice(&std::fs::read(path(sandbox)).ok()?).ok()
}

/// A task found alive in its sandbox after a restart.
pub struct Adopted {
    pub task_id: String,
    status: watch::Receiver<crate::TaskStatus>,
    kill: mpsc::UnboundedSender<Duration>,
}

/// Looks for a live task in `sandbox`: its checkpoint says it was running and one of its process
/// groups still exists. The adopted task is watched (it is over when its groups are gone, and is
/// then reported LOST: its exit statuses went with the old executor) and can be killed.
pub fn adopt(sandbox: &Path) -> Option<Adopted> {
    let cp = read(sandbox)?;
    if cp.terminal || !cp.groups.iter().any(|g| crate::process::group_alive(*g)) {
        return None;
    }
    let processes = Vec::new();
    let (tx, rx) = watch::channel(crate::TaskStatus {
        state: crate::TaskState::Running,
        message: Some("Re-adopted after an agent restart".into()),
        processes,
    });
    let (kill_tx, mut kill_rx) = mpsc::unbounded_channel::<Duration>();
    let sandbox = sandbox.to_owned();
    let groups = cp.groups.clone();
    let task_id = cp.task_id.clone();
    tokio::spawn(async move {
        let mut killed = false;
        let mut poll = tokio::time::interval(Duration::from_millis(200));
        loop {
            tokio::select! {
                Some(grace) = kill_rx.recv() => {
                    killed = true;
                    crate::kill::escalate(groups.clone(), grace).await;
                }
                _ = poll.tick() => {}
            }
            if !groups.iter().any(|g| crate::process::group_alive(*g)) {
                break;
            }
        }
        let _ = write(
            &sandbox,
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
