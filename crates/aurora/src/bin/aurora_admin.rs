//! `aurora_admin`: the operators' client, with Aurora's argument forms
//! (`aurora_admin host_drain --hosts=H1,H2 CLUSTER`). Verbs live in `aurora::admin`.

use aurora::admin::{StorageCommand, storage};
use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "aurora_admin",
    version,
    about = "Administer an Aurora-compatible cluster"
)]
struct Cli {
    #[command(subcommand)]
    verb: Verb,
}

/// `--hosts=H1,H2`.
#[derive(clap::Args)]
struct Hosts {
    /// Comma-separated hostnames.
    #[arg(long, value_delimiter = ',', required = true)]
    hosts: Vec<String>,
    /// The cluster, as named in clusters.json.
    cluster: String,
}

#[derive(Subcommand)]
enum Verb {
    /// Move every task off the hosts and keep new ones away, then wait until they are drained.
    #[command(name = "host_drain")]
    HostDrain {
        #[command(flatten)]
        hosts: Hosts,
        /// Return at once instead of waiting for the hosts to be drained.
        #[arg(long)]
        no_wait: bool,
    },
    /// Print the hosts' maintenance modes: NONE, DRAINING or DRAINED.
    #[command(name = "host_maintenance_status")]
    HostMaintenanceStatus {
        #[command(flatten)]
        hosts: Hosts,
    },
    /// End the hosts' maintenance: they take tasks again.
    #[command(name = "host_activate")]
    HostActivate {
        #[command(flatten)]
        hosts: Hosts,
    },
    /// List the agents: attributes, resources used and free, state.
    Hosts { cluster: String },
    /// Users' tokens.
    #[command(subcommand)]
    Token(TokenVerb),
    /// Back up the scheduler's state now.
    #[command(name = "scheduler_backup_now")]
    SchedulerBackupNow { cluster: String },
    /// List the scheduler's backups.
    #[command(name = "scheduler_list_backups")]
    SchedulerListBackups { cluster: String },
    /// Load a backup as a recovery to inspect, prune and commit.
    #[command(name = "scheduler_stage_recovery")]
    SchedulerStageRecovery { cluster: String, backup_id: String },
    /// Print the tasks of the staged recovery.
    #[command(name = "scheduler_print_recovery_tasks")]
    SchedulerPrintRecoveryTasks { cluster: String },
    /// Remove tasks (comma-separated ids) from the staged recovery.
    #[command(name = "scheduler_delete_recovery_tasks")]
    SchedulerDeleteRecoveryTasks {
        cluster: String,
        #[arg(value_delimiter = ',')]
        task_ids: Vec<String>,
    },
    /// Replace the scheduler's state by the staged recovery's; the scheduler restarts.
    #[command(name = "scheduler_commit_recovery")]
    SchedulerCommitRecovery { cluster: String },
    /// Drop the staged recovery.
    #[command(name = "scheduler_unload_recovery")]
    SchedulerUnloadRecovery { cluster: String },
    /// Snapshot the scheduler's state now (into etcd with several schedulers).
    #[command(name = "scheduler_snapshot")]
    SchedulerSnapshot { cluster: String },
}

#[derive(Subcommand)]
enum TokenVerb {
    /// Issue a token for USER and print it (it is shown once).
    Issue {
        user: String,
        /// Lifetime in hours.
        #[arg(long, default_value = "24h", value_parser = parse_hours)]
        ttl: u64,
        /// Accept it only from this address (`*`: from any); the requester's address by default.
        #[arg(long)]
        bind_ip: Option<String>,
        /// The cluster (the only one in clusters.json by default).
        #[arg(long)]
        cluster: Option<String>,
    },
    /// List tokens (never the tokens themselves).
    List {
        #[arg(long)]
        cluster: Option<String>,
    },
    /// Revoke a token by its id.
    Revoke {
        id: String,
        #[arg(long)]
        cluster: Option<String>,
    },
}

/// `24h`, `90m`, `7d`, `3600s` → seconds.
fn parse_hours(s: &str) -> Result<u64, String> {
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = n
        .parse()
        .map_err(|_| format!("'{s}' is not a duration such as 24h"))?;
    Ok(match unit {
        "s" => n,
        "m" => n * 60,
        "h" | "" => n * 3600,
        "d" => n * 86_400,
        u => return Err(format!("unknown unit '{u}' (s, m, h or d)")),
    })
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.verb {
        Verb::HostDrain { hosts, no_wait } => {
            aurora::admin::host_drain(&hosts.cluster, &hosts.hosts, !no_wait).await
        }
        Verb::HostMaintenanceStatus { hosts } => {
            aurora::admin::host_maintenance_status(&hosts.cluster, &hosts.hosts).await
        }
        Verb::HostActivate { hosts } => {
            aurora::admin::host_activate(&hosts.cluster, &hosts.hosts).await
        }
        Verb::Hosts { cluster } => aurora::admin::hosts(&cluster).await,
        Verb::Token(TokenVerb::Issue {
            user,
            ttl,
            bind_ip,
            cluster,
        }) => aurora::admin::token_issue(cluster.as_deref(), &user, ttl, bind_ip).await,
        Verb::Token(TokenVerb::List { cluster }) => {
            aurora::admin::token_list(cluster.as_deref()).await
        }
        Verb::Token(TokenVerb::Revoke { id, cluster }) => {
            aurora::admin::token_revoke(cluster.as_deref(), &id).await
        }
        Verb::SchedulerBackupNow { cluster } => storage(&cluster, StorageCommand::BackupNow).await,
        Verb::SchedulerListBackups { cluster } => {
            storage(&cluster, StorageCommand::ListBackups).await
        }
        Verb::SchedulerStageRecovery { cluster, backup_id } => {
            storage(&cluster, StorageCommand::StageRecovery(backup_id)).await
        }
        Verb::SchedulerPrintRecoveryTasks { cluster } => {
            storage(&cluster, StorageCommand::PrintRecoveryTasks).await
        }
        Verb::SchedulerDeleteRecoveryTasks { cluster, task_ids } => {
            storage(&cluster, StorageCommand::DeleteRecoveryTasks(task_ids)).await
        }
        Verb::SchedulerCommitRecovery { cluster } => {
            storage(&cluster, StorageCommand::CommitRecovery).await
        }
        Verb::SchedulerUnloadRecovery { cluster } => {
            storage(&cluster, StorageCommand::UnloadRecovery).await
        }
        Verb::SchedulerSnapshot { cluster } => storage(&cluster, StorageCommand::Snapshot).await,
    }
}

fn main() -> ExitCode {
    aurora::run_cli(run(aurora_cli::parse::<Cli>()))
}
