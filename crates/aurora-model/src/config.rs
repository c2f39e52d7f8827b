//! The typed job configuration: what a `.aurora` file's `Job` becomes once evaluated, templated and
//! type-checked.
//!
//! The field names, nesting and JSON shape are exactly Aurora's Pystachio schema
//! (`thermos/config/schema_base.py` and `aurora/config/schema/base.py`), so that the JSON of a [`Job`]
//! is what Aurora's `aurora job inspect --write-json` prints. Defaults are *not* applied here: they
//! live with the schema in `aurora-config`, which always produces complete values. A field that
//! Pystachio leaves `Empty` is an `Option` that is `None` and absent from the JSON.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A job: `Job(...)` or `Service(...)` in a `.aurora` file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Job {
    pub name: String,
    pub role: String,
    pub cluster: String,
    pub environment: String,
    pub instances: i64,
    pub task: Task,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announce: Option<Announcer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron_schedule: Option<String>,
    pub cron_collision_policy: CronCollisionPolicy,
    pub update_config: UpdateConfig,
    /// Scheduling constraints, attribute name to constraint (`'rack': 'r1,r2'`, `'host': 'limit:1'`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraints: Option<BTreeMap<String, String>>,
    pub metadata: Vec<Metadata>,
    pub service: bool,
    pub max_task_failures: i64,
    pub production: bool,
    pub priority: i64,
    pub health_check_config: HealthCheckConfig,
    pub lifecycle: LifecycleConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_links: Option<BTreeMap<String, String>>,
    pub executor_config: ExecutorConfig,
    pub enable_hooks: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_policy: Option<PartitionPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla_policy: Option<SlaPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<ContainerConfig>,
}

/// What happens when a cron job fires while its previous run is still active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CronCollisionPolicy {
    /// Kill the running run, then start the new one (the default).
    KillExisting,
    /// Skip this firing while a run is active.
    CancelNew,
    /// Deprecated in Aurora and refused by the scheduler; parsed so the refusal can say so.
    RunOverlap,
}

impl CronCollisionPolicy {
    /// Aurora's name: `KILL_EXISTING`.
    pub fn name(self) -> &'static str {
        match self {
            CronCollisionPolicy::KillExisting => "KILL_EXISTING",
            CronCollisionPolicy::CancelNew => "CANCEL_NEW",
            CronCollisionPolicy::RunOverlap => "RUN_OVERLAP",
        }
    }
}

/// A Thermos task: a set of processes sharing a sandbox and a resource footprint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Task {
    pub name: String,
    pub processes: Vec<Process>,
    pub constraints: Vec<Constraint>,
    pub resources: Resources,
    pub max_failures: i64,
    pub max_concurrency: i64,
    pub finalization_wait: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// One process of a task, run as `bash -c cmdline` in the task's sandbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Process {
    pub name: String,
    pub cmdline: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    pub max_failures: i64,
    pub daemon: bool,
    pub ephemeral: bool,
    pub min_duration: i64,
    #[serde(rename = "final")]
    pub final_: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logger: Option<Logger>,
}

impl Process {
    /// A process that runs `cmdline` once (one failure ends it), with nothing else set: not a
    /// daemon, ephemeral or final, no minimum duration (Thermos's is 5 s), the default logger.
    pub fn once(name: &str, cmdline: &str) -> Process {
        Process {
            name: name.to_owned(),
            cmdline: cmdline.to_owned(),
            resources: None,
            max_failures: 1,
            daemon: false,
            ephemeral: false,
            min_duration: 0,
            final_: false,
            logger: None,
        }
    }
}

/// Where a process's stdout and stderr go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Logger {
    pub destination: LoggerDestination,
    pub mode: LoggerMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotate: Option<RotatePolicy>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoggerDestination {
    File,
    Console,
    Both,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoggerMode {
    Standard,
    Rotate,
}

/// Log rotation for `LoggerMode::Rotate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotatePolicy {
    /// Bytes per file before rotating.
    pub log_size: i64,
    /// Rotated files kept.
    pub backups: i64,
}

/// Ordering between processes: each listed process starts after the previous one succeeded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Constraint {
    pub order: Vec<String>,
}

/// A task's resource footprint. `ram` and `disk` are bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    pub cpu: f64,
    pub ram: i64,
    pub disk: i64,
    pub gpu: i64,
}

