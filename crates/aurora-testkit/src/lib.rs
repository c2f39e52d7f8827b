//! What the end-to-end tests of the workspace share, so that no test crate keeps its own copy:
//!
//! - [`bins`]: the real binaries of the workspace (`target/<profile>/NAME`), the repository's
//!   root and its example jobs;
//! - [`ports`]: free ports, and blocks of ports held for one test cluster;
//! - [`procs`]: process groups from task checkpoints and `/proc`, and the clean-up of every task
//!   process and cgroup a test's agents started;
//! - [`wait`]: polling observable state with a limit (never a sleep used as synchronisation);
//! - [`client`]: client commands (`aurora`, `aurora_admin`) with a watchdog, and homes whose
//!   `clusters.json` names a cluster;
//! - [`scheduler`]: one `aurora-scheduler` process on a data directory, killed and cleaned up on
//!   drop; [`env`] (the CLI's single-machine cluster, blocking) and [`cluster`] (the same over
//!   HTTP, async) build on it;
//! - [`browser`]: headless Chromium over WebDriver; [`kdc`]: a throw-away MIT Kerberos realm;
//!   [`etcd`]: a throw-away etcd cluster of several members on loopback; [`netns`]: test hosts
//!   in network namespaces, to cut off;
//! - [`tidy`]: the checks that keep the code base to the map in `docs/architecture.md`.
//!
//! Test support only: this crate is a dev-dependency and is never linked into a binary (its
//! tidy test fails if it is). It holds no assertions of its own about the scheduler's behaviour:
//! those stay in the tests that use it.

pub mod bins;
pub mod browser;
pub mod client;
pub mod cluster;
pub mod env;
pub mod etcd;
pub mod kdc;
pub mod netns;
pub mod ports;
pub mod procs;
pub mod scheduler;
pub mod tidy;
pub mod wait;

pub use bins::{example, sibling_bin, workspace_root};
pub use client::{COMMAND_LIMIT, client_command, home_with_clusters_json, run_watched};
pub use ports::{PortBlock, free_port};
pub use procs::{checkpoint_groups, group_alive, kill_tasks_under, processes_in_group};
pub use scheduler::LocalScheduler;
pub use wait::{LIMIT, wait_for, wait_listening};

/// Output bytes of a process, as text for messages and comparisons.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
