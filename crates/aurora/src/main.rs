//! The `aurora` command-line client: Aurora's nouns and verbs (`aurora job inspect ...`).
//!
//! This binary only wires arguments to libraries: configs are evaluated by `aurora-config`, output
//! formatting lives in `inspect`. Errors are one line on stderr with exit status 1; bad arguments
//! exit with 2 (clap's usage errors).

mod inspect;

use anyhow::Context;
use aurora_config::{Bind, Config};
use aurora_model::JobPath;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "aurora",
    version,
    about = "Client for the Aurora-compatible cluster scheduler"
)]
struct Cli {
    #[command(subcommand)]
    noun: Noun,
}

#[derive(Subcommand)]
enum Noun {
    /// Work with configuration files.
    #[command(subcommand)]
    Config(ConfigVerb),
    /// Work with jobs.
    #[command(subcommand)]
    Job(JobVerb),
}

#[derive(Subcommand)]
enum ConfigVerb {
    /// List the job keys a configuration file defines, one CLUSTER/ROLE/ENV/NAME a line.
    List {
        /// The .aurora file.
        file: PathBuf,
        /// Bind a template variable: --bind NAME=VALUE (repeatable).
        #[arg(long = "bind", value_name = "NAME=VALUE")]
        bind: Vec<Bind>,
    },
}

#[derive(Subcommand)]
enum JobVerb {
    /// Show the configuration of a job as the scheduler would receive it.
    Inspect {
        /// CLUSTER/ROLE/ENV/NAME
        key: JobPath,
        /// The .aurora file.
        file: PathBuf,
        /// Print the job as JSON (Pystachio's format, as Aurora's client prints it).
        #[arg(long)]
        write_json: bool,
        /// Bind a template variable: --bind NAME=VALUE (repeatable).
        #[arg(long = "bind", value_name = "NAME=VALUE")]
        bind: Vec<Bind>,
    },
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.noun {
        Noun::Config(ConfigVerb::List { file, bind }) => {
            let config = Config::load(&file)?;
            for key in config.job_keys(&bind)? {
                println!("{key}");
            }
        }
        Noun::Job(JobVerb::Inspect {
            key,
            file,
            write_json,
            bind,
        }) => {
            let config = Config::load(&file)?;
            let job = config.resolve(&key, &bind)?;
            for u in &job.unbound {
                eprintln!(
                    "WARNING: {} in {} is not bound: `aurora job create` will refuse this job (bind it with --bind or .bind())",
                    u.reference, u.path
                );
            }
            if write_json {
                let text =
                    serde_json::to_string_pretty(&job.json).context("printing the job as JSON")?;
                println!("{text}");
            } else {
                print!("{}", inspect::summary(&job.job));
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
