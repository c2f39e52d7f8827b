//! One `aurora-scheduler --local-agent` process on a data directory and a port of 127.0.0.1, the
//! real binary: started, killed with -9 and started again on the same directory and port, and on
//! drop killed with every task process and cgroup its embedded agent started. Which flags it gets
//! and what a test checks against it belong to the test (or to [`crate::env`] and
//! [`crate::cluster`], which build on this).
//!
//! Tests name roles that are no Unix user here (`r`, `mesostest`) or a system one (`www-data`),
//! so by default the embedded agent runs tasks as the scheduler's own user
//! (`--local-agent-same-user`) and `www-data` is allowed (`--allow-task-user www-data`); a test
//! of those protections asks for [`LocalScheduler::strict`].

use crate::{free_port, kill_tasks_under, sibling_bin, wait_listening};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A scheduler with its embedded agent, not yet or already running (see [`LocalScheduler::start`]).
pub struct LocalScheduler {
    child: Option<Child>,
    /// The port it listens on (on 127.0.0.1 unless a flag says otherwise).
    pub port: u16,
    data: PathBuf,
    flags: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    /// Where its standard error is appended, or nowhere.
    log: Option<PathBuf>,
    /// Started with the scheduler's own protections only (no test defaults).
    strict: bool,
}

/// What every scheduler gets unless [`LocalScheduler::strict`]: see the module's comment.
pub const TEST_DEFAULTS: &[&str] = &["--local-agent-same-user", "--allow-task-user", "www-data"];

impl LocalScheduler {
    /// A scheduler to be started on `data` (created by the scheduler if missing) and a free port.
    pub fn new(data: &Path) -> LocalScheduler {
        LocalScheduler {
            child: None,
            port: free_port(),
            data: data.to_owned(),
            flags: Vec::new(),
            env: Vec::new(),
            log: None,
            strict: false,
        }
    }

    /// Without the test defaults: tasks run as their role's user (the scheduler runs as root),
    /// and no system account is allowed.
    pub fn strict(mut self) -> Self {
        self.strict = true;
        self
    }

    /// More flags, after `--local-agent --listen 127.0.0.1:PORT --data-dir DATA`.
    pub fn args<S: Into<OsString>>(mut self, flags: impl IntoIterator<Item = S>) -> Self {
        self.flags.extend(flags.into_iter().map(Into::into));
        self
    }

    /// An environment variable for the process.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Appends its standard error (across restarts) to `DATA/scheduler.log`, with `RUST_LOG=info`.
    pub fn logged(mut self) -> Self {
        self.log = Some(self.data.join("scheduler.log"));
        self.env("RUST_LOG", "info")
    }

    /// Starts it and waits until it listens.
    pub fn start(mut self) -> Self {
        self.spawn();
        self.wait_listening();
        self
    }

    /// Starts the process; does not wait for it to listen.
    pub fn spawn(&mut self) {
        let stderr = match &self.log {
            Some(path) => {
                std::fs::create_dir_all(&self.data).expect("creating the data directory");
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .expect("opening the scheduler's log");
                Stdio::from(file)
            }
            None => Stdio::null(),
        };
        let child = Command::new(sibling_bin("aurora-scheduler"))
            .args([
                "--local-agent",
                "--listen",
                &format!("127.0.0.1:{}", self.port),
                "--data-dir",
            ])
            .arg(&self.data)
            .args(if self.strict { &[][..] } else { TEST_DEFAULTS })
            .args(&self.flags)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("starting aurora-scheduler");
        self.child = Some(child);
    }

    /// Waits until it listens on its port.
    pub fn wait_listening(&self) {
        wait_listening(self.port, "the scheduler never listened");
    }

    /// kill -9: the scheduler and its embedded agent die at once; task processes live on.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// kill -9, then a start on the same data directory and port, waiting until it listens.
    pub fn kill9_and_restart(&mut self) {
        self.kill9();
        self.spawn();
        self.wait_listening();
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Its data directory.
    pub fn data(&self) -> &Path {
        &self.data
    }

    /// The embedded agent's task sandboxes.
    pub fn sandboxes(&self) -> PathBuf {
        self.data.join("agent/sandboxes")
    }

    /// Its log so far (empty unless [`LocalScheduler::logged`]).
    pub fn log(&self) -> String {
        self.log
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    }
}

impl Drop for LocalScheduler {
    fn drop(&mut self) {
        self.kill9();
        // Tests clean up every process they start, task processes included.
        kill_tasks_under(&self.sandboxes());
    }
}
