//! Attacks on the executor at its own boundary (the agent's end-to-end ones are in
//! `crates/aurora/tests/attacks_sandbox.rs`): a process named like a path is refused before
//! anything touches the disk; the executor's state files read back as a FIFO, `/dev/zero` or
//! a forged checkpoint neither hang it, exhaust its memory, nor make it signal a process group
//! that is not the task's. The cgroup check needs root (cgroups); elsewhere it says so and
//! passes.

use aurora_executor::checkpoint::{self, Checkpoint};
use aurora_executor::isolation::Isolation;
use aurora_executor::planner::PlanError;
use aurora_executor::{ExecutorError, TaskLaunch, TaskRunner};
use aurora_model::config::{Process, Resources, Task};
use std::path::Path;
use std::time::Duration;

fn launch(dir: &Path, process: &str) -> TaskLaunch {
    TaskLaunch {
        task_id: "t".into(),
        task: Task {
            name: "t".into(),
            processes: vec![Process::once(process, "echo escaped")],
            constraints: vec![],
            resources: Resources {
                cpu: 0.1,
                ram: 64 << 20,
                disk: 0,
                gpu: 0,
            },
            max_failures: 1,
            max_concurrency: 0,
            finalization_wait: 1,
            user: None,
        },
        sandbox: dir.join("sandbox"),
        state_dir: dir.join("executor"),
        ports: vec![],
        instance: 0,
        hostname: "h".into(),
        user: "nobody".into(),
        isolation: None,
        run_as: None,
        disk_check: Duration::from_secs(60),
        health: None,
        lifecycle: None,
    }
}

#[tokio::test]
async fn a_process_named_like_a_path_is_refused_before_the_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outside = dir.path().join("outside");
    for name in ["../outside", outside.to_str().expect("utf-8"), ".logs", ""] {
        match TaskRunner::start(launch(dir.path(), name)).await {
            Err(ExecutorError::Plan(PlanError::BadName { index: 0, .. })) => {}
            Err(e) => panic!("{name}: refused for another reason: {e}"),
            Ok(_) => panic!("{name}: started"),
        }
    }
    assert!(
        !outside.exists(),
        "something was written outside the sandbox"
    );
    assert!(
        !dir.path().join("sandbox").exists(),
        "refused before the sandbox is made"
    );
}

/// Runs `f` on a thread, failing the test if it takes longer than a few seconds (a read that
/// hangs on a FIFO would never return).
fn watchdog<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("{what} hung"))
}

#[tokio::test]
async fn state_files_that_are_a_fifo_or_dev_zero_are_refused_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("executor");
    std::fs::create_dir_all(&state).expect("mkdir");
    let mode = nix::sys::stat::Mode::from_bits_truncate(0o600);
    nix::unistd::mkfifo(&state.join("checkpoint.json"), mode).expect("mkfifo");
    std::os::unix::fs::symlink("/dev/zero", state.join("processes.json")).expect("link");
    let s = state.clone();
    assert!(watchdog("reading a FIFO checkpoint", move || checkpoint::read(&s)).is_none());
    let s = state.clone();
    let report = watchdog("reading /dev/zero as the report", move || {
        aurora_executor::report::read(&s)
    });
    assert!(report.is_err(), "a link to /dev/zero was read");
    // A huge regular file is refused too, without reading it all.
    std::fs::remove_file(state.join("processes.json")).expect("rm");
    let f = std::fs::File::create(state.join("processes.json")).expect("create");
    f.set_len(8 << 30).expect("a sparse 8 GiB file");
    assert!(matches!(
        aurora_executor::report::read(&state),
        Err(aurora_executor::beneath::ReadError::TooLarge { .. })
    ));
    assert!(checkpoint::adopt(&state, None).is_none());
}

#[tokio::test]
async fn a_forged_checkpoint_does_not_get_another_process_group_adopted_or_killed() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIPPED: the cgroup check of a checkpoint needs root");
        return;
    }
    let iso = Isolation::detect(&format!("aurora-test-{}-forged", std::process::id()));
    if matches!(iso, Isolation::Rlimits) {
        eprintln!("SKIPPED: no cgroup back end on this host");
        return;
    }
    let mut victim = {
        use std::os::unix::process::CommandExt;
        std::process::Command::new("sleep")
            .arg("600")
            .process_group(0)
            .spawn()
            .expect("a victim")
    };
    let pgid = victim.id() as i32;
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("forged");
    let forged = Checkpoint {
        task_id: "forged".into(),
        groups: vec![pgid],
        terminal: false,
    };
    checkpoint::write(&state, &forged).expect("written");
    assert!(
        checkpoint::adopt(&state, Some(&iso)).is_none(),
        "a group outside the task's cgroup was adopted"
    );
    assert!(
        victim.try_wait().expect("wait").is_none(),
        "the victim lives"
    );
    let _ = victim.kill();
    let _ = victim.wait();
    iso.remove_empty();
}
