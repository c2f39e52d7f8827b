//! The wire: request and response bodies of the scheduler's JSON API (`/api/v1`), the protocol
//! between the scheduler and its agents (`/agent/v1`), and the error body; every route's path
//! lives in [`routes`].
//!
//! Plain serde types and path helpers, no logic: the scheduler serves them, `aurora-client` (for
//! the CLI and the agent) speaks them. States are enums: task states are `aurora_model`'s,
//! serialised as Aurora's names (`RUNNING`), host states and maintenance modes are
//! `aurora_model::host`'s, and update actions are [`UpdateAction`].

use aurora_model::Job;
use aurora_model::host::{HostState, MaintenanceMode};
use aurora_model::task::ScheduleStatus;
use serde::{Deserialize, Serialize};

pub mod routes;

/// The body of every 4xx/5xx answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// One line saying what was refused and why.
    pub error: String,
}

// --- jobs -----------------------------------------------------------------------------------------

/// `POST /api/v1/jobs`: create a job and its PENDING tasks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateJobRequest {
    /// The job, as `aurora job inspect --write-json` prints it.
    pub config: Job,
}

/// The answer to a create: the tasks made, one per instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateJobResponse {
    /// `ROLE/ENV/NAME`.
    pub job: String,
    pub task_ids: Vec<String>,
}

/// One job in a listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSummary {
    pub role: String,
    pub environment: String,
    pub name: String,
    pub service: bool,
    pub instances: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron_schedule: Option<String>,
    /// For a scheduled cron job: when it fires next (ms since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cron_run_ms: Option<i64>,
    /// Task counts by state name (`RUNNING`: 2).
    pub task_counts: std::collections::BTreeMap<String, u32>,
}

/// `GET /api/v1/jobs/ROLE/ENV/NAME`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobDetails {
    pub summary: JobSummary,
    pub config: Job,
    /// Active tasks first, then finished ones kept in the history, newest first; with
    /// `?offset=&limit=`, only that page of them.
    pub tasks: Vec<TaskView>,
    /// How many tasks the job has in all (active and history), whatever the page.
    #[serde(default)]
    pub tasks_total: u32,
}

/// A task as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskView {
    pub task_id: String,
    /// `ROLE/ENV/NAME`.
    pub job: String,
    pub instance: u32,
    /// Serialised as Aurora's state name: `PENDING`, `RUNNING`...
    pub status: ScheduleStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// Why a PENDING task has not been placed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_reason: Option<String>,
    /// Named ports assigned to the task.
    #[serde(default)]
    pub ports: std::collections::BTreeMap<String, u16>,
    pub failure_count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ancestor_id: Option<String>,
    /// For a cron job's task: the run it belongs to (its firing's scheduled instant, ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron_run_ms: Option<i64>,
    pub events: Vec<TaskEventView>,
}

/// One state transition of a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskEventView {
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    pub status: ScheduleStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `POST /api/v1/jobs/ROLE/ENV/NAME/kill`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KillRequest {
    /// The instances to kill; all active ones when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<Vec<u32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The tasks a kill or restart acted on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TasksAffected {
    pub task_ids: Vec<String>,
    pub instances: Vec<u32>,
}

/// `POST /api/v1/jobs/ROLE/ENV/NAME/instances`: `aurora job add`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddInstancesRequest {
    /// The active instance whose configuration the new instances copy.
    pub from_instance: u32,
    pub count: u32,
}

/// `POST /api/v1/jobs/ROLE/ENV/NAME/restart`: a rolling restart, run as an update of kind
/// `restart` (answered with [`StartUpdateResponse`]). Unset settings come from the job's
/// `update_config`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<Vec<u32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch_secs: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_per_instance_failures: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_total_failures: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

// --- updates --------------------------------------------------------------------------------------

/// `POST /api/v1/jobs/ROLE/ENV/NAME/update`: `aurora update start`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartUpdateRequest {
    pub config: Job,
    /// Only these instances are touched (`KEY/0-1`); all when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<Vec<u32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default)]
    pub metadata: std::collections::BTreeMap<String, String>,
}

/// The answer to a start: the update, or why none was needed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartUpdateResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<UpdateSummary>,
    /// `Job is unchanged by proposed update.` when nothing would change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `POST /api/v1/jobs/ROLE/ENV/NAME/diff`: what an update to `config` would change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiffRequest {
    pub config: Job,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<Vec<u32>>,
}

