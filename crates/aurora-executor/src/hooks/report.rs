//! The report hook: every published status is written to the task's process report (in the executor's state directory), for
//! people (the web UI and the API).
//!
//! Not here: the report's format (`crate::report`).

use super::Hook;
use crate::runner::TaskLaunch;
use crate::status::TaskStatus;

pub(crate) struct ReportHook;

impl Hook for ReportHook {
    fn published(&mut self, launch: &TaskLaunch, status: &TaskStatus) {
        if let Err(e) = crate::report::write(&launch.state_dir, status) {
            tracing::warn!(task = %launch.task_id, "cannot write the process report: {e}");
        }
    }
}
