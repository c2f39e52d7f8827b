//! The task runner: validates a task, runs its prestart hooks, then drives its plan with real
//! processes, publishing the task's status on a watch channel, and kills on request. Every
//! concern besides the process graph is a hook (`hooks`, in the order written there); `drive` is
//! only a loop that starts what the plan allows and dispatches each event (a process exit, a
//! kill, a timer) to the plan and the hooks. When the task ends, every process group it used is
//! killed, so nothing it started is left running.
//!
//! Not here: the process graph's rules (`planner`), the signal sequence (`kill`), the status
//! types (`status`).

use crate::hooks::{self, Action, Hook, Setup};
use crate::kill;
use crate::planner::{Plan, PlanError, ProcState, Stage};
use crate::process;
use crate::status::{ProcessStatus, StopReason, TaskState, TaskStatus};
use aurora_model::config::Task;
use aurora_model::template::{RuntimeContext, bind_runtime};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{mpsc, watch};

/// Everything needed to run a task.
#[derive(Debug, Clone)]
pub struct TaskLaunch {
    pub task_id: String,
    pub task: Task,
    /// The task's sandbox directory (created if missing; the task's user owns it).
    pub sandbox: PathBuf,
    /// Where the executor keeps its own records of the task (checkpoint, process report):
    /// created root-only (0700) if missing, and never inside the sandbox, which the task can
    /// write to.
    pub state_dir: PathBuf,
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

impl TaskLaunch {
    /// What the runtime templates (`{{thermos.ports[http]}}`...) are bound to.
    pub(crate) fn runtime(&self) -> RuntimeContext<'_> {
        RuntimeContext {
            ports: &self.ports,
            task_id: &self.task_id,
            user: &self.user,
            instance: self.instance,
            hostname: &self.hostname,
        }
    }
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
    /// Validates the task, runs its prestart hooks (sandbox, isolation...) and starts running it.
    pub async fn start(launch: TaskLaunch) -> Result<TaskHandle, ExecutorError> {
        let plan = Plan::new(&launch.task)?;
        let mut hooks = hooks::list(&launch);
        let mut setup = Setup::default();
        for h in &mut hooks {
            h.prestart(&launch, &mut setup)?;
        }
        let processes = plan.names().map(ProcessStatus::waiting).collect();
        let (status_tx, status_rx) = watch::channel(TaskStatus {
            state: TaskState::Starting,
            message: None,
            processes,
        });
        let (kill_tx, kill_rx) = mpsc::unbounded_channel();
        let (exit_tx, exit_rx) = mpsc::unbounded_channel();
        let run = Run {
            state: RunState::new(launch, plan, setup, status_tx, exit_tx),
            gates_running: hooks.iter().any(|h| h.gates_running()),
            hooks,
        };
        tokio::spawn(drive(run, exit_rx, kill_rx));
        Ok(TaskHandle::from_parts(status_rx, kill_tx))
    }
}

/// A process run's end: which process, and its exit status (128 + signal when killed).
type Exit = (usize, Option<i32>);

/// What the hooks see of a running task, and what the runner changes as events come.
pub(crate) struct RunState {
    launch: TaskLaunch,
    plan: Plan,
    status: watch::Sender<TaskStatus>,
    /// Each process's command line, its runtime templates bound.
    cmdlines: Vec<String>,
    setup: Setup,
    exits: mpsc::UnboundedSender<Exit>,
    /// The process group of each process's run in progress.
    pgids: HashMap<usize, i32>,
    /// Every group the task has used, swept when it ends.
    used_groups: Vec<i32>,
    /// The grace between SIGTERM and SIGKILL, as the last kill request set it.
    kill_grace: Duration,
    finalization_deadline: Option<Instant>,
    /// Why a hook stopped the task (a limit, its health), if one did.
    stopped: Option<StopReason>,
    /// The first process failure, the task's reason if it fails of itself.
    failure: Option<StopReason>,
    /// A kill going through the graceful shutdown endpoints signals the processes itself, later.
    graceful_kill: bool,
}

