//! Job updates driven against tasks: starting one (the job's instances diffed against the new
//! configuration), pausing, resuming, aborting, rolling back and pulsing it, and the tick that moves
//! every active update on ([`State::update_tick`]): instances taken in batches, each replaced and
//! watched until it is updated or has failed too often; the update rolled back (or failed) once
//! more instances failed than it tolerates. A rolling `aurora job restart` is an update of kind
//! `Restart`: every instance in scope is replaced with the configuration it already runs.
//!
//! What to do with one instance is `aurora_sched::update::step`; the update's states and their
//! legal moves are `aurora_model::update`. Persisting and answering is the caller's (`Dirty`).

use super::{Dirty, Refusal, State, job_constraints, job_label};
use aurora_model::task::ScheduleStatus;
use aurora_model::update::{
    InstanceAction, InstanceEvent, InstancePhase, InstanceProgress, JobUpdate, Strategy,
    UpdateDiff, UpdateEvent, UpdateKind, UpdateSettings, UpdateStatus,
};
use aurora_model::{Job, JobKey};
use aurora_sched::update::{Goal, Observed, Step, step};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Terminal updates kept per job (Aurora's `-job_update_history_per_job_threshold`).
pub const UPDATE_HISTORY_PER_JOB: usize = 10;
/// The metadata key under which Aurora's client names an update attempt.
pub const CLIENT_UPDATE_ID: &str = "org.apache.aurora.client.update_id";
/// The message on tasks an update kills.
pub const KILLED_FOR_UPDATE: &str = "Killed for job update.";

/// An update asked for.
#[derive(Debug, Clone)]
pub struct UpdateRequest {
    /// The configuration to move to (for a restart: the job's own).
    pub config: Job,
    pub kind: UpdateKind,
    /// Only these instances are touched; all when `None`.
    pub only: Option<BTreeSet<u32>>,
    pub user: String,
    pub message: Option<String>,
    pub metadata: BTreeMap<String, String>,
    /// Settings to use instead of the configuration's `update_config` (restart flags).
    pub settings: Option<UpdateSettings>,
}

/// What starting an update did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    /// The update, by id.
    Update(String),
    /// Nothing would change: no update was made.
    Unchanged,
}

/// A user's command to an active update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Pause,
    Resume,
    Abort,
    Rollback,
}

impl State {
    /// Each active instance of a job and the digest of the configuration it runs.
    pub fn instance_digests(&self, job: &JobKey) -> BTreeMap<u32, String> {
        self.active_tasks(job)
            .into_iter()
            .filter_map(|t| {
                let digest = t
                    .config_digest
                    .clone()
                    .or_else(|| Some(self.jobs.get(job)?.digest.clone()))?;
                Some((t.instance, digest))
            })
            .collect()
    }

    /// What moving a job to `config` would do to each of its instances.
    pub fn update_diff(
        &self,
        key: &JobKey,
        config: &Job,
        only: Option<&BTreeSet<u32>>,
    ) -> UpdateDiff {
        let count = config.instances.clamp(0, 4000) as u32;
        UpdateDiff::compute(
            &self.instance_digests(key),
            &config.instance_digest(),
            count,
            only,
        )
    }

    /// Refuses a change to a job while an update is moving its instances.
    pub fn refuse_if_updating(&self, job: &JobKey) -> Result<(), Refusal> {
        if self.active_updates.contains_key(job) {
            return Err(Refusal::Updating(job_label(job)));
        }
        Ok(())
    }

    /// The active update of a job.
    pub fn active_update(&self, job: &JobKey) -> Option<&JobUpdate> {
        self.updates.get(self.active_updates.get(job)?)
    }

    /// A job's updates, newest first.
    pub fn updates_of(&self, job: &JobKey) -> Vec<&JobUpdate> {
        let mut v: Vec<&JobUpdate> = self.updates.values().filter(|u| u.job == *job).collect();
        v.sort_by_key(|u| std::cmp::Reverse((u.created_ms(), u.id.clone())));
        v
    }

