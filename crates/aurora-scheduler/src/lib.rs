//! The scheduler process: durable state (`aurora-store`), the task lifecycle (`state`), the agents'
//! command streams and the HTTP API (`http`), and the loop that places pending tasks.
//!
//! `start` is what the binary and the end-to-end tests run. With `local_agent`, an agent runs in
//! the same process and talks to the scheduler over the same HTTP protocol a remote agent uses.

// The OpenAPI document (`http::openapi`) is one large `serde_json::json!` literal.
#![recursion_limit = "256"]

pub mod core;
pub mod http;
pub mod state;
pub mod views;

use anyhow::Context;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How a scheduler is started.
#[derive(Debug, Clone)]
pub struct Config {
    /// The cluster's name: jobs for another cluster are refused.
    pub cluster: String,
    /// Where the store (and the local agent's sandboxes) live.
    pub data_dir: PathBuf,
    /// Where the HTTP server listens (port 0: any free port).
    pub listen: SocketAddr,
    /// Run an agent inside this process.
    pub local_agent: bool,
    /// The ports the local agent hands to tasks.
    pub local_agent_ports: (u16, u16),
    /// The flapping backoff for replacement tasks.
    pub backoff: aurora_sched::reschedule::Backoff,
    /// The time zone cron schedules are evaluated in.
    pub cron_timezone: chrono_tz::Tz,
    /// The scheduler's clock (the system's, unless a test drives time).
    pub clock: Arc<dyn core::Clock>,
    /// The cluster secret agents' credentials derive from (`aurora_agent::cluster_secret`);
    /// without one, the scheduler makes one in `DATA/cluster-secret` (mode 0600) and keeps it.
    pub cluster_secret: Option<String>,
    /// An agent silent for longer than this is lost: its tasks are LOST and replaced elsewhere.
    pub agent_lost_timeout: Duration,
    /// Who may do what.
    pub auth: http::auth::AuthOptions,
    /// Serve HTTPS with this certificate chain and key (PEM). The chain should include its CA:
    /// the embedded agent trusts it.
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// A running scheduler.
pub struct Running {
    /// The address actually bound.
    pub addr: SocketAddr,
    pub core: Arc<core::Core>,
    server: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Waits until the server stops (it does not, unless it fails).
    pub async fn wait(self) -> anyhow::Result<()> {
        self.server.await.context("the HTTP server stopped")
    }
}

/// The longest a PENDING task that fits nowhere waits before placement is tried again.
const RETRY_PENDING: Duration = Duration::from_millis(500);

/// Opens the store under `config.data_dir` and rebuilds the state from it: jobs, tasks and cron
/// jobs (whose firings missed while the scheduler was down are not run late).
pub fn recover(config: &Config) -> anyhow::Result<Arc<core::Core>> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating the data directory {}", config.data_dir.display()))?;
    let cluster_secret = match &config.cluster_secret {
        Some(s) => s.clone(),
        None => {
            aurora_agent::cluster_secret::read_or_create(&config.data_dir.join("cluster-secret"))
                .context("the cluster secret made for this scheduler's agents")?
        }
    };
    let db = db_path(config);
    let (store, snapshot) = aurora_store::Store::open(&db)?;
    let (jobs, tasks, crons) = (
        snapshot.jobs.len(),
        snapshot.tasks.len(),
        snapshot.crons.len(),
    );
    let mut state = state::State::restore(snapshot.jobs, snapshot.tasks);
    state.backoff = config.backoff;
    state.cron_timezone = config.cron_timezone;
    state.restore_crons(snapshot.crons, config.clock.now_ms());
    state.restore_updates(snapshot.job_configs, snapshot.updates);
    state.agents.restore_maintenance(snapshot.maintenance);
    state.tokens = snapshot
        .tokens
        .into_iter()
        .map(|t| (t.hash.clone(), t))
        .collect();
    tracing::info!(jobs, tasks, crons, store = %db.display(), "state restored");
    Ok(core::Core::new(
        state,
        store,
        core::CoreOptions {
            cluster: config.cluster.clone(),
            clock: config.clock.clone(),
            cluster_secret,
            // Three heartbeats fit in the lost timeout.
            heartbeat: (config.agent_lost_timeout / 3)
                .min(http::agent::HEARTBEAT)
                .max(Duration::from_millis(50)),
        },
    ))
}

