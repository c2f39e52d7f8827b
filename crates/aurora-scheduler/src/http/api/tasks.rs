//! `/api/v1/tasks/{task_id}`: a task with its events, and what lives in its sandbox (process
//! reports, logs, folders, file contents), forwarded from the agent that ran it
//! (`http::sandbox`).

use super::AppState;
use crate::core::Core;
use crate::http::error::ApiError;
use crate::http::sandbox;
use crate::views::task_view;
use aurora_api::*;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;

pub async fn get_task(
    State(app): AppState,
    Path(task_id): Path<String>,
) -> Result<Json<TaskView>, ApiError> {
    let state = app.core.read();
    let t = state
        .tasks
        .get(&task_id)
        .ok_or_else(|| ApiError::not_found(format!("task {task_id} does not exist")))?;
    Ok(Json(task_view(&state, t)))
}

#[derive(Deserialize)]
pub struct LogQuery {
    process: Option<String>,
    stream: Option<String>,
    run: Option<u32>,
    offset: Option<u64>,
    tail: Option<u32>,
}

/// Fetches a process's log from the agent that ran the task and streams it back.
pub async fn task_logs(
    State(app): AppState,
    Path(task_id): Path<String>,
    Query(q): Query<LogQuery>,
) -> Result<Response, ApiError> {
    let process = match q.process {
        Some(p) => p,
        None => first_process(&app.core, &task_id)?,
    };
    let stream = q.stream.unwrap_or_else(|| "stdout".into());
    if stream != "stdout" && stream != "stderr" {
        return Err(ApiError::bad_request(format!(
            "stream must be stdout or stderr, got '{stream}'"
        )));
    }
    let mut query = vec![("process", process), ("stream", stream)];
    query.extend(q.run.map(|r| ("run", r.to_string())));
    query.extend(q.offset.map(|o| ("offset", o.to_string())));
    query.extend(q.tail.map(|t| ("tail", t.to_string())));
    let url = sandbox::agent_url(&app.core, &task_id, "logs", &query)?;
    sandbox::forward(&app, url).await
}

/// The first process of a task's configuration: the log shown when none is named.
fn first_process(core: &Core, task_id: &str) -> Result<String, ApiError> {
    let state = core.read();
    let t = state
        .tasks
        .get(task_id)
        .ok_or_else(|| ApiError::not_found(format!("task {task_id} does not exist")))?;
    state
        .jobs
        .get(&t.job)
        .and_then(|j| j.config.task.processes.first().map(|p| p.name.clone()))
        .ok_or_else(|| ApiError::not_found("the task has no processes"))
}

/// The task's processes, as its executor last recorded them on the agent.
pub async fn task_processes(
    State(app): AppState,
    Path(task_id): Path<String>,
) -> Result<Json<Vec<ProcessRecord>>, ApiError> {
    let url = sandbox::agent_url(&app.core, &task_id, "processes", &[])?;
    sandbox::fetch_json(&app, url).await.map(Json)
}

#[derive(Deserialize)]
pub struct FileQuery {
    #[serde(default)]
    path: String,
    offset: Option<u64>,
    tail: Option<u32>,
    #[serde(default)]
    download: bool,
}

/// A folder of the task's sandbox.
pub async fn task_files(
    State(app): AppState,
    Path(task_id): Path<String>,
    Query(q): Query<FileQuery>,
) -> Result<Json<SandboxListing>, ApiError> {
    let path = sandbox::check_path(&q.path)?;
    let url = sandbox::agent_url(&app.core, &task_id, "files", &[("path", path)])?;
    sandbox::fetch_json(&app, url).await.map(Json)
}

/// A file of the task's sandbox: a chunk from `offset`, its last `tail` lines, or all of it as a
/// download.
pub async fn task_file_content(
    State(app): AppState,
    Path(task_id): Path<String>,
    Query(q): Query<FileQuery>,
) -> Result<Response, ApiError> {
    let mut query = vec![("path", sandbox::check_path(&q.path)?)];
    query.extend(q.offset.map(|o| ("offset", o.to_string())));
    query.extend(q.tail.map(|t| ("tail", t.to_string())));
    if q.download {
        query.push(("download", "true".into()));
    }
    let url = sandbox::agent_url(&app.core, &task_id, "files/content", &query)?;
    sandbox::forward(&app, url).await
}
