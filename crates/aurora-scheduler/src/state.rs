//! The scheduler's in-memory state, rebuilt from the store at start: a few owned tables, each
//! keeping its own indexes in step (`tasks`, `jobs`, `agents`, `updates`), and the operations
//! that change them together: create, kill, status reports, replacement of ended tasks,
//! registration, placement rounds (`schedule`), cron (`cron`), machines (`hosts`), updates
//! (`update`), kill retries (`kill_retry`). Submission checks are `valid`'s.
//!
//! Every mutation goes through a method here that checks it against the task state machine,
//! records a task event, and notes what changed (`Dirty`) so that the caller can persist exactly
//! that before anyone is told. Decisions (where a task goes, whether it is replaced, what an
//! update or a registration does next) are `aurora_sched`'s pure functions; this module applies
//! them. Nothing here scans all tasks per event. No IO: time comes in as `now_ms`, randomness
//! (task ids) through `new_id`.

mod agents;
mod cron;
mod hosts;
mod jobs;
mod kill_retry;
mod partitions;
mod schedule;
mod tasks;
#[cfg(test)]
mod tests;
mod update;
mod updates;
mod valid;

pub use agents::{AgentEntry, Agents};
pub use cron::{CronEntry, CronOutcome};
pub use hosts::HostStatus;
pub use jobs::{JobEntry, Jobs};
pub use schedule::{RETRY_PENDING_MS, ROUND_MAX};
pub use tasks::{HISTORY_MAX_AGE, HISTORY_PER_JOB, Tasks};
pub use update::{Control, Started, UpdateRequest};
pub use updates::Updates;
pub use valid::{MAX_INSTANCES, Submission, ValidJob, job_constraints};

use aurora_api::{AgentCommand, LaunchTask};
use aurora_model::task::{ScheduleStatus, ScheduledTask, TaskEvent, task_id};
use aurora_model::{Job, JobKey};
use aurora_sched::placement::AgentView;
use aurora_sched::reconcile::{self, Action, Placed, Running};
use aurora_sched::reschedule::{self, Backoff, Decision, Ending, Policy};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

/// SIGTERM-to-SIGKILL grace for kills.
pub const KILL_GRACE_MS: u64 = 5_000;

/// What a mutation changed, to be persisted before it is acknowledged.
#[derive(Debug, Default)]
pub struct Dirty {
    pub jobs: BTreeSet<JobKey>,
    pub removed_jobs: BTreeSet<JobKey>,
    pub tasks: BTreeSet<String>,
    pub removed_tasks: BTreeSet<String>,
    pub crons: BTreeSet<JobKey>,
    pub removed_crons: BTreeSet<JobKey>,
    /// Configurations no task of the job runs any more.
    pub removed_configs: BTreeSet<(JobKey, String)>,
    /// Job updates changed or removed, by id.
    pub updates: BTreeSet<String>,
    pub removed_updates: BTreeSet<String>,
    /// Hosts whose maintenance mode changed.
    pub hosts: BTreeSet<String>,
    /// Tokens issued or revoked, by hash.
    pub tokens: BTreeSet<String>,
    /// Commands to send to agents once the change is durable.
    pub commands: Vec<(String, AgentCommand)>,
}

impl Dirty {
    /// Queues a kill of a task on an agent (SIGTERM, SIGKILL after [`KILL_GRACE_MS`]).
    pub fn kill(&mut self, agent: String, task_id: String) {
        self.commands.push((
            agent,
            AgentCommand::Kill {
                task_id,
                grace_ms: KILL_GRACE_MS,
            },
        ));
    }

    /// Notes tasks dropped from the table.
    fn removed(&mut self, ids: Vec<String>) {
        for id in ids {
            self.tasks.remove(&id);
            self.removed_tasks.insert(id);
        }
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("job {0} already exists")]
    JobExists(String),
    #[error("job {0} does not exist")]
    NoSuchJob(String),
    #[error("{0}")]
    Invalid(String),
    /// The job has an active update: the change must wait for it or abort it.
    #[error(
        "job {0} is locked by an active update. Run 'aurora update abort' or wait for the active update to finish."
    )]
    Updating(String),
    /// No active update for the job (or no update with that id).
    #[error("{0}")]
    NoSuchUpdate(String),
}

