//! Cron jobs in the scheduler's state: scheduling, descheduling, firing on time (at most once per
//! scheduled instant, never replaying what was missed), starting a run by hand, and the collision
//! policies. Schedules and firing decisions are `aurora_sched::cron`'s; this module applies them.
//!
//! A cron job is a [`JobEntry`] with a [`CronEntry`]: its configuration is the template, its firing
//! state ([`CronState`]) is stored with every change (`Dirty::crons`). A run is one ordinary ad hoc
//! task per instance, marked with the run's scheduled instant (`cron_run_ms`).

use super::{Dirty, JobEntry, Refusal, State, job_label};
use aurora_model::config::CronCollisionPolicy;
use aurora_model::cron::CronState;
use aurora_model::{Job, JobKey};
use aurora_sched::cron::{CronSchedule, Firing, due, on_fire};
use std::collections::BTreeSet;
use std::sync::Arc;

/// A scheduled cron job.
#[derive(Debug, Clone)]
pub struct CronEntry {
    pub schedule: CronSchedule,
    pub state: CronState,
    /// The next scheduled instant after the cursor (cached: it changes only with the cursor).
    pub next_ms: Option<i64>,
}

impl CronEntry {
    fn new(schedule: CronSchedule, state: CronState, tz: chrono_tz::Tz) -> Self {
        let next_ms = schedule.next_after(state.cursor_ms, tz);
        CronEntry {
            schedule,
            state,
            next_ms,
        }
    }
}

/// What `cron start` (or a firing) did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CronOutcome {
    /// A run started: its tasks.
    Started(Vec<String>),
    /// The previous run is being killed; the new run starts when it has ended.
    KillingPrevious(Vec<String>),
    /// A run is active and the policy is CANCEL_NEW: nothing started.
    Skipped,
}

fn not_cron(key: &JobKey) -> Refusal {
    Refusal::NoSuchJob(format!(
        "{} (no cron job of that name is scheduled)",
        job_label(key)
    ))
}

impl State {
    /// Reinstates the cron jobs a store held. Firings missed while the scheduler was down are not
    /// run late: nothing at or before `now_ms` fires.
    pub fn restore_crons(&mut self, crons: Vec<(JobKey, CronState)>, now_ms: i64) {
        let tz = self.cron_timezone;
        for (key, mut state) in crons {
            let Some(entry) = self.jobs.get_mut(&key) else {
                tracing::warn!(job = %key, "cron state without its job; ignored");
                continue;
            };
            let text = entry.config.cron_schedule.clone().unwrap_or_default();
            match CronSchedule::parse(&text) {
                Ok(schedule) => {
                    state.cursor_ms = state.cursor_ms.max(now_ms);
                    entry.cron = Some(CronEntry::new(schedule, state, tz));
                }
                Err(e) => tracing::error!(job = %key, "stored cron job no longer parses: {e}"),
            }
        }
    }

    /// `aurora cron schedule`: creates or replaces a cron job. Returns whether one was replaced.
    /// Running tasks are not touched; the new schedule fires from `now_ms` on.
    pub fn schedule_cron(
        &mut self,
        config: Job,
        now_ms: i64,
        dirty: &mut Dirty,
    ) -> Result<bool, Refusal> {
        let key = config
            .path()
            .map_err(|e| Refusal::Invalid(e.to_string()))?
            .key;
        let Some(text) = config
            .cron_schedule
            .clone()
            .filter(|c| !c.trim().is_empty())
        else {
            return Err(Refusal::Invalid(
                "Non-cron jobs may only be created with \"aurora job create\" command".into(),
            ));
        };
        if config.service {
            return Err(Refusal::Invalid(
                "A service may not be run on a cron schedule; cron jobs run to completion".into(),
            ));
        }
        if config.cron_collision_policy == CronCollisionPolicy::RunOverlap {
            return Err(Refusal::Invalid(
                "The RUN_OVERLAP collision policy is no longer supported; use KILL_EXISTING or CANCEL_NEW"
                    .into(),
            ));
        }
        if config.instances < 1 || config.instances > 4000 {
            return Err(Refusal::Invalid(format!(
                "instances must be between 1 and 4000, got {}",
                config.instances
            )));
        }
        let schedule = CronSchedule::parse(&text).map_err(|e| Refusal::Invalid(e.to_string()))?;
        let existing = self.jobs.get(&key);
        if existing.is_some_and(|j| j.cron.is_none()) && !self.active_tasks(&key).is_empty() {
            return Err(Refusal::JobExists(job_label(&key)));
        }
        let (instances, previous) = self
            .jobs
            .remove(&key)
            .map(|j| (j.instances, j.cron))
            .unwrap_or_default();
        let replaced = previous.is_some();
        let state = CronState {
            cursor_ms: now_ms,
            ..previous.map_or(CronState::scheduled_at(now_ms), |p| p.state)
        };
        self.jobs.insert(
            key.clone(),
            JobEntry {
                config: Arc::new(config),
                instances,
                cron: Some(CronEntry::new(schedule, state, self.cron_timezone)),
            },
        );
        dirty.jobs.insert(key.clone());
        dirty.crons.insert(key);
        Ok(replaced)
    }

    /// `aurora cron deschedule`: the job fires no more. Returns whether it was scheduled. A run in
    /// progress goes on; a job with nothing running is removed with its history.
    pub fn deschedule_cron(&mut self, key: &JobKey, dirty: &mut Dirty) -> bool {
        let Some(entry) = self.jobs.get_mut(key) else {
            return false;
        };
        if entry.cron.take().is_none() {
            return false;
        }
        dirty.removed_crons.insert(key.clone());
        if self.active_tasks(key).is_empty() {
            self.jobs.remove(key);
            dirty.jobs.remove(key);
            dirty.removed_jobs.insert(key.clone());
            for id in self.history.remove(key).unwrap_or_default() {
                self.tasks.remove(&id);
                dirty.tasks.remove(&id);
                dirty.removed_tasks.insert(id);
            }
        }
        true
    }

