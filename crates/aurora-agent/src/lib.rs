//! The agent: one per machine (or embedded in the scheduler for a single-machine cluster). It
//! registers with the scheduler, holds the command stream, runs the tasks it is given through
//! `aurora-executor`, reports their states (retried until acknowledged), and serves their logs.
//! It speaks the protocol through `aurora_client::agent_protocol`; what it does with each command,
//! when a silent stream is dead and how it retries are decided here.
//!
//! It never decides placement. It owns the sandboxes under its work directory.

pub mod cluster_secret;
pub mod files;
mod report;
pub mod sandbox;
mod tasks;

use anyhow::Context;
use aurora_api::{AgentCommand, AgentResources, RegisterRequest};
use aurora_client::agent_protocol::{AgentProtocolClient, CommandError};
use futures_util::StreamExt;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How an agent is set up.
#[derive(Debug, Clone)]
pub struct Config {
    /// The scheduler's base URL.
    pub scheduler: String,
    pub agent_id: String,
    pub hostname: String,
    /// Sandboxes live under `work_dir/sandboxes`.
    pub work_dir: PathBuf,
    pub resources: AgentResources,
    pub attributes: BTreeMap<String, String>,
    /// Where the file server (logs, sandboxes) listens (port 0: any). The scheduler reaches it at
    /// this address, or at `hostname` when this is a wildcard address.
    pub listen: std::net::SocketAddr,
    /// The agent's credential (`cluster_secret`): presented to the scheduler, required from it.
    /// An agent without one does not start.
    pub credential: Option<String>,
    /// Certificates (PEM) to trust for an `https://` scheduler, besides the system's.
    pub scheduler_ca: Option<PathBuf>,
    /// Who tasks run as, and what limits them.
    pub confine: Confine,
}

/// Whose identity a task's processes take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskUser {
    /// The agent's own (the single-machine default, and any agent not running as root).
    Agent,
    /// The Unix user named by the task's role; a task whose role has no user on the host fails
    /// to start with that reason.
    Role,
    /// One service user for every task.
    Fixed(String),
}

/// Why a task cannot run as the user it should.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskUserError {
    #[error(transparent)]
    Lookup(#[from] aurora_executor::isolation::IsolationError),
    /// The role's account is a system account the agent was not told to allow.
    #[error(transparent)]
    SystemAccount(#[from] aurora_model::task_user::SystemAccount),
}

impl TaskUser {
    /// The identity for a task of `role`, if `policy` allows it (the agent's own identity is not
    /// checked: running as itself is what it was started to do).
    pub fn run_as(
        &self,
        role: &str,
        policy: &aurora_model::task_user::TaskUserPolicy,
    ) -> Result<Option<aurora_executor::isolation::RunAs>, TaskUserError> {
        use aurora_executor::isolation::RunAs;
        let r = match self {
            TaskUser::Agent => return Ok(None),
            TaskUser::Role => RunAs::lookup(role)?,
            TaskUser::Fixed(u) => RunAs::lookup(u)?,
        };
        policy.check(&r.user, r.uid)?;
        Ok(Some(r))
    }
}

/// How an agent confines its tasks.
#[derive(Debug, Clone)]
pub struct Confine {
    pub task_user: TaskUser,
    /// The accounts tasks may run as (`--min-task-uid`, `--allow-task-user`).
    pub task_users: aurora_model::task_user::TaskUserPolicy,
    /// Chosen once at start (`Isolation::detect`); `None` leaves tasks unlimited.
    pub isolation: Option<Arc<aurora_executor::isolation::Isolation>>,
    /// How often each sandbox's size is checked against its task's `disk`.
    pub disk_check: Duration,
}

impl Confine {
    /// Tasks as the agent's own user, limited by the best back end the host offers.
    pub fn detect(agent_id: &str) -> Confine {
        Confine {
            task_user: TaskUser::Agent,
            task_users: Default::default(),
            isolation: Some(Arc::new(aurora_executor::isolation::Isolation::detect(
                &format!("aurora/{agent_id}"),
            ))),
            disk_check: Duration::from_secs(5),
        }
    }

    /// The back end's name, as `aurora_admin hosts` shows it.
    pub fn isolation_name(&self) -> &'static str {
        self.isolation.as_deref().map_or("none", |i| i.name())
    }
}

