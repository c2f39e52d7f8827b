//! Confinement with real processes and the host's real cgroups: tasks run as another user, their
//! memory and CPU are limited, and a task that exceeds its memory or disk is stopped with that
//! reason. These need root (to create cgroups and switch users); elsewhere they say so and pass.

use aurora_executor::isolation::{Isolation, RunAs};
use aurora_executor::{TaskLaunch, TaskRunner, TaskState};
use aurora_model::config::{Process, Resources, Task};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const MB: i64 = 1024 * 1024;

fn root() -> bool {
    let is_root = nix::unistd::geteuid().is_root();
    if !is_root {
        eprintln!("SKIPPED: confinement tests need root");
    }
    is_root
}

fn task(cmdline: &str, cpu: f64, ram: i64, disk: i64) -> Task {
    Task {
        name: "t".into(),
        processes: vec![Process::once("p", cmdline)],
        constraints: vec![],
        resources: Resources {
            cpu,
            ram,
            disk,
            gpu: 0,
        },
        max_failures: 1,
        max_concurrency: 0,
        finalization_wait: 1,
        user: None,
    }
}

/// The isolation back end for one test, under its own cgroup name, removed when the test ends.
struct Scoped(Arc<Isolation>);

impl Drop for Scoped {
    fn drop(&mut self) {
        self.0.remove_empty();
    }
}

fn isolation(name: &str) -> Scoped {
    Scoped(Arc::new(Isolation::detect(&format!(
        "aurora-test-{}-{name}",
        std::process::id()
    ))))
}

fn launch(dir: &Path, id: &str, task: Task, isolation: Option<Arc<Isolation>>) -> TaskLaunch {
    TaskLaunch {
        task_id: id.into(),
        task,
        sandbox: dir.join(id),
        state_dir: dir.join("executor").join(id),
        ports: vec![],
        instance: 0,
        hostname: "h".into(),
        user: "nobody".into(),
        isolation,
        run_as: None,
        disk_check: Duration::from_millis(100),
        health: None,
        lifecycle: None,
    }
}

fn stdout(dir: &Path, id: &str) -> String {
    std::fs::read_to_string(dir.join(id).join(".logs/p/0/stdout")).unwrap_or_default()
}

#[tokio::test]
async fn a_task_runs_as_its_user_in_its_own_sandbox() {
    if !root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let mut l = launch(
        dir.path(),
        "as-nobody",
        task(
            "id -un; touch mine && stat -c %U mine",
            0.1,
            64 * MB,
            64 * MB,
        ),
        None,
    );
    l.run_as = Some(RunAs::lookup("nobody").unwrap());
    let end = TaskRunner::start(l).await.unwrap().wait().await;
    assert_eq!(end.state, TaskState::Finished, "{:?}", end.message);
    assert_eq!(stdout(dir.path(), "as-nobody"), "nobody\nnobody\n");
}

#[tokio::test]
async fn memory_and_cpu_are_limited_by_the_task_s_cgroup() {
    if !root() {
        return;
    }
    let scoped = isolation("cpu");
    let iso = scoped.0.clone();
    let dir = tempfile::tempdir().unwrap();
    let h = TaskRunner::start(launch(
        dir.path(),
        "limited",
        task("sleep 30", 0.5, 48 * MB, 64 * MB),
        Some(iso.clone()),
    ))
    .await
    .unwrap();
    let mut status = h.status();
    status
        .wait_for(|s| s.state == TaskState::Running)
        .await
        .unwrap();
    match iso.as_ref() {
        Isolation::CgroupV1 { memory, cpu } => {
            let read = |p: &Path| std::fs::read_to_string(p).unwrap().trim().to_owned();
            assert_eq!(read(&cpu.join("limited/cpu.cfs_quota_us")), "50000");
            assert_eq!(read(&cpu.join("limited/cpu.cfs_period_us")), "100000");
            assert_eq!(
                read(&memory.join("limited/memory.limit_in_bytes")),
                (48 * MB).to_string()
            );
            // The process is in the task's cgroups.
            let procs = read(&memory.join("limited/cgroup.procs"));
            assert!(!procs.is_empty(), "no process in the memory cgroup");
        }
        Isolation::CgroupV2 { root } => {
            let read = |f: &str| {
                std::fs::read_to_string(root.join("limited").join(f))
                    .unwrap()
                    .trim()
                    .to_owned()
            };
            assert_eq!(read("cpu.max"), "50000 100000");
            assert_eq!(read("memory.max"), (48 * MB).to_string());
            assert!(!read("cgroup.procs").is_empty());
        }
        Isolation::Rlimits => eprintln!("no usable cgroup here: limits are rlimits"),
    }
    let end = h.kill(Duration::from_secs(1)).await;
    assert_eq!(end.state, TaskState::Killed);
    // The task's cgroups go with it.
    match iso.as_ref() {
        Isolation::CgroupV1 { memory, cpu } => {
            assert!(!memory.join("limited").exists() && !cpu.join("limited").exists());
        }
        Isolation::CgroupV2 { root } => assert!(!root.join("limited").exists()),
        Isolation::Rlimits => {}
    }
}

