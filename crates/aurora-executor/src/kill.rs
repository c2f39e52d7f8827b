//! How the executor stops process groups, written once: [`escalate`] (SIGTERM, a grace period
//! for the groups to go, then SIGKILL), [`until_gone`] (the wait inside it, also used by the
//! graceful shutdown between its requests) and [`sweep`] (SIGKILL at once, for what is left when
//! a task ends).
//!
//! The signals themselves are sent by `process`; deciding *which* groups to stop is the runner's
//! and the planner's business, not this module's.

use crate::process;
use nix::sys::signal::Signal;
use std::future::Future;
use std::time::{Duration, Instant};

/// How often a group is polled while waiting for it to go.
const POLL: Duration = Duration::from_millis(20);

/// Sends SIGTERM to every group now, and returns the rest of the sequence: wait up to `grace`
/// for the groups to be gone, then SIGKILL every group. SIGTERM goes out before this returns, so
/// a caller that spawns the future has signalled the processes by the time it goes on.
pub fn escalate(groups: Vec<i32>, grace: Duration) -> impl Future<Output = ()> + Send + 'static {
    for &g in &groups {
        process::signal_group(g, Signal::SIGTERM);
    }
    async move {
        until_gone(&groups, grace).await;
        sweep(&groups);
    }
}

/// SIGKILL to every group, now.
pub fn sweep(groups: &[i32]) {
    for &g in groups {
        process::signal_group(g, Signal::SIGKILL);
    }
}

/// Waits up to `limit` for every group to be gone; whether they are.
pub async fn until_gone(groups: &[i32], limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if !groups.iter().any(|g| process::group_alive(*g)) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A process group of its own running `script` under bash; its pid is the group id.
    fn group(script: &str) -> (std::process::Child, i32) {
        use std::os::unix::process::CommandExt;
        let child = std::process::Command::new("bash")
            .arg("-c")
            .arg(script)
            .process_group(0)
            .spawn()
            .expect("bash runs");
        let pgid = child.id() as i32;
        (child, pgid)
    }

    #[tokio::test]
    async fn a_group_that_ignores_sigterm_is_killed_after_the_grace() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let ready = dir.path().join("ready");
        // The trap is set before `ready` exists, and `sleep` inherits the ignored SIGTERM.
        let (mut child, pgid) = group(&format!(
            "trap '' TERM; touch {}; sleep 30 & wait",
            ready.display()
        ));
        while !ready.exists() {
            tokio::time::sleep(POLL).await;
        }
        let grace = Duration::from_millis(300);
        let started = Instant::now();
        escalate(vec![pgid], grace).await;
        assert!(
            started.elapsed() >= grace,
            "the group outlived SIGTERM, so the whole grace period was waited for"
        );
        assert!(child.wait().is_ok());
        assert!(
            until_gone(&[pgid], Duration::from_secs(5)).await,
            "SIGKILL ended the group"
        );
    }

    #[tokio::test]
    async fn a_group_that_obeys_sigterm_is_not_waited_for() {
        let (mut child, pgid) = group("sleep 30");
        let started = Instant::now();
        let rest = escalate(vec![pgid], Duration::from_secs(30));
        assert!(child.wait().is_ok());
        rest.await;
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "it ended before the grace period ran out"
        );
        assert!(!process::group_alive(pgid));
    }
}
