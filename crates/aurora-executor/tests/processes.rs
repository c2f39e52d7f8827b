//! Real processes: ordering, retries, capture, rotation, kill, finals.

use aurora_executor::{TaskLaunch, TaskRunner, TaskState};
use aurora_model::config::{
    Constraint, Logger, LoggerDestination, LoggerMode, Process, Resources, RotatePolicy, Task,
};
use std::path::Path;
use std::time::Duration;

fn proc(name: &str, cmdline: &str) -> Process {
    Process::once(name, cmdline)
}

fn task(processes: Vec<Process>, order: &[&str]) -> Task {
    Task {
        name: "t".into(),
        processes,
        constraints: if order.is_empty() {
            vec![]
        } else {
            vec![Constraint {
                order: order.iter().map(|s| s.to_string()).collect(),
            }]
        },
        resources: Resources {
            cpu: 1.0,
            ram: 1 << 20,
            disk: 1 << 20,
            gpu: 0,
        },
        max_failures: 1,
        max_concurrency: 0,
        finalization_wait: 5,
        user: None,
    }
}

fn launch(dir: &Path, task: Task) -> TaskLaunch {
    TaskLaunch {
        task_id: "r-e-j-0-x".into(),
        task,
        sandbox: dir.join("sandbox"),
        state_dir: dir.join("executor"),
        ports: vec![("http".into(), 31337)],
        instance: 3,
        hostname: "h1".into(),
        user: "nobody".into(),
        isolation: None,
        run_as: None,
        disk_check: std::time::Duration::from_secs(5),
        health: None,
        lifecycle: None,
    }
}

fn log(dir: &Path, process: &str, run: u32, stream: &str) -> String {
    std::fs::read_to_string(
        dir.join("sandbox/.logs")
            .join(process)
            .join(run.to_string())
            .join(stream),
    )
    .unwrap_or_default()
}

/// A safety net only: every wait below is on the task's own status.
const LIMIT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn ordered_processes_run_in_order_with_runtime_bindings() {
    let dir = tempfile::tempdir().unwrap();
    let t = task(
        vec![
            proc("second", "cat step1.txt && echo second >> order.txt"),
            proc(
                "first",
                "echo 'port {{thermos.ports[http]}} instance {{mesos.instance}} on {{mesos.hostname}}' > step1.txt && echo first >> order.txt",
            ),
        ],
        &["first", "second"],
    );
    let h = TaskRunner::start(launch(dir.path(), t)).await.unwrap();
    let end = tokio::time::timeout(LIMIT, h.wait()).await.unwrap();
    assert_eq!(end.state, TaskState::Finished, "{:?}", end.message);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("sandbox/order.txt")).unwrap(),
        "first\nsecond\n"
    );
    assert_eq!(
        log(dir.path(), "second", 0, "stdout"),
        "port 31337 instance 3 on h1\n"
    );
}

#[tokio::test]
async fn a_failing_process_is_retried_up_to_max_failures_with_logs_per_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = proc("flaky", "echo run; echo oops >&2; exit 3");
    p.max_failures = 3;
    let h = TaskRunner::start(launch(dir.path(), task(vec![p], &[])))
        .await
        .unwrap();
    let end = tokio::time::timeout(LIMIT, h.wait()).await.unwrap();
    assert_eq!(end.state, TaskState::Failed);
    assert!(
        end.message
            .unwrap()
            .contains("flaky failed with exit status 3")
    );
    assert_eq!(end.processes[0].runs, 3);
    for run in 0..3 {
        assert_eq!(log(dir.path(), "flaky", run, "stdout"), "run\n");
        assert_eq!(log(dir.path(), "flaky", run, "stderr"), "oops\n");
    }
    assert!(!dir.path().join("sandbox/.logs/flaky/3").exists());
}

fn pids_in_group(pgid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after the command name (which may contain spaces): state ppid pgrp ...
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.first() != Some(&"Z")
            && fields.get(2).and_then(|g| g.parse::<i32>().ok()) == Some(pgid)
        {
            out.push(pid);
        }
    }
    out
}

#[tokio::test]
async fn kill_leaves_no_process_behind_and_runs_finals() {
    let dir = tempfile::tempdir().unwrap();
    let mut fin = proc("cleanup", "echo cleaned > cleanup.txt");
    fin.final_ = true;
    // The process ignores SIGTERM in a child, which only SIGKILL of the group stops.
    let t = task(
        vec![
            proc(
                "server",
                "(trap '' TERM; sleep 1000) & sleep 1000 & echo started; wait",
            ),
            fin,
        ],
        &[],
    );
    let h = TaskRunner::start(launch(dir.path(), t)).await.unwrap();
    let mut rx = h.status();
    let running = tokio::time::timeout(LIMIT, rx.wait_for(|s| s.processes[0].pid.is_some()))
        .await
        .unwrap()
        .unwrap()
        .clone();
    let pgid = running.processes[0].pid.unwrap();
    // Wait until bash has started its children.
    tokio::time::timeout(LIMIT, async {
        while pids_in_group(pgid).len() < 3 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .unwrap();
    let end = tokio::time::timeout(LIMIT, h.kill(Duration::from_millis(300)))
        .await
        .unwrap();
    assert_eq!(end.state, TaskState::Killed);
    // The group has been sent SIGKILL; a process the kernel has not yet scheduled to die still
    // shows as alive for a moment (a zombie does not count).
    tokio::time::timeout(LIMIT, async {
        while !pids_in_group(pgid).is_empty() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .unwrap_or_else(|_| {
        panic!(
            "processes of the task survived the kill: {:?}",
            pids_in_group(pgid)
        )
    });
    assert_eq!(
        std::fs::read_to_string(dir.path().join("sandbox/cleanup.txt")).unwrap(),
        "cleaned\n"
    );
}

#[tokio::test]
async fn rotation_keeps_backups() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = proc("chatty", "for i in $(seq 1 200); do echo line-$i; done");
    p.logger = Some(Logger {
        destination: LoggerDestination::File,
        mode: LoggerMode::Rotate,
        rotate: Some(RotatePolicy {
            log_size: 300,
            backups: 2,
        }),
    });
    let h = TaskRunner::start(launch(dir.path(), task(vec![p], &[])))
        .await
        .unwrap();
    assert_eq!(
        tokio::time::timeout(LIMIT, h.wait()).await.unwrap().state,
        TaskState::Finished
    );
    let base = dir.path().join("sandbox/.logs/chatty/0");
    // The copier may still be flushing the last bytes after the process exits.
    tokio::time::timeout(LIMIT, async {
        while !std::fs::read_to_string(base.join("stdout"))
            .unwrap_or_default()
            .contains("line-200")
        {
            tokio::task::yield_now().await;
        }
    })
    .await
    .unwrap();
    assert!(base.join("stdout.1").exists() && base.join("stdout.2").exists());
    assert!(
        !base.join("stdout.3").exists(),
        "only `backups` old files are kept"
    );
    assert!(std::fs::metadata(base.join("stdout.1")).unwrap().len() <= 300);
}

#[tokio::test]
async fn invalid_graphs_do_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let t = task(vec![proc("a", "true")], &["a", "ghost"]);
    assert!(TaskRunner::start(launch(dir.path(), t)).await.is_err());
}
