//! Errors a user can act on: each names the file and line, or the job, struct and field.

use std::fmt;
use std::path::PathBuf;

/// Why a configuration could not be evaluated or a job could not be taken from it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read {}: {message}", path.display())]
    Io { path: PathBuf, message: String },
    /// Not valid syntax (after the Python 2 pre-pass).
    #[error("{}:{line}:{column}: syntax error: {message}", file.display())]
    Syntax {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// Evaluation failed: a wrong type, an unknown field, an undefined name, `fail()`...
    #[error("{location}{message}")]
    Eval { location: Location, message: String },
    /// An `include()` that cannot be honoured.
    #[error("{}:{line}: {message}", file.display())]
    Include {
        file: PathBuf,
        line: usize,
        message: String,
    },
    /// The file defines no `jobs` list.
    #[error("{}: no jobs defined: a .aurora file must set `jobs = [Job(...), ...]`", file.display())]
    NoJobs { file: PathBuf },
    /// `jobs` holds something that is not a Job.
    #[error("{}: {} is {found}, expected a Job (or Service)", file.display(), index.map(|i| format!("jobs[{i}]")).unwrap_or_else(|| "jobs".into()))]
    NotAJob {
        file: PathBuf,
        index: Option<usize>,
        found: String,
    },
    /// No job in the file has the requested key.
    #[error("Could not find job {key} in {}; the file defines: {}", file.display(), if candidates.is_empty() { "no jobs".to_owned() } else { candidates.join(", ") })]
    NoMatch {
        key: String,
        file: PathBuf,
        candidates: Vec<String>,
    },
    /// Several jobs have the requested key.
    #[error("Multiple jobs match {key} in {}, please disambiguate by specifying a job key", file.display())]
    Ambiguous { key: String, file: PathBuf },
    /// A job that does not template or type-check.
    #[error("job {job}: {message}")]
    Job { job: String, message: String },
    /// A `--bind` argument that is not `name=value`.
    #[error("invalid binding '{0}': expected NAME=VALUE, e.g. --bind profile.version=2")]
    Binding(String),
    /// A failure that is our bug, not the user's.
    #[error("internal error: {0}")]
    Internal(String),
}

/// `file:line:column: ` of an evaluation error, when Starlark knows it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Location(pub Option<(String, usize, usize)>);

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some((file, line, col)) => write!(f, "{file}:{line}:{col}: "),
            None => Ok(()),
        }
    }
}

impl ConfigError {
    /// Turns a Starlark error into a one-line message with its location.
    pub(crate) fn from_starlark(e: starlark::Error) -> Self {
        let location = Location(e.span().map(|s| {
            let pos = s.resolve_span();
            (
                s.filename().to_owned(),
                pos.begin.line + 1,
                pos.begin.column + 1,
            )
        }));
        let mut message = e.without_diagnostic().to_string();
        // Starlark's messages can span lines (notes, hints): keep them, indented under the first.
        message = message.trim().replace('\n', "\n    ");
        let parse = matches!(e.kind(), starlark::ErrorKind::Parser(_));
        match (&location.0, parse) {
            (Some((file, line, column)), true) => ConfigError::Syntax {
                file: PathBuf::from(file),
                line: *line,
                column: *column,
                message: message.trim_start_matches("Parse error: ").to_owned(),
            },
            _ => ConfigError::Eval { location, message },
        }
    }
}