/// Instances sorted by what an update would do to them, with the configurations they run now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiffResponse {
    pub add: Vec<u32>,
    pub update: Vec<u32>,
    pub remove: Vec<u32>,
    pub unchanged: Vec<u32>,
    /// The configurations the job's active instances run now, one group per configuration.
    pub current: Vec<ConfigGroup>,
    /// The configuration each instance would run (`Job::instance_config` of the request).
    pub desired: serde_json::Value,
}

/// Instances running one configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigGroup {
    pub instances: Vec<u32>,
    pub config: serde_json::Value,
}

/// Instance counts of an update, in its current direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateProgress {
    /// Instances the update works on.
    pub total: u32,
    /// Updated (or rolled back) and watched long enough.
    pub succeeded: u32,
    /// Being replaced or watched now.
    pub working: u32,
    /// Of those, running the target configuration (healthy, when health-checked) and watched.
    #[serde(default)]
    pub healthy: u32,
    pub failed: u32,
}

impl std::fmt::Display for UpdateProgress {
    /// `2/4 updated, 1 in progress (1 healthy), 0 failed`: how the CLI and the UI say it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{} updated, {} in progress ({} healthy), {} failed",
            self.succeeded, self.total, self.working, self.healthy, self.failed
        )
    }
}

/// One update in a listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateSummary {
    pub id: String,
    /// `ROLE/ENV/NAME`.
    pub job: String,
    /// `update` or `restart`.
    pub kind: aurora_model::update::UpdateKind,
    pub user: String,
    pub status: aurora_model::update::UpdateStatus,
    pub created_ms: i64,
    pub last_modified_ms: i64,
    pub progress: UpdateProgress,
}

/// `GET /api/v1/updates/ID` (and `GET /api/v1/jobs/ROLE/ENV/NAME/update`, the active one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateDetails {
    pub summary: UpdateSummary,
    pub settings: aurora_model::update::UpdateSettings,
    pub events: Vec<aurora_model::update::UpdateEvent>,
    pub instance_events: Vec<aurora_model::update::InstanceEvent>,
    /// Each instance the update works on, in its order.
    pub instances: Vec<InstanceUpdateView>,
    pub metadata: std::collections::BTreeMap<String, String>,
}

/// One instance of an update.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceUpdateView {
    pub instance: u32,
    /// `add`, `update`, `remove` or `restart`.
    pub change: String,
    pub phase: aurora_model::update::InstancePhase,
    pub failures: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
}

/// `GET /api/v1/updates` filters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Comma-separated state names or groups (`active`, `paused`, `blocked`, `succeeded`,
    /// `failed`, `inactive`, `all`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// What `POST /api/v1/jobs/ROLE/ENV/NAME/update/{verb}` does to the job's active update: the
/// `{verb}` segment, by its lower-case name (`pause`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UpdateAction {
    Pause,
    Resume,
    Abort,
    Rollback,
}

impl UpdateAction {
    /// Every action, in the order error messages list them.
    pub const ALL: [UpdateAction; 4] = [
        UpdateAction::Pause,
        UpdateAction::Resume,
        UpdateAction::Abort,
        UpdateAction::Rollback,
    ];

    /// The path segment: `pause`, `resume`, `abort` or `rollback`.
    pub fn name(self) -> &'static str {
        match self {
            UpdateAction::Pause => "pause",
            UpdateAction::Resume => "resume",
            UpdateAction::Abort => "abort",
            UpdateAction::Rollback => "rollback",
        }
    }
}

impl std::fmt::Display for UpdateAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A `{verb}` segment that names no [`UpdateAction`] (the scheduler answers it with a 404).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no update action '{0}' (pause, resume, abort, rollback)")]
pub struct UnknownUpdateAction(pub String);

impl std::str::FromStr for UpdateAction {
    type Err = UnknownUpdateAction;

    /// The exact lower-case name, as the path carries it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        UpdateAction::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| UnknownUpdateAction(s.to_owned()))
    }
}

/// The body of `POST /api/v1/jobs/ROLE/ENV/NAME/update/{verb}` (see [`UpdateAction`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateControlRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `POST /api/v1/updates/ID/pulse`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PulseResponse {
    pub status: aurora_model::update::UpdateStatus,
}

// --- cron -----------------------------------------------------------------------------------------

/// `POST /api/v1/cron` (body: [`CreateJobRequest`]): `aurora cron schedule`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CronScheduled {
    /// `ROLE/ENV/NAME`.
    pub job: String,
    /// A cron job of that key was replaced (its runs in progress are untouched).
    pub replaced: bool,
}

/// `DELETE /api/v1/cron/ROLE/ENV/NAME`: `aurora cron deschedule`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CronDescheduled {
    pub job: String,
    /// False when the job was not scheduled with cron (as in Aurora, not an error).
    pub descheduled: bool,
    pub message: String,
}

