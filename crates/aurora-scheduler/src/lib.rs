//! The scheduler process: durable state (`aurora-store`), the task lifecycle (`state`), the agents'
//! command streams and the HTTP API (`http`), and the loop that places pending tasks.
//!
//! `start` is what the binary and the end-to-end tests run. With `local_agent`, an agent runs in
//! the same process and talks to the scheduler over the same HTTP protocol a remote agent uses.

// The OpenAPI document (`http::openapi`) is one large `serde_json::json!` literal.
#![recursion_limit = "256"]

pub mod core;
pub mod ha;
pub mod http;
pub mod private;
pub mod serve;
pub mod state;
pub mod storage;
pub mod views;

use anyhow::Context;

/// The exit status of a scheduler that stopped to be started again by its supervisor: it lost
/// its leadership (`ha`), or a recovery was committed (`storage`).
pub const EXIT_RESTART: i32 = 75;
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
    /// `--local-agent-same-user`: the embedded agent runs tasks as the scheduler's own user, who
    /// owns the store (unsafe unless every user of the machine may administer the cluster).
    pub local_agent_same_user: bool,
    /// The accounts tasks may run as: refused at submission, and by the embedded agent at launch.
    pub task_users: aurora_model::task_user::TaskUserPolicy,
    /// Timeouts and the connection cap of the HTTP listener.
    pub limits: serve::Limits,
    /// One of several schedulers on etcd (`--etcd`): elected, replicated. `advertise` may be
    /// left empty: it is then this scheduler's own URL, made from the address bound.
    pub ha: Option<aurora_ha::Options>,
    /// Where the leader's periodic backups go, how often, how many are kept.
    pub backups: storage::BackupOptions,
}

/// Whom the embedded agent runs tasks as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalTasks {
    /// No embedded agent.
    None,
    /// Each task as its role's user (the scheduler runs as root).
    AsRoles,
    /// As the scheduler's own user (`--local-agent-same-user`).
    AsScheduler,
}

impl Config {
    /// Whom the embedded agent would run tasks as; an error when that would be the scheduler's own
    /// user and `--local-agent-same-user` does not say the operator accepts it.
    pub fn local_tasks(&self) -> anyhow::Result<LocalTasks> {
        if !self.local_agent {
            return Ok(LocalTasks::None);
        }
        if self.local_agent_same_user {
            return Ok(LocalTasks::AsScheduler);
        }
        let me = nix::unistd::geteuid();
        if me.is_root() {
            return Ok(LocalTasks::AsRoles);
        }
        anyhow::bail!(
            "--local-agent would run every task as this scheduler's own user (uid {me}), who owns the store: any task could read every token hash and write the store. Run the scheduler as root (tasks then run as their role's user), or, on a machine only you use, add --local-agent-same-user"
        )
    }

    /// The data directory's mode: `0711` when tasks run as other users and must reach their
    /// sandboxes under it, else `0700`.
    fn data_dir_mode(&self) -> anyhow::Result<u32> {
        Ok(match self.local_tasks()? {
            LocalTasks::AsRoles => 0o711,
            LocalTasks::None | LocalTasks::AsScheduler => 0o700,
        })
    }
}

/// A running scheduler.
pub struct Running {
    /// The address actually bound.
    pub addr: SocketAddr,
    /// The scheduler's core; `None` for one of several (`ha`), whose core exists only once it
    /// leads.
    pub core: Option<Arc<core::Core>>,
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
    let cluster_secret = prepare(config)?;
    let (store, snapshot) = aurora_store::Store::open(&db_path(config))?;
    Ok(build_core(config, cluster_secret, store, snapshot))
}

/// Secures the data directory and finds the cluster secret (made in it when none is given).
fn prepare(config: &Config) -> anyhow::Result<String> {
    let db = db_path(config);
    private::secure_data_dir(
        &config.data_dir,
        config.data_dir_mode()?,
        &db,
        &audit_log_path(config),
    )
    .with_context(|| format!("securing the data directory {}", config.data_dir.display()))?;
    Ok(match &config.cluster_secret {
        Some(s) => s.clone(),
        None => {
            aurora_agent::cluster_secret::read_or_create(&config.data_dir.join("cluster-secret"))
                .context("the cluster secret made for this scheduler's agents")?
        }
    })
}