    /// Starts an update (checked as Aurora checks `startJobUpdate`), or says nothing would change.
    pub fn start_update(
        &mut self,
        req: UpdateRequest,
        now_ms: i64,
        new_id: &mut dyn FnMut() -> String,
        dirty: &mut Dirty,
    ) -> Result<Started, Refusal> {
        let config = req.config;
        let key = config
            .path()
            .map_err(|e| Refusal::Invalid(e.to_string()))?
            .key;
        if config.is_cron() || self.jobs.get(&key).is_some_and(|j| j.cron.is_some()) {
            return Err(Refusal::Invalid(
                "Cron jobs may only be updated with \"aurora cron schedule\" command".into(),
            ));
        }
        if !config.service {
            return Err(Refusal::Invalid(
                "Updates are not supported for non-service tasks.".into(),
            ));
        }
        if config.instances < 1 || config.instances > 4000 {
            return Err(Refusal::Invalid(format!(
                "instances must be between 1 and 4000, got {}",
                config.instances
            )));
        }
        job_constraints(&config).map_err(Refusal::Invalid)?;
        // A client retrying the same start (same update id in its metadata) gets the update
        // its first attempt made.
        if let Some(active) = self.active_update(&key)
            && let Some(mine) = req.metadata.get(CLIENT_UPDATE_ID)
            && active.metadata.get(CLIENT_UPDATE_ID) == Some(mine)
        {
            return Ok(Started::Update(active.id.clone()));
        }
        self.refuse_if_updating(&key)?;
        let mut settings = match req.settings {
            Some(s) => s,
            None => UpdateSettings::from_config(&config.update_config)
                .map_err(|e| Refusal::Invalid(e.to_string()))?,
        };
        let count = config.instances as u32;
        let current = self.instance_digests(&key);
        let initial_instances = self
            .jobs
            .get(&key)
            .map_or(0, |j| j.config.instances.clamp(0, 4000) as u32);
        if let Some(only) = &req.only {
            let limit = count.max(initial_instances);
            if let Some(bad) = only
                .iter()
                .find(|i| **i >= limit && !current.contains_key(i))
            {
                return Err(Refusal::Invalid(format!(
                    "instance {bad} is neither in the job nor in the new configuration \
                     (instances 0-{})",
                    limit.saturating_sub(1)
                )));
            }
        }
        let desired = config.instance_digest();
        let worklist = match req.kind {
            UpdateKind::Update => {
                let diff = UpdateDiff::compute(&current, &desired, count, req.only.as_ref());
                if diff.is_noop() {
                    return Ok(Started::Unchanged);
                }
                diff.worklist()
            }
            UpdateKind::Restart => {
                let list: Vec<u32> = current
                    .keys()
                    .copied()
                    .filter(|i| req.only.as_ref().is_none_or(|o| o.contains(i)))
                    .collect();
                if list.is_empty() {
                    return Err(Refusal::Invalid(format!(
                        "job {} has no active instances to restart",
                        job_label(&key)
                    )));
                }
                list
            }
        };
        if settings.max_failed_instances >= count && count > 1 {
            return Err(Refusal::Invalid(format!(
                "UpdateConfig.max_total_failures ({}) must be less than the job's instances ({count})",
                settings.max_failed_instances
            )));
        }
        settings.update_only = req.only;
        let initial_config = self.jobs.get(&key).map(|j| j.digest.clone());
        // The job is now what the update brings; earlier configurations stay for the tasks (and a
        // rollback) that need them.
        match self.jobs.get_mut(&key) {
            Some(entry) => {
                if req.kind == UpdateKind::Update {
                    entry.set_config(config);
                }
            }
            None => {
                self.jobs.insert(
                    key.clone(),
                    super::JobEntry::new(config, BTreeSet::new(), None, BTreeMap::new()),
                );
            }
        }
        dirty.jobs.insert(key.clone());
        let pulsed = settings.block_if_no_pulses_after_ms.is_some();
        let status = if pulsed {
            UpdateStatus::RollForwardAwaitingPulse
        } else {
            UpdateStatus::RollingForward
        };
        let id = new_id();
        let update = JobUpdate {
            id: id.clone(),
            job: key.clone(),
            kind: req.kind,
            user: req.user.clone(),
            settings,
            desired_config: desired,
            desired_instances: count,
            initial: current,
            initial_instances,
            initial_config,
            progress: worklist
                .iter()
                .map(|i| (*i, InstanceProgress::default()))
                .collect(),
            worklist,
            status,
            groups_started: 0,
            last_pulse_ms: None,
            metadata: req.metadata,
            events: vec![UpdateEvent {
                status,
                timestamp_ms: now_ms,
                user: Some(req.user),
                message: req.message,
            }],
            instance_events: Vec::new(),
        };
        self.updates.insert(id.clone(), update);
        self.active_updates.insert(key, id.clone());
        dirty.updates.insert(id.clone());
        self.evaluate_update(&id, now_ms, new_id, dirty);
        Ok(Started::Update(id))
    }

    /// Pauses, resumes, aborts or rolls back a job's active update. Returns its id.
    #[allow(clippy::too_many_arguments)] // the command, who and why, plus time, ids and the change log
    pub fn control_update(
        &mut self,
        job: &JobKey,
        control: Control,
        user: &str,
        message: Option<String>,
        now_ms: i64,
        new_id: &mut dyn FnMut() -> String,
        dirty: &mut Dirty,
    ) -> Result<String, Refusal> {
        let id =
            self.active_updates.get(job).cloned().ok_or_else(|| {
                Refusal::NoSuchUpdate("No active update found for this job.".into())
            })?;
        let u = self.updates.get_mut(&id).expect("indexed");
        let from = u.status;
        let to = match control {
            Control::Pause => from.paused(),
            Control::Resume if from.is_paused() => {
                if pulse_expired(u, now_ms) {
                    from.awaiting_pulse()
                } else {
                    from.progressing()
                }
            }
            Control::Resume => {
                return Err(Refusal::Invalid(format!(
                    "the update is {from}, not paused"
                )));
            }
            Control::Abort => UpdateStatus::Aborted,
            Control::Rollback if !from.is_rolling_back() => UpdateStatus::RollingBack,
            Control::Rollback => {
                return Err(Refusal::Invalid(format!(
                    "the update is already rolling back ({from})"
                )));
            }
        };
        if from == to {
            return Ok(id);
        }
        u.set_status(to, now_ms, Some(user.to_owned()), message)
            .map_err(|e| Refusal::Invalid(e.to_string()))?;
        if control == Control::Rollback {
            begin_rollback(u);
        }
        dirty.updates.insert(id.clone());
        if to.is_terminal() {
            self.update_ended(&id, dirty);
        } else {
            self.evaluate_update(&id, now_ms, new_id, dirty);
        }
        Ok(id)
    }

