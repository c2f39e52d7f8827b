//! The checkpoint hook: whenever the task's live process groups change, they are written to the
//! task's checkpoint (in the executor's state directory) (so a restarted agent re-adopts them); once the task is over, the
//! checkpoint says so.
//!
//! Not here: the checkpoint's format and re-adoption (`crate::checkpoint`).

use super::{Hook, HookFuture};
use crate::checkpoint::{self, Checkpoint};
use crate::runner::RunState;

pub(crate) struct CheckpointHook {
    task_id: String,
    /// The groups last written, sorted; `None` before the first write.
    saved: Option<Vec<i32>>,
}

impl CheckpointHook {
    pub(crate) fn new(task_id: &str) -> Self {
        CheckpointHook {
            task_id: task_id.to_owned(),
            saved: None,
        }
    }

    fn save(&self, run: &RunState, groups: Vec<i32>, terminal: bool) {
        let cp = Checkpoint {
            task_id: self.task_id.clone(),
            groups,
            terminal,
        };
        if let Err(e) = checkpoint::write(&run.launch().state_dir, &cp) {
            tracing::warn!(task = %self.task_id, "cannot write the checkpoint: {e}");
        }
    }
}

impl Hook for CheckpointHook {
    fn groups_changed(&mut self, run: &RunState) {
        let mut groups = run.groups();
        groups.sort_unstable();
        if self.saved.as_ref() != Some(&groups) {
            self.save(run, groups.clone(), false);
            self.saved = Some(groups);
        }
    }

    fn poststop<'a>(&'a mut self, run: &'a RunState) -> HookFuture<'a, ()> {
        self.save(run, Vec::new(), true);
        Box::pin(async {})
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::testing;

    #[tokio::test]
    async fn groups_are_written_when_they_change_and_the_end_is_marked() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut hook = CheckpointHook::new("r-e-j-0-x");
        let run = testing::state(testing::launch(dir.path(), 0), &[42, 7]);
        hook.groups_changed(&run);
        let state = run.launch().state_dir.clone();
        let written = checkpoint::read(&state).expect("written");
        assert_eq!((written.groups, written.terminal), (vec![7, 42], false));
        // Unchanged groups are not written again.
        std::fs::remove_file(state.join("checkpoint.json")).expect("removed");
        hook.groups_changed(&run);
        assert_eq!(checkpoint::read(&state), None);
        hook.poststop(&run).await;
        let end = checkpoint::read(&state).expect("written");
        assert_eq!((end.groups, end.terminal), (vec![], true));
    }
}
