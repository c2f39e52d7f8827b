//! `aurora-agent`: the agent of one machine. It registers with the scheduler, runs the tasks it is
//! given, and serves their logs and sandboxes to the scheduler.
//!
//! `aurora-agent --scheduler http://scheduler:8081 --attribute rack=r1 --cluster-secret-file S`

use anyhow::{Context, bail};
use aurora_agent::Config;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(clap::Parser)]
#[command(
    name = "aurora-agent",
    version,
    about = "The agent of one machine of the cluster"
)]
struct Args {
    /// Read settings from this TOML file: its keys are these flags' long names
    /// (`scheduler = "http://scheduler:8081"`, `attribute = ["rack=r1"]`); flags given here win.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The scheduler's URL; several, comma-separated, for a cluster of schedulers on etcd (the
    /// agent follows whichever leads).
    #[arg(long, required_unless_present = "print_credential")]
    scheduler: Option<String>,
    /// This machine's name, as placement, constraints (`host`) and maintenance see it.
    #[arg(long)]
    hostname: Option<String>,
    /// An attribute for constraints: --attribute rack=r1 (repeatable).
    #[arg(long = "attribute", value_name = "KEY=VALUE", value_parser = parse_attribute)]
    attributes: Vec<(String, String)>,
    /// What tasks may use: cpu=N,ram=SIZE,disk=SIZE (sizes like 512MB or 16GB); what the
    /// machine has when absent (each key may be left out).
    #[arg(long)]
    resources: Option<String>,
    /// The ports handed to tasks: A-B.
    #[arg(long, default_value = "31000-32000", value_parser = aurora_agent::parse_port_range)]
    port_range: (u16, u16),
    /// Where sandboxes live.
    #[arg(long, default_value = "./aurora-agent")]
    work_dir: PathBuf,
    /// Where the file server (logs, sandboxes) listens, for the scheduler only.
    #[arg(long, default_value = "0.0.0.0:0")]
    listen: SocketAddr,
    /// The agent's id; derived from the hostname when absent.
    #[arg(long)]
    agent_id: Option<String>,
    /// A file (mode 0600) holding the cluster secret (the scheduler's --cluster-secret-file, or
    /// the DATA/cluster-secret a scheduler made): the agent derives its credential from it.
    #[arg(long)]
    cluster_secret_file: Option<PathBuf>,
    /// A file (mode 0600) holding only this agent's credential (`--print-credential` makes it),
    /// so that the machine never holds the cluster secret.
    #[arg(long)]
    agent_credential_file: Option<PathBuf>,
    /// Certificates (PEM) to trust for an https:// scheduler, besides the system's.
    #[arg(long)]
    scheduler_ca: Option<PathBuf>,
    /// Print the credential of --agent-id (from --cluster-secret-file) and exit: what an agent
    /// machine's --agent-credential-file holds.
    #[arg(long, requires_all = ["agent_id", "cluster_secret_file"])]
    print_credential: bool,
    /// Run every task as this user. By default an agent running as root runs each task as the
    /// user named by its role (and refuses a task whose role has no user here); any other agent
    /// runs tasks as itself.
    #[arg(long)]
    task_user: Option<String>,
    /// Refuse to run a task as an account with a smaller uid (a system account such as root or
    /// www-data), unless --allow-task-user names it.
    #[arg(long, default_value_t = aurora_model::task_user::DEFAULT_MIN_UID)]
    min_task_uid: u32,
    /// A system account tasks may run as anyway (repeatable).
    #[arg(long = "allow-task-user")]
    allow_task_users: Vec<String>,
}

fn parse_attribute(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() && !v.trim().is_empty() => {
            Ok((k.trim().to_owned(), v.trim().to_owned()))
        }
        _ => Err(format!("expected KEY=VALUE, got '{s}'")),
    }
}

/// A size in MiB: `512MB`, `16GB`, `1TB`, `2048` (MiB).
fn parse_size_mb(s: &str) -> anyhow::Result<u64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .with_context(|| format!("'{s}' is not a size such as 512MB or 16GB"))?;
    let mb = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "MB" | "M" | "MIB" => n,
        "GB" | "G" | "GIB" => n * 1024.0,
        "TB" | "T" | "TIB" => n * 1024.0 * 1024.0,
        "KB" | "K" | "KIB" => n / 1024.0,
        u => bail!("unknown size unit '{u}' in '{s}' (use KB, MB, GB or TB)"),
    };
    Ok(mb as u64)
}

