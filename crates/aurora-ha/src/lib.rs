//! Several schedulers on one etcd cluster: exactly one leads, the others follow.
//!
//! - [`election`]: a lease (TTL a few seconds, kept alive) and etcd's election API. The leader's
//!   election key is its fencing token: every append is a transaction conditioned on that key
//!   still existing at its revision, so a leader that lost its lease (partitioned, paused) can
//!   no longer append anything, whatever it believes.
//! - [`log`]: the `StoreOp` log in etcd. Each group-committed transaction of the leader's store
//!   is one entry, appended (fenced) before the store commits and acknowledges it; entries over
//!   etcd's request limit are written in parts first and become visible with their header.
//!   Followers read the log into their own SQLite file (hot standby); a new leader reads it to
//!   its end before it serves.
//! - [`snapshot`]: the leader writes the whole state into etcd every so many entries and deletes
//!   the log before it (and compacts etcd's history), so etcd stays small; a follower behind the
//!   oldest entry installs the snapshot first.
//!
//! Keys, under the prefix (`/aurora/CLUSTER`): `leader` (the election), `log/INDEX`,
//! `part/INDEX/N`, `snapshot/INDEX` and `snapshot-part/INDEX/N` (indexes zero-padded to 20
//! digits so that keys sort as numbers).
//!
//! Not here: what the scheduler does as leader or follower (serving, redirecting: the
//! scheduler's `ha` module), or SQLite (`aurora-store`).

pub mod election;
pub mod log;
pub mod snapshot;

use std::time::Duration;

/// How a scheduler joins the etcd cluster.
#[derive(Debug, Clone)]
pub struct Options {
    /// etcd's client URLs (`http://10.0.0.1:2379`).
    pub endpoints: Vec<String>,
    /// Where this cluster's keys live (`/aurora/CLUSTER`): several clusters may share an etcd.
    pub prefix: String,
    /// The leader's lease: a leader silent for this long has lost its leadership. Whole seconds,
    /// at least 2.
    pub lease_ttl: Duration,
    /// The URL other schedulers, clients and agents reach this scheduler at.
    pub advertise: String,
    /// The leader writes a snapshot after this many entries since the last one, and the log
    /// keeps this many entries before the newest snapshot.
    pub snapshot_every: u64,
}

/// Why something in etcd failed.
#[derive(Debug, thiserror::Error)]
pub enum HaError {
    #[error("etcd: {0}")]
    Etcd(#[from] etcd_client::Error),
    #[error("etcd did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the replicated log is damaged: {0}")]
    Log(String),
    #[error("the local store: {0}")]
    Store(#[from] aurora_store::StoreError),
    #[error("lost the leadership: {0}")]
    LostLeadership(String),
}

/// The keys of one cluster in etcd.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    prefix: String,
}

impl Keys {
    pub(crate) fn new(prefix: &str) -> Keys {
        Keys {
            prefix: prefix.trim_end_matches('/').to_owned(),
        }
    }

    pub(crate) fn election(&self) -> String {
        format!("{}/leader", self.prefix)
    }

    pub(crate) fn log(&self, index: u64) -> String {
        format!("{}/log/{index:020}", self.prefix)
    }

    /// The end of the `log/` range (exclusive): `log0` (`'0'` follows `'/'`).
    pub(crate) fn log_end(&self) -> String {
        format!("{}/log0", self.prefix)
    }

    pub(crate) fn part(&self, index: u64, n: usize) -> String {
        format!("{}/part/{index:020}/{n:06}", self.prefix)
    }

    pub(crate) fn parts(&self, index: u64) -> String {
        format!("{}/part/{index:020}/", self.prefix)
    }

    pub(crate) fn parts_before(&self, index: u64) -> (String, String) {
        (
            format!("{}/part/", self.prefix),
            format!("{}/part/{index:020}", self.prefix),
        )
    }

    pub(crate) fn snapshot(&self, index: u64) -> String {
        format!("{}/snapshot/{index:020}", self.prefix)
    }

    pub(crate) fn snapshots(&self) -> (String, String) {
        (
            format!("{}/snapshot/", self.prefix),
            format!("{}/snapshot0", self.prefix),
        )
    }

    pub(crate) fn snapshot_part(&self, index: u64, n: usize) -> String {
        format!("{}/snapshot-part/{index:020}/{n:06}", self.prefix)
    }

    pub(crate) fn snapshot_parts(&self, index: u64) -> String {
        format!("{}/snapshot-part/{index:020}/", self.prefix)
    }

    pub(crate) fn snapshot_parts_before(&self, index: u64) -> (String, String) {
        (
            format!("{}/snapshot-part/", self.prefix),
            format!("{}/snapshot-part/{index:020}", self.prefix),
        )
    }

    /// The index at the end of a `log/INDEX` or `snapshot/INDEX` key.
    pub(crate) fn index_of(key: &[u8]) -> Option<u64> {
        let key = std::str::from_utf8(key).ok()?;
        key.rsplit('/').next()?.parse().ok()
    }
}

/// The largest value written in one request: etcd refuses requests over 1.5 MiB by default.
pub(crate) const MAX_VALUE: usize = 1024 * 1024;

/// Connects to etcd (failing after `timeout` when no endpoint answers).
pub async fn connect(
    endpoints: &[String],
    timeout: Duration,
) -> Result<etcd_client::Client, HaError> {
    // No per-request timeout here: a campaign waits as long as another leads. Calls that must
    // answer soon are bounded one by one (`within`). An etcd member cut off from its quorum
    // refuses requests rather than answering from stale data (`require_leader`).
    // HTTP/2 pings no more often than etcd accepts (its --grpc-keepalive-min-time, 5 s, by
    // default: more often and it closes the connection as abusive).
    let options = etcd_client::ConnectOptions::new()
        .with_connect_timeout(timeout)
        .with_keep_alive(Duration::from_secs(10), timeout.max(Duration::from_secs(3)))
        .with_require_leader(true);
    within(
        timeout,
        etcd_client::Client::connect(endpoints, Some(options)),
    )
    .await
}

/// `fut`, failing with [`HaError::Timeout`] after `limit`.
pub(crate) async fn within<T>(
    limit: Duration,
    fut: impl std::future::Future<Output = Result<T, etcd_client::Error>>,
) -> Result<T, HaError> {
    match tokio::time::timeout(limit, fut).await {
        Ok(r) => Ok(r?),
        Err(_) => Err(HaError::Timeout(limit)),
    }
}

/// A value split in parts (`{"parts": N}`) rather than held in its key.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct PartsHeader {
    pub parts: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_as_their_indexes() {
        let k = Keys::new("/aurora/c/");
        assert_eq!(k.log(7), "/aurora/c/log/00000000000000000007");
        assert!(k.log(9) < k.log(10) && k.log(10) < k.log_end());
        assert_eq!(Keys::index_of(k.log(42).as_bytes()), Some(42));
        assert_eq!(Keys::index_of(k.snapshot(5).as_bytes()), Some(5));
        assert!(k.part(3, 1).starts_with(&k.parts(3)));
        let (from, to) = k.parts_before(3);
        assert!(k.part(2, 9) >= from && k.part(2, 9) < to && k.part(3, 0) >= to);
    }
}
