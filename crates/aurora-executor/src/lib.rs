//! One task on one machine, with Thermos semantics: the process graph (`planner`), running each
//! process in its own process group with its output captured per run (`process`), stopping
//! process groups (`kill`), the task runner that drives them (`runner`) through an ordered list of
//! hooks, one per concern (`hooks`: sandbox, isolation, checkpoint, report, health, disk,
//! graceful shutdown), the status it publishes (`status`), and the per-process report it keeps in
//! the sandbox for the UI (`report`). Everything it opens inside a sandbox as root goes through
//! `beneath` (resolved from the sandbox's fd, never following a link out of it).
//!
//! It knows nothing of the scheduler or its protocol: the agent gives it a [`TaskLaunch`] and
//! watches the [`TaskStatus`] it publishes.

pub mod beneath;
pub mod checkpoint;
pub mod health;
mod hooks;
pub mod isolation;
pub mod kill;
pub mod planner;
pub mod process;
pub mod report;
pub mod runner;
pub mod status;

pub use runner::{ExecutorError, TaskHandle, TaskLaunch, TaskRunner};
pub use status::{ProcessStatus, StopReason, TaskState, TaskStatus};