/// The tables, and what the operations across them need.
#[derive(Default)]
pub struct State {
    pub jobs: Jobs,
    pub tasks: Tasks,
    pub agents: Agents,
    pub updates: Updates,
    kill_retries: kill_retry::KillRetries,
    partitions: partitions::Partitions,
    /// The last placement round's agent views (`schedule`).
    round_views: Option<schedule::RoundViews>,
    /// Placement rounds so far: where the next round starts looking among agents.
    placements: usize,
    /// The flapping backoff for replacements.
    pub backoff: Backoff,
    /// The time zone cron schedules are evaluated in (`--cron-timezone`).
    pub cron_timezone: chrono_tz::Tz,
    /// Issued tokens, by hash.
    pub tokens: std::collections::HashMap<String, aurora_model::auth::TokenRecord>,
}

fn job_label(k: &JobKey) -> String {
    k.to_string()
}

impl State {
    /// Rebuilds the state and its indexes from stored jobs and tasks.
    pub fn restore(jobs: Vec<Job>, tasks: Vec<ScheduledTask>) -> Self {
        let mut s = State::default();
        for config in jobs {
            if let Ok(path) = config.path() {
                s.jobs.insert(
                    path.key,
                    JobEntry::new(config, BTreeSet::new(), None, BTreeMap::new()),
                );
            }
        }
        let mut tasks = tasks;
        tasks.sort_by_key(|t| t.since_ms());
        for mut t in tasks {
            // Stored before tasks named their configuration: they run their job's.
            if t.config_digest.is_none() {
                t.config_digest = s.jobs.get(&t.job).map(|j| j.digest.clone());
            }
            if t.status.is_being_killed() && t.agent_id.is_some() {
                s.arm_kill_retry(&t.task_id, t.since_ms());
            }
            let partitioned = (t.status == ScheduleStatus::Partitioned).then(|| t.task_id.clone());
            s.insert_task(t);
            if let Some(id) = partitioned {
                s.restore_partition(&id);
            }
        }
        s
    }

    /// Adds a task to the task table and its instance to its job.
    fn insert_task(&mut self, t: ScheduledTask) {
        if let Some(j) = self.jobs.get_mut(&t.job) {
            j.instances.insert(t.instance);
        }
        self.tasks.insert(t);
    }

    /// The active task of each instance of a job.
    pub fn active_tasks(&self, job: &JobKey) -> Vec<&ScheduledTask> {
        let Some(entry) = self.jobs.get(job) else {
            return Vec::new();
        };
        entry
            .instances
            .iter()
            .filter_map(|i| self.tasks.active_task(job, *i))
            .collect()
    }

    /// The active task of one instance, if it has one.
    pub fn active_task(&self, job: &JobKey, instance: u32) -> Option<&ScheduledTask> {
        self.tasks.active_task(job, instance)
    }

    /// Finished tasks kept for a job, newest first.
    pub fn history(&self, job: &JobKey) -> Vec<&ScheduledTask> {
        self.tasks.history(job)
    }

    /// Why a PENDING task is still pending, once placement said.
    pub fn pending_reason(&self, id: &str) -> Option<&str> {
        self.tasks.pending_reason(id)
    }