/// `POST /api/v1/cron/ROLE/ENV/NAME/start`: `aurora cron start`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CronStarted {
    pub job: String,
    /// `STARTED`, `KILLING_PREVIOUS` (KILL_EXISTING: the run starts once the previous one ended)
    /// or `SKIPPED` (CANCEL_NEW while a run is active).
    pub outcome: String,
    /// The tasks started, or those being killed.
    pub task_ids: Vec<String>,
}

/// `GET /api/v1/cron/ROLE/ENV/NAME`: `aurora cron show`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CronView {
    pub job: String,
    pub schedule: String,
    /// `KILL_EXISTING` or `CANCEL_NEW`.
    pub collision_policy: String,
    /// The time zone the schedule is evaluated in.
    pub timezone: String,
    /// The next firings (ms since the epoch), soonest first.
    pub next_runs_ms: Vec<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run_ms: Option<i64>,
    /// A firing waiting for the previous run to be killed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_run_ms: Option<i64>,
    /// The runs whose tasks are kept, newest first.
    pub runs: Vec<CronRunView>,
}

/// One run of a cron job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CronRunView {
    /// The firing's scheduled instant (ms since the epoch).
    pub run_ms: i64,
    /// Its tasks by state name.
    pub task_counts: std::collections::BTreeMap<String, u32>,
}

// --- hosts and maintenance (`aurora_admin`) ---------------------------------------------------------

/// An agent as `aurora_admin hosts` shows it (`GET /api/v1/hosts`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostView {
    pub agent_id: String,
    pub hostname: String,
    /// `ACTIVE`, `DRAINING`, `DRAINED`, `DISCONNECTED` (stream down, not yet lost) or `LOST`.
    pub state: HostState,
    pub attributes: std::collections::BTreeMap<String, String>,
    pub cpu: f64,
    pub ram_mb: u64,
    pub disk_mb: u64,
    pub used_cpu: f64,
    pub used_ram_mb: u64,
    pub used_disk_mb: u64,
    /// Tasks placed there and not over.
    pub tasks: u32,
    /// How the agent limits its tasks: `cgroup-v2`, `cgroup-v1`, `rlimits` or `none`.
    #[serde(default)]
    pub isolation: String,
    /// When it last reported (ms since the epoch).
    pub last_seen_ms: i64,
    /// Where its file server listens (the scheduler reads logs and sandboxes there).
    #[serde(default)]
    pub endpoint: String,
}

/// `POST /api/v1/maintenance/drain` and `/activate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostsRequest {
    pub hosts: Vec<String>,
}

/// A host's maintenance mode: `NONE`, `DRAINING` or `DRAINED`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaintenanceView {
    pub host: String,
    pub mode: MaintenanceMode,
}

/// The answer to a drain: the hosts' modes and the tasks being moved off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrainResponse {
    pub hosts: Vec<MaintenanceView>,
    pub task_ids: Vec<String>,
}

// --- tokens ---------------------------------------------------------------------------------------

/// `POST /api/v1/tokens`: a token for the caller (`aurora auth login`), or, for administrators,
/// for any user (`aurora_admin token issue`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueTokenRequest {
    /// Whom the token identifies; the caller when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Lifetime in seconds (one day when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_secs: Option<u64>,
    /// The client address it is accepted from: the caller's when absent, `*` for any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind_ip: Option<String>,
}

/// A token just issued: shown once, never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenIssued {
    pub token: String,
    pub id: String,
    pub user: String,
    pub expires_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind_ip: Option<String>,
}

/// A token as `aurora_admin token list` shows it (`GET /api/v1/tokens`): never the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenView {
    pub id: String,
    pub user: String,
    pub issued_ms: i64,
    pub expires_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_ms: Option<i64>,
}

// --- agent protocol -------------------------------------------------------------------------------

/// The header carrying an agent's credential, both ways: the agent to the scheduler, and the
/// scheduler to that agent's file server (who may speak: `aurora_agent::cluster_secret`).
pub const AGENT_CREDENTIAL_HEADER: &str = "x-aurora-agent-credential";

/// Resources an agent offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentResources {
    pub cpu: f64,
    pub ram_mb: u64,
    pub disk_mb: u64,
    /// Inclusive port range the agent allocates from.
    pub port_range: (u16, u16),
}

/// `POST /agent/v1/register`: an agent announces itself (again, after any restart).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisterRequest {
    pub agent_id: String,
    pub hostname: String,
    /// Where the agent serves task logs and sandbox files to the scheduler.
    pub endpoint: String,
    pub resources: AgentResources,
    #[serde(default)]
    pub attributes: std::collections::BTreeMap<String, String>,
    /// Tasks the agent still runs (after a restart of either side), for reconciliation.
    #[serde(default)]
    pub running: Vec<String>,
    /// How the agent limits its tasks: `cgroup-v2`, `cgroup-v1`, `rlimits` or `none`.
    #[serde(default)]
    pub isolation: String,
}

