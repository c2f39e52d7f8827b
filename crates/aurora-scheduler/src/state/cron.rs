//! Cron jobs in the scheduler's state: scheduling, descheduling, firing on time (at most once per
//! scheduled instant, never replaying what was missed), starting a run by hand, and the collision
//! policies. Schedules and firing decisions are `aurora_sched::cron`'s; this module applies them.
//!
//! A cron job is a [`JobEntry`] with a [`CronEntry`]: its configuration is the template, its firing
//! state ([`CronState`]) is stored with every change (`Dirty::crons`). A run is one ordinary ad hoc
//! task per instance, marked with the run's scheduled instant (`cron_run_ms`).

use super::{Dirty, JobEntry, NewTask, Refusal, State, Submission, ValidJob, job_label};
use aurora_model::cron::CronState;
use aurora_model::{Job, JobKey};
use aurora_sched::cron::{CronSchedule, Firing, due, on_fire};
use std::collections::BTreeSet;

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
        let ValidJob {
            key,
            config,
            schedule,
        } = ValidJob::check(config, Submission::CronSchedule)?;
        let schedule = schedule.expect("a cron submission has its schedule");
        let existing = self.jobs.get(&key);
        if existing.is_some_and(|j| j.cron.is_none()) && !self.active_tasks(&key).is_empty() {
            return Err(Refusal::JobExists(job_label(&key)));
        }
        let (instances, previous, configs) = self
            .jobs
            .remove(&key)
            .map(|j| (j.instances, j.cron, j.configs))
            .unwrap_or_default();
        let replaced = previous.is_some();
        let state = CronState {
            cursor_ms: now_ms,
            ..previous.map_or(CronState::scheduled_at(now_ms), |p| p.state)
        };
        self.jobs.insert(
            key.clone(),
            JobEntry::new(
                config,
                instances,
                Some(CronEntry::new(schedule, state, self.cron_timezone)),
                configs,
            ),
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
            dirty.removed(self.tasks.remove_history(key));
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
                let how = NewTask {
                    cron_run_ms: Some(run),
                    ..NewTask::default()
                };
                self.new_task(key, i, how, now_ms, new_id, dirty)
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

#[cfg(test)]
mod tests {
    use super::super::tests::{Ids, agent, job};
    use super::*;
    use aurora_model::config::CronCollisionPolicy;
    use aurora_model::task::ScheduleStatus;
    use chrono::TimeZone;

    /// 2026-11-25 hh:mm:ss UTC, in ms.
    fn at(hh: u32, mm: u32, ss: u32) -> i64 {
        chrono::Utc
            .with_ymd_and_hms(2026, 11, 25, hh, mm, ss)
            .unwrap()
            .timestamp_millis()
    }

    fn cron_job(schedule: &str, policy: CronCollisionPolicy, instances: i64) -> Job {
        let mut j = job(false, instances, 1);
        j.name = "report".into();
        j.cron_schedule = Some(schedule.into());
        j.cron_collision_policy = policy;
        j
    }

    fn key() -> JobKey {
        JobKey::new("www-data", "prod", "report").unwrap()
    }

    /// The cron run of each active task of the job.
    fn runs(s: &State) -> Vec<Option<i64>> {
        s.active_tasks(&key())
            .iter()
            .map(|t| t.cron_run_ms)
            .collect()
    }

    struct Harness {
        s: State,
        ids: Ids,
    }

    impl Harness {
        fn new(schedule: &str, policy: CronCollisionPolicy, now: i64) -> Self {
            let mut h = Harness {
                s: State::default(),
                ids: Ids(0),
            };
            let mut d = Dirty::default();
            assert!(
                !h.s.schedule_cron(cron_job(schedule, policy, 2), now, &mut d)
                    .unwrap()
            );
            assert!(d.crons.contains(&key()) && d.jobs.contains(&key()));
            h
        }
        fn tick(&mut self, now: i64) -> usize {
            let ids = &mut self.ids;
            self.s
                .cron_tick(now, &mut || ids.next(), &mut Dirty::default())
        }
        /// Places the active tasks on an agent and reports them RUNNING.
        fn run_on_agent(&mut self, now: i64) {
            let ids = &mut self.ids;
            let mut d = Dirty::default();
            self.s.register_agent(
                agent("a1"),
                "http://a1".into(),
                &[],
                now,
                &mut || ids.next(),
                &mut d,
            );
            self.s.schedule(now + 10_000, &mut d);
            for id in self
                .s
                .active_tasks(&key())
                .iter()
                .map(|t| t.task_id.clone())
                .collect::<Vec<_>>()
            {
                for st in [ScheduleStatus::Starting, ScheduleStatus::Running] {
                    self.s
                        .agent_status("a1", &id, st, None, now, &mut || ids.next(), &mut d);
                }
            }
        }
        fn report_all(&mut self, status: ScheduleStatus, now: i64) {
            let ids = &mut self.ids;
            let mut d = Dirty::default();
            for id in self
                .s
                .active_tasks(&key())
                .iter()
                .map(|t| t.task_id.clone())
                .collect::<Vec<_>>()
            {
                self.s
                    .agent_status("a1", &id, status, None, now, &mut || ids.next(), &mut d);
            }
        }
    }

    #[test]
    fn an_every_minute_job_fires_once_per_minute_on_the_minute() {
        let mut h = Harness::new("* * * * *", CronCollisionPolicy::CancelNew, at(10, 0, 30));
        assert_eq!(h.s.next_cron_ms(), Some(at(10, 1, 0)));
        assert_eq!(h.tick(at(10, 0, 59)), 0);
        assert!(runs(&h.s).is_empty());
        assert_eq!(h.tick(at(10, 1, 0)), 1);
        assert_eq!(
            runs(&h.s),
            vec![Some(at(10, 1, 0)); 2],
            "one task per instance"
        );
        // The same minute never fires twice.
        assert_eq!(h.tick(at(10, 1, 0)), 0);
        assert_eq!(h.tick(at(10, 1, 59)), 0);
        assert_eq!(h.s.next_cron_ms(), Some(at(10, 2, 0)));
        // The run finishes; the next minute starts the next run.
        h.run_on_agent(at(10, 1, 1));
        h.report_all(ScheduleStatus::Finished, at(10, 1, 30));
        assert!(runs(&h.s).is_empty());
        assert_eq!(h.tick(at(10, 2, 0) + 250), 1);
        assert_eq!(runs(&h.s), vec![Some(at(10, 2, 0)); 2]);
        let state = h.s.jobs[&key()].cron.as_ref().unwrap().state;
        assert_eq!(state.cursor_ms, at(10, 2, 0));
        assert_eq!(state.last_run_ms, Some(at(10, 2, 0)));
    }

    #[test]
    fn step_range_and_weekday_schedules_fire_at_their_instants_only() {
        // 2026-11-25 is a Wednesday: "*/20 9-10 * * WED" fires 9:00, 9:20 ... 10:40, then next week.
        let mut h = Harness::new(
            "*/20 9-10 * * WED",
            CronCollisionPolicy::KillExisting,
            at(8, 0, 0),
        );
        let mut fired = Vec::new();
        let mut t = at(8, 0, 0);
        while t <= at(23, 59, 0) {
            if h.tick(t) > 0 {
                fired.push(t);
            }
            t += 60_000;
        }
        let expect: Vec<i64> = [(9, 0), (9, 20), (9, 40), (10, 0), (10, 20), (10, 40)]
            .iter()
            .map(|(hh, mm)| at(*hh, *mm, 0))
            .collect();
        assert_eq!(fired, expect);
        assert_eq!(h.s.next_cron_ms(), Some(at(9, 0, 0) + 7 * 86_400_000));
    }

    #[test]
    fn cancel_new_skips_while_a_run_is_active() {
        let mut h = Harness::new("*/5 * * * *", CronCollisionPolicy::CancelNew, at(10, 0, 30));
        assert_eq!(h.tick(at(10, 5, 0)), 1);
        h.run_on_agent(at(10, 5, 1));
        let first: Vec<String> =
            h.s.active_tasks(&key())
                .iter()
                .map(|t| t.task_id.clone())
                .collect();
        assert_eq!(h.tick(at(10, 10, 0)), 0, "skipped");
        let still: Vec<String> =
            h.s.active_tasks(&key())
                .iter()
                .map(|t| t.task_id.clone())
                .collect();
        assert_eq!(still, first, "the running run is untouched");
        assert!(
            h.s.active_tasks(&key())
                .iter()
                .all(|t| t.status == ScheduleStatus::Running)
        );
        // The skipped firing is not made up later.
        h.report_all(ScheduleStatus::Finished, at(10, 11, 0));
        assert_eq!(h.tick(at(10, 14, 59)), 0);
        assert_eq!(h.tick(at(10, 15, 0)), 1);
    }

    #[test]
    fn kill_existing_kills_the_running_run_then_starts_the_new_one() {
        let mut h = Harness::new(
            "*/5 * * * *",
            CronCollisionPolicy::KillExisting,
            at(10, 0, 30),
        );
        assert_eq!(h.tick(at(10, 5, 0)), 1);
        h.run_on_agent(at(10, 5, 1));
        assert_eq!(h.tick(at(10, 10, 0)), 0, "the new run waits for the kills");
        assert!(
            h.s.active_tasks(&key())
                .iter()
                .all(|t| t.status == ScheduleStatus::Killing)
        );
        let c = h.s.jobs[&key()].cron.as_ref().unwrap();
        assert_eq!(c.state.pending_run_ms, Some(at(10, 10, 0)));
        assert_eq!(
            h.s.next_cron_ms(),
            Some(i64::MIN),
            "needs attention at once"
        );
        // Still killing: nothing starts.
        assert_eq!(h.tick(at(10, 10, 1)), 0);
        h.report_all(ScheduleStatus::Killed, at(10, 10, 2));
        assert_eq!(h.tick(at(10, 10, 3)), 1);
        assert_eq!(runs(&h.s), vec![Some(at(10, 10, 0)); 2]);
        assert_eq!(
            h.s.jobs[&key()].cron.as_ref().unwrap().state.pending_run_ms,
            None
        );
        // A run still PENDING (nothing on an agent) is replaced at once.
        assert_eq!(h.tick(at(10, 15, 0)), 1);
        assert_eq!(runs(&h.s), vec![Some(at(10, 15, 0)); 2]);
    }

    #[test]
    fn deschedule_stops_firing_and_start_runs_now() {
        let mut h = Harness::new(
            "* * * * *",
            CronCollisionPolicy::KillExisting,
            at(10, 0, 30),
        );
        let mut d = Dirty::default();
        let ids = &mut h.ids;
        let out =
            h.s.start_cron(&key(), at(10, 0, 40), &mut || ids.next(), &mut d)
                .unwrap();
        assert!(
            matches!(out, CronOutcome::Started(ref t) if t.len() == 2),
            "{out:?}"
        );
        assert_eq!(runs(&h.s), vec![Some(at(10, 0, 40)); 2]);
        let mut d = Dirty::default();
        assert!(h.s.deschedule_cron(&key(), &mut d));
        assert!(d.removed_crons.contains(&key()));
        assert!(
            !h.s.deschedule_cron(&key(), &mut Dirty::default()),
            "only once"
        );
        // The run goes on; nothing fires any more.
        assert_eq!(runs(&h.s).len(), 2);
        assert_eq!(h.tick(at(10, 5, 0)), 0);
        assert_eq!(h.s.next_cron_ms(), None);
        let ids = &mut h.ids;
        assert!(matches!(
            h.s.start_cron(
                &key(),
                at(10, 6, 0),
                &mut || ids.next(),
                &mut Dirty::default()
            ),
            Err(Refusal::NoSuchJob(_))
        ));
    }

    #[test]
    fn job_kill_stops_the_current_run_only() {
        let mut h = Harness::new(
            "*/5 * * * *",
            CronCollisionPolicy::KillExisting,
            at(10, 0, 30),
        );
        assert_eq!(h.tick(at(10, 5, 0)), 1);
        h.run_on_agent(at(10, 5, 1));
        let killed =
            h.s.kill(
                &key(),
                None,
                "Killed by user request",
                at(10, 6, 0),
                &mut Dirty::default(),
            )
            .unwrap();
        assert_eq!(killed.len(), 2);
        h.report_all(ScheduleStatus::Killed, at(10, 6, 1));
        assert!(runs(&h.s).is_empty());
        // Still scheduled: the next firing runs.
        assert_eq!(h.s.next_cron_ms(), Some(at(10, 10, 0)));
        assert_eq!(h.tick(at(10, 10, 0)), 1);
        assert_eq!(runs(&h.s), vec![Some(at(10, 10, 0)); 2]);
    }

    #[test]
    fn a_restart_between_firings_neither_skips_nor_repeats() {
        let mut h = Harness::new("* * * * *", CronCollisionPolicy::CancelNew, at(10, 0, 30));
        assert_eq!(h.tick(at(10, 1, 0)), 1);
        // What the store holds, reloaded by a new scheduler at 10:01:30.
        let restart = |s: &State, now: i64| {
            let jobs = s.jobs.values().map(|j| (*j.config).clone()).collect();
            let tasks = s.tasks.values().cloned().collect();
            let crons = s
                .jobs
                .iter()
                .filter_map(|(k, j)| Some((k.clone(), j.cron.as_ref()?.state)))
                .collect();
            let mut r = State::restore(jobs, tasks);
            r.restore_crons(crons, now);
            r
        };
        h.s = restart(&h.s, at(10, 1, 30));
        assert_eq!(h.tick(at(10, 1, 45)), 0, "10:01 fired once already");
        assert_eq!(runs(&h.s), vec![Some(at(10, 1, 0)); 2]);
        h.run_on_agent(at(10, 1, 46));
        h.report_all(ScheduleStatus::Finished, at(10, 1, 50));
        assert_eq!(h.tick(at(10, 2, 0)), 1, "10:02 is not skipped");
        // Down from 10:02:10 to 10:04:30: 10:03 and 10:04 are not run late.
        h.s = restart(&h.s, at(10, 4, 30));
        h.run_on_agent(at(10, 4, 31));
        h.report_all(ScheduleStatus::Finished, at(10, 4, 32));
        assert_eq!(h.tick(at(10, 4, 40)), 0);
        assert_eq!(h.tick(at(10, 5, 0)), 1);
    }

    #[test]
    fn bad_cron_jobs_are_refused_with_the_reason() {
        let mut s = State::default();
        let mut d = Dirty::default();
        let refuse = |s: &mut State, j: Job, d: &mut Dirty| match s.schedule_cron(j, 0, d) {
            Err(Refusal::Invalid(m)) => m,
            other => panic!("{other:?}"),
        };
        let m = refuse(
            &mut s,
            cron_job("@hourly", CronCollisionPolicy::KillExisting, 1),
            &mut d,
        );
        assert!(m.contains("@hourly") && m.contains("aliases"), "{m}");
        let m = refuse(
            &mut s,
            cron_job("* * * * *", CronCollisionPolicy::RunOverlap, 1),
            &mut d,
        );
        assert!(
            m.contains("RUN_OVERLAP") && m.contains("no longer supported"),
            "{m}"
        );
        let mut service = cron_job("* * * * *", CronCollisionPolicy::KillExisting, 1);
        service.service = true;
        assert!(refuse(&mut s, service, &mut d).contains("service"));
        let m = refuse(&mut s, job(false, 1, 1), &mut d);
        assert!(m.contains("aurora job create"), "{m}");
        assert!(s.jobs.is_empty());
        // A scheduled cron job's key cannot be taken by `job create`, and replacing keeps it one job.
        let mut ids = Ids(0);
        s.schedule_cron(
            cron_job("0 * * * *", CronCollisionPolicy::KillExisting, 1),
            0,
            &mut d,
        )
        .unwrap();
        let mut plain = job(false, 1, 1);
        plain.name = "report".into();
        assert_eq!(
            s.create_job(plain, 0, &mut || ids.next(), &mut d),
            Err(Refusal::JobExists("www-data/prod/report".into()))
        );
        assert!(
            s.schedule_cron(
                cron_job("5 * * * *", CronCollisionPolicy::CancelNew, 1),
                10,
                &mut d
            )
            .unwrap()
        );
        assert_eq!(s.cron_jobs().len(), 1);
        assert_eq!(
            s.jobs[&key()].cron.as_ref().unwrap().schedule.as_str(),
            "5 * * * *"
        );
    }
}
