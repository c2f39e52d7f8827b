//! The harness shared by the end-to-end tests: the real `aurora-scheduler` binary with its
//! embedded agent on a free port of 127.0.0.1, a temporary data directory, and clean-up of every
//! process it started (task processes included) when a test ends, however it ends.
#![allow(dead_code)] // each test binary uses part of it

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A safety net for waits on observable state (never a synchronisation sleep).
pub const LIMIT: Duration = Duration::from_secs(30);

pub struct Cluster {
    pub child: Option<Child>,
    pub port: u16,
    pub data: PathBuf,
    pub http: reqwest::Client,
    /// More flags for the scheduler.
    pub extra: Vec<String>,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Cluster {
    pub async fn start(data: &Path) -> Cluster {
        Self::start_with(data, &[]).await
    }

    /// A cluster whose scheduler gets `extra` flags too.
    pub async fn start_with(data: &Path, extra: &[&str]) -> Cluster {
        let mut c = Cluster {
            child: None,
            port: free_port(),
            data: data.to_owned(),
            http: reqwest::Client::new(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        c.spawn().await;
        c
    }

    pub async fn spawn(&mut self) {
        let child = Command::new(env!("CARGO_BIN_EXE_aurora-scheduler"))
            .args([
                "--local-agent",
                "--listen",
                &format!("127.0.0.1:{}", self.port),
                "--data-dir",
            ])
            .arg(&self.data)
            .args([
                "--initial-flapping-task-delay-ms",
                "100",
                "--max-flapping-task-delay-ms",
                "400",
            ])
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
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
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

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

    pub async fn create(&self, config: &Value) -> reqwest::Response {
        self.http
            .post(self.url("/api/v1/jobs"))
            .json(&json!({ "config": config }))
            .send()
            .await
            .unwrap()
    }

    pub async fn job(&self, key: &str) -> Value {
        self.http
            .get(self.url(&format!("/api/v1/jobs/{key}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

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

    pub async fn logs(&self, task_id: &str) -> String {
        self.http
            .get(self.url(&format!("/api/v1/tasks/{task_id}/logs")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Process groups a task's checkpoint names (the agent's view of what runs).
    pub fn groups(&self, task_id: &str) -> Vec<i32> {
        let p = self
            .data
            .join("agent/sandboxes")
            .join(task_id)
            .join(".executor/checkpoint.json");
        let cp: Value =
            serde_json::from_slice(&std::fs::read(p).unwrap_or_default()).unwrap_or(json!({}));
        cp["groups"]
            .as_array()
            .map(|g| {
                g.iter()
                    .filter_map(|x| x.as_i64())
                    .map(|x| x as i32)
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.kill9();
        // Tests clean up every process they start, task processes included.
        if let Ok(entries) = std::fs::read_dir(self.data.join("agent/sandboxes")) {
            for e in entries.flatten() {
                let id = e.file_name().to_string_lossy().into_owned();
                for g in self.groups(&id) {
                    let _ = nix::sys::signal::killpg(
                        nix::unistd::Pid::from_raw(g),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
                aurora_executor::isolation::remove_leftover_cgroups(&id);
            }
        }
    }
}

pub fn example(name: &str) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/../../examples/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap()
}

pub fn status(t: &Value) -> &str {
    t["status"].as_str().unwrap_or("")
}

pub fn group_alive(g: i32) -> bool {
    nix::sys::signal::killpg(nix::unistd::Pid::from_raw(g), None).is_ok()
}

pub fn with_cmdline(mut job: Value, name: &str, cmdline: &str) -> Value {
    job["name"] = json!(name);
    job["task"]["processes"][0]["cmdline"] = json!(cmdline);
    job
}