/// The answer to a registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterResponse {
    /// How often the command stream carries a heartbeat: a stream silent for several of these
    /// is dead, and the agent reconnects.
    pub heartbeat_ms: u64,
}

/// A command for an agent, sent over its command stream (`GET /agent/v1/AGENT/commands`, one JSON
/// object a line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentCommand {
    /// Start a task.
    Launch(Box<LaunchTask>),
    /// Kill a task: SIGTERM, then SIGKILL after `grace_ms`.
    Kill { task_id: String, grace_ms: u64 },
    /// Keeps idle connections alive and lets each side notice a dead peer.
    Heartbeat,
}

/// Everything an agent needs to run a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LaunchTask {
    pub task_id: String,
    /// `ROLE/ENV/NAME`.
    pub job: String,
    pub instance: u32,
    /// The Unix user (the job's role).
    pub user: String,
    pub task: aurora_model::config::Task,
    pub ports: std::collections::BTreeMap<String, u16>,
    /// The job's health checking (the executor checks; the task is RUNNING once healthy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<aurora_model::config::HealthCheckConfig>,
    /// The job's graceful shutdown endpoints, called before signals on a kill.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<aurora_model::config::LifecycleConfig>,
}

/// A task's state as the agent reports it. Retried until acknowledged; applying one twice changes
/// nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusUpdate {
    pub task_id: String,
    /// `STARTING`, `RUNNING`, `FINISHED`, `FAILED`, `KILLED` or `LOST`.
    pub status: ScheduleStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub timestamp_ms: i64,
}

/// `POST /agent/v1/AGENT/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusBatch {
    pub updates: Vec<StatusUpdate>,
}

// --- task pages: processes, sandbox files, roles, instance pages ----------------------------------

/// A task's processes, as its executor records them (`GET /api/v1/tasks/TASK/processes`): the
/// executor writes these very records into the sandbox, so they are the model's.
pub use aurora_model::process::{ProcessRecord, ProcessRun};

/// A folder of a task's sandbox (`GET /api/v1/tasks/TASK/files?path=P`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxListing {
    /// The folder, relative to the sandbox (`""` for the sandbox itself).
    pub path: String,
    /// Folders first, then files, each by name.
    pub entries: Vec<SandboxEntry>,
}

/// One entry of a sandbox folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxEntry {
    pub name: String,
    pub dir: bool,
    /// Bytes (0 for folders).
    pub size: u64,
    /// Last modification, milliseconds since the Unix epoch.
    pub modified_ms: i64,
}

/// A role and what it runs (`GET /api/v1/roles`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleSummary {
    pub role: String,
    pub jobs: u32,
    /// Tasks in an active state other than PENDING/THROTTLED.
    pub active: u32,
    /// PENDING and THROTTLED tasks.
    pub pending: u32,
    /// FAILED and LOST tasks still kept in the history.
    pub failed: u32,
}

/// One page of a job's instances (`GET /api/v1/jobs/ROLE/ENV/NAME/instances?offset=O&limit=L`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstancePage {
    /// Instances the job has.
    pub total: u32,
    pub offset: u32,
    pub limit: u32,
    /// The active task of each instance on the page, by instance.
    pub instances: Vec<TaskView>,
}

/// The scheduler's backups, oldest first (`aurora_admin scheduler_list_backups`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackupList {
    pub backups: Vec<String>,
}

/// A backup just written (`aurora_admin scheduler_backup_now`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackupTaken {
    pub backup: String,
}

/// `aurora_admin scheduler_stage_recovery CLUSTER BACKUP`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageRecoveryRequest {
    pub backup: String,
}

/// The staged recovery: which backup, and what it would bring back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecoveryStatus {
    pub backup: String,
    pub jobs: usize,
    pub tasks: usize,
}

/// A task of the staged recovery (`aurora_admin scheduler_print_recovery_tasks`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecoveryTask {
    pub task_id: String,
    /// `ROLE/ENV/NAME`.
    pub job: String,
    pub instance: u32,
    pub status: aurora_model::task::ScheduleStatus,
}

/// `aurora_admin scheduler_delete_recovery_tasks CLUSTER TASK_IDS`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeleteRecoveryTasksRequest {
    pub task_ids: Vec<String>,
}

/// `aurora_admin scheduler_snapshot`: what was written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotTaken {
    pub message: String,
}
