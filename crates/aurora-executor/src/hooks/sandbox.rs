//! The sandbox hook: before any process starts, the task's sandbox directory exists (0750,
//! owned by the task's user and its primary group when it runs as one; a link or file in its
//! place refuses the task), the executor's own state directory exists (root-only, 0700, outside
//! the sandbox), and every process gets a clean, Thermos-like environment and nothing else of
//! the agent's: `HOME` and `MESOS_SANDBOX` (the sandbox), `THERMOS_TASK_ID`, `USER` and
//! `LOGNAME` (the user it runs as), and a default `PATH`.
//!
//! Not here: what is written inside the sandbox (logs: `process`; checkpoint and report: their
//! hooks).

use super::{Hook, Setup};
use crate::runner::{ExecutorError, TaskLaunch};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

/// The `PATH` tasks get.
pub(crate) const DEFAULT_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The sandbox's mode: the task's user writes, its group reads, nobody else.
const SANDBOX_MODE: u32 = 0o750;

pub(crate) struct SandboxHook;

/// Creates the sandbox (its parents as they are made normally) and gives it to `owner`.
fn make_sandbox(sandbox: &Path, owner: Option<(u32, u32)>) -> std::io::Result<()> {
    if let Some(parent) = sandbox.parent() {
        std::fs::create_dir_all(parent)?;
    }
    match std::fs::DirBuilder::new()
        .mode(SANDBOX_MODE)
        .create(sandbox)
    {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    // Whatever is there must be a real folder (a link would be followed by what comes next).
    if !std::fs::symlink_metadata(sandbox)?.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "something other than a folder is in its place",
        ));
    }
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::lchown(sandbox, Some(uid), Some(gid))?;
    }
    std::fs::set_permissions(sandbox, std::fs::Permissions::from_mode(SANDBOX_MODE))
}

/// The name of the user the executor runs as (for tasks that run as it).
fn own_user_name() -> Option<String> {
    nix::unistd::User::from_uid(nix::unistd::geteuid())
        .ok()
        .flatten()
        .map(|u| u.name)
}

impl Hook for SandboxHook {
    fn prestart(&mut self, launch: &TaskLaunch, setup: &mut Setup) -> Result<(), ExecutorError> {
        let owner = launch.run_as.as_ref().map(|u| (u.uid, u.gid));
        make_sandbox(&launch.sandbox, owner).map_err(|source| ExecutorError::Sandbox {
            path: launch.sandbox.clone(),
            source,
        })?;
        crate::checkpoint::make_state_dir(&launch.state_dir).map_err(|source| {
            ExecutorError::Sandbox {
                path: launch.state_dir.clone(),
                source,
            }
        })?;
        setup.owner = owner;
        let user = match &launch.run_as {
            Some(u) => u.user.clone(),
            None => own_user_name().unwrap_or_else(|| launch.user.clone()),
        };
        let sandbox = launch.sandbox.display().to_string();
        setup.env = vec![
            ("HOME", sandbox.clone()),
            ("MESOS_SANDBOX", sandbox),
            ("THERMOS_TASK_ID", launch.task_id.clone()),
            ("USER", user.clone()),
            ("LOGNAME", user),
            ("PATH", DEFAULT_PATH.to_owned()),
        ];
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::testing;

    #[test]
    fn the_sandbox_is_private_and_the_environment_clean() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let launch = testing::launch(&dir.path().join("t"), 0);
        let mut setup = Setup::default();
        SandboxHook.prestart(&launch, &mut setup).expect("prepared");
        let mode = |p: &Path| std::fs::metadata(p).expect("exists").permissions().mode() & 0o777;
        assert_eq!(mode(&launch.sandbox), 0o750);
        assert_eq!(mode(&launch.state_dir), 0o700);
        let names: Vec<&str> = setup.env.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            names,
            [
                "HOME",
                "MESOS_SANDBOX",
                "THERMOS_TASK_ID",
                "USER",
                "LOGNAME",
                "PATH"
            ]
        );
        // A link in the sandbox's place refuses the task.
        let linked = dir.path().join("linked");
        std::os::unix::fs::symlink(dir.path(), &linked).expect("link");
        let launch = testing::launch(&linked, 0);
        assert!(SandboxHook.prestart(&launch, &mut setup).is_err());
    }
}
