//! From an evaluated file to jobs: applying `--bind` values and Aurora's standard bindings, picking
//! the job a key names, type-checking it and converting it to [`aurora_model::Job`].

use crate::error::ConfigError;
use crate::eval::{self, FsLoader, SourceLoader};
use crate::schema::MB;
use crate::starlark_glue::binding_path;
use crate::templating::{self, Unbound};
use crate::value::{Binding, StructValue, Value};
use aurora_model::JobPath;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A `--bind NAME=VALUE` argument.
#[derive(Debug, Clone, PartialEq)]
pub struct Bind {
    path: Vec<String>,
    value: String,
}

impl std::str::FromStr for Bind {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, value) = s
            .split_once('=')
            .ok_or_else(|| ConfigError::Binding(s.to_owned()))?;
        let path = binding_path(name.trim()).map_err(|_| ConfigError::Binding(s.to_owned()))?;
        Ok(Bind {
            path,
            value: value.to_owned(),
        })
    }
}

/// An evaluated `.aurora` file.
pub struct Config {
    file: PathBuf,
    jobs: Vec<Arc<StructValue>>,
}

/// One job, templated, type-checked and typed.
#[derive(Debug, Clone)]
pub struct ResolvedJob {
    /// `CLUSTER/ROLE/ENV/NAME`.
    pub key: JobPath,
    /// The typed configuration.
    pub job: aurora_model::Job,
    /// The Pystachio JSON of the job, as `aurora job inspect --write-json` prints it.
    pub json: serde_json::Value,
    /// References nothing binds and that are not runtime references: `job create` refuses them,
    /// `inspect` warns about them.
    pub unbound: Vec<Unbound>,
}

/// Aurora rewrites these deprecated references when it loads a job (`AuroraConfig.standard_bindings`).
fn standard_bindings() -> Binding {
    let s = |v: &str| Value::Str(v.to_owned());
    vec![
        (vec!["mesos".into(), "role".into()], s("{{role}}")),
        (vec!["mesos".into(), "cluster".into()], s("{{cluster}}")),
        (vec!["thermos".into(), "user".into()], s("{{role}}")),
    ]
}

/// A job as templated, before type checks.
struct Templated {
    tree: Arc<StructValue>,
    unbound: Vec<Unbound>,
}

impl Templated {
    fn str_field(&self, name: &str) -> String {
        match self.tree.get(name) {
            Some(Value::Str(s)) => s.clone(),
            Some(other) => other.to_plain_string(),
            None => String::new(),
        }
    }

    fn key_string(&self) -> String {
        ["cluster", "role", "environment", "name"]
            .map(|f| self.str_field(f))
            .join("/")
    }
}

impl Config {
    /// Evaluates the file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::load_with(path, &FsLoader)
    }

    /// Evaluates the file at `path`, reading through `loader`.
    pub fn load_with(path: &Path, loader: &dyn SourceLoader) -> Result<Self, ConfigError> {
        Ok(Config {
            file: path.to_owned(),
            jobs: eval::evaluate(path, loader)?,
        })
    }

    /// The number of jobs the file defines.
    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    /// Does the file define no job?
    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    fn template(&self, job: &Arc<StructValue>, binds: &[Bind]) -> Result<Templated, ConfigError> {
        let mut bound = (**job).clone();
        if !binds.is_empty() {
            let user: Binding = binds
                .iter()
                .map(|b| (b.path.clone(), Value::Str(b.value.clone())))
                .collect();
            bound.bindings.insert(0, Arc::new(user));
        }
        bound.bindings.insert(0, Arc::new(standard_bindings()));
        let (tree, unbound) =
            templating::interpolate(&Arc::new(bound)).map_err(|e| ConfigError::Job {
                job: job_label(job),
                message: e.to_string(),
            })?;
        Ok(Templated { tree, unbound })
    }

    /// `CLUSTER/ROLE/ENV/NAME` of every job in the file, in file order.
    pub fn job_keys(&self, binds: &[Bind]) -> Result<Vec<String>, ConfigError> {
        self.jobs
            .iter()
            .map(|j| Ok(self.template(j, binds)?.key_string()))
            .collect()
    }

    /// Every job in the file, resolved.
    pub fn resolve_all(&self, binds: &[Bind]) -> Result<Vec<ResolvedJob>, ConfigError> {
        self.jobs
            .iter()
            .map(|j| finish(self.template(j, binds)?))
            .collect()
    }

    /// The job named by `key`, resolved: templated with `binds`, type-checked and typed.
    pub fn resolve(&self, key: &JobPath, binds: &[Bind]) -> Result<ResolvedJob, ConfigError> {
        let wanted = key.to_string();
        let mut candidates = Vec::new();
        let mut found = None;
        for job in &self.jobs {
            let t = self.template(job, binds)?;
            let k = t.key_string();
            if k == wanted {
                if found.is_some() {
                    return Err(ConfigError::Ambiguous {
                        key: wanted,
                        file: self.file.clone(),
                    });
                }
                found = Some(t);
            } else {
                candidates.push(k);
            }
        }
        match found {
            Some(t) => finish(t),
            None => Err(ConfigError::NoMatch {
                key: wanted,
                file: self.file.clone(),
                candidates,
            }),
        }
    }
}

