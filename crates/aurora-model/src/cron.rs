//! A cron job's firing state, kept durably next to its configuration so that a restarted scheduler
//! fires each scheduled instant at most once and never replays what it missed. The schedule's
//! syntax and the firing decisions live in `aurora-sched`.

use serde::{Deserialize, Serialize};

/// Where a cron job stands. Times are milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CronState {
    /// No firing at or before this instant happens any more: the latest firing, or when the job
    /// was scheduled (or rescheduled).
    pub cursor_ms: i64,
    /// The scheduled instant of the newest run started, if any (runs started with `cron start`
    /// carry the time they were asked for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run_ms: Option<i64>,
    /// A firing under KILL_EXISTING waiting for the previous run's tasks to end before it starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_run_ms: Option<i64>,
}

impl CronState {
    /// A job scheduled at `now_ms`: nothing before it fires.
    pub fn scheduled_at(now_ms: i64) -> Self {
        CronState {
            cursor_ms: now_ms,
            last_run_ms: None,
            pending_run_ms: None,
        }
    }
}
