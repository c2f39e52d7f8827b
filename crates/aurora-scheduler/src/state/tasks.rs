//! The task table: every task the scheduler keeps (active ones and each job's recent history) and
//! the indexes every event needs — instance → active task, agent → its tasks (and per job, for
//! spreading), each job's finished tasks oldest first, each job's tasks counted by state (what
//! role and job summaries and `/metrics` read, so that no read walks every task), and the queue
//! of PENDING and THROTTLED tasks by when they may be placed, with why each still waits.
//!
//! The fields are private: a task enters with [`Tasks::insert`], changes state only through
//! [`Tasks::set_status`] or [`Tasks::assign`], and leaves through history pruning, so no index can
//! fall out of step with the table. What a change means beyond the table (kill retries, updates
//! to look at again, an agent's usage, the change log) is the caller's, told by [`Moved`].
//! Nothing here walks every task.

use aurora_model::task::TaskId;
use aurora_model::task::{ScheduleStatus, ScheduledTask, TaskEvent, Transition, transition};
use aurora_model::{AgentId, JobKey};
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::time::Duration;

/// How many finished tasks each job keeps in its history.
pub const HISTORY_PER_JOB: usize = 100;
/// How long a finished task is kept at most.
pub const HISTORY_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// The tasks and their indexes.
#[derive(Debug, Default)]
pub struct Tasks {
    by_id: HashMap<TaskId, ScheduledTask>,
    /// (job, instance) → its active task.
    active: HashMap<(JobKey, u32), TaskId>,
    /// Terminal tasks of each job, oldest first, for the history and its pruning.
    history: HashMap<JobKey, VecDeque<TaskId>>,
    /// Agent → tasks placed on it and not yet terminal.
    by_agent: HashMap<AgentId, HashSet<TaskId>>,
    /// Agent → job → how many of the job's tasks are on it (placement spreads jobs with it).
    jobs_on_agent: HashMap<AgentId, HashMap<JobKey, u32>>,
    /// PENDING and THROTTLED tasks by the time they may go (0: now), and each one's key in it.
    queue: BTreeSet<(i64, TaskId)>,
    queued_at: HashMap<TaskId, i64>,
    /// Why a PENDING task is still pending.
    pending_reasons: HashMap<TaskId, String>,
    /// Job → how many of its kept tasks (active and history) are in each state
    /// (`ScheduleStatus as usize`).
    counts: HashMap<JobKey, StatusCounts>,
}

/// Tasks counted by state, indexed by `ScheduleStatus as usize`.
pub type StatusCounts = [u32; ScheduleStatus::ALL.len()];

/// What [`Tasks::set_status`] did, for the consequences beyond the table.
#[derive(Debug, Clone)]
pub struct Moved {
    pub from: ScheduleStatus,
    pub job: JobKey,
    pub instance: u32,
    pub agent: Option<String>,
    /// The task ended and was taken off its agent: the agent's usage changed.
    pub left_agent: bool,
}

impl Tasks {
    /// A task by id.
    pub fn get(&self, id: &str) -> Option<&ScheduledTask> {
        self.by_id.get(id)
    }

