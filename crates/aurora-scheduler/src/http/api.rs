//! `/api/v1`: roles, jobs, instance pages, tasks with their events, and what lives in a task's
//! sandbox (process reports, logs, files), as JSON. Sandbox reads are forwarded to the agent that
//! ran the task (`http::sandbox`), so that a browser or the CLI only ever needs to reach the
//! scheduler. The web UI (`http::ui`) shows the same views.

use super::auth::Caller;
use super::error::ApiError;
use super::sandbox;
use crate::core::Core;
use crate::state::Refusal;
use crate::views::{self, job_summary, task_view};
use aurora_api::*;
use aurora_auth::Action;
use aurora_model::JobKey;
use axum::Extension;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::sync::Arc;

type Core_ = AxState<Arc<Core>>;

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

fn key(role: &str, env: &str, name: &str) -> Result<JobKey, ApiError> {
    JobKey::new(role, env, name).map_err(|e| ApiError::bad_request(e.to_string()))
}

fn check_cluster(core: &Core, job: &aurora_model::Job) -> Result<(), ApiError> {
    if job.cluster != core.cluster {
        return Err(ApiError::bad_request(format!(
            "job is for cluster '{}' but this scheduler runs cluster '{}'",
            job.cluster, core.cluster
        )));
    }
    Ok(())
}

pub async fn create_job(
    AxState(core): Core_,
    Extension(caller): Extension<Caller>,
    body: Result<Json<CreateJobRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<CreateJobResponse>), ApiError> {
    let Json(req) = body?;
    check_cluster(&core, &req.config)?;
    let job = req
        .config
        .path()
        .map_err(|e| ApiError::bad_request(e.to_string()))?
        .key
        .to_string();
    let audit = caller.begin(&core, Action::Create, Some(&req.config.role), &job)?;
    let task_ids = audit.done(
        core.mutate(move |s, now, ids, dirty| s.create_job(req.config, now, ids, dirty))
            .await
            .map_err(ApiError::from),
    )?;
    Ok((
        StatusCode::CREATED,
        Json(CreateJobResponse { job, task_ids }),
    ))
}

/// A day, the default lifetime of a token.
const TOKEN_TTL_SECS: u64 = 86_400;

/// `aurora auth login` (a token for the caller) and `aurora_admin token issue` (for anyone).
pub async fn issue_token(
    AxState(core): Core_,
    Extension(caller): Extension<Caller>,
    body: Result<Json<IssueTokenRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<TokenIssued>), ApiError> {
    let Json(req) = body?;
    let me = caller.user(&core)?;
    let user = req.user.clone().unwrap_or_else(|| me.clone());
    if caller.user.is_none() && req.user.is_none() {
        return Err(super::auth::denied(aurora_auth::Denied::NotLoggedIn));
    }
    if !aurora_model::job_key::is_good_identifier(&user) {
        return Err(ApiError::bad_request(format!(
            "'{user}' is not a valid user name"
        )));
    }
    // Anyone may have a token for themselves; for others, administrators only.
    let target = format!("token for {user}");
    let audit = if user == me {
        None
    } else {
        Some(caller.begin(&core, Action::ManageTokens, None, &target)?)
    };
    let bind_ip = match req.bind_ip.as_deref() {
        None => Some(caller.addr),
        Some("*") => None,
        Some(ip) => Some(ip.parse().map_err(|_| {
            ApiError::bad_request(format!(
                "bind_ip '{ip}' is not an IP address (or * for any)"
            ))
        })?),
    };
    let ttl = req
        .ttl_secs
        .unwrap_or(TOKEN_TTL_SECS)
        .clamp(60, 366 * 86_400);
    let (token, record) = aurora_auth::mint(&user, core.now_ms(), (ttl * 1000) as i64, bind_ip)
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("no randomness: {e}"),
            )
        })?;
    let issued = TokenIssued {
        token,
        id: record.id.clone(),
        user: user.clone(),
        expires_ms: record.expires_ms,
        bind_ip: record.bind_ip.clone(),
    };
    let r = core
        .mutate(move |s, _, _, dirty| {
            dirty.tokens.insert(record.hash.clone());
            s.tokens.insert(record.hash.clone(), record);
            Ok(())
        })
        .await
        .map_err(ApiError::from);
    match audit {
        Some(a) => a.done(r)?,
        None => {
            let outcome = if r.is_ok() { "ok" } else { "failed" };
            core.audit(
                &me,
                caller.addr,
                Action::ManageTokens.name(),
                &target,
                outcome,
            );
            r?
        }
    }
    Ok((StatusCode::CREATED, Json(issued)))
}

