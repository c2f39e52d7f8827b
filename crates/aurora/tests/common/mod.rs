//! What the end-to-end tests of the client share: finding the other binaries of the workspace,
//! reading output, and killing every task process a test's agents started.
#![allow(dead_code)] // each test binary uses part of it

use std::path::{Path, PathBuf};

/// A binary of another workspace crate, next to this test's own (`target/debug/NAME`).
pub fn sibling_bin(name: &str) -> PathBuf {
    // target/debug/deps/TEST-… → target/debug/NAME
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().and_then(Path::parent).unwrap().join(name);
    assert!(
        bin.exists(),
        "{} is missing: run `cargo test --workspace`, which builds it",
        bin.display()
    );
    bin
}

/// A port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The process groups the checkpoint of the task sandbox `sandbox` names.
pub fn checkpoint_groups(sandbox: &Path) -> Vec<i32> {
    let cp = std::fs::read(sandbox.join(".executor/checkpoint.json")).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_slice(&cp).unwrap_or_default();
    v["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|g| g.as_i64())
        .map(|g| g as i32)
        .collect()
}

/// SIGKILLs the process groups of every task sandbox under `sandboxes`, then removes the tasks'
/// cgroups (an agent killed with its scheduler leaves them behind; they are named by task id).
pub fn kill_tasks_under(sandboxes: &Path) {
    let tasks: Vec<std::ffi::OsString> = std::fs::read_dir(sandboxes)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    for t in &tasks {
        for g in checkpoint_groups(&sandboxes.join(t)) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(g),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
    for t in &tasks {
        aurora_executor::isolation::remove_leftover_cgroups(&t.to_string_lossy());
    }
}

/// How long an end-to-end condition may take before a test fails.
pub const LIMIT: std::time::Duration = std::time::Duration::from_secs(30);
/// How long one client command may run in a test.
pub const COMMAND_LIMIT: std::time::Duration = std::time::Duration::from_secs(120);

/// A single-machine cluster on the real binaries (`aurora-scheduler --local-agent` on a free
/// port, a temporary data directory) and a home directory whose clusters.json names it
/// `devcluster`. Dropping it kills the scheduler and every task process it started.
pub struct Env {
    pub home: tempfile::TempDir,
    pub data: tempfile::TempDir,
    pub scheduler: std::process::Child,
    pub port: u16,
    /// Flags the scheduler is started with beyond the basics.
    flags: Vec<String>,
    /// The ports its local agent hands to tasks, held for this cluster alone.
    ports: PortBlock,
}

/// A block of ports that no other test cluster on this machine uses while it is held: tests run
/// in parallel, in several processes, and their services listen on the ports they are given. Held
/// by a lock file (created exclusively, removed on drop) under the system's temporary directory.
pub struct PortBlock {
    pub first: u16,
    pub last: u16,
    lock: std::path::PathBuf,
}

impl PortBlock {
    const SIZE: u16 = 16;

    /// Takes the first free block between 20000 and 30000 (below Linux's ephemeral ports).
    pub fn take() -> PortBlock {
        let dir = std::env::temp_dir().join("aurora-test-ports");
        std::fs::create_dir_all(&dir).unwrap();
        for first in (20000..30000u16).step_by(Self::SIZE as usize) {
            let lock = dir.join(first.to_string());
            // A lock left by a test run that was killed an hour ago is stale.
            if let Ok(m) = std::fs::metadata(&lock)
                && m.modified()
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > std::time::Duration::from_secs(3600))
            {
                let _ = std::fs::remove_file(&lock);
            }
            if std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&lock)
                .is_err()
            {
                continue;
            }
            let last = first + Self::SIZE - 1;
            let free =
                (first..=last).all(|p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok());
            if free {
                return PortBlock { first, last, lock };
            }
            let _ = std::fs::remove_file(&lock);
        }
        panic!(
            "no free block of {} ports between 20000 and 30000",
            Self::SIZE
        );
    }
}

impl Drop for PortBlock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.lock);
    }
}

impl Env {
    pub fn start() -> Env {
        Self::start_with(&[])
    }