impl RunState {
    fn new(
        launch: TaskLaunch,
        plan: Plan,
        setup: Setup,
        status: watch::Sender<TaskStatus>,
        exits: mpsc::UnboundedSender<Exit>,
    ) -> Self {
        let ctx = launch.runtime();
        let cmdlines = launch
            .task
            .processes
            .iter()
            .map(|p| bind_runtime(&p.cmdline, &ctx).into_owned())
            .collect();
        RunState {
            launch,
            plan,
            status,
            cmdlines,
            setup,
            exits,
            pgids: HashMap::new(),
            used_groups: Vec::new(),
            kill_grace: Duration::from_secs(5),
            finalization_deadline: None,
            stopped: None,
            failure: None,
            graceful_kill: false,
        }
    }

    pub(crate) fn launch(&self) -> &TaskLaunch {
        &self.launch
    }

    /// What every process of the task gets (environment, confinement, owner of its files).
    pub(crate) fn setup(&self) -> &Setup {
        &self.setup
    }

    pub(crate) fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Why a hook stopped the task, if one did.
    pub(crate) fn stop_reason(&self) -> Option<&StopReason> {
        self.stopped.as_ref()
    }

    /// Whether any process group of a run in progress exists.
    pub(crate) fn has_groups(&self) -> bool {
        !self.pgids.is_empty()
    }

    /// The process groups of the runs in progress.
    pub(crate) fn groups(&self) -> Vec<i32> {
        self.pgids.values().copied().collect()
    }

    /// The process groups of `processes`' runs in progress.
    fn groups_of(&self, processes: &[usize]) -> Vec<i32> {
        processes
            .iter()
            .filter_map(|i| self.pgids.get(i).copied())
            .collect()
    }

    /// Kills the runs of `processes` (SIGTERM now, SIGKILL after `grace`).
    fn escalate(&self, processes: &[usize], grace: Duration) {
        tokio::spawn(kill::escalate(self.groups_of(processes), grace));
    }
}

/// A task being run: its state and its hooks, apart so a hook can read the state while it runs.
struct Run {
    state: RunState,
    hooks: Vec<Box<dyn Hook>>,
    /// RUNNING waits for a hook's [`Action::Healthy`].
    gates_running: bool,
}

async fn drive(
    mut run: Run,
    mut exits: mpsc::UnboundedReceiver<Exit>,
    mut kills: mpsc::UnboundedReceiver<Duration>,
) {
    loop {
        let now = Instant::now();
        run.stop_leftovers(now);
        let wake = run.start_ready(now);
        run.groups_changed();
        // Done once every process group has exited too: a killed process gets its grace period
        // (and its graceful shutdown) before the groups are swept.
        if run.over() {
            break;
        }
        let next = run.next_timer(wake);
        tokio::select! {
            Some((i, code)) = exits.recv() => run.exited(i, code),
            Some(grace) = kills.recv() => run.kill(grace),
            _ = async {
                match next {
                    Some(t) => tokio::time::sleep_until(t.into()).await,
                    None => std::future::pending().await,
                }
            } => run.timer().await,
        }
    }
    run.finish().await;
}

impl Run {
    /// Publishes a status change, and tells the hooks (the report follows it).
    fn publish(&mut self, change: impl FnOnce(&mut TaskStatus)) {
        self.state.status.send_modify(change);
        let status = self.state.status.borrow();
        for h in &mut self.hooks {
            h.published(&self.state.launch, &status);
        }
    }

    fn groups_changed(&mut self) {
        for h in &mut self.hooks {
            h.groups_changed(&self.state);
        }
    }

    fn apply(&mut self, action: Action) {
        match action {
            Action::None => {}
            Action::Healthy => self.publish(|s| {
                if s.state == TaskState::Starting {
                    s.state = TaskState::Running;
                }
            }),
            Action::Stop(reason) => {
                let st = &mut self.state;
                st.stopped.get_or_insert(reason);
                if !st.plan.killed {
                    let running = st.plan.kill();
                    st.escalate(&running, st.kill_grace);
                    st.finalization_deadline = None;
                }
            }
        }
    }

