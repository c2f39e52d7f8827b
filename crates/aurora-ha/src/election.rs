//! Becoming the leader: a lease kept alive, a campaign in etcd's election, the log followed
//! into the local store while another leads, and, once elected, the log read to its end and the
//! store switched to fenced appends ([`lead`]).
//!
//! Leadership ends when the lease does: the keep-alive fails to renew it for longer than the TTL
//! allows (a partition from etcd, a pause), or etcd says it expired. [`Leadership::lost`] then
//! says why, before etcd expires the key (renewals stop counting a third of a TTL early); the
//! scheduler stops at once (as Aurora's does), and the fence refuses any append still in flight.
//!
//! Not here: the log's format and reading (`log`), snapshots (`snapshot`).

use crate::log::{EtcdLog, catch_up};
use crate::{HaError, Keys, Options, connect, within};
use aurora_store::Store;
use etcd_client::{Client, LeaderKey, WatchOptions};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// This scheduler leads. Dropping it does not resign: the lease ends with the process.
pub struct Leadership {
    /// Becomes `Some(reason)` when the leadership is lost.
    pub lost: watch::Receiver<Option<String>>,
    /// The election key: the fence of every write.
    pub key: LeaderKey,
    /// Wakes the snapshot writer to write one now (`aurora_admin scheduler_snapshot`).
    pub snapshot_now: std::sync::Arc<tokio::sync::Notify>,
}

