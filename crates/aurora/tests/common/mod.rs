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

/// SIGKILLs the process groups of every task sandbox under `sandboxes`.
pub fn kill_tasks_under(sandboxes: &Path) {
    for e in std::fs::read_dir(sandboxes).into_iter().flatten().flatten() {
        for g in checkpoint_groups(&e.path()) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(g),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}
