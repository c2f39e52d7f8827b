//! The `aurora` command-line client: Aurora's nouns and verbs (`aurora job create ...`).
//!
//! This binary only wires arguments to the `aurora` library (`commands`, `inspect`): configs are
//! evaluated by `aurora-config`, the scheduler is reached through `aurora-client`.
//! Errors are one line on stderr with exit status 1; bad arguments exit with 2 (clap's usage
//! errors).

use anyhow::Context;
use aurora::{commands, inspect};
use aurora_config::{Bind, Config};
use aurora_model::JobPath;
use aurora_model::instances::{InstanceSpec, TaskInstanceKey};
use clap::{Parser, Subcommand, ValueEnum};
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
    /// Work with tasks.
    #[command(subcommand)]
    Task(TaskVerb),
    /// Work with cron jobs.
    #[command(subcommand)]
    Cron(CronVerb),
    /// Log in to a cluster.
    #[command(subcommand)]
    Auth(AuthVerb),
}

#[derive(Subcommand)]
enum AuthVerb {
    /// Obtain a token for yourself (one day) and keep it in ~/.aurora/auth-token.
    Login { cluster: String },
}

#[derive(Subcommand)]
enum CronVerb {
    /// Schedule a cron job from a configuration file, or replace its schedule and configuration.
    Schedule {
        /// CLUSTER/ROLE/ENV/NAME
        key: JobPath,
        /// The .aurora file.
        file: PathBuf,
        /// Bind a template variable: --bind NAME=VALUE (repeatable).
        #[arg(long = "bind", value_name = "NAME=VALUE")]
        bind: Vec<Bind>,
    },
    /// Remove a cron job's schedule (a run in progress goes on).
    Deschedule { key: JobPath },
    /// Run a cron job now, following its collision policy.
    Start { key: JobPath },
    /// Show a cron job's schedule, collision policy, next firings and runs.
    Show { key: JobPath },
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

#[derive(Clone, Copy, ValueEnum)]
#[value(rename_all = "SCREAMING_SNAKE_CASE")]
enum WaitUntil {
    Pending,
    Running,
    Finished,
}

#[derive(Subcommand)]
enum JobVerb {
    /// Create a job from a configuration file.
    Create {
        /// CLUSTER/ROLE/ENV/NAME
        key: JobPath,
        /// The .aurora file.
        file: PathBuf,
        /// Bind a template variable: --bind NAME=VALUE (repeatable).
        #[arg(long = "bind", value_name = "NAME=VALUE")]
        bind: Vec<Bind>,
        /// Wait until the job's tasks reach this state.
        #[arg(long, value_enum, default_value = "PENDING")]
        wait_until: WaitUntil,
    },
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
    /// Show the tasks of jobs: CLUSTER[/ROLE[/ENV[/NAME]]], with * wildcards.
    Status {
        key: String,
        /// Print JSON.
        #[arg(long)]
        write_json: bool,
    },
    /// List jobs: CLUSTER[/ROLE[/ENV[/NAME]]], with * wildcards.
    List { key: String },
    /// Kill instances of a job: CLUSTER/ROLE/ENV/NAME/INSTANCES (e.g. 0-3,5).
    Kill { spec: InstanceSpec },
    /// Kill every instance of a job.
    Killall { key: JobPath },
    /// Add instances copying the configuration of an active instance: CLUSTER/ROLE/ENV/NAME/INSTANCE COUNT.
    Add {
        instance: TaskInstanceKey,
        count: u32,
    },
    /// Restart instances in batches, each batch RUNNING again before the next.
    Restart {
        spec: InstanceSpec,
        #[arg(long, default_value_t = 1)]
        batch_size: usize,
    },
    /// Print the web page of a cluster, role, environment or job.
    Open { key: String },
}

#[derive(Subcommand)]
enum TaskVerb {
    /// Print a task's output, read through the scheduler (no tunnel to the agent needed).
    Logs {
        /// CLUSTER/ROLE/ENV/NAME/INSTANCE
        instance: TaskInstanceKey,
        /// The process (default: the task's first).
        process: Option<String>,
        /// Read stderr instead of stdout.
        #[arg(long)]
        stderr: bool,
        /// Keep printing as the process writes, until the task ends.
        #[arg(long, short)]
        follow: bool,
        /// Only the last N lines.
        #[arg(long)]
        tail: Option<u32>,
    },
}

async fn run(cli: Cli) -> anyhow::Result<()> {
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
        Noun::Job(JobVerb::Create {
            key,
            file,
            bind,
            wait_until,
        }) => {
            let wait = match wait_until {
                WaitUntil::Pending => "PENDING",
                WaitUntil::Running => "RUNNING",
                WaitUntil::Finished => "FINISHED",
            };
            commands::create(&key, &file, &bind, wait).await?;
        }
        Noun::Job(JobVerb::Status { key, write_json }) => {
            commands::status(&key, write_json).await?
        }
        Noun::Job(JobVerb::List { key }) => commands::list(&key).await?,
        Noun::Job(JobVerb::Kill { spec }) => commands::kill(&spec, false).await?,
        Noun::Job(JobVerb::Killall { key }) => {
            commands::kill(
                &InstanceSpec {
                    job: key,
                    instances: None,
                },
                true,
            )
            .await?
        }
        Noun::Job(JobVerb::Add { instance, count }) => commands::add(&instance, count).await?,
        Noun::Job(JobVerb::Restart { spec, batch_size }) => {
            commands::restart(&spec, batch_size).await?
        }
        Noun::Job(JobVerb::Open { key }) => commands::open(&key)?,
        Noun::Task(TaskVerb::Logs {
            instance,
            process,
            stderr,
            follow,
            tail,
        }) => commands::logs(&instance, process, stderr, follow, tail).await?,
        Noun::Cron(CronVerb::Schedule { key, file, bind }) => {
            commands::cron_schedule(&key, &file, &bind).await?
        }
        Noun::Cron(CronVerb::Deschedule { key }) => commands::cron_deschedule(&key).await?,
        Noun::Cron(CronVerb::Start { key }) => commands::cron_start(&key).await?,
        Noun::Cron(CronVerb::Show { key }) => commands::cron_show(&key).await?,
        Noun::Auth(AuthVerb::Login { cluster }) => commands::login(&cluster).await?,
    }
    Ok(())
}

fn main() -> ExitCode {
    aurora::run_cli(run(Cli::parse()))
}
