//! The scheduler's single-machine cluster seen over HTTP, async: the real `aurora-scheduler`
//! binary with its embedded agent (short flapping delays), a `reqwest` client, and waits on the
//! API's answers. The scheduler's own tests use it; what they expect of the answers is theirs.

use crate::LocalScheduler;
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

pub use crate::wait::LIMIT;

/// A scheduler and its embedded agent on a data directory the test owns. Dropping it kills the
/// scheduler and every task process it started.
pub struct Cluster {
    scheduler: LocalScheduler,
    pub http: reqwest::Client,
}

impl Cluster {
    pub async fn start(data: &Path) -> Cluster {
        Self::start_with(data, &[]).await
    }

    /// A cluster whose scheduler gets `extra` flags too.
    pub async fn start_with(data: &Path, extra: &[&str]) -> Cluster {
        let scheduler = LocalScheduler::new(data)
            .args([
                "--initial-flapping-task-delay-ms",
                "100",
                "--max-flapping-task-delay-ms",
                "400",
            ])
            .args(extra.iter().copied());
        let mut c = Cluster {
            scheduler,
            http: reqwest::Client::new(),
        };
        c.spawn().await;
        c
    }

    /// Starts the scheduler (again, after [`Cluster::kill9`]) and waits until it is healthy.
    pub async fn spawn(&mut self) {
        self.scheduler.spawn();
        self.until(async |c| {
            c.http
                .get(c.url("/health"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        })
        .await;
    }

    /// kill -9: the scheduler and its embedded agent die at once; task processes live on.
    pub fn kill9(&mut self) {
        self.scheduler.kill9();
    }

    pub fn url(&self, path: &str) -> String {
        self.scheduler.url(path)
    }

    /// Polls `check` (backing off between looks) until it holds; fails after [`LIMIT`].
    pub async fn until(&self, mut check: impl AsyncFnMut(&Cluster) -> bool) {
        let start = Instant::now();
        let mut pause = Duration::from_millis(5);
        while !check(self).await {
            assert!(
                start.elapsed() < LIMIT,
                "condition not reached within {LIMIT:?}"
            );
            tokio::time::sleep(pause).await; // polling an HTTP API: back off between looks
            pause = (pause * 2).min(Duration::from_millis(200));
        }
    }

    /// `POST /api/v1/jobs` with `config`.
    pub async fn create(&self, config: &Value) -> reqwest::Response {
        self.http
            .post(self.url("/api/v1/jobs"))
            .json(&json!({ "config": config }))
            .send()
            .await
            .expect("POST /api/v1/jobs")
    }

    /// `GET /api/v1/jobs/KEY`.
    pub async fn job(&self, key: &str) -> Value {
        self.http
            .get(self.url(&format!("/api/v1/jobs/{key}")))
            .send()
            .await
            .expect("GET a job")
            .json()
            .await
            .expect("a job as JSON")
    }

    /// The job's tasks (none if it has none or does not exist).
    pub async fn tasks(&self, key: &str) -> Vec<Value> {
        self.job(key).await["tasks"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Waits until `pred` holds for the job's tasks; returns them.
    pub async fn wait_tasks(&self, key: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let start = Instant::now();
        let mut pause = Duration::from_millis(5);
        loop {
            let t = self.tasks(key).await;
            if pred(&t) {
                return t;
            }
            assert!(
                start.elapsed() < LIMIT,
                "tasks of {key} never reached the expected state: {t:#?}"
            );
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(200));
        }
    }

    /// A task's output (`GET /api/v1/tasks/ID/logs`).
    pub async fn logs(&self, task_id: &str) -> String {
        self.http
            .get(self.url(&format!("/api/v1/tasks/{task_id}/logs")))
            .send()
            .await
            .expect("GET a task's logs")
            .text()
            .await
            .expect("logs as text")
    }

    /// Process groups a task's checkpoint names (the agent's view of what runs).
    pub fn groups(&self, task_id: &str) -> Vec<i32> {
        crate::checkpoint_groups(&self.scheduler.sandboxes().join(task_id))
    }
}

/// A task's status in the API's JSON ("" if it has none).
pub fn status(t: &Value) -> &str {
    t["status"].as_str().unwrap_or("")
}

/// `job` renamed `name`, its first process running `cmdline`.
pub fn with_cmdline(mut job: Value, name: &str, cmdline: &str) -> Value {
    job["name"] = json!(name);
    job["task"]["processes"][0]["cmdline"] = json!(cmdline);
    job
}