/// The store's file under the data directory.
fn db_path(config: &Config) -> PathBuf {
    config.data_dir.join("scheduler.db")
}

/// Opens the store, rebuilds the state, binds the listener, and starts serving and scheduling.
pub async fn start(config: Config) -> anyhow::Result<Running> {
    let core = recover(&config)?;
    let app = http::App::new(
        core.clone(),
        http::app::AppOptions {
            auth: config.auth.clone(),
            db: db_path(&config),
            audit_log: Some(config.data_dir.join("audit.log")),
        },
    )?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    let app = http::router(app).into_make_service_with_connect_info::<SocketAddr>();
    let server = match &config.tls {
        None => tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!("HTTP server failed: {e}");
            }
        }),
        Some((cert, key)) => {
            let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                .await
                .with_context(|| {
                    format!(
                        "loading the TLS certificate {} and key {}",
                        cert.display(),
                        key.display()
                    )
                })?;
            let std_listener = listener.into_std()?;
            let server = axum_server::from_tcp_rustls(std_listener, tls)?;
            tokio::spawn(async move {
                if let Err(e) = server.serve(app).await {
                    tracing::error!("HTTPS server failed: {e}");
                }
            })
        }
    };
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    tokio::spawn(schedule_loop(core.clone(), config.agent_lost_timeout));
    if config.local_agent {
        let mut agent = aurora_agent::Config::local(
            format!("{scheme}://{}", local_address(addr)),
            config.data_dir.join("agent"),
        );
        agent.credential = Some(aurora_agent::cluster_secret::credential(
            &core.cluster_secret,
            &agent.agent_id,
        ));
        agent.resources.port_range = config.local_agent_ports;
        agent.scheduler_ca = config.tls.as_ref().map(|(cert, _)| cert.clone());
        tokio::spawn(async move {
            if let Err(e) = aurora_agent::run(agent).await {
                tracing::error!("the local agent stopped: {e:#}");
            }
        });
    }
    tracing::info!(%addr, cluster = %config.cluster, "scheduler serving");
    Ok(Running { addr, core, server })
}

/// The address the embedded agent reaches the scheduler at: loopback when it listens everywhere
/// (`localhost` under TLS, the name certificates are made for).
fn local_address(addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() || addr.ip().is_loopback() {
        format!("localhost:{}", addr.port())
    } else {
        addr.to_string()
    }
}

/// Declares silent agents lost, fires cron jobs on time, places tasks whenever something may have
/// changed, and retries unplaceable ones.
async fn schedule_loop(core: Arc<core::Core>, agent_lost_timeout: Duration) {
    let lost_after = agent_lost_timeout.as_millis() as i64;
    loop {
        let next = core.read().next_ready_ms();
        let delay = match next {
            Some(t) => Duration::from_millis(t.saturating_sub(core.now_ms()).max(0) as u64)
                .max(Duration::from_millis(5))
                .min(RETRY_PENDING),
            None => RETRY_PENDING,
        };
        tokio::select! {
            _ = core.wake.notified() => {}
            _ = tokio::time::sleep(delay) => {}
        }
        let _ = core
            .mutate(|s, now, ids, dirty| {
                s.check_agents(now, lost_after, ids, dirty);
                s.cron_tick(now, ids, dirty);
                s.update_tick(now, ids, dirty);
                s.retry_kills(now, dirty);
                Ok(s.schedule(now, dirty))
            })
            .await;
    }
}
