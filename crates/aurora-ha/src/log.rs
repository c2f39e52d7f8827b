//! The `StoreOp` log in etcd: the leader's fenced appends ([`EtcdLog`], the store's
//! `Replicator`) and the followers' reading of it into their own store ([`catch_up`]).
//!
//! An entry is `log/INDEX` holding the entry's bytes (`aurora_store::replication`'s format), or,
//! when they exceed [`MAX_VALUE`], a [`PartsHeader`] naming the `part/INDEX/N` keys written
//! (each fenced) before it: a reader sees an entry only once its header is there, so a leader
//! dying between parts leaves no half entry, only parts that the next entry's index overwrites.

use crate::{HaError, Keys, MAX_VALUE, PartsHeader, within};
use aurora_store::Store;
use aurora_store::replication::{Replicator, decode_entry};
use etcd_client::{Client, Compare, CompareOp, GetOptions, LeaderKey, Txn, TxnOp};
use std::time::Duration;

/// The leader's side: appends entries, each a transaction conditioned on the leader's election
/// key (the fence) and on the entry's key being new.
pub struct EtcdLog {
    client: Client,
    keys: Keys,
    leader: LeaderKey,
    next: u64,
    timeout: Duration,
    runtime: tokio::runtime::Handle,
}

impl EtcdLog {
    /// A log whose next entry is `next`, written under `leader`'s fence.
    pub(crate) fn new(
        client: Client,
        keys: Keys,
        leader: LeaderKey,
        next: u64,
        timeout: Duration,
    ) -> EtcdLog {
        EtcdLog {
            client,
            keys,
            leader,
            next,
            timeout,
            runtime: tokio::runtime::Handle::current(),
        }
    }

    async fn put_fenced(&mut self, key: String, value: Vec<u8>, new: bool) -> Result<(), String> {
        let mut when = vec![Compare::create_revision(
            self.leader.key(),
            CompareOp::Equal,
            self.leader.rev(),
        )];
        if new {
            when.push(Compare::version(key.clone(), CompareOp::Equal, 0));
        }
        let txn = Txn::new()
            .when(when)
            .and_then(vec![TxnOp::put(key.clone(), value, None)]);
        let resp = within(self.timeout, self.client.txn(txn))
            .await
            .map_err(|e| format!("appending {key}: {e}"))?;
        if resp.succeeded() {
            Ok(())
        } else {
            Err(format!(
                "etcd refused {key}: this scheduler's election key is gone (another leads) or the entry exists"
            ))
        }
    }

    pub(crate) async fn append_async(&mut self, entry: &[u8]) -> Result<u64, String> {
        let index = self.next;
        let value = if entry.len() <= MAX_VALUE {
            entry.to_vec()
        } else {
            let chunks: Vec<&[u8]> = entry.chunks(MAX_VALUE).collect();
            for (n, chunk) in chunks.iter().enumerate() {
                let key = self.keys.part(index, n);
                self.put_fenced(key, chunk.to_vec(), false).await?;
            }
            serde_json::to_vec(&PartsHeader {
                parts: chunks.len(),
            })
            .map_err(|e| e.to_string())?
        };
        self.put_fenced(self.keys.log(index), value, true).await?;
        self.next += 1;
        Ok(index)
    }
}

impl Replicator for EtcdLog {
    fn append(&mut self, entry: &[u8]) -> Result<u64, String> {
        // The store's writer thread is not one of the runtime's: it may block on it.
        let runtime = self.runtime.clone();
        runtime.block_on(self.append_async(entry))
    }
}

/// The bytes of entry `index` whose key holds `value`: the value itself, or its parts joined.
pub(crate) async fn entry_bytes(
    client: &mut Client,
    parts_prefix: String,
    value: &[u8],
    timeout: Duration,
) -> Result<Vec<u8>, HaError> {
    if value.first() != Some(&b'{') {
        return Ok(value.to_vec());
    }
    let header: PartsHeader =
        serde_json::from_slice(value).map_err(|e| HaError::Log(format!("a parts header: {e}")))?;
    let resp = within(
        timeout,
        client.get(parts_prefix.clone(), Some(GetOptions::new().with_prefix())),
    )
    .await?;
    // Parts of an abandoned earlier attempt may follow: take the first `parts`, in key order.
    let mut kvs: Vec<_> = resp.kvs().iter().collect();
    kvs.sort_by(|a, b| a.key().cmp(b.key()));
    if kvs.len() < header.parts {
        return Err(HaError::Log(format!(
            "{parts_prefix}: {} parts of {}",
            kvs.len(),
            header.parts
        )));
    }
    Ok(kvs
        .iter()
        .take(header.parts)
        .flat_map(|kv| kv.value().iter().copied())
        .collect())
}

/// How many entries one read of the log takes.
const READ_BATCH: i64 = 256;

/// Reads the log after the store's last entry into the store, to the log's end as etcd has it
/// now; installs the newest snapshot first when the entries the store needs were compacted
/// away. Returns the index of the last entry applied.
pub async fn catch_up(
    client: &mut Client,
    prefix: &str,
    store: &Store,
    timeout: Duration,
) -> Result<u64, HaError> {
    let keys = Keys::new(prefix);
    let mut applied = store.applied_index().await?;
    if applied == 0 {
        // A store that never followed this cluster starts from its newest snapshot (whatever
        // it held before is not the cluster's).
        if let Some(at) = crate::snapshot::install_newest(client, &keys, store, timeout).await? {
            applied = at;
        }
    }
    loop {
        let resp = within(
            timeout,
            client.get(
                keys.log(applied + 1),
                Some(
                    GetOptions::new()
                        .with_range(keys.log_end())
                        .with_limit(READ_BATCH),
                ),
            ),
        )
        .await?;
        let kvs = resp.kvs();
        if kvs.is_empty() {
            return Ok(applied);
        }
        for kv in kvs {
            let index = Keys::index_of(kv.key())
                .ok_or_else(|| HaError::Log(format!("a log key {:?}", kv.key_str())))?;
            if index != applied + 1 {
                // Entries this store needs were deleted with a snapshot: start from it.
                applied = crate::snapshot::install_newest(client, &keys, store, timeout)
                    .await?
                    .filter(|&at| at >= applied && at + 1 >= index)
                    .ok_or_else(|| {
                        HaError::Log(format!(
                            "entry {} is missing and no snapshot covers it",
                            applied + 1
                        ))
                    })?;
                break;
            }
            let bytes = entry_bytes(client, keys.parts(index), kv.value(), timeout).await?;
            let ops =
                decode_entry(&bytes).map_err(|e| HaError::Log(format!("entry {index}: {e}")))?;
            store.follow(index, ops).wait().await?;
            applied = index;
        }
    }
}
