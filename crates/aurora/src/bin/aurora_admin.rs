//! `aurora_admin`: the operators' client, with Aurora's argument forms
//! (`aurora_admin host_drain --hosts=H1,H2 CLUSTER`). Verbs live in `aurora::admin`.

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
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
