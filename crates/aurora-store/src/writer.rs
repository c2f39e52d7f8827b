//! The writer thread: the one connection that writes the SQLite file. It commits every batch
//! queued at that moment in one transaction (group commit), each batch in its own savepoint so
//! that one bad batch does not undo the others. When this scheduler leads a replicated cluster,
//! the batches a transaction holds are appended to the replicated log (one entry) before the
//! transaction commits; when it follows, it applies the log's entries as they come. Either way
//! the index of the last entry in the file is written in the same transaction.
//!
//! Not here: what the log is or how it is replicated (a [`Replicator`], e.g. etcd in
//! `aurora-ha`); the handle the rest of the process uses (`Store`, in the crate's root).

use crate::replication::{Replicator, encode_entry};
use crate::{Snapshot, StoreError, StoreOp};
use rusqlite::{Connection, params};
use std::sync::mpsc;
use tokio::sync::oneshot;

/// The most batches one transaction takes: bounds the latency of the first.
const MAX_GROUP: usize = 1024;

pub(crate) type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// A batch of changes and who waits for its acknowledgement.
pub(crate) struct Batch {
    pub ops: Vec<StoreOp>,
    pub done: Reply<()>,
}

/// What the writer thread is asked to do.
pub(crate) enum Message {
    /// Changes made by this scheduler.
    Batch(Batch),
    /// Entry `index` of the replicated log, written by the leader: applied as it is (a follower).
    Follow {
        index: u64,
        ops: Vec<StoreOp>,
        done: Reply<()>,
    },
    /// From now on, every transaction's batches go to this log before they commit (a leader).
    Lead(Box<dyn Replicator>),
    /// The index of the last log entry in the file.
    Applied(Reply<u64>),
    /// Moves the write-ahead log into the file and truncates it.
    Checkpoint(Reply<()>),
    /// Replaces everything stored by a snapshot of the replicated state at `index` (a follower
    /// too far behind the log, or a recovery).
    Replace {
        snapshot: Box<Snapshot>,
        index: u64,
        done: Reply<()>,
    },
}

