//! Aurora's configuration schema: every struct of Thermos' `schema_base.py` and Aurora's
//! `schema/base.py`, with each field's type, default and whether it is required, and the
//! ready-made values the schema exports (`Service`, `DefaultHealthChecker`...).
//!
//! This is data, built once per process. Evaluation (`starlark_glue`) exposes it to `.aurora` files;
//! nothing here evaluates anything.

use crate::value::{Field, StructType, StructValue, Type, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

pub const B: i64 = 1;
pub const KB: i64 = 1024;
pub const MB: i64 = 1024 * KB;
pub const GB: i64 = 1024 * MB;
pub const TB: i64 = 1024 * GB;

/// The built-in schema: struct types by name, enum types, and named instances.
pub struct Schema {
    pub structs: BTreeMap<&'static str, Arc<StructType>>,
    pub enums: Vec<(&'static str, Type)>,
    /// Values exported by name: `Service` (a `Job` with `service = True`), `DefaultHealthChecker`...
    pub instances: Vec<(&'static str, Arc<StructValue>)>,
}

impl Schema {
    /// The struct type `name`; panics if the schema lacks it (a bug, not an input error).
    pub fn get(&self, name: &str) -> &Arc<StructType> {
        self.structs
            .get(name)
            .unwrap_or_else(|| panic!("schema has no struct {name}"))
    }
}

/// The schema, built on first use.
pub fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(build)
}

fn req(name: &str, ty: Type) -> Field {
    Field {
        name: name.into(),
        ty,
        default: None,
        required: true,
    }
}
fn opt(name: &str, ty: Type) -> Field {
    Field {
        name: name.into(),
        ty,
        default: None,
        required: false,
    }
}
fn def(name: &str, ty: Type, default: Value) -> Field {
    let default = ty
        .coerce(default, crate::value::Mode::Template)
        .expect("schema default fits its type");
    Field {
        name: name.into(),
        ty,
        default: Some(default),
        required: false,
    }
}
fn s(v: &str) -> Value {
    Value::Str(v.into())
}
fn list(t: Type) -> Type {
    Type::List(Box::new(t))
}
fn map(k: Type, v: Type) -> Type {
    Type::Map(Box::new(k), Box::new(v))
}
fn enumeration(name: &str, values: &[&str]) -> Type {
    Type::Enum {
        name: name.into(),
        values: values.iter().map(|v| v.to_string()).collect(),
    }
}

/// Collects the struct types by name as they are declared.
#[derive(Default)]
struct Builder {
    structs: BTreeMap<&'static str, Arc<StructType>>,
}

impl Builder {
    /// Declares the struct `name` and returns its type, for the structs that contain it.
    fn add(&mut self, name: &'static str, fields: Vec<Field>) -> Arc<StructType> {
        let t = Arc::new(StructType {
            name: name.into(),
            fields,
        });
        self.structs.insert(name, t.clone());
        t
    }
}

fn st(t: &Arc<StructType>) -> Type {
    Type::Struct(t.clone())
}

/// An instance of `t` with `fields` set.
fn inst(t: &Arc<StructType>, fields: &[(&str, Value)]) -> Value {
    Value::Struct(Arc::new(StructValue::empty(t.clone()).with(fields)))
}

/// Builds the schema. Each group of structs is declared by its own function below, in the order
/// of the Python files they mirror; a group returns what the later groups refer to.
fn build() -> Schema {
    let destination = enumeration("LoggerDestination", &["file", "console", "both", "none"]);
    let mode = enumeration("LoggerMode", &["standard", "rotate"]);
    let volume_mode = enumeration("Mode", &["RO", "RW"]);

    let mut b = Builder::default();
    let task = thermos(&mut b, &destination, &mode);
    let health = health_checks(&mut b);
    let lifecycle = lifecycles(&mut b);
    let update = update_config(&mut b);
    let parts = JobParts {
        task,
        update,
        health: health.config,
        lifecycle: lifecycle.config,
        default_lifecycle: lifecycle.default.clone(),
        sla_policy: sla_policies(&mut b),
        container: containers(&mut b, &volume_mode),
    };
    let job = job(&mut b, &parts);

    let as_struct = |v: Value| match v {
        Value::Struct(s) => s,
        _ => unreachable!("built above as a struct"),
    };
    let service = as_struct(inst(&job, &[("service", Value::Bool(true))]));
    let instances = vec![
        ("Service", service),
        ("DefaultHealthChecker", as_struct(health.default_checker)),
        ("DefaultLifecycleConfig", as_struct(lifecycle.default)),
        ("DisableLifecycle", as_struct(lifecycle.disable)),
    ];
    Schema {
        structs: b.structs,
        enums: vec![
            ("LoggerDestination", destination),
            ("LoggerMode", mode),
            ("Mode", volume_mode),
        ],
        instances,
    }
}

/// Thermos (`thermos/config/schema_base.py`): resources, loggers, processes and the task. Returns
/// `Task`.
fn thermos(b: &mut Builder, destination: &Type, mode: &Type) -> Arc<StructType> {
    use Type::{Boolean, Float, Integer, String as Str};
    let resources = b.add(
        "Resources",
        vec![
            req("cpu", Float),
            req("ram", Integer),
            req("disk", Integer),
            def("gpu", Integer, Value::Int(0)),
        ],
    );
    let rotate = b.add(
        "RotatePolicy",
        vec![
            def("log_size", Integer, Value::Int(100 * MB)),
            def("backups", Integer, Value::Int(5)),
        ],
    );
    let logger = b.add(
        "Logger",
        vec![
            def("destination", destination.clone(), s("file")),
            def("mode", mode.clone(), s("standard")),
            opt("rotate", st(&rotate)),
        ],
    );
    let process = b.add(
        "Process",
        vec![
            req("name", Str),
            req("cmdline", Str),
            opt("resources", st(&resources)),
            def("max_failures", Integer, Value::Int(1)),
            def("daemon", Boolean, Value::Bool(false)),
            def("ephemeral", Boolean, Value::Bool(false)),
            def("min_duration", Integer, Value::Int(5)),
            def("final", Boolean, Value::Bool(false)),
            opt("logger", st(&logger)),
        ],
    );
    let constraint = b.add("Constraint", vec![req("order", list(Str))]);
    b.add(
        "Task",
        vec![
            def("name", Str, s("{{processes[0].name}}")),
            req("processes", list(st(&process))),
            def("constraints", list(st(&constraint)), Value::List(vec![])),
            req("resources", st(&resources)),
            def("max_failures", Integer, Value::Int(1)),
            def("max_concurrency", Integer, Value::Int(0)),
            def("finalization_wait", Integer, Value::Int(30)),
            opt("user", Str),
        ],
    )
}

/// `HealthCheckConfig` and the checker it defaults to (exported as `DefaultHealthChecker`).
struct HealthChecks {
    config: Arc<StructType>,
    default_checker: Value,
}

/// Aurora's health checks: HTTP and shell checkers and their settings.
fn health_checks(b: &mut Builder) -> HealthChecks {
    use Type::{Float, Integer, String as Str};
    let http_hc = b.add(
        "HttpHealthChecker",
        vec![
            def("endpoint", Str, s("/health")),
            def("expected_response", Str, s("ok")),
            def("expected_response_code", Integer, Value::Int(0)),
        ],
    );
    let shell_hc = b.add("ShellHealthChecker", vec![req("shell_command", Str)]);
    let checker = b.add(
        "HealthCheckerConfig",
        vec![opt("http", st(&http_hc)), opt("shell", st(&shell_hc))],
    );
    let default_checker = inst(&checker, &[("http", inst(&http_hc, &[]))]);
    let config = b.add(
        "HealthCheckConfig",
        vec![
            def("health_checker", st(&checker), default_checker.clone()),
            def("initial_interval_secs", Float, Value::Float(15.0)),
            def("interval_secs", Float, Value::Float(10.0)),
            def("max_consecutive_failures", Integer, Value::Int(0)),
            def("min_consecutive_successes", Integer, Value::Int(1)),
            def("timeout_secs", Float, Value::Float(1.0)),
        ],
    );
    HealthChecks {
        config,
        default_checker,
    }
}

/// `LifecycleConfig` and its two ready-made values (`DefaultLifecycleConfig`, `DisableLifecycle`).
struct Lifecycles {
    config: Arc<StructType>,
    default: Value,
    disable: Value,
}

/// Aurora's graceful shutdown over HTTP.
fn lifecycles(b: &mut Builder) -> Lifecycles {
    use Type::{Integer, String as Str};
    let http_lifecycle = b.add(
        "HttpLifecycleConfig",
        vec![
            def("port", Str, s("health")),
            def("graceful_shutdown_endpoint", Str, s("/quitquitquit")),
            def("shutdown_endpoint", Str, s("/abortabortabort")),
            def("graceful_shutdown_wait_secs", Integer, Value::Int(5)),
            def("shutdown_wait_secs", Integer, Value::Int(5)),
        ],
    );
    let config = b.add("LifecycleConfig", vec![opt("http", st(&http_lifecycle))]);
    Lifecycles {
        default: inst(&config, &[("http", inst(&http_lifecycle, &[]))]),
        disable: inst(&config, &[]),
        config,
    }
}

/// `UpdateConfig` and its update strategies.
fn update_config(b: &mut Builder) -> Arc<StructType> {
    use Type::{Boolean, Integer};
    let queue = b.add(
        "QueueUpdateStrategy",
        vec![def("batch_size", Integer, Value::Int(1))],
    );
    let batch = b.add(
        "BatchUpdateStrategy",
        vec![
            def("batch_size", Integer, Value::Int(1)),
            def("autopause_after_batch", Boolean, Value::Bool(false)),
        ],
    );
    let variable = b.add(
        "VariableBatchUpdateStrategy",
        vec![
            req("batch_sizes", list(Integer)),
            def("autopause_after_batch", Boolean, Value::Bool(false)),
        ],
    );
    b.add(
        "UpdateConfig",
        vec![
            def("batch_size", Integer, Value::Int(1)),
            def("watch_secs", Integer, Value::Int(45)),
            def("max_per_shard_failures", Integer, Value::Int(0)),
            def("max_total_failures", Integer, Value::Int(0)),
            def("rollback_on_failure", Boolean, Value::Bool(true)),
            def("wait_for_batch_completion", Boolean, Value::Bool(false)),
            opt("pulse_interval_secs", Integer),
            def("sla_aware", Boolean, Value::Bool(false)),
            opt(
                "update_strategy",
                Type::Choice(vec![st(&queue), st(&batch), st(&variable)]),
            ),
        ],
    )
}

/// The SLA policies; returns the type of `Job.sla_policy` (a choice of them).
fn sla_policies(b: &mut Builder) -> Type {
    use Type::{Float, Integer, String as Str};
    let count_sla = b.add(
        "CountSlaPolicy",
        vec![req("count", Integer), req("duration_secs", Integer)],
    );
    let percentage_sla = b.add(
        "PercentageSlaPolicy",
        vec![req("percentage", Float), req("duration_secs", Integer)],
    );
    let coordinator_sla = b.add(
        "CoordinatorSlaPolicy",
        vec![
            req("coordinator_url", Str),
            def("status_key", Str, s("drain")),
        ],
    );
    Type::Choice(vec![
        st(&coordinator_sla),
        st(&count_sla),
        st(&percentage_sla),
    ])
}

/// Docker and Mesos containers; returns the type of `Job.container` (a choice of them).
fn containers(b: &mut Builder, volume_mode: &Type) -> Type {
    use Type::String as Str;
    let parameter = b.add("Parameter", vec![req("name", Str), req("value", Str)]);
    let docker = b.add(
        "Docker",
        vec![
            req("image", Str),
            def("parameters", list(st(&parameter)), Value::List(vec![])),
        ],
    );
    let appc = b.add("AppcImage", vec![req("name", Str), req("image_id", Str)]);
    let docker_image = b.add("DockerImage", vec![req("name", Str), req("tag", Str)]);
    let volume = b.add(
        "Volume",
        vec![
            req("container_path", Str),
            req("host_path", Str),
            req("mode", volume_mode.clone()),
        ],
    );
    let mesos = b.add(
        "Mesos",
        vec![
            opt("image", Type::Choice(vec![st(&appc), st(&docker_image)])),
            def("volumes", list(st(&volume)), Value::List(vec![])),
        ],
    );
    let container = b.add("Container", vec![req("docker", st(&docker))]);
    Type::Choice(vec![st(&container), st(&docker), st(&mesos)])
}

/// What `Job` refers to from the other groups.
struct JobParts {
    task: Arc<StructType>,
    update: Arc<StructType>,
    health: Arc<StructType>,
    lifecycle: Arc<StructType>,
    default_lifecycle: Value,
    sla_policy: Type,
    container: Type,
}

/// Aurora (`aurora/config/schema/base.py`): the job, and the small structs only it uses.
fn job(b: &mut Builder, parts: &JobParts) -> Arc<StructType> {
    use Type::{Boolean, Integer, String as Str};
    let announcer = b.add(
        "Announcer",
        vec![
            def("primary_port", Str, s("http")),
            def(
                "portmap",
                map(Str, Type::Choice(vec![Str, Integer])),
                Value::Map(vec![(s("aurora"), s("{{primary_port}}"))]),
            ),
            opt("zk_path", Str),
        ],
    );
    let executor = b.add(
        "ExecutorConfig",
        vec![
            def("name", Str, s("AuroraExecutor")),
            def("data", Str, s("")),
        ],
    );
    let metadata = b.add("Metadata", vec![req("key", Str), req("value", Str)]);
    let partition = b.add(
        "PartitionPolicy",
        vec![
            def("reschedule", Boolean, Value::Bool(true)),
            def("delay_secs", Integer, Value::Int(0)),
        ],
    );
    let collision = enumeration(
        "CronCollisionPolicy",
        &["KILL_EXISTING", "CANCEL_NEW", "RUN_OVERLAP"],
    );
    b.add(
        "Job",
        vec![
            def("name", Str, s("{{task.name}}")),
            req("role", Str),
            opt("contact", Str),
            req("cluster", Str),
            req("environment", Str),
            def("instances", Integer, Value::Int(1)),
            req("task", st(&parts.task)),
            opt("announce", st(&announcer)),
            opt("tier", Str),
            opt("cron_schedule", Str),
            def("cron_collision_policy", collision, s("KILL_EXISTING")),
            def("update_config", st(&parts.update), inst(&parts.update, &[])),
            opt("constraints", map(Str, Str)),
            def("metadata", list(st(&metadata)), Value::List(vec![])),
            def("service", Boolean, Value::Bool(false)),
            def("max_task_failures", Integer, Value::Int(1)),
            def("production", Boolean, Value::Bool(false)),
            def("priority", Integer, Value::Int(0)),
            def(
                "health_check_config",
                st(&parts.health),
                inst(&parts.health, &[]),
            ),
            def(
                "lifecycle",
                st(&parts.lifecycle),
                parts.default_lifecycle.clone(),
            ),
            opt("task_links", map(Str, Str)),
            def("executor_config", st(&executor), inst(&executor, &[])),
            def("enable_hooks", Boolean, Value::Bool(false)),
            opt("partition_policy", st(&partition)),
            opt("sla_policy", parts.sla_policy.clone()),
            opt("container", parts.container.clone()),
        ],
    )
}