/// The scheduler's core over `store`, its state rebuilt from `snapshot`.
fn build_core(
    config: &Config,
    cluster_secret: String,
    store: aurora_store::Store,
    snapshot: aurora_store::Snapshot,
) -> Arc<core::Core> {
    let state = restore_state(
        config.backoff,
        config.cron_timezone,
        config.clock.now_ms(),
        snapshot,
    );
    tracing::info!(store = %db_path(config).display(), "state restored");
    core::Core::new(
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
    )
}

/// The state a snapshot of the store describes, as of `now_ms` (cron firings missed are not run
/// late).
pub(crate) fn restore_state(
    backoff: aurora_sched::reschedule::Backoff,
    cron_timezone: chrono_tz::Tz,
    now_ms: i64,
    snapshot: aurora_store::Snapshot,
) -> state::State {
    let (jobs, tasks, crons) = (
        snapshot.jobs.len(),
        snapshot.tasks.len(),
        snapshot.crons.len(),
    );
    let mut state = state::State::restore(snapshot.jobs, snapshot.tasks);
    state.backoff = backoff;
    state.cron_timezone = cron_timezone;
    state.restore_crons(snapshot.crons, now_ms);
    state.restore_updates(snapshot.job_configs, snapshot.updates);
    state.agents.restore_maintenance(snapshot.maintenance);
    state.tokens = snapshot
        .tokens
        .into_iter()
        .map(|t| (t.hash.clone(), t))
        .collect();
    tracing::info!(jobs, tasks, crons, "state rebuilt");
    state
}

/// The store's file under the data directory.
fn db_path(config: &Config) -> PathBuf {
    config.data_dir.join("scheduler.db")
}

/// The audit log's file under the data directory.
fn audit_log_path(config: &Config) -> PathBuf {
    config.data_dir.join("audit.log")
}

/// Opens the store, rebuilds the state, binds the listener, and starts serving and scheduling.
/// With `config.ha`, binds the listener and serves as a follower until elected (`ha`).
pub async fn start(config: Config) -> anyhow::Result<Running> {
    let local_tasks = config.local_tasks()?;
    if let Some(options) = config.ha.clone() {
        return start_ha(config, options, local_tasks).await;
    }
    let core = recover(&config)?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    let router = lead(&config, core.clone(), addr, local_tasks, None)?;
    let server = serve_on(listener, router, &config).await?;
    tracing::info!(%addr, cluster = %config.cluster, "scheduler serving");
    Ok(Running {
        addr,
        core: Some(core),
        server,
    })
}

/// One of several schedulers: serves at once (as a follower), campaigns, and once elected
/// rebuilds the state from its store (the log read to its end) and serves as the scheduler.
async fn start_ha(
    config: Config,
    mut options: aurora_ha::Options,
    local_tasks: LocalTasks,
) -> anyhow::Result<Running> {
    anyhow::ensure!(
        config.cluster_secret.is_some(),
        "--etcd needs --cluster-secret-file: every scheduler must hold the same cluster secret, so that agents are known to whichever leads"
    );
    let cluster_secret = prepare(&config)?;
    let store = aurora_store::Store::open_unloaded(&db_path(&config))?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    if options.advertise.is_empty() {
        options.advertise = format!("{}://{}", scheme(&config), advertised_address(addr));
    }
    let (leader_tx, leader_rx) = tokio::sync::watch::channel(None);
    let shared = Arc::new(ha::Shared {
        leading: std::sync::OnceLock::new(),
        leader: leader_rx,
    });
    let server = serve_on(listener, ha::router(shared.clone()), &config).await?;
    tracing::info!(%addr, advertise = %options.advertise, "following; campaigning to lead");
    tokio::spawn(async move {
        let leadership = match aurora_ha::election::lead(&options, &store, leader_tx).await {
            Ok(l) => l,
            Err(e) => {
                tracing::error!("cannot take part in the election: {e}; stopping");
                std::process::exit(ha::LOST_LEADERSHIP);
            }
        };
        let started = async {
            let (snapshot, _) = store.load().await?;
            let core = build_core(&config, cluster_secret, store.clone(), snapshot);
            let _ = core.leading_as.set(options.advertise.clone());
            lead(
                &config,
                core,
                addr,
                local_tasks,
                Some(leadership.snapshot_now.clone()),
            )
        }
        .await;
        match started {
            Ok(router) => {
                let _ = shared.leading.set(router);
                tracing::info!(%addr, cluster = %config.cluster, "leading: scheduler serving");
            }
            Err(e) => {
                tracing::error!("cannot lead: {e:#}; stopping");
                std::process::exit(ha::LOST_LEADERSHIP);
            }
        }
        let mut lost = leadership.lost;
        let reason = lost
            .wait_for(Option::is_some)
            .await
            .map(|r| r.clone().unwrap_or_default())
            .unwrap_or_else(|_| "the lease keeper stopped".into());
        tracing::error!("lost the leadership ({reason}): stopping at once");
        std::process::exit(ha::LOST_LEADERSHIP);
    });
    Ok(Running {
        addr,
        core: None,
        server,
    })
}