    /// A coordinator's pulse: unblocks an update waiting for one. Returns the update's state.
    pub fn pulse_update(
        &mut self,
        id: &str,
        now_ms: i64,
        new_id: &mut dyn FnMut() -> String,
        dirty: &mut Dirty,
    ) -> Result<UpdateStatus, Refusal> {
        let u = self
            .updates
            .get_mut(id)
            .ok_or_else(|| Refusal::NoSuchUpdate(format!("no update with id {id}")))?;
        if u.status.is_terminal() {
            return Ok(u.status);
        }
        if u.settings.block_if_no_pulses_after_ms.is_none() {
            return Err(Refusal::Invalid(
                "the update is not coordinated: it takes no pulses".into(),
            ));
        }
        u.last_pulse_ms = Some(now_ms);
        if u.status.is_awaiting_pulse() {
            let to = u.status.progressing();
            u.set_status(to, now_ms, None, Some("Pulse received".into()))
                .map_err(|e| Refusal::Invalid(e.to_string()))?;
        }
        let status = u.status;
        dirty.updates.insert(id.to_owned());
        self.evaluate_update(id, now_ms, new_id, dirty);
        Ok(status)
    }

    /// Moves active updates on: those whose job's tasks changed, whose watch period ended or
    /// whose pulse is due (blocked when it is overdue). Others are not looked at.
    pub fn update_tick(
        &mut self,
        now_ms: i64,
        new_id: &mut dyn FnMut() -> String,
        dirty: &mut Dirty,
    ) {
        if self.active_updates.is_empty() {
            return;
        }
        let touched = std::mem::take(&mut self.update_touched);
        let ids: Vec<String> = self
            .active_updates
            .iter()
            .filter(|(job, id)| {
                touched.contains(*job)
                    || self.update_wake.get(*id).is_some_and(|w| *w <= now_ms)
                    || self.updates.get(*id).is_some_and(|u| {
                        u.status.is_progressing()
                            && u.settings.block_if_no_pulses_after_ms.is_some()
                            && pulse_expired(u, now_ms)
                    })
            })
            .map(|(_, id)| id.clone())
            .collect();
        for id in ids {
            if let Some(u) = self.updates.get_mut(&id)
                && u.status.is_progressing()
                && pulse_expired(u, now_ms)
            {
                let to = u.status.awaiting_pulse();
                if u.set_status(to, now_ms, None, Some("No pulse received in time".into()))
                    .is_ok()
                {
                    dirty.updates.insert(id.clone());
                }
            }
            self.evaluate_update(&id, now_ms, new_id, dirty);
        }
    }

    /// The soonest time an active update needs looking at without any task changing.
    pub fn next_update_ms(&self) -> Option<i64> {
        let wakes = self.update_wake.values().copied();
        let pulses = self.active_updates.values().filter_map(|id| {
            let u = self.updates.get(id)?;
            let every = u.settings.block_if_no_pulses_after_ms? as i64;
            u.status
                .is_progressing()
                .then(|| u.last_pulse_ms.unwrap_or(0).saturating_add(every))
        });
        wakes.chain(pulses).min()
    }

    /// Counts a failure of an instance being updated when its new task ends on its own. A task
    /// killed (by the update or anyone) is not a failure of the new version, nor is one LOST with
    /// its machine or agent: it is replaced like any lost task and watched again.
    pub(super) fn note_update_ending(
        &mut self,
        task_id: &str,
        before: ScheduleStatus,
        to: ScheduleStatus,
        dirty: &mut Dirty,
    ) {
        if before == ScheduleStatus::Killing || to == ScheduleStatus::Lost {
            return;
        }
        let Some(t) = self.tasks.get(task_id) else {
            return;
        };
        let Some(id) = self.active_updates.get(&t.job) else {
            return;
        };
        let Some(u) = self.updates.get_mut(id) else {
            return;
        };
        let target = u.target(t.instance).map(str::to_owned);
        let Some(p) = u.progress.get_mut(&t.instance) else {
            return;
        };
        if p.phase == InstancePhase::Working
            && target.is_some()
            && t.config_digest == target
            && p.replace.as_deref() != Some(task_id)
        {
            p.failures += 1;
            dirty.updates.insert(id.clone());
        }
    }

    /// Loads stored configurations and updates (after [`State::restore`]); active updates go on
    /// where they were.
    pub fn restore_updates(
        &mut self,
        configs: Vec<(JobKey, String, Job)>,
        updates: Vec<JobUpdate>,
    ) {
        for (key, digest, config) in configs {
            if let Some(entry) = self.jobs.get_mut(&key) {
                entry
                    .configs
                    .entry(digest)
                    .or_insert_with(|| Arc::new(config));
            }
        }
        for u in updates {
            if u.status.is_active() {
                self.active_updates.insert(u.job.clone(), u.id.clone());
                self.update_touched.insert(u.job.clone());
            }
            self.updates.insert(u.id.clone(), u);
        }
    }

