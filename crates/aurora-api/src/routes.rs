//! Every path the scheduler serves under `/api/v1` (users) and `/agent/v1` (agents), written once:
//! each as the pattern the scheduler's router registers (axum's form,
//! `/api/v1/jobs/{role}/{env}/{name}/kill`), and, for each pattern with parameters, a function
//! that builds the concrete path a client sends (`job_kill(&key)`).
//!
//! Builders fill their pattern's `{...}` segments in order, so a builder cannot drift from its
//! route. Values are inserted as they are: job keys, task and agent ids are validated where they
//! are made and hold no `/`, `?` or `#`. Query strings are the caller's.

use crate::UpdateAction;
use aurora_model::JobKey;

/// A path under the API's prefix, as a `&'static str`.
macro_rules! api {
    ($path:literal) => {
        concat!("/api/v1", $path)
    };
}

/// A path under the agent protocol's prefix, as a `&'static str`.
macro_rules! agent {
    ($path:literal) => {
        concat!("/agent/v1", $path)
    };
}

/// The API version in every user-facing path.
pub const API_PREFIX: &str = api!("");
/// The agent protocol's prefix.
pub const AGENT_PREFIX: &str = agent!("");

// --- patterns: the user API -----------------------------------------------------------------------

/// The OpenAPI document of the API.
pub const OPENAPI: &str = api!("/openapi.json");
pub const ROLES: &str = api!("/roles");
pub const JOBS: &str = api!("/jobs");
pub const JOB: &str = api!("/jobs/{role}/{env}/{name}");
pub const JOB_INSTANCES: &str = api!("/jobs/{role}/{env}/{name}/instances");
pub const JOB_KILL: &str = api!("/jobs/{role}/{env}/{name}/kill");
pub const JOB_RESTART: &str = api!("/jobs/{role}/{env}/{name}/restart");
/// A job's active update (`GET`), or a new one (`POST`).
pub const JOB_UPDATE: &str = api!("/jobs/{role}/{env}/{name}/update");
/// `{verb}` is an [`UpdateAction`].
pub const JOB_UPDATE_CONTROL: &str = api!("/jobs/{role}/{env}/{name}/update/{verb}");
pub const JOB_DIFF: &str = api!("/jobs/{role}/{env}/{name}/diff");
pub const UPDATES: &str = api!("/updates");
pub const UPDATE: &str = api!("/updates/{id}");
pub const UPDATE_PULSE: &str = api!("/updates/{id}/pulse");
pub const CRON: &str = api!("/cron");
pub const CRON_JOB: &str = api!("/cron/{role}/{env}/{name}");
pub const CRON_START: &str = api!("/cron/{role}/{env}/{name}/start");
pub const HOSTS: &str = api!("/hosts");
pub const MAINTENANCE: &str = api!("/maintenance");
pub const MAINTENANCE_DRAIN: &str = api!("/maintenance/drain");
pub const MAINTENANCE_ACTIVATE: &str = api!("/maintenance/activate");
/// The scheduler's backups (`GET`), or one more now (`POST`).
pub const BACKUPS: &str = api!("/backups");
/// A staged recovery: stage a backup (`POST`), unload it (`DELETE`).
pub const RECOVERY: &str = api!("/recovery");
pub const RECOVERY_TASKS: &str = api!("/recovery/tasks");
pub const RECOVERY_TASKS_DELETE: &str = api!("/recovery/tasks/delete");
pub const RECOVERY_COMMIT: &str = api!("/recovery/commit");
/// A snapshot of the state now (into etcd with several schedulers).
pub const SNAPSHOT: &str = api!("/snapshot");
pub const TOKENS: &str = api!("/tokens");
pub const TOKEN: &str = api!("/tokens/{id}");
pub const TASK: &str = api!("/tasks/{task_id}");
pub const TASK_LOGS: &str = api!("/tasks/{task_id}/logs");
pub const TASK_PROCESSES: &str = api!("/tasks/{task_id}/processes");
pub const TASK_FILES: &str = api!("/tasks/{task_id}/files");
pub const TASK_FILE_CONTENT: &str = api!("/tasks/{task_id}/files/content");

// --- patterns: the agent protocol -----------------------------------------------------------------

pub const AGENT_REGISTER: &str = agent!("/register");
/// The NDJSON command stream.
pub const AGENT_COMMANDS: &str = agent!("/{agent_id}/commands");
/// Status batches (an empty one is a heartbeat).
pub const AGENT_STATUS: &str = agent!("/{agent_id}/status");

// --- builders -------------------------------------------------------------------------------------

/// `pattern` with its `{...}` segments replaced by `values`, in order.
fn fill(pattern: &str, values: &[&str]) -> String {
    let mut out =
        String::with_capacity(pattern.len() + values.iter().map(|v| v.len()).sum::<usize>());
    let mut values = values.iter();
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c + 1);
        match values.next() {
            Some(v) => out.push_str(v),
            None => out.push_str(&rest[open..close]),
        }
        rest = &rest[close..];
    }
    out.push_str(rest);
    debug_assert!(
        values.next().is_none(),
        "more values than {pattern} has parameters"
    );
    out
}

fn with_key(pattern: &str, key: &JobKey) -> String {
    fill(pattern, &[&key.role, &key.environment, &key.name])
}

/// `/api/v1/jobs/ROLE/ENV/NAME`.
pub fn job(key: &JobKey) -> String {
    with_key(JOB, key)
}

pub fn job_instances(key: &JobKey) -> String {
    with_key(JOB_INSTANCES, key)
}

