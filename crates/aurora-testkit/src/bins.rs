//! Where the real binaries and the repository's files are. Nothing here starts a process.

use std::path::{Path, PathBuf};

/// A binary of a workspace crate, next to the running test's own (`target/<profile>/NAME`):
/// a test binary is `target/<profile>/deps/TEST-HASH`. Cargo builds the binaries of the crate
/// under test before its integration tests; other crates' binaries are built by
/// `cargo test --workspace` or `cargo build` (the message says so when one is missing).
pub fn sibling_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary knows its own path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("a test binary lives in target/<profile>/deps");
    let bin = profile_dir.join(name);
    assert!(
        bin.exists(),
        "{} is missing: run `cargo test --workspace` or `cargo build --workspace`, which build it",
        bin.display()
    );
    bin
}

/// The repository's root (where `examples/` and `docs/` are).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// An example job as the API takes it: `examples/NAME.json`.
pub fn example(name: &str) -> serde_json::Value {
    let path = workspace_root().join(format!("examples/{name}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
