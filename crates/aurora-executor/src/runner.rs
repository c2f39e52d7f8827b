//! The task runner: drives a task's plan with real processes, publishes the task's status on a
//! watch channel, and kills on request (SIGTERM to every process group, SIGKILL after the grace
//! period, then the final processes within `finalization_wait`). When the task ends, every
//! process group it used is killed, so nothing it started is left running.

use crate::planner::{Plan, PlanError, ProcState, Stage};
use crate::process;
use aurora_model::config::Task;
use aurora_model::template::{RuntimeContext, bind_runtime};
use nix::sys::signal::Signal;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{mpsc, watch};

/// Everything needed to run a task.
#[derive(Debug, Clone)]
pub struct TaskLaunch {
    pub task_id: String,
    pub task: Task,
    /// The task's sandbox directory (created if missing).
    pub sandbox: PathBuf,
    pub ports: Vec<(String, u16)>,
    pub instance: u32,
    pub hostname: String,
    pub user: String,
    /// The back end limiting the task's memory and CPU; none: unlimited.
    pub isolation: Option<std::sync::Arc<crate::isolation::Isolation>>,
    /// The identity its processes run as; none: the executor's own.
    pub run_as: Option<crate::isolation::RunAs>,
    /// How often the sandbox's size is checked against the task's `disk`.
    pub disk_check: Duration,
    /// The job's health checking (`health`); `None`: healthy once it runs.
    pub health: Option<aurora_model::config::HealthCheckConfig>,
    /// The job's graceful shutdown: HTTP endpoints called before signals on a kill.
    pub lifecycle: Option<aurora_model::config::LifecycleConfig>,
}

/// A task's overall state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    Starting,
    Running,
    Finished,
    Failed,
    Killed,
    /// The task's fate is unknown (a re-adopted task whose processes ended).
    Lost,
}

impl TaskState {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskState::Finished | TaskState::Failed | TaskState::Killed | TaskState::Lost
        )
    }
}

/// One process as the runner sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessStatus {
    pub name: String,
    pub state: ProcState,
    pub runs: u32,
    pub last_exit: Option<i32>,
    pub pid: Option<i32>,
    pub started_at: Option<SystemTime>,
    pub ended_at: Option<SystemTime>,
    /// Every run so far, oldest first.
    pub history: Vec<aurora_model::process::ProcessRun>,
}

/// A snapshot of the task.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskStatus {
    pub state: TaskState,
    pub message: Option<String>,
    pub processes: Vec<ProcessStatus>,
}

