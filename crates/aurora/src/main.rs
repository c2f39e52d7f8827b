//! The `aurora` command-line client: Aurora's nouns and verbs (`aurora job create ...`).
//!
//! This binary only wires arguments to the `aurora` library (`commands`, `inspect`): configs are
//! evaluated by `aurora-config`, the scheduler is reached through `aurora-client`.
//! Errors are one line on stderr with exit status 1; bad arguments exit with 2 (clap's usage
//! errors).

use anyhow::Context;
use aurora::{commands, inspect, updates};
use aurora_api::UpdateAction;
use aurora_config::{Bind, Config};
use aurora_model::JobPath;
use aurora_model::instances::{InstanceSpec, TaskInstanceKey};
use aurora_model::task::ScheduleStatus;
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
    /// Roll jobs to new configurations: rolling updates, watched, rolled back on failure.
    #[command(subcommand)]
    Update(UpdateVerb),
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
enum UpdateVerb {
    /// Start an update: CLUSTER/ROLE/ENV/NAME[/INSTANCES] FILE (only the listed instances, if any).
    Start {
        spec: InstanceSpec,
        /// The .aurora file.
        file: PathBuf,
        /// Bind a template variable: --bind NAME=VALUE (repeatable).
        #[arg(long = "bind", value_name = "NAME=VALUE")]
        bind: Vec<Bind>,
        /// Follow the update until it ends (exit 0 rolled forward, 4 rolled back, 20 otherwise).
        #[arg(long)]
        wait: bool,
        /// A message recorded with the update's first event.
        #[arg(long)]
        message: Option<String>,
    },
    /// Pause the job's active update.
    Pause {
        key: JobPath,
        #[arg(long)]
        message: Option<String>,
    },
    /// Resume the job's paused update.
    Resume {
        key: JobPath,
        #[arg(long)]
        message: Option<String>,
    },
    /// Abort the job's active update: instances stay as they are.
    Abort {
        key: JobPath,
        #[arg(long)]
        message: Option<String>,
    },
    /// Roll the job's active update back to the configuration instances had before it.
    Rollback {
        key: JobPath,
        #[arg(long)]
        message: Option<String>,
    },
    /// Pulse the job's active coordinated update (one with pulse_interval_secs).
    Pulse { key: JobPath },
    /// List updates: CLUSTER[/ROLE[/ENV[/NAME]]].
    List {
        spec: String,
        /// Only these states (names, or active, paused, blocked, succeeded, failed, inactive,
        /// all); repeatable.
        #[arg(long)]
        status: Vec<String>,
        /// Only updates started by this user.
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        write_json: bool,
    },
    /// Show an update (the job's active one when no ID is given): events, instance events.
    Info {
        key: JobPath,
        id: Option<String>,
        #[arg(long)]
        write_json: bool,
    },
    /// Wait for an update (the job's active one when no ID is given) to end.
    Wait { key: JobPath, id: Option<String> },
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
    /// Rolling restart: instances replaced in batches, each watched while RUNNING before the
    /// next; unset options come from the job's update_config.
    Restart {
        spec: InstanceSpec,
        #[arg(long)]
        batch_size: Option<u32>,
        /// How long each restarted instance must stay RUNNING.
        #[arg(long)]
        watch_secs: Option<u32>,
        #[arg(long)]
        max_per_instance_failures: Option<u32>,
        #[arg(long)]
        max_total_failures: Option<u32>,
    },
    /// Show what an update to FILE would change: CLUSTER/ROLE/ENV/NAME[/INSTANCES] FILE.
    Diff {
        spec: InstanceSpec,
        /// The .aurora file.
        file: PathBuf,
        /// Bind a template variable: --bind NAME=VALUE (repeatable).
        #[arg(long = "bind", value_name = "NAME=VALUE")]
        bind: Vec<Bind>,
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
                WaitUntil::Pending => ScheduleStatus::Pending,
                WaitUntil::Running => ScheduleStatus::Running,
                WaitUntil::Finished => ScheduleStatus::Finished,
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
        Noun::Job(JobVerb::Restart {
            spec,
            batch_size,
            watch_secs,
            max_per_instance_failures,
            max_total_failures,
        }) => {
            let o = updates::RestartOptions {
                batch_size,
                watch_secs,
                max_per_instance_failures,
                max_total_failures,
            };
            updates::restart(&spec, &o).await?
        }
        Noun::Job(JobVerb::Diff { spec, file, bind }) => updates::diff(&spec, &file, &bind).await?,
        Noun::Update(verb) => match verb {
            UpdateVerb::Start {
                spec,
                file,
                bind,
                wait,
                message,
            } => updates::start(&spec, &file, &bind, wait, message).await?,
            UpdateVerb::Pause { key, message } => {
                updates::control(&key, UpdateAction::Pause, message).await?
            }
            UpdateVerb::Resume { key, message } => {
                updates::control(&key, UpdateAction::Resume, message).await?
            }
            UpdateVerb::Abort { key, message } => {
                updates::control(&key, UpdateAction::Abort, message).await?
            }
            UpdateVerb::Rollback { key, message } => {
                updates::control(&key, UpdateAction::Rollback, message).await?
            }
            UpdateVerb::Pulse { key } => updates::pulse(&key).await?,
            UpdateVerb::List {
                spec,
                status,
                user,
                write_json,
            } => updates::list(&spec, &status, user, write_json).await?,
            UpdateVerb::Info {
                key,
                id,
                write_json,
            } => updates::info(&key, id, write_json).await?,
            UpdateVerb::Wait { key, id } => updates::wait(&key, id).await?,
        },
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
    aurora::run_cli(run(aurora_cli::parse::<Cli>()))
}
