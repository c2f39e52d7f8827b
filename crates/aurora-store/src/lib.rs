//! Durable scheduler state. Every mutation is a typed, serialisable [`StoreOp`]; a [`Store`]
//! applies batches of them to a SQLite file (WAL, synchronous writes) from one writer thread
//! (`writer`) that commits all the batches queued at that moment in one transaction (group
//! commit). A batch is acknowledged only once its transaction is on disk, and, when the store
//! leads a replicated cluster, once it is in the replicated log too ([`replication`]).
//!
//! This is the only crate that links SQLite. It knows nothing of HTTP, agents or placement.

pub mod replication;
mod schema;
mod writer;

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
use writer::{Batch, Message};

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
    /// The replicated log refused or lost the entry (this scheduler no longer leads), or a
    /// follower's file and the log disagree.
    #[error("replicated log: {0}")]
    Replication(String),
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

/// The handle to a store: cheap to clone, usable from any thread.
#[derive(Clone)]
pub struct Store {
    tx: mpsc::Sender<Message>,
    /// The file, for reads on their own connection ([`Store::load`]).
    path: std::sync::Arc<Path>,
}

impl Store {
    /// Opens (or creates) the store file, migrates it, loads it, and starts the writer thread.
    pub fn open(path: &Path) -> Result<(Store, Snapshot), StoreError> {
        let conn = Self::connect(path)?;
        let snapshot = load(&conn)?;
        Ok((Self::start_writer(path, conn)?, snapshot))
    }

    /// As [`Store::open`], without loading what the file holds: a follower's replica, whose
    /// state is read only once it leads.
    pub fn open_unloaded(path: &Path) -> Result<Store, StoreError> {
        Self::start_writer(path, Self::connect(path)?)
    }

    /// The writer's connection: configured and migrated.
    fn connect(path: &Path) -> Result<Connection, StoreError> {
        let open_err = |e: &dyn std::fmt::Display| StoreError::Open {
            path: path.to_owned(),
            message: e.to_string(),
        };
        let mut conn = Connection::open(path).map_err(|e| open_err(&e))?;
        schema::configure(&conn).map_err(|e| open_err(&e))?;
        schema::migrate(&mut conn).map_err(|e| open_err(&e))?;
        Ok(conn)
    }

    fn start_writer(path: &Path, conn: Connection) -> Result<Store, StoreError> {
        let (tx, rx) = mpsc::channel::<Message>();
        std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || writer::run(conn, rx))
            .map_err(|e| StoreError::Open {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
        Ok(Store {
            tx,
            path: path.into(),
        })
    }

    /// Queues a batch; it is applied atomically, in submission order, and acknowledged once
    /// durable. Batches submitted from one thread commit in the order they were submitted.
    pub fn submit(&self, ops: Vec<StoreOp>) -> Ack {
        let (done, rx) = oneshot::channel();
        // A closed writer drops the message, and with it `done`: the Ack then says Closed.
        let _ = self.tx.send(Message::Batch(Batch { ops, done }));
        Ack(rx)
    }

    /// Applies entry `index` of the replicated log (a follower): entries at or below the file's
    /// index are skipped, a gap is an error.
    pub fn follow(&self, index: u64, ops: Vec<StoreOp>) -> Ack {
        let (done, rx) = oneshot::channel();
        let _ = self.tx.send(Message::Follow { index, ops, done });
        Ack(rx)
    }

    /// Makes this store a leader's: from now on, every transaction is appended to `log` before
    /// it commits (and is refused, with nothing written, when the log refuses it).
    pub fn lead(&self, log: Box<dyn replication::Replicator>) {
        let _ = self.tx.send(Message::Lead(log));
    }

    /// Everything stored, and the index of the last log entry applied (0 without replication),
    /// as of one moment after every acknowledged write: read in one transaction on a connection
    /// of its own, off the async workers, so the writer goes on committing meanwhile.
    pub async fn load(&self) -> Result<(Snapshot, u64), StoreError> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn =
                Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                    .map_err(StoreError::read)?;
            let tx = conn.transaction().map_err(StoreError::read)?;
            let snapshot = load(&tx)?;
            let applied = writer::applied_index(&tx)?;
            Ok((snapshot, applied))
        })
        .await
        .map_err(|e| StoreError::Read(e.to_string()))?
    }

    /// Moves SQLite's write-ahead log into the file and truncates it (`aurora_admin
    /// scheduler_snapshot` on a lone scheduler).
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        let (done, rx) = oneshot::channel();
        let _ = self.tx.send(Message::Checkpoint(done));
        rx.await.unwrap_or(Err(StoreError::Closed))
    }

    /// The index of the last replicated-log entry in the file (0: none), after every write
    /// queued before it.
    pub async fn applied_index(&self) -> Result<u64, StoreError> {
        let (done, rx) = oneshot::channel();
        let _ = self.tx.send(Message::Applied(done));
        rx.await.unwrap_or(Err(StoreError::Closed))
    }

    /// Replaces everything stored by `snapshot`, the replicated state at log index `index`.
    pub fn replace(&self, snapshot: Snapshot, index: u64) -> Ack {
        let (done, rx) = oneshot::channel();
        let _ = self.tx.send(Message::Replace {
            snapshot: Box::new(snapshot),
            index,
            done,
        });
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

/// Copies the store at `db` to a new file `dest` (SQLite's online backup: consistent, while the
/// writer goes on), made with mode 0600.
pub fn backup(db: &Path, dest: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::OpenOptionsExt;
    let conn = Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(StoreError::read)?;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dest)
        .map_err(|e| StoreError::Write(format!("creating {}: {e}", dest.display())))?;
    conn.backup(rusqlite::MAIN_DB, dest, rusqlite::backup::NO_PROGRESS)
        .map_err(|e| StoreError::Write(format!("backing up to {}: {e}", dest.display())))
}

/// Everything a backup file (or any store file) holds, read without changing it. A file of
/// another schema version is refused.
pub fn read_backup(path: &Path) -> Result<Snapshot, StoreError> {
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| StoreError::Read(format!("{}: {e}", path.display())))?;
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(StoreError::read)?;
    if version != schema::VERSION as i64 {
        return Err(StoreError::Read(format!(
            "{} has schema version {version}; this scheduler reads {}",
            path.display(),
            schema::VERSION
        )));
    }
    load(&conn)
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

#[cfg(test)]
mod tests;
