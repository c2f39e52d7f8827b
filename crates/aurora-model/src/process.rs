//! A task's processes as its executor records them: state, runs, and each run's times and exit
//! status. The executor keeps these records in the task's sandbox; the agent serves them and the
//! API and the web UI show them. Plain data: the rules that produce them are the executor's.

use serde::{Deserialize, Serialize};

/// One process of a task, as its executor last recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessRecord {
    pub name: String,
    /// Thermos's process state: `WAITING`, `RUNNING`, `SUCCESS`, `FAILED`, `KILLED`.
    pub state: String,
    /// How many times the process was started.
    pub runs: u32,
    /// Every run, oldest first; run numbers start at 0 and name the log folders.
    pub history: Vec<ProcessRun>,
}

/// One run of a process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessRun {
    pub run: u32,
    /// Milliseconds since the Unix epoch.
    pub started_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_ms: Option<i64>,
    /// The exit status (128 + N for a process ended by signal N); absent while running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
}