    /// Every task, in no order.
    pub fn values(&self) -> impl Iterator<Item = &ScheduledTask> {
        self.by_id.values()
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// A job's kept tasks (active and history) counted by state.
    pub fn counts(&self, job: &JobKey) -> Option<&StatusCounts> {
        self.counts.get(job)
    }

    /// Every job's counts.
    pub fn all_counts(&self) -> impl Iterator<Item = &StatusCounts> {
        self.counts.values()
    }

    fn count(&mut self, job: &JobKey, status: ScheduleStatus, up: bool) {
        if up {
            self.counts
                .entry(job.clone())
                .or_insert([0; ScheduleStatus::ALL.len()])[status as usize] += 1;
        } else if let Some(c) = self.counts.get_mut(job) {
            c[status as usize] = c[status as usize].saturating_sub(1);
            if c.iter().all(|n| *n == 0) {
                self.counts.remove(job);
            }
        }
    }

    fn remove(&mut self, id: &TaskId) {
        if let Some(t) = self.by_id.remove(id) {
            self.count(&t.job, t.status, false);
        }
    }

    /// Adds a task (new, or restored from the store) and indexes it by its state.
    pub fn insert(&mut self, t: ScheduledTask) {
        let id = TaskId::from(t.task_id.clone());
        self.remove(&id);
        self.count(&t.job, t.status, true);
        if t.status.is_active() {
            self.active.insert((t.job.clone(), t.instance), id.clone());
            if let Some(a) = &t.agent_id
                && t.status.is_on_agent()
            {
                self.put_on_agent(a, id.as_str(), &t.job);
            }
            match t.status {
                ScheduleStatus::Pending => self.enqueue(id.as_str(), 0),
                ScheduleStatus::Throttled => {
                    self.enqueue(id.as_str(), t.since_ms() + t.penalty_ms.unwrap_or(0) as i64)
                }
                _ => {}
            }
        } else {
            self.history
                .entry(t.job.clone())
                .or_default()
                .push_back(id.clone());
        }
        self.by_id.insert(id, t);
    }

    /// Moves a task to `to`, recording the event, and keeps the indexes in step. `None` for an
    /// unknown task, an illegal transition or a repeated state (status updates may arrive twice).
    pub fn set_status(
        &mut self,
        id: &str,
        to: ScheduleStatus,
        message: Option<String>,
        now_ms: i64,
    ) -> Option<Moved> {
        let t = self.by_id.get_mut(id)?;
        match transition(t.status, to) {
            Ok(Transition::Apply) => {}
            Ok(Transition::Noop) | Err(_) => return None,
        }
        let from = t.status;
        t.status = to;
        let job = t.job.clone();
        t.events.push(TaskEvent {
            timestamp_ms: now_ms,
            status: to,
            message,
        });
        let mut moved = Moved {
            from,
            job: job.clone(),
            instance: t.instance,
            agent: t.agent_id.clone(),
            left_agent: false,
        };
        let penalty = t.penalty_ms.unwrap_or(0) as i64;
        self.count(&job, from, false);
        self.count(&job, to, true);
        if matches!(from, ScheduleStatus::Pending | ScheduleStatus::Throttled) {
            self.dequeue(id);
            self.pending_reasons.remove(id);
        }
        match to {
            ScheduleStatus::Pending => self.enqueue(id, 0),
            ScheduleStatus::Throttled => self.enqueue(id, now_ms + penalty),
            _ => {}
        }
        if to.is_terminal() {
            let key = (moved.job.clone(), moved.instance);
            if self.active.get(&key).is_some_and(|a| a.as_str() == id) {
                self.active.remove(&key);
            }
            if let Some(a) = &moved.agent {
                moved.left_agent = self.take_off_agent(a, id, &moved.job);
            }
            self.history
                .entry(moved.job.clone())
                .or_default()
                .push_back(id.into());
        }
        Some(moved)
    }

    /// Places a PENDING task on an agent: ASSIGNED there with its ports.
    pub fn assign(
        &mut self,
        id: &str,
        agent: &str,
        host: String,
        ports: Vec<(String, u16)>,
        now_ms: i64,
    ) -> Option<Moved> {
        let t = self.by_id.get_mut(id)?;
        if t.status != ScheduleStatus::Pending {
            return None;
        }
        let msg = format!("Assigned to {host}");
        t.agent_id = Some(agent.to_owned());
        t.host = Some(host);
        t.ports = ports;
        let job = t.job.clone();
        let moved = self.set_status(id, ScheduleStatus::Assigned, Some(msg), now_ms)?;
        self.put_on_agent(agent, id, &job);
        Some(moved)
    }

    /// The active task of one instance, if it has one.
    pub fn active_task(&self, job: &JobKey, instance: u32) -> Option<&ScheduledTask> {
        self.active_id(job, instance)
            .and_then(|id| self.by_id.get(id))
    }

    /// The id of an instance's active task.
    pub fn active_id(&self, job: &JobKey, instance: u32) -> Option<&str> {
        self.active
            .get(&(job.clone(), instance))
            .map(TaskId::as_str)
    }

    /// Finished tasks kept for a job, newest first.
    pub fn history(&self, job: &JobKey) -> Vec<&ScheduledTask> {
        self.history
            .get(job)
            .map(|h| h.iter().rev().filter_map(|id| self.by_id.get(id)).collect())
            .unwrap_or_default()
    }

    /// Drops a job's oldest finished tasks beyond [`HISTORY_PER_JOB`] or [`HISTORY_MAX_AGE`];
    /// returns their ids.
    pub fn prune_history(&mut self, job: &JobKey, now_ms: i64) -> Vec<String> {
        let mut removed = Vec::new();
        let Some(h) = self.history.get_mut(job) else {
            return removed;
        };
        let mut dropped = Vec::new();
        while let Some(oldest) = h.front() {
            let old = self
                .by_id
                .get(oldest)
                .is_none_or(|t| now_ms - t.since_ms() > HISTORY_MAX_AGE.as_millis() as i64);
            if h.len() <= HISTORY_PER_JOB && !old {
                break;
            }
            dropped.push(h.pop_front().expect("front exists"));
        }
        for id in dropped {
            self.remove(&id);
            removed.push(id.into_string());
        }
        removed
    }

    /// Drops a job's whole history (a job removed); returns the ids.
    pub fn remove_history(&mut self, job: &JobKey) -> Vec<String> {
        let ids = self.history.remove(job).unwrap_or_default();
        for id in &ids {
            self.remove(id);
        }
        ids.into_iter().map(TaskId::into_string).collect()
    }

    /// Tasks placed on an agent and not yet over, by id (sorted, so what follows is repeatable).
    pub fn on_agent(&self, agent: &str) -> Vec<String> {
        let mut ids: Vec<String> = self
            .by_agent
            .get(agent)
            .map(|s| s.iter().map(|id| id.as_str().to_owned()).collect())
            .unwrap_or_default();
        ids.sort_unstable();
        ids
    }

    /// The tasks placed on an agent and not yet over.
    pub fn iter_on_agent<'a>(&'a self, agent: &str) -> impl Iterator<Item = &'a ScheduledTask> {
        self.by_agent
            .get(agent)
            .into_iter()
            .flatten()
            .filter_map(|id| self.by_id.get(id))
    }

    /// How many tasks are placed on an agent and not yet over.
    pub fn count_on_agent(&self, agent: &str) -> usize {
        self.by_agent.get(agent).map_or(0, HashSet::len)
    }

    /// How many of a job's tasks are on an agent.
    pub fn job_count_on_agent(&self, agent: &str, job: &JobKey) -> u32 {
        self.jobs_on_agent
            .get(agent)
            .and_then(|jobs| jobs.get(job))
            .copied()
            .unwrap_or(0)
    }

    /// The first `limit` queued tasks whose time has come, with the time they were queued for.
    pub fn due(&self, now_ms: i64, limit: usize) -> Vec<(i64, String)> {
        self.queue
            .iter()
            .take_while(|(t, _)| *t <= now_ms)
            .take(limit)
            .map(|(t, id)| (*t, id.as_str().to_owned()))
            .collect()
    }

    /// How many tasks wait to be placed (PENDING, or THROTTLED until their penalty ends).
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// When the soonest queued task may be placed.
    pub fn next_queued_ms(&self) -> Option<i64> {
        self.queue.iter().next().map(|(t, _)| *t)
    }

    /// A PENDING task that fits nowhere now: why, and when to try it again.
    pub fn defer(&mut self, id: &str, reason: String, until_ms: i64) {
        if self.queued_at.contains_key(id) {
            self.pending_reasons.insert(id.into(), reason);
            self.dequeue(id);
            self.enqueue(id, until_ms);
        }
    }

    /// Why a PENDING task is still pending, once placement said.
    pub fn pending_reason(&self, id: &str) -> Option<&str> {
        self.pending_reasons.get(id).map(String::as_str)
    }

    fn enqueue(&mut self, id: &str, at_ms: i64) {
        self.queue.insert((at_ms, id.into()));
        self.queued_at.insert(id.into(), at_ms);
    }

    fn dequeue(&mut self, id: &str) {
        if let Some(at) = self.queued_at.remove(id) {
            self.queue.remove(&(at, id.into()));
        }
    }

    fn put_on_agent(&mut self, agent: &str, task_id: &str, job: &JobKey) {
        if self
            .by_agent
            .entry(agent.into())
            .or_default()
            .insert(task_id.into())
        {
            *self
                .jobs_on_agent
                .entry(agent.into())
                .or_default()
                .entry(job.clone())
                .or_default() += 1;
        }
    }

    /// Forgets a task's place on an agent; says whether it was there.
    fn take_off_agent(&mut self, agent: &str, task_id: &str, job: &JobKey) -> bool {
        let removed = self
            .by_agent
            .get_mut(agent)
            .is_some_and(|set| set.remove(task_id));
        if removed
            && let Some(jobs) = self.jobs_on_agent.get_mut(agent)
            && let Some(n) = jobs.get_mut(job)
        {
            *n -= 1;
            if *n == 0 {
                jobs.remove(job);
            }
        }
        removed
    }
}

