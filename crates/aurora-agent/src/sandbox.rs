//! Paths into a task's sandbox, as they arrive in URLs: checked so that nothing outside the
//! sandbox can ever be named. Used by the agent before it touches the disk and by the scheduler
//! before it forwards a request, so a bad path is refused at the first door.
//!
//! [`relative`] refuses what is wrong on its face (`..`, NUL), without the disk. What is on the
//! disk (a task can make a link to `/etc`, or swap a folder for one at any moment) is the
//! opener's business: the file server opens beneath the sandbox's fd
//! (`aurora_executor::beneath`), so checking a path and opening it are one system call.

use std::path::{Path, PathBuf};

/// Where the executor keeps its own records of task `task_id` (checkpoint, process report) for
/// sandboxes under `sandboxes` (`WORK/sandboxes`): `WORK/executor/TASK_ID`, root-only and out of
/// every task's reach, and never served by the file server.
pub fn state_dir(sandboxes: &Path, task_id: &str) -> PathBuf {
    sandboxes
        .parent()
        .unwrap_or(sandboxes)
        .join("executor")
        .join(task_id)
}

/// Why a path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("path '{0}' leaves the task's sandbox")]
    Escapes(String),
    #[error("path contains a NUL byte")]
    Nul,
    #[error("'{0}' is not a valid task id")]
    BadTaskId(String),
}

/// Is `s` safe as one path component (no separators, no `.`/`..`, no NUL)?
pub fn safe_component(s: &str) -> bool {
    !s.is_empty() && s != "." && s != ".." && !s.contains(['/', '\\', '\0'])
}

/// The sandbox-relative form of a path from a URL: `/`-separated, empty and `.` components
/// dropped (a leading `/` means the sandbox itself), any `..` refused. `""` is the sandbox.
pub fn relative(path: &str) -> Result<String, PathError> {
    if path.contains('\0') {
        return Err(PathError::Nul);
    }
    let mut parts = Vec::new();
    for c in path.split(['/', '\\']) {
        match c {
            "" | "." => {}
            ".." => return Err(PathError::Escapes(path.to_owned())),
            c => parts.push(c),
        }
    }
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_are_normalised_and_parents_refused() {
        assert_eq!(relative("").unwrap(), "");
        assert_eq!(relative("/").unwrap(), "");
        assert_eq!(relative("./.logs//hello/0/").unwrap(), ".logs/hello/0");
        assert_eq!(relative("/etc/passwd").unwrap(), "etc/passwd");
        for bad in ["..", "../../etc/passwd", ".logs/../../x", "a\\..\\..\\b"] {
            assert_eq!(relative(bad), Err(PathError::Escapes(bad.into())), "{bad}");
        }
        assert_eq!(relative("a\0b"), Err(PathError::Nul));
    }

    #[test]
    fn components_are_checked() {
        for bad in ["", ".", "..", "../x", "a/b", "a\0"] {
            assert!(!safe_component(bad), "{bad:?}");
        }
        assert!(safe_component("www-data-prod-hello-0-abc"));
    }
}