pub fn job_kill(key: &JobKey) -> String {
    with_key(JOB_KILL, key)
}

pub fn job_restart(key: &JobKey) -> String {
    with_key(JOB_RESTART, key)
}

pub fn job_update(key: &JobKey) -> String {
    with_key(JOB_UPDATE, key)
}

/// `/api/v1/jobs/ROLE/ENV/NAME/update/pause` (or `resume`, `abort`, `rollback`).
pub fn job_update_control(key: &JobKey, action: UpdateAction) -> String {
    fill(
        JOB_UPDATE_CONTROL,
        &[&key.role, &key.environment, &key.name, action.name()],
    )
}

pub fn job_diff(key: &JobKey) -> String {
    with_key(JOB_DIFF, key)
}

pub fn update(id: &str) -> String {
    fill(UPDATE, &[id])
}

pub fn update_pulse(id: &str) -> String {
    fill(UPDATE_PULSE, &[id])
}

/// `/api/v1/cron/ROLE/ENV/NAME`.
pub fn cron_job(key: &JobKey) -> String {
    with_key(CRON_JOB, key)
}

pub fn cron_start(key: &JobKey) -> String {
    with_key(CRON_START, key)
}

pub fn token(id: &str) -> String {
    fill(TOKEN, &[id])
}

pub fn task(task_id: &str) -> String {
    fill(TASK, &[task_id])
}

pub fn task_logs(task_id: &str) -> String {
    fill(TASK_LOGS, &[task_id])
}

pub fn task_processes(task_id: &str) -> String {
    fill(TASK_PROCESSES, &[task_id])
}

pub fn task_files(task_id: &str) -> String {
    fill(TASK_FILES, &[task_id])
}

pub fn task_file_content(task_id: &str) -> String {
    fill(TASK_FILE_CONTENT, &[task_id])
}

pub fn agent_commands(agent_id: &str) -> String {
    fill(AGENT_COMMANDS, &[agent_id])
}

pub fn agent_status(agent_id: &str) -> String {
    fill(AGENT_STATUS, &[agent_id])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Does `path` match `pattern`, each `{...}` standing for one non-empty segment?
    fn matches(pattern: &str, path: &str) -> bool {
        let (p, s): (Vec<&str>, Vec<&str>) =
            (pattern.split('/').collect(), path.split('/').collect());
        p.len() == s.len()
            && p.iter().zip(&s).all(|(p, s)| {
                if p.starts_with('{') && p.ends_with('}') {
                    !s.is_empty() && !s.contains(['{', '}'])
                } else {
                    p == s
                }
            })
    }

    #[test]
    fn builders_make_paths_their_patterns_match() {
        let key = JobKey::new("www-data", "prod", "hello").unwrap();
        let built = [
            (JOB, job(&key)),
            (JOB_INSTANCES, job_instances(&key)),
            (JOB_KILL, job_kill(&key)),
            (JOB_RESTART, job_restart(&key)),
            (JOB_UPDATE, job_update(&key)),
            (
                JOB_UPDATE_CONTROL,
                job_update_control(&key, UpdateAction::Rollback),
            ),
            (JOB_DIFF, job_diff(&key)),
            (UPDATE, update("u-1")),
            (UPDATE_PULSE, update_pulse("u-1")),
            (CRON_JOB, cron_job(&key)),
            (CRON_START, cron_start(&key)),
            (TOKEN, token("t-1")),
            (TASK, task("t")),
            (TASK_LOGS, task_logs("t")),
            (TASK_PROCESSES, task_processes("t")),
            (TASK_FILES, task_files("t")),
            (TASK_FILE_CONTENT, task_file_content("t")),
            (AGENT_COMMANDS, agent_commands("a1")),
            (AGENT_STATUS, agent_status("a1")),
        ];
        for (pattern, path) in &built {
            assert!(matches(pattern, path), "{path} does not match {pattern}");
            assert!(!path.contains(['{', '}']), "{path} kept a parameter");
        }
        // Each builder its own pattern: no two build the same path.
        for (i, (p, a)) in built.iter().enumerate() {
            for (q, b) in &built[i + 1..] {
                assert!(!matches(q, a) || p == q, "{a} also matches {q}");
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn paths_are_today_s() {
        let key = JobKey::new("www-data", "prod", "hello").unwrap();
        assert_eq!(job_kill(&key), "/api/v1/jobs/www-data/prod/hello/kill");
        assert_eq!(
            job_update_control(&key, UpdateAction::Pause),
            "/api/v1/jobs/www-data/prod/hello/update/pause"
        );
        assert_eq!(cron_job(&key), "/api/v1/cron/www-data/prod/hello");
        assert_eq!(task_file_content("t-0"), "/api/v1/tasks/t-0/files/content");
        assert_eq!(agent_status("a1"), "/agent/v1/a1/status");
        assert_eq!((API_PREFIX, AGENT_PREFIX), ("/api/v1", "/agent/v1"));
        assert_eq!(AGENT_REGISTER, "/agent/v1/register");
    }

    #[test]
    fn update_actions_parse_from_their_segment_only() {
        for a in UpdateAction::ALL {
            assert_eq!(a.name().parse::<UpdateAction>(), Ok(a));
            assert_eq!(
                serde_json::to_value(a).unwrap(),
                serde_json::Value::String(a.name().into())
            );
        }
        let e = "Pause".parse::<UpdateAction>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "no update action 'Pause' (pause, resume, abort, rollback)"
        );
    }
}
