//! Scheduler time of a whole rolling update: a 4,000-instance service on 100 agents moved to a new
//! configuration in batches of 100 (watch 0), with simulated agents that run every launch and
//! carry out every kill at once. What is measured is the scheduler's side only: starting the
//! update, the update ticks, placement and status handling, from ROLLING_FORWARD to
//! ROLLED_FORWARD. Run with `cargo bench -p aurora-scheduler --bench update`; the result is in
//! `docs/updates.md`.

use aurora_model::Job;
use aurora_model::task::ScheduleStatus;
use aurora_model::update::{UpdateKind, UpdateStatus};
use aurora_sched::placement::AgentView;
use aurora_scheduler::state::{Dirty, Started, State, UpdateRequest};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use std::collections::{BTreeMap, BTreeSet};

const INSTANCES: i64 = 4_000;
const AGENTS: usize = 100;

fn job() -> Job {
    let mut job: Job = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/hello_world.json"
        ))
        .unwrap(),
    )
    .unwrap();
    job.instances = INSTANCES;
    job.task.resources.cpu = 0.1;
    job
}

struct Ids(u64);

impl Ids {
    fn next(&mut self) -> String {
        self.0 += 1;
        format!("{:032x}", self.0)
    }
}

/// Plays the agents: every task just placed runs, every task being killed ends. Returns whether
/// anything changed.
fn agents_act(s: &mut State, changed: &BTreeSet<String>, now: i64, ids: &mut Ids) -> Dirty {
    let mut d = Dirty::default();
    for id in changed {
        let Some(t) = s.tasks.get(id) else { continue };
        let to = match t.status {
            ScheduleStatus::Assigned => ScheduleStatus::Running,
            ScheduleStatus::Killing => ScheduleStatus::Killed,
            _ => continue,
        };
        let agent = t.agent_id.clone().unwrap_or_default();
        s.agent_status(&agent, id, to, None, now, &mut || ids.next(), &mut d);
    }
    d
}

/// Runs scheduling rounds until nothing changes.
fn settle(s: &mut State, mut changed: BTreeSet<String>, now: i64, ids: &mut Ids) {
    loop {
        let mut d = Dirty::default();
        s.update_tick(now, &mut || ids.next(), &mut d);
        s.schedule(now, &mut d);
        changed.extend(d.tasks);
        let acted = agents_act(s, &changed, now, ids);
        if changed.is_empty() && acted.tasks.is_empty() {
            return;
        }
        changed = acted.tasks;
    }
}

/// A running 4,000-instance service.
fn running() -> (State, Ids) {
    let mut s = State::default();
    let mut ids = Ids(0);
    let mut d = Dirty::default();
    for a in 0..AGENTS {
        let view = AgentView {
            id: format!("agent-{a}"),
            hostname: format!("host-{a}"),
            cpu: 200.0,
            ram_mb: 1 << 20,
            disk_mb: 1 << 20,
            used_cpu: 0.0,
            used_ram_mb: 0,
            used_disk_mb: 0,
            port_range: (31000, 32000),
            used_ports: BTreeSet::new(),
            unavailable: false,
            attributes: BTreeMap::new(),
        };
        s.register_agent(
            view,
            format!("http://host-{a}"),
            &[],
            0,
            &mut || ids.next(),
            &mut d,
        );
    }
    s.create_job(job(), 0, &mut || ids.next(), &mut d).unwrap();
    settle(&mut s, d.tasks, 0, &mut ids);
    (s, ids)
}

fn rollout(c: &mut Criterion) {
    let mut g = c.benchmark_group("update_4000_instances");
    g.sample_size(10);
    g.bench_function("batch_100_to_rolled_forward", |b| {
        b.iter_batched(
            running,
            |(mut s, mut ids)| {
                let mut v2 = job();
                v2.task.processes[0].cmdline = "echo v2".into();
                v2.update_config.batch_size = 100;
                v2.update_config.watch_secs = 0;
                let mut d = Dirty::default();
                let started = s
                    .start_update(
                        UpdateRequest {
                            config: v2,
                            kind: UpdateKind::Update,
                            only: None,
                            user: "bench".into(),
                            message: None,
                            metadata: BTreeMap::new(),
                            settings: None,
                        },
                        1,
                        &mut || ids.next(),
                        &mut d,
                    )
                    .unwrap();
                let Started::Update(id) = started else {
                    panic!("nothing to update")
                };
                settle(&mut s, d.tasks, 1, &mut ids);
                assert_eq!(s.updates[&id].status, UpdateStatus::RolledForward);
                s
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, rollout);
criterion_main!(benches);
