//! What the executor tells the world about a task: its overall state ([`TaskState`]), each
//! process as the runner sees it ([`ProcessStatus`]), the snapshot published on every change
//! ([`TaskStatus`]), and why a task stopped ([`StopReason`], whose text is the task's final
//! message that users and the scheduler read).
//!
//! Plain data and pure decisions only: nothing here runs a process or writes a file (the runner
//! publishes these, `report` writes them to the sandbox).

use crate::health::HealthFailure;
use crate::planner::ProcState;
use std::fmt;
use std::time::SystemTime;

/// A task's overall state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    Starting,
    Running,
    Finished,
    Failed,
    Killed,
    /// The task's fate is unknown (a re-adopted task whose processes ended).
    Lost,
}

impl TaskState {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskState::Finished | TaskState::Failed | TaskState::Killed | TaskState::Lost
        )
    }
}

/// One process as the runner sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessStatus {
    pub name: String,
    pub state: ProcState,
    pub runs: u32,
    pub last_exit: Option<i32>,
    pub pid: Option<i32>,
    pub started_at: Option<SystemTime>,
    pub ended_at: Option<SystemTime>,
    /// Every run so far, oldest first.
    pub history: Vec<aurora_model::process::ProcessRun>,
}

impl ProcessStatus {
    /// A process that has not run yet.
    pub fn waiting(name: &str) -> Self {
        ProcessStatus {
            name: name.to_owned(),
            state: ProcState::Waiting,
            runs: 0,
            last_exit: None,
            pid: None,
            started_at: None,
            ended_at: None,
            history: Vec::new(),
        }
    }
}

/// A snapshot of the task.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskStatus {
    pub state: TaskState,
    /// Why the task is in its state (for a terminal state, a [`StopReason`]'s text).
    pub message: Option<String>,
    pub processes: Vec<ProcessStatus>,
}

/// Why a task stopped. `Display` gives the task's final message, word for word as users and the
/// scheduler have always read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// Every regular process succeeded.
    Finished,
    /// Killed on request.
    Killed,
    /// Failed with no more precise reason.
    Failed,
    /// A process failed for good (its last exit status, when known).
    ProcessFailed { process: String, exit: Option<i32> },
    /// A process could not be started at all.
    CouldNotStart { process: String, error: String },
    /// The health checks failed it.
    Unhealthy(HealthFailure),
    /// The kernel killed a process for using more memory than the task's `ram`.
    MemoryExceeded { process: String, ram_mb: i64 },
    /// The sandbox grew past the task's `disk`.
    DiskExceeded { used_mb: u64, allowed_mb: u64 },
    /// A task re-adopted after an agent restart whose processes ended: their exit statuses went
    /// with the old executor.
    AdoptedEnded,
}

impl StopReason {
    /// The terminal state a task stopped for this reason is in.
    pub fn state(&self) -> TaskState {
        match self {
            StopReason::Finished => TaskState::Finished,
            StopReason::Killed => TaskState::Killed,
            StopReason::AdoptedEnded => TaskState::Lost,
            StopReason::Failed
            | StopReason::ProcessFailed { .. }
            | StopReason::CouldNotStart { .. }
            | StopReason::Unhealthy(_)
            | StopReason::MemoryExceeded { .. }
            | StopReason::DiskExceeded { .. } => TaskState::Failed,
        }
    }