fn token_view(r: &aurora_model::auth::TokenRecord) -> TokenView {
    TokenView {
        id: r.id.clone(),
        user: r.user.clone(),
        issued_ms: r.issued_ms,
        expires_ms: r.expires_ms,
        bind_ip: r.bind_ip.clone(),
        revoked_ms: r.revoked_ms,
    }
}

/// `aurora_admin token list`: every token (administrators), or the caller's own.
pub async fn list_tokens(
    AxState(core): Core_,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Vec<TokenView>>, ApiError> {
    let me = caller.user(&core)?;
    let all = caller.may(&core, Action::ManageTokens, None).is_ok();
    let state = core.read();
    let mut out: Vec<TokenView> = state
        .tokens
        .values()
        .filter(|t| all || t.user == me)
        .map(token_view)
        .collect();
    out.sort_by(|a, b| a.issued_ms.cmp(&b.issued_ms).then_with(|| a.id.cmp(&b.id)));
    Ok(Json(out))
}

/// `aurora_admin token revoke ID`: administrators, or the token's owner.
pub async fn revoke_token(
    AxState(core): Core_,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<TokenView>, ApiError> {
    let me = caller.user(&core)?;
    let owner = core
        .read()
        .tokens
        .values()
        .find(|t| t.id == id)
        .map(|t| t.user.clone())
        .ok_or_else(|| ApiError::not_found(format!("no token {id}")))?;
    let target = format!("revoke token {id} of {owner}");
    let audit = if owner == me && caller.user.is_some() {
        None
    } else {
        Some(caller.begin(&core, Action::ManageTokens, None, &target)?)
    };
    let r = core
        .mutate(move |s, now, _, dirty| {
            let t = s
                .tokens
                .values_mut()
                .find(|t| t.id == id)
                .ok_or_else(|| Refusal::Invalid(format!("no token {id}")))?;
            t.revoked_ms.get_or_insert(now);
            dirty.tokens.insert(t.hash.clone());
            Ok(token_view(t))
        })
        .await
        .map_err(ApiError::from);
    let view = match audit {
        Some(a) => a.done(r)?,
        None => {
            core.audit(
                &me,
                caller.addr,
                Action::ManageTokens.name(),
                &target,
                if r.is_ok() { "ok" } else { "failed" },
            );
            r?
        }
    };
    Ok(Json(view))
}

/// `aurora_admin hosts`.
pub async fn list_hosts(AxState(core): Core_) -> Json<Vec<HostView>> {
    Json(views::hosts(&core.read()))
}

#[derive(Deserialize)]
pub struct HostsQuery {
    #[serde(default)]
    hosts: String,
}

fn host_list(hosts: Vec<String>) -> Result<Vec<String>, ApiError> {
    let hosts: Vec<String> = hosts
        .into_iter()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .collect();
    if hosts.is_empty() {
        return Err(ApiError::bad_request("no hosts given"));
    }
    Ok(hosts)
}

/// `aurora_admin host_maintenance_status`: `?hosts=H1,H2`.
pub async fn maintenance_status(
    AxState(core): Core_,
    Query(q): Query<HostsQuery>,
) -> Result<Json<Vec<MaintenanceView>>, ApiError> {
    let hosts = host_list(q.hosts.split(',').map(str::to_owned).collect())?;
    Ok(Json(views::maintenance(&core.read(), &hosts)))
}

/// `aurora_admin host_drain`.
pub async fn drain_hosts(
    AxState(core): Core_,
    Extension(caller): Extension<Caller>,
    body: Result<Json<HostsRequest>, JsonRejection>,
) -> Result<Json<DrainResponse>, ApiError> {
    let Json(req) = body?;
    let hosts = host_list(req.hosts)?;
    let audit = caller.begin(
        &core,
        Action::Drain,
        None,
        format!("drain {}", hosts.join(",")),
    )?;
    let list = hosts.clone();
    let task_ids = audit.done(
        core.mutate(move |s, now, _, dirty| Ok(s.drain_hosts(&list, now, dirty)))
            .await
            .map_err(ApiError::from),
    )?;
    Ok(Json(DrainResponse {
        hosts: views::maintenance(&core.read(), &hosts),
        task_ids,
    }))
}

/// `aurora_admin host_activate`.
pub async fn activate_hosts(
    AxState(core): Core_,
    Extension(caller): Extension<Caller>,
    body: Result<Json<HostsRequest>, JsonRejection>,
) -> Result<Json<Vec<MaintenanceView>>, ApiError> {
    let Json(req) = body?;
    let hosts = host_list(req.hosts)?;
    let audit = caller.begin(
        &core,
        Action::Drain,
        None,
        format!("activate {}", hosts.join(",")),
    )?;
    let list = hosts.clone();
    audit.done(
        core.mutate(move |s, _, _, dirty| {
            s.activate_hosts(&list, dirty);
            Ok(())
        })
        .await
        .map_err(ApiError::from),
    )?;
    Ok(Json(views::maintenance(&core.read(), &hosts)))
}

/// `aurora cron schedule`: creates or replaces a cron job.
pub async fn schedule_cron(
    AxState(core): Core_,
    Extension(caller): Extension<Caller>,
    body: Result<Json<CreateJobRequest>, JsonRejection>,
) -> Result<Json<CronScheduled>, ApiError> {
    let Json(req) = body?;
    check_cluster(&core, &req.config)?;
    let job = req
        .config
        .path()
        .map_err(|e| ApiError::bad_request(e.to_string()))?
        .key
        .to_string();
    let audit = caller.begin(&core, Action::ScheduleCron, Some(&req.config.role), &job)?;
    let replaced = audit.done(
        core.mutate(move |s, now, _, dirty| s.schedule_cron(req.config, now, dirty))
            .await
            .map_err(ApiError::from),
    )?;
    Ok(Json(CronScheduled { job, replaced }))
}

/// `aurora cron deschedule`.
pub async fn deschedule_cron(
    AxState(core): Core_,
    Extension(caller): Extension<Caller>,
    Path((role, env, name)): Path<(String, String, String)>,
) -> Result<Json<CronDescheduled>, ApiError> {
    let k = key(&role, &env, &name)?;
    let job = k.to_string();
    let audit = caller.begin(&core, Action::DescheduleCron, Some(&role), &job)?;
    let descheduled = audit.done(
        core.mutate(move |s, _, _, dirty| Ok(s.deschedule_cron(&k, dirty)))
            .await
            .map_err(ApiError::from),
    )?;
    let message = if descheduled {
        format!("Cron job {job} descheduled")
    } else {
        format!("Job {job} is not scheduled with cron")
    };
    Ok(Json(CronDescheduled {
        job,
        descheduled,
        message,
    }))
}

/// `aurora cron start`: runs the job now, following its collision policy.
pub async fn start_cron(
    AxState(core): Core_,
    Extension(caller): Extension<Caller>,
    Path((role, env, name)): Path<(String, String, String)>,
) -> Result<Json<CronStarted>, ApiError> {
    use crate::state::CronOutcome;
    let k = key(&role, &env, &name)?;
    let job = k.to_string();
    let audit = caller.begin(&core, Action::StartCron, Some(&role), &job)?;
    let outcome = audit.done(
        core.mutate(move |s, now, ids, dirty| s.start_cron(&k, now, ids, dirty))
            .await
            .map_err(ApiError::from),
    )?;
    let (outcome, task_ids) = match outcome {
        CronOutcome::Started(ids) => ("STARTED", ids),
        CronOutcome::KillingPrevious(ids) => ("KILLING_PREVIOUS", ids),
        CronOutcome::Skipped => ("SKIPPED", Vec::new()),
    };
    Ok(Json(CronStarted {
        job,
        outcome: outcome.to_owned(),
        task_ids,
    }))
}

/// `aurora cron show`.
pub async fn get_cron(
    AxState(core): Core_,
    Path((role, env, name)): Path<(String, String, String)>,
) -> Result<Json<CronView>, ApiError> {
    let k = key(&role, &env, &name)?;
    let now = core.now_ms();
    views::cron_view(&core.read(), &k, now)
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("No cron entry found for job {k}")))
}

