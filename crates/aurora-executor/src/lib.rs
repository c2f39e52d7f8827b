//! One task on one machine, with Thermos semantics: the process graph (`planner`), running each
//! process in its own process group with its output captured per run (`process`), and the task
//! runner that drives them and reports the task's state (`runner`), and the per-process report it
//! keeps in the sandbox for the UI (`report`).
//!
//! It knows nothing of the scheduler or its protocol: the agent gives it a [`TaskLaunch`] and
//! watches the [`TaskStatus`] it publishes.

pub mod checkpoint;
pub mod health;
pub mod isolation;
pub mod planner;
pub mod process;
pub mod report;
pub mod runner;

pub use runner::{
    ExecutorError, ProcessStatus, TaskHandle, TaskLaunch, TaskRunner, TaskState, TaskStatus,
};
