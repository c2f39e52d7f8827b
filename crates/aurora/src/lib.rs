//! The client side shared by the `aurora` and `aurora_admin` binaries: clusters.json
//! (`clusters`), the verbs that talk to a scheduler (`commands`, `admin`), and how their output is
//! shaped (`format`, `inspect`). The binaries only parse arguments and call these.

pub mod admin;
pub mod clusters;
pub mod commands;
pub mod format;
pub mod inspect;

use std::path::PathBuf;

/// The user's token: `auth-token` in `$AURORA_CONFIG_ROOT` or `~/.aurora`, if present.
pub fn auth_token() -> Option<String> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(root) = std::env::var_os("AURORA_CONFIG_ROOT") {
        dirs.push(root.into());
    }
    if let Some(home) = dirs::home_dir() {
        dirs.push(home.join(".aurora"));
    }
    dirs.iter()
        .find_map(|d| std::fs::read_to_string(d.join("auth-token")).ok())
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
}
