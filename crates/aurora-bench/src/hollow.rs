//! Hollow agents, as kubemark's hollow nodes: each speaks the real agent protocol to the real
//! scheduler (`aurora_client::agent_protocol`: register, the command stream, status batches,
//! heartbeats) with its own credential, and answers a launch with STARTING then RUNNING without
//! running anything; a kill with KILLED. Thousands live as tasks of one tokio runtime. One can be
//! told to go silent, as a machine that hangs: it keeps its connections open and answers nothing
//! more (no heartbeat answers, no statuses), for ever.
//!
//! Not here: what is measured (`main`).

use aurora_api::{AgentCommand, AgentResources, RegisterRequest, StatusBatch, StatusUpdate};
use aurora_client::agent_protocol::AgentProtocolClient;
use aurora_model::task::ScheduleStatus;
use futures_util::{FutureExt, StreamExt};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// What every hollow agent offers: room for far more tasks than a benchmark gives it.
pub fn resources() -> AgentResources {
    AgentResources {
        cpu: 256.0,
        ram_mb: 1024 * 1024,
        disk_mb: 16 * 1024 * 1024,
        port_range: (31000, 32000),
    }
}

/// Shared counters of the fleet.
#[derive(Default)]
pub struct Fleet {
    /// Launches answered (RUNNING posted).
    pub running: AtomicUsize,
    /// Sessions opened (registrations answered).
    pub sessions: AtomicUsize,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn update(task_id: &str, status: ScheduleStatus) -> StatusUpdate {
    StatusUpdate {
        task_id: task_id.to_owned(),
        status,
        message: None,
        timestamp_ms: now_ms(),
    }
}

/// A running hollow agent: its task, and the switch that silences it.
pub struct Hollow {
    pub task: tokio::task::JoinHandle<()>,
    pub silent: Arc<AtomicBool>,
}

/// Starts hollow agent `id` on `runtime` against `scheduler`, presenting `credential`; it
/// reconnects whenever its session ends, until the process ends.
pub fn spawn(
    runtime: &tokio::runtime::Handle,
    scheduler: &str,
    id: String,
    credential: &str,
    fleet: Arc<Fleet>,
) -> anyhow::Result<Hollow> {
    let client = AgentProtocolClient::new(scheduler, credential, None)?;
    let silent = Arc::new(AtomicBool::new(false));
    let quiet = silent.clone();
    let task = runtime.spawn(async move {
        let mut running: HashSet<String> = HashSet::new();
        loop {
            if session(&client, &id, &mut running, &fleet, &quiet)
                .await
                .is_err()
            {
                tokio::time::sleep(Duration::from_millis(200)).await; // the scheduler is away
            }
        }
    });
    Ok(Hollow { task, silent })
}

async fn session(
    client: &AgentProtocolClient,
    id: &str,
    running: &mut HashSet<String>,
    fleet: &Fleet,
    silent: &AtomicBool,
) -> anyhow::Result<()> {
    if silent.load(Ordering::Relaxed) {
        return hang().await;
    }
    client
        .register(&RegisterRequest {
            agent_id: id.to_owned(),
            hostname: id.to_owned(),
            // Nothing serves files: the benchmark reads no logs.
            endpoint: "http://127.0.0.1:9".into(),
            resources: resources(),
            attributes: Default::default(),
            running: running.iter().cloned().collect(),
            isolation: "none".into(),
        })
        .await?;
    fleet.sessions.fetch_add(1, Ordering::Relaxed);
    let mut commands = client.commands(id).await?;
    while let Some(first) = commands.next().await {
        if silent.load(Ordering::Relaxed) {
            // Hung: the stream stays open and unread.
            let _keep = commands;
            return hang().await;
        }
        // Every command already arrived, answered in one status batch.
        let mut batch = Vec::new();
        let mut heartbeat = false;
        let mut next = Some(first);
        while let Some(cmd) = next.take() {
            match cmd? {
                AgentCommand::Launch(t) => {
                    batch.push(update(&t.task_id, ScheduleStatus::Starting));
                    batch.push(update(&t.task_id, ScheduleStatus::Running));
                    running.insert(t.task_id);
                    fleet.running.fetch_add(1, Ordering::Relaxed);
                }
                AgentCommand::Kill { task_id, .. } => {
                    running.remove(&task_id);
                    batch.push(update(&task_id, ScheduleStatus::Killed));
                }
                AgentCommand::Heartbeat => heartbeat = true,
            }
            next = commands.next().now_or_never().flatten();
        }
        if !batch.is_empty() {
            client
                .post_status(id, &StatusBatch { updates: batch })
                .await?;
        } else if heartbeat {
            client.heartbeat(id).await?;
        }
    }
    Ok(())
}

/// Never returns: a hung machine.
async fn hang() -> anyhow::Result<()> {
    std::future::pending::<()>().await;
    Ok(())
}
