//! Cron across restarts of the scheduler: the real SQLite store under a temporary data directory,
//! the state rebuilt from it exactly as the binary does (`recover`), and a clock the test drives.

use aurora_model::Job;
use aurora_model::config::CronCollisionPolicy;
use aurora_model::task::ScheduleStatus;
use aurora_scheduler::core::{Core, ManualClock};
use aurora_scheduler::{Config, recover};
use std::path::Path;
use std::sync::Arc;

/// 2026-11-25 10:mm:ss UTC in ms.
fn at(mm: i64, ss: i64) -> i64 {
    1_795_600_800_000 + mm * 60_000 + ss * 1000
}

fn config(dir: &Path, clock: Arc<ManualClock>) -> Config {
    Config {
        cluster: "devcluster".into(),
        data_dir: dir.to_owned(),
        listen: ([127, 0, 0, 1], 0).into(),
        local_agent: false,
        local_agent_ports: (31000, 32000),
        backoff: Default::default(),
        cron_timezone: chrono_tz::Tz::UTC,
        clock,
        cluster_secret: None,
        agent_lost_timeout: std::time::Duration::from_secs(60),
        auth: Default::default(),
        tls: None,
        local_agent_same_user: false,
        task_users: Default::default(),
        limits: Default::default(),
        ha: None,
        backups: aurora_scheduler::storage::BackupOptions {
            dir: dir.join("backups"),
            interval: std::time::Duration::from_secs(3600),
            max_saved: 48,
        },
    }
}

fn report_job() -> Job {
    let mut j: Job = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/cron_report.json"
        ))
        .unwrap(),
    )
    .unwrap();
    j.cron_schedule = Some("* * * * *".into());
    j.cron_collision_policy = CronCollisionPolicy::KillExisting;
    j
}

async fn tick(core: &Core) -> usize {
    core.mutate(|s, now, ids, d| Ok(s.cron_tick(now, ids, d)))
        .await
        .unwrap()
}

/// The cron run of every task kept, and its state, sorted.
fn runs(core: &Core) -> Vec<(i64, ScheduleStatus)> {
    let mut v: Vec<_> = core
        .read()
        .tasks
        .values()
        .filter_map(|t| Some((t.cron_run_ms?, t.status)))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn firings_survive_restarts_once_each_and_missed_ones_are_not_run_late() {
    assert_eq!(
        aurora_model::time::utc_timestamp(at(0, 0)),
        "2026-11-25 10:00:00"
    );
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(at(0, 30)));
    let core = recover(&config(dir.path(), clock.clone())).unwrap();
    core.mutate(|s, now, _, d| s.schedule_cron(report_job(), now, d))
        .await
        .unwrap();
    clock.set(at(1, 0));
    assert_eq!(tick(&core).await, 1);
    assert_eq!(runs(&core), vec![(at(1, 0), ScheduleStatus::Pending)]);
    drop(core);

    // Restarted within the same minute: 10:01 is not fired again.
    clock.set(at(1, 30));
    let core = recover(&config(dir.path(), clock.clone())).unwrap();
    assert_eq!(runs(&core), vec![(at(1, 0), ScheduleStatus::Pending)]);
    clock.set(at(1, 59));
    assert_eq!(tick(&core).await, 0);
    // The next minute is not skipped (and KILL_EXISTING replaces the unplaced run).
    clock.set(at(2, 0));
    assert_eq!(tick(&core).await, 1);
    assert_eq!(
        runs(&core),
        vec![
            (at(1, 0), ScheduleStatus::Killed),
            (at(2, 0), ScheduleStatus::Pending)
        ]
    );
    drop(core);

    // Down from 10:02 to 10:04:30: the 10:03 and 10:04 firings are not run late.
    clock.set(at(4, 30));
    let core = recover(&config(dir.path(), clock.clone())).unwrap();
    assert_eq!(tick(&core).await, 0);
    assert_eq!(runs(&core).len(), 2);
    assert_eq!(core.read().next_cron_ms(), Some(at(5, 0)));
    clock.set(at(5, 0));
    assert_eq!(tick(&core).await, 1);
    assert_eq!(
        runs(&core).last(),
        Some(&(at(5, 0), ScheduleStatus::Pending))
    );

    // Descheduled: nothing fires after a restart either.
    core.mutate(|s, _, _, d| Ok(s.deschedule_cron(&report_job().path().unwrap().key, d)))
        .await
        .unwrap();
    drop(core);
    clock.set(at(9, 0));
    let core = recover(&config(dir.path(), clock.clone())).unwrap();
    assert_eq!(core.read().next_cron_ms(), None);
    assert_eq!(tick(&core).await, 0);
}
