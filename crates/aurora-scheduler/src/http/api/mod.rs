//! `/api/v1`: roles, jobs, instance pages, updates, cron, hosts, tokens, tasks with their events,
//! and what lives in a task's sandbox (process reports, logs, files), as JSON; one file per
//! resource. Sandbox reads are forwarded to the agent that ran the task (`http::sandbox`), so that
//! a browser or the CLI only ever needs to reach the scheduler. The web UI (`http::ui`) shows the
//! same views.
//!
//! Here: what every resource shares (the [`JobKeyPath`] extractor, the cluster check, how a
//! [`Refusal`] becomes a status). Not here: the route table (`http::mod`), page rendering
//! (`http::ui`), what a view contains (`views`).

mod cron;
mod hosts;
mod jobs;
mod metrics;
mod storage;
mod tasks;
mod tokens;
mod updates;

pub use cron::{deschedule_cron, get_cron, schedule_cron, start_cron};
pub use hosts::{HostsQuery, activate_hosts, drain_hosts, list_hosts, maintenance_status};
pub use jobs::{
    ListQuery, PageQuery, add_instances, create_job, get_job, job_instances, kill_job, list_jobs,
    list_roles,
};
pub use metrics::metrics;
pub use storage::{
    backup_now, commit_recovery, delete_recovery_tasks, list_backups, recovery_tasks, snapshot,
    stage_recovery, unload_recovery,
};
pub use tasks::{
    FileQuery, LogQuery, get_task, task_file_content, task_files, task_logs, task_processes,
};
pub use tokens::{issue_token, list_tokens, revoke_token};
pub use updates::{
    active_update, control_update, diff_job, get_update, list_updates, pulse_update, restart_job,
    start_update,
};

use super::app::App;
use super::error::ApiError;
use crate::core::Core;
use crate::state::Refusal;
use aurora_model::JobKey;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use serde::Deserialize;
use std::sync::Arc;

/// The state every API handler takes.
type AppState = State<Arc<App>>;

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::JobExists(_) => ApiError::conflict(r.to_string()),
            Refusal::NoSuchJob(_) => ApiError::not_found(r.to_string()),
            Refusal::Invalid(_) => ApiError::bad_request(r.to_string()),
            Refusal::Updating(_) => ApiError::conflict(r.to_string()),
            Refusal::NoSuchUpdate(_) => ApiError::not_found(r.to_string()),
        }
    }
}

/// The job a route's `{role}/{env}/{name}` names, validated: a bad key is a 400 saying why.
/// Pages take `Result<JobKeyPath, ApiError>` to show the refusal as a page.
#[derive(Debug, Clone)]
pub struct JobKeyPath(pub JobKey);

#[derive(Deserialize)]
struct KeyParams {
    role: String,
    env: String,
    name: String,
}

impl<S: Send + Sync> FromRequestParts<S> for JobKeyPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(p) = Path::<KeyParams>::from_request_parts(parts, state)
            .await
            .map_err(|r| ApiError::new(r.status(), r.body_text()))?;
        JobKey::new(&p.role, &p.env, &p.name)
            .map(JobKeyPath)
            .map_err(|e| ApiError::bad_request(e.to_string()))
    }
}

/// Refuses a job configuration for another cluster.
fn check_cluster(core: &Core, job: &aurora_model::Job) -> Result<(), ApiError> {
    if job.cluster != core.cluster {
        return Err(ApiError::bad_request(format!(
            "job is for cluster '{}' but this scheduler runs cluster '{}'",
            job.cluster, core.cluster
        )));
    }
    Ok(())
}

/// The job key a configuration names, as text (`role/env/name`), or a 400.
fn config_key(job: &aurora_model::Job) -> Result<String, ApiError> {
    Ok(job
        .path()
        .map_err(|e| ApiError::bad_request(e.to_string()))?
        .key
        .to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use axum::response::IntoResponse;

    #[tokio::test]
    async fn a_job_key_path_is_validated_with_the_same_400_as_before() {
        let router = axum::Router::new().route(
            "/jobs/{role}/{env}/{name}/update/{verb}",
            axum::routing::get(|JobKeyPath(k): JobKeyPath| async move { k.to_string() }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let addr = listener.local_addr().expect("bound");
        let server = tokio::spawn(async move { axum::serve(listener, router).await });
        let get = |path: &'static str| async move {
            reqwest::get(format!("http://{addr}{path}"))
                .await
                .expect("answered")
        };
        let ok = get("/jobs/www-data/prod/hello/update/pause").await;
        assert_eq!(ok.status().as_u16(), 200);
        assert_eq!(ok.text().await.expect("a body"), "www-data/prod/hello");
        let bad = get("/jobs/www-data/prod/he%20llo/update/pause").await;
        assert_eq!(bad.status().as_u16(), 400);
        let body: aurora_api::ErrorBody = bad.json().await.expect("a JSON error");
        let expected = JobKey::new("www-data", "prod", "he llo").expect_err("a space");
        let expected = ApiError::bad_request(expected.to_string());
        assert_eq!(body.error, expected.message);
        assert_eq!(expected.into_response().status(), StatusCode::BAD_REQUEST);
        server.abort();
    }
}
