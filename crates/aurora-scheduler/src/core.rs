//! The scheduler's core: the state behind one lock, the store behind it, and the agents' command
//! channels. Every change goes through [`Core::mutate`], which applies it in memory, queues its
//! store operations in the same order, waits until they are durable, and only then sends agent
//! commands and answers ([`Core::begin`] and [`Applied::finish`] are its two halves, for a
//! caller that applies the next change while this one is written). A store failure stops the
//! process (fail-stop): the store is the truth and a restart rebuilds memory from it. How long
//! changes wait for and hold the lock, and wait for the store, is measured here
//! ([`CoreStats`]).
//!
//! HTTP (who is calling, the audit log, the client for agents' file servers) lives in
//! `http::App`, which holds a `Core`; nothing here names the `http` module.

use crate::state::{Dirty, Refusal, State};
use aurora_api::AgentCommand;
use aurora_store::{Store, StoreError, StoreOp};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::{Notify, mpsc};

/// Commands waiting for an agent's stream.
pub type CommandTx = mpsc::UnboundedSender<AgentCommand>;
pub type CommandRx = mpsc::UnboundedReceiver<AgentCommand>;

/// A connection slot per agent: the sender stays, the stream handler takes the receiver.
pub struct AgentLink {
    pub tx: CommandTx,
    pub rx: Option<CommandRx>,
    /// Bumped by every registration and stream, so that a stale stream ending late does not mark
    /// a reconnected agent disconnected.
    pub generation: u64,
}

/// Shared by every handler (through `http::App`) and background loop: the state, the store, the
/// clock and the agents' command links. It knows nothing of HTTP.
pub struct Core {
    state: Mutex<State>,
    store: Store,
    pub links: Mutex<HashMap<String, AgentLink>>,
    /// Wakes the scheduling loop when there may be something to place.
    pub wake: Notify,
    pub cluster: String,
    pub clock: Arc<dyn Clock>,
    /// The cluster secret agents' credentials derive from (`aurora_agent::cluster_secret`).
    pub cluster_secret: String,
    /// How often agents' command streams carry a heartbeat, which agents answer: often enough that
    /// a live agent is never taken for lost.
    pub heartbeat: std::time::Duration,
    /// With several schedulers: the URL this one leads as (the web UI shows it).
    pub leading_as: std::sync::OnceLock<String>,
    /// What the scheduling rounds did, for `/metrics`.
    pub rounds: RoundStats,
    /// How long changes wait for and hold the state, and wait for the store, for `/metrics`.
    pub stats: CoreStats,
}

/// Durations as Prometheus histograms (seconds, 50 µs to about 1.6 s).
#[derive(Debug, Clone)]
pub struct Timing(pub prometheus_client::metrics::histogram::Histogram);

impl Default for Timing {
    fn default() -> Self {
        use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
        Timing(Histogram::new(exponential_buckets(0.000_05, 2.0, 16)))
    }
}

impl Timing {
    pub fn observe(&self, d: std::time::Duration) {
        self.0.observe(d.as_secs_f64());
    }
}

/// Where changes spend their time ([`Core::begin`], [`Applied::finish`]).
#[derive(Debug, Default)]
pub struct CoreStats {
    /// Waiting for the state lock.
    pub lock_wait: Timing,
    /// Holding it (a change applied in memory, its store operations queued).
    pub lock_held: Timing,
    /// From queueing a change's store operations to their being durable.
    pub commit: Timing,
}

/// A change applied in memory and queued for the store ([`Core::begin`]); finishing it waits until
/// it is durable, then sends its agent commands and answers.
#[must_use = "a change is told to nobody until it is finished"]
pub struct Applied<T> {
    result: Result<T, Refusal>,
    ack: Option<(aurora_store::Ack, std::time::Instant)>,
    commands: Vec<(String, AgentCommand)>,
    changed: bool,
}

impl<T> Applied<T> {
    /// What the change returned (told to the caller once finished).
    pub fn result(&self) -> Result<&T, &Refusal> {
        self.result.as_ref()
    }

    /// Waits until the change is durable, then sends its commands and returns its result.
    pub async fn finish(self, core: &Core) -> Result<T, Refusal> {
        if let Some((ack, queued)) = self.ack {
            if let Err(e) = ack.wait().await {
                tracing::error!(
                    "the store failed ({e}); stopping so that a restart recovers from it"
                );
                std::process::exit(70);
            }
            core.stats.commit.observe(queued.elapsed());
        }
        core.send(self.commands);
        if self.changed {
            // Something changed: there may be something new to place.
            core.wake.notify_one();
        }
        self.result
    }
}

