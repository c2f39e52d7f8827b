//! Kill retries: a task the scheduler is killing (KILLING, or RESTARTING, DRAINING, PREEMPTING:
//! `ScheduleStatus::is_being_killed`) is told again to die until its agent reports it ended, as
//! Aurora's `KillRetry` does (first after 15 s, then backing off, doubling up to 5 min). A kill
//! can be lost on the way (the command stream cut as it was sent, an agent restarted mid-kill);
//! without a retry the task would stay KILLING and an update waiting on it would wait for ever.
//! An agent that registers again is told at once (`State::register_agent`); this is the net for
//! everything else.
//!
//! The retries live in memory only: after a scheduler restart every agent registers again and
//! is told then, and each such task restored from the store gets a fresh retry.

use super::{Dirty, State};
use std::collections::BTreeMap;

/// The first retry of a kill, after it was sent.
pub const KILL_RETRY_FIRST_MS: i64 = 15_000;
/// The longest wait between two retries.
pub const KILL_RETRY_MAX_MS: i64 = 300_000;

/// KILLING tasks by when their kill is sent again, with the wait that led there.
#[derive(Debug, Default)]
pub struct KillRetries(BTreeMap<(i64, String), i64>);

impl State {
    /// Arms the retry of a kill just sent for a task now KILLING.
    pub(super) fn arm_kill_retry(&mut self, task_id: &str, now_ms: i64) {
        self.kill_retries.0.insert(
            (now_ms + KILL_RETRY_FIRST_MS, task_id.to_owned()),
            KILL_RETRY_FIRST_MS,
        );
    }

    /// When the next kill retry is due.
    pub(super) fn next_kill_retry_ms(&self) -> Option<i64> {
        self.kill_retries.0.keys().next().map(|(t, _)| *t)
    }

    /// Sends the kills whose retry is due again to their agents (when connected: a lost agent's
    /// tasks end as LOST), each then waiting twice as long. A task no longer KILLING drops out.
    pub fn retry_kills(&mut self, now_ms: i64, dirty: &mut Dirty) {
        while let Some(entry) = self.kill_retries.0.first_entry() {
            if entry.key().0 > now_ms {
                break;
            }
            let ((_, task_id), waited) = entry.remove_entry();
            let Some(agent) = self
                .tasks
                .get(&task_id)
                .filter(|t| t.status.is_being_killed())
                .and_then(|t| t.agent_id.clone())
            else {
                continue;
            };
            if self.agents.get(&agent).is_some_and(|a| a.connected) {
                tracing::info!(task = %task_id, agent = %agent, "kill not yet acknowledged: sent again");
                dirty.kill(agent, task_id.clone());
            }
            let next = (waited * 2).min(KILL_RETRY_MAX_MS);
            self.kill_retries.0.insert((now_ms + next, task_id), next);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::tests::running_service;
    use aurora_api::AgentCommand;
    use aurora_model::task::ScheduleStatus;

    fn kills(d: &Dirty) -> Vec<String> {
        d.commands
            .iter()
            .filter_map(|(_, c)| match c {
                AgentCommand::Kill { task_id, .. } => Some(task_id.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn an_unanswered_kill_is_sent_again_backing_off_until_the_task_ends() {
        let (mut s, mut ids, key, created) = running_service(1);
        let mut d = Dirty::default();
        let t = &created[0];
        s.kill(&key, None, "Killed by alice", 1_000, &mut d)
            .unwrap();
        assert_eq!(s.next_ready_ms(), Some(1_000 + KILL_RETRY_FIRST_MS));

        let mut d = Dirty::default();
        s.retry_kills(1_000 + KILL_RETRY_FIRST_MS - 1, &mut d);
        assert!(kills(&d).is_empty(), "not due yet");
        s.retry_kills(1_000 + KILL_RETRY_FIRST_MS, &mut d);
        assert_eq!(kills(&d), std::slice::from_ref(t));
        let second = 1_000 + KILL_RETRY_FIRST_MS + 2 * KILL_RETRY_FIRST_MS;
        assert_eq!(s.next_ready_ms(), Some(second), "the wait doubles");

        // The agent is away: nothing is sent, the retry waits on.
        s.agent_disconnected("a1");
        let mut d = Dirty::default();
        s.retry_kills(second, &mut d);
        assert!(kills(&d).is_empty());
        assert!(s.next_ready_ms().is_some());

        // A restarted scheduler retries the kill of a KILLING task it restores, counting
        // from when the task went KILLING.
        let jobs: Vec<aurora_model::Job> = s.jobs.values().map(|j| (*j.config).clone()).collect();
        let restored = State::restore(jobs, s.tasks.values().cloned().collect());
        assert_eq!(restored.next_ready_ms(), Some(1_000 + KILL_RETRY_FIRST_MS));

        // The task ends: no more retries.
        s.agent_status(
            "a1",
            t,
            ScheduleStatus::Killed,
            None,
            second + 1,
            &mut || ids.next(),
            &mut d,
        );
        let mut d = Dirty::default();
        s.retry_kills(i64::MAX / 2, &mut d);
        assert!(kills(&d).is_empty());
        assert_eq!(s.next_ready_ms(), None);
    }

    #[test]
    fn the_wait_between_retries_stops_growing_at_its_maximum() {
        let (mut s, _, key, _) = running_service(1);
        let mut d = Dirty::default();
        s.kill(&key, None, "Killed by alice", 0, &mut d).unwrap();
        let mut waits = Vec::new();
        let mut now = 0;
        for _ in 0..8 {
            let next = s.next_ready_ms().unwrap();
            waits.push(next - now);
            now = next;
            s.retry_kills(now, &mut Dirty::default());
        }
        assert_eq!(
            waits,
            [
                15_000, 30_000, 60_000, 120_000, 240_000, 300_000, 300_000, 300_000
            ]
        );
    }

    #[test]
    fn a_drain_whose_kill_was_lost_is_told_again() {
        let (mut s, _, _, created) = running_service(1);
        let mut d = Dirty::default();
        let moved = s.drain_hosts(&["a1.local".into()], 1_000, &mut d);
        assert_eq!(moved, created);
        let mut d = Dirty::default();
        s.retry_kills(1_000 + KILL_RETRY_FIRST_MS, &mut d);
        assert_eq!(kills(&d), created, "the DRAINING task's kill is sent again");
    }
}
