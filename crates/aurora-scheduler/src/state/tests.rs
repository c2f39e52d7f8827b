//! Tests of the state's operations across its tables, and the helpers the other state modules'
//! tests share: a job from the hello-world example, test agents, ids, a running service.
use super::*;

pub(crate) fn job(service: bool, instances: i64, max_task_failures: i64) -> Job {
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

pub(crate) fn agent(id: &str) -> AgentView {
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
pub(crate) fn register(s: &mut State, ids: &mut Ids, agents: &[&str]) {
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

pub(crate) struct Ids(pub(crate) u32);
impl Ids {
    pub(crate) fn next(&mut self) -> String {
        self.0 += 1;
        format!("u{}", self.0)
    }
}

/// www-data/prod/hello, a service of `instances` instances, each RUNNING on agent "a1".
pub(crate) fn running_service(instances: i64) -> (State, Ids, JobKey, Vec<String>) {
    running_job(job(true, instances, 1))
}

/// `j` (www-data/prod/hello) created at time 0, each instance RUNNING on agent "a1" at time 1.
pub(crate) fn running_job(j: Job) -> (State, Ids, JobKey, Vec<String>) {
    let mut s = State::default();
    let mut ids = Ids(0);
    let mut d = Dirty::default();
    let created = s.create_job(j, 0, &mut || ids.next(), &mut d).unwrap();
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
        s.pending_reason(pending[0]).unwrap(),
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
    let on = |s: &State, a: &str| Some(s.tasks.job_count_on_agent(a, &key)).filter(|n| *n > 0);
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
    assert_eq!(s.pending_reason(&created[0]), Some("No agents registered"));
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
    assert!(
        d.commands.iter().any(
            |(_, c)| matches!(c, AgentCommand::Kill { task_id, .. } if *task_id == created[0])
        )
    );
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
        s.tasks.get(&first).is_none(),
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

#[test]
fn an_agent_speaks_only_for_the_tasks_placed_on_it() {
    let (mut s, mut ids, key, created) = running_service(2);
    register(&mut s, &mut ids, &["a2"]);
    let mut d = Dirty::default();
    // a2 claims a1's task failed: nothing changes, and a2 is told to kill what it claims to run.
    let changed = s.agent_status(
        "a2",
        &created[0],
        ScheduleStatus::Failed,
        None,
        5,
        &mut || ids.next(),
        &mut d,
    );
    assert!(!changed);
    assert_eq!(s.tasks[&created[0]].status, ScheduleStatus::Running);
    assert!(d.tasks.is_empty());
    let changed = s.agent_status(
        "a2",
        &created[1],
        ScheduleStatus::Running,
        None,
        5,
        &mut || ids.next(),
        &mut d,
    );
    assert!(!changed);
    assert!(matches!(
        &d.commands[..],
        [(a, AgentCommand::Kill { task_id, .. })] if a == "a2" && task_id == &created[1]
    ));
    assert_eq!(s.active_tasks(&key).len(), 2);
}

#[test]
fn a_rounds_kept_agent_views_follow_agents_that_changed_between_rounds() {
    let mut s = State::default();
    let mut ids = Ids(0);
    let mut d = Dirty::default();
    register(&mut s, &mut ids, &["a1"]);
    let whole = |name: &str| {
        let mut j = job(false, 1, 1);
        j.name = name.into();
        j.task.resources.cpu = 4.0; // all of a1
        j
    };
    let first = s
        .create_job(whole("first"), 0, &mut || ids.next(), &mut d)
        .unwrap();
    assert_eq!(s.schedule(0, &mut d), 1);
    let second = s
        .create_job(whole("second"), 0, &mut || ids.next(), &mut d)
        .unwrap();
    assert_eq!(s.schedule(1, &mut d), 0, "no room while the first runs");
    // The first ends between rounds: its room is seen by the next round.
    for status in [ScheduleStatus::Running, ScheduleStatus::Finished] {
        s.agent_status("a1", &first[0], status, None, 2, &mut || ids.next(), &mut d);
    }
    assert_eq!(s.schedule(2 + RETRY_PENDING_MS, &mut d), 1);
    assert_eq!(s.tasks[&second[0]].status, ScheduleStatus::Assigned);
    // The host is drained between rounds: nothing more lands there, though it has room after
    // the second ends.
    for status in [ScheduleStatus::Running, ScheduleStatus::Finished] {
        s.agent_status(
            "a1",
            &second[0],
            status,
            None,
            3,
            &mut || ids.next(),
            &mut d,
        );
    }
    s.drain_hosts(&["a1.local".to_owned()], 4, &mut d);
    let third = s
        .create_job(whole("third"), 4, &mut || ids.next(), &mut d)
        .unwrap();
    assert_eq!(s.schedule(5, &mut d), 0);
    assert_eq!(s.tasks[&third[0]].status, ScheduleStatus::Pending);
}
