//! The scheduler's in-memory state: jobs, tasks and agents, with the indexes every event needs
//! (instance → active task, agent → tasks, the pending queue), rebuilt from the store at start.
//!
//! Every mutation goes through a method here that checks it against the task state machine,
//! records a task event, and notes what changed (`Dirty`) so that the caller can persist exactly
//! that before anyone is told. Nothing here scans all tasks per event. No IO: time comes in as
//! `now_ms`, randomness (task ids) through `new_id`.

use aurora_api::{AgentCommand, LaunchTask};
use aurora_model::task::{
    ScheduleStatus, ScheduledTask, TaskEvent, Transition, task_id, transition,
};
use aurora_model::{Job, JobKey};
use aurora_sched::placement::{self, AgentView, Demand};
use aurora_sched::reschedule::{self, Backoff, Decision, Ending, Policy};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// How many finished tasks each job keeps in its history.
pub const HISTORY_PER_JOB: usize = 100;
/// How long a finished task is kept at most.
pub const HISTORY_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long a task that fits nowhere waits before placement is tried again.
pub const RETRY_PENDING_MS: i64 = 500;
/// SIGTERM-to-SIGKILL grace for kills.
pub const KILL_GRACE_MS: u64 = 5_000;

/// A job and its configuration.
#[derive(Debug, Clone)]
pub struct JobEntry {
    /// What the job is now: new instances and added ones run this.
    pub config: Arc<Job>,
    /// `config`'s instance digest ([`Job::instance_digest`]).
    pub digest: String,
    /// Every configuration a task of the job runs or ran, by digest (`config` included): after a
    /// canary or a failed update, instances of one job differ.
    pub configs: BTreeMap<String, Arc<Job>>,
    /// Instance ids of the job (active or finished).
    pub instances: BTreeSet<u32>,
    /// Set while the job is scheduled with cron.
    pub cron: Option<cron::CronEntry>,
}

impl JobEntry {
    /// A job entry for `config`, keeping the configurations its earlier tasks ran.
    pub fn new(
        config: Job,
        instances: BTreeSet<u32>,
        cron: Option<cron::CronEntry>,
        earlier: BTreeMap<String, Arc<Job>>,
    ) -> Self {
        let config = Arc::new(config);
        let digest = config.instance_digest();
        let mut configs = earlier;
        configs.insert(digest.clone(), config.clone());
        JobEntry {
            config,
            digest,
            configs,
            instances,
            cron,
        }
    }

    /// Makes `config` the job's current configuration.
    pub fn set_config(&mut self, config: Job) {
        let config = Arc::new(config);
        self.digest = config.instance_digest();
        self.configs.insert(self.digest.clone(), config.clone());
        self.config = config;
    }
}

/// An agent the scheduler knows.
#[derive(Debug, Clone)]
pub struct AgentEntry {
    pub view: AgentView,
    /// Where the agent serves logs and sandbox files.
    pub endpoint: String,
    pub connected: bool,
    /// When the agent last registered or reported (heartbeats included).
    pub last_seen_ms: i64,
    /// It stopped reporting for longer than the timeout: its tasks were declared LOST.
    pub lost: bool,
    /// How it limits its tasks (`cgroup-v1`...), as it said when registering.
    pub isolation: String,
}

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

#[derive(Default)]
pub struct State {
    pub jobs: HashMap<JobKey, JobEntry>,
    pub tasks: HashMap<String, ScheduledTask>,
    /// (job, instance) → its active task.
    active: HashMap<(JobKey, u32), String>,
    /// Terminal tasks of each job, oldest first, for the history and its pruning.
    history: HashMap<JobKey, std::collections::VecDeque<String>>,
    /// Agent → tasks placed on it and not yet terminal.
    by_agent: HashMap<String, HashSet<String>>,
    /// Agent → job → how many of the job's tasks are on it (placement spreads jobs with it).
    jobs_on_agent: HashMap<String, HashMap<JobKey, u32>>,
    /// Tasks waiting for placement or for their throttle to expire, by the time they may go.
    queue: BTreeSet<(i64, String)>,
    /// Why a PENDING task is still pending.
    pub pending_reasons: HashMap<String, String>,
    pub agents: BTreeMap<String, AgentEntry>,
    placements: usize,
    /// The flapping backoff for replacements.
    pub backoff: Backoff,
    /// The time zone cron schedules are evaluated in (`--cron-timezone`).
    pub cron_timezone: chrono_tz::Tz,
    /// Hosts in maintenance (draining, or drained once nothing runs there), by hostname.
    pub maintenance: BTreeSet<String>,
    /// Issued tokens, by hash.
    pub tokens: HashMap<String, aurora_model::auth::TokenRecord>,
    /// Job updates, active and past, by id.
    pub updates: HashMap<String, aurora_model::update::JobUpdate>,
    /// Each job's active update, by id.
    pub active_updates: HashMap<JobKey, String>,
    /// When each active update wants to be looked at again (watch periods ending, pulses due).
    update_wake: HashMap<String, i64>,
    /// Jobs with an active update whose tasks changed since the updates were last driven.
    update_touched: HashSet<JobKey>,
    /// KILLING tasks by when their kill is sent again, with the wait that led there
    /// (`kill_retry`).
    kill_retries: BTreeMap<(i64, String), i64>,
}

