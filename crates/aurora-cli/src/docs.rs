//! A binary's documentation made from its clap definition, so it never drifts from the flags:
//! man pages (one per command and subcommand: `aurora.1`, `aurora-job.1`, `aurora-job-create.1`,
//! by `clap_mangen`) and completion scripts for bash, zsh and fish (by `clap_complete`).
//!
//! [`write_all`] lays them out as the packages install them:
//!
//! ```text
//! DIR/man/BIN.1, DIR/man/BIN-NOUN.1, ...    -> /usr/share/man/man1/
//! DIR/completions/bash/BIN                  -> /usr/share/bash-completion/completions/BIN
//! DIR/completions/zsh/_BIN                  -> /usr/share/zsh/vendor-completions/_BIN
//! DIR/completions/fish/BIN.fish             -> /usr/share/fish/vendor_completions.d/BIN.fish
//! ```

use clap_complete::Shell;
use std::path::{Path, PathBuf};

/// Why the documentation could not be written.
#[derive(Debug, thiserror::Error)]
pub enum DocsError {
    #[error(
        "usage: {} DIR (writes man pages and shell completions under DIR)",
        super::GENERATE_DOCS
    )]
    Usage,
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Writes `command`'s man pages and completions under `dir` (made if missing).
pub fn write_all(command: clap::Command, dir: &Path) -> Result<(), DocsError> {
    let name = command.get_name().to_owned();
    let man = dir.join("man");
    create(&man)?;
    clap_mangen::generate_to(command.clone(), &man).map_err(|source| DocsError::Write {
        path: man.clone(),
        source,
    })?;
    let mut command = command;
    for (shell, sub, file) in [
        (Shell::Bash, "bash", name.clone()),
        (Shell::Zsh, "zsh", format!("_{name}")),
        (Shell::Fish, "fish", format!("{name}.fish")),
    ] {
        let out = dir.join("completions").join(sub);
        create(&out)?;
        let path = out.join(file);
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut command, &name, &mut script);
        std::fs::write(&path, script).map_err(|source| DocsError::Write { path, source })?;
    }
    Ok(())
}

fn create(dir: &Path) -> Result<(), DocsError> {
    std::fs::create_dir_all(dir).map_err(|source| DocsError::Write {
        path: dir.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser, Subcommand};

    /// A client with a noun and verbs, as `aurora` has.
    #[derive(Parser)]
    #[command(name = "demo", version, about = "A demo client")]
    struct Demo {
        #[command(subcommand)]
        noun: Noun,
    }

    #[derive(Subcommand)]
    enum Noun {
        /// Work with jobs.
        #[command(subcommand)]
        Job(Verb),
    }

    #[derive(Subcommand)]
    enum Verb {
        /// Create a job from a configuration file.
        Create {
            /// Wait until the job's tasks reach this state.
            #[arg(long)]
            wait_until: Option<String>,
            job: String,
        },
    }

    #[test]
    fn writes_a_man_page_per_command_and_three_completion_scripts() {
        let dir = tempfile::tempdir().unwrap();
        write_all(Demo::command(), dir.path()).unwrap();
        let read = |p: &str| std::fs::read_to_string(dir.path().join(p)).unwrap();
        let page = read("man/demo-job-create.1");
        assert!(page.starts_with(".ie \\n(.g .ds Aq"), "{page}");
        assert!(
            page.contains("Create a job from a configuration file"),
            "{page}"
        );
        assert!(page.contains("wait\\-until"), "{page}");
        assert!(read("man/demo.1").contains("demo\\-job(1)"));
        assert!(read("completions/bash/demo").contains("complete -F _demo"));
        assert!(read("completions/zsh/_demo").starts_with("#compdef demo"));
        assert!(read("completions/fish/demo.fish").contains("wait-until"));
    }

    #[test]
    fn an_unwritable_directory_is_an_error() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let err = write_all(Demo::command(), &file.path().join("sub")).unwrap_err();
        assert!(matches!(err, DocsError::Write { .. }), "{err}");
    }
}