    /// Why a task whose processes are all over ended: a limit or health check that stopped it
    /// wins, then a kill, then success, then its first process failure.
    pub fn of_ended_task(
        stopped: Option<StopReason>,
        killed: bool,
        succeeded: bool,
        failure: Option<StopReason>,
    ) -> StopReason {
        match stopped {
            Some(reason) => reason,
            None if killed => StopReason::Killed,
            None if succeeded => StopReason::Finished,
            None => failure.unwrap_or(StopReason::Failed),
        }
    }
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::Finished => f.write_str("Task finished successfully"),
            StopReason::Killed => f.write_str("Task killed"),
            StopReason::Failed => f.write_str("Task failed"),
            StopReason::ProcessFailed { process, exit } => match exit {
                Some(code) => write!(f, "Process {process} failed with exit status {code}"),
                None => write!(f, "Process {process} failed with exit status unknown"),
            },
            StopReason::CouldNotStart { process, error } => {
                write!(f, "process {process} could not start: {error}")
            }
            StopReason::Unhealthy(h) => h.fmt(f),
            StopReason::MemoryExceeded { process, ram_mb } => write!(
                f,
                "Memory limit exceeded: process {process} used more than the task's ram ({ram_mb} MB) and was killed"
            ),
            StopReason::DiskExceeded {
                used_mb,
                allowed_mb,
            } => write!(
                f,
                "Disk limit exceeded: the sandbox holds {used_mb} MB, more than the task's disk ({allowed_mb} MB)"
            ),
            StopReason::AdoptedEnded => f.write_str("The re-adopted task's processes ended"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_reasons_read_as_they_always_have() {
        let cases = [
            (StopReason::Finished, "Task finished successfully"),
            (StopReason::Killed, "Task killed"),
            (StopReason::Failed, "Task failed"),
            (
                StopReason::ProcessFailed {
                    process: "web".into(),
                    exit: Some(3),
                },
                "Process web failed with exit status 3",
            ),
            (
                StopReason::ProcessFailed {
                    process: "web".into(),
                    exit: None,
                },
                "Process web failed with exit status unknown",
            ),
            (
                StopReason::CouldNotStart {
                    process: "web".into(),
                    error: "No such file or directory (os error 2)".into(),
                },
                "process web could not start: No such file or directory (os error 2)",
            ),
            (
                StopReason::Unhealthy(HealthFailure::NeverHealthy),
                "Not enough successful health checks in time.",
            ),
            (
                StopReason::Unhealthy(HealthFailure::Failing("x answered 500".into())),
                "Failed health check! x answered 500",
            ),
            (
                StopReason::MemoryExceeded {
                    process: "hog".into(),
                    ram_mb: 64,
                },
                "Memory limit exceeded: process hog used more than the task's ram (64 MB) and was killed",
            ),
            (
                StopReason::DiskExceeded {
                    used_mb: 4,
                    allowed_mb: 1,
                },
                "Disk limit exceeded: the sandbox holds 4 MB, more than the task's disk (1 MB)",
            ),
            (
                StopReason::AdoptedEnded,
                "The re-adopted task's processes ended",
            ),
        ];
        for (reason, text) in cases {
            assert_eq!(reason.to_string(), text);
        }
    }

    #[test]
    fn each_reason_ends_the_task_in_its_state() {
        assert_eq!(StopReason::Finished.state(), TaskState::Finished);
        assert_eq!(StopReason::Killed.state(), TaskState::Killed);
        assert_eq!(StopReason::AdoptedEnded.state(), TaskState::Lost);
        assert_eq!(
            StopReason::DiskExceeded {
                used_mb: 2,
                allowed_mb: 1
            }
            .state(),
            TaskState::Failed
        );
        assert_eq!(StopReason::Failed.state(), TaskState::Failed);
    }

    #[test]
    fn a_limit_wins_over_a_kill_which_wins_over_the_outcome() {
        let disk = StopReason::DiskExceeded {
            used_mb: 2,
            allowed_mb: 1,
        };
        let failed = StopReason::ProcessFailed {
            process: "p".into(),
            exit: Some(1),
        };
        assert_eq!(
            StopReason::of_ended_task(Some(disk.clone()), true, false, Some(failed.clone())),
            disk
        );
        assert_eq!(
            StopReason::of_ended_task(None, true, true, None),
            StopReason::Killed
        );
        assert_eq!(
            StopReason::of_ended_task(None, false, true, None),
            StopReason::Finished
        );
        assert_eq!(
            StopReason::of_ended_task(None, false, false, Some(failed.clone())),
            failed
        );
        assert_eq!(
            StopReason::of_ended_task(None, false, false, None),
            StopReason::Failed
        );
    }
}
