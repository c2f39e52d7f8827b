//! The tasks this agent runs: launching them through the executor (idempotently: a launch that
//! arrives twice starts one task), re-adopting the ones that survived a restart, following their
//! states into status updates, and killing them.

use crate::report::Reporter;
use aurora_api::{LaunchTask, StatusUpdate};
use aurora_executor::{TaskHandle, TaskLaunch, TaskRunner, TaskState};
use aurora_model::task::ScheduleStatus;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// What the scheduler calls each executor state.
fn schedule_status(s: &TaskState) -> ScheduleStatus {
    match s {
        TaskState::Starting => ScheduleStatus::Starting,
        TaskState::Running => ScheduleStatus::Running,
        TaskState::Finished => ScheduleStatus::Finished,
        TaskState::Failed => ScheduleStatus::Failed,
        TaskState::Killed => ScheduleStatus::Killed,
        TaskState::Lost => ScheduleStatus::Lost,
    }
}

/// Task id → its handle (`None` while the task is still starting).
type TaskMap = HashMap<String, Option<Arc<TaskHandle>>>;

pub struct Tasks {
    sandboxes: PathBuf,
    hostname: String,
    confine: crate::Confine,
    reporter: Reporter,
    running: Mutex<TaskMap>,
    /// Kills that arrived while their task was still starting.
    early_kills: Mutex<HashMap<String, Duration>>,
}

impl Tasks {
    pub fn new(
        sandboxes: PathBuf,
        hostname: String,
        confine: crate::Confine,
        reporter: Reporter,
    ) -> Self {
        Tasks {
            sandboxes,
            hostname,
            confine,
            reporter,
            running: Mutex::new(HashMap::new()),
            early_kills: Mutex::new(HashMap::new()),
        }
    }

    fn map(&self) -> MutexGuard<'_, TaskMap> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Ids of the tasks running here.
    pub fn running(&self) -> Vec<String> {
        self.map().keys().cloned().collect()
    }

    fn report(&self, task_id: &str, status: ScheduleStatus, message: Option<String>) {
        self.reporter.send(StatusUpdate {
            task_id: task_id.to_owned(),
            status,
            message,
            timestamp_ms: now_ms(),
        });
    }

    /// Re-adopts the tasks whose processes survived a restart of this agent (their checkpoints say
    /// so and their process groups are alive), so that they are reported, not lost or duplicated.
    pub fn adopt_survivors(self: &Arc<Self>) {
        let Ok(entries) = std::fs::read_dir(&self.sandboxes) else {
            return;
        };
        for entry in entries.flatten() {
            let task_id = entry.file_name().to_string_lossy().into_owned();
            if !crate::sandbox::safe_component(&task_id) {
                continue;
            }
            let state = crate::sandbox::state_dir(&self.sandboxes, &task_id);
            let isolation = self.confine.isolation.as_deref();
            let Some(adopted) = aurora_executor::checkpoint::adopt(&state, isolation) else {
                // Not alive by its checkpoint. A task launched just before the agent died may have
                // processes its checkpoint never named: nothing would ever stop them (and they
                // would hold their ports), so whatever is left in its cgroups is killed.
                let ended = aurora_executor::checkpoint::read(&state).is_some_and(|c| c.terminal);
                if !ended {
                    aurora_executor::isolation::remove_leftover_cgroups(&task_id);
                }
                continue;
            };
            let task_id = adopted.task_id.clone();
            tracing::info!(task = %task_id, "re-adopted a task that survived the restart");
            let handle = Arc::new(adopted.into_handle());
            self.map().insert(task_id.clone(), Some(handle.clone()));
            self.follow(task_id, handle, false);
        }
    }

    /// Starts a task, unless it already runs here.
    pub fn launch(self: &Arc<Self>, l: LaunchTask) {
        if !crate::sandbox::safe_component(&l.task_id) {
            self.report(
                &l.task_id,
                ScheduleStatus::Failed,
                Some("invalid task id".into()),
            );
            return;
        }
        {
            let mut map = self.map();
            if map.contains_key(&l.task_id) {
                return;
            }
            map.insert(l.task_id.clone(), None);
        }
        let me = self.clone();
        tokio::spawn(async move {
            let task_id = l.task_id.clone();
            let run_as = match me.confine.task_user.run_as(&l.user, &me.confine.task_users) {
                Ok(r) => r,
                Err(e) => {
                    me.map().remove(&task_id);
                    let why = format!("could not start the task on {}: {e}", me.hostname);
                    me.report(&task_id, ScheduleStatus::Failed, Some(why));
                    return;
                }
            };
            let launch = TaskLaunch {
                task_id: l.task_id.clone(),
                task: l.task,
                sandbox: me.sandboxes.join(&l.task_id),
                state_dir: crate::sandbox::state_dir(&me.sandboxes, &l.task_id),
                ports: l.ports.into_iter().collect(),
                instance: l.instance,
                hostname: me.hostname.clone(),
                user: l.user,
                isolation: me.confine.isolation.clone(),
                run_as,
                disk_check: me.confine.disk_check,
                health: l.health,
                lifecycle: l.lifecycle,
            };
            let handle = match TaskRunner::start(launch).await {
                Ok(h) => Arc::new(h),
                Err(e) => {
                    me.map().remove(&task_id);
                    me.report(
                        &task_id,
                        ScheduleStatus::Failed,
                        Some(format!("could not start the task: {e}")),
                    );
                    return;
                }
            };
            me.map().insert(task_id.clone(), Some(handle.clone()));
            let early = me
                .early_kills
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&task_id);
            if let Some(grace) = early {
                let h = handle.clone();
                tokio::spawn(async move { h.kill(grace).await });
            }
            me.follow(task_id, handle, true);
        });
    }

    /// Reports a task's state changes until it ends, then forgets it. A task just launched
    /// is reported STARTING first, even when its executor has moved on before this looks
    /// (the status channel keeps only the newest state).
    fn follow(self: &Arc<Self>, task_id: String, handle: Arc<TaskHandle>, launched: bool) {
        let me = self.clone();
        tokio::spawn(async move {
            let mut statuses = handle.status();
            let mut last: Option<ScheduleStatus> = None;
            if launched {
                me.report(&task_id, ScheduleStatus::Starting, None);
                last = Some(ScheduleStatus::Starting);
            }
            loop {
                let (status, message, terminal) = {
                    let s = statuses.borrow_and_update();
                    (
                        schedule_status(&s.state),
                        s.message.clone(),
                        s.state.is_terminal(),
                    )
                };
                if last != Some(status) {
                    me.report(&task_id, status, message);
                    last = Some(status);
                }
                if terminal || statuses.changed().await.is_err() {
                    break;
                }
            }
            me.map().remove(&task_id);
        });
    }

    /// Kills a task; one that does not run here is reported KILLED so the scheduler can close it.
    pub fn kill(self: &Arc<Self>, task_id: &str, grace: Duration) {
        let handle = self.map().get(task_id).cloned();
        match handle {
            Some(Some(h)) => {
                tokio::spawn(async move { h.kill(grace).await });
            }
            Some(None) => {
                // Still starting: the launch applies the kill as soon as it has a handle.
                self.early_kills
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(task_id.to_owned(), grace);
            }
            None => self.report(
                task_id,
                ScheduleStatus::Killed,
                Some("Task is not running on this agent".into()),
            ),
        }
    }
}
