//! `aurora-scheduler`: serves the API and schedules tasks. `aurora-scheduler --local-agent` is a
//! whole single-machine cluster named `devcluster` on 127.0.0.1:8081.

use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "aurora-scheduler",
    version,
    about = "The Aurora-compatible scheduler"
)]
struct Args {
    /// The cluster's name, as in clients' clusters.json.
    #[arg(long, default_value = "devcluster")]
    cluster: String,
    /// Where the state (SQLite) and the local agent's sandboxes live.
    #[arg(long, default_value = "./aurora-data")]
    data_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8081")]
    listen: SocketAddr,
    /// Run an agent inside the scheduler: a single-machine cluster.
    #[arg(long)]
    local_agent: bool,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let config = aurora_scheduler::Config {
        cluster: args.cluster,
        data_dir: args.data_dir,
        listen: args.listen,
        local_agent: args.local_agent,
    };
    match aurora_scheduler::start(config).await {
        Ok(running) => {
            println!("aurora-scheduler listening on http://{}", running.addr);
            match running.wait().await {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    std::process::ExitCode::FAILURE
                }
            }
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
