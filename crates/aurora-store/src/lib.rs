//! Durable scheduler state. Every mutation is a typed, serialisable [`StoreOp`] (what a replicated
//! log will carry later); a [`Store`] applies batches of them to a SQLite file (WAL, synchronous
//! writes) from one writer thread that commits all the batches queued at that moment in one
//! transaction (group commit). A batch is acknowledged only once its transaction is on disk.
//!
//! This is the only crate that links SQLite. It knows nothing of HTTP, agents or placement.

mod schema;

use aurora_model::auth::TokenRecord;
use aurora_model::cron::CronState;
use aurora_model::task::ScheduledTask;
use aurora_model::update::JobUpdate;
use aurora_model::{Job, JobKey};
use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use tokio::sync::oneshot;

/// One mutation of the scheduler's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreOp {
    /// Insert or replace a job's configuration.
    SaveJob { config: Box<Job> },
    /// Remove a job (its tasks are removed with `RemoveTask`).
    RemoveJob { key: JobKey },
    /// Insert or replace a task.
    SaveTask { task: Box<ScheduledTask> },
    /// Remove a task.
    RemoveTask { task_id: String },
    /// Insert or replace a cron job's firing state.
    SaveCron { key: JobKey, state: CronState },
    /// Remove a cron job's firing state (it is descheduled).
    RemoveCron { key: JobKey },
    /// Put a host in maintenance (`aurora_admin host_drain`) or take it out (`host_activate`).
    SetMaintenance { host: String, draining: bool },
    /// Insert or replace a token's record (issued, or revoked).
    SaveToken { record: TokenRecord },
    /// Keep a configuration some of a job's tasks run, under its digest.
    SaveJobConfig {
        key: JobKey,
        digest: String,
        config: Box<Job>,
    },
    /// Forget a configuration no task of the job runs any more.
    RemoveJobConfig { key: JobKey, digest: String },
    /// Insert or replace a job update (its state, progress and history).
    SaveUpdate { update: Box<JobUpdate> },
    /// Remove a job update from the history.
    RemoveUpdate { id: String },
}

/// Everything stored, as loaded at start.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub jobs: Vec<Job>,
    pub tasks: Vec<ScheduledTask>,
    /// Scheduled cron jobs and where their firing stands.
    pub crons: Vec<(JobKey, CronState)>,
    /// Hosts in maintenance.
    pub maintenance: Vec<String>,
    /// Every token issued (revoked and expired ones too, until pruned).
    pub tokens: Vec<TokenRecord>,
    /// The configurations jobs' tasks run: (job, digest, configuration).
    pub job_configs: Vec<(JobKey, String, Job)>,
    /// Job updates, active and past.
    pub updates: Vec<JobUpdate>,
}

/// Why the store failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store at {path}: {message}")]
    Open { path: PathBuf, message: String },
    #[error("store write failed: {0}")]
    Write(String),
    #[error("store read failed: {0}")]
    Read(String),
    #[error("the store's writer has stopped")]
    Closed,
}

impl StoreError {
    fn write(e: impl std::fmt::Display) -> Self {
        StoreError::Write(e.to_string())
    }
    fn read(e: impl std::fmt::Display) -> Self {
        StoreError::Read(e.to_string())
    }
}

/// A pending acknowledgement: resolves once the batch is durable (or failed).
pub struct Ack(oneshot::Receiver<Result<(), StoreError>>);

impl Ack {
    /// Waits for the batch, from async code.
    pub async fn wait(self) -> Result<(), StoreError> {
        self.0.await.unwrap_or(Err(StoreError::Closed))
    }

    /// Waits for the batch, from a thread that is not running async code.
    pub fn wait_blocking(self) -> Result<(), StoreError> {
        self.0.blocking_recv().unwrap_or(Err(StoreError::Closed))
    }
}

struct Batch {
    ops: Vec<StoreOp>,
    done: oneshot::Sender<Result<(), StoreError>>,
}

/// The handle to a store: cheap to clone, usable from any thread.
#[derive(Clone)]
pub struct Store {
    tx: mpsc::Sender<Batch>,
}

/// The most batches one transaction takes: bounds the latency of the first.
const MAX_GROUP: usize = 1024;