    /// Steps one update as far as it can go now.
    fn evaluate_update(
        &mut self,
        id: &str,
        now_ms: i64,
        new_id: &mut dyn FnMut() -> String,
        dirty: &mut Dirty,
    ) {
        self.update_wake.remove(id);
        let Some(mut u) = self.updates.remove(id) else {
            return;
        };
        // Every change of an update records an event, except a task created for an instance
        // (`drive` says so): comparing these is enough to know whether to store it again, without
        // copying a large update on every tick.
        let fingerprint = |u: &JobUpdate| (u.status, u.events.len(), u.instance_events.len());
        let before = fingerprint(&u);
        let mut created = false;
        if u.status.is_progressing() {
            if self.jobs.contains_key(&u.job) {
                created = self.drive(&mut u, now_ms, new_id, dirty);
            } else {
                let _ = u.set_status(
                    UpdateStatus::Error,
                    now_ms,
                    None,
                    Some("The job no longer exists".into()),
                );
            }
        } else if u.status.is_paused() || u.status.is_awaiting_pulse() {
            created = self.finish_begun_replacements(&mut u, now_ms, new_id, dirty);
        }
        let ended = u.status.is_terminal() && !before.0.is_terminal();
        if created || fingerprint(&u) != before {
            dirty.updates.insert(id.to_owned());
        }
        self.updates.insert(id.to_owned(), u);
        if ended {
            self.update_wake.remove(id);
            self.update_ended(id, dirty);
        }
    }

    /// While an update is paused (or waits for a pulse), an instance whose old task it already
    /// killed still gets its new task: pausing holds the rollout where it is, it does not leave
    /// an instance without a task until resumed (Aurora does). Nothing else moves.
    fn finish_begun_replacements(
        &mut self,
        u: &mut JobUpdate,
        now_ms: i64,
        new_id: &mut dyn FnMut() -> String,
        dirty: &mut Dirty,
    ) -> bool {
        let emptied: Vec<u32> = u
            .progress
            .iter()
            .filter(|(i, p)| {
                p.phase == InstancePhase::Working
                    && u.target(**i).is_some()
                    && self.active_task(&u.job, **i).is_none()
            })
            .map(|(i, _)| *i)
            .collect();
        let mut created = false;
        for i in emptied {
            created |= self.step_instance(u, i, now_ms, new_id, dirty) == Step::Create;
        }
        created
    }

    /// The update loop: step the instances in flight, check the failure limits, start more, until
    /// nothing changes. Returns whether it created a task for an instance.
    fn drive(
        &mut self,
        u: &mut JobUpdate,
        now_ms: i64,
        new_id: &mut dyn FnMut() -> String,
        dirty: &mut Dirty,
    ) -> bool {
        let mut created = false;
        loop {
            let back = u.status.is_rolling_back();
            let mut wake: Option<i64> = None;
            let working: Vec<u32> = u
                .progress
                .iter()
                .filter(|(_, p)| p.phase == InstancePhase::Working)
                .map(|(i, _)| *i)
                .collect();
            for i in working {
                match self.step_instance(u, i, now_ms, new_id, dirty) {
                    Step::Wait { until_ms: Some(t) } => {
                        wake = Some(wake.map_or(t, |w: i64| w.min(t)));
                    }
                    Step::Create => created = true,
                    _ => {}
                }
            }
            let (_, in_flight, failed) = u.counts();
            if failed as u32 > u.settings.max_failed_instances {
                let note = format!(
                    "{failed} instance(s) failed, more than the {} tolerated",
                    u.settings.max_failed_instances
                );
                if !back && u.settings.rollback_on_failure {
                    let _ = u.set_status(
                        UpdateStatus::RollingBack,
                        now_ms,
                        None,
                        Some(format!("{note}: rolling back")),
                    );
                    begin_rollback(u);
                    continue;
                }
                let _ = u.set_status(UpdateStatus::Failed, now_ms, None, Some(note));
                return created;
            }
            let order: Vec<u32> = if back {
                u.worklist
                    .iter()
                    .rev()
                    .copied()
                    .filter(|i| u.progress.contains_key(i))
                    .collect()
            } else {
                u.worklist.clone()
            };
            let waiting: Vec<u32> = order
                .into_iter()
                .filter(|i| {
                    u.progress
                        .get(i)
                        .is_some_and(|p| p.phase == InstancePhase::Waiting)
                })
                .collect();
            let start: Vec<u32> = match &u.settings.strategy {
                Strategy::Queue { size } => waiting
                    .into_iter()
                    .take((*size as usize).saturating_sub(in_flight))
                    .collect(),
                Strategy::Batch {
                    autopause_after_batch,
                    ..
                } if in_flight == 0 && !waiting.is_empty() => {
                    if *autopause_after_batch && !back && u.groups_started > 0 {
                        let _ = u.set_status(
                            UpdateStatus::RollForwardPaused,
                            now_ms,
                            None,
                            Some("Paused after a batch (autopause_after_batch)".into()),
                        );
                        return created;
                    }
                    let size = u.settings.group_size(u.groups_started as usize) as usize;
                    u.groups_started += 1;
                    waiting.into_iter().take(size).collect()
                }
                Strategy::Batch { .. } => Vec::new(),
            };
            if start.is_empty() {
                let (_, in_flight, _) = u.counts();
                if in_flight == 0
                    && u.progress
                        .values()
                        .all(|p| p.phase != InstancePhase::Waiting)
                {
                    let to = if back {
                        UpdateStatus::RolledBack
                    } else {
                        UpdateStatus::RolledForward
                    };
                    let _ = u.set_status(to, now_ms, None, None);
                    return created;
                }
                if let Some(w) = wake {
                    self.update_wake.insert(u.id.clone(), w);
                }
                return created;
            }
            let action = if back {
                InstanceAction::InstanceRollingBack
            } else {
                InstanceAction::InstanceUpdating
            };
            for i in start {
                let replace = (u.kind == UpdateKind::Restart && !back)
                    .then(|| self.active_task(&u.job, i).map(|t| t.task_id.clone()))
                    .flatten();
                if let Some(p) = u.progress.get_mut(&i) {
                    p.phase = InstancePhase::Working;
                    p.replace = replace;
                }
                u.instance_events.push(InstanceEvent {
                    instance: i,
                    timestamp_ms: now_ms,
                    action,
                });
            }
        }
    }

