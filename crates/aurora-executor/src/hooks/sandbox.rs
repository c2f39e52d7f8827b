//! The sandbox hook: before any process starts, the task's sandbox directory exists (owned by
//! the task's user when it runs as one), and every process learns where it is and which task it
//! belongs to (`MESOS_SANDBOX`, `THERMOS_TASK_ID`).
//!
//! Not here: what is written inside the sandbox (logs: `process`; checkpoint and report: their
//! hooks).

use super::{Hook, Setup};
use crate::runner::{ExecutorError, TaskLaunch};

pub(crate) struct SandboxHook;

impl Hook for SandboxHook {
    fn prestart(&mut self, launch: &TaskLaunch, setup: &mut Setup) -> Result<(), ExecutorError> {
        let failed = |source| ExecutorError::Sandbox {
            path: launch.sandbox.clone(),
            source,
        };
        std::fs::create_dir_all(&launch.sandbox).map_err(failed)?;
        if let Some(u) = &launch.run_as {
            std::os::unix::fs::chown(&launch.sandbox, Some(u.uid), Some(u.gid)).map_err(failed)?;
        }
        setup
            .env
            .push(("MESOS_SANDBOX", launch.sandbox.display().to_string()));
        setup.env.push(("THERMOS_TASK_ID", launch.task_id.clone()));
        Ok(())
    }
}