    /// Creates a job and one PENDING task per instance.
    pub fn create_job(
        &mut self,
        config: Job,
        now_ms: i64,
        new_id: &mut dyn FnMut() -> String,
        dirty: &mut Dirty,
    ) -> Result<Vec<String>, Refusal> {
        let ValidJob { key, config, .. } = ValidJob::check(config, Submission::Create)?;
        // As in Aurora, a job "exists" while it has active tasks; one whose tasks all ended may be
        // created again (its finished tasks stay in the history).
        if !self.active_tasks(&key).is_empty()
            || self.jobs.get(&key).is_some_and(|j| j.cron.is_some())
        {
            return Err(Refusal::JobExists(job_label(&key)));
        }
        let count = config.instances as u32;
        let (earlier, configs) = self
            .jobs
            .remove(&key)
            .map(|j| (j.instances, j.configs))
            .unwrap_or_default();
        self.jobs
            .insert(key.clone(), JobEntry::new(config, earlier, None, configs));
        dirty.jobs.insert(key.clone());
        let ids = (0..count)
            .map(|i| self.new_task(&key, i, NewTask::default(), now_ms, new_id, dirty))
            .collect();
        Ok(ids)
    }

    /// Adds a PENDING (or, with a throttle, THROTTLED) task for an instance; returns its id.
    fn new_task(
        &mut self,
        job: &JobKey,
        instance: u32,
        how: NewTask,
        now_ms: i64,
        new_id: &mut dyn FnMut() -> String,
        dirty: &mut Dirty,
    ) -> String {
        let id = task_id(job, instance, &new_id());
        let (status, message) = match how.throttle {
            Some(d) => (
                ScheduleStatus::Throttled,
                format!(
                    "Rescheduled, penalized for {} ms for flapping",
                    d.as_millis()
                ),
            ),
            None => (ScheduleStatus::Pending, "Added to pending queue".to_owned()),
        };
        let config_digest = how
            .config_digest
            .or_else(|| self.jobs.get(job).map(|j| j.digest.clone()));
        self.insert_task(ScheduledTask {
            task_id: id.clone(),
            job: job.clone(),
            instance,
            status,
            agent_id: None,
            host: None,
            ports: Vec::new(),
            failure_count: how.failure_count,
            ancestor_id: how.ancestor,
            penalty_ms: how.throttle.map(|d| d.as_millis() as u64),
            cron_run_ms: how.cron_run_ms,
            config_digest,
            events: vec![TaskEvent {
                timestamp_ms: now_ms,
                status,
                message: Some(message),
            }],
        });
        dirty.tasks.insert(id.clone());
        id
    }

    /// Moves a task to `to`, recording the event; refuses illegal transitions; a repeated state is
    /// a no-op (status updates may arrive twice). Says whether it moved.
    fn set_status(
        &mut self,
        id: &str,
        to: ScheduleStatus,
        message: Option<String>,
        now_ms: i64,
        dirty: &mut Dirty,
    ) -> bool {
        let Some(moved) = self.tasks.set_status(id, to, message, now_ms) else {
            return false;
        };
        dirty.tasks.insert(id.to_owned());
        self.updates.touch(&moved.job);
        if to.is_being_killed() && moved.agent.is_some() {
            self.arm_kill_retry(id, now_ms);
        }
        if moved.left_agent
            && let Some(agent) = &moved.agent
        {
            self.recompute_usage(agent);
        }
        if to.is_terminal() {
            dirty.removed(self.tasks.prune_history(&moved.job, now_ms));
        }
        true
    }

    /// Places a PENDING task on an agent (ASSIGNED); says whether it was.
    fn assign(
        &mut self,
        id: &str,
        agent: &str,
        ports: Vec<(String, u16)>,
        now_ms: i64,
        dirty: &mut Dirty,
    ) -> bool {
        let Some(host) = self.agents.get(agent).map(|a| a.view.hostname.clone()) else {
            return false;
        };
        let Some(moved) = self.tasks.assign(id, agent, host, ports, now_ms) else {
            return false;
        };
        dirty.tasks.insert(id.to_owned());
        self.updates.touch(&moved.job);
        self.recompute_usage(agent);
        true
    }