    /// Once the regular processes are over, ephemeral and daemon processes still running are
    /// stopped, and the final processes get `finalization_wait` from then.
    fn stop_leftovers(&mut self, now: Instant) {
        let st = &mut self.state;
        if st.plan.stage == Stage::Active || st.graceful_kill {
            return;
        }
        let leftovers = st.plan.leftovers();
        if !leftovers.is_empty() {
            st.escalate(&leftovers, st.kill_grace);
        }
        if st.finalization_deadline.is_none() {
            let wait = Duration::from_secs(st.launch.task.finalization_wait.max(0) as u64);
            st.finalization_deadline = Some(now + wait);
        }
    }

    /// Starts what the plan allows now; the soonest later time another may start.
    fn start_ready(&mut self, now: Instant) -> Option<Instant> {
        let (start, wake) = self.state.plan.startable(now);
        for i in start {
            self.start(i, now);
        }
        wake
    }

    /// Starts a run of process `i`.
    fn start(&mut self, i: usize, now: Instant) {
        let st = &mut self.state;
        let p = &st.launch.task.processes[i];
        let run = st.plan.runs(i);
        let spawned = process::RunLogs::open(&st.launch.sandbox, &p.name, run, st.setup.owner)
            .and_then(|logs| {
                process::spawn(
                    &st.cmdlines[i],
                    &st.launch.sandbox,
                    &logs,
                    p.logger.as_ref(),
                    &st.setup.env,
                    &st.setup.confine,
                )
            });
        st.plan.started(i);
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) => {
                st.plan.exited(i, false, now);
                st.failure.get_or_insert_with(|| StopReason::CouldNotStart {
                    process: p.name.clone(),
                    error: e.to_string(),
                });
                return;
            }
        };
        let pid = child.id().map(|p| p as i32).unwrap_or(0);
        st.pgids.insert(i, pid);
        st.used_groups.push(pid);
        // Checkpointed at once: an agent that dies from here on finds the group.
        self.groups_changed();
        let exits = self.state.exits.clone();
        tokio::spawn(async move {
            let code = child.wait().await.ok().and_then(|s| {
                s.code().or_else(|| {
                    std::os::unix::process::ExitStatusExt::signal(&s).map(|sig| 128 + sig)
                })
            });
            let _ = exits.send((i, code));
        });
        let gated = self.gates_running;
        self.publish(|s| {
            let ps = &mut s.processes[i];
            let now = SystemTime::now();
            ps.state = ProcState::Running;
            ps.runs = run + 1;
            ps.pid = Some(pid);
            ps.started_at = Some(now);
            crate::report::run_started(&mut ps.history, run, now);
            // With health checks, RUNNING waits for the task to be healthy.
            if s.state == TaskState::Starting && !gated {
                s.state = TaskState::Running;
            }
        });
    }

    /// Whether nothing runs or will run any more.
    fn over(&self) -> bool {
        let st = &self.state;
        st.plan.stage == Stage::Done && st.plan.running().is_empty() && st.pgids.is_empty()
    }

    /// When the timer must fire: a process becoming startable, the finalization deadline, or a
    /// hook's periodic work.
    fn next_timer(&self, wake: Option<Instant>) -> Option<Instant> {
        let hooks = self.hooks.iter().filter_map(|h| h.due(&self.state));
        [wake, self.state.finalization_deadline]
            .into_iter()
            .flatten()
            .chain(hooks)
            .min()
    }

    /// A run of process `i` ended with `code`.
    fn exited(&mut self, i: usize, code: Option<i32>) {
        let now = Instant::now();
        for k in 0..self.hooks.len() {
            let action = self.hooks[k].exited(&self.state, i, code);
            self.apply(action);
        }
        let st = &mut self.state;
        let ok = code == Some(0);
        st.plan.exited(i, ok, now);
        st.pgids.remove(&i);
        let state = st.plan.state(i);
        if !ok && state == ProcState::Failed {
            st.failure.get_or_insert_with(|| StopReason::ProcessFailed {
                process: st.launch.task.processes[i].name.clone(),
                exit: code,
            });
        }
        self.publish(|s| {
            let ps = &mut s.processes[i];
            let now = SystemTime::now();
            ps.state = state;
            ps.last_exit = code;
            ps.pid = None;
            ps.ended_at = Some(now);
            crate::report::run_ended(&mut ps.history, code, now);
        });
    }

    /// A kill request: the graceful shutdown hook may take it over; otherwise the running
    /// processes are signalled at once.
    fn kill(&mut self, grace: Duration) {
        let st = &mut self.state;
        st.kill_grace = grace;
        if st.plan.killed {
            return;
        }
        let running = st.plan.kill();
        let groups = st.groups_of(&running);
        st.graceful_kill = self.hooks.iter_mut().any(|h| h.kill(&groups, grace));
        if !st.graceful_kill {
            tokio::spawn(kill::escalate(groups, grace));
        }
        st.finalization_deadline = None;
    }

    /// The timer fired: finalization may be over, and hooks may be due.
    async fn timer(&mut self) {
        let st = &mut self.state;
        let finalization_over = st
            .finalization_deadline
            .is_some_and(|d| Instant::now() >= d);
        if finalization_over && st.plan.stage == Stage::Finalizing {
            let late = st.plan.finalization_timeout();
            st.escalate(&late, Duration::ZERO);
        }
        for k in 0..self.hooks.len() {
            let due = self.hooks[k].due(&self.state);
            if due.is_some_and(|d| d <= Instant::now()) {
                let action = self.hooks[k].tick(&self.state).await;
                self.apply(action);
            }
        }
    }

    /// Sweeps the task's groups, runs the poststop hooks and publishes the task's end.
    async fn finish(mut self) {
        // Whatever the processes started in their groups goes with them.
        kill::sweep(&self.state.used_groups);
        for h in self.hooks.iter_mut().rev() {
            h.poststop(&self.state).await;
        }
        let st = &mut self.state;
        let reason = StopReason::of_ended_task(
            st.stopped.take(),
            st.plan.killed,
            st.plan.succeeded(),
            st.failure.take(),
        );
        self.publish(|s| {
            s.state = reason.state();
            s.message = Some(reason.to_string());
        });
    }
}

