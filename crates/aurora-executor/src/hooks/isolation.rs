//! The isolation hook: before any process starts, the task's cgroups (or rlimits) and user are
//! prepared for every child to enter; when a process exits, whether the kernel killed it for
//! exceeding the task's memory; after the task, whatever is left in its cgroups is killed and
//! they are removed.
//!
//! Not here: the back ends and the syscalls (`crate::isolation`).

use super::{Action, Hook, HookFuture, Setup};
use crate::isolation::{Confinement, Isolation, TaskLimits};
use crate::runner::{ExecutorError, RunState, TaskLaunch};
use crate::status::StopReason;

#[derive(Default)]
pub(crate) struct IsolationHook {
    /// The task's cgroups; they own the files each child's confinement writes to, so they live
    /// as long as the hook.
    limits: Option<TaskLimits>,
}

impl Hook for IsolationHook {
    fn prestart(&mut self, launch: &TaskLaunch, setup: &mut Setup) -> Result<(), ExecutorError> {
        if let Some(i) = &launch.isolation {
            self.limits = Some(
                i.for_task(&launch.task_id, &launch.task.resources)
                    .map_err(ExecutorError::Limits)?,
            );
        }
        let rlimits = matches!(launch.isolation.as_deref(), Some(Isolation::Rlimits));
        setup.confine = Confinement::new(self.limits.as_ref(), rlimits, launch.run_as.clone());
        Ok(())
    }

    fn exited(&mut self, run: &RunState, process: usize, code: Option<i32>) -> Action {
        let oom = code != Some(0)
            && run.stop_reason().is_none()
            && self.limits.as_ref().is_some_and(TaskLimits::oom_killed);
        if !oom {
            return Action::None;
        }
        let task = &run.launch().task;
        Action::Stop(StopReason::MemoryExceeded {
            process: task.processes[process].name.clone(),
            ram_mb: task.resources.ram / (1024 * 1024),
        })
    }

    fn poststop<'a>(&'a mut self, _run: &'a RunState) -> HookFuture<'a, ()> {
        Box::pin(async move {
            if let Some(l) = &self.limits {
                l.kill_all();
                l.remove().await;
            }
        })
    }
}
