//! The client's single-machine cluster, blocking: `aurora-scheduler --local-agent` on a free port
//! with a temporary data directory and a block of ports for its tasks, and a home directory whose
//! clusters.json names it `devcluster`, for running `aurora` commands against it. What the
//! commands should print is for the tests to say.

use crate::client::{client_command, home_with_clusters_json, run_watched};
use crate::{LocalScheduler, PortBlock, checkpoint_groups, text, wait_for, workspace_root};
use std::path::PathBuf;
use std::process::Output;

/// A single-machine cluster on the real binaries and a home naming it. Dropping it kills the
/// scheduler and every task process it started.
pub struct Env {
    // Dropped first: the scheduler is killed and its tasks cleaned up before the directories go.
    scheduler: LocalScheduler,
    pub home: tempfile::TempDir,
    pub data: tempfile::TempDir,
    pub port: u16,
    /// The ports its local agent hands to tasks, held for this cluster alone.
    _ports: PortBlock,
}

impl Env {
    pub fn start() -> Env {
        Self::start_with(&[])
    }

    /// A cluster whose scheduler also gets `flags`.
    pub fn start_with(flags: &[&str]) -> Env {
        let ports = PortBlock::take();
        let data = tempfile::tempdir().expect("creating a data directory");
        let scheduler = LocalScheduler::new(data.path())
            .args(flags.iter().copied())
            .args([format!(
                "--local-agent-ports={}-{}",
                ports.first, ports.last
            )])
            .logged();
        let port = scheduler.port;
        let home = home_with_clusters_json(
            &format!("http://127.0.0.1:{port}"),
            r#", "auth_mechanism": "UNAUTHENTICATED""#,
        );
        Env {
            scheduler: scheduler.start(),
            home,
            data,
            port,
            _ports: ports,
        }
    }

    /// The scheduler's log so far.
    pub fn log(&self) -> String {
        self.scheduler.log()
    }

    /// kill -9 of the scheduler (and its embedded agent; task processes live on), then a start
    /// on the same data directory and port.
    pub fn kill9_and_restart(&mut self) {
        self.scheduler.kill9_and_restart();
    }

    /// Runs the `aurora` client against this cluster, from the repository's root. A command
    /// still running after [`crate::COMMAND_LIMIT`] is killed and fails the test with the
    /// scheduler's log.
    pub fn aurora(&self, args: &[&str]) -> Output {
        let mut cmd = client_command("aurora", self.home.path());
        cmd.args(args).current_dir(workspace_root());
        run_watched(&mut cmd, || self.log())
    }

    /// `aurora ... --write-json` (or any command printing JSON), parsed.
    pub fn aurora_json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.aurora(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", text(&out.stdout)))
    }

    /// Polls a condition on the cluster (a separate process: the test backs off between looks).
    pub fn wait_for(&self, ok: impl FnMut() -> bool) {
        wait_for("condition not reached", ok);
    }

    /// The agent's task sandboxes.
    pub fn sandboxes(&self) -> PathBuf {
        self.scheduler.sandboxes()
    }

    /// The process groups every task sandbox's checkpoint names.
    pub fn checkpoint_groups(&self) -> Vec<i32> {
        std::fs::read_dir(self.sandboxes())
            .into_iter()
            .flatten()
            .flatten()
            .flat_map(|e| checkpoint_groups(&e.path()))
            .collect()
    }
}