/// Applies `cpu=N,ram=SIZE,disk=SIZE` over the machine's own figures.
fn apply_resources(config: &mut Config, spec: &str) -> anyhow::Result<()> {
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .with_context(|| format!("--resources: expected KEY=VALUE, got '{part}'"))?;
        match k.trim() {
            "cpu" => {
                let cpu: f64 = v
                    .trim()
                    .parse()
                    .with_context(|| format!("--resources: cpu '{v}' is not a number"))?;
                if cpu <= 0.0 {
                    bail!("--resources: cpu must be positive, got {v}");
                }
                config.resources.cpu = cpu;
            }
            "ram" => config.resources.ram_mb = parse_size_mb(v).context("--resources ram")?,
            "disk" => config.resources.disk_mb = parse_size_mb(v).context("--resources disk")?,
            other => bail!("--resources: unknown resource '{other}' (cpu, ram, disk)"),
        }
    }
    Ok(())
}

fn config(args: Args) -> anyhow::Result<Config> {
    let mut config = Config::local(
        args.scheduler
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().trim_end_matches('/'))
            .collect::<Vec<_>>()
            .join(","),
        args.work_dir,
    );
    if let Some(h) = args.hostname {
        config.agent_id = format!(
            "agent-{}",
            h.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "-")
        );
        config.hostname = h;
    }
    if let Some(id) = args.agent_id {
        config.agent_id = id;
    }
    if let Some(spec) = &args.resources {
        apply_resources(&mut config, spec)?;
    }
    config.resources.port_range = args.port_range;
    config.attributes = args.attributes.into_iter().collect::<BTreeMap<_, _>>();
    config.listen = args.listen;
    config.scheduler_ca = args.scheduler_ca;
    config.confine = aurora_agent::Confine::detect(&config.agent_id);
    config.confine.task_users = aurora_model::task_user::TaskUserPolicy {
        min_uid: args.min_task_uid,
        allowed: args.allow_task_users.iter().cloned().collect(),
    };
    config.confine.task_user = match args.task_user {
        Some(u) => {
            let r = aurora_executor::isolation::RunAs::lookup(&u)?;
            config.confine.task_users.check(&r.user, r.uid)?;
            aurora_agent::TaskUser::Fixed(u)
        }
        None if nix::unistd::geteuid().is_root() => aurora_agent::TaskUser::Role,
        None => aurora_agent::TaskUser::Agent,
    };
    use aurora_agent::cluster_secret;
    config.credential = Some(
        match (&args.cluster_secret_file, &args.agent_credential_file) {
            (Some(secret), None) => {
                cluster_secret::credential(&cluster_secret::read(secret)?, &config.agent_id)
            }
            (None, Some(credential)) => cluster_secret::read(credential)?,
            (Some(_), Some(_)) => {
                bail!("give --cluster-secret-file or --agent-credential-file, not both")
            }
            (None, None) => bail!(
                "the agent must prove who it is: give --cluster-secret-file (the scheduler's, or the \
             DATA/cluster-secret a scheduler made) or --agent-credential-file"
            ),
        },
    );
    Ok(config)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args: Args = aurora_cli::parse();
    let print = args.print_credential;
    let config = match config(args) {
        Ok(c) if print => {
            println!("{}", c.credential.unwrap_or_default());
            return std::process::ExitCode::SUCCESS;
        }
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    tracing::info!(
        agent = %config.agent_id,
        host = %config.hostname,
        scheduler = %config.scheduler,
        "agent starting"
    );
    match aurora_agent::run(config).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse() {
        assert_eq!(
            parse_attribute("rack=r1").unwrap(),
            ("rack".into(), "r1".into())
        );
        assert!(parse_attribute("rack").is_err() && parse_attribute("=x").is_err());
        assert_eq!(parse_size_mb("512MB").unwrap(), 512);
        assert_eq!(parse_size_mb("16GB").unwrap(), 16 * 1024);
        assert_eq!(parse_size_mb("1.5g").unwrap(), 1536);
        assert_eq!(parse_size_mb("2048").unwrap(), 2048);
        assert!(
            parse_size_mb("12 parsecs")
                .unwrap_err()
                .to_string()
                .contains("unit")
        );
        let mut c = Config::local("http://s".into(), "/tmp/x".into());
        apply_resources(&mut c, "cpu=2.5, ram=4GB,disk=10GB").unwrap();
        assert_eq!(
            (c.resources.cpu, c.resources.ram_mb, c.resources.disk_mb),
            (2.5, 4096, 10240)
        );
        assert!(
            apply_resources(&mut c, "gpu=1")
                .unwrap_err()
                .to_string()
                .contains("unknown resource")
        );
        assert!(apply_resources(&mut c, "cpu=0").is_err());
    }
}