fn job_label(job: &StructValue) -> String {
    match (job.get("name"), job.origin.as_deref()) {
        (Some(Value::Str(n)), Some(o)) if !n.contains("{{") => format!("'{n}' (built at {o})"),
        (_, Some(o)) => format!("built at {o}"),
        (Some(Value::Str(n)), None) => format!("'{n}'"),
        _ => "?".into(),
    }
}

/// Type checks, Aurora's job validation, and conversion to the typed model.
fn finish(t: Templated) -> Result<ResolvedJob, ConfigError> {
    let label = t.key_string();
    let err = |message: String| ConfigError::Job {
        job: label.clone(),
        message,
    };
    let checked = templating::check(&t.tree).map_err(|e| err(e.to_string()))?;
    let json = templating::to_json(&Value::Struct(checked));
    let job: aurora_model::Job = serde_json::from_value(json.clone()).map_err(|e| {
        ConfigError::Internal(format!(
            "job {label}: the schema and the model disagree: {e}"
        ))
    })?;
    let key = job.path().map_err(|e| err(e.to_string()))?;
    validate(&job).map_err(err)?;
    Ok(ResolvedJob {
        key,
        job,
        json,
        unbound: t.unbound,
    })
}

/// What Aurora's client checks beyond types (`AuroraConfig.validate_job`, Thermos' validator).
fn validate(job: &aurora_model::Job) -> Result<(), String> {
    let task = &job.task;
    if task.processes.is_empty() {
        return Err("Job must specify processes: Task.processes is empty".into());
    }
    let mut names = HashSet::new();
    for p in &task.processes {
        if p.name.is_empty() || p.name.starts_with('.') || p.name.contains(['/', '\0']) {
            return Err(format!(
                "Process name '{}' is not a valid file name",
                p.name
            ));
        }
        if !names.insert(p.name.as_str()) {
            return Err(format!(
                "Process name '{}' is used twice in task '{}'",
                p.name, task.name
            ));
        }
    }
    for c in &task.constraints {
        for n in &c.order {
            if !names.contains(n.as_str()) {
                return Err(format!(
                    "order constraint names '{n}', which is not a process of task '{}'",
                    task.name
                ));
            }
        }
    }
    let r = &task.resources;
    if r.cpu <= 0.0 || r.ram / MB <= 0 || r.disk / MB <= 0 {
        return Err(format!(
            "Task has invalid resources: cpu, ram and disk must all be positive (ram and disk at least 1 MB); got cpu={}, ram={} bytes, disk={} bytes",
            r.cpu, r.ram, r.disk
        ));
    }
    if job.instances < 1 {
        return Err(format!(
            "Job.instances must be at least 1, got {}",
            job.instances
        ));
    }
    Ok(())
}