/// A job's constraints, parsed (and checked: a bad one refuses the job with the reason).
pub fn job_constraints(config: &Job) -> Result<Vec<placement::Constraint>, String> {
    match &config.constraints {
        Some(map) => placement::constraints::parse(&config.role, map),
        None => Ok(Vec::new()),
    }
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
            s.index(&t);
            s.tasks.insert(t.task_id.clone(), t);
        }
        s
    }

    fn index(&mut self, t: &ScheduledTask) {
        if let Some(j) = self.jobs.get_mut(&t.job) {
            j.instances.insert(t.instance);
        }
        if t.status.is_active() {
            self.active
                .insert((t.job.clone(), t.instance), t.task_id.clone());
            if let Some(a) = &t.agent_id
                && t.status.is_on_agent()
            {
                self.put_on_agent(a, &t.task_id, &t.job);
            }
            match t.status {
                ScheduleStatus::Pending => {
                    self.queue.insert((0, t.task_id.clone()));
                }
                ScheduleStatus::Throttled => {
                    let until = t.since_ms() + t.penalty_ms.unwrap_or(0) as i64;
                    self.queue.insert((until, t.task_id.clone()));
                }
                ScheduleStatus::Killing if t.agent_id.is_some() => {
                    self.arm_kill_retry(&t.task_id, t.since_ms());
                }
                _ => {}
            }
        } else {
            self.history
                .entry(t.job.clone())
                .or_default()
                .push_back(t.task_id.clone());
        }
    }

    /// The active task of each instance of a job.
    pub fn active_tasks(&self, job: &JobKey) -> Vec<&ScheduledTask> {
        let Some(entry) = self.jobs.get(job) else {
            return Vec::new();
        };
        entry
            .instances
            .iter()
            .filter_map(|i| self.active_task(job, *i))
            .collect()
    }

    /// The active task of one instance, if it has one.
    pub fn active_task(&self, job: &JobKey, instance: u32) -> Option<&ScheduledTask> {
        self.active
            .get(&(job.clone(), instance))
            .and_then(|id| self.tasks.get(id))
    }

    /// Finished tasks kept for a job, newest first.
    pub fn history(&self, job: &JobKey) -> Vec<&ScheduledTask> {
        self.history
            .get(job)
            .map(|h| h.iter().rev().filter_map(|id| self.tasks.get(id)).collect())
            .unwrap_or_default()
    }

    /// Creates a job and one PENDING task per instance.
    pub fn create_job(
        &mut self,
        config: Job,
        now_ms: i64,
        new_id: &mut dyn FnMut() -> String,
        dirty: &mut Dirty,
    ) -> Result<Vec<String>, Refusal> {
        let key = config
            .path()
            .map_err(|e| Refusal::Invalid(e.to_string()))?
            .key;
        // As in Aurora, a job "exists" while it has active tasks; one whose tasks all ended may be
        // created again (its finished tasks stay in the history).
        if !self.active_tasks(&key).is_empty()
            || self.jobs.get(&key).is_some_and(|j| j.cron.is_some())
        {
            return Err(Refusal::JobExists(job_label(&key)));
        }
        if config.instances < 1 || config.instances > 4000 {
            return Err(Refusal::Invalid(format!(
                "instances must be between 1 and 4000, got {}",
                config.instances
            )));
        }
        if config.is_cron() {
            return Err(Refusal::Invalid(
                "Cron jobs may only be scheduled with \"aurora cron schedule\" command".into(),
            ));
        }
        job_constraints(&config).map_err(Refusal::Invalid)?;
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
            .map(|i| self.new_task(&key, i, 0, None, None, now_ms, new_id, dirty))
            .collect();
        Ok(ids)
    }

    #[allow(clippy::too_many_arguments)]
    fn new_task(
        &mut self,
        job: &JobKey,
        instance: u32,
        failure_count: u32,
        ancestor: Option<String>,
        throttle: Option<Duration>,
        now_ms: i64,
        new_id: &mut dyn FnMut() -> String,
        dirty: &mut Dirty,
    ) -> String {
        let id = task_id(job, instance, &new_id());
        let (status, message) = match throttle {
            Some(d) => (
                ScheduleStatus::Throttled,
                format!(
                    "Rescheduled, penalized for {} ms for flapping",
                    d.as_millis()
                ),
            ),
            None => (ScheduleStatus::Pending, "Added to pending queue".to_owned()),
        };
        let t = ScheduledTask {
            task_id: id.clone(),
            job: job.clone(),
            instance,
            status,
            agent_id: None,
            host: None,
            ports: Vec::new(),
            failure_count,
            ancestor_id: ancestor,
            penalty_ms: throttle.map(|d| d.as_millis() as u64),
            cron_run_ms: None,
            config_digest: self.jobs.get(job).map(|j| j.digest.clone()),
            events: vec![TaskEvent {
                timestamp_ms: now_ms,
                status,
                message: Some(message),
            }],
        };
        self.index(&t);
        self.tasks.insert(id.clone(), t);
        dirty.tasks.insert(id.clone());
        id
    }

    /// Moves a task to `to`, recording the event; refuses illegal transitions; a repeated state is
    /// a no-op (status updates may arrive twice).
    fn set_status(
        &mut self,
        id: &str,
        to: ScheduleStatus,
        message: Option<String>,
        now_ms: i64,
        dirty: &mut Dirty,
    ) -> bool {
        let Some(t) = self.tasks.get_mut(id) else {
            return false;
        };
        match transition(t.status, to) {
            Ok(Transition::Apply) => {}
            Ok(Transition::Noop) | Err(_) => return false,
        }
        let from = t.status;
        t.status = to;
        t.events.push(TaskEvent {
            timestamp_ms: now_ms,
            status: to,
            message,
        });
        dirty.tasks.insert(id.to_owned());
        let (job, instance, agent) = (t.job.clone(), t.instance, t.agent_id.clone());
        if self.active_updates.contains_key(&job) {
            self.update_touched.insert(job.clone());
        }
        if matches!(from, ScheduleStatus::Pending | ScheduleStatus::Throttled) {
            self.queue.retain(|(_, q)| q != id);
            self.pending_reasons.remove(id);
        }
        if to == ScheduleStatus::Killing && agent.is_some() {
            self.arm_kill_retry(id, now_ms);
        }
        if to.is_terminal() {
            if self
                .active
                .get(&(job.clone(), instance))
                .is_some_and(|a| a == id)
            {
                self.active.remove(&(job.clone(), instance));
            }
            if let Some(a) = agent
                && self.take_off_agent(&a, id, &job)
            {
                self.recompute_usage(&a);
            }
            self.history
                .entry(job.clone())
                .or_default()
                .push_back(id.to_owned());
            self.prune_history(&job, now_ms, dirty);
        }
        true
    }

    fn prune_history(&mut self, job: &JobKey, now_ms: i64, dirty: &mut Dirty) {
        let Some(h) = self.history.get_mut(job) else {
            return;
        };
        while let Some(oldest) = h.front().cloned() {
            let old = self
                .tasks
                .get(&oldest)
                .is_none_or(|t| now_ms - t.since_ms() > HISTORY_MAX_AGE.as_millis() as i64);
            if h.len() > HISTORY_PER_JOB || old {
                h.pop_front();
                self.tasks.remove(&oldest);
                dirty.tasks.remove(&oldest);
                dirty.removed_tasks.insert(oldest);
            } else {
                break;
            }
        }
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
            .filter_map(|i| Some((i, self.active.get(&(job.clone(), i))?.clone())))
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
            if matches!(status, ScheduleStatus::Pending | ScheduleStatus::Throttled) {
                self.set_status(
                    &id,
                    ScheduleStatus::Killing,
                    Some(message.to_owned()),
                    now_ms,
                    dirty,
                );
                self.set_status(
                    &id,
                    ScheduleStatus::Killed,
                    Some("Killed before it was placed".into()),
                    now_ms,
                    dirty,
                );
            } else if self.set_status(
                &id,
                ScheduleStatus::Killing,
                Some(message.to_owned()),
                now_ms,
                dirty,
            ) && let Some(agent) = self.tasks[&id].agent_id.clone()
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
        // A report for a task the scheduler does not know, or thinks is over: a ghost, killed there.
        let Some(t) = self.tasks.get(id).filter(|t| !t.status.is_terminal()) else {
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
        let t = &self.tasks[id];
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
        let (job, instance, task_id, run, digest) = (
            t.job.clone(),
            t.instance,
            t.task_id.clone(),
            t.cron_run_ms,
            t.config_digest.clone(),
        );
        if let Decision::Replace { failures, throttle } = decision
            && !self.active.contains_key(&(job.clone(), instance))
        {
            let id = self.new_task(
                &job,
                instance,
                failures,
                Some(task_id),
                throttle,
                now_ms,
                new_id,
                dirty,
            );
            // A retried task of a cron run belongs to the same run, and runs what its ancestor ran.
            if let Some(t) = self.tasks.get_mut(&id) {
                t.cron_run_ms = run;
                t.config_digest = digest;
            }
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
        if !self.active.contains_key(&(job.clone(), from)) {
            return Err(Refusal::Invalid(format!(
                "instance {from} of {} is not active",
                job_label(job)
            )));
        }
        if count == 0 || entry.instances.len() + count as usize > 4000 {
            return Err(Refusal::Invalid(format!(
                "cannot add {count} instances (at most 4000 per job)"
            )));
        }
        let first = entry.instances.iter().next_back().map_or(0, |m| m + 1);
        let mut config = (*entry.config).clone();
        config.instances += i64::from(count);
        // The new instances run what the copied one runs.
        let digest = self
            .active_task(job, from)
            .and_then(|t| t.config_digest.clone());
        let entry = self.jobs.get_mut(job).expect("checked above");
        entry.config = Arc::new(config);
        dirty.jobs.insert(job.clone());
        Ok((first..first + count)
            .map(|i| {
                let id = self.new_task(job, i, 0, None, None, now_ms, new_id, dirty);
                if let Some(t) = self.tasks.get_mut(&id) {
                    t.config_digest.clone_from(&digest);
                }
                (i, id)
            })
            .collect())
    }

    /// Registers (or re-registers) an agent. Tasks the scheduler placed there that the agent no
    /// longer runs are LOST; tasks it runs that the scheduler does not expect are killed there.
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
        let mut view = view;
        view.unavailable = self.maintenance.contains(&view.hostname);
        self.agents.insert(
            id.clone(),
            AgentEntry {
                view,
                endpoint,
                connected: true,
                last_seen_ms: now_ms,
                lost: false,
                isolation: String::new(),
            },
        );
        let expected: Vec<String> = self
            .by_agent
            .get(&id)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        for t in &expected {
            let status = self.tasks.get(t).map(|t| t.status);
            // ASSIGNED tasks may still be on their way to the agent: the launch is resent below.
            if !running.contains(t) && status != Some(ScheduleStatus::Assigned) {
                // Gone while being killed: the kill did what it was asked.
                let (to, message) = if status == Some(ScheduleStatus::Killing) {
                    (
                        ScheduleStatus::Killed,
                        "Task is gone from its agent: killed",
                    )
                } else {
                    (ScheduleStatus::Lost, "Task is gone from its agent")
                };
                self.agent_status(&id, t, to, Some(message.into()), now_ms, new_id, dirty);
            }
        }
        for t in running {
            let ours = self
                .tasks
                .get(t)
                .filter(|x| !x.status.is_terminal() && x.agent_id.as_deref() == Some(id.as_str()));
            // Unknown tasks are killed; so are ours being killed: the kill sent before either
            // side restarted may never have reached the agent, or died with it mid-way.
            if ours.is_none_or(|x| x.status == ScheduleStatus::Killing) {
                dirty.kill(id.clone(), t.clone());
            }
        }
        // Launches that may not have reached the agent before either side restarted.
        let assigned: Vec<String> = expected
            .into_iter()
            .filter(|t| {
                self.tasks
                    .get(t)
                    .is_some_and(|x| x.status == ScheduleStatus::Assigned)
                    && !running.contains(t)
            })
            .collect();
        for t in assigned {
            if let Some(cmd) = self.launch_command(&t) {
                dirty.commands.push((id.clone(), cmd));
            }
        }
        self.recompute_usage(&id);
    }

    /// Records a task as placed on an agent.
    fn put_on_agent(&mut self, agent: &str, task_id: &str, job: &JobKey) {
        if self
            .by_agent
            .entry(agent.to_owned())
            .or_default()
            .insert(task_id.to_owned())
        {
            *self
                .jobs_on_agent
                .entry(agent.to_owned())
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

    fn recompute_usage(&mut self, agent: &str) {
        let (mut cpu, mut ram, mut disk, mut ports) = (0.0, 0u64, 0u64, BTreeSet::new());
        for id in self.by_agent.get(agent).into_iter().flatten() {
            let Some(t) = self.tasks.get(id) else {
                continue;
            };
            if let Some(j) = self.config_of(t) {
                let r = &j.task.resources;
                cpu += r.cpu;
                ram += (r.ram / (1024 * 1024)).max(0) as u64;
                disk += (r.disk / (1024 * 1024)).max(0) as u64;
            }
            ports.extend(t.ports.iter().map(|(_, p)| *p));
        }
        if let Some(a) = self.agents.get_mut(agent) {
            a.view.used_cpu = cpu;
            a.view.used_ram_mb = ram;
            a.view.used_disk_mb = disk;
            a.view.used_ports = ports;
        }
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

    /// The soonest time a queued task may be placed, if any.
    pub fn next_ready_ms(&self) -> Option<i64> {
        let queued = self.queue.iter().next().map(|(t, _)| *t);
        [
            queued,
            self.next_cron_ms(),
            self.next_update_ms(),
            self.next_kill_retry_ms(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Places every task whose time has come: THROTTLED ones become PENDING, PENDING ones go to an
    /// agent (ASSIGNED, launch queued) or keep a pending reason. Returns how many were assigned.
    pub fn schedule(&mut self, now_ms: i64, dirty: &mut Dirty) -> usize {
        let due: Vec<(i64, String)> = self
            .queue
            .iter()
            .take_while(|(t, _)| *t <= now_ms)
            .cloned()
            .collect();
        let mut agents: Vec<String> = self
            .agents
            .iter()
            .filter(|(_, a)| a.connected)
            .map(|(k, _)| k.clone())
            .collect();
        agents.sort();
        // One view of the agents for the whole round, updated as tasks land, so a round costs
        // O(tasks × candidates) and not O(tasks × agents) clones.
        let mut views: Vec<AgentView> =
            agents.iter().map(|a| self.agents[a].view.clone()).collect();
        let mut assigned = 0;
        // Each job's constraints, parsed once per round.
        let mut constraints: HashMap<JobKey, Arc<[placement::Constraint]>> = HashMap::new();
        for (mut queued_at, id) in due {
            if self
                .tasks
                .get(&id)
                .is_some_and(|t| t.status == ScheduleStatus::Throttled)
            {
                self.set_status(
                    &id,
                    ScheduleStatus::Pending,
                    Some("Penalty expired".into()),
                    now_ms,
                    dirty,
                );
                self.queue.insert((0, id.clone()));
                queued_at = 0;
            }
            let Some(t) = self.tasks.get(&id) else {
                continue;
            };
            let Some(job) = self.jobs.get(&t.job) else {
                continue;
            };
            let Some(config) = self.config_of(t) else {
                continue;
            };
            let r = &config.task.resources;
            let mut port_names: Vec<String> = Vec::new();
            for p in &config.task.processes {
                for name in aurora_model::template::port_names(&p.cmdline) {
                    if !port_names.iter().any(|n| n == name) {
                        port_names.push(name.to_owned());
                    }
                }
            }
            let demand = Demand {
                cpu: r.cpu,
                ram_mb: (r.ram / (1024 * 1024)).max(0) as u64,
                disk_mb: (r.disk / (1024 * 1024)).max(0) as u64,
                ports: port_names,
                // Checked when the job was submitted; a stored job that no longer parses places
                // without its constraints rather than never.
                constraints: match constraints.get(&t.job) {
                    Some(c) => c.clone(),
                    None => {
                        let c: Arc<[placement::Constraint]> =
                            job_constraints(&job.config).unwrap_or_default().into();
                        constraints.insert(t.job.clone(), c.clone());
                        c
                    }
                },
            };
            let job_key = t.job.clone();
            let spread = |i: usize| {
                self.jobs_on_agent
                    .get(&agents[i])
                    .and_then(|jobs| jobs.get(&job_key))
                    .copied()
                    .unwrap_or(0)
            };
            // Only jobs with limit constraints ask, so only they pay for the count.
            let with_value = |attribute: &str, value: &str| {
                self.active_tasks(&job_key)
                    .into_iter()
                    .filter(|t| t.status.is_on_agent())
                    .filter_map(|t| self.agents.get(t.agent_id.as_deref()?))
                    .filter(|a| {
                        placement::constraints::attribute(&a.view, attribute) == Some(value)
                    })
                    .count() as u32
            };
            let presence = placement::Presence {
                on_agent: &spread,
                with_value: &with_value,
            };
            let start = self.placements.wrapping_add(1);
            let placed = placement::place(&demand, &views, &presence, start);
            self.placements = start;
            match placed {
                Ok(p) => {
                    let agent_id = agents[p.agent].clone();
                    let host = self.agents[&agent_id].view.hostname.clone();
                    let msg = format!("Assigned to {host}");
                    if let Some(t) = self.tasks.get_mut(&id) {
                        t.agent_id = Some(agent_id.clone());
                        t.host = Some(host);
                        t.ports = p.ports.into_iter().collect();
                    }
                    self.set_status(&id, ScheduleStatus::Assigned, Some(msg), now_ms, dirty);
                    self.put_on_agent(&agent_id, &id, &job_key);
                    self.recompute_usage(&agent_id);
                    views[p.agent] = self.agents[&agent_id].view.clone();
                    if let Some(cmd) = self.launch_command(&id) {
                        dirty.commands.push((agent_id, cmd));
                    }
                    assigned += 1;
                }
                Err(pending) => {
                    self.pending_reasons.insert(id.clone(), pending.reason);
                    // Try again after a while, not on every pass.
                    if self.queue.remove(&(queued_at, id.clone())) {
                        self.queue.insert((now_ms + RETRY_PENDING_MS, id));
                    }
                }
            }
        }
        assigned
    }

    /// Marks an agent disconnected: it takes no new tasks until it registers again.
    pub fn agent_disconnected(&mut self, agent: &str) {
        if let Some(a) = self.agents.get_mut(agent) {
            a.connected = false;
        }
    }
}

mod cron;
mod hosts;
mod kill_retry;
mod update;
pub use cron::{CronEntry, CronOutcome};
pub use hosts::HostStatus;
pub use update::{Control, Started, UpdateRequest};

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn job(service: bool, instances: i64, max_task_failures: i64) -> Job {
        let json = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/hello_world.json"
        ))
        .unwrap();
        let mut j: Job = serde_json::from_str(&json).unwrap();
        j.service = service;
        j.instances = instances;
        j.max_task_failures = max_task_failures;
        j
    }

    pub(super) fn agent(id: &str) -> AgentView {
        AgentView {
            id: id.into(),
            hostname: format!("{id}.local"),
            cpu: 4.0,
            ram_mb: 4096,
            disk_mb: 4096,
            used_cpu: 0.0,
            used_ram_mb: 0,
            used_disk_mb: 0,
            port_range: (31000, 31100),
            used_ports: BTreeSet::new(),
            unavailable: false,
            attributes: BTreeMap::new(),
        }
    }

    /// Registers agents with these ids (each `agent(id)`) at time 0.
    pub(super) fn register(s: &mut State, ids: &mut Ids, agents: &[&str]) {
        let mut d = Dirty::default();
        for a in agents {
            s.register_agent(
                agent(a),
                format!("http://{a}"),
                &[],
                0,
                &mut || ids.next(),
                &mut d,
            );
        }
    }

    pub(super) struct Ids(pub(super) u32);
    impl Ids {
        pub(super) fn next(&mut self) -> String {
            self.0 += 1;
            format!("u{}", self.0)
        }
    }

    /// www-data/prod/hello, a service of `instances` instances, each RUNNING on agent "a1".
    pub(super) fn running_service(instances: i64) -> (State, Ids, JobKey, Vec<String>) {
        let mut s = State::default();
        let mut ids = Ids(0);
        let mut d = Dirty::default();
        let created = s
            .create_job(job(true, instances, 1), 0, &mut || ids.next(), &mut d)
            .unwrap();
        s.register_agent(
            agent("a1"),
            "http://a1".into(),
            &[],
            0,
            &mut || ids.next(),
            &mut d,
        );
        s.schedule(0, &mut d);
        for t in &created {
            s.agent_status(
                "a1",
                t,
                ScheduleStatus::Running,
                None,
                1,
                &mut || ids.next(),
                &mut d,
            );
        }
        let key = JobKey::new("www-data", "prod", "hello").unwrap();
        (s, ids, key, created)
    }

    #[test]
    fn a_host_limit_leaves_the_extra_instance_pending_with_the_reason() {
        let mut s = State::default();
        let mut ids = Ids(0);
        let mut d = Dirty::default();
        let mut j = job(true, 4, 1);
        j.constraints = Some([("host".to_owned(), "limit:1".to_owned())].into());
        let created = s.create_job(j, 0, &mut || ids.next(), &mut d).unwrap();
        for a in ["a1", "a2", "a3"] {
            s.register_agent(
                agent(a),
                format!("http://{a}"),
                &[],
                0,
                &mut || ids.next(),
                &mut d,
            );
        }
        assert_eq!(s.schedule(1, &mut d), 3);
        let pending: Vec<&String> = created
            .iter()
            .filter(|id| s.tasks[*id].status == ScheduleStatus::Pending)
            .collect();
        assert_eq!(pending.len(), 1);
        assert_eq!(
            s.pending_reasons[pending[0]],
            "Constraint not satisfied: host"
        );
        let mut hosts: Vec<_> = s.tasks.values().filter_map(|t| t.host.clone()).collect();
        hosts.sort();
        assert_eq!(hosts, ["a1.local", "a2.local", "a3.local"]);
        // A bad constraint is refused at submission with the reason.
        let mut bad = job(true, 1, 1);
        bad.name = "bad".into();
        bad.constraints = Some([("host".to_owned(), "limit:none".to_owned())].into());
        match s.create_job(bad, 0, &mut || ids.next(), &mut d) {
            Err(Refusal::Invalid(m)) => {
                assert!(m.contains("limit must be a positive number"), "{m}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_job_spreads_over_agents_and_its_count_per_agent_follows_its_tasks() {
        let mut s = State::default();
        let mut ids = Ids(0);
        let mut d = Dirty::default();
        register(&mut s, &mut ids, &["a1", "a2"]);
        let mut j = job(true, 4, 1);
        j.task.resources.cpu = 0.5;
        let key = j.path().unwrap().key;
        let created = s.create_job(j, 0, &mut || ids.next(), &mut d).unwrap();
        assert_eq!(s.schedule(0, &mut d), 4);
        let on = |s: &State, a: &str| s.jobs_on_agent.get(a).and_then(|m| m.get(&key)).copied();
        assert_eq!(
            (on(&s, "a1"), on(&s, "a2")),
            (Some(2), Some(2)),
            "spread evenly"
        );
        let t = created
            .iter()
            .find(|id| s.tasks[*id].agent_id.as_deref() == Some("a1"))
            .unwrap()
            .clone();
        s.kill(&key, Some(&[s.tasks[&t].instance]), "x", 1, &mut d)
            .unwrap();
        s.agent_status(
            "a1",
            &t,
            ScheduleStatus::Killed,
            None,
            2,
            &mut || ids.next(),
            &mut d,
        );
        assert_eq!(on(&s, "a1"), Some(1));
        // A restart rebuilds the counts from the tasks.
        let jobs: Vec<Job> = s.jobs.values().map(|j| (*j.config).clone()).collect();
        let r = State::restore(jobs, s.tasks.values().cloned().collect());
        assert_eq!((on(&r, "a1"), on(&r, "a2")), (Some(1), Some(2)));
    }

    #[test]
    fn create_place_run_and_replace_a_service() {
        let mut s = State::default();
        let mut ids = Ids(0);
        let mut d = Dirty::default();
        let key = JobKey::new("www-data", "prod", "hello").unwrap();
        let created = s
            .create_job(job(true, 2, 1), 0, &mut || ids.next(), &mut d)
            .unwrap();
        assert_eq!(created.len(), 2);
        assert_eq!(
            s.create_job(job(true, 2, 1), 0, &mut || ids.next(), &mut d),
            Err(Refusal::JobExists("www-data/prod/hello".into()))
        );
        // No agent yet: pending with a reason.
        assert_eq!(s.schedule(1, &mut d), 0);
        assert_eq!(s.pending_reasons[&created[0]], "No agents registered");
        s.register_agent(
            agent("a1"),
            "http://a1".into(),
            &[],
            2,
            &mut || ids.next(),
            &mut d,
        );
        let mut d = Dirty::default();
        assert_eq!(s.schedule(1 + RETRY_PENDING_MS, &mut d), 2);
        assert_eq!(d.commands.len(), 2);
        assert!(matches!(d.commands[0].1, AgentCommand::Launch(_)));
        let t0 = created[0].clone();
        for st in [ScheduleStatus::Starting, ScheduleStatus::Running] {
            assert!(s.agent_status("a1", &t0, st, None, 4, &mut || ids.next(), &mut d));
        }
        // The same update twice changes nothing.
        assert!(!s.agent_status(
            "a1",
            &t0,
            ScheduleStatus::Running,
            None,
            5,
            &mut || ids.next(),
            &mut d
        ));
        // It exits after running a long time: replaced at once, not throttled.
        let later = 4 + 10 * 60 * 1000;
        assert!(s.agent_status(
            "a1",
            &t0,
            ScheduleStatus::Finished,
            None,
            later,
            &mut || ids.next(),
            &mut d
        ));
        let active = s.active_tasks(&key);
        let replacement = active.iter().find(|t| t.instance == 0).unwrap();
        assert_ne!(replacement.task_id, t0);
        assert_eq!(replacement.status, ScheduleStatus::Pending);
        assert_eq!(replacement.ancestor_id.as_deref(), Some(t0.as_str()));
        assert_eq!(s.history(&key)[0].task_id, t0);
    }

    #[test]
    fn flapping_service_is_throttled_and_adhoc_failures_stop_at_the_limit() {
        let mut s = State::default();
        let mut ids = Ids(0);
        let mut d = Dirty::default();
        s.register_agent(
            agent("a1"),
            "http://a1".into(),
            &[],
            0,
            &mut || ids.next(),
            &mut d,
        );
        let created = s
            .create_job(job(true, 1, 1), 0, &mut || ids.next(), &mut d)
            .unwrap();
        s.schedule(0, &mut d);
        s.agent_status(
            "a1",
            &created[0],
            ScheduleStatus::Running,
            None,
            1,
            &mut || ids.next(),
            &mut d,
        );
        s.agent_status(
            "a1",
            &created[0],
            ScheduleStatus::Failed,
            None,
            2,
            &mut || ids.next(),
            &mut d,
        );
        let key = JobKey::new("www-data", "prod", "hello").unwrap();
        let t = s.active_tasks(&key)[0];
        assert_eq!(t.status, ScheduleStatus::Throttled);
        assert_eq!(t.failure_count, 1);
        assert_eq!(s.next_ready_ms(), Some(2 + 30_000));

        let mut adhoc = job(false, 1, 2);
        adhoc.name = "batch".into();
        let bkey = JobKey::new("www-data", "prod", "batch").unwrap();
        let first = s.create_job(adhoc, 0, &mut || ids.next(), &mut d).unwrap()[0].clone();
        let mut current = first;
        for round in 0..2 {
            s.schedule(10, &mut d);
            s.agent_status(
                "a1",
                &current,
                ScheduleStatus::Running,
                None,
                11,
                &mut || ids.next(),
                &mut d,
            );
            s.agent_status(
                "a1",
                &current,
                ScheduleStatus::Failed,
                None,
                10 * 60 * 1000,
                &mut || ids.next(),
                &mut d,
            );
            match s.active_tasks(&bkey).first() {
                Some(t) => {
                    assert_eq!(round, 0);
                    current = t.task_id.clone();
                }
                None => assert_eq!(round, 1, "stops after max_task_failures"),
            }
        }
    }

    #[test]
    fn an_agent_registering_again_is_told_again_to_kill_what_is_killing() {
        let (mut s, mut ids, key, created) = running_service(2);
        let mut d = Dirty::default();
        s.kill(&key, Some(&[0]), "Killed for job update.", 2, &mut d)
            .unwrap();
        // The kill went out on a stream that died with both sides: the agent comes back
        // still running both tasks.
        let mut d = Dirty::default();
        s.register_agent(
            agent("a1"),
            "http://a1".into(),
            &created,
            3,
            &mut || ids.next(),
            &mut d,
        );
        let kills: Vec<&String> = d
            .commands
            .iter()
            .filter_map(|(a, c)| match c {
                AgentCommand::Kill { task_id, .. } if a == "a1" => Some(task_id),
                _ => None,
            })
            .collect();
        assert_eq!(
            kills,
            [&created[0]],
            "only the KILLING task is killed again"
        );
        assert_eq!(s.tasks[&created[0]].status, ScheduleStatus::Killing);
        assert_eq!(s.tasks[&created[1]].status, ScheduleStatus::Running);
        // Registering again without it: the task ended with its kill, KILLED not LOST.
        s.register_agent(
            agent("a1"),
            "http://a1".into(),
            &created[1..],
            4,
            &mut || ids.next(),
            &mut d,
        );
        assert_eq!(s.tasks[&created[0]].status, ScheduleStatus::Killed);
        assert_eq!(s.tasks[&created[1]].status, ScheduleStatus::Running);
    }

    #[test]
    fn kill_ends_pending_at_once_and_running_through_the_agent() {
        let mut s = State::default();
        let mut ids = Ids(0);
        let mut d = Dirty::default();
        let key = JobKey::new("www-data", "prod", "hello").unwrap();
        let created = s
            .create_job(job(true, 2, 1), 0, &mut || ids.next(), &mut d)
            .unwrap();
        s.register_agent(
            agent("a1"),
            "http://a1".into(),
            &[],
            0,
            &mut || ids.next(),
            &mut d,
        );
        s.schedule(0, &mut d);
        s.agent_status(
            "a1",
            &created[0],
            ScheduleStatus::Running,
            None,
            1,
            &mut || ids.next(),
            &mut d,
        );
        let mut d = Dirty::default();
        let killed = s.kill(&key, None, "Killed by alice", 2, &mut d).unwrap();
        assert_eq!(killed.len(), 2);
        assert_eq!(s.tasks[&created[0]].status, ScheduleStatus::Killing);
        assert!(d.commands.iter().any(
            |(_, c)| matches!(c, AgentCommand::Kill { task_id, .. } if *task_id == created[0])
        ));
        s.agent_status(
            "a1",
            &created[0],
            ScheduleStatus::Killed,
            None,
            3,
            &mut || ids.next(),
            &mut d,
        );
        assert!(
            s.active_tasks(&key).iter().all(|t| t.task_id != created[0]),
            "a killed task is not replaced"
        );
        // The ended task no longer holds the agent's resources (hello takes 1 cpu; 1 task left).
        assert_eq!(s.agents["a1"].view.used_cpu, 1.0);
        // Once every task has ended, the job may be created again.
        assert!(
            s.create_job(job(true, 2, 1), 4, &mut || ids.next(), &mut d)
                .is_err(),
            "one task is still KILLING"
        );
        s.agent_status(
            "a1",
            &created[1],
            ScheduleStatus::Killed,
            None,
            5,
            &mut || ids.next(),
            &mut d,
        );
        assert_eq!(s.active_tasks(&key).len(), 0);
        assert_eq!(
            s.create_job(job(true, 2, 1), 6, &mut || ids.next(), &mut d)
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            s.history(&key).len(),
            2,
            "the earlier tasks stay in the history"
        );
        assert_eq!(
            s.kill(&JobKey::new("x", "y", "z").unwrap(), None, "", 0, &mut d),
            Err(Refusal::NoSuchJob("x/y/z".into()))
        );
    }

    #[test]
    fn finished_tasks_are_pruned_by_count_and_age() {
        let mut s = State::default();
        let mut ids = Ids(0);
        let mut d = Dirty::default();
        let key = JobKey::new("www-data", "prod", "hello").unwrap();
        s.register_agent(
            agent("a1"),
            "http://a1".into(),
            &[],
            0,
            &mut || ids.next(),
            &mut d,
        );
        let first = s
            .create_job(job(true, 1, 1), 0, &mut || ids.next(), &mut d)
            .unwrap()[0]
            .clone();
        let hour = 3_600_000;
        let mut now = 0;
        for _ in 0..HISTORY_PER_JOB + 5 {
            s.schedule(now, &mut d);
            let id = s.active_tasks(&key)[0].task_id.clone();
            s.agent_status(
                "a1",
                &id,
                ScheduleStatus::Running,
                None,
                now,
                &mut || ids.next(),
                &mut d,
            );
            now += hour; // a stable run: replaced at once
            s.agent_status(
                "a1",
                &id,
                ScheduleStatus::Finished,
                None,
                now,
                &mut || ids.next(),
                &mut d,
            );
        }
        assert_eq!(s.history(&key).len(), HISTORY_PER_JOB);
        assert!(
            !s.tasks.contains_key(&first),
            "the oldest finished task is gone"
        );
        assert!(
            d.removed_tasks.contains(&first),
            "and removed from the store"
        );
        // Age: a week later, the next ending prunes everything older than HISTORY_MAX_AGE.
        now += HISTORY_MAX_AGE.as_millis() as i64;
        s.schedule(now, &mut d);
        let id = s.active_tasks(&key)[0].task_id.clone();
        s.agent_status(
            "a1",
            &id,
            ScheduleStatus::Running,
            None,
            now,
            &mut || ids.next(),
            &mut d,
        );
        s.agent_status(
            "a1",
            &id,
            ScheduleStatus::Finished,
            None,
            now + 1,
            &mut || ids.next(),
            &mut d,
        );
        assert_eq!(s.history(&key).len(), 1);
    }

    #[test]
    fn restore_rebuilds_the_indexes() {
        let mut s = State::default();
        let mut ids = Ids(0);
        let mut d = Dirty::default();
        s.create_job(job(true, 3, 1), 0, &mut || ids.next(), &mut d)
            .unwrap();
        let key = JobKey::new("www-data", "prod", "hello").unwrap();
        let jobs: Vec<Job> = s.jobs.values().map(|j| (*j.config).clone()).collect();
        let tasks: Vec<ScheduledTask> = s.tasks.values().cloned().collect();
        let r = State::restore(jobs, tasks);
        assert_eq!(r.active_tasks(&key).len(), 3);
        assert_eq!(r.next_ready_ms(), Some(0));
    }
}
