//! The update driver's tests: a one-agent cluster that runs what it is given (`Sim`), updates
//! rolled out in batches and watched, rolled back, paused, resumed, aborted, restarts, scaling,
//! lost tasks and coordinated updates.
use super::*;
use crate::state::tests::{Ids, agent, job, register};
use aurora_model::update::InstanceAction::*;
use aurora_model::update::{InstanceAction, Strategy};

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
                changed |=
                    self.s
                        .agent_status("a1", &id, to, None, self.now, &mut || ids.next(), &mut d);
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
    assert!(!sim.s.updates.any_active());
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

#[test]
fn an_update_pausing_after_each_batch_goes_on_with_the_next_batch_once_resumed() {
    let (mut sim, key) = Sim::new(4);
    let v2 = new_version(4, 2, 0);
    let mut settings = UpdateSettings::from_config(&v2.update_config).unwrap();
    settings.strategy = Strategy::Batch {
        sizes: vec![2],
        autopause_after_batch: true,
    };
    let mut d = Dirty::default();
    let mut ids = std::mem::replace(&mut sim.ids, Ids(0));
    let started = sim.s.start_update(
        UpdateRequest {
            config: v2,
            kind: UpdateKind::Update,
            only: None,
            user: "alice".into(),
            message: None,
            metadata: BTreeMap::new(),
            settings: Some(settings),
        },
        sim.now,
        &mut || ids.next(),
        &mut d,
    );
    sim.ids = ids;
    let id = id_of(started);
    sim.settle();
    assert_eq!(sim.update(&id).status, UpdateStatus::RollForwardPaused);
    let updated = |sim: &Sim| sim.update(&id).counts().0;
    assert_eq!(updated(&sim), 2, "the first batch is done before the pause");
    sim.control(&key, Control::Resume);
    assert_eq!(
        sim.update(&id).status,
        UpdateStatus::RolledForward,
        "once resumed the second (last) batch runs"
    );
    assert_eq!(updated(&sim), 4);
}
