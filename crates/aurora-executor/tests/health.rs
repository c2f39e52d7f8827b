//! Health checks with real processes: a task is RUNNING only once healthy, and a running task
//! that turns unhealthy is failed with the checker's reason. Shell and HTTP checkers.

use aurora_executor::{TaskHandle, TaskLaunch, TaskRunner, TaskState};
use aurora_model::config::{
    HealthCheckConfig, HealthCheckerConfig, HttpHealthChecker, Process, Resources,
    ShellHealthChecker, Task,
};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LIMIT: Duration = Duration::from_secs(20);

fn launch(dir: &Path, checker: HealthCheckerConfig, ports: Vec<(String, u16)>) -> TaskLaunch {
    TaskLaunch {
        task_id: "t".into(),
        task: Task {
            name: "t".into(),
            processes: vec![Process::once("server", "sleep 30")],
            constraints: vec![],
            resources: Resources {
                cpu: 0.1,
                ram: 64 << 20,
                disk: 64 << 20,
                gpu: 0,
            },
            max_failures: 1,
            max_concurrency: 0,
            finalization_wait: 1,
            user: None,
        },
        sandbox: dir.join("sandbox"),
        state_dir: dir.join("executor"),
        ports,
        instance: 0,
        hostname: "h".into(),
        user: "nobody".into(),
        isolation: None,
        run_as: None,
        disk_check: Duration::from_secs(60),
        health: Some(HealthCheckConfig {
            health_checker: checker,
            initial_interval_secs: 0.0,
            interval_secs: 0.05,
            max_consecutive_failures: 2,
            min_consecutive_successes: 1,
            timeout_secs: 1.0,
        }),
        lifecycle: None,
    }
}

/// Waits (polling a file the checker writes) until `path` exists.
async fn until_exists(path: &Path) {
    let start = Instant::now();
    while !path.exists() {
        assert!(start.elapsed() < LIMIT, "{} never appeared", path.display());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn until_state(h: &TaskHandle, state: TaskState) {
    let mut rx = h.status();
    tokio::time::timeout(LIMIT, rx.wait_for(|s| s.state == state))
        .await
        .expect("state never reached")
        .unwrap();
}

#[tokio::test]
async fn the_shell_checker_gates_running_and_fails_a_task_that_turns_unhealthy() {
    let dir = tempfile::tempdir().unwrap();
    let checker = HealthCheckerConfig {
        http: None,
        shell: Some(ShellHealthChecker {
            // Each check leaves a mark, so the test sees checks happen.
            shell_command: "touch checked; test -f ready".into(),
        }),
    };
    let mut l = launch(dir.path(), checker, vec![]);
    // A grace period long enough for a slow machine to write `ready` in time (once healthy,
    // failures count at once: the grace only delays "Not enough successful health checks").
    l.health.as_mut().unwrap().initial_interval_secs = 10.0;
    let h = TaskRunner::start(l).await.unwrap();
    let sandbox = dir.path().join("sandbox");
    until_exists(&sandbox.join("checked")).await;
    assert_eq!(
        h.status().borrow().state,
        TaskState::Starting,
        "not healthy yet"
    );
    std::fs::write(sandbox.join("ready"), "").unwrap();
    until_state(&h, TaskState::Running).await;
    std::fs::remove_file(sandbox.join("ready")).unwrap();
    let end = h.wait().await;
    assert_eq!(end.state, TaskState::Failed);
    assert_eq!(
        end.message.as_deref(),
        Some("Failed health check! 'touch checked; test -f ready' exited with 1")
    );
}

/// A health endpoint the test controls: answers `ok` with 200, or 500 once told to.
async fn endpoint(status: Arc<AtomicU16>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let code = status.load(Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let reply = format!(
                    "HTTP/1.1 {code} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                );
                let _ = s.write_all(reply.as_bytes()).await;
            });
        }
    });
    port
}

#[tokio::test]
async fn the_http_checker_reads_the_health_port() {
    let dir = tempfile::tempdir().unwrap();
    let status = Arc::new(AtomicU16::new(200));
    let port = endpoint(status.clone()).await;
    let checker = HealthCheckerConfig {
        http: Some(HttpHealthChecker {
            endpoint: "/health".into(),
            expected_response: "OK".into(),
            expected_response_code: 0,
        }),
        shell: None,
    };
    let h = TaskRunner::start(launch(dir.path(), checker, vec![("health".into(), port)]))
        .await
        .unwrap();
    until_state(&h, TaskState::Running).await;
    status.store(500, Ordering::SeqCst);
    let end = h.wait().await;
    assert_eq!(end.state, TaskState::Failed);
    let m = end.message.unwrap_or_default();
    assert_eq!(
        m,
        format!("Failed health check! http://127.0.0.1:{port}/health answered 500")
    );
}

#[tokio::test]
async fn without_a_health_port_the_http_checker_does_not_run() {
    let dir = tempfile::tempdir().unwrap();
    let checker = HealthCheckerConfig {
        http: Some(HttpHealthChecker {
            endpoint: "/health".into(),
            expected_response: "ok".into(),
            expected_response_code: 0,
        }),
        shell: None,
    };
    let h = TaskRunner::start(launch(dir.path(), checker, vec![]))
        .await
        .unwrap();
    until_state(&h, TaskState::Running).await;
    let end = h.kill(Duration::from_secs(1)).await;
    assert_eq!(end.state, TaskState::Killed);
}

/// A lifecycle endpoint that records the requests it gets.
async fn recorder(log: Arc<std::sync::Mutex<Vec<String>>>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n]);
                let line = request.lines().next().unwrap_or("").to_owned();
                log.lock().unwrap().push(line);
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    port
}

#[tokio::test]
async fn a_kill_calls_the_graceful_shutdown_endpoints_before_signals() {
    use aurora_model::config::{HttpLifecycleConfig, LifecycleConfig};
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let port = recorder(log.clone()).await;
    let mut l = launch(
        dir.path(),
        HealthCheckerConfig {
            http: None,
            shell: None,
        },
        vec![("health".into(), port)],
    );
    l.health = None;
    // The process notes SIGTERM, which must come after both endpoints were called.
    l.task.processes[0].cmdline =
        "trap 'echo TERM > term; exit 0' TERM; while true; do sleep 0.05; done".into();
    l.lifecycle = Some(LifecycleConfig {
        http: Some(HttpLifecycleConfig {
            port: "health".into(),
            graceful_shutdown_endpoint: "/quitquitquit".into(),
            shutdown_endpoint: "/abortabortabort".into(),
            graceful_shutdown_wait_secs: 0,
            shutdown_wait_secs: 0,
        }),
    });
    let h = TaskRunner::start(l).await.unwrap();
    until_state(&h, TaskState::Running).await;
    let end = h.kill(Duration::from_secs(5)).await;
    assert_eq!(end.state, TaskState::Killed);
    assert_eq!(
        *log.lock().unwrap(),
        vec![
            "POST /quitquitquit HTTP/1.1".to_owned(),
            "POST /abortabortabort HTTP/1.1".to_owned()
        ]
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("sandbox/term")).unwrap(),
        "TERM\n",
        "then SIGTERM"
    );
}