fn scheme(config: &Config) -> &'static str {
    if config.tls.is_some() {
        "https"
    } else {
        "http"
    }
}

/// What others reach this scheduler at: the address bound, or this host's name and the port
/// when it listens on every address.
fn advertised_address(addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "localhost".into());
        format!("{host}:{}", addr.port())
    } else {
        addr.to_string()
    }
}

/// Serves `router` on `listener`, over TLS when configured.
async fn serve_on(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    config: &Config,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    Ok(match &config.tls {
        None => tokio::spawn(serve::plain(listener, router, config.limits.clone())),
        Some((cert, key)) => serve::tls(listener, router, cert, key, &config.limits).await?,
    })
}

/// What the scheduler that leads runs: its router, the scheduling loop and the embedded agent.
fn lead(
    config: &Config,
    core: Arc<core::Core>,
    addr: SocketAddr,
    local_tasks: LocalTasks,
    snapshot_now: Option<Arc<tokio::sync::Notify>>,
) -> anyhow::Result<axum::Router> {
    let storage = Arc::new(storage::Storage::new(
        db_path(config),
        config.backups.clone(),
    ));
    let app = http::App::new(
        core.clone(),
        http::app::AppOptions {
            auth: config.auth.clone(),
            db: db_path(config),
            audit_log: Some(audit_log_path(config)),
            task_users: config.task_users.clone(),
            storage: storage.clone(),
            snapshot_now,
        },
    )?;
    let router = http::router(app);
    tokio::spawn(schedule_loop(core.clone(), config.agent_lost_timeout));
    tokio::spawn(storage::backup_loop(storage));
    if local_tasks != LocalTasks::None {
        let mut agent = aurora_agent::Config::local(
            format!("{}://{}", scheme(config), local_address(addr)),
            config.data_dir.join("agent"),
        );
        agent.credential = Some(aurora_agent::cluster_secret::credential(
            &core.cluster_secret,
            &agent.agent_id,
        ));
        agent.resources.port_range = config.local_agent_ports;
        agent.scheduler_ca = config.tls.as_ref().map(|(cert, _)| cert.clone());
        agent.confine.task_users = config.task_users.clone();
        if local_tasks == LocalTasks::AsRoles {
            agent.confine.task_user = aurora_agent::TaskUser::Role;
        } else {
            tracing::warn!(
                "--local-agent-same-user: tasks run as the scheduler's own user and can read and write its store; do not share this cluster"
            );
        }
        tokio::spawn(async move {
            if let Err(e) = aurora_agent::run(agent).await {
                tracing::error!("the local agent stopped: {e:#}");
            }
        });
    }
    Ok(router)
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
/// changed, and retries unplaceable ones. A round is written to the store while the next one is
/// placed (at most [`ROUNDS_IN_FLIGHT`] wait for the store at once); a round that left tasks due
/// is followed at once, after letting other changes take the lock.
async fn schedule_loop(core: Arc<core::Core>, agent_lost_timeout: Duration) {
    let lost_after = agent_lost_timeout.as_millis() as i64;
    let in_flight = Arc::new(tokio::sync::Semaphore::new(ROUNDS_IN_FLIGHT));
    let mut more = false;
    loop {
        if more {
            tokio::task::yield_now().await;
        } else {
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
        }
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            return; // never closed
        };
        let applied = core.begin(|s, now, ids, dirty| {
            s.check_agents(now, lost_after, ids, dirty);
            s.expire_partitions(now, ids, dirty);
            s.cron_tick(now, ids, dirty);
            s.update_tick(now, ids, dirty);
            s.retry_kills(now, dirty);
            let started = std::time::Instant::now();
            let placed = s.schedule(now, dirty);
            core.rounds.record(placed, started.elapsed());
            Ok(s.more_due(now))
        });
        more = applied.result().is_ok_and(|more| *more);
        let finishing = core.clone();
        tokio::spawn(async move {
            let _ = applied.finish(&finishing).await;
            drop(permit);
        });
    }
}

/// Rounds written to the store at once while the next is placed.
const ROUNDS_IN_FLIGHT: usize = 2;
