//! Partitions: what becomes of a task whose machine stopped answering, by its job's
//! `partition_policy` (Aurora's `PartitionPolicy(reschedule, delay_secs)`). Without a policy the
//! task is LOST at once and replaced elsewhere. With one it is PARTITIONED first: with
//! `reschedule=True` it goes LOST (and is replaced) once `delay_secs` have passed; with
//! `reschedule=False` it waits for its machine for ever. A task being killed (KILLING,
//! RESTARTING, DRAINING, PREEMPTING) is LOST at once whatever the policy, as in Aurora.
//!
//! When the machine comes back, a PARTITIONED task it still runs is RUNNING again; one it no
//! longer runs is LOST; one that was replaced meanwhile is killed there
//! (`aurora_sched::reconcile`), so two copies never run for long.
//!
//! The deadlines live in memory: a restored PARTITIONED task's deadline is counted from the
//! event that partitioned it, so a restart (or a failover) neither extends nor forgets it.
//!
//! Not here: when a machine counts as gone (`hosts::check_agents`).

use super::{Dirty, State};
use aurora_model::task::ScheduleStatus;
use std::collections::BTreeSet;

/// PARTITIONED tasks that go LOST at a deadline (those whose policy reschedules), by deadline.
#[derive(Debug, Default)]
pub struct Partitions(BTreeSet<(i64, String)>);

impl State {
    /// The machine of `agent` is gone: its task `task_id` is PARTITIONED or LOST by its job's
    /// policy. `message` says why.
    #[allow(clippy::too_many_arguments)] // the task and why, plus time, ids and the change log
    pub(super) fn partition_or_lose(
        &mut self,
        agent: &str,
        task_id: &str,
        message: &str,
        now_ms: i64,
        new_id: &mut dyn FnMut() -> String,
        dirty: &mut Dirty,
    ) {
        let policy = self.tasks.get(task_id).and_then(|t| {
            if t.status.is_being_killed() {
                return None;
            }
            self.jobs.get(&t.job)?.config.partition_policy.clone()
        });
        if let Some(p) = policy {
            let why = Some(format!("{message}: partitioned"));
            if self.agent_status(
                agent,
                task_id,
                ScheduleStatus::Partitioned,
                why,
                now_ms,
                new_id,
                dirty,
            ) {
                if p.reschedule {
                    let deadline = now_ms.saturating_add(p.delay_secs.max(0).saturating_mul(1000));
                    self.partitions.0.insert((deadline, task_id.to_owned()));
                }
                return;
            }
        }
        let why = Some(message.to_owned());
        self.agent_status(
            agent,
            task_id,
            ScheduleStatus::Lost,
            why,
            now_ms,
            new_id,
            dirty,
        );
    }

    /// Re-arms the deadline of a PARTITIONED task restored from the store, from the time it was
    /// partitioned.
    pub(super) fn restore_partition(&mut self, task_id: &str) {
        let Some(t) = self.tasks.get(task_id) else {
            return;
        };
        let Some(p) = self
            .jobs
            .get(&t.job)
            .and_then(|j| j.config.partition_policy.as_ref())
            .filter(|p| p.reschedule)
        else {
            return;
        };
        let deadline = t
            .since_ms()
            .saturating_add(p.delay_secs.max(0).saturating_mul(1000));
        self.partitions.0.insert((deadline, task_id.to_owned()));
    }

    /// When the next PARTITIONED task goes LOST.
    pub(super) fn next_partition_ms(&self) -> Option<i64> {
        self.partitions.0.first().map(|(t, _)| *t)
    }