/// Counters of the scheduling rounds: how many, how long they held the state, how many tasks
/// they placed (what `aurora-bench` computes placements per second from).
#[derive(Debug, Default)]
pub struct RoundStats {
    pub rounds: std::sync::atomic::AtomicU64,
    pub nanos: std::sync::atomic::AtomicU64,
    pub placed: std::sync::atomic::AtomicU64,
    /// Each round's placement time.
    pub duration: Timing,
}

impl RoundStats {
    /// One round that placed `placed` tasks in `took`.
    pub fn record(&self, placed: usize, took: std::time::Duration) {
        use std::sync::atomic::Ordering::Relaxed;
        self.rounds.fetch_add(1, Relaxed);
        self.nanos.fetch_add(took.as_nanos() as u64, Relaxed);
        self.placed.fetch_add(placed as u64, Relaxed);
        self.duration.observe(took);
    }
}

/// How a [`Core`] is set up, beyond its state and store.
pub struct CoreOptions {
    pub cluster: String,
    pub clock: Arc<dyn Clock>,
    pub cluster_secret: String,
    pub heartbeat: std::time::Duration,
}

/// The state, read-only, while the lock is held ([`Core::read`]). Keep it short: every change
/// waits for it. Changes go through [`Core::mutate`].
pub struct ReadGuard<'a>(MutexGuard<'a, State>);

impl std::ops::Deref for ReadGuard<'_> {
    type Target = State;
    fn deref(&self) -> &State {
        &self.0
    }
}

/// Milliseconds since the Unix epoch, by the system clock.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Where the scheduler's time comes from: every change (`Core::mutate`) is stamped with it and
/// cron fires by it. Injected, so tests drive time instead of waiting for it.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        now_ms()
    }
}

/// A clock that moves only when told to.
#[derive(Debug)]
pub struct ManualClock(std::sync::atomic::AtomicI64);

impl ManualClock {
    pub fn new(ms: i64) -> Self {
        ManualClock(std::sync::atomic::AtomicI64::new(ms))
    }
    pub fn set(&self, ms: i64) {
        self.0.store(ms, std::sync::atomic::Ordering::SeqCst);
    }
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// A fresh unique part for a task id.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl Core {
    /// A core over a restored state.
    pub fn new(state: State, store: Store, o: CoreOptions) -> Arc<Self> {
        Arc::new(Core {
            clock: o.clock,
            state: Mutex::new(state),
            store,
            links: Mutex::new(HashMap::new()),
            wake: Notify::new(),
            cluster: o.cluster,
            cluster_secret: o.cluster_secret,
            heartbeat: o.heartbeat,
            leading_as: std::sync::OnceLock::new(),
            rounds: RoundStats::default(),
            stats: CoreStats::default(),
        })
    }