    /// Takes the next step for one instance in flight, and carries it out.
    fn step_instance(
        &mut self,
        u: &mut JobUpdate,
        i: u32,
        now_ms: i64,
        new_id: &mut dyn FnMut() -> String,
        dirty: &mut Dirty,
    ) -> Step {
        let back = u.status.is_rolling_back();
        let target = u.target(i).map(str::to_owned);
        let p = u.progress.get(&i).cloned().unwrap_or_default();
        let job_digest = self.jobs.get(&u.job).map(|j| j.digest.clone());
        let observed = self.active_task(&u.job, i).map(|t| {
            (
                t.task_id.clone(),
                t.config_digest
                    .clone()
                    .or(job_digest.clone())
                    .unwrap_or_default(),
                t.status,
                t.running_since_ms(),
            )
        });
        let s = step(
            Goal {
                target: target.as_deref(),
                replace: p.replace.as_deref(),
                min_wait_in_running_ms: u.settings.min_wait_in_running_ms,
                failures: p.failures,
                max_failures: u.settings.max_per_instance_failures,
            },
            observed
                .as_ref()
                .map(|(id, digest, status, since)| Observed {
                    task_id: id,
                    digest,
                    status: *status,
                    running_since_ms: if *status == ScheduleStatus::Running {
                        *since
                    } else {
                        None
                    },
                }),
            now_ms,
        );
        let progress = u.progress.entry(i).or_default();
        match s {
            Step::Kill => {
                let _ = self.kill(&u.job, Some(&[i]), KILLED_FOR_UPDATE, now_ms, dirty);
            }
            Step::Create => {
                let id = self.new_task(&u.job, i, 0, None, None, now_ms, new_id, dirty);
                if let Some(t) = self.tasks.get_mut(&id) {
                    t.config_digest.clone_from(&target);
                    t.ancestor_id = observed.map(|(old, ..)| old);
                }
                progress.task_id = Some(id);
            }
            Step::Wait { .. } => {}
            Step::Succeeded | Step::Failed => {
                let failed = s == Step::Failed;
                // A removed instance is no longer one of the job's (its finished tasks stay in
                // the history).
                if !failed
                    && target.is_none()
                    && let Some(entry) = self.jobs.get_mut(&u.job)
                {
                    entry.instances.remove(&i);
                }
                progress.phase = if failed {
                    InstancePhase::Failed
                } else {
                    InstancePhase::Succeeded
                };
                let action = match (back, failed) {
                    (false, false) => InstanceAction::InstanceUpdated,
                    (false, true) => InstanceAction::InstanceUpdateFailed,
                    (true, false) => InstanceAction::InstanceRolledBack,
                    (true, true) => InstanceAction::InstanceRollbackFailed,
                };
                u.instance_events.push(InstanceEvent {
                    instance: i,
                    timestamp_ms: now_ms,
                    action,
                });
            }
        }
        s
    }

    /// An update reached a terminal state: the job's configuration settles, configurations no task
    /// runs are dropped, and old updates are pruned.
    fn update_ended(&mut self, id: &str, dirty: &mut Dirty) {
        let Some(u) = self.updates.get(id) else {
            return;
        };
        let job = u.job.clone();
        if self.active_updates.get(&job).is_some_and(|a| a == id) {
            self.active_updates.remove(&job);
        }
        self.update_wake.remove(id);
        if u.status == UpdateStatus::RolledBack
            && let Some(initial) = u.initial_config.clone()
            && let Some(entry) = self.jobs.get_mut(&job)
            && let Some(config) = entry.configs.get(&initial).cloned()
        {
            let mut config = (*config).clone();
            config.instances = i64::from(u.initial_instances);
            entry.set_config(config);
            dirty.jobs.insert(job.clone());
        }
        self.gc_configs(&job, dirty);
        let mut ended: Vec<(i64, String)> = self
            .updates
            .values()
            .filter(|u| u.job == job && u.status.is_terminal())
            .map(|u| (u.created_ms(), u.id.clone()))
            .collect();
        ended.sort();
        let surplus = ended.len().saturating_sub(UPDATE_HISTORY_PER_JOB);
        for (_, old) in ended.into_iter().take(surplus) {
            self.updates.remove(&old);
            dirty.updates.remove(&old);
            dirty.removed_updates.insert(old);
        }
    }

    /// Drops the configurations of a job that no task, nor the job itself, runs any more.
    pub(super) fn gc_configs(&mut self, job: &JobKey, dirty: &mut Dirty) {
        let Some(entry) = self.jobs.get(job) else {
            return;
        };
        if entry.configs.len() <= 1 {
            return;
        }
        let mut used: BTreeSet<String> = BTreeSet::new();
        used.insert(entry.digest.clone());
        for t in self.active_tasks(job).into_iter().chain(self.history(job)) {
            if let Some(d) = &t.config_digest {
                used.insert(d.clone());
            }
        }
        if let Some(u) = self.active_update(job) {
            used.insert(u.desired_config.clone());
            used.extend(u.initial.values().cloned());
            used.extend(u.initial_config.clone());
        }
        let entry = self.jobs.get_mut(job).expect("checked above");
        let unused: Vec<String> = entry
            .configs
            .keys()
            .filter(|d| !used.contains(*d))
            .cloned()
            .collect();
        for d in unused {
            entry.configs.remove(&d);
            dirty.removed_configs.insert((job.clone(), d));
        }
    }
}

