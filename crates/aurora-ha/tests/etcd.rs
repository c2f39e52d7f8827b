//! Election and the replicated log against a real three-member etcd cluster (Debian's
//! `etcd-server`, started by the testkit on loopback ports): one leader at a time, a follower's
//! store kept equal to the leader's, a deposed leader's appends refused (the fence), entries over
//! etcd's request limit, and snapshots that compact the log and bring a new scheduler up to
//! date. The scheduler processes on top are tested in `aurora-scheduler`'s HA tests.

use aurora_ha::{Options, election};
use aurora_model::JobKey;
use aurora_model::task::{ScheduleStatus, ScheduledTask};
use aurora_store::{Store, StoreError, StoreOp};
use aurora_testkit::etcd::EtcdCluster;
use std::time::Duration;
use tokio::sync::watch;

fn options(etcd: &EtcdCluster, name: &str) -> Options {
    Options {
        endpoints: etcd.endpoints(),
        prefix: "/aurora/test".into(),
        lease_ttl: Duration::from_secs(2),
        advertise: format!("http://{name}:8081"),
        snapshot_every: 1000,
    }
}

fn task(id: &str, padding: usize) -> StoreOp {
    StoreOp::SaveTask {
        task: Box::new(ScheduledTask {
            task_id: id.into(),
            job: JobKey::new("www-data", "prod", "hello").unwrap(),
            instance: 0,
            status: ScheduleStatus::Pending,
            agent_id: Some("x".repeat(padding)),
            host: None,
            ports: vec![],
            failure_count: 0,
            ancestor_id: None,
            penalty_ms: None,
            cron_run_ms: None,
            config_digest: None,
            events: vec![],
        }),
    }
}

fn open(dir: &tempfile::TempDir, name: &str) -> Store {
    Store::open(&dir.path().join(format!("{name}.db")))
        .unwrap()
        .0
}

async fn task_ids(store: &Store) -> Vec<String> {
    let (snapshot, _) = store.load().await.unwrap();
    let mut ids: Vec<String> = snapshot.tasks.into_iter().map(|t| t.task_id).collect();
    ids.sort();
    ids
}