/// The writer thread's loop, until every handle is gone.
pub(crate) fn run(mut conn: Connection, rx: mpsc::Receiver<Message>) {
    conn.set_prepared_statement_cache_capacity(32); // every statement `apply_op` runs
    let mut log: Option<Box<dyn Replicator>> = None;
    let mut pending: Option<Message> = None;
    loop {
        let message = match pending.take() {
            Some(m) => m,
            None => match rx.recv() {
                Ok(m) => m,
                Err(_) => return,
            },
        };
        match message {
            Message::Batch(first) => {
                let mut group = vec![first];
                while group.len() < MAX_GROUP {
                    match rx.try_recv() {
                        Ok(Message::Batch(b)) => group.push(b),
                        Ok(other) => {
                            pending = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                commit_group(&mut conn, group, log.as_mut());
            }
            Message::Follow { index, ops, done } => {
                let r = if log.is_some() {
                    Err(StoreError::Replication(
                        "a leader does not apply others' log entries".into(),
                    ))
                } else {
                    follow(&mut conn, index, &ops)
                };
                let _ = done.send(r);
            }
            Message::Lead(replicator) => log = Some(replicator),
            Message::Checkpoint(done) => {
                let r = conn
                    .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                    .map_err(StoreError::write);
                let _ = done.send(r);
            }
            Message::Applied(done) => {
                let _ = done.send(applied_index(&conn));
            }
            Message::Replace {
                snapshot,
                index,
                done,
            } => {
                let _ = done.send(replace(&mut conn, &snapshot, index));
            }
        }
    }
}

/// Applies a group of batches in one transaction; with a log, appends the batches that applied
/// to it first. Answers every batch.
fn commit_group(conn: &mut Connection, group: Vec<Batch>, log: Option<&mut Box<dyn Replicator>>) {
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
        if let Some(log) = log {
            let applied: Vec<&StoreOp> = group
                .iter()
                .zip(&results)
                .filter(|(_, r)| r.is_ok())
                .flat_map(|(b, _)| &b.ops)
                .collect();
            if !applied.is_empty() {
                // Durable in the log before it is in this file: a crash in between is healed by
                // reading the log from this file's index.
                let index = log
                    .append(&encode_entry(&applied))
                    .map_err(StoreError::Replication)?;
                set_applied_index(&tx, index)?;
            }
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

/// Applies log entry `index` (already applied ones are skipped; a gap is an error).
fn follow(conn: &mut Connection, index: u64, ops: &[StoreOp]) -> Result<(), StoreError> {
    let applied = applied_index(conn)?;
    if index <= applied {
        return Ok(());
    }
    if index != applied + 1 {
        return Err(StoreError::Replication(format!(
            "log entry {index} arrived after entry {applied}: entries between are missing"
        )));
    }
    let tx = conn.transaction().map_err(StoreError::write)?;
    // The leader applied this entry's batches; one that failed there was left out of it, so an
    // error here means the file and the log disagree.
    ops.iter().try_for_each(|op| apply_op(&tx, op))?;
    set_applied_index(&tx, index)?;
    tx.commit().map_err(StoreError::write)
}

/// Every table emptied and filled from `snapshot`, at log index `index`, in one transaction.
fn replace(conn: &mut Connection, snapshot: &Snapshot, index: u64) -> Result<(), StoreError> {
    let tx = conn.transaction().map_err(StoreError::write)?;
    tx.execute_batch(
        "DELETE FROM jobs; DELETE FROM tasks; DELETE FROM cron; DELETE FROM maintenance;
         DELETE FROM tokens; DELETE FROM job_configs; DELETE FROM job_updates;",
    )
    .map_err(StoreError::write)?;
    for op in crate::replication::snapshot_ops(snapshot) {
        apply_op(&tx, &op)?;
    }
    set_applied_index(&tx, index)?;
    tx.commit().map_err(StoreError::write)
}

/// The index of the last replicated-log entry in the file (0: none).
pub(crate) fn applied_index(conn: &Connection) -> Result<u64, StoreError> {
    conn.query_row("SELECT applied FROM replication WHERE id = 0", [], |r| {
        r.get::<_, i64>(0)
    })
    .map(|i| i as u64)
    .or_else(|e| match e {
        rusqlite::Error::QueryReturnedNoRows => Ok(0),
        e => Err(StoreError::read(e)),
    })
}

fn set_applied_index(tx: &Connection, index: u64) -> Result<(), StoreError> {
    tx.execute(
        "INSERT OR REPLACE INTO replication (id, applied) VALUES (0, ?1)",
        params![index as i64],
    )
    .map_err(StoreError::write)?;
    Ok(())
}

/// Runs one statement through the connection's cache of prepared statements: the same few
/// statements run hundreds of thousands of times at scale, and parsing each again was a visible
/// part of the scheduler's profile.
fn exec(tx: &Connection, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
    tx.prepare_cached(sql)?.execute(params)
}

pub(crate) fn apply_op(tx: &Connection, op: &StoreOp) -> Result<(), StoreError> {
    match op {
        StoreOp::SaveJob { config } => {
            let key = config.path().map_err(StoreError::write)?.key.to_string();
            let text = serde_json::to_string(config).map_err(StoreError::write)?;
            exec(
                tx,
                "INSERT OR REPLACE INTO jobs (key, config) VALUES (?1, ?2)",
                params![key, text],
            )
            .map_err(StoreError::write)?;
        }
        StoreOp::RemoveJob { key } => {
            exec(
                tx,
                "DELETE FROM jobs WHERE key = ?1",
                params![key.to_string()],
            )
            .map_err(StoreError::write)?;
        }
        StoreOp::SaveTask { task } => {
            let body = serde_json::to_vec(task).map_err(StoreError::write)?;
            exec(
                tx,
                // An upsert, not INSERT OR REPLACE: the row is updated where it is, so neither
                // index is touched (a replace deletes and re-inserts, moving the row and
                // rewriting both indexes' pages: most of the writer's work at scale).
                "INSERT INTO tasks (id, job, body) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET body = excluded.body",
                params![task.task_id, task.job.to_string(), body],
            )
            .map_err(StoreError::write)?;
        }
        StoreOp::RemoveTask { task_id } => {
            exec(tx, "DELETE FROM tasks WHERE id = ?1", params![task_id])
                .map_err(StoreError::write)?;
        }
        StoreOp::SaveCron { key, state } => {
            // The row holds (key, state), so that loading needs no key parser.
            let text = serde_json::to_string(&(key, state)).map_err(StoreError::write)?;
            exec(
                tx,
                "INSERT OR REPLACE INTO cron (key, state) VALUES (?1, ?2)",
                params![key.to_string(), text],
            )
            .map_err(StoreError::write)?;
        }
        StoreOp::RemoveCron { key } => {
            exec(
                tx,
                "DELETE FROM cron WHERE key = ?1",
                params![key.to_string()],
            )
            .map_err(StoreError::write)?;
        }
        StoreOp::SetMaintenance { host, draining } => {
            let sql = if *draining {
                "INSERT OR IGNORE INTO maintenance (host) VALUES (?1)"
            } else {
                "DELETE FROM maintenance WHERE host = ?1"
            };
            exec(tx, sql, params![host]).map_err(StoreError::write)?;
        }
        StoreOp::SaveToken { record } => {
            let text = serde_json::to_string(record).map_err(StoreError::write)?;
            exec(
                tx,
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
            exec(
                tx,
                "INSERT OR REPLACE INTO job_configs (job, digest, config) VALUES (?1, ?2, ?3)",
                params![key.to_string(), digest, text],
            )
            .map_err(StoreError::write)?;
        }
        StoreOp::RemoveJobConfig { key, digest } => {
            exec(
                tx,
                "DELETE FROM job_configs WHERE job = ?1 AND digest = ?2",
                params![key.to_string(), digest],
            )
            .map_err(StoreError::write)?;
        }
        StoreOp::SaveUpdate { update } => {
            let text = serde_json::to_string(update).map_err(StoreError::write)?;
            exec(
                tx,
                "INSERT OR REPLACE INTO job_updates (id, job, body) VALUES (?1, ?2, ?3)",
                params![update.id, update.job.to_string(), text],
            )
            .map_err(StoreError::write)?;
        }
        StoreOp::RemoveUpdate { id } => {
            exec(tx, "DELETE FROM job_updates WHERE id = ?1", params![id])
                .map_err(StoreError::write)?;
        }
    }
    Ok(())
}