    /// The active task of each given instance (every instance when `None`) that has one.
    fn active_of(
        &self,
        job: &JobKey,
        instances: Option<&[u32]>,
    ) -> Result<Vec<(u32, String)>, Refusal> {
        let entry = self
            .jobs
            .get(job)
            .ok_or_else(|| Refusal::NoSuchJob(job_label(job)))?;
        let wanted: Vec<u32> = match instances {
            Some(list) => list.to_vec(),
            None => entry.instances.iter().copied().collect(),
        };
        Ok(wanted
            .into_iter()
            .filter_map(|i| Some((i, self.tasks.active_id(job, i)?.to_owned())))
            .collect())
    }

    /// Kills the active tasks of the given instances (all when `None`). PENDING and THROTTLED
    /// tasks end at once; tasks on an agent go KILLING and the agent is told.
    pub fn kill(
        &mut self,
        job: &JobKey,
        instances: Option<&[u32]>,
        message: &str,
        now_ms: i64,
        dirty: &mut Dirty,
    ) -> Result<Vec<(u32, String)>, Refusal> {
        let mut killed = Vec::new();
        for (i, id) in self.active_of(job, instances)? {
            let status = self.tasks[&id].status;
            let killing = Some(message.to_owned());
            if matches!(status, ScheduleStatus::Pending | ScheduleStatus::Throttled) {
                self.set_status(&id, ScheduleStatus::Killing, killing, now_ms, dirty);
                let placed_not = Some("Killed before it was placed".into());
                self.set_status(&id, ScheduleStatus::Killed, placed_not, now_ms, dirty);
            } else if self.set_status(&id, ScheduleStatus::Killing, killing, now_ms, dirty)
                && let Some(agent) = self.tasks[&id].agent_id.clone()
            {
                dirty.kill(agent, id.clone());
            }
            killed.push((i, id));
        }
        Ok(killed)
    }

    /// Applies a status an agent reported. Returns whether anything changed. A report for a task
    /// the scheduler thinks is over (or does not know) gets the task killed on that agent.
    #[allow(clippy::too_many_arguments)] // the event's fields plus time, ids and the change log
    pub fn agent_status(
        &mut self,
        agent: &str,
        id: &str,
        status: ScheduleStatus,
        message: Option<String>,
        now_ms: i64,
        new_id: &mut dyn FnMut() -> String,
        dirty: &mut Dirty,
    ) -> bool {
        // A report for a task the scheduler does not know, thinks is over, or placed on another
        // agent: a ghost there, killed there. An agent speaks only for the tasks placed on it.
        let Some(t) = self
            .tasks
            .get(id)
            .filter(|t| !t.status.is_terminal() && t.agent_id.as_deref() == Some(agent))
        else {
            if self
                .tasks
                .get(id)
                .is_some_and(|t| t.agent_id.as_deref() != Some(agent))
            {
                tracing::warn!(
                    agent,
                    task = id,
                    "status for a task not placed on this agent: ignored"
                );
            }
            if !status.is_terminal() {
                dirty.kill(agent.to_owned(), id.to_owned());
            }
            return false;
        };
        let before = t.status;
        if !self.set_status(id, status, message, now_ms, dirty) {
            return false;
        }
        if status.is_terminal() {
            self.note_update_ending(id, before, status, dirty);
            self.after_terminal(id, before, status, now_ms, new_id, dirty);
        }
        true
    }