/// Polls `store` until its log index reaches `index`.
async fn until_applied(store: &Store, index: u64) {
    let start = std::time::Instant::now();
    while store.applied_index().await.unwrap() < index {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "never applied {index}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await; // another task's progress
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_leader_a_follower_that_keeps_up_and_a_deposed_leader_that_cannot_write() {
    let Some(etcd) = EtcdCluster::start(3) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (open(&dir, "a"), open(&dir, "b"));
    let (seen_by_a, _) = watch::channel(None);
    let leadership = election::lead(&options(&etcd, "a"), &a, seen_by_a)
        .await
        .expect("the first candidate is elected");
    for i in 0..20 {
        a.submit(vec![task(&format!("t{i:02}"), 10)])
            .wait()
            .await
            .unwrap();
    }

    // B campaigns: it follows A's log, knows A leads, and is not elected.
    let (seen_by_b, mut leader_for_b) = watch::channel(None);
    let b_opts = options(&etcd, "b");
    let b_store = b.clone();
    let candidate = tokio::spawn(async move { election::lead(&b_opts, &b_store, seen_by_b).await });
    leader_for_b
        .wait_for(|l| l.as_deref() == Some("http://a:8081"))
        .await
        .unwrap();
    // Entry 1 opens the cluster (the first leader's state); A's 20 follow it.
    until_applied(&b, 21).await;
    assert_eq!(task_ids(&b).await, task_ids(&a).await);
    assert!(!candidate.is_finished(), "two leaders");

    // A's lease ends (as when A is killed): B is elected, with everything A acknowledged.
    let mut admin = aurora_ha::connect(&etcd.endpoints(), Duration::from_secs(5))
        .await
        .unwrap();
    admin.lease_revoke(leadership.key.lease()).await.unwrap();
    let b_leads = tokio::time::timeout(Duration::from_secs(10), candidate)
        .await
        .expect("B is elected within 10 s")
        .unwrap()
        .expect("B leads");
    assert_eq!(task_ids(&b).await.len(), 20);
    // A, deposed, cannot append: the fence refuses, nothing is acknowledged or written.
    let refused = a.submit(vec![task("late", 10)]).wait().await;
    assert!(
        matches!(refused, Err(StoreError::Replication(_))),
        "{refused:?}"
    );
    assert!(!task_ids(&a).await.contains(&"late".to_owned()));
    let mut lost = leadership.lost.clone();
    tokio::time::timeout(Duration::from_secs(5), lost.wait_for(Option::is_some))
        .await
        .expect("A learns it lost the leadership within the TTL")
        .unwrap();
    // B appends after A's entries.
    b.submit(vec![task("after", 10)]).wait().await.unwrap();
    assert_eq!(b.applied_index().await.unwrap(), 22);
    assert_eq!(
        aurora_ha::election::current_leader(&mut admin, "/aurora/test", Duration::from_secs(5))
            .await
            .unwrap()
            .as_deref(),
        Some("http://b:8081")
    );
    drop(b_leads);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_over_the_request_limit_and_snapshots_reach_a_new_scheduler() {
    let Some(etcd) = EtcdCluster::start(3) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let leader = open(&dir, "leader");
    // What a single scheduler held before it became a cluster's first leader: every follower
    // gets it.
    leader
        .submit(vec![task("before-ha", 10)])
        .wait()
        .await
        .unwrap();
    let mut opts = options(&etcd, "leader");
    opts.snapshot_every = 10;
    let (seen, _) = watch::channel(None);
    let leadership = election::lead(&opts, &leader, seen).await.unwrap();
    // One batch of about 3 MiB: written in parts.
    let big: Vec<StoreOp> = (0..300)
        .map(|i| task(&format!("big{i:03}"), 10_000))
        .collect();
    leader.submit(big).wait().await.unwrap();
    for i in 0..40 {
        leader
            .submit(vec![task(&format!("small{i:02}"), 10)])
            .wait()
            .await
            .unwrap();
    }
    // The leader snapshots (every 10 entries) and deletes the log before the last 10.
    let mut admin = aurora_ha::connect(&etcd.endpoints(), Duration::from_secs(5))
        .await
        .unwrap();
    let start = std::time::Instant::now();
    loop {
        let first = admin
            .get(
                "/aurora/test/log/",
                Some(etcd_client_options::prefix_keys_only()),
            )
            .await
            .unwrap();
        let oldest = first
            .kvs()
            .iter()
            .filter_map(|kv| kv.key_str().ok()?.rsplit('/').next()?.parse::<u64>().ok())
            .min();
        if oldest.is_some_and(|o| o > 1) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the log was never compacted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await; // the leader's snapshot loop
    }
    // A new scheduler with an empty file starts from the snapshot, then the log.
    let newcomer = open(&dir, "newcomer");
    let (seen, mut leader_url) = watch::channel(None);
    let nc_opts = options(&etcd, "newcomer");
    let nc_store = newcomer.clone();
    let candidate = tokio::spawn(async move { election::lead(&nc_opts, &nc_store, seen).await });
    leader_url
        .wait_for(|l| l.as_deref() == Some("http://leader:8081"))
        .await
        .unwrap();
    until_applied(&newcomer, 42).await;
    let ids = task_ids(&newcomer).await;
    assert_eq!(ids.len(), 341);
    assert!(ids.contains(&"before-ha".to_owned()));
    assert_eq!(ids, task_ids(&leader).await);
    candidate.abort();
    drop(leadership);
}

/// The etcd options the test reads the log with.
mod etcd_client_options {
    pub fn prefix_keys_only() -> etcd_client::GetOptions {
        etcd_client::GetOptions::new()
            .with_prefix()
            .with_keys_only()
    }
}