impl Resources {
    /// Aurora's resource line: `CPU: 1.0 core(s), RAM: 128 MB, Disk: 128 MB`.
    pub fn summary(&self) -> String {
        let gpu = if self.gpu > 0 {
            format!(", GPU: {} GPU(s)", self.gpu)
        } else {
            String::new()
        };
        format!(
            "CPU: {} core(s), RAM: {} MB, Disk: {} MB{gpu}",
            self.cpu,
            self.ram / (1024 * 1024),
            self.disk / (1024 * 1024)
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Announcer {
    pub primary_port: String,
    pub portmap: BTreeMap<String, PortAlias>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zk_path: Option<String>,
}

/// An announcer port alias: another port's name, or a static port number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PortAlias {
    Static(i64),
    Name(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckConfig {
    pub health_checker: HealthCheckerConfig,
    pub initial_interval_secs: f64,
    pub interval_secs: f64,
    pub max_consecutive_failures: i64,
    pub min_consecutive_successes: i64,
    pub timeout_secs: f64,
}

/// Which health checker runs: HTTP or shell (one of them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckerConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpHealthChecker>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<ShellHealthChecker>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpHealthChecker {
    pub endpoint: String,
    pub expected_response: String,
    pub expected_response_code: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShellHealthChecker {
    pub shell_command: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateConfig {
    pub batch_size: i64,
    pub watch_secs: i64,
    pub max_per_shard_failures: i64,
    pub max_total_failures: i64,
    pub rollback_on_failure: bool,
    pub wait_for_batch_completion: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pulse_interval_secs: Option<i64>,
    pub sla_aware: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_strategy: Option<UpdateStrategy>,
}

/// `UpdateConfig.update_strategy`: a choice of three structs, told apart by their fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum UpdateStrategy {
    VariableBatch(VariableBatchUpdateStrategy),
    Batch(BatchUpdateStrategy),
    Queue(QueueUpdateStrategy),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueUpdateStrategy {
    pub batch_size: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchUpdateStrategy {
    pub batch_size: i64,
    pub autopause_after_batch: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableBatchUpdateStrategy {
    pub batch_sizes: Vec<i64>,
    pub autopause_after_batch: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifecycleConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpLifecycleConfig>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpLifecycleConfig {
    pub port: String,
    pub graceful_shutdown_endpoint: String,
    pub shutdown_endpoint: String,
    pub graceful_shutdown_wait_secs: i64,
    pub shutdown_wait_secs: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecutorConfig {
    pub name: String,
    pub data: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartitionPolicy {
    pub reschedule: bool,
    pub delay_secs: i64,
}

/// `Job.sla_policy`: one of three policies, told apart by their fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SlaPolicy {
    Coordinator(CoordinatorSlaPolicy),
    Count(CountSlaPolicy),
    Percentage(PercentageSlaPolicy),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoordinatorSlaPolicy {
    pub coordinator_url: String,
    pub status_key: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountSlaPolicy {
    pub count: i64,
    pub duration_secs: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PercentageSlaPolicy {
    pub percentage: f64,
    pub duration_secs: i64,
}

/// `Job.container`: the deprecated `Container(docker=...)` wrapper, `Docker` or `Mesos`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ContainerConfig {
    Container(Container),
    Docker(Docker),
    Mesos(Mesos),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Container {
    pub docker: Docker,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Docker {
    pub image: String,
    pub parameters: Vec<Parameter>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parameter {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mesos {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<MesosImage>,
    pub volumes: Vec<Volume>,
}

/// `Mesos.image`: an Appc or a Docker image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MesosImage {
    Appc(AppcImage),
    Docker(DockerImage),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppcImage {
    pub name: String,
    pub image_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DockerImage {
    pub name: String,
    pub tag: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Volume {
    pub container_path: String,
    pub host_path: String,
    pub mode: VolumeMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum VolumeMode {
    RO,
    RW,
}

impl Job {
    /// `CLUSTER/ROLE/ENV/NAME` of this job, if its components are valid identifiers.
    pub fn path(&self) -> Result<crate::JobPath, crate::JobKeyError> {
        crate::JobPath::new(&self.cluster, &self.role, &self.environment, &self.name)
    }

    /// The configuration each instance runs, as JSON: the job without what concerns the job as a
    /// whole (`instances`, `update_config`). Two instances whose views are equal run the same thing.
    pub fn instance_config(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(m) = v.as_object_mut() {
            m.remove("instances");
            m.remove("update_config");
        }
        v
    }

    /// A short digest of [`Job::instance_config`]: equal digests, equal instance configurations.
    pub fn instance_digest(&self) -> String {
        use sha2::Digest;
        let text = self.instance_config().to_string();
        let sum = sha2::Sha256::digest(text.as_bytes());
        sum.iter().take(8).map(|b| format!("{b:02x}")).collect()
    }

    /// Is this a cron job (it has a `cron_schedule`)?
    pub fn is_cron(&self) -> bool {
        self.cron_schedule
            .as_deref()
            .is_some_and(|s| !s.trim().is_empty())
    }
}
