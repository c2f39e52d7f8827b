//! The task runner's hooks, as Nomad's task runner has them: each concern of a task's life that
//! is not the process graph itself (its sandbox, its isolation, its checkpoint and report, its
//! health, disk and graceful shutdown) is one [`Hook`] in one file here, and [`list`] writes
//! their order once. The runner calls the list at each point of a task's life; a hook answers
//! with an [`Action`] the runner applies, so hooks never reach into each other.
//!
//! What does not live here: the process graph and restart decisions (`planner`, pure), starting
//! and signalling processes (`process`, `kill`), and the loop that dispatches events (`runner`).

mod checkpoint;
mod disk;
mod graceful_shutdown;
mod health;
mod isolation;
mod report;
mod sandbox;

use crate::isolation::Confinement;
use crate::runner::{ExecutorError, RunState, TaskLaunch};
use crate::status::{StopReason, TaskStatus};
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

/// A hook's asynchronous work, borrowing the hook and the task's state while it runs.
pub(crate) type HookFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a hook asks the runner to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// Nothing.
    None,
    /// The task is healthy: STARTING becomes RUNNING.
    Healthy,
    /// Stop the task (its running processes are killed) and end it for this reason.
    Stop(StopReason),
}

/// What prestart hooks prepare for every process of the task.
#[derive(Debug, Default)]
pub(crate) struct Setup {
    /// What each child does before exec (its session, cgroups or rlimits, user).
    pub confine: Confinement,
    /// The whole environment every process (and shell health check) gets.
    pub env: Vec<(&'static str, String)>,
    /// Who owns the folders and files made for the task in its sandbox (its logs).
    pub owner: crate::beneath::Owner,
}

/// One concern of a task's life. Every method has a default that does nothing, so a hook
/// implements only the points it cares about.
pub(crate) trait Hook: Send {
    /// Before any process starts, in list order; an error refuses the task.
    fn prestart(&mut self, _launch: &TaskLaunch, _setup: &mut Setup) -> Result<(), ExecutorError> {
        Ok(())
    }

    /// Whether the task stays STARTING until this hook returns [`Action::Healthy`].
    fn gates_running(&self) -> bool {
        false
    }

    /// The set of the task's live process groups may have changed (a process started or
    /// exited).
    fn groups_changed(&mut self, _run: &RunState) {}

    /// A new status was published.
    fn published(&mut self, _launch: &TaskLaunch, _status: &TaskStatus) {}

    /// Process `process` exited with `code`, before the plan learns of it.
    fn exited(&mut self, _run: &RunState, _process: usize, _code: Option<i32>) -> Action {
        Action::None
    }

    /// When the hook next wants [`Hook::tick`] called; `None`: not now.
    fn due(&self, _run: &RunState) -> Option<Instant> {
        None
    }

    /// The periodic work asked for by [`Hook::due`]. Run to completion once started.
    fn tick<'a>(&'a mut self, _run: &'a RunState) -> HookFuture<'a, Action> {
        Box::pin(async { Action::None })
    }

    /// A kill was asked for, with the processes still running in `groups`. Returns whether the
    /// hook takes over signalling them (it then escalates itself, in its own time).
    fn kill(&mut self, _groups: &[i32], _grace: Duration) -> bool {
        false
    }

    /// After every process group is gone, in reverse list order (teardown undoes setup).
    fn poststop<'a>(&'a mut self, _run: &'a RunState) -> HookFuture<'a, ()> {
        Box::pin(async {})
    }
}

/// The hooks of a task, in the order they run (poststop in reverse).
pub(crate) fn list(launch: &TaskLaunch) -> Vec<Box<dyn Hook>> {
    vec![
        // First: the sandbox must exist (and belong to the task's user) before anything else is
        // made for the task, so a task refused here leaves no cgroup behind. Nothing to tear
        // down: the sandbox outlives the task, for its logs.
        Box::new(sandbox::SandboxHook),
        // Before any process: the cgroups each child joins between fork and exec must exist.
        // Being early, its OOM verdict on an exit is taken before any other hook's. Torn down
        // after the checkpoint below (reverse order): the checkpoint says the task is over
        // before the slow, retried cgroup removal, so an agent restarting meanwhile adopts
        // nothing.
        Box::new(isolation::IsolationHook::default()),
        // Records the groups as soon as they exist; marked terminal before isolation's teardown.
        Box::new(checkpoint::CheckpointHook::new(&launch.task_id)),
        // Follows every published status, for people; no other hook depends on it.
        Box::new(report::ReportHook),
        // Health, then disk: when both are due at once, health is checked first; whichever
        // stops the task gives it its reason, and neither checks a task being stopped.
        Box::new(health::HealthHook::new(launch)),
        Box::new(disk::DiskHook::new(launch)),
        // Last: only a kill reaches it, and the first hook that takes a kill over signals the
        // processes; no other hook does, so its place changes nothing else.
        Box::new(graceful_shutdown::GracefulShutdownHook::new(launch)),
    ]
}
