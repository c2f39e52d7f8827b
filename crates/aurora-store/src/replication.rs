//! What the store needs of a replicated log, and the log's entry format. An entry is the
//! `StoreOp`s of one committed transaction, as a JSON array; a snapshot of the whole state is
//! written in the same format (the ops that recreate it), so one decoder reads both.
//!
//! Not here: any log implementation (etcd's is `aurora-ha`), elections, or networking.

use crate::{Snapshot, StoreOp};

/// A replicated log a leader appends to. Called on the store's writer thread, with the
/// transaction open: the store commits (and acknowledges) only after `append` returns `Ok`.
pub trait Replicator: Send {
    /// Makes `entry` durable in the log as its next entry and returns that entry's index
    /// (1, 2, ...). An error means the entry is not in the log, and this process may no longer
    /// write it (it lost its leadership): the transaction is rolled back and every batch in it
    /// fails.
    fn append(&mut self, entry: &[u8]) -> Result<u64, String>;
}

/// One log entry's bytes.
pub fn encode_entry(ops: &[&StoreOp]) -> Vec<u8> {
    // Serialising a StoreOp cannot fail: every field is a plain value.
    serde_json::to_vec(ops).unwrap_or_default()
}

/// The ops of an entry's (or a snapshot's) bytes.
pub fn decode_entry(bytes: &[u8]) -> Result<Vec<StoreOp>, serde_json::Error> {
    serde_json::from_slice(bytes)
}

/// The ops that recreate `snapshot` in an empty store.
pub fn snapshot_ops(snapshot: &Snapshot) -> Vec<StoreOp> {
    let mut ops = Vec::with_capacity(
        snapshot.jobs.len()
            + snapshot.tasks.len()
            + snapshot.crons.len()
            + snapshot.maintenance.len()
            + snapshot.tokens.len()
            + snapshot.job_configs.len()
            + snapshot.updates.len(),
    );
    ops.extend(snapshot.jobs.iter().map(|j| StoreOp::SaveJob {
        config: Box::new(j.clone()),
    }));
    ops.extend(snapshot.tasks.iter().map(|t| StoreOp::SaveTask {
        task: Box::new(t.clone()),
    }));
    ops.extend(snapshot.crons.iter().map(|(key, state)| StoreOp::SaveCron {
        key: key.clone(),
        state: *state,
    }));
    ops.extend(
        snapshot
            .maintenance
            .iter()
            .map(|host| StoreOp::SetMaintenance {
                host: host.clone(),
                draining: true,
            }),
    );
    ops.extend(snapshot.tokens.iter().map(|record| StoreOp::SaveToken {
        record: record.clone(),
    }));
    ops.extend(
        snapshot
            .job_configs
            .iter()
            .map(|(key, digest, config)| StoreOp::SaveJobConfig {
                key: key.clone(),
                digest: digest.clone(),
                config: Box::new(config.clone()),
            }),
    );
    ops.extend(snapshot.updates.iter().map(|u| StoreOp::SaveUpdate {
        update: Box::new(u.clone()),
    }));
    ops
}

/// The snapshot's bytes, in the entry format.
pub fn encode_snapshot(snapshot: &Snapshot) -> Vec<u8> {
    let ops = snapshot_ops(snapshot);
    encode_entry(&ops.iter().collect::<Vec<_>>())
}

/// A snapshot from its bytes: the ops applied to an empty state.
pub fn decode_snapshot(bytes: &[u8]) -> Result<Snapshot, serde_json::Error> {
    let mut s = Snapshot::default();
    for op in decode_entry(bytes)? {
        match op {
            StoreOp::SaveJob { config } => s.jobs.push(*config),
            StoreOp::SaveTask { task } => s.tasks.push(*task),
            StoreOp::SaveCron { key, state } => s.crons.push((key, state)),
            StoreOp::SetMaintenance { host, .. } => s.maintenance.push(host),
            StoreOp::SaveToken { record } => s.tokens.push(record),
            StoreOp::SaveJobConfig {
                key,
                digest,
                config,
            } => s.job_configs.push((key, digest, *config)),
            StoreOp::SaveUpdate { update } => s.updates.push(*update),
            // A snapshot holds only saves.
            _ => {}
        }
    }
    Ok(s)
}