    /// A cluster whose scheduler also gets `flags`.
    pub fn start_with(flags: &[&str]) -> Env {
        let ports = PortBlock::take();
        let mut flags: Vec<String> = flags.iter().map(|f| (*f).to_owned()).collect();
        flags.push(format!(
            "--local-agent-ports={}-{}",
            ports.first, ports.last
        ));
        let port = free_port();
        let data = tempfile::tempdir().unwrap();
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join(".aurora")).unwrap();
        std::fs::write(
            home.path().join(".aurora/clusters.json"),
            format!(r#"[{{"name": "devcluster", "scheduler_uri": "http://127.0.0.1:{port}", "auth_mechanism": "UNAUTHENTICATED"}}]"#),
        )
        .unwrap();
        let scheduler = Self::spawn_scheduler(port, data.path(), &flags);
        let env = Env {
            home,
            data,
            scheduler,
            port,
            flags,
            ports,
        };
        env.wait_for(|| std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
        env
    }

    fn spawn_scheduler(port: u16, data: &Path, flags: &[String]) -> std::process::Child {
        std::process::Command::new(sibling_bin("aurora-scheduler"))
            .args([
                "--local-agent",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(data)
            .args(flags)
            .env("RUST_LOG", "info")
            .stdout(std::process::Stdio::null())
            .stderr(Self::log_file(data))
            .spawn()
            .unwrap()
    }

    /// Where the scheduler's log goes (appended across restarts), for failure messages.
    fn log_file(data: &Path) -> std::fs::File {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data.join("scheduler.log"))
            .unwrap()
    }

    /// The scheduler's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data.path().join("scheduler.log")).unwrap_or_default()
    }

    /// kill -9 of the scheduler (and its embedded agent; task processes live on), then a start
    /// on the same data directory and port.
    pub fn kill9_and_restart(&mut self) {
        self.scheduler.kill().unwrap();
        self.scheduler.wait().unwrap();
        self.scheduler = Self::spawn_scheduler(self.port, self.data.path(), &self.flags);
        let port = self.port;
        self.wait_for(|| std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    }

    /// Runs the `aurora` client from the repository's root, with this cluster's home.
    /// Runs the client against this cluster. A command still running after [`COMMAND_LIMIT`]
    /// (an `update wait` on an update that never ends) is killed and fails the test with the
    /// scheduler's log, rather than hanging the suite.
    pub fn aurora(&self, args: &[&str]) -> std::process::Output {
        use std::process::Stdio;
        let child = std::process::Command::new(sibling_bin("aurora"))
            .args(args)
            .env("HOME", self.home.path())
            .env_remove("AURORA_CONFIG_ROOT")
            .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let (done, finished) = std::sync::mpsc::channel::<()>();
        let watchdog = std::thread::spawn(move || {
            let late = matches!(
                finished.recv_timeout(COMMAND_LIMIT),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout)
            );
            if late {
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            }
            late
        });
        let out = child.wait_with_output().unwrap();
        let _ = done.send(());
        let late = watchdog.join().unwrap();
        assert!(
            !late,
            "aurora {args:?} still running after {COMMAND_LIMIT:?}: killed\n{}{}\n{}",
            text(&out.stdout),
            text(&out.stderr),
            self.log()
        );
        out
    }

    /// `aurora ... --write-json` (or any command printing JSON), parsed.
    pub fn aurora_json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.aurora(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", text(&out.stdout)))
    }

    /// Polls a condition on the cluster (a separate process: the test backs off between looks).
    pub fn wait_for(&self, mut ok: impl FnMut() -> bool) {
        let start = std::time::Instant::now();
        let mut pause = std::time::Duration::from_millis(5);
        while !ok() {
            assert!(start.elapsed() < LIMIT, "condition not reached");
            std::thread::sleep(pause);
            pause = (pause * 2).min(std::time::Duration::from_millis(200));
        }
    }

    /// The agent's task sandboxes.
    pub fn sandboxes(&self) -> std::path::PathBuf {
        self.data.path().join("agent/sandboxes")
    }

    pub fn checkpoint_groups(&self) -> Vec<i32> {
        std::fs::read_dir(self.sandboxes())
            .into_iter()
            .flatten()
            .flatten()
            .flat_map(|e| checkpoint_groups(&e.path()))
            .collect()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = self.scheduler.kill();
        let _ = self.scheduler.wait();
        kill_tasks_under(&self.sandboxes());
    }
}
