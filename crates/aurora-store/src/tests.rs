//! Unit tests of the SQLite store: every kind of `StoreOp` read back after a reopen, group
//! commit (one failing batch, concurrent batches, kill -9 of a writer) and migrations. The
//! store's code lives in the modules beside this one, not here.

use super::*;
use aurora_model::task::{ScheduleStatus, TaskEvent};

fn job(name: &str) -> Job {
    let json = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/hello_world.json"
    ))
    .unwrap();
    let mut j: Job = serde_json::from_str(&json).unwrap();
    j.name = name.into();
    j
}

fn task(id: &str, job: &str) -> ScheduledTask {
    ScheduledTask {
        task_id: id.into(),
        job: JobKey::new("www-data", "prod", job).unwrap(),
        instance: 0,
        status: ScheduleStatus::Pending,
        agent_id: None,
        host: None,
        ports: vec![("http".into(), 31000)],
        failure_count: 0,
        ancestor_id: None,
        penalty_ms: None,
        cron_run_ms: None,
        config_digest: None,
        events: vec![TaskEvent {
            timestamp_ms: 1,
            status: ScheduleStatus::Pending,
            message: Some("m".into()),
        }],
    }
}

#[test]
fn ops_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    {
        let (store, snap) = Store::open(&path).unwrap();
        assert!(snap.jobs.is_empty() && snap.tasks.is_empty());
        store
            .apply(vec![
                StoreOp::SaveJob {
                    config: Box::new(job("a")),
                },
                StoreOp::SaveTask {
                    task: Box::new(task("t1", "a")),
                },
                StoreOp::SaveTask {
                    task: Box::new(task("t2", "a")),
                },
            ])
            .unwrap();
        let mut t1 = task("t1", "a");
        t1.status = ScheduleStatus::Assigned;
        store
            .apply(vec![
                StoreOp::SaveTask { task: Box::new(t1) },
                StoreOp::RemoveTask {
                    task_id: "t2".into(),
                },
            ])
            .unwrap();
    }
    let (_, snap) = Store::open(&path).unwrap();
    assert_eq!(snap.jobs, vec![job("a")]);
    assert!(snap.crons.is_empty());
    assert_eq!(snap.tasks.len(), 1);
    assert_eq!(snap.tasks[0].status, ScheduleStatus::Assigned);
    assert_eq!(snap.tasks[0].ports, vec![("http".to_owned(), 31000)]);
}

#[test]
fn a_failing_batch_leaves_the_others_committed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let (store, _) = Store::open(&path).unwrap();
    let mut bad = job("bad");
    bad.role = "not a role".into(); // its key cannot be made: the op fails
    let a = store.submit(vec![StoreOp::SaveJob {
        config: Box::new(job("ok1")),
    }]);
    let b = store.submit(vec![
        StoreOp::SaveTask {
            task: Box::new(task("tb", "bad")),
        },
        StoreOp::SaveJob {
            config: Box::new(bad),
        },
    ]);
    let c = store.submit(vec![StoreOp::SaveJob {
        config: Box::new(job("ok2")),
    }]);
    assert!(a.wait_blocking().is_ok());
    assert!(b.wait_blocking().is_err());
    assert!(c.wait_blocking().is_ok());
    drop(store);
    let (_, snap) = Store::open(&path).unwrap();
    let mut names: Vec<_> = snap.jobs.iter().map(|j| j.name.clone()).collect();
    names.sort();
    assert_eq!(names, vec!["ok1", "ok2"]);
    assert!(
        snap.tasks.is_empty(),
        "the failing batch is absent as a whole"
    );
}

#[test]
fn concurrent_batches_are_all_acknowledged_and_durable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let (store, _) = Store::open(&path).unwrap();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..50 {
                    store
                        .apply(vec![StoreOp::SaveTask {
                            task: Box::new(task(&format!("t{t}-{i}"), "a")),
                        }])
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    drop(store);
    let (_, snap) = Store::open(&path).unwrap();
    assert_eq!(snap.tasks.len(), 400);
}

#[test]
fn migrations_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    for _ in 0..3 {
        let (store, _) = Store::open(&path).unwrap();
        store
            .apply(vec![StoreOp::SaveJob {
                config: Box::new(job("a")),
            }])
            .unwrap();
    }
    let conn = Connection::open(&path).unwrap();
    let v: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(v, 6);
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