#[tokio::test]
async fn a_task_over_its_memory_is_stopped_with_that_reason() {
    if !root() {
        return;
    }
    let scoped = isolation("oom");
    let iso = scoped.0.clone();
    let dir = tempfile::tempdir().unwrap();
    // bash keeps the whole output of the substitution in memory: far more than 32 MB.
    let hog = "x=$(head -c 400000000 /dev/zero | tr '\\0' a); echo survived ${#x}";
    let end = TaskRunner::start(launch(
        dir.path(),
        "hog",
        task(hog, 1.0, 32 * MB, 64 * MB),
        Some(iso.clone()),
    ))
    .await
    .unwrap()
    .wait()
    .await;
    assert_eq!(end.state, TaskState::Failed, "{:?}", end.message);
    assert!(!stdout(dir.path(), "hog").contains("survived"));
    if !matches!(iso.as_ref(), Isolation::Rlimits) {
        let m = end.message.unwrap_or_default();
        assert!(m.starts_with("Memory limit exceeded"), "{m}");
        assert!(m.contains("32 MB"), "{m}");
    }
}

#[tokio::test]
async fn a_task_over_its_disk_is_stopped_with_that_reason() {
    let dir = tempfile::tempdir().unwrap();
    // Written beside the sandbox, then moved in at once: the check sees all of it or none.
    let fill = "head -c 5000000 /dev/zero > ../big.tmp && mv ../big.tmp big; sleep 30";
    let end = TaskRunner::start(launch(
        dir.path(),
        "filler",
        task(fill, 0.1, 64 * MB, MB),
        None,
    ))
    .await
    .unwrap()
    .wait()
    .await;
    assert_eq!(end.state, TaskState::Failed);
    let m = end.message.unwrap_or_default();
    assert!(
        m.starts_with("Disk limit exceeded: the sandbox holds 4 MB"),
        "{m}"
    );
    assert!(m.contains("disk (1 MB)"), "{m}");
}

#[test]
fn what_a_dead_executor_left_in_a_task_s_cgroups_is_killed_and_removed() {
    if !root() {
        return;
    }
    // Under `aurora/`, where agents make their groups (`aurora/AGENT`).
    let iso = Scoped(Arc::new(Isolation::detect(&format!(
        "aurora/test-{}-leftover",
        std::process::id()
    ))));
    let limits = iso
        .0
        .for_task(
            "t-leftover",
            &Resources {
                cpu: 0.5,
                ram: 64 * MB,
                disk: 0,
                gpu: 0,
            },
        )
        .unwrap();
    let dirs: Vec<std::path::PathBuf> = match &*iso.0 {
        Isolation::CgroupV2 { root } => vec![root.join("t-leftover")],
        Isolation::CgroupV1 { memory, cpu } => {
            vec![memory.join("t-leftover"), cpu.join("t-leftover")]
        }
        Isolation::Rlimits => return,
    };
    assert!(dirs.iter().all(|d| d.exists()));
    // A process of the task that its checkpoint never named, left running in its cgroups.
    let mut stray = std::process::Command::new("sleep")
        .arg("100")
        .spawn()
        .unwrap();
    for d in &dirs {
        std::fs::write(d.join("cgroup.procs"), stray.id().to_string()).unwrap();
    }
    // The executor that made them is gone (its limits are forgotten, not removed).
    std::mem::forget(limits);
    aurora_executor::isolation::remove_leftover_cgroups("t-leftover");
    let status = stray.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9),
        "the stray process was killed"
    );
    assert!(dirs.iter().all(|d| !d.exists()), "{dirs:?}");
    // Names that could leave the aurora tree are ignored.
    aurora_executor::isolation::remove_leftover_cgroups("../x");
}
