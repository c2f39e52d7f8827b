//! A task's processes as its executor records them: state, runs, and each run's times and exit
//! status. The executor keeps these records in the task's sandbox; the agent serves them and the
//! API and the web UI show them. Plain data: the rules that produce them are the executor's.
//!
//! Also the rule for what a process may be named ([`check_name`]): a process's name becomes a
//! folder of its sandbox (`.logs/NAME/RUN/stdout`), so it is checked at submission and again by
//! the executor before it touches the disk.

use serde::{Deserialize, Serialize};

/// The longest process name, in bytes: one path component (`NAME_MAX`).
pub const MAX_NAME_LEN: usize = 255;

/// Why a process name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("a process name may not be empty")]
    Empty,
    #[error("process name '{0}' may not start with '.'")]
    LeadingDot(String),
    #[error("process name '{0}' may not contain '/'")]
    Slash(String),
    #[error("a process name may not contain a NUL byte")]
    Nul,
    #[error("process name is {0} bytes long; at most {MAX_NAME_LEN} are allowed")]
    TooLong(usize),
}

/// Checks a process name as Thermos does (`^[^./][^/]*$`: one path component that is not
/// hidden, so neither `.`, `..` nor a path), and that it is no NUL and at most
/// [`MAX_NAME_LEN`] bytes.
pub fn check_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        Err(NameError::Empty)
    } else if name.contains('\0') {
        Err(NameError::Nul)
    } else if name.len() > MAX_NAME_LEN {
        Err(NameError::TooLong(name.len()))
    } else if name.starts_with('.') {
        Err(NameError::LeadingDot(name.to_owned()))
    } else if name.contains('/') {
        Err(NameError::Slash(name.to_owned()))
    } else {
        Ok(())
    }
}

/// One process of a task, as its executor last recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessRecord {
    pub name: String,
    /// Thermos's process state: `WAITING`, `RUNNING`, `SUCCESS`, `FAILED`, `KILLED`.
    pub state: String,
    /// How many times the process was started.
    pub runs: u32,
    /// Every run, oldest first; run numbers start at 0 and name the log folders.
    pub history: Vec<ProcessRun>,
}

/// One run of a process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessRun {
    pub run: u32,
    /// Milliseconds since the Unix epoch.
    pub started_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_ms: Option<i64>,
    /// The exit status (128 + N for a process ended by signal N); absent while running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_names_are_one_plain_path_component() {
        for ok in ["hello", "web-server_1", "a.b", "x..y", "with space", "üñï"] {
            assert_eq!(check_name(ok), Ok(()), "{ok}");
        }
        assert_eq!(check_name(""), Err(NameError::Empty));
        assert_eq!(check_name("."), Err(NameError::LeadingDot(".".into())));
        assert_eq!(check_name(".."), Err(NameError::LeadingDot("..".into())));
        assert_eq!(
            check_name("../x"),
            Err(NameError::LeadingDot("../x".into()))
        );
        assert_eq!(check_name("/tmp/x"), Err(NameError::Slash("/tmp/x".into())));
        assert_eq!(check_name("a/b"), Err(NameError::Slash("a/b".into())));
        assert_eq!(check_name("a\0b"), Err(NameError::Nul));
        let long = "x".repeat(MAX_NAME_LEN + 1);
        assert_eq!(check_name(&long), Err(NameError::TooLong(MAX_NAME_LEN + 1)));
        assert_eq!(check_name(&long[1..]), Ok(()));
        assert_eq!(
            NameError::Slash("/tmp/x".into()).to_string(),
            "process name '/tmp/x' may not contain '/'"
        );
    }
}