/// Child mode of the kill -9 test: apply batches forever, printing each acknowledged number.
#[test]
#[ignore = "run by acknowledged_batches_survive_kill_9 in a child process"]
fn child_writer() {
    let Ok(path) = std::env::var("AURORA_STORE_CHILD_PATH") else {
        return;
    };
    let (store, _) = Store::open(Path::new(&path)).unwrap();
    use std::io::Write;
    let mut out = std::io::stdout();
    for i in 0.. {
        store
            .apply(vec![StoreOp::SaveTask {
                task: Box::new(task(&format!("k{i}"), "a")),
            }])
            .unwrap();
        writeln!(out, "ack {i}").unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn acknowledged_batches_survive_kill_9() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "tests::child_writer",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("AURORA_STORE_CHILD_PATH", &path)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut last = None;
    while let Some(Ok(line)) = lines.next() {
        if let Some(n) = line.strip_prefix("ack ") {
            last = Some(n.parse::<u64>().unwrap());
            if last == Some(200) {
                break;
            }
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let last = last.expect("the child acknowledged batches");
    let (_, snap) = Store::open(&path).unwrap();
    let ids: std::collections::HashSet<String> =
        snap.tasks.into_iter().map(|t| t.task_id).collect();
    for i in 0..=last {
        assert!(
            ids.contains(&format!("k{i}")),
            "acknowledged batch {i} was lost"
        );
    }
}

#[test]
fn cron_states_and_maintenance_survive_a_reopen_and_are_removed() {
    use aurora_model::cron::CronState;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let a = JobKey::new("www-data", "prod", "a").unwrap();
    let b = JobKey::new("www-data", "prod", "b").unwrap();
    let fired = CronState {
        cursor_ms: 120_000,
        last_run_ms: Some(120_000),
        pending_run_ms: Some(120_000),
    };
    {
        let (store, _) = Store::open(&path).unwrap();
        store
            .apply(vec![
                StoreOp::SaveCron {
                    key: a.clone(),
                    state: CronState::scheduled_at(1),
                },
                StoreOp::SaveCron {
                    key: b.clone(),
                    state: CronState::scheduled_at(2),
                },
                StoreOp::SaveCron {
                    key: a.clone(),
                    state: fired,
                },
                StoreOp::RemoveCron { key: b },
                StoreOp::SetMaintenance {
                    host: "h1".into(),
                    draining: true,
                },
                StoreOp::SetMaintenance {
                    host: "h2".into(),
                    draining: true,
                },
                StoreOp::SetMaintenance {
                    host: "h2".into(),
                    draining: true,
                },
                StoreOp::SetMaintenance {
                    host: "h1".into(),
                    draining: false,
                },
            ])
            .unwrap();
    }
    let (_, snap) = Store::open(&path).unwrap();
    assert_eq!(snap.crons, vec![(a, fired)]);
    assert_eq!(snap.maintenance, vec!["h2".to_owned()]);
}

/// A file written by the first schema (before cron) opens, upgraded, with its jobs intact.
#[test]
fn a_version_1_file_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE jobs (key TEXT PRIMARY KEY NOT NULL, config TEXT NOT NULL);
             CREATE TABLE tasks (id TEXT PRIMARY KEY NOT NULL, job TEXT NOT NULL, body BLOB NOT NULL);
             CREATE INDEX tasks_by_job ON tasks (job);
             PRAGMA user_version = 1;",
        )
        .unwrap();
        conn.execute(
            "INSERT INTO jobs (key, config) VALUES ('www-data/prod/a', ?1)",
            [serde_json::to_string(&job("a")).unwrap()],
        )
        .unwrap();
    }
    let (store, snap) = Store::open(&path).unwrap();
    assert_eq!(snap.jobs, vec![job("a")]);
    let key = JobKey::new("www-data", "prod", "a").unwrap();
    store
        .apply(vec![StoreOp::SaveCron {
            key,
            state: aurora_model::cron::CronState::scheduled_at(5),
        }])
        .unwrap();
}