/// Why a task could not start.
#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    #[error("invalid task: {0}")]
    Plan(#[from] PlanError),
    #[error("cannot prepare the sandbox {path}: {source}")]
    Sandbox {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot set up the task's resource limits: {0}")]
    Limits(std::io::Error),
}

/// A running task.
pub struct TaskHandle {
    status: watch::Receiver<TaskStatus>,
    kill: mpsc::UnboundedSender<Duration>,
}

impl TaskHandle {
    pub(crate) fn from_parts(
        status: watch::Receiver<TaskStatus>,
        kill: mpsc::UnboundedSender<Duration>,
    ) -> Self {
        TaskHandle { status, kill }
    }

    /// The task's status, updated on every change.
    pub fn status(&self) -> watch::Receiver<TaskStatus> {
        self.status.clone()
    }

    /// Kills the task (SIGTERM, then SIGKILL after `grace`) and waits until it has ended.
    pub async fn kill(&self, grace: Duration) -> TaskStatus {
        let _ = self.kill.send(grace);
        self.wait().await
    }

    /// Waits for the task to end.
    pub async fn wait(&self) -> TaskStatus {
        let mut rx = self.status.clone();
        let done = rx
            .wait_for(|s| s.state.is_terminal())
            .await
            .map(|s| s.clone());
        done.unwrap_or_else(|_| self.status.borrow().clone())
    }
}

/// Starts tasks.
pub struct TaskRunner;

impl TaskRunner {
    /// Validates the task, prepares its sandbox and starts running it.
    pub async fn start(launch: TaskLaunch) -> Result<TaskHandle, ExecutorError> {
        let plan = Plan::new(&launch.task)?;
        std::fs::create_dir_all(&launch.sandbox).map_err(|source| ExecutorError::Sandbox {
            path: launch.sandbox.clone(),
            source,
        })?;
        if let Some(u) = &launch.run_as {
            std::os::unix::fs::chown(&launch.sandbox, Some(u.uid), Some(u.gid)).map_err(
                |source| ExecutorError::Sandbox {
                    path: launch.sandbox.clone(),
                    source,
                },
            )?;
        }
        let limits = match &launch.isolation {
            Some(i) => Some(std::sync::Arc::new(
                i.for_task(&launch.task_id, &launch.task.resources)
                    .map_err(ExecutorError::Limits)?,
            )),
            None => None,
        };
        let processes = plan
            .names()
            .map(|n| ProcessStatus {
                name: n.to_owned(),
                state: ProcState::Waiting,
                runs: 0,
                last_exit: None,
                pid: None,
                started_at: None,
                ended_at: None,
                history: Vec::new(),
            })
            .collect();
        let (status_tx, status_rx) = watch::channel(TaskStatus {
            state: TaskState::Starting,
            message: None,
            processes,
        });
        let (kill_tx, kill_rx) = mpsc::unbounded_channel();
        tokio::spawn(drive(launch, plan, limits, status_tx, kill_rx));
        Ok(TaskHandle {
            status: status_rx,
            kill: kill_tx,
        })
    }
}

/// SIGTERM now, SIGKILL after `grace`, to each group.
fn kill_groups(pgids: Vec<i32>, grace: Duration) {
    for &g in &pgids {
        process::signal_group(g, Signal::SIGTERM);
    }
    tokio::spawn(async move {
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline && pgids.iter().any(|g| process::group_alive(*g)) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for &g in &pgids {
            process::signal_group(g, Signal::SIGKILL);
        }
    });
}

/// The HTTP graceful shutdown of a task (`lifecycle`): where to POST, and how long to wait after
/// each request for the processes to end.
#[derive(Debug, Clone)]
struct GracefulShutdown {
    graceful_url: String,
    shutdown_url: String,
    graceful_wait: Duration,
    shutdown_wait: Duration,
}

impl GracefulShutdown {
    /// Only when the task has the lifecycle's port, as Thermos does.
    fn new(cfg: &aurora_model::config::LifecycleConfig, ports: &[(String, u16)]) -> Option<Self> {
        let http = cfg.http.as_ref()?;
        let port = ports.iter().find(|(n, _)| *n == http.port)?.1;
        let url = |endpoint: &str| {
            format!(
                "http://127.0.0.1:{port}/{}",
                endpoint.trim_start_matches('/')
            )
        };
        Some(GracefulShutdown {
            graceful_url: url(&http.graceful_shutdown_endpoint),
            shutdown_url: url(&http.shutdown_endpoint),
            graceful_wait: Duration::from_secs(http.graceful_shutdown_wait_secs.max(0) as u64),
            shutdown_wait: Duration::from_secs(http.shutdown_wait_secs.max(0) as u64),
        })
    }
}

/// Waits up to `limit` for every group to be gone; whether they are.
async fn until_gone(pgids: &[i32], limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if !pgids.iter().any(|g| process::group_alive(*g)) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A user's kill: the graceful shutdown endpoints first (when the task has them), then SIGTERM,
/// then SIGKILL after `grace`.
fn kill_gracefully(pgids: Vec<i32>, grace: Duration, graceful: Option<GracefulShutdown>) {
    let Some(g) = graceful else {
        kill_groups(pgids, grace);
        return;
    };
    tokio::spawn(async move {
        let http = reqwest::Client::new();
        for (url, wait) in [
            (&g.graceful_url, g.graceful_wait),
            (&g.shutdown_url, g.shutdown_wait),
        ] {
            if let Err(e) = http.post(url).timeout(Duration::from_secs(5)).send().await {
                tracing::debug!("graceful shutdown {url}: {e}");
            }
            if until_gone(&pgids, wait).await {
                return;
            }
        }
        kill_groups(pgids, grace);
    });
}

/// Publishes a status change, and writes it to the sandbox's process report for the UI.
fn publish(
    status: &watch::Sender<TaskStatus>,
    launch: &TaskLaunch,
    change: &mut dyn FnMut(&mut TaskStatus),
) {
    status.send_modify(|s| change(s));
    if let Err(e) = crate::report::write(&launch.sandbox, &status.borrow()) {
        tracing::warn!(task = %launch.task_id, "cannot write the process report: {e}");
    }
}

async fn drive(
    launch: TaskLaunch,
    mut plan: Plan,
    limits: Option<std::sync::Arc<crate::isolation::TaskLimits>>,
    status: watch::Sender<TaskStatus>,
    mut kill_rx: mpsc::UnboundedReceiver<Duration>,
) {
    let rlimits = matches!(
        launch.isolation.as_deref(),
        Some(crate::isolation::Isolation::Rlimits)
    );
    let confine =
        crate::isolation::Confinement::new(limits.as_deref(), rlimits, launch.run_as.clone());
    // Why the task was stopped for exceeding its resources, if it was.
    let mut exceeded: Option<String> = None;
    let disk_allowance = launch.task.resources.disk.max(0) as u64;
    let mut disk_tick = tokio::time::interval(launch.disk_check.max(Duration::from_millis(10)));
    disk_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let ctx = RuntimeContext {
        ports: &launch.ports,
        task_id: &launch.task_id,
        user: &launch.user,
        instance: launch.instance,
        hostname: &launch.hostname,
    };
    let health = launch.health.as_ref().and_then(|cfg| {
        let shell = cfg
            .health_checker
            .shell
            .as_ref()
            .map(|s| bind_runtime(&s.shell_command, &ctx).into_owned());
        crate::health::HealthPlan::new(cfg, &launch.ports, shell)
    });
    let mut tracker = health.as_ref().map(crate::health::Tracker::new);
    let mut health_tick = tokio::time::interval(
        health
            .as_ref()
            .map_or(Duration::from_secs(3600), |h| h.interval),
    );
    health_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let checker = reqwest::Client::new();
    let healthchecked = health.is_some();
    let cmdlines: Vec<String> = launch
        .task
        .processes
        .iter()
        .map(|p| bind_runtime(&p.cmdline, &ctx).into_owned())
        .collect();
    let env: Vec<(&str, String)> = vec![
        ("MESOS_SANDBOX", launch.sandbox.display().to_string()),
        ("THERMOS_TASK_ID", launch.task_id.clone()),
    ];
    let (exit_tx, mut exit_rx) = mpsc::unbounded_channel::<(usize, Option<i32>)>();
    let mut pgids: HashMap<usize, i32> = HashMap::new();
    let mut used_groups: Vec<i32> = Vec::new();
    let mut kill_grace = Duration::from_secs(5);
    let mut finalization_deadline: Option<Instant> = None;
    let mut failure: Option<String> = None;

    let save = |pgids: &HashMap<usize, i32>, terminal: bool| {
        let cp = crate::checkpoint::Checkpoint {
            task_id: launch.task_id.clone(),
            groups: pgids.values().copied().collect(),
            terminal,
        };
        if let Err(e) = crate::checkpoint::write(&launch.sandbox, &cp) {
            tracing::warn!(task = %launch.task_id, "cannot write the checkpoint: {e}");
        }
    };
    let publish = |change: &mut dyn FnMut(&mut TaskStatus)| publish(&status, &launch, change);
    let mut saved_groups: Vec<i32> = vec![-1]; // forces the first save
    // A kill going through the graceful shutdown endpoints signals the processes itself, later.
    let mut graceful_kill = false;
    loop {
        let now = Instant::now();
        if plan.stage != Stage::Active && !graceful_kill {
            let leftovers = plan.leftovers();
            if !leftovers.is_empty() {
                kill_groups(
                    leftovers
                        .iter()
                        .filter_map(|i| pgids.get(i).copied())
                        .collect(),
                    kill_grace,
                );
            }
            if finalization_deadline.is_none() {
                finalization_deadline =
                    Some(now + Duration::from_secs(launch.task.finalization_wait.max(0) as u64));
            }
        }
        let (start, wake) = plan.startable(now);
        for i in start {
            let p = &launch.task.processes[i];
            let run = plan.runs(i);
            let logs = process::log_dir(&launch.sandbox, &p.name, run);
            match process::spawn(
                &cmdlines[i],
                &launch.sandbox,
                &logs,
                p.logger.as_ref(),
                &env,
                &confine,
            ) {
                Ok(mut child) => {
                    let pid = child.id().map(|p| p as i32).unwrap_or(0);
                    plan.started(i);
                    pgids.insert(i, pid);
                    used_groups.push(pid);
                    // Checkpointed at once: an agent that dies from here on finds the group.
                    save(&pgids, false);
                    saved_groups = {
                        let mut g: Vec<i32> = pgids.values().copied().collect();
                        g.sort_unstable();
                        g
                    };
                    let tx = exit_tx.clone();
                    tokio::spawn(async move {
                        let code = child.wait().await.ok().and_then(|s| {
                            s.code().or_else(|| {
                                std::os::unix::process::ExitStatusExt::signal(&s)
                                    .map(|sig| 128 + sig)
                            })
                        });
                        let _ = tx.send((i, code));
                    });
                    publish(&mut |s| {
                        let ps = &mut s.processes[i];
                        let now = SystemTime::now();
                        ps.state = ProcState::Running;
                        ps.runs = run + 1;
                        ps.pid = Some(pid);
                        ps.started_at = Some(now);
                        crate::report::run_started(&mut ps.history, run, now);
                        // With health checks, RUNNING waits for the task to be healthy.
                        if s.state == TaskState::Starting && !healthchecked {
                            s.state = TaskState::Running;
                        }
                    });
                }
                Err(e) => {
                    plan.started(i);
                    plan.exited(i, false, now);
                    failure
                        .get_or_insert_with(|| format!("process {} could not start: {e}", p.name));
                }
            }
        }
        let mut groups: Vec<i32> = pgids.values().copied().collect();
        groups.sort_unstable();
        if groups != saved_groups {
            save(&pgids, false);
            saved_groups = groups;
        }
        // Done once every process group has exited too: a killed process gets its grace period
        // (and its graceful shutdown) before the groups are swept below.
        if plan.stage == Stage::Done && plan.running().is_empty() && pgids.is_empty() {
            break;
        }
        let sleep_until = [wake, finalization_deadline].into_iter().flatten().min();
        tokio::select! {
            Some((i, code)) = exit_rx.recv() => {
                let now = Instant::now();
                let ok = code == Some(0);
                if !ok && exceeded.is_none() && limits.as_ref().is_some_and(|l| l.oom_killed()) {
                    exceeded = Some(format!(
                        "Memory limit exceeded: process {} used more than the task's ram ({} MB) and was killed",
                        launch.task.processes[i].name,
                        launch.task.resources.ram / (1024 * 1024)
                    ));
                    if !plan.killed {
                        let running = plan.kill();
                        kill_groups(running.iter().filter_map(|i| pgids.get(i).copied()).collect(), kill_grace);
                        finalization_deadline = None;
                    }
                }
                plan.exited(i, ok, now);
                pgids.remove(&i);
                if !ok && plan.state(i) == ProcState::Failed {
                    failure.get_or_insert_with(|| format!("Process {} failed with exit status {}", launch.task.processes[i].name, code.map_or("unknown".into(), |c| c.to_string())));
                }
                publish(&mut |s| {
                    let ps = &mut s.processes[i];
                    let now = SystemTime::now();
                    ps.state = plan.state(i);
                    ps.last_exit = code;
                    ps.pid = None;
                    ps.ended_at = Some(now);
                    crate::report::run_ended(&mut ps.history, code, now);
                });
            }
            _ = health_tick.tick(), if health.is_some() && exceeded.is_none() && !plan.killed && !pgids.is_empty() => {
                let (Some(h), Some(t)) = (&health, tracker.as_mut()) else { continue };
                if let Some(result) = crate::health::check_once(h, &launch.sandbox, &checker).await {
                    match t.record(result) {
                        crate::health::Verdict::Pending => {}
                        crate::health::Verdict::Healthy => publish(&mut |s| {
                            if s.state == TaskState::Starting {
                                s.state = TaskState::Running;
                            }
                        }),
                        crate::health::Verdict::Unhealthy(reason) => {
                            exceeded = Some(reason);
                            let running = plan.kill();
                            kill_groups(running.iter().filter_map(|i| pgids.get(i).copied()).collect(), kill_grace);
                            finalization_deadline = None;
                        }
                    }
                }
            }
            _ = disk_tick.tick(), if disk_allowance > 0 && exceeded.is_none() && !plan.killed => {
                let sandbox = launch.sandbox.clone();
                let used = tokio::task::spawn_blocking(move || crate::isolation::disk_usage(&sandbox))
                    .await
                    .unwrap_or(0);
                if used > disk_allowance {
                    exceeded = Some(format!(
                        "Disk limit exceeded: the sandbox holds {} MB, more than the task's disk ({} MB)",
                        used / (1024 * 1024),
                        disk_allowance / (1024 * 1024)
                    ));
                    let running = plan.kill();
                    kill_groups(running.iter().filter_map(|i| pgids.get(i).copied()).collect(), kill_grace);
                    finalization_deadline = None;
                }
            }
            Some(grace) = kill_rx.recv() => {
                kill_grace = grace;
                if !plan.killed {
                    let running = plan.kill();
                    let graceful = launch
                        .lifecycle
                        .as_ref()
                        .and_then(|l| GracefulShutdown::new(l, &launch.ports));
                    graceful_kill = graceful.is_some();
                    kill_gracefully(running.iter().filter_map(|i| pgids.get(i).copied()).collect(), grace, graceful);
                    finalization_deadline = None;
                }
            }
            _ = async {
                match sleep_until {
                    Some(t) => tokio::time::sleep_until(t.into()).await,
                    None => std::future::pending().await,
                }
            } => {
                if finalization_deadline.is_some_and(|d| Instant::now() >= d) && plan.stage == Stage::Finalizing {
                    let late = plan.finalization_timeout();
                    kill_groups(late.iter().filter_map(|i| pgids.get(i).copied()).collect(), Duration::ZERO);
                }
            }
        }
    }
    // Whatever the processes started in their groups goes with them.
    for g in &used_groups {
        process::signal_group(*g, Signal::SIGKILL);
    }
    save(&HashMap::new(), true);
    if let Some(l) = &limits {
        l.remove().await;
    }
    let (final_state, message) = if let Some(reason) = exceeded {
        (TaskState::Failed, Some(reason))
    } else if plan.killed {
        (TaskState::Killed, Some("Task killed".to_owned()))
    } else if plan.succeeded() {
        (
            TaskState::Finished,
            Some("Task finished successfully".to_owned()),
        )
    } else {
        (
            TaskState::Failed,
            Some(failure.unwrap_or_else(|| "Task failed".into())),
        )
    };
    publish(&mut |s| {
        s.state = final_state;
        s.message.clone_from(&message);
    });
}
