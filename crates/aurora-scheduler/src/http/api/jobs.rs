//! `/api/v1/roles` and `/api/v1/jobs`: listing roles and jobs, creating a job, a job's details and
//! instance pages, killing instances and adding them. Updates, restarts and diffs are in
//! `updates`; cron jobs in `cron`.

use super::{AppState, JobKeyPath, check_cluster, config_key};
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::views::{self, job_summary, task_view};
use aurora_api::*;
use aurora_auth::Action;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;

pub async fn create_job(
    State(app): AppState,
    Extension(caller): Extension<Caller>,
    body: Result<Json<CreateJobRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<CreateJobResponse>), ApiError> {
    let Json(req) = body?;
    check_cluster(&app.core, &req.config)?;
    let job = config_key(&req.config)?;
    let audit = caller.begin(&app, Action::Create, Some(&req.config.role), &job)?;
    let created = match app.check_task_user(&req.config.role).await {
        Err(e) => Err(e),
        Ok(()) => app
            .core
            .mutate(move |s, now, ids, dirty| s.create_job(req.config, now, ids, dirty))
            .await
            .map_err(ApiError::from),
    };
    let task_ids = audit.done(created)?;
    Ok((
        StatusCode::CREATED,
        Json(CreateJobResponse { job, task_ids }),
    ))
}

#[derive(Deserialize)]
pub struct ListQuery {
    role: Option<String>,
    environment: Option<String>,
}

pub async fn list_jobs(State(app): AppState, Query(q): Query<ListQuery>) -> Json<Vec<JobSummary>> {
    let state = app.core.read();
    Json(views::job_summaries(
        &state,
        q.role.as_deref(),
        q.environment.as_deref(),
    ))
}

pub async fn list_roles(State(app): AppState) -> Json<Vec<RoleSummary>> {
    Json(views::role_summaries(&app.core.read()))
}

#[derive(Deserialize)]
pub struct PageQuery {
    offset: Option<u32>,
    limit: Option<u32>,
}

pub async fn job_instances(
    State(app): AppState,
    JobKeyPath(k): JobKeyPath,
    Query(q): Query<PageQuery>,
) -> Result<Json<InstancePage>, ApiError> {
    let state = app.core.read();
    views::instance_page(&state, &k, q.offset.unwrap_or(0), q.limit.unwrap_or(100))
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("job {k} does not exist")))
}

/// A job with its tasks: all of them, or with `?offset=&limit=` one page (a view is built only
/// for the tasks on the page, so a page of a 4,000-instance job costs what a small job does).
pub async fn get_job(
    State(app): AppState,
    JobKeyPath(k): JobKeyPath,
    Query(q): Query<PageQuery>,
) -> Result<Json<JobDetails>, ApiError> {
    let state = app.core.read();
    let summary = job_summary(&state, &k)
        .ok_or_else(|| ApiError::not_found(format!("job {k} does not exist")))?;
    let config = (*state.jobs[&k].config).clone();
    let all = state.active_tasks(&k).into_iter().chain(state.history(&k));
    let (offset, limit) = (
        q.offset.unwrap_or(0) as usize,
        q.limit.map_or(usize::MAX, |l| l as usize),
    );
    let mut tasks_total = 0u32;
    let mut tasks = Vec::new();
    for (i, t) in all.enumerate() {
        tasks_total += 1;
        if i >= offset && tasks.len() < limit {
            tasks.push(task_view(&state, t));
        }
    }
    Ok(Json(JobDetails {
        summary,
        config,
        tasks,
        tasks_total,
    }))
}

pub async fn kill_job(
    State(app): AppState,
    Extension(caller): Extension<Caller>,
    JobKeyPath(k): JobKeyPath,
    body: Result<Json<KillRequest>, JsonRejection>,
) -> Result<Json<TasksAffected>, ApiError> {
    let Json(req) = body?;
    let audit = caller.begin(&app, Action::Kill, Some(&k.role), k.to_string())?;
    let message = req
        .message
        .unwrap_or_else(|| format!("Killed by {}", audit.user));
    let killed = audit.done(
        app.core
            .mutate(move |s, now, _, dirty| {
                s.refuse_if_updating(&k)?;
                s.kill(&k, req.instances.as_deref(), &message, now, dirty)
            })
            .await
            .map_err(ApiError::from),
    )?;
    Ok(Json(affected(killed)))
}

fn affected(list: Vec<(u32, String)>) -> TasksAffected {
    let (instances, task_ids) = list.into_iter().unzip();
    TasksAffected {
        task_ids,
        instances,
    }
}

pub async fn add_instances(
    State(app): AppState,
    Extension(caller): Extension<Caller>,
    JobKeyPath(k): JobKeyPath,
    body: Result<Json<AddInstancesRequest>, JsonRejection>,
) -> Result<Json<TasksAffected>, ApiError> {
    let Json(req) = body?;
    let audit = caller.begin(&app, Action::AddInstances, Some(&k.role), k.to_string())?;
    let added = audit.done(
        app.core
            .mutate(move |s, now, ids, dirty| {
                s.refuse_if_updating(&k)?;
                s.add_instances(&k, req.from_instance, req.count, now, ids, dirty)
            })
            .await
            .map_err(ApiError::from),
    )?;
    Ok(Json(affected(added)))
}