    /// Declares LOST (and so replaces) every PARTITIONED task whose delay has passed; a task that
    /// came back (RUNNING again) or ended meanwhile drops out.
    pub fn expire_partitions(
        &mut self,
        now_ms: i64,
        new_id: &mut dyn FnMut() -> String,
        dirty: &mut Dirty,
    ) {
        while self.partitions.0.first().is_some_and(|(t, _)| *t <= now_ms) {
            let Some((_, task_id)) = self.partitions.0.pop_first() else {
                break;
            };
            let Some(agent) = self
                .tasks
                .get(&task_id)
                .filter(|t| t.status == ScheduleStatus::Partitioned)
                .and_then(|t| t.agent_id.clone())
            else {
                continue;
            };
            let why = Some("Partitioned for longer than its partition policy's delay".to_owned());
            self.agent_status(
                &agent,
                &task_id,
                ScheduleStatus::Lost,
                why,
                now_ms,
                new_id,
                dirty,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::state::tests::{Ids, job, running_job};
    use crate::state::{Dirty, State};
    use aurora_model::config::PartitionPolicy;
    use aurora_model::task::ScheduleStatus;

    /// One RUNNING service instance on agent `a1` (last seen at 0) whose job has `policy`.
    fn running(policy: Option<PartitionPolicy>) -> (State, Ids, String) {
        let mut j = job(true, 1, 1);
        j.partition_policy = policy;
        let (s, ids, _, created) = running_job(j);
        (s, ids, created[0].clone())
    }

    fn status(s: &State, id: &str) -> ScheduleStatus {
        s.tasks.get(id).unwrap().status
    }

    /// Active tasks other than `id`.
    fn replacements(s: &State, id: &str) -> usize {
        s.tasks
            .values()
            .filter(|t| t.task_id != id && t.status.is_active())
            .count()
    }

    /// Agent `a1` registers again at 200,000 saying it runs `id`; what that changed.
    fn comes_back_running(s: &mut State, ids: &mut Ids, id: &str) -> Dirty {
        let view = s.agents.get("a1").unwrap().view.clone();
        let mut dirty = Dirty::default();
        let runs = [id.to_owned()];
        s.register_agent(
            view,
            "http://a1".into(),
            &runs,
            200_000,
            &mut || ids.next(),
            &mut dirty,
        );
        dirty
    }

    fn reschedule_after(delay_secs: i64) -> Option<PartitionPolicy> {
        Some(PartitionPolicy {
            reschedule: true,
            delay_secs,
        })
    }

    #[test]
    fn without_a_policy_a_silent_machines_task_is_lost_and_replaced_at_once() {
        let (mut s, mut ids, id) = running(None);
        s.check_agents(100_000, 20_000, &mut || ids.next(), &mut Dirty::default());
        assert_eq!(status(&s, &id), ScheduleStatus::Lost);
        assert_eq!(replacements(&s, &id), 1);
    }

    #[test]
    fn a_rescheduling_policy_waits_its_delay_then_replaces() {
        let (mut s, mut ids, id) = running(reschedule_after(30));
        s.check_agents(100_000, 20_000, &mut || ids.next(), &mut Dirty::default());
        assert_eq!(status(&s, &id), ScheduleStatus::Partitioned);
        assert_eq!(replacements(&s, &id), 0, "not replaced before the delay");
        s.expire_partitions(129_999, &mut || ids.next(), &mut Dirty::default());
        assert_eq!(status(&s, &id), ScheduleStatus::Partitioned);
        s.expire_partitions(130_000, &mut || ids.next(), &mut Dirty::default());
        assert_eq!(status(&s, &id), ScheduleStatus::Lost);
        assert_eq!(replacements(&s, &id), 1);
    }

    #[test]
    fn a_policy_without_reschedule_waits_for_ever_and_the_machine_coming_back_resumes_it() {
        let policy = Some(PartitionPolicy {
            reschedule: false,
            delay_secs: 0,
        });
        let (mut s, mut ids, id) = running(policy);
        s.check_agents(100_000, 20_000, &mut || ids.next(), &mut Dirty::default());
        s.expire_partitions(i64::MAX, &mut || ids.next(), &mut Dirty::default());
        assert_eq!(status(&s, &id), ScheduleStatus::Partitioned);
        assert_eq!(replacements(&s, &id), 0);
        let dirty = comes_back_running(&mut s, &mut ids, &id);
        assert_eq!(
            status(&s, &id),
            ScheduleStatus::Running,
            "back, and still running"
        );
        assert!(
            dirty.commands.is_empty(),
            "nothing killed: {:?}",
            dirty.commands
        );
    }

    #[test]
    fn a_task_replaced_while_partitioned_is_killed_when_its_machine_comes_back() {
        let (mut s, mut ids, id) = running(reschedule_after(0));
        s.check_agents(100_000, 20_000, &mut || ids.next(), &mut Dirty::default());
        s.expire_partitions(100_000, &mut || ids.next(), &mut Dirty::default());
        assert_eq!(status(&s, &id), ScheduleStatus::Lost);
        let dirty = comes_back_running(&mut s, &mut ids, &id);
        let killed = dirty.commands.iter().any(|(agent, c)| {
            agent == "a1"
                && matches!(c, aurora_api::AgentCommand::Kill { task_id, .. } if *task_id == id)
        });
        assert!(killed, "the old copy is killed: {:?}", dirty.commands);
    }

    #[test]
    fn a_restored_partition_keeps_its_deadline() {
        let (mut s, mut ids, id) = running(reschedule_after(30));
        s.check_agents(100_000, 20_000, &mut || ids.next(), &mut Dirty::default());
        let jobs = s.jobs.values().map(|j| (*j.config).clone()).collect();
        let tasks = s.tasks.values().cloned().collect();
        let mut restored = State::restore(jobs, tasks);
        restored.expire_partitions(129_999, &mut || ids.next(), &mut Dirty::default());
        assert_eq!(status(&restored, &id), ScheduleStatus::Partitioned);
        restored.expire_partitions(130_000, &mut || ids.next(), &mut Dirty::default());
        assert_eq!(status(&restored, &id), ScheduleStatus::Lost);
    }
}