impl Store {
    /// Opens (or creates) the store file, migrates it, loads it, and starts the writer thread.
    pub fn open(path: &Path) -> Result<(Store, Snapshot), StoreError> {
        let open_err = |e: &dyn std::fmt::Display| StoreError::Open {
            path: path.to_owned(),
            message: e.to_string(),
        };
        let mut conn = Connection::open(path).map_err(|e| open_err(&e))?;
        schema::configure(&conn).map_err(|e| open_err(&e))?;
        schema::migrate(&mut conn).map_err(|e| open_err(&e))?;
        let snapshot = load(&conn)?;
        let (tx, rx) = mpsc::channel::<Batch>();
        std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || writer(conn, rx))
            .map_err(|e| open_err(&e))?;
        Ok((Store { tx }, snapshot))
    }

    /// Queues a batch; it is applied atomically, in submission order, and acknowledged once
    /// durable. Batches submitted from one thread commit in the order they were submitted.
    pub fn submit(&self, ops: Vec<StoreOp>) -> Ack {
        let (done, rx) = oneshot::channel();
        if let Err(mpsc::SendError(batch)) = self.tx.send(Batch { ops, done }) {
            let _ = batch.done.send(Err(StoreError::Closed));
        }
        Ack(rx)
    }

    /// Applies a batch and waits until it is durable (blocking).
    pub fn apply(&self, ops: Vec<StoreOp>) -> Result<(), StoreError> {
        self.submit(ops).wait_blocking()
    }
}

/// Every value of the first column of `sql`'s rows (JSON text or bytes), deserialised.
fn column<T: serde::de::DeserializeOwned>(
    conn: &Connection,
    sql: &str,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare(sql).map_err(StoreError::read)?;
    let rows = stmt
        .query_map([], |r| r.get::<_, rusqlite::types::Value>(0))
        .map_err(StoreError::read)?;
    let mut out = Vec::new();
    for row in rows {
        let value = match row.map_err(StoreError::read)? {
            rusqlite::types::Value::Text(t) => serde_json::from_str(&t),
            rusqlite::types::Value::Blob(b) => serde_json::from_slice(&b),
            other => {
                return Err(StoreError::Read(format!(
                    "unexpected value {other:?} in {sql}"
                )));
            }
        };
        out.push(value.map_err(StoreError::read)?);
    }
    Ok(out)
}

fn load(conn: &Connection) -> Result<Snapshot, StoreError> {
    Ok(Snapshot {
        jobs: column(conn, "SELECT config FROM jobs")?,
        tasks: column(conn, "SELECT body FROM tasks")?,
        crons: column(conn, "SELECT state FROM cron")?,
        // Host names are stored as text; as JSON strings they read back the same.
        maintenance: column(conn, "SELECT json_quote(host) FROM maintenance")?,
        tokens: column(conn, "SELECT record FROM tokens")?,
        job_configs: column(conn, "SELECT config FROM job_configs")?,
        updates: column(conn, "SELECT body FROM job_updates")?,
    })
}

/// Looks a token up by hash in the store at `path`, read-only: how a running scheduler finds a
/// token issued by another process (`aurora-scheduler token issue`) since it started.
pub fn find_token(path: &Path, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(StoreError::read)?;
    let text: Option<String> = conn
        .query_row(
            "SELECT record FROM tokens WHERE hash = ?1",
            params![hash],
            |r| r.get(0),
        )
        .map(Some)
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            e => Err(StoreError::read(e)),
        })?;
    text.map(|t| serde_json::from_str(&t).map_err(StoreError::read))
        .transpose()
}