/// Whether a coordinated update has gone too long without a pulse.
fn pulse_expired(u: &JobUpdate, now_ms: i64) -> bool {
    match u.settings.block_if_no_pulses_after_ms {
        Some(every) => now_ms - u.last_pulse_ms.unwrap_or(i64::MIN / 2) >= every as i64,
        None => false,
    }
}

/// Turns an update around: the instances it touched are taken back, last first; those it never
/// reached are left alone.
fn begin_rollback(u: &mut JobUpdate) {
    u.progress.retain(|_, p| p.phase != InstancePhase::Waiting);
    for p in u.progress.values_mut() {
        *p = InstanceProgress::default();
    }
    u.groups_started = 0;
}

#[cfg(test)]
mod tests {
    use super::super::tests::{Ids, agent, job, register};
    use super::*;
    use aurora_model::update::InstanceAction::*;

    /// A cluster of one agent that runs what it is given: tasks whose configuration digest is in
    /// `bad` fail at once, the others run; kills are carried out.
    struct Sim {
        s: State,
        ids: Ids,
        now: i64,
        bad: BTreeSet<String>,
    }

    impl Sim {
        fn new(instances: i64) -> (Sim, JobKey) {
            let mut s = State::default();
            let mut ids = Ids(0);
            let mut d = Dirty::default();
            register(&mut s, &mut ids, &["a1"]);
            let mut big = agent("a1");
            big.cpu = 100.0;
            big.ram_mb = 1 << 20;
            big.disk_mb = 1 << 20;
            s.agents.get_mut("a1").unwrap().view = big;
            s.create_job(job(true, instances, 1), 0, &mut || ids.next(), &mut d)
                .unwrap();
            let mut sim = Sim {
                s,
                ids,
                now: 1,
                bad: BTreeSet::new(),
            };
            sim.settle();
            (sim, JobKey::new("www-data", "prod", "hello").unwrap())
        }

        /// Runs the cluster until nothing changes at this instant.
        fn settle(&mut self) {
            for _ in 0..100 {
                let mut d = Dirty::default();
                let mut ids = std::mem::replace(&mut self.ids, Ids(0));
                self.s.update_tick(self.now, &mut || ids.next(), &mut d);
                self.s.schedule(self.now, &mut d);
                let mut changed = !d.tasks.is_empty();
                let reports: Vec<(String, ScheduleStatus)> = self
                    .s
                    .tasks
                    .values()
                    .filter_map(|t| {
                        let to = match t.status {
                            ScheduleStatus::Assigned
                                if self.bad.contains(t.config_digest.as_deref()?) =>
                            {
                                ScheduleStatus::Failed
                            }
                            ScheduleStatus::Assigned => ScheduleStatus::Running,
                            ScheduleStatus::Killing => ScheduleStatus::Killed,
                            _ => return None,
                        };
                        Some((t.task_id.clone(), to))
                    })
                    .collect();
                for (id, to) in reports {
                    changed |= self.s.agent_status(
                        "a1",
                        &id,
                        to,
                        None,
                        self.now,
                        &mut || ids.next(),
                        &mut d,
                    );
                }
                self.ids = ids;
                if !changed {
                    return;
                }
            }
            panic!("the cluster never settled");
        }

        fn start(&mut self, config: Job, kind: UpdateKind) -> Result<Started, Refusal> {
            let r = self.begin(config, kind);
            self.settle();
            r
        }

        /// Starts an update without letting the cluster answer yet.
        fn begin(&mut self, config: Job, kind: UpdateKind) -> Result<Started, Refusal> {
            let mut d = Dirty::default();
            let mut ids = std::mem::replace(&mut self.ids, Ids(0));
            let r = self.s.start_update(
                UpdateRequest {
                    config,
                    kind,
                    only: None,
                    user: "alice".into(),
                    message: None,
                    metadata: BTreeMap::new(),
                    settings: None,
                },
                self.now,
                &mut || ids.next(),
                &mut d,
            );
            self.ids = ids;
            r
        }

        fn control(&mut self, key: &JobKey, c: Control) {
            let mut d = Dirty::default();
            let mut ids = std::mem::replace(&mut self.ids, Ids(0));
            self.s
                .control_update(key, c, "bob", None, self.now, &mut || ids.next(), &mut d)
                .unwrap();
            self.ids = ids;
            self.settle();
        }

        fn update(&self, id: &str) -> &JobUpdate {
            &self.s.updates[id]
        }

        /// The ids of the job's active tasks, by instance.
        fn active_ids(&self, key: &JobKey) -> Vec<String> {
            self.s
                .active_tasks(key)
                .iter()
                .map(|t| t.task_id.clone())
                .collect()
        }

        fn digests(&self, key: &JobKey) -> Vec<String> {
            self.s.instance_digests(key).into_values().collect()
        }
    }

    fn new_version(instances: i64, batch: i64, watch: i64) -> Job {
        let mut j = job(true, instances, 1);
        j.task.processes[0].cmdline = "echo v2; sleep 100".into();
        j.update_config.batch_size = batch;
        j.update_config.watch_secs = watch;
        j
    }

