//! Driving one active update against the job's tasks: the instances in flight each take their
//! next step (`aurora_sched::update::step`: kill, create, wait, done), then the update as a whole
//! takes its next round (`aurora_sched::update::round`: start more, roll back, fail, pause after
//! a batch, end), until nothing changes; an update that ended lets the job's configuration
//! settle. Both decisions are pure; this module carries them out on the tables.

use super::{KILLED_FOR_UPDATE, UPDATE_HISTORY_PER_JOB};
use crate::state::{Dirty, NewTask, State};
use aurora_model::JobKey;
use aurora_model::task::ScheduleStatus;
use aurora_model::update::{
    InstanceAction, InstanceEvent, InstancePhase, JobUpdate, UpdateKind, UpdateStatus,
};
use aurora_sched::update::{Goal, Observed, Round, Step, round, step, turn_around};
use std::collections::BTreeSet;

impl State {
    /// Steps one update as far as it can go now.
    pub(in crate::state) fn evaluate_update(
        &mut self,
        id: &str,
        now_ms: i64,
        new_id: &mut dyn FnMut() -> String,
        dirty: &mut Dirty,
    ) {
        self.updates.clear_wake(id);
        let Some(mut u) = self.updates.take(id) else {
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
                let gone = Some("The job no longer exists".into());
                move_update(&mut u, UpdateStatus::Error, now_ms, gone);
            }
        } else if u.status.is_paused() || u.status.is_awaiting_pulse() {
            created = self.finish_begun_replacements(&mut u, now_ms, new_id, dirty);
        }
        let ended = u.status.is_terminal() && !before.0.is_terminal();
        if created || fingerprint(&u) != before {
            dirty.updates.insert(id.to_owned());
        }
        self.updates.put_back(u);
        if ended {
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
            let instances = match round(u) {
                Round::RollBack { note } => {
                    move_update(u, UpdateStatus::RollingBack, now_ms, Some(note));
                    turn_around(u);
                    continue;
                }
                Round::Fail { note } => {
                    move_update(u, UpdateStatus::Failed, now_ms, Some(note));
                    return created;
                }
                Round::AutoPause => {
                    u.autopaused_at_group = u.groups_started;
                    let note = Some("Paused after a batch (autopause_after_batch)".into());
                    move_update(u, UpdateStatus::RollForwardPaused, now_ms, note);
                    return created;
                }
                Round::Done(to) => {
                    move_update(u, to, now_ms, None);
                    return created;
                }
                Round::Wait => {
                    if let Some(w) = wake {
                        self.updates.wake_at(&u.id, w);
                    }
                    return created;
                }
                Round::Start {
                    instances,
                    new_batch,
                } => {
                    u.groups_started += u32::from(new_batch);
                    instances
                }
            };
            let action = if back {
                InstanceAction::InstanceRollingBack
            } else {
                InstanceAction::InstanceUpdating
            };
            for i in instances {
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
                let how = NewTask {
                    config_digest: target,
                    ancestor: observed.map(|(old, ..)| old),
                    ..NewTask::default()
                };
                progress.task_id = Some(self.new_task(&u.job, i, how, now_ms, new_id, dirty));
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
    pub(in crate::state) fn update_ended(&mut self, id: &str, dirty: &mut Dirty) {
        let Some(u) = self.updates.get(id) else {
            return;
        };
        let job = u.job.clone();
        let (status, initial_config, initial_instances) =
            (u.status, u.initial_config.clone(), u.initial_instances);
        self.updates.end(id);
        if status == UpdateStatus::RolledBack
            && let Some(initial) = initial_config
            && let Some(entry) = self.jobs.get_mut(&job)
            && let Some(config) = entry.configs.get(&initial).cloned()
        {
            let mut config = (*config).clone();
            config.instances = i64::from(initial_instances);
            entry.set_config(config);
            dirty.jobs.insert(job.clone());
        }
        self.gc_configs(&job, dirty);
        // Newest first: the oldest ended ones beyond the limit go.
        let ended: Vec<String> = self
            .updates
            .of_job(&job)
            .into_iter()
            .filter(|u| u.status.is_terminal())
            .map(|u| u.id.clone())
            .skip(UPDATE_HISTORY_PER_JOB)
            .collect();
        for old in ended {
            self.updates.remove(&old);
            dirty.updates.remove(&old);
            dirty.removed_updates.insert(old);
        }
    }

    /// Drops the configurations of a job that no task, nor the job itself, runs any more.
    pub(in crate::state) fn gc_configs(&mut self, job: &JobKey, dirty: &mut Dirty) {
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

/// Moves an update to a state its policy chose. The policy only chooses legal moves: one that is
/// not is a bug, logged loudly, and the update stays where it is.
fn move_update(u: &mut JobUpdate, to: UpdateStatus, now_ms: i64, message: Option<String>) {
    if let Err(e) = u.set_status(to, now_ms, None, message) {
        tracing::error!(update = %u.id, job = %u.job, "update policy chose an illegal move: {e}");
    }
}
