//! Snapshots keep etcd small: every so many entries the leader writes the whole state (the
//! entry format of `aurora_store::replication`, in parts of at most [`MAX_VALUE`] bytes) as
//! `snapshot/INDEX`, then deletes the log entries older than `keep` entries before it (the
//! snapshot interval: followers a little behind still read entries), the older snapshots, and
//! etcd's history of them (a compaction). A follower or a new scheduler
//! whose file is behind the oldest entry installs the newest snapshot, then reads the log on.
//!
//! Not here: when the leader decides to write one (`election`).

use crate::{HaError, Keys, MAX_VALUE, PartsHeader, within};
use aurora_store::Store;
use aurora_store::replication::{decode_snapshot, encode_snapshot};
use etcd_client::{
    Client, Compare, CompareOp, DeleteOptions, GetOptions, LeaderKey, SortOrder, SortTarget, Txn,
    TxnOp,
};
use std::time::Duration;

/// Installs the newest snapshot into `store`; its index, or `None` when there is none.
pub(crate) async fn install_newest(
    client: &mut Client,
    keys: &Keys,
    store: &Store,
    timeout: Duration,
) -> Result<Option<u64>, HaError> {
    let (from, to) = keys.snapshots();
    let resp = within(
        timeout,
        client.get(
            from,
            Some(
                GetOptions::new()
                    .with_range(to)
                    .with_sort(SortTarget::Key, SortOrder::Descend)
                    .with_limit(1),
            ),
        ),
    )
    .await?;
    let Some(kv) = resp.kvs().first() else {
        return Ok(None);
    };
    let index = Keys::index_of(kv.key())
        .ok_or_else(|| HaError::Log(format!("a snapshot key {:?}", kv.key_str())))?;
    let bytes =
        crate::log::entry_bytes(client, keys.snapshot_parts(index), kv.value(), timeout).await?;
    let snapshot =
        decode_snapshot(&bytes).map_err(|e| HaError::Log(format!("snapshot {index}: {e}")))?;
    tracing::info!(
        index,
        jobs = snapshot.jobs.len(),
        tasks = snapshot.tasks.len(),
        "installing the replicated state's snapshot"
    );
    store.replace(snapshot, index).wait().await?;
    Ok(Some(index))
}

/// Writes a snapshot of `store` (the leader's), then deletes what it makes unneeded, keeping
/// the `keep` entries before it. Every write is fenced by `leader`. Returns its index.
pub(crate) async fn write(
    client: &mut Client,
    keys: &Keys,
    leader: &LeaderKey,
    store: &Store,
    timeout: Duration,
    keep: u64,
) -> Result<u64, HaError> {
    let (snapshot, index) = store.load().await?;
    let bytes = encode_snapshot(&snapshot);
    let fence = || Compare::create_revision(leader.key(), CompareOp::Equal, leader.rev());
    let fenced = |ops: Vec<TxnOp>| Txn::new().when(vec![fence()]).and_then(ops);
    let chunks: Vec<&[u8]> = bytes.chunks(MAX_VALUE).collect();
    for (n, chunk) in chunks.iter().enumerate() {
        let txn = fenced(vec![TxnOp::put(
            keys.snapshot_part(index, n),
            chunk.to_vec(),
            None,
        )]);
        check(within(timeout, client.txn(txn)).await?.succeeded())?;
    }
    let header = serde_json::to_vec(&PartsHeader {
        parts: chunks.len(),
    })
    .map_err(|e| HaError::Log(e.to_string()))?;
    let txn = fenced(vec![TxnOp::put(keys.snapshot(index), header, None)]);
    check(within(timeout, client.txn(txn)).await?.succeeded())?;

    // What the snapshot makes unneeded: older snapshots, and the log up to KEEP entries before.
    let (snapshots, _) = keys.snapshots();
    let (snapshot_parts, older_snapshot_parts) = keys.snapshot_parts_before(index);
    let mut deletes = vec![
        TxnOp::delete(
            snapshots,
            Some(DeleteOptions::new().with_range(keys.snapshot(index))),
        ),
        TxnOp::delete(
            snapshot_parts,
            Some(DeleteOptions::new().with_range(older_snapshot_parts)),
        ),
    ];
    if index > keep {
        let oldest_kept = index - keep;
        let (parts, older_parts) = keys.parts_before(oldest_kept);
        deletes.push(TxnOp::delete(
            keys.log(0),
            Some(DeleteOptions::new().with_range(keys.log(oldest_kept))),
        ));
        deletes.push(TxnOp::delete(
            parts,
            Some(DeleteOptions::new().with_range(older_parts)),
        ));
    }
    let resp = within(timeout, client.txn(fenced(deletes))).await?;
    check(resp.succeeded())?;
    // etcd keeps every revision until compacted: drop the history of what was deleted.
    if let Some(revision) = resp.header().map(|h| h.revision()) {
        within(timeout, client.compact(revision, None)).await?;
    }
    tracing::info!(
        index,
        bytes = bytes.len(),
        "wrote a snapshot to etcd and compacted the log"
    );
    Ok(index)
}

fn check(succeeded: bool) -> Result<(), HaError> {
    if succeeded {
        Ok(())
    } else {
        Err(HaError::LostLeadership(
            "etcd refused a snapshot write: another scheduler leads".into(),
        ))
    }
}