    /// The time now, by the injected clock.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Reads the state. Keep the guard short: every change waits for it.
    pub fn read(&self) -> ReadGuard<'_> {
        ReadGuard(self.lock())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Changes what memory alone keeps and the store never sees (whether an agent's command
    /// stream is connected, a token found in the store cached in memory): no store operations,
    /// no agent commands, nothing waited for. Everything durable goes through [`Core::mutate`].
    pub fn mutate_in_memory<T>(&self, change: impl FnOnce(&mut State) -> T) -> T {
        change(&mut self.lock())
    }

    /// Applies a change durably, then sends its agent commands. Returns the change's result.
    pub async fn mutate<T>(
        &self,
        change: impl FnOnce(
            &mut State,
            i64,
            &mut dyn FnMut() -> String,
            &mut Dirty,
        ) -> Result<T, Refusal>,
    ) -> Result<T, Refusal> {
        self.begin(change).finish(self).await
    }

    /// The first half of [`Core::mutate`]: applies the change in memory and queues its store
    /// operations, under the lock. Nobody is told anything until [`Applied::finish`]; the caller
    /// may meanwhile begin the next change (the scheduling loop does, so that a round is placed
    /// while the one before is written).
    pub fn begin<T>(
        &self,
        change: impl FnOnce(
            &mut State,
            i64,
            &mut dyn FnMut() -> String,
            &mut Dirty,
        ) -> Result<T, Refusal>,
    ) -> Applied<T> {
        let waited = std::time::Instant::now();
        let mut state = self.lock();
        let held = std::time::Instant::now();
        self.stats.lock_wait.observe(held - waited);
        let mut dirty = Dirty::default();
        let result = change(&mut state, self.clock.now_ms(), &mut new_id, &mut dirty);
        let ops = ops_for(&state, &dirty);
        // Queued under the lock, so the store sees changes in the order memory did.
        let changed = !ops.is_empty();
        let ack = changed.then(|| (self.store.submit(ops), std::time::Instant::now()));
        drop(state);
        self.stats.lock_held.observe(held.elapsed());
        Applied {
            result,
            ack,
            commands: dirty.commands,
            changed,
        }
    }

    /// Replaces the whole state by `state` and the store's content by `ops` at once (a committed
    /// recovery): the ops are queued under the lock, so every later change builds on the new
    /// state and reaches the store after them.
    pub async fn replace(&self, state: State, ops: Vec<StoreOp>) -> Result<(), StoreError> {
        let ack = {
            let mut current = self.lock();
            *current = state;
            self.store.submit(ops)
        };
        ack.wait().await?;
        self.wake.notify_one();
        Ok(())
    }

    /// The store under this core (for what reads it whole: backups, recovery).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Queues commands on the agents' links (buffered until their streams take them).
    pub fn send(&self, commands: Vec<(String, AgentCommand)>) {
        if commands.is_empty() {
            return;
        }
        let mut links = self.links.lock().unwrap_or_else(|p| p.into_inner());
        for (agent, cmd) in commands {
            let link = links.entry(agent).or_insert_with(|| {
                let (tx, rx) = mpsc::unbounded_channel();
                AgentLink {
                    tx,
                    rx: Some(rx),
                    generation: 0,
                }
            });
            let _ = link.tx.send(cmd);
        }
    }
}

/// The store operations that persist what `dirty` says changed.
fn ops_for(state: &State, dirty: &Dirty) -> Vec<StoreOp> {
    let mut ops =
        Vec::with_capacity(dirty.jobs.len() + dirty.tasks.len() + dirty.removed_tasks.len());
    for key in &dirty.jobs {
        if let Some(j) = state.jobs.get(key) {
            ops.push(StoreOp::SaveJob {
                config: Box::new((*j.config).clone()),
            });
            for (digest, config) in &j.configs {
                ops.push(StoreOp::SaveJobConfig {
                    key: key.clone(),
                    digest: digest.clone(),
                    config: Box::new((**config).clone()),
                });
            }
        }
    }
    for (key, digest) in &dirty.removed_configs {
        ops.push(StoreOp::RemoveJobConfig {
            key: key.clone(),
            digest: digest.clone(),
        });
    }
    for id in &dirty.updates {
        if let Some(u) = state.updates.get(id) {
            ops.push(StoreOp::SaveUpdate {
                update: Box::new(u.clone()),
            });
        }
    }
    for id in &dirty.removed_updates {
        ops.push(StoreOp::RemoveUpdate { id: id.clone() });
    }
    for key in &dirty.removed_jobs {
        ops.push(StoreOp::RemoveJob { key: key.clone() });
    }
    for id in &dirty.tasks {
        if let Some(t) = state.tasks.get(id) {
            ops.push(StoreOp::SaveTask {
                task: Box::new(t.clone()),
            });
        }
    }
    for id in &dirty.removed_tasks {
        ops.push(StoreOp::RemoveTask {
            task_id: id.clone(),
        });
    }
    for key in &dirty.crons {
        if let Some(c) = state.jobs.get(key).and_then(|j| j.cron.as_ref()) {
            ops.push(StoreOp::SaveCron {
                key: key.clone(),
                state: c.state,
            });
        }
    }
    for key in &dirty.removed_crons {
        ops.push(StoreOp::RemoveCron { key: key.clone() });
    }
    for hash in &dirty.tokens {
        if let Some(record) = state.tokens.get(hash) {
            ops.push(StoreOp::SaveToken {
                record: record.clone(),
            });
        }
    }
    for host in &dirty.hosts {
        ops.push(StoreOp::SetMaintenance {
            host: host.clone(),
            draining: state.agents.in_maintenance(host),
        });
    }
    ops
}
