//! The disk hook: while the task is not being stopped, the sandbox's size is measured every
//! `disk_check`, and a sandbox holding more than the task's `disk` stops the task.
//!
//! Not here: measuring (`crate::isolation::disk_usage`).

use super::{Action, Hook, HookFuture};
use crate::runner::{RunState, TaskLaunch};
use crate::status::StopReason;
use std::time::{Duration, Instant};

const MB: u64 = 1024 * 1024;

pub(crate) struct DiskHook {
    /// Bytes the sandbox may hold; 0: unlimited, never measured.
    allowance: u64,
    every: Duration,
    /// When the next measure is due (the first one at once).
    next: Instant,
}

impl DiskHook {
    pub(crate) fn new(launch: &TaskLaunch) -> Self {
        DiskHook {
            allowance: launch.task.resources.disk.max(0) as u64,
            every: launch.disk_check.max(Duration::from_millis(10)),
            next: Instant::now(),
        }
    }
}

impl Hook for DiskHook {
    fn due(&self, run: &RunState) -> Option<Instant> {
        let watching = run.stop_reason().is_none() && !run.plan().killed;
        (self.allowance > 0 && watching).then_some(self.next)
    }

    fn tick<'a>(&'a mut self, run: &'a RunState) -> HookFuture<'a, Action> {
        Box::pin(async move {
            self.next = Instant::now() + self.every;
            let sandbox = run.launch().sandbox.clone();
            let used = tokio::task::spawn_blocking(move || crate::isolation::disk_usage(&sandbox))
                .await
                .unwrap_or(0);
            if used <= self.allowance {
                return Action::None;
            }
            Action::Stop(StopReason::DiskExceeded {
                used_mb: used / MB,
                allowed_mb: self.allowance / MB,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::testing;

    #[tokio::test]
    async fn a_sandbox_over_the_task_disk_stops_it() {
        let dir = tempfile::tempdir().expect("temporary directory");
        std::fs::write(dir.path().join("big"), vec![0u8; 2 * MB as usize]).expect("written");
        let mut launch = testing::launch(dir.path(), MB as i64);
        launch.disk_check = Duration::from_secs(3600);
        let run = testing::state(launch, &[]);
        let mut hook = DiskHook::new(run.launch());
        assert!(
            hook.due(&run).is_some_and(|d| d <= Instant::now()),
            "at once"
        );
        assert_eq!(
            hook.tick(&run).await,
            Action::Stop(StopReason::DiskExceeded {
                used_mb: 2,
                allowed_mb: 1
            })
        );
        assert!(
            hook.due(&run).is_some_and(|d| d > Instant::now()),
            "an interval later"
        );
        let mut roomy = DiskHook::new(&testing::launch(dir.path(), 3 * MB as i64));
        assert_eq!(roomy.tick(&run).await, Action::None);
    }

    #[test]
    fn a_task_without_a_disk_limit_is_not_measured() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let run = testing::state(testing::launch(dir.path(), 0), &[]);
        assert_eq!(DiskHook::new(run.launch()).due(&run), None);
    }
}