/// What hook tests run against: a launch of one process `p` in `sandbox`, and its state with
/// `groups` as the process groups of runs in progress.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use aurora_model::config::{Process, Resources};
    use std::path::Path;

    pub(crate) fn launch(sandbox: &Path, disk: i64) -> TaskLaunch {
        TaskLaunch {
            task_id: "r-e-j-0-x".into(),
            task: Task {
                name: "t".into(),
                processes: vec![Process::once("p", "true")],
                constraints: vec![],
                resources: Resources {
                    cpu: 1.0,
                    ram: 1 << 20,
                    disk,
                    gpu: 0,
                },
                max_failures: 1,
                max_concurrency: 0,
                finalization_wait: 5,
                user: None,
            },
            sandbox: sandbox.to_owned(),
            state_dir: sandbox.join("executor-state"),
            ports: vec![],
            instance: 0,
            hostname: "h1".into(),
            user: "nobody".into(),
            isolation: None,
            run_as: None,
            disk_check: Duration::from_millis(10),
            health: None,
            lifecycle: None,
        }
    }

    pub(crate) fn state(launch: TaskLaunch, groups: &[i32]) -> RunState {
        let plan = Plan::new(&launch.task).expect("a valid task");
        let (status, _) = watch::channel(TaskStatus {
            state: TaskState::Starting,
            message: None,
            processes: Vec::new(),
        });
        let (exits, _) = mpsc::unbounded_channel();
        let mut st = RunState::new(launch, plan, Setup::default(), status, exits);
        st.pgids = groups.iter().copied().enumerate().collect();
        st
    }
}