#[derive(Deserialize)]
pub struct ListQuery {
    role: Option<String>,
    environment: Option<String>,
}

pub async fn list_jobs(AxState(core): Core_, Query(q): Query<ListQuery>) -> Json<Vec<JobSummary>> {
    let state = core.read();
    Json(views::job_summaries(
        &state,
        q.role.as_deref(),
        q.environment.as_deref(),
    ))
}

pub async fn list_roles(AxState(core): Core_) -> Json<Vec<RoleSummary>> {
    Json(views::role_summaries(&core.read()))
}

#[derive(Deserialize)]
pub struct PageQuery {
    offset: Option<u32>,
    limit: Option<u32>,
}

pub async fn job_instances(
    AxState(core): Core_,
    Path((role, env, name)): Path<(String, String, String)>,
    Query(q): Query<PageQuery>,
) -> Result<Json<InstancePage>, ApiError> {
    let k = key(&role, &env, &name)?;
    let state = core.read();
    views::instance_page(&state, &k, q.offset.unwrap_or(0), q.limit.unwrap_or(100))
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("job {k} does not exist")))
}

pub async fn get_job(
    AxState(core): Core_,
    Path((role, env, name)): Path<(String, String, String)>,
) -> Result<Json<JobDetails>, ApiError> {
    let k = key(&role, &env, &name)?;
    let state = core.read();
    let summary = job_summary(&state, &k)
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
    Extension(caller): Extension<Caller>,
    Path((role, env, name)): Path<(String, String, String)>,
    body: Result<Json<KillRequest>, JsonRejection>,
) -> Result<Json<TasksAffected>, ApiError> {
    let Json(req) = body?;
    let k = key(&role, &env, &name)?;
    let audit = caller.begin(&core, Action::Kill, Some(&role), k.to_string())?;
    let message = req
        .message
        .unwrap_or_else(|| format!("Killed by {}", audit.user));
    let killed = audit.done(
        core.mutate(move |s, now, _, dirty| {
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
    AxState(core): Core_,
    Extension(caller): Extension<Caller>,
    Path((role, env, name)): Path<(String, String, String)>,
    body: Result<Json<AddInstancesRequest>, JsonRejection>,
) -> Result<Json<TasksAffected>, ApiError> {
    let Json(req) = body?;
    let k = key(&role, &env, &name)?;
    let audit = caller.begin(&core, Action::AddInstances, Some(&role), k.to_string())?;
    let added = audit.done(
        core.mutate(move |s, now, ids, dirty| {
            s.refuse_if_updating(&k)?;
            s.add_instances(&k, req.from_instance, req.count, now, ids, dirty)
        })
        .await
        .map_err(ApiError::from),
    )?;
    Ok(Json(affected(added)))
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
    let process = match q.process {
        Some(p) => p,
        None => first_process(&core, &task_id)?,
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
    let url = sandbox::agent_url(&core, &task_id, "logs", &query)?;
    sandbox::forward(&core, url).await
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
    AxState(core): Core_,
    Path(task_id): Path<String>,
) -> Result<Json<Vec<ProcessRecord>>, ApiError> {
    let url = sandbox::agent_url(&core, &task_id, "processes", &[])?;
    sandbox::fetch_json(&core, url).await.map(Json)
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
    AxState(core): Core_,
    Path(task_id): Path<String>,
    Query(q): Query<FileQuery>,
) -> Result<Json<SandboxListing>, ApiError> {
    let path = sandbox::check_path(&q.path)?;
    let url = sandbox::agent_url(&core, &task_id, "files", &[("path", path)])?;
    sandbox::fetch_json(&core, url).await.map(Json)
}

/// A file of the task's sandbox: a chunk from `offset`, its last `tail` lines, or all of it as a
/// download.
pub async fn task_file_content(
    AxState(core): Core_,
    Path(task_id): Path<String>,
    Query(q): Query<FileQuery>,
) -> Result<Response, ApiError> {
    let mut query = vec![("path", sandbox::check_path(&q.path)?)];
    query.extend(q.offset.map(|o| ("offset", o.to_string())));
    query.extend(q.tail.map(|t| ("tail", t.to_string())));
    if q.download {
        query.push(("download", "true".into()));
    }
    let url = sandbox::agent_url(&core, &task_id, "files/content", &query)?;
    sandbox::forward(&core, url).await
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

// --- updates --------------------------------------------------------------------------------------

/// Parses an instance list into the set an update touches.
fn only(instances: Option<Vec<u32>>) -> Option<std::collections::BTreeSet<u32>> {
    instances.map(|v| v.into_iter().collect())
}

fn started(state: &crate::state::State, result: crate::state::Started) -> StartUpdateResponse {
    match result {
        crate::state::Started::Update(id) => StartUpdateResponse {
            update: state
                .updates
                .get(&id)
                .map(|u| views::update_summary(state, u)),
            message: None,
        },
        crate::state::Started::Unchanged => StartUpdateResponse {
            update: None,
            message: Some("Job is unchanged by proposed update.".into()),
        },
    }
}

/// `aurora update start`.
pub async fn start_update(
    AxState(core): Core_,
    Extension(caller): Extension<Caller>,
    Path((role, env, name)): Path<(String, String, String)>,
    body: Result<Json<StartUpdateRequest>, JsonRejection>,
) -> Result<Json<StartUpdateResponse>, ApiError> {
    let Json(req) = body?;
    let k = key(&role, &env, &name)?;
    check_cluster(&core, &req.config)?;
    if req.config.role != k.role
        || req.config.environment != k.environment
        || req.config.name != k.name
    {
        return Err(ApiError::bad_request(format!(
            "the configuration is for job {}/{}/{}, not {k}",
            req.config.role, req.config.environment, req.config.name
        )));
    }
    let audit = caller.begin(&core, Action::Update, Some(&role), k.to_string())?;
    let user = audit.user.clone();
    begin_update(&core, audit, move |_| {
        Ok(crate::state::UpdateRequest {
            config: req.config,
            kind: aurora_model::update::UpdateKind::Update,
            only: only(req.instances),
            user,
            message: req.message,
            metadata: req.metadata,
            settings: None,
        })
    })
    .await
}

/// Starts the update `build` makes from the state (under its lock), audited, and answers with
/// what started.
async fn begin_update(
    core: &Core,
    audit: super::auth::Audited<'_>,
    build: impl FnOnce(&crate::state::State) -> Result<crate::state::UpdateRequest, Refusal>,
) -> Result<Json<StartUpdateResponse>, ApiError> {
    let result = audit.done(
        core.mutate(move |s, now, ids, dirty| {
            let req = build(s)?;
            s.start_update(req, now, ids, dirty)
        })
        .await
        .map_err(ApiError::from),
    )?;
    Ok(Json(started(&core.read(), result)))
}

/// `aurora job restart`: a rolling restart through the update machinery.
pub async fn restart_job(
    AxState(core): Core_,
    Extension(caller): Extension<Caller>,
    Path((role, env, name)): Path<(String, String, String)>,
    body: Result<Json<RestartRequest>, JsonRejection>,
) -> Result<Json<StartUpdateResponse>, ApiError> {
    let Json(req) = body?;
    let k = key(&role, &env, &name)?;
    let audit = caller.begin(&core, Action::Restart, Some(&role), k.to_string())?;
    let user = audit.user.clone();
    begin_update(&core, audit, move |s| {
        let config = s
            .jobs
            .get(&k)
            .map(|j| (*j.config).clone())
            .ok_or_else(|| Refusal::NoSuchJob(k.to_string()))?;
        let mut settings = aurora_model::update::UpdateSettings::from_config(&config.update_config)
            .map_err(|e| Refusal::Invalid(e.to_string()))?;
        if let Some(b) = req.batch_size {
            if b == 0 {
                return Err(Refusal::Invalid("--batch-size must be positive".into()));
            }
            settings.strategy = aurora_model::update::Strategy::Queue { size: b };
        }
        if let Some(w) = req.watch_secs {
            settings.min_wait_in_running_ms = u64::from(w) * 1000;
        }
        if let Some(m) = req.max_per_instance_failures {
            settings.max_per_instance_failures = m;
        }
        if let Some(m) = req.max_total_failures {
            settings.max_failed_instances = m;
        }
        // Nothing to roll back to: a restart keeps each instance's configuration.
        settings.rollback_on_failure = false;
        settings.block_if_no_pulses_after_ms = None;
        Ok(crate::state::UpdateRequest {
            config,
            kind: aurora_model::update::UpdateKind::Restart,
            only: only(req.instances),
            user,
            message: req.message,
            metadata: Default::default(),
            settings: Some(settings),
        })
    })
    .await
}

/// `aurora job diff`: what an update would change.
pub async fn diff_job(
    AxState(core): Core_,
    Path((role, env, name)): Path<(String, String, String)>,
    body: Result<Json<DiffRequest>, JsonRejection>,
) -> Result<Json<DiffResponse>, ApiError> {
    let Json(req) = body?;
    let k = key(&role, &env, &name)?;
    check_cluster(&core, &req.config)?;
    let state = core.read();
    let scope = only(req.instances);
    let d = state.update_diff(&k, &req.config, scope.as_ref());
    let mut groups: std::collections::BTreeMap<String, Vec<u32>> = Default::default();
    for (i, digest) in state.instance_digests(&k) {
        groups.entry(digest).or_default().push(i);
    }
    let current = groups
        .into_iter()
        .filter_map(|(digest, instances)| {
            let config = state.jobs.get(&k)?.configs.get(&digest)?;
            Some(ConfigGroup {
                instances,
                config: config.instance_config(),
            })
        })
        .collect();
    Ok(Json(DiffResponse {
        add: d.add,
        update: d.update,
        remove: d.remove,
        unchanged: d.unchanged,
        current,
        desired: req.config.instance_config(),
    }))
}

/// `aurora update list`.
pub async fn list_updates(
    AxState(core): Core_,
    Query(q): Query<UpdateQuery>,
) -> Json<Vec<UpdateSummary>> {
    let state = core.read();
    let mut list: Vec<&aurora_model::update::JobUpdate> = state
        .updates
        .values()
        .filter(|u| {
            q.role
                .as_deref()
                .is_none_or(|r| r == "*" || r == u.job.role)
                && q.env
                    .as_deref()
                    .is_none_or(|e| e == "*" || e == u.job.environment)
                && q.name
                    .as_deref()
                    .is_none_or(|n| n == "*" || n == u.job.name)
                && q.user.as_deref().is_none_or(|n| n == u.user)
                && q.status
                    .as_deref()
                    .is_none_or(|s| views::update_status_matches(s, u.status))
        })
        .collect();
    list.sort_by_key(|u| std::cmp::Reverse((u.created_ms(), u.id.clone())));
    Json(
        list.into_iter()
            .map(|u| views::update_summary(&state, u))
            .collect(),
    )
}

/// An update by id, or a 404 saying there is none.
fn update_by_id<'a>(
    state: &'a crate::state::State,
    id: &str,
) -> Result<&'a aurora_model::update::JobUpdate, ApiError> {
    state
        .updates
        .get(id)
        .ok_or_else(|| ApiError::not_found(format!("update {id} does not exist")))
}

/// `aurora update info KEY ID`.
pub async fn get_update(
    AxState(core): Core_,
    Path(id): Path<String>,
) -> Result<Json<UpdateDetails>, ApiError> {
    let state = core.read();
    let u = update_by_id(&state, &id)?;
    Ok(Json(views::update_details(&state, u)))
}

/// A job's active update (`aurora update info KEY`).
pub async fn active_update(
    AxState(core): Core_,
    Path((role, env, name)): Path<(String, String, String)>,
) -> Result<Json<UpdateDetails>, ApiError> {
    let k = key(&role, &env, &name)?;
    let state = core.read();
    let u = state
        .active_update(&k)
        .ok_or_else(|| ApiError::not_found("No active update found for this job."))?;
    Ok(Json(views::update_details(&state, u)))
}

/// `aurora update pause|resume|abort|rollback KEY`.
pub async fn control_update(
    AxState(core): Core_,
    Extension(caller): Extension<Caller>,
    Path((role, env, name, verb)): Path<(String, String, String, String)>,
    body: Result<Json<UpdateControlRequest>, JsonRejection>,
) -> Result<Json<UpdateSummary>, ApiError> {
    use crate::state::Control;
    let Json(req) = body?;
    let k = key(&role, &env, &name)?;
    let control = match verb.as_str() {
        "pause" => Control::Pause,
        "resume" => Control::Resume,
        "abort" => Control::Abort,
        "rollback" => Control::Rollback,
        other => {
            return Err(ApiError::not_found(format!(
                "no update action '{other}' (pause, resume, abort, rollback)"
            )));
        }
    };
    let audit = caller.begin(
        &core,
        Action::ControlUpdate,
        Some(&role),
        format!("{k} {verb}"),
    )?;
    let user = audit.user.clone();
    let id = audit.done(
        core.mutate(move |s, now, ids, dirty| {
            s.control_update(&k, control, &user, req.message, now, ids, dirty)
        })
        .await
        .map_err(ApiError::from),
    )?;
    let state = core.read();
    let u = update_by_id(&state, &id)?;
    Ok(Json(views::update_summary(&state, u)))
}

/// A coordinator's pulse.
pub async fn pulse_update(
    AxState(core): Core_,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<PulseResponse>, ApiError> {
    let role = update_by_id(&core.read(), &id)?.job.role.clone();
    let audit = caller.begin(
        &core,
        Action::ControlUpdate,
        Some(&role),
        format!("{id} pulse"),
    )?;
    let status = audit.done(
        core.mutate(move |s, now, ids, dirty| s.pulse_update(&id, now, ids, dirty))
            .await
            .map_err(ApiError::from),
    )?;
    Ok(Json(PulseResponse { status }))
}
