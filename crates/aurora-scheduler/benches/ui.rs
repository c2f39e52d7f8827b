//! Server time of the web UI's heaviest pages: a job with 5,000 running instances (each with its
//! event timeline) and 100 finished tasks, rendered from the in-memory state as the handlers do.
//! Run with `cargo bench -p aurora-scheduler --bench ui`; the results are in `docs/web-ui.md`.

use aurora_model::task::{ScheduleStatus, ScheduledTask, TaskEvent};
use aurora_model::{Job, JobKey};
use aurora_scheduler::http::ui;
use aurora_scheduler::state::State;
use aurora_scheduler::views;
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

const INSTANCES: u32 = 5_000;
const NOW: i64 = 1_795_000_000_000;

fn state() -> (State, JobKey) {
    let mut job: Job = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/hello_world.json"
        ))
        .unwrap(),
    )
    .unwrap();
    job.instances = i64::from(INSTANCES);
    let key = job.path().unwrap().key;
    let event = |ms: i64, status, message: Option<&str>| TaskEvent {
        timestamp_ms: ms,
        status,
        message: message.map(str::to_owned),
    };
    let task = |i: u32, n: u32, status| ScheduledTask {
        task_id: format!("www-data-prod-hello-{i}-{n:08x}-0000-4000-8000-000000000000"),
        job: key.clone(),
        instance: i,
        status,
        agent_id: Some(format!("agent-{}", i % 100)),
        host: Some(format!("host-{}.example.com", i % 100)),
        ports: Vec::new(),
        failure_count: 0,
        ancestor_id: None,
        penalty_ms: None,
        cron_run_ms: None,
        config_digest: None,
        events: vec![
            event(
                NOW - 60_000,
                ScheduleStatus::Pending,
                Some("Added to pending queue"),
            ),
            event(
                NOW - 59_000,
                ScheduleStatus::Assigned,
                Some("Assigned to host"),
            ),
            event(NOW - 58_000, ScheduleStatus::Starting, None),
            event(
                NOW - 57_000,
                status,
                Some("Process hello exited with status 1"),
            ),
        ],
    };
    let mut tasks: Vec<ScheduledTask> = (0..INSTANCES)
        .map(|i| task(i, i, ScheduleStatus::Running))
        .collect();
    tasks.extend((0..100).map(|i| task(i, INSTANCES + i, ScheduleStatus::Failed)));
    (State::restore(vec![job], tasks), key)
}

fn pages(c: &mut Criterion) {
    let (state, key) = state();
    let mut g = c.benchmark_group("ui_5000_tasks");
    g.bench_function("job_page_first_100", |b| {
        b.iter(|| {
            let page = ui::job_page(&state, "devcluster", &key, 0, ui::PAGE_SIZE, NOW).unwrap();
            black_box(askama::Template::render(&page).unwrap())
        })
    });
    g.bench_function("job_page_last_100", |b| {
        b.iter(|| {
            let page = ui::job_page(&state, "devcluster", &key, 49, ui::PAGE_SIZE, NOW).unwrap();
            black_box(askama::Template::render(&page).unwrap())
        })
    });
    g.bench_function("job_page_500_per_page", |b| {
        b.iter(|| {
            let page = ui::job_page(&state, "devcluster", &key, 0, views::MAX_PAGE, NOW).unwrap();
            black_box(askama::Template::render(&page).unwrap())
        })
    });
    g.bench_function("roles_page_summaries", |b| {
        b.iter(|| black_box(views::role_summaries(&state)))
    });
    g.bench_function("api_instances_json_500", |b| {
        b.iter(|| {
            let p = views::instance_page(&state, &key, 0, views::MAX_PAGE).unwrap();
            black_box(serde_json::to_vec(&p).unwrap())
        })
    });
    g.finish();
}

criterion_group!(benches, pages);
criterion_main!(benches);