impl std::ops::Index<&str> for Tasks {
    type Output = ScheduledTask;
    fn index(&self, id: &str) -> &ScheduledTask {
        &self.by_id[id]
    }
}

impl std::ops::Index<&String> for Tasks {
    type Output = ScheduledTask;
    fn index(&self, id: &String) -> &ScheduledTask {
        &self.by_id[id.as_str()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aurora_model::task::ScheduleStatus::*;

    fn task(id: &str, instance: u32, status: ScheduleStatus) -> ScheduledTask {
        ScheduledTask {
            task_id: id.into(),
            job: JobKey::new("r", "e", "j").expect("valid key"),
            instance,
            status,
            agent_id: None,
            host: None,
            ports: Vec::new(),
            failure_count: 0,
            ancestor_id: None,
            penalty_ms: None,
            cron_run_ms: None,
            config_digest: None,
            events: vec![TaskEvent {
                timestamp_ms: 0,
                status,
                message: None,
            }],
        }
    }

    #[test]
    fn the_indexes_follow_a_task_from_pending_to_its_end() {
        let mut t = Tasks::default();
        t.insert(task("a", 0, Pending));
        let job = t["a"].job.clone();
        assert_eq!(t.due(0, usize::MAX), vec![(0, "a".to_owned())]);
        assert_eq!(t.active_id(&job, 0), Some("a"));
        t.defer("a", "Insufficient: ram".into(), 500);
        assert!(t.due(499, usize::MAX).is_empty());
        assert_eq!(t.pending_reason("a"), Some("Insufficient: ram"));
        assert!(t.assign("a", "agent", "host".into(), vec![], 10).is_some());
        assert!(
            t.due(i64::MAX, usize::MAX).is_empty(),
            "an assigned task leaves the queue"
        );
        assert_eq!(t.pending_reason("a"), None);
        assert_eq!(t.on_agent("agent"), vec!["a".to_owned()]);
        assert_eq!(t.job_count_on_agent("agent", &job), 1);
        let moved = t.set_status("a", Lost, None, 20).expect("legal");
        assert!(moved.left_agent);
        assert_eq!(t.count_on_agent("agent"), 0);
        assert_eq!(t.job_count_on_agent("agent", &job), 0);
        assert!(t.active_id(&job, 0).is_none());
        assert_eq!(t.history(&job).len(), 1);
        assert!(
            t.set_status("a", Running, None, 30).is_none(),
            "terminal is final"
        );
        assert_counts_match(&t);
        assert_eq!(t.counts(&job).expect("counted")[Lost as usize], 1);
    }

    /// The kept counts equal a walk over every task.
    fn assert_counts_match(t: &Tasks) {
        let mut walked: HashMap<JobKey, StatusCounts> = HashMap::new();
        for task in t.values() {
            walked
                .entry(task.job.clone())
                .or_insert([0; ScheduleStatus::ALL.len()])[task.status as usize] += 1;
        }
        assert_eq!(walked, t.counts, "counts drifted from the table");
    }

    #[test]
    fn the_counts_by_state_follow_every_change_and_removal() {
        let mut t = Tasks::default();
        for i in 0..(HISTORY_PER_JOB as u32 + 10) {
            t.insert(task(&format!("t{i}"), i, Pending));
        }
        let job = t["t0"].job.clone();
        for i in 0..(HISTORY_PER_JOB as u32 + 10) {
            let id = format!("t{i}");
            t.assign(&id, "agent", "host".into(), vec![], 1);
            t.set_status(&id, Starting, None, 2);
            t.set_status(&id, Running, None, 3);
            if i % 2 == 0 {
                t.set_status(&id, Failed, None, 4);
            }
            // A repeated or illegal move changes nothing.
            t.set_status(&id, Running, None, 5);
            assert_counts_match(&t);
        }
        // A task inserted again under its id replaces the old one in the counts.
        t.insert(task("t1", 1, Pending));
        assert_counts_match(&t);
        t.prune_history(&job, 0);
        assert_counts_match(&t);
        t.remove_history(&job);
        assert_counts_match(&t);
        let counts = t.counts(&job).expect("active tasks remain");
        assert_eq!(counts[Failed as usize], 0);
        assert_eq!(counts[Running as usize], 54);
        assert_eq!(counts[Pending as usize], 1);
    }

    #[test]
    fn a_throttled_task_waits_its_penalty_and_history_is_pruned_by_count() {
        let mut t = Tasks::default();
        let mut throttled = task("th", 0, Throttled);
        throttled.penalty_ms = Some(1_000);
        t.insert(throttled);
        assert!(t.due(999, usize::MAX).is_empty());
        assert_eq!(t.due(1_000, usize::MAX).len(), 1);
        for i in 0..(HISTORY_PER_JOB as u32 + 5) {
            t.insert(task(&format!("f{i}"), i + 1, Finished));
        }
        let job = t["th"].job.clone();
        let removed = t.prune_history(&job, 0);
        assert_eq!(removed.len(), 5);
        assert_eq!(removed[0], "f0", "the oldest go first");
        assert_eq!(t.history(&job).len(), HISTORY_PER_JOB);
        assert!(t.get("f0").is_none());
        assert_counts_match(&t);
    }
}