#[test]
fn tokens_are_kept_by_hash_and_found_by_another_process() {
    use aurora_model::auth::TokenRecord;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let mut record = TokenRecord {
        id: "abc".into(),
        hash: "abcdef".into(),
        user: "alice".into(),
        issued_ms: 1,
        expires_ms: 2,
        bind_ip: Some("10.0.0.1".into()),
        revoked_ms: None,
    };
    let (store, _) = Store::open(&path).unwrap();
    store
        .apply(vec![StoreOp::SaveToken {
            record: record.clone(),
        }])
        .unwrap();
    assert_eq!(find_token(&path, "abcdef").unwrap(), Some(record.clone()));
    assert_eq!(find_token(&path, "nope").unwrap(), None);
    record.revoked_ms = Some(3);
    store
        .apply(vec![StoreOp::SaveToken {
            record: record.clone(),
        }])
        .unwrap();
    drop(store);
    let (_, snap) = Store::open(&path).unwrap();
    assert_eq!(snap.tokens, vec![record]);
}

#[test]
fn job_configurations_and_updates_survive_a_reopen_and_are_removed() {
    use aurora_model::update::{
        InstanceProgress, JobUpdate, UpdateKind, UpdateSettings, UpdateStatus,
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let key = JobKey::new("www-data", "prod", "a").unwrap();
    let config = job("a");
    let digest = config.instance_digest();
    let update = JobUpdate {
        id: "u1".into(),
        job: key.clone(),
        kind: UpdateKind::Update,
        user: "alice".into(),
        settings: UpdateSettings::from_config(&config.update_config).unwrap(),
        desired_config: digest.clone(),
        desired_instances: 2,
        initial: [(0, "old".to_owned())].into(),
        initial_instances: 1,
        initial_config: Some("old".into()),
        worklist: vec![1, 0],
        status: UpdateStatus::RollingForward,
        progress: [(0, InstanceProgress::default())].into(),
        groups_started: 0,
        autopaused_at_group: 0,
        last_pulse_ms: None,
        metadata: Default::default(),
        events: Vec::new(),
        instance_events: Vec::new(),
    };
    let (store, _) = Store::open(&path).unwrap();
    store
        .apply(vec![
            StoreOp::SaveJobConfig {
                key: key.clone(),
                digest: digest.clone(),
                config: Box::new(config.clone()),
            },
            StoreOp::SaveUpdate {
                update: Box::new(update.clone()),
            },
        ])
        .unwrap();
    drop(store);
    let (store, snap) = Store::open(&path).unwrap();
    assert_eq!(
        snap.job_configs,
        vec![(key.clone(), digest.clone(), config)]
    );
    assert_eq!(snap.updates, vec![update]);
    store
        .apply(vec![
            StoreOp::RemoveJobConfig { key, digest },
            StoreOp::RemoveUpdate { id: "u1".into() },
        ])
        .unwrap();
    drop(store);
    let (_, snap) = Store::open(&path).unwrap();
    assert!(snap.job_configs.is_empty() && snap.updates.is_empty());
}

/// A log in memory, shared with the test: what the store's side of replication is tested
/// against (etcd's log is tested end to end in `aurora-ha` and the scheduler's HA tests).
#[derive(Clone, Default)]
struct MemoryLog {
    entries: std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>,
    refuse: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl replication::Replicator for MemoryLog {
    fn append(&mut self, entry: &[u8]) -> Result<u64, String> {
        if self.refuse.load(std::sync::atomic::Ordering::SeqCst) {
            return Err("lost the leadership".into());
        }
        let mut e = self.entries.lock().unwrap();
        e.push(entry.to_vec());
        Ok(e.len() as u64)
    }
}

#[tokio::test]
async fn a_leader_appends_each_transaction_to_the_log_before_it_commits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("leader.db");
    let log = MemoryLog::default();
    {
        let (store, _) = Store::open(&path).unwrap();
        store.lead(Box::new(log.clone()));
        store
            .submit(vec![StoreOp::SaveJob {
                config: Box::new(job("a")),
            }])
            .wait()
            .await
            .unwrap();
        // A batch that fails to apply is left out of the entry; the other batch is in it.
        let bad = store.submit(vec![StoreOp::SaveJob {
            config: Box::new(Job {
                role: String::new(),
                ..job("bad")
            }),
        }]);
        let good = store.submit(vec![StoreOp::SaveTask {
            task: Box::new(task("t1", "a")),
        }]);
        assert!(bad.wait().await.is_err());
        good.wait().await.unwrap();
        let (snapshot, index) = store.load().await.unwrap();
        assert_eq!(index, log.entries.lock().unwrap().len() as u64);
        assert_eq!((snapshot.jobs.len(), snapshot.tasks.len()), (1, 1));
        for entry in log.entries.lock().unwrap().iter() {
            for op in replication::decode_entry(entry).unwrap() {
                assert!(
                    !matches!(&op, StoreOp::SaveJob { config } if config.name == "bad"),
                    "a refused batch reached the log"
                );
            }
        }

        // The log refuses (the leadership is lost): nothing is acknowledged or written.
        log.refuse.store(true, std::sync::atomic::Ordering::SeqCst);
        let refused = store
            .submit(vec![StoreOp::SaveJob {
                config: Box::new(job("late")),
            }])
            .wait()
            .await;
        assert!(
            matches!(refused, Err(StoreError::Replication(_))),
            "{refused:?}"
        );
    }
    let (_, snapshot) = Store::open(&path).unwrap();
    assert!(snapshot.jobs.iter().all(|j| j.name != "late"));
    assert_eq!(snapshot.jobs.len(), 1);
}

#[tokio::test]
async fn a_follower_applies_the_log_in_order_and_installs_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let log = MemoryLog::default();
    let (leader, _) = Store::open(&dir.path().join("leader.db")).unwrap();
    leader.lead(Box::new(log.clone()));
    for name in ["a", "b", "c"] {
        leader
            .submit(vec![
                StoreOp::SaveJob {
                    config: Box::new(job(name)),
                },
                StoreOp::SaveTask {
                    task: Box::new(task(&format!("t-{name}"), name)),
                },
            ])
            .wait()
            .await
            .unwrap();
    }
    leader
        .submit(vec![StoreOp::RemoveTask {
            task_id: "t-b".into(),
        }])
        .wait()
        .await
        .unwrap();
    let entries = log.entries.lock().unwrap().clone();
    let follower_path = dir.path().join("follower.db");
    let (follower, _) = Store::open(&follower_path).unwrap();
    // A gap is refused; entries already applied are skipped.
    let gap = follower
        .follow(2, replication::decode_entry(&entries[1]).unwrap())
        .wait()
        .await;
    assert!(matches!(gap, Err(StoreError::Replication(_))), "{gap:?}");
    for (i, e) in entries.iter().enumerate() {
        let ops = replication::decode_entry(e).unwrap();
        follower
            .follow(i as u64 + 1, ops.clone())
            .wait()
            .await
            .unwrap();
        follower.follow(i as u64 + 1, ops).wait().await.unwrap();
    }
    let (theirs, their_index) = leader.load().await.unwrap();
    let (ours, our_index) = follower.load().await.unwrap();
    assert_eq!(our_index, their_index);
    let ids = |s: &Snapshot| {
        let mut ids: Vec<String> = s.tasks.iter().map(|t| t.task_id.clone()).collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&ours), ["t-a", "t-c"]);
    assert_eq!(ids(&ours), ids(&theirs));
    assert_eq!(ours.jobs.len(), 3);

    // A snapshot (through its bytes, as the log keeps it) replaces everything.
    let bytes = replication::encode_snapshot(&theirs);
    let mut snapshot = replication::decode_snapshot(&bytes).unwrap();
    snapshot.jobs.retain(|j| j.name == "a");
    snapshot.tasks.retain(|t| t.task_id == "t-a");
    follower.replace(snapshot, 40).wait().await.unwrap();
    drop(follower);
    let (reopened, after) = Store::open(&follower_path).unwrap();
    assert_eq!(after.jobs.len(), 1);
    assert_eq!(ids(&after), ["t-a"]);
    assert_eq!(reopened.load().await.unwrap().1, 40);
}

#[test]
fn a_backup_holds_the_state_at_its_time_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");
    let (store, _) = Store::open(&db).unwrap();
    store
        .apply(vec![
            StoreOp::SaveJob {
                config: Box::new(job("a")),
            },
            StoreOp::SaveTask {
                task: Box::new(task("t1", "a")),
            },
        ])
        .unwrap();
    let dest = dir.path().join("backup.db");
    backup(&db, &dest).unwrap();
    store
        .apply(vec![StoreOp::RemoveTask {
            task_id: "t1".into(),
        }])
        .unwrap();
    let snapshot = read_backup(&dest).unwrap();
    assert_eq!(snapshot.jobs.len(), 1);
    assert_eq!(snapshot.tasks[0].task_id, "t1");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // Never over an existing file; a file that is no store is refused.
    assert!(backup(&db, &dest).is_err());
    std::fs::write(dir.path().join("junk.db"), b"not sqlite").unwrap();
    assert!(read_backup(&dir.path().join("junk.db")).is_err());
}
