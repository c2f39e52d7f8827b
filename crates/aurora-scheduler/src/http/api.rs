//! `/api/v1`: jobs, tasks, task events and logs, as JSON. Logs are fetched from the agent that
//! ran the task, so that a browser or the CLI only ever needs to reach the scheduler.

use super::error::ApiError;
use crate::core::Core;
use crate::state::{Refusal, State};
use aurora_api::*;
use aurora_model::JobKey;
use aurora_model::task::{ScheduleStatus, ScheduledTask};
use axum::Json;
use axum::body::Body;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State as AxState};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

type Core_ = AxState<Arc<Core>>;

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::JobExists(_) => ApiError::conflict(r.to_string()),
            Refusal::NoSuchJob(_) => ApiError::not_found(r.to_string()),
            Refusal::Invalid(_) => ApiError::bad_request(r.to_string()),
        }
    }
}

fn key(role: &str, env: &str, name: &str) -> Result<JobKey, ApiError> {
    JobKey::new(role, env, name).map_err(|e| ApiError::bad_request(e.to_string()))
}

/// The API's view of a task.
pub fn task_view(state: &State, t: &ScheduledTask) -> TaskView {
    TaskView {
        task_id: t.task_id.clone(),
        job: t.job.to_string(),
        instance: t.instance,
        status: t.status.name().to_owned(),
        host: t.host.clone(),
        agent_id: t.agent_id.clone(),
        pending_reason: if t.status == ScheduleStatus::Pending {
            state.pending_reasons.get(&t.task_id).cloned()
        } else {
            None
        },
        ports: t.ports.iter().cloned().collect(),
        failure_count: t.failure_count,
        ancestor_id: t.ancestor_id.clone(),
        events: t
            .events
            .iter()
            .map(|e| TaskEventView {
                timestamp_ms: e.timestamp_ms,
                status: e.status.name().to_owned(),
                message: e.message.clone(),
            })
            .collect(),
    }
}

fn summary(state: &State, key: &JobKey) -> Option<JobSummary> {
    let entry = state.jobs.get(key)?;
    let mut task_counts = BTreeMap::new();
    for t in state.active_tasks(key) {
        *task_counts.entry(t.status.name().to_owned()).or_insert(0) += 1;
    }
    Some(JobSummary {
        role: key.role.clone(),
        environment: key.environment.clone(),
        name: key.name.clone(),
        service: entry.config.service,
        instances: entry.instances.len() as u32,
        cron_schedule: entry.config.cron_schedule.clone(),
        task_counts,
    })
}

