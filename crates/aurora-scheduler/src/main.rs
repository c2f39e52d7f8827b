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
    /// First delay before a flapping task (one that ended within 5 minutes) is rescheduled.
    #[arg(long, default_value_t = 30_000)]
    initial_flapping_task_delay_ms: u64,
    /// Longest delay before a flapping task is rescheduled.
    #[arg(long, default_value_t = 300_000)]
    max_flapping_task_delay_ms: u64,
    /// The time zone cron schedules are evaluated in (an IANA name such as Europe/Zurich).
    #[arg(long, default_value = "UTC", value_parser = parse_tz)]
    cron_timezone: chrono_tz::Tz,
    /// A file holding the cluster secret every agent must present. Without one, only agents on
    /// loopback (such as `--local-agent`) may register.
    #[arg(long)]
    cluster_secret_file: Option<PathBuf>,
    /// An agent silent for this long is lost: its tasks are LOST and replaced elsewhere.
    #[arg(long, default_value_t = 60_000)]
    agent_lost_timeout_ms: u64,
}

fn parse_tz(s: &str) -> Result<chrono_tz::Tz, String> {
    s.parse().map_err(|_| {
        format!("unknown time zone '{s}' (use an IANA name such as UTC or Europe/Zurich)")
    })
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
    let cluster_secret = match args
        .cluster_secret_file
        .as_deref()
        .map(aurora_agent::cluster_secret::read)
        .transpose()
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    let config = aurora_scheduler::Config {
        cluster: args.cluster,
        data_dir: args.data_dir,
        listen: args.listen,
        local_agent: args.local_agent,
        backoff: aurora_sched::reschedule::Backoff {
            initial: std::time::Duration::from_millis(args.initial_flapping_task_delay_ms),
            max: std::time::Duration::from_millis(args.max_flapping_task_delay_ms),
            ..Default::default()
        },
        cron_timezone: args.cron_timezone,
        clock: std::sync::Arc::new(aurora_scheduler::core::SystemClock),
        cluster_secret,
        agent_lost_timeout: std::time::Duration::from_millis(args.agent_lost_timeout_ms),
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