/// Joins the election as `options.advertise` and follows the log into `store` until elected;
/// then reads the log to its end, makes `store` append through the log, and starts writing
/// snapshots. `leader` is kept up to date with the URL of whoever leads (this scheduler's own
/// once elected). Fails when etcd cannot be reached or the lease is lost before the election.
pub async fn lead(
    options: &Options,
    store: &Store,
    leader: watch::Sender<Option<String>>,
) -> Result<Leadership, HaError> {
    let timeout = options.lease_ttl;
    let mut client = connect(&options.endpoints, timeout).await?;
    let keys = Keys::new(&options.prefix);
    let ttl = options.lease_ttl.as_secs().max(2) as i64;
    let lease = within(timeout, client.lease_grant(ttl, None)).await?.id();
    let (lost_tx, mut lost) = watch::channel(None);
    tokio::spawn(keep_alive(client.clone(), lease, ttl, lost_tx));

    let follower = tokio::spawn(follow(
        client.clone(),
        options.prefix.clone(),
        store.clone(),
        timeout,
        leader.clone(),
    ));
    let mut campaigner = client.clone();
    let elected = loop {
        let campaign = campaigner.campaign(keys.election(), options.advertise.clone(), lease);
        tokio::select! {
            r = campaign => match r {
                Ok(r) => break r,
                // The connection broke while waiting: campaign again with the same lease (etcd
                // finds this candidate's key and goes on waiting behind the same ones).
                Err(e) => {
                    tracing::warn!("campaigning: {e}; again");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            },
            _ = lost.changed() => {
                follower.abort();
                return Err(HaError::LostLeadership(
                    lost.borrow().clone().unwrap_or_default(),
                ));
            }
        }
    };
    follower.abort();
    let _ = follower.await;
    let key = elected
        .leader()
        .cloned()
        .ok_or_else(|| HaError::Log("etcd elected this scheduler without a key".into()))?;
    // The previous leader's key is gone, so nothing more can be appended by it: the log as read
    // now is complete.
    let mut applied = catch_up(&mut client, &options.prefix, store, timeout).await?;
    let mut log = EtcdLog::new(
        client.clone(),
        keys.clone(),
        key.clone(),
        applied + 1,
        timeout,
    );
    if applied == 0 {
        // A new cluster: whatever this scheduler's store holds (a single scheduler's state
        // turned into a cluster's, a first token) becomes the cluster's, as snapshot 0 and an
        // empty entry 1 after it, so that every follower starts from it.
        crate::snapshot::write(&mut client, &keys, &key, store, timeout, 0).await?;
        applied = log
            .append_async(&aurora_store::replication::encode_entry(&[]))
            .await
            .map_err(HaError::LostLeadership)?;
        store.follow(applied, Vec::new()).wait().await?;
    }
    store.lead(Box::new(log));
    leader.send_replace(Some(options.advertise.clone()));
    tracing::info!(
        advertise = %options.advertise,
        applied,
        "elected leader; the log is read to its end"
    );
    let snapshot_now = std::sync::Arc::new(tokio::sync::Notify::new());
    tokio::spawn(snapshots(
        client,
        keys,
        key.clone(),
        store.clone(),
        timeout,
        options.snapshot_every,
        applied,
        snapshot_now.clone(),
    ));
    Ok(Leadership {
        lost,
        key,
        snapshot_now,
    })
}

/// Renews the lease every third of its TTL; reports it lost when no renewal has succeeded for
/// two thirds of the TTL (before etcd would expire it) or etcd says it expired.
async fn keep_alive(mut client: Client, lease: i64, ttl: i64, lost: watch::Sender<Option<String>>) {
    let period = Duration::from_millis(ttl as u64 * 1000 / 3);
    let give_up = period * 2;
    let mut renewed = Instant::now();
    let mut channel = None;
    loop {
        let started = Instant::now();
        if channel.is_none() {
            channel = within(period, client.lease_keep_alive(lease)).await.ok();
        }
        let answer = match channel.as_mut() {
            Some((keeper, stream)) => {
                let renew = async {
                    keeper.keep_alive().await?;
                    stream.message().await
                };
                tokio::time::timeout(period, renew).await
            }
            None => Ok(Err(etcd_client::Error::InvalidArgs(
                "no keep-alive stream".into(),
            ))),
        };
        match answer {
            Ok(Ok(Some(r))) if r.ttl() > 0 => renewed = Instant::now(),
            Ok(Ok(Some(_))) => {
                lost.send_replace(Some("etcd says the lease expired".into()));
                return;
            }
            _ => channel = None,
        }
        if renewed.elapsed() >= give_up {
            lost.send_replace(Some(format!(
                "the lease was not renewed for {:?} (etcd unreachable?)",
                renewed.elapsed()
            )));
            return;
        }
        tokio::time::sleep(period.saturating_sub(started.elapsed())).await;
    }
}

/// While another leads: reads the log into the store whenever etcd reports a change under the
/// prefix (or every second), and keeps `leader` naming the leader's URL.
async fn follow(
    mut client: Client,
    prefix: String,
    store: Store,
    timeout: Duration,
    leader: watch::Sender<Option<String>>,
) {
    let election = Keys::new(&prefix).election();
    let mut changes = None;
    // Who leads is asked at first, when the election's keys change, and each idle second: not
    // on every log entry.
    let mut ask = true;
    loop {
        if ask {
            let who = current_leader(&mut client, &prefix, timeout)
                .await
                .ok()
                .flatten();
            leader.send_if_modified(|l| {
                let changed = *l != who;
                *l = who;
                changed
            });
        }
        if let Err(e) = catch_up(&mut client, &prefix, &store, timeout).await {
            tracing::warn!("following the log: {e}");
        }
        if changes.is_none() {
            changes = within(
                timeout,
                client.watch(prefix.clone(), Some(WatchOptions::new().with_prefix())),
            )
            .await
            .ok();
        }
        // Some(touched the election) for news, None when the watch broke.
        let wait = async {
            match changes.as_mut() {
                Some(stream) => stream.message().await.ok().flatten().map(|r| {
                    r.events().iter().any(|e| {
                        e.kv()
                            .is_some_and(|kv| kv.key().starts_with(election.as_bytes()))
                    })
                }),
                None => std::future::pending().await,
            }
        };
        ask = match tokio::time::timeout(Duration::from_secs(1), wait).await {
            Ok(Some(touched)) => touched,
            Ok(None) => {
                changes = None;
                true
            }
            Err(_) => true,
        };
    }
}

/// The leader's snapshots: one whenever `every` entries were appended since the last, or when
/// asked.
#[allow(clippy::too_many_arguments)]
async fn snapshots(
    mut client: Client,
    keys: Keys,
    leader: LeaderKey,
    store: Store,
    timeout: Duration,
    every: u64,
    mut last: u64,
    now: std::sync::Arc<tokio::sync::Notify>,
) {
    loop {
        let asked = tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => false,
            _ = now.notified() => true,
        };
        let Ok(applied) = store.applied_index().await else {
            return;
        };
        if !asked && applied < last + every.max(1) {
            continue;
        }
        match crate::snapshot::write(&mut client, &keys, &leader, &store, timeout, every).await {
            Ok(index) => last = index,
            Err(e) => tracing::warn!("writing a snapshot: {e}"),
        }
    }
}

/// Who leads now (the leader's advertised URL), asked of etcd.
pub async fn current_leader(
    client: &mut Client,
    prefix: &str,
    timeout: Duration,
) -> Result<Option<String>, HaError> {
    match within(timeout, client.leader(Keys::new(prefix).election())).await {
        Ok(resp) => Ok(resp
            .kv()
            .and_then(|kv| kv.value_str().ok())
            .map(str::to_owned)),
        Err(HaError::Etcd(etcd_client::Error::GRpcStatus(s)))
            if s.message().contains("no leader") =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}