    fn id_of(r: Result<Started, Refusal>) -> String {
        match r {
            Ok(Started::Update(id)) => id,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn instances_are_replaced_in_batches_and_watched() {
        let (mut sim, key) = Sim::new(4);
        let v2 = new_version(4, 2, 10);
        let d2 = v2.instance_digest();
        let id = id_of(sim.start(v2, UpdateKind::Update));
        // The first batch runs the new version, being watched; the second has not started.
        let u = sim.update(&id);
        assert_eq!(u.status, UpdateStatus::RollingForward);
        let events: Vec<(u32, InstanceAction)> = u
            .instance_events
            .iter()
            .map(|e| (e.instance, e.action))
            .collect();
        assert_eq!(events, [(0, InstanceUpdating), (1, InstanceUpdating)]);
        let running = sim.s.instance_digests(&key);
        assert_eq!(
            (running[&0] == d2, running[&1] == d2, running[&2] == d2),
            (true, true, false)
        );
        assert_eq!(sim.s.next_update_ms(), Some(1 + 10_000));
        // After the watch period, the next batch.
        sim.now += 10_000;
        sim.settle();
        sim.now += 10_000;
        sim.settle();
        let u = sim.update(&id);
        assert_eq!(u.status, UpdateStatus::RolledForward);
        let events: Vec<(u32, InstanceAction)> = u
            .instance_events
            .iter()
            .map(|e| (e.instance, e.action))
            .collect();
        assert_eq!(
            events,
            [
                (0, InstanceUpdating),
                (1, InstanceUpdating),
                (0, InstanceUpdated),
                (1, InstanceUpdated),
                (2, InstanceUpdating),
                (3, InstanceUpdating),
                (2, InstanceUpdated),
                (3, InstanceUpdated),
            ]
        );
        assert!(sim.digests(&key).iter().all(|d| *d == d2));
        assert!(sim.s.active_updates.is_empty());
        assert_eq!(sim.s.jobs[&key].digest, d2);
        // The old configuration stays while finished tasks ran it; an update to the same thing
        // changes nothing.
        assert_eq!(
            sim.start(new_version(4, 2, 10), UpdateKind::Update),
            Ok(Started::Unchanged)
        );
    }

    #[test]
    fn a_failing_version_is_rolled_back_to_the_old_one() {
        let (mut sim, key) = Sim::new(3);
        let old = sim.digests(&key);
        let v2 = new_version(3, 1, 0);
        sim.bad.insert(v2.instance_digest());
        let id = id_of(sim.start(v2, UpdateKind::Update));
        let u = sim.update(&id);
        assert_eq!(u.status, UpdateStatus::RolledBack);
        let actions: Vec<InstanceAction> = u.instance_events.iter().map(|e| e.action).collect();
        assert_eq!(
            actions,
            [
                InstanceUpdating,
                InstanceUpdateFailed,
                InstanceRollingBack,
                InstanceRolledBack
            ]
        );
        assert_eq!(
            sim.digests(&key),
            old,
            "the old version runs everywhere again"
        );
        assert_eq!(sim.s.jobs[&key].digest, old[0]);
        let statuses: Vec<UpdateStatus> = u.events.iter().map(|e| e.status).collect();
        assert_eq!(
            statuses,
            [
                UpdateStatus::RollingForward,
                UpdateStatus::RollingBack,
                UpdateStatus::RolledBack
            ]
        );
    }

    #[test]
    fn pause_resume_abort_and_the_update_lock() {
        let (mut sim, key) = Sim::new(2);
        let v2 = new_version(3, 1, 5);
        let d2 = v2.instance_digest();
        let id = id_of(sim.start(v2, UpdateKind::Update));
        // Instance 2 is new: it comes first.
        assert_eq!(sim.update(&id).instance_events[0].instance, 2);
        assert_eq!(
            sim.s.refuse_if_updating(&key),
            Err(Refusal::Updating("www-data/prod/hello".into()))
        );
        // One active update per job.
        assert_eq!(
            sim.start(new_version(3, 2, 5), UpdateKind::Update),
            Err(Refusal::Updating("www-data/prod/hello".into()))
        );
        // Unless it is the same client's retry of the same start.
        sim.s.updates.get_mut(&id).unwrap().metadata =
            [(CLIENT_UPDATE_ID.to_owned(), "attempt-1".to_owned())].into();
        let mut d = Dirty::default();
        let mut ids = Ids(200);
        let retry = sim.s.start_update(
            UpdateRequest {
                config: new_version(3, 1, 5),
                kind: UpdateKind::Update,
                only: None,
                user: "alice".into(),
                message: None,
                metadata: [(CLIENT_UPDATE_ID.to_owned(), "attempt-1".to_owned())].into(),
                settings: None,
            },
            sim.now,
            &mut || ids.next(),
            &mut d,
        );
        assert_eq!(retry, Ok(Started::Update(id.clone())));
        sim.control(&key, Control::Pause);
        assert_eq!(sim.update(&id).status, UpdateStatus::RollForwardPaused);
        let progress = crate::views::update_summary(&sim.s, sim.update(&id)).progress;
        assert_eq!((progress.working, progress.healthy), (1, 1), "{progress:?}");
        sim.now += 60_000;
        sim.settle();
        assert_eq!(sim.update(&id).counts(), (0, 1, 0), "paused: nothing moves");
        sim.control(&key, Control::Resume);
        let (done, _, _) = sim.update(&id).counts();
        assert_eq!(done, 1);
        sim.control(&key, Control::Abort);
        assert_eq!(sim.update(&id).status, UpdateStatus::Aborted);
        assert!(sim.s.refuse_if_updating(&key).is_ok());
        let mut d = Dirty::default();
        let mut ids = Ids(100);
        assert_eq!(
            sim.s.control_update(
                &key,
                Control::Pause,
                "bob",
                None,
                sim.now,
                &mut || ids.next(),
                &mut d
            ),
            Err(Refusal::NoSuchUpdate(
                "No active update found for this job.".into()
            ))
        );
        // Aborted mid-way: instances stay as they were.
        let digests = sim.s.instance_digests(&key);
        assert_eq!(digests.len(), 3);
        assert_eq!(digests.values().filter(|d| **d == d2).count(), 2);
    }

    #[test]
    fn a_paused_update_still_gives_an_instance_it_killed_its_new_task() {
        let (mut sim, key) = Sim::new(2);
        let v2 = new_version(2, 1, 5);
        let d2 = v2.instance_digest();
        let id = id_of(sim.begin(v2, UpdateKind::Update));
        // The pause comes while instance 0's old task is being killed.
        assert!(
            sim.s
                .tasks
                .values()
                .any(|t| t.status == ScheduleStatus::Killing)
        );
        sim.control(&key, Control::Pause);
        let u = sim.update(&id);
        assert_eq!(u.status, UpdateStatus::RollForwardPaused);
        let digests = sim.s.instance_digests(&key);
        assert_eq!(digests.len(), 2, "no instance is left without a task");
        assert_eq!(digests.values().filter(|x| **x == d2).count(), 1);
        assert_eq!(u.counts(), (0, 1, 0), "still working until resumed");
    }

    #[test]
    fn a_restart_replaces_every_instance_with_its_own_configuration() {
        let (mut sim, key) = Sim::new(2);
        let before = sim.active_ids(&key);
        let config = (*sim.s.jobs[&key].config).clone();
        let id = id_of(sim.start(config, UpdateKind::Restart));
        sim.now += 45_000;
        sim.settle();
        sim.now += 45_000;
        sim.settle();
        assert_eq!(sim.update(&id).status, UpdateStatus::RolledForward);
        let after = sim.active_ids(&key);
        assert!(
            before.iter().all(|t| !after.contains(t)),
            "{before:?} {after:?}"
        );
        assert_eq!(after.len(), 2);
    }

    #[test]
    fn scaling_down_kills_only_the_removed_instances_and_a_rollback_removes_added_ones() {
        let (mut sim, key) = Sim::new(3);
        let before = sim.active_ids(&key);
        let mut smaller = job(true, 2, 1);
        smaller.update_config.watch_secs = 0;
        let id = id_of(sim.start(smaller, UpdateKind::Update));
        assert_eq!(sim.update(&id).status, UpdateStatus::RolledForward);
        assert_eq!(sim.update(&id).worklist, [2]);
        let after = sim.active_ids(&key);
        assert_eq!(after, before[..2], "instances 0 and 1 untouched, 2 gone");
        assert_eq!(sim.s.jobs[&key].config.instances, 2);
        assert_eq!(
            crate::views::job_summary(&sim.s, &key).unwrap().instances,
            2,
            "the removed instance is no longer counted"
        );

        // Growing to 4 with a version that fails: the added instances are removed again.
        let mut bigger = new_version(4, 2, 0);
        bigger.update_config.max_total_failures = 1;
        sim.bad.insert(bigger.instance_digest());
        let id = id_of(sim.start(bigger, UpdateKind::Update));
        let u = sim.update(&id);
        assert_eq!(u.status, UpdateStatus::RolledBack);
        let active: Vec<u32> = sim
            .s
            .active_tasks(&key)
            .iter()
            .map(|t| t.instance)
            .collect();
        assert_eq!(active, [0, 1]);
        assert_eq!(sim.s.jobs[&key].config.instances, 2);
    }

    #[test]
    fn a_new_task_lost_with_its_agent_is_replaced_not_counted_as_a_failure() {
        let (mut sim, key) = Sim::new(1);
        let id = id_of(sim.start(new_version(1, 1, 10), UpdateKind::Update));
        let new_task = sim.s.active_tasks(&key)[0].task_id.clone();
        let mut d = Dirty::default();
        let mut ids = Ids(300);
        assert!(sim.s.agent_status(
            "a1",
            &new_task,
            ScheduleStatus::Lost,
            Some("Task is gone from its agent".into()),
            sim.now,
            &mut || ids.next(),
            &mut d,
        ));
        sim.settle();
        let u = sim.update(&id);
        assert_eq!(u.progress[&0].failures, 0);
        assert_eq!(u.status, UpdateStatus::RollingForward);
        let replacement = sim.s.active_tasks(&key)[0];
        assert_ne!(replacement.task_id, new_task);
        assert_eq!(replacement.status, ScheduleStatus::Running);
        sim.now += 10_000;
        sim.settle();
        assert_eq!(sim.update(&id).status, UpdateStatus::RolledForward);
    }

    #[test]
    fn a_coordinated_update_waits_for_pulses() {
        let (mut sim, key) = Sim::new(1);
        let mut v2 = new_version(1, 1, 0);
        v2.update_config.pulse_interval_secs = Some(60);
        let id = id_of(sim.start(v2, UpdateKind::Update));
        assert_eq!(
            sim.update(&id).status,
            UpdateStatus::RollForwardAwaitingPulse
        );
        assert_eq!(sim.update(&id).counts(), (0, 0, 0));
        let mut d = Dirty::default();
        let mut ids = Ids(100);
        sim.s
            .pulse_update(&id, sim.now, &mut || ids.next(), &mut d)
            .unwrap();
        sim.settle();
        assert_eq!(sim.update(&id).status, UpdateStatus::RolledForward);
        let _ = key;
    }
}
