//! `/api/v1/updates` and a job's `update`, `restart` and `diff`: starting rolling updates and
//! restarts, listing and showing updates, controlling them (pause, resume, abort, rollback,
//! pulse), and what an update would change. How an update proceeds lives in `state::update`.

use super::{AppState, JobKeyPath, check_cluster};
use crate::http::auth::{Audited, Caller};
use crate::http::error::ApiError;
use crate::state::{Control, Refusal, Started, State as SchedState, UpdateRequest};
use crate::views;
use aurora_api::*;
use aurora_auth::Action;
use aurora_model::update::{JobUpdate, Strategy, UpdateKind, UpdateSettings};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

/// Parses an instance list into the set an update touches.
fn only(instances: Option<Vec<u32>>) -> Option<BTreeSet<u32>> {
    instances.map(|v| v.into_iter().collect())
}

fn started(state: &SchedState, result: Started) -> StartUpdateResponse {
    match result {
        Started::Update(id) => StartUpdateResponse {
            update: state
                .updates
                .get(&id)
                .map(|u| views::update_summary(state, u)),
            message: None,
        },
        Started::Unchanged => StartUpdateResponse {
            update: None,
            message: Some("Job is unchanged by proposed update.".into()),
        },
    }
}

/// `aurora update start`.
pub async fn start_update(
    State(app): AppState,
    Extension(caller): Extension<Caller>,
    JobKeyPath(k): JobKeyPath,
    body: Result<Json<StartUpdateRequest>, JsonRejection>,
) -> Result<Json<StartUpdateResponse>, ApiError> {
    let Json(req) = body?;
    check_cluster(&app.core, &req.config)?;
    if req.config.role != k.role
        || req.config.environment != k.environment
        || req.config.name != k.name
    {
        return Err(ApiError::bad_request(format!(
            "the configuration is for job {}/{}/{}, not {k}",
            req.config.role, req.config.environment, req.config.name
        )));
    }
    let audit = caller.begin(&app, Action::Update, Some(&k.role), k.to_string())?;
    if let Err(e) = app.check_task_user(&k.role).await {
        return audit.done(Err(e));
    }
    let user = audit.user.clone();
    begin_update(&app.core, audit, move |_| {
        Ok(UpdateRequest {
            config: req.config,
            kind: UpdateKind::Update,
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
    core: &crate::core::Core,
    audit: Audited<'_>,
    build: impl FnOnce(&SchedState) -> Result<UpdateRequest, Refusal>,
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
    State(app): AppState,
    Extension(caller): Extension<Caller>,
    JobKeyPath(k): JobKeyPath,
    body: Result<Json<RestartRequest>, JsonRejection>,
) -> Result<Json<StartUpdateResponse>, ApiError> {
    let Json(req) = body?;
    let audit = caller.begin(&app, Action::Restart, Some(&k.role), k.to_string())?;
    let user = audit.user.clone();
    begin_update(&app.core, audit, move |s| {
        let config = s
            .jobs
            .get(&k)
            .map(|j| (*j.config).clone())
            .ok_or_else(|| Refusal::NoSuchJob(k.to_string()))?;
        let settings = restart_settings(&config, &req)?;
        Ok(UpdateRequest {
            config,
            kind: UpdateKind::Restart,
            only: only(req.instances),
            user,
            message: req.message,
            metadata: Default::default(),
            settings: Some(settings),
        })
    })
    .await
}

/// A restart's settings: the job's update settings, with what the request overrides.
fn restart_settings(
    config: &aurora_model::Job,
    req: &RestartRequest,
) -> Result<UpdateSettings, Refusal> {
    let mut settings = UpdateSettings::from_config(&config.update_config)
        .map_err(|e| Refusal::Invalid(e.to_string()))?;
    if let Some(b) = req.batch_size {
        if b == 0 {
            return Err(Refusal::Invalid("--batch-size must be positive".into()));
        }
        settings.strategy = Strategy::Queue { size: b };
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
    Ok(settings)
}

/// `aurora job diff`: what an update would change.
pub async fn diff_job(
    State(app): AppState,
    JobKeyPath(k): JobKeyPath,
    body: Result<Json<DiffRequest>, JsonRejection>,
) -> Result<Json<DiffResponse>, ApiError> {
    let Json(req) = body?;
    check_cluster(&app.core, &req.config)?;
    let state = app.core.read();
    let scope = only(req.instances);
    let d = state.update_diff(&k, &req.config, scope.as_ref());
    let mut groups: BTreeMap<String, Vec<u32>> = Default::default();
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

/// Does `u` pass the list's filters (`*` matches any role, environment or name)?
fn listed(q: &UpdateQuery, u: &JobUpdate) -> bool {
    let any_or = |want: Option<&str>, have: &str| want.is_none_or(|w| w == "*" || w == have);
    any_or(q.role.as_deref(), &u.job.role)
        && any_or(q.env.as_deref(), &u.job.environment)
        && any_or(q.name.as_deref(), &u.job.name)
        && q.user.as_deref().is_none_or(|n| n == u.user)
        && q.status
            .as_deref()
            .is_none_or(|s| views::update_status_matches(s, u.status))
}

/// `aurora update list`.
pub async fn list_updates(
    State(app): AppState,
    Query(q): Query<UpdateQuery>,
) -> Json<Vec<UpdateSummary>> {
    let state = app.core.read();
    let mut list: Vec<&JobUpdate> = state.updates.values().filter(|u| listed(&q, u)).collect();
    list.sort_by_key(|u| std::cmp::Reverse((u.created_ms(), u.id.clone())));
    Json(
        list.into_iter()
            .map(|u| views::update_summary(&state, u))
            .collect(),
    )
}

/// An update by id, or a 404 saying there is none.
fn update_by_id<'a>(state: &'a SchedState, id: &str) -> Result<&'a JobUpdate, ApiError> {
    state
        .updates
        .get(id)
        .ok_or_else(|| ApiError::not_found(format!("update {id} does not exist")))
}

/// `aurora update info KEY ID`.
pub async fn get_update(
    State(app): AppState,
    Path(id): Path<String>,
) -> Result<Json<UpdateDetails>, ApiError> {
    let state = app.core.read();
    let u = update_by_id(&state, &id)?;
    Ok(Json(views::update_details(&state, u)))
}

/// A job's active update (`aurora update info KEY`).
pub async fn active_update(
    State(app): AppState,
    JobKeyPath(k): JobKeyPath,
) -> Result<Json<UpdateDetails>, ApiError> {
    let state = app.core.read();
    let u = state
        .active_update(&k)
        .ok_or_else(|| ApiError::not_found("No active update found for this job."))?;
    Ok(Json(views::update_details(&state, u)))
}

/// The `{verb}` segment, as written (see [`UpdateAction`]).
#[derive(Deserialize)]
pub struct VerbParam {
    verb: String,
}

/// `aurora update pause|resume|abort|rollback KEY`.
pub async fn control_update(
    State(app): AppState,
    Extension(caller): Extension<Caller>,
    JobKeyPath(k): JobKeyPath,
    Path(VerbParam { verb }): Path<VerbParam>,
    body: Result<Json<UpdateControlRequest>, JsonRejection>,
) -> Result<Json<UpdateSummary>, ApiError> {
    let Json(req) = body?;
    // Parsed here, not by the extractor: an unknown verb is a 404 saying which ones exist.
    let verb: UpdateAction = verb
        .parse()
        .map_err(|e: UnknownUpdateAction| ApiError::not_found(e.to_string()))?;
    let control = match verb {
        UpdateAction::Pause => Control::Pause,
        UpdateAction::Resume => Control::Resume,
        UpdateAction::Abort => Control::Abort,
        UpdateAction::Rollback => Control::Rollback,
    };
    let audit = caller.begin(
        &app,
        Action::ControlUpdate,
        Some(&k.role),
        format!("{k} {verb}"),
    )?;
    let user = audit.user.clone();
    let id = audit.done(
        app.core
            .mutate(move |s, now, ids, dirty| {
                s.control_update(&k, control, &user, req.message, now, ids, dirty)
            })
            .await
            .map_err(ApiError::from),
    )?;
    let state = app.core.read();
    let u = update_by_id(&state, &id)?;
    Ok(Json(views::update_summary(&state, u)))
}

/// A coordinator's pulse.
pub async fn pulse_update(
    State(app): AppState,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<PulseResponse>, ApiError> {
    let role = update_by_id(&app.core.read(), &id)?.job.role.clone();
    let audit = caller.begin(
        &app,
        Action::ControlUpdate,
        Some(&role),
        format!("{id} pulse"),
    )?;
    let status = audit.done(
        app.core
            .mutate(move |s, now, ids, dirty| s.pulse_update(&id, now, ids, dirty))
            .await
            .map_err(ApiError::from),
    )?;
    Ok(Json(PulseResponse { status }))
}