impl Config {
    /// An agent on this machine, offering what the machine has.
    pub fn local(scheduler: String, work_dir: PathBuf) -> Self {
        let disk_mb = free_disk_mb(&work_dir).unwrap_or(10 * 1024);
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|_| "localhost".into());
        let cpu = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let ram_mb = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .find(|l| l.starts_with("MemTotal:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            })
            .map_or(4096, |kb| kb / 1024);
        let agent_id = format!(
            "local-{}",
            hostname.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "-")
        );
        Config {
            scheduler,
            hostname,
            work_dir,
            resources: AgentResources {
                cpu,
                ram_mb,
                disk_mb,
                port_range: (31000, 32000),
            },
            attributes: BTreeMap::new(),
            confine: Confine::detect(&agent_id),
            agent_id,
            listen: ([127, 0, 0, 1], 0).into(),
            credential: None,
            scheduler_ca: None,
        }
    }
}

/// Free space where the sandboxes go (the nearest existing ancestor of `dir`), in MiB.
fn free_disk_mb(dir: &std::path::Path) -> Option<u64> {
    let existing = dir.ancestors().find(|p| p.exists())?;
    let st = nix::sys::statvfs::statvfs(existing).ok()?;
    Some(st.blocks_available() as u64 * st.fragment_size() as u64 / (1024 * 1024))
}

/// Runs the agent until the process ends: reconnects to the scheduler whenever the stream drops.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let sandboxes = config.work_dir.join("sandboxes");
    std::fs::create_dir_all(&sandboxes)
        .with_context(|| format!("creating {}", sandboxes.display()))?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .context("binding the agent's log server")?;
    let bound = listener.local_addr()?;
    let endpoint = if bound.ip().is_unspecified() {
        format!("http://{}:{}", config.hostname, bound.port())
    } else {
        format!("http://{bound}")
    };
    let credential = config
        .credential
        .clone()
        .context("the agent has no credential (cluster_secret::credential)")?;
    let (expected, agent_id) = (credential.clone(), config.agent_id.clone());
    let app = files::router(sandboxes.clone()).layer(axum::middleware::from_fn(
        move |axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<
            std::net::SocketAddr,
        >,
              req: axum::extract::Request,
              next: axum::middleware::Next| {
            let (expected, agent_id) = (expected.clone(), agent_id.clone());
            async move {
                let given = req
                    .headers()
                    .get(cluster_secret::HEADER)
                    .map(|v| v.as_bytes());
                match cluster_secret::check(&expected, &agent_id, given) {
                    Ok(()) => next.run(req).await,
                    Err(e) => {
                        tracing::warn!(%peer, "file server request refused: {e}");
                        axum::response::IntoResponse::into_response((
                            axum::http::StatusCode::UNAUTHORIZED,
                            axum::Json(serde_json::json!({ "error": e.to_string() })),
                        ))
                    }
                }
            }
        },
    ));
    tokio::spawn(async move {
        let service = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
        if let Err(e) = axum::serve(listener, service).await {
            tracing::error!("agent file server failed: {e}");
        }
    });
    let ca = match &config.scheduler_ca {
        Some(path) => {
            Some(std::fs::read(path).with_context(|| format!("reading {}", path.display()))?)
        }
        None => None,
    };
    let scheduler = AgentProtocolClient::new(&config.scheduler, &credential, ca.as_deref())
        .with_context(|| match &config.scheduler_ca {
            Some(path) => format!("the scheduler's client (CA {})", path.display()),
            None => "the scheduler's client".to_owned(),
        })?;
    let reporter = report::Reporter::start(scheduler.clone(), config.agent_id.clone());
    tracing::info!(
        isolation = config.confine.isolation_name(),
        task_user = ?config.confine.task_user,
        "tasks are confined"
    );
    let tasks = Arc::new(tasks::Tasks::new(
        sandboxes,
        config.hostname.clone(),
        config.confine.clone(),
        reporter,
    ));
    tasks.adopt_survivors();
    // With several schedulers (one leads), a new leader is elected within seconds: come back
    // to it soon.
    let longest = if scheduler.schedulers().all().len() > 1 {
        Duration::from_secs(1)
    } else {
        Duration::from_secs(10)
    };
    let mut backoff = Duration::from_millis(100);
    loop {
        match session(&config, &endpoint, &scheduler, &tasks).await {
            Ok(()) => backoff = Duration::from_millis(100),
            Err(e) => {
                tracing::warn!(
                    "agent session with {} ended: {e:#}; reconnecting in {backoff:?}",
                    scheduler.base()
                );
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(longest);
            }
        }
    }
}