pub async fn create_job(
    AxState(core): Core_,
    body: Result<Json<CreateJobRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<CreateJobResponse>), ApiError> {
    let Json(req) = body?;
    if req.config.cluster != core.cluster {
        return Err(ApiError::bad_request(format!(
            "job is for cluster '{}' but this scheduler runs cluster '{}'",
            req.config.cluster, core.cluster
        )));
    }
    let job = req
        .config
        .path()
        .map_err(|e| ApiError::bad_request(e.to_string()))?
        .key
        .to_string();
    let task_ids = core
        .mutate(move |s, now, ids, dirty| s.create_job(req.config, now, ids, dirty))
        .await?;
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

pub async fn list_jobs(AxState(core): Core_, Query(q): Query<ListQuery>) -> Json<Vec<JobSummary>> {
    let state = core.read();
    let mut keys: Vec<&JobKey> = state
        .jobs
        .keys()
        .filter(|k| {
            q.role.as_ref().is_none_or(|r| *r == k.role)
                && q.environment.as_ref().is_none_or(|e| *e == k.environment)
        })
        .collect();
    keys.sort();
    Json(
        keys.into_iter()
            .filter_map(|k| summary(&state, k))
            .collect(),
    )
}

pub async fn get_job(
    AxState(core): Core_,
    Path((role, env, name)): Path<(String, String, String)>,
) -> Result<Json<JobDetails>, ApiError> {
    let k = key(&role, &env, &name)?;
    let state = core.read();
    let summary = summary(&state, &k)
        .ok_or_else(|| ApiError::not_found(format!("job {k} does not exist")))?;
    let config = (*state.jobs[&k].config).clone();
    let tasks = state
        .active_tasks(&k)
        .into_iter()
        .chain(state.history(&k))
        .map(|t| task_view(&state, t))
        .collect();
    Ok(Json(JobDetails {
        summary,
        config,
        tasks,
    }))
}

pub async fn kill_job(
    AxState(core): Core_,
    Path((role, env, name)): Path<(String, String, String)>,
    body: Result<Json<KillRequest>, JsonRejection>,
) -> Result<Json<TasksAffected>, ApiError> {
    let Json(req) = body?;
    let k = key(&role, &env, &name)?;
    let message = req
        .message
        .unwrap_or_else(|| "Killed by user request".into());
    let killed = core
        .mutate(move |s, now, _, dirty| s.kill(&k, req.instances.as_deref(), &message, now, dirty))
        .await?;
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
    AxState(core): Core_,
    Path((role, env, name)): Path<(String, String, String)>,
    body: Result<Json<AddInstancesRequest>, JsonRejection>,
) -> Result<Json<TasksAffected>, ApiError> {
    let Json(req) = body?;
    let k = key(&role, &env, &name)?;
    let added = core
        .mutate(move |s, now, ids, dirty| {
            s.add_instances(&k, req.from_instance, req.count, now, ids, dirty)
        })
        .await?;
    Ok(Json(affected(added)))
}

pub async fn restart_job(
    AxState(core): Core_,
    Path((role, env, name)): Path<(String, String, String)>,
    body: Result<Json<RestartRequest>, JsonRejection>,
) -> Result<Json<TasksAffected>, ApiError> {
    let Json(req) = body?;
    let k = key(&role, &env, &name)?;
    let restarted = core
        .mutate(move |s, now, _, dirty| s.restart(&k, req.instances.as_deref(), now, dirty))
        .await?;
    Ok(Json(affected(restarted)))
}

pub async fn get_task(
    AxState(core): Core_,
    Path(task_id): Path<String>,
) -> Result<Json<TaskView>, ApiError> {
    let state = core.read();
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
    AxState(core): Core_,
    Path(task_id): Path<String>,
    Query(q): Query<LogQuery>,
) -> Result<Response, ApiError> {
    let (endpoint, process) = {
        let state = core.read();
        let t = state
            .tasks
            .get(&task_id)
            .ok_or_else(|| ApiError::not_found(format!("task {task_id} does not exist")))?;
        let agent = t.agent_id.as_ref().ok_or_else(|| {
            ApiError::not_found(format!(
                "task {task_id} has not been placed on an agent yet"
            ))
        })?;
        let endpoint = state
            .agents
            .get(agent)
            .map(|a| a.endpoint.clone())
            .ok_or_else(|| ApiError::unavailable(format!("agent {agent} is not connected")))?;
        let process = match q.process {
            Some(p) => p,
            None => state
                .jobs
                .get(&t.job)
                .and_then(|j| j.config.task.processes.first().map(|p| p.name.clone()))
                .ok_or_else(|| ApiError::not_found("the task has no processes"))?,
        };
        (endpoint, process)
    };
    let stream = q.stream.unwrap_or_else(|| "stdout".into());
    if stream != "stdout" && stream != "stderr" {
        return Err(ApiError::bad_request(format!(
            "stream must be stdout or stderr, got '{stream}'"
        )));
    }
    let mut url = reqwest::Url::parse(&format!("{endpoint}/tasks/{task_id}/logs"))
        .map_err(|e| ApiError::bad_gateway(e.to_string()))?;
    {
        let mut qp = url.query_pairs_mut();
        qp.append_pair("process", &process)
            .append_pair("stream", &stream);
        if let Some(r) = q.run {
            qp.append_pair("run", &r.to_string());
        }
        if let Some(o) = q.offset {
            qp.append_pair("offset", &o.to_string());
        }
        if let Some(t) = q.tail {
            qp.append_pair("tail", &t.to_string());
        }
    }
    let resp = reqwest::get(url)
        .await
        .map_err(|e| ApiError::bad_gateway(format!("cannot reach the task's agent: {e}")))?;
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut headers = HeaderMap::new();
    for name in ["x-log-offset", "content-type"] {
        if let Some(v) = resp
            .headers()
            .get(name)
            .and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok())
        {
            headers.insert(name, v);
        }
    }
    Ok((status, headers, Body::from_stream(resp.bytes_stream())).into_response())
}

/// Prometheus text: jobs, tasks by state, agents.
pub async fn metrics(AxState(core): Core_) -> impl IntoResponse {
    use prometheus_client::encoding::text::encode;
    use prometheus_client::metrics::family::Family;
    use prometheus_client::metrics::gauge::Gauge;
    use prometheus_client::registry::Registry;
    let mut registry = Registry::default();
    let jobs: Gauge = Gauge::default();
    let agents: Gauge = Gauge::default();
    let tasks: Family<Vec<(String, String)>, Gauge> = Family::default();
    {
        let state = core.read();
        jobs.set(state.jobs.len() as i64);
        agents.set(state.agents.values().filter(|a| a.connected).count() as i64);
        for t in state.tasks.values() {
            tasks
                .get_or_create(&vec![("status".to_owned(), t.status.name().to_owned())])
                .inc();
        }
    }
    registry.register("aurora_jobs", "Jobs known to the scheduler", jobs);
    registry.register(
        "aurora_agents_connected",
        "Agents with a live command stream",
        agents,
    );
    registry.register(
        "aurora_tasks",
        "Tasks kept by the scheduler, by state",
        tasks,
    );
    let mut out = String::new();
    let _ = encode(&mut out, &registry);
    ([("content-type", "text/plain; version=0.0.4")], out)
}