    /// `aurora cron start`: runs the job now, following its collision policy.
    pub fn start_cron(
        &mut self,
        key: &JobKey,
        now_ms: i64,
        new_id: &mut dyn FnMut() -> String,
        dirty: &mut Dirty,
    ) -> Result<CronOutcome, Refusal> {
        if self.jobs.get(key).and_then(|j| j.cron.as_ref()).is_none() {
            return Err(not_cron(key));
        }
        Ok(self.fire(key, now_ms, now_ms, new_id, dirty))
    }

    /// The earliest instant at which a cron job needs attention: its next firing, or now-ish for a
    /// run waiting for its predecessor to end.
    pub fn next_cron_ms(&self) -> Option<i64> {
        self.jobs
            .values()
            .filter_map(|j| j.cron.as_ref())
            .filter_map(|c| match c.state.pending_run_ms {
                Some(_) => Some(i64::MIN),
                None => c.next_ms,
            })
            .min()
    }

    /// Fires what is due at `now_ms` and starts runs whose predecessors have ended. Returns how
    /// many runs started.
    pub fn cron_tick(
        &mut self,
        now_ms: i64,
        new_id: &mut dyn FnMut() -> String,
        dirty: &mut Dirty,
    ) -> usize {
        let tz = self.cron_timezone;
        let mut started = 0;
        let keys: Vec<JobKey> = self
            .jobs
            .iter()
            .filter(|(_, j)| {
                j.cron.as_ref().is_some_and(|c| {
                    c.state.pending_run_ms.is_some() || c.next_ms.is_some_and(|n| n <= now_ms)
                })
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in keys {
            // A run waiting for the previous one to be killed starts once nothing is active.
            let pending = self.jobs[&key]
                .cron
                .as_ref()
                .and_then(|c| c.state.pending_run_ms);
            if let Some(run) = pending
                && self.active_tasks(&key).is_empty()
            {
                self.start_run(&key, run, now_ms, new_id, dirty);
                started += 1;
            }
            let Some(c) = self.jobs.get_mut(&key).and_then(|j| j.cron.as_mut()) else {
                continue;
            };
            let Some(instant) = due(&c.schedule, c.state.cursor_ms, now_ms, tz) else {
                continue;
            };
            c.state.cursor_ms = instant;
            c.next_ms = c.schedule.next_after(instant, tz);
            dirty.crons.insert(key.clone());
            if let CronOutcome::Started(_) = self.fire(&key, instant, now_ms, new_id, dirty) {
                started += 1;
            }
        }
        started
    }

    /// One firing of `key` for the scheduled instant `run`, following the collision policy.
    fn fire(
        &mut self,
        key: &JobKey,
        run: i64,
        now_ms: i64,
        new_id: &mut dyn FnMut() -> String,
        dirty: &mut Dirty,
    ) -> CronOutcome {
        let policy = self.jobs[key].config.cron_collision_policy;
        let active = !self.active_tasks(key).is_empty();
        match on_fire(policy, active) {
            Firing::Start => CronOutcome::Started(self.start_run(key, run, now_ms, new_id, dirty)),
            Firing::Skip => {
                tracing::info!(job = %key, "cron run skipped: the previous run is still active (CANCEL_NEW)");
                CronOutcome::Skipped
            }
            Firing::KillThenStart => {
                let killed = self
                    .kill(
                        key,
                        None,
                        "Killed for a new cron run (KILL_EXISTING)",
                        now_ms,
                        dirty,
                    )
                    .unwrap_or_default();
                if self.active_tasks(key).is_empty() {
                    // Nothing was on an agent: the kills are done already.
                    return CronOutcome::Started(self.start_run(key, run, now_ms, new_id, dirty));
                }
                if let Some(c) = self.jobs.get_mut(key).and_then(|j| j.cron.as_mut()) {
                    c.state.pending_run_ms = Some(run);
                }
                dirty.crons.insert(key.clone());
                CronOutcome::KillingPrevious(killed.into_iter().map(|(_, id)| id).collect())
            }
        }
    }

    /// Starts run `run`: one PENDING ad hoc task per instance.
    fn start_run(
        &mut self,
        key: &JobKey,
        run: i64,
        now_ms: i64,
        new_id: &mut dyn FnMut() -> String,
        dirty: &mut Dirty,
    ) -> Vec<String> {
        let count = self.jobs[key].config.instances.clamp(0, 4000) as u32;
        let ids: Vec<String> = (0..count)
            .map(|i| {
                let id = self.new_task(key, i, 0, None, None, now_ms, new_id, dirty);
                if let Some(t) = self.tasks.get_mut(&id) {
                    t.cron_run_ms = Some(run);
                }
                id
            })
            .collect();
        if let Some(c) = self.jobs.get_mut(key).and_then(|j| j.cron.as_mut()) {
            c.state.last_run_ms = Some(run);
            c.state.pending_run_ms = None;
        }
        dirty.crons.insert(key.clone());
        tracing::info!(job = %key, run, tasks = ids.len(), "cron run started");
        ids
    }

    /// Keys of the scheduled cron jobs.
    pub fn cron_jobs(&self) -> BTreeSet<&JobKey> {
        self.jobs
            .iter()
            .filter(|(_, j)| j.cron.is_some())
            .map(|(k, _)| k)
            .collect()
    }
}