/// One connection: register, then follow the command stream until it ends.
async fn session(
    config: &Config,
    endpoint: &str,
    scheduler: &AgentProtocolClient,
    tasks: &Arc<tasks::Tasks>,
) -> anyhow::Result<()> {
    let register = RegisterRequest {
        agent_id: config.agent_id.clone(),
        hostname: config.hostname.clone(),
        endpoint: endpoint.to_owned(),
        resources: config.resources.clone(),
        attributes: config.attributes.clone(),
        running: tasks.running(),
        isolation: config.confine.isolation_name().to_owned(),
    };
    let registered = scheduler.register(&register).await.context("registering")?;
    // Four heartbeats missed: the stream (or the network under it) is dead.
    let silence = Duration::from_millis(registered.heartbeat_ms.max(250) * 4);
    let mut commands = scheduler
        .commands(&config.agent_id)
        .await
        .context("opening the command stream")?;
    loop {
        // A silent stream is a dead one.
        let command = tokio::time::timeout(silence, commands.next())
            .await
            .context("command stream went silent")?;
        match command {
            None => anyhow::bail!("the scheduler closed the command stream"),
            Some(Ok(AgentCommand::Launch(launch))) => {
                tracing::info!(task = %launch.task_id, "launching");
                tasks.launch(*launch)
            }
            Some(Ok(AgentCommand::Kill { task_id, grace_ms })) => {
                tasks.kill(&task_id, Duration::from_millis(grace_ms))
            }
            Some(Ok(AgentCommand::Heartbeat)) => {
                // Answered with an empty status batch: the scheduler knows this agent lives.
                let (scheduler, agent_id) = (scheduler.clone(), config.agent_id.clone());
                tokio::spawn(async move {
                    if let Err(e) = scheduler.heartbeat(&agent_id).await {
                        tracing::debug!("heartbeat not delivered: {e}");
                    }
                });
            }
            Some(Err(e @ CommandError::Unparsable(_))) => {
                tracing::warn!("ignoring {e}")
            }
            Some(Err(e @ CommandError::Broken(_))) => return Err(e.into()),
        }
    }
}

/// A port range flag: `A-B`, with 0 < A <= B.
pub fn parse_port_range(s: &str) -> Result<(u16, u16), String> {
    let bad = || format!("expected a port range A-B with A <= B, got '{s}'");
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    let (a, b): (u16, u16) = (
        a.trim().parse().map_err(|_| bad())?,
        b.trim().parse().map_err(|_| bad())?,
    );
    if a == 0 || a > b {
        return Err(bad());
    }
    Ok((a, b))
}

#[cfg(test)]
mod port_range_tests {
    #[test]
    fn port_ranges_parse_or_say_why() {
        assert_eq!(
            super::parse_port_range("31000-31010").unwrap(),
            (31000, 31010)
        );
        assert!(super::parse_port_range("2-1").is_err() && super::parse_port_range("x").is_err());
    }
}

#[cfg(test)]
mod task_user_tests {
    use super::{TaskUser, TaskUserError};

    #[test]
    fn a_role_that_is_a_system_account_is_refused_at_launch() {
        let policy = aurora_model::task_user::TaskUserPolicy::default();
        let e = TaskUser::Role.run_as("root", &policy).unwrap_err();
        assert!(matches!(e, TaskUserError::SystemAccount(_)), "{e}");
        assert!(e.to_string().contains("--allow-task-user root"), "{e}");
        let allowed = aurora_model::task_user::TaskUserPolicy {
            allowed: ["root".to_owned()].into(),
            ..policy.clone()
        };
        assert_eq!(
            TaskUser::Role
                .run_as("root", &allowed)
                .unwrap()
                .unwrap()
                .uid,
            0
        );
        assert!(
            TaskUser::Fixed("nobody".into())
                .run_as("x", &policy)
                .is_ok()
        );
        assert_eq!(TaskUser::Agent.run_as("root", &policy).unwrap(), None);
    }
}