    /// Decides whether an ended task is replaced (Aurora's rules, `aurora_sched::reschedule`).
    fn after_terminal(
        &mut self,
        id: &str,
        before: ScheduleStatus,
        status: ScheduleStatus,
        now_ms: i64,
        new_id: &mut dyn FnMut() -> String,
        dirty: &mut Dirty,
    ) {
        let Some(t) = self.tasks.get(id) else {
            return;
        };
        let Some(entry) = self.jobs.get(&t.job) else {
            return;
        };
        let policy = Policy {
            service: entry.config.service,
            backoff: self.backoff,
            max_task_failures: entry.config.max_task_failures,
        };
        let ending = match (before, status) {
            (ScheduleStatus::Killing, _) => Ending::KilledByUser,
            (
                ScheduleStatus::Restarting | ScheduleStatus::Draining | ScheduleStatus::Preempting,
                _,
            ) => Ending::Interrupted,
            (_, ScheduleStatus::Finished) => Ending::Finished,
            (_, ScheduleStatus::Failed) => Ending::Failed,
            _ => Ending::Lost,
        };
        let ran_for = t.running_since_ms().map_or(Duration::ZERO, |s| {
            Duration::from_millis((now_ms - s).max(0) as u64)
        });
        let decision = reschedule::decide(
            policy,
            ending,
            t.failure_count,
            ran_for,
            t.penalty_ms.map(Duration::from_millis),
        );
        let (job, instance) = (t.job.clone(), t.instance);
        if let Decision::Replace { failures, throttle } = decision
            && self.tasks.active_id(&job, instance).is_none()
        {
            // A retried task of a cron run belongs to the same run, and runs what its ancestor ran.
            let how = NewTask {
                failure_count: failures,
                ancestor: Some(t.task_id.clone()),
                throttle,
                cron_run_ms: t.cron_run_ms,
                config_digest: t.config_digest.clone(),
            };
            self.new_task(&job, instance, how, now_ms, new_id, dirty);
        }
    }

    /// Adds `count` instances copying the configuration of an active instance (`aurora job add`).
    pub fn add_instances(
        &mut self,
        job: &JobKey,
        from: u32,
        count: u32,
        now_ms: i64,
        new_id: &mut dyn FnMut() -> String,
        dirty: &mut Dirty,
    ) -> Result<Vec<(u32, String)>, Refusal> {
        let entry = self
            .jobs
            .get(job)
            .ok_or_else(|| Refusal::NoSuchJob(job_label(job)))?;
        let Some(copied) = self.tasks.active_task(job, from) else {
            return Err(Refusal::Invalid(format!(
                "instance {from} of {} is not active",
                job_label(job)
            )));
        };
        if count == 0 || entry.instances.len() + count as usize > MAX_INSTANCES as usize {
            return Err(Refusal::Invalid(format!(
                "cannot add {count} instances (at most {MAX_INSTANCES} per job)"
            )));
        }
        let first = entry.instances.iter().next_back().map_or(0, |m| m + 1);
        let mut config = (*entry.config).clone();
        config.instances += i64::from(count);
        // The new instances run what the copied one runs.
        let digest = copied.config_digest.clone();
        let entry = self.jobs.get_mut(job).expect("checked above");
        entry.config = Arc::new(config);
        dirty.jobs.insert(job.clone());
        Ok((first..first + count)
            .map(|i| {
                let how = NewTask {
                    config_digest: digest.clone(),
                    ..NewTask::default()
                };
                (i, self.new_task(job, i, how, now_ms, new_id, dirty))
            })
            .collect())
    }

