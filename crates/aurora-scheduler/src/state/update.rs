//! Job updates driven against tasks: starting one (the job's instances diffed against the new
//! configuration), pausing, resuming, aborting, rolling back and pulsing it, and the tick that moves
//! every active update on ([`State::update_tick`]): instances taken in batches, each replaced and
//! watched until it is updated or has failed too often; the update rolled back (or failed) once
//! more instances failed than it tolerates. A rolling `aurora job restart` is an update of kind
//! `Restart`: every instance in scope is replaced with the configuration it already runs.
//!
//! What to do with one instance, and with the update as a whole, is `aurora_sched::update`'s;
//! the update's states and their legal moves are `aurora_model::update`; the table of updates is
//! `state::updates`; driving one against tasks is `drive`. Persisting and answering is the
//! caller's (`Dirty`).

mod drive;
#[cfg(test)]
mod tests;

use super::{Dirty, Refusal, State, Submission, ValidJob, job_label};
use aurora_model::task::ScheduleStatus;
use aurora_model::update::{
    InstancePhase, InstanceProgress, JobUpdate, UpdateDiff, UpdateEvent, UpdateKind,
    UpdateSettings, UpdateStatus,
};
use aurora_model::{Job, JobKey};
pub use aurora_sched::update::Control;
use aurora_sched::update::{control, pulse_expired};
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
        if self.updates.active_id(job).is_some() {
            return Err(Refusal::Updating(job_label(job)));
        }
        Ok(())
    }

    /// The active update of a job.
    pub fn active_update(&self, job: &JobKey) -> Option<&JobUpdate> {
        self.updates.active_of(job)
    }

    /// A job's updates, newest first.
    pub fn updates_of(&self, job: &JobKey) -> Vec<&JobUpdate> {
        self.updates.of_job(job)
    }

    /// Starts an update (checked as Aurora checks `startJobUpdate`), or says nothing would change.
    pub fn start_update(
        &mut self,
        req: UpdateRequest,
        now_ms: i64,
        new_id: &mut dyn FnMut() -> String,
        dirty: &mut Dirty,
    ) -> Result<Started, Refusal> {
        let ValidJob { key, config, .. } = ValidJob::check(req.config, Submission::Update)?;
        if self.jobs.get(&key).is_some_and(|j| j.cron.is_some()) {
            return Err(Refusal::Invalid(
                "Cron jobs may only be updated with \"aurora cron schedule\" command".into(),
            ));
        }
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
        let desired = config.instance_digest();
        let only = req.only.as_ref();
        let Some(worklist) = worklist(
            &key,
            req.kind,
            &current,
            &desired,
            count,
            initial_instances,
            only,
        )?
        else {
            return Ok(Started::Unchanged);
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
        let id = new_id();
        let update = Begun {
            id: id.clone(),
            job: key,
            kind: req.kind,
            user: req.user,
            message: req.message,
            metadata: req.metadata,
            settings,
            desired,
            count,
            current,
            initial_instances,
            initial_config,
            worklist,
        }
        .into_update(now_ms);
        self.updates.insert(update);
        dirty.updates.insert(id.clone());
        self.evaluate_update(&id, now_ms, new_id, dirty);
        Ok(Started::Update(id))
    }

    /// Pauses, resumes, aborts or rolls back a job's active update. Returns its id.
    #[allow(clippy::too_many_arguments)] // the command, who and why, plus time, ids and the change log
    pub fn control_update(
        &mut self,
        job: &JobKey,
        control_verb: Control,
        user: &str,
        message: Option<String>,
        now_ms: i64,
        new_id: &mut dyn FnMut() -> String,
        dirty: &mut Dirty,
    ) -> Result<String, Refusal> {
        let id =
            self.updates.active_id(job).cloned().ok_or_else(|| {
                Refusal::NoSuchUpdate("No active update found for this job.".into())
            })?;
        let u = self.updates.get_mut(&id).expect("indexed");
        let from = u.status;
        let to = control(from, control_verb, pulse_expired(u, now_ms)).map_err(Refusal::Invalid)?;
        if from == to {
            return Ok(id);
        }
        u.set_status(to, now_ms, Some(user.to_owned()), message)
            .map_err(|e| Refusal::Invalid(e.to_string()))?;
        if control_verb == Control::Rollback {
            aurora_sched::update::turn_around(u);
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
        if !self.updates.any_active() {
            return;
        }
        let touched = self.updates.take_touched();
        let ids: Vec<String> = self
            .updates
            .active()
            .filter(|(job, id)| {
                touched.contains(*job)
                    || self.updates.wakes_by(id, now_ms)
                    || self.updates.get(id).is_some_and(|u| {
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
        let wakes = self.updates.next_wake();
        let pulses = self.updates.active().filter_map(|(_, id)| {
            let u = self.updates.get(id)?;
            let every = u.settings.block_if_no_pulses_after_ms? as i64;
            u.status
                .is_progressing()
                .then(|| u.last_pulse_ms.unwrap_or(0).saturating_add(every))
        });
        wakes.into_iter().chain(pulses).min()
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
        let Some(id) = self.updates.active_id(&t.job).cloned() else {
            return;
        };
        let Some(u) = self.updates.get_mut(&id) else {
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
            dirty.updates.insert(id);
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
            let job = u.job.clone();
            self.updates.insert(u);
            self.updates.touch(&job);
        }
    }
}

/// The instances an update works on, in order (`None`: it would change nothing), or why it
/// cannot start: an instance asked for that is neither in the job nor in the new configuration, or
/// a restart with nothing to restart.
fn worklist(
    key: &JobKey,
    kind: UpdateKind,
    current: &BTreeMap<u32, String>,
    desired: &str,
    count: u32,
    initial_instances: u32,
    only: Option<&BTreeSet<u32>>,
) -> Result<Option<Vec<u32>>, Refusal> {
    if let Some(only) = only {
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
    match kind {
        UpdateKind::Update => {
            let diff = UpdateDiff::compute(current, desired, count, only);
            Ok((!diff.is_noop()).then(|| diff.worklist()))
        }
        UpdateKind::Restart => {
            let list: Vec<u32> = current
                .keys()
                .copied()
                .filter(|i| only.is_none_or(|o| o.contains(i)))
                .collect();
            if list.is_empty() {
                return Err(Refusal::Invalid(format!(
                    "job {} has no active instances to restart",
                    job_label(key)
                )));
            }
            Ok(Some(list))
        }
    }
}

/// Everything a new update is made of, once checked.
struct Begun {
    id: String,
    job: JobKey,
    kind: UpdateKind,
    user: String,
    message: Option<String>,
    metadata: BTreeMap<String, String>,
    settings: UpdateSettings,
    /// The configuration instances move to, by digest, and how many instances there will be.
    desired: String,
    count: u32,
    /// Each active instance's configuration now, and the job's instance count and digest.
    current: BTreeMap<u32, String>,
    initial_instances: u32,
    initial_config: Option<String>,
    worklist: Vec<u32>,
}

impl Begun {
    /// The update as stored, started at `now_ms` (waiting for a first pulse if coordinated).
    fn into_update(self, now_ms: i64) -> JobUpdate {
        let status = if self.settings.block_if_no_pulses_after_ms.is_some() {
            UpdateStatus::RollForwardAwaitingPulse
        } else {
            UpdateStatus::RollingForward
        };
        JobUpdate {
            id: self.id,
            job: self.job,
            kind: self.kind,
            user: self.user.clone(),
            settings: self.settings,
            desired_config: self.desired,
            desired_instances: self.count,
            initial: self.current,
            initial_instances: self.initial_instances,
            initial_config: self.initial_config,
            progress: self
                .worklist
                .iter()
                .map(|i| (*i, InstanceProgress::default()))
                .collect(),
            worklist: self.worklist,
            status,
            groups_started: 0,
            autopaused_at_group: 0,
            last_pulse_ms: None,
            metadata: self.metadata,
            events: vec![UpdateEvent {
                status,
                timestamp_ms: now_ms,
                user: Some(self.user),
                message: self.message,
            }],
            instance_events: Vec::new(),
        }
    }
}
