//! `/metrics`: Prometheus text with the number of jobs, of tasks by state, of connected agents,
//! what the scheduling rounds did (rounds, seconds inside them and a histogram of each, tasks
//! placed, tasks queued), and where changes spend their time (waiting for and holding the state
//! lock, waiting for the store's commit). Measured in `core`; only exported here.

use super::AppState;
use crate::http::error::ApiError;
use axum::extract::State;
use axum::response::IntoResponse;

/// Prometheus text: jobs, tasks by state, agents.
pub async fn metrics(State(app): AppState) -> Result<impl IntoResponse, ApiError> {
    use prometheus_client::encoding::text::encode;
    use prometheus_client::metrics::family::Family;
    use prometheus_client::metrics::gauge::Gauge;
    use prometheus_client::registry::Registry;
    let mut registry = Registry::default();
    let jobs: Gauge = Gauge::default();
    let agents: Gauge = Gauge::default();
    let tasks: Family<Vec<(String, String)>, Gauge> = Family::default();
    let queue: Gauge = Gauge::default();
    {
        let state = app.core.read();
        queue.set(state.tasks.queued() as i64);
        jobs.set(state.jobs.len() as i64);
        agents.set(state.agents.values().filter(|a| a.connected).count() as i64);
        // Counted per job as tasks change state: no walk over every task.
        let mut by_status = [0u64; aurora_model::task::ScheduleStatus::ALL.len()];
        for counts in state.tasks.all_counts() {
            for (total, n) in by_status.iter_mut().zip(counts) {
                *total += u64::from(*n);
            }
        }
        for s in aurora_model::task::ScheduleStatus::ALL {
            let n = by_status[s as usize];
            if n > 0 {
                tasks
                    .get_or_create(&vec![("status".to_owned(), s.name().to_owned())])
                    .set(n as i64);
            }
        }
    }
    registry.register("aurora_jobs", "Jobs known to the scheduler", jobs);
    registry.register(
        "aurora_agents_connected",
        "Agents with a live command stream",
        agents,
    );
    registry.register(
        "aurora_tasks",
        "Tasks kept by the scheduler, by state",
        tasks,
    );
    use prometheus_client::metrics::counter::Counter;
    use std::sync::atomic::Ordering::Relaxed;
    let rounds: Counter = Counter::default();
    let placed: Counter = Counter::default();
    let seconds: Counter<f64, std::sync::atomic::AtomicU64> = Counter::default();
    rounds.inc_by(app.core.rounds.rounds.load(Relaxed));
    placed.inc_by(app.core.rounds.placed.load(Relaxed));
    seconds.inc_by(app.core.rounds.nanos.load(Relaxed) as f64 / 1e9);
    registry.register("aurora_schedule_rounds", "Scheduling rounds run", rounds);
    registry.register(
        "aurora_schedule_round_seconds",
        "Time spent inside scheduling rounds (holding the state)",
        seconds,
    );
    registry.register("aurora_placements", "Tasks assigned to agents", placed);
    let timings = [
        (
            "aurora_schedule_round_duration_seconds",
            "One scheduling round's placement",
            &app.core.rounds.duration,
        ),
        (
            "aurora_state_lock_wait_seconds",
            "Waiting for the state lock, per change",
            &app.core.stats.lock_wait,
        ),
        (
            "aurora_state_lock_held_seconds",
            "Holding the state lock, per change",
            &app.core.stats.lock_held,
        ),
        (
            "aurora_store_commit_seconds",
            "From queueing a change's store operations to their being durable",
            &app.core.stats.commit,
        ),
    ];
    for (name, help, timing) in timings {
        registry.register(name, help, timing.0.clone());
    }
    registry.register(
        "aurora_schedule_queue",
        "Tasks waiting to be placed (PENDING, and THROTTLED until their penalty ends)",
        queue,
    );
    let mut out = String::new();
    // A partial text would be a wrong answer: say that encoding failed instead.
    encode(&mut out, &registry).map_err(|e| {
        tracing::error!("encoding the metrics failed: {e}");
        ApiError::internal(format!("encoding the metrics failed: {e}"))
    })?;
    Ok(([("content-type", "text/plain; version=0.0.4")], out))
}