    /// Registers (or re-registers) an agent with the tasks it still runs, and applies what
    /// `aurora_sched::reconcile` decides: tasks gone from it LOST (or KILLED), tasks it should
    /// not run killed, launches that may have been lost sent again.
    #[allow(clippy::too_many_arguments)]
    pub fn register_agent(
        &mut self,
        view: AgentView,
        endpoint: String,
        running: &[String],
        now_ms: i64,
        new_id: &mut dyn FnMut() -> String,
        dirty: &mut Dirty,
    ) {
        let id = view.id.clone();
        self.agents.register(view, endpoint, now_ms);
        let placed_ids = self.tasks.on_agent(&id);
        let placed: Vec<Placed<'_>> = placed_ids
            .iter()
            .filter_map(|t| {
                Some(Placed {
                    task_id: t,
                    status: self.tasks.get(t)?.status,
                })
            })
            .collect();
        let runs: Vec<Running<'_>> = running
            .iter()
            .map(|t| Running {
                task_id: t,
                known: self
                    .tasks
                    .get(t)
                    .filter(|x| !x.status.is_terminal() && x.agent_id.as_deref() == Some(&id))
                    .map(|x| x.status),
            })
            .collect();
        for action in reconcile::on_register(&placed, &runs) {
            match action {
                Action::Lost(t) => {
                    let gone = Some(reconcile::GONE.to_owned());
                    self.agent_status(&id, t, ScheduleStatus::Lost, gone, now_ms, new_id, dirty);
                }
                Action::Killed(t) => {
                    let gone = Some(reconcile::GONE_WHILE_KILLING.to_owned());
                    let to = ScheduleStatus::Killed;
                    self.agent_status(&id, t, to, gone, now_ms, new_id, dirty);
                }
                Action::Kill(t) => dirty.kill(id.clone(), t.to_owned()),
                Action::Resume(t) => {
                    let back = Some("Its agent is back".to_owned());
                    let to = ScheduleStatus::Running;
                    self.agent_status(&id, t, to, back, now_ms, new_id, dirty);
                }
                Action::Relaunch(t) => {
                    if let Some(cmd) = self.launch_command(t) {
                        dirty.commands.push((id.clone(), cmd));
                    }
                }
            }
        }
        self.recompute_usage(&id);
    }

    /// Sums what the tasks on an agent use, for placement.
    fn recompute_usage(&mut self, agent: &str) {
        let (mut cpu, mut ram, mut disk, mut ports) = (0.0, 0u64, 0u64, BTreeSet::new());
        for t in self.tasks.iter_on_agent(agent) {
            if let Some(j) = self.config_of(t) {
                let r = &j.task.resources;
                cpu += r.cpu;
                ram += (r.ram / (1024 * 1024)).max(0) as u64;
                disk += (r.disk / (1024 * 1024)).max(0) as u64;
            }
            ports.extend(t.ports.iter().map(|(_, p)| *p));
        }
        self.agents.set_usage(agent, cpu, ram, disk, ports);
    }

    /// The launch command for a task placed on an agent.
    fn launch_command(&self, id: &str) -> Option<AgentCommand> {
        let t = self.tasks.get(id)?;
        let config = self.config_of(t)?;
        Some(AgentCommand::Launch(Box::new(LaunchTask {
            task_id: t.task_id.clone(),
            job: t.job.to_string(),
            instance: t.instance,
            user: config.role.clone(),
            task: config.task.clone(),
            ports: t.ports.iter().cloned().collect(),
            health: Some(config.health_check_config.clone()),
            lifecycle: Some(config.lifecycle.clone()),
        })))
    }

    /// The configuration a task runs.
    pub fn config_of(&self, t: &ScheduledTask) -> Option<&Arc<Job>> {
        let job = self.jobs.get(&t.job)?;
        Some(
            t.config_digest
                .as_ref()
                .and_then(|d| job.configs.get(d))
                .unwrap_or(&job.config),
        )
    }

    /// The soonest time something is due: a queued task, a cron firing, an update to look at, a
    /// kill to send again, a partitioned task to give up on.
    pub fn next_ready_ms(&self) -> Option<i64> {
        [
            self.tasks.next_queued_ms(),
            self.next_cron_ms(),
            self.next_update_ms(),
            self.next_kill_retry_ms(),
            self.next_partition_ms(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Marks an agent disconnected: it takes no new tasks until it registers again.
    pub fn agent_disconnected(&mut self, agent: &str) {
        if let Some(a) = self.agents.get_mut(agent) {
            a.connected = false;
        }
    }
}

/// How a new task starts out, beyond its job and instance.
#[derive(Debug, Default)]
struct NewTask {
    failure_count: u32,
    ancestor: Option<String>,
    /// THROTTLED for this long first (a flapping service).
    throttle: Option<Duration>,
    /// The cron run it belongs to.
    cron_run_ms: Option<i64>,
    /// The configuration it runs; the job's current one when `None`.
    config_digest: Option<String>,
}