fn apply_op(tx: &Connection, op: &StoreOp) -> Result<(), StoreError> {
    match op {
        StoreOp::SaveJob { config } => {
            let key = config.path().map_err(StoreError::write)?.key.to_string();
            let text = serde_json::to_string(config).map_err(StoreError::write)?;
            tx.execute(
                "INSERT OR REPLACE INTO jobs (key, config) VALUES (?1, ?2)",
                params![key, text],
            )
            .map_err(StoreError::write)?;
        }
        StoreOp::RemoveJob { key } => {
            tx.execute("DELETE FROM jobs WHERE key = ?1", params![key.to_string()])
                .map_err(StoreError::write)?;
        }
        StoreOp::SaveTask { task } => {
            let body = serde_json::to_vec(task).map_err(StoreError::write)?;
            tx.execute(
                "INSERT OR REPLACE INTO tasks (id, job, body) VALUES (?1, ?2, ?3)",
                params![task.task_id, task.job.to_string(), body],
            )
            .map_err(StoreError::write)?;
        }
        StoreOp::RemoveTask { task_id } => {
            tx.execute("DELETE FROM tasks WHERE id = ?1", params![task_id])
                .map_err(StoreError::write)?;
        }
        StoreOp::SaveCron { key, state } => {
            // The row holds (key, state), so that loading needs no key parser.
            let text = serde_json::to_string(&(key, state)).map_err(StoreError::write)?;
            tx.execute(
                "INSERT OR REPLACE INTO cron (key, state) VALUES (?1, ?2)",
                params![key.to_string(), text],
            )
            .map_err(StoreError::write)?;
        }
        StoreOp::RemoveCron { key } => {
            tx.execute("DELETE FROM cron WHERE key = ?1", params![key.to_string()])
                .map_err(StoreError::write)?;
        }
        StoreOp::SetMaintenance { host, draining } => {
            let sql = if *draining {
                "INSERT OR IGNORE INTO maintenance (host) VALUES (?1)"
            } else {
                "DELETE FROM maintenance WHERE host = ?1"
            };
            tx.execute(sql, params![host]).map_err(StoreError::write)?;
        }
        StoreOp::SaveToken { record } => {
            let text = serde_json::to_string(record).map_err(StoreError::write)?;
            tx.execute(
                "INSERT OR REPLACE INTO tokens (hash, record) VALUES (?1, ?2)",
                params![record.hash, text],
            )
            .map_err(StoreError::write)?;
        }
        StoreOp::SaveJobConfig {
            key,
            digest,
            config,
        } => {
            // The row holds (key, digest, config), so that loading needs no key parser.
            let text = serde_json::to_string(&(key, digest, config)).map_err(StoreError::write)?;
            tx.execute(
                "INSERT OR REPLACE INTO job_configs (job, digest, config) VALUES (?1, ?2, ?3)",
                params![key.to_string(), digest, text],
            )
            .map_err(StoreError::write)?;
        }
        StoreOp::RemoveJobConfig { key, digest } => {
            tx.execute(
                "DELETE FROM job_configs WHERE job = ?1 AND digest = ?2",
                params![key.to_string(), digest],
            )
            .map_err(StoreError::write)?;
        }
        StoreOp::SaveUpdate { update } => {
            let text = serde_json::to_string(update).map_err(StoreError::write)?;
            tx.execute(
                "INSERT OR REPLACE INTO job_updates (id, job, body) VALUES (?1, ?2, ?3)",
                params![update.id, update.job.to_string(), text],
            )
            .map_err(StoreError::write)?;
        }
        StoreOp::RemoveUpdate { id } => {
            tx.execute("DELETE FROM job_updates WHERE id = ?1", params![id])
                .map_err(StoreError::write)?;
        }
    }
    Ok(())
}

/// The writer thread: drains every batch queued, applies each inside a savepoint (so one bad batch
/// does not undo the others), commits once, then answers each batch.
fn writer(mut conn: Connection, rx: mpsc::Receiver<Batch>) {
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(b) => group.push(b),
                Err(_) => break,
            }
        }
        let mut results: Vec<Result<(), StoreError>> = Vec::with_capacity(group.len());
        let committed = (|| -> Result<(), StoreError> {
            let mut tx = conn.transaction().map_err(StoreError::write)?;
            for batch in &group {
                let mut sp = tx.savepoint().map_err(StoreError::write)?;
                let r = batch.ops.iter().try_for_each(|op| apply_op(&sp, op));
                match &r {
                    Ok(()) => sp.commit().map_err(StoreError::write)?,
                    Err(_) => sp.rollback().map_err(StoreError::write)?,
                }
                results.push(r);
            }
            tx.commit().map_err(StoreError::write)
        })();
        for (i, batch) in group.into_iter().enumerate() {
            let r = match &committed {
                Ok(()) => results.get(i).cloned().unwrap_or(Err(StoreError::Closed)),
                Err(e) => Err(e.clone()),
            };
            if let Err(e) = &r {
                tracing::error!("store batch refused: {e}");
            }
            let _ = batch.done.send(r);
        }
    }
}

#[cfg(test)]
mod tests;
