//! `/api/v1/cron`: scheduling and descheduling cron jobs, starting one now, and showing its
//! schedule. When a cron job fires is decided in `state::cron`.

use super::{AppState, JobKeyPath, check_cluster, config_key};
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::state::CronOutcome;
use crate::views;
use aurora_api::*;
use aurora_auth::Action;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::{Extension, Json};

/// `aurora cron schedule`: creates or replaces a cron job.
pub async fn schedule_cron(
    State(app): AppState,
    Extension(caller): Extension<Caller>,
    body: Result<Json<CreateJobRequest>, JsonRejection>,
) -> Result<Json<CronScheduled>, ApiError> {
    let Json(req) = body?;
    check_cluster(&app.core, &req.config)?;
    let job = config_key(&req.config)?;
    let audit = caller.begin(&app, Action::ScheduleCron, Some(&req.config.role), &job)?;
    let scheduled = match app.check_task_user(&req.config.role).await {
        Err(e) => Err(e),
        Ok(()) => app
            .core
            .mutate(move |s, now, _, dirty| s.schedule_cron(req.config, now, dirty))
            .await
            .map_err(ApiError::from),
    };
    let replaced = audit.done(scheduled)?;
    Ok(Json(CronScheduled { job, replaced }))
}

/// `aurora cron deschedule`.
pub async fn deschedule_cron(
    State(app): AppState,
    Extension(caller): Extension<Caller>,
    JobKeyPath(k): JobKeyPath,
) -> Result<Json<CronDescheduled>, ApiError> {
    let job = k.to_string();
    let audit = caller.begin(&app, Action::DescheduleCron, Some(&k.role), &job)?;
    let descheduled = audit.done(
        app.core
            .mutate(move |s, _, _, dirty| Ok(s.deschedule_cron(&k, dirty)))
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
    State(app): AppState,
    Extension(caller): Extension<Caller>,
    JobKeyPath(k): JobKeyPath,
) -> Result<Json<CronStarted>, ApiError> {
    let job = k.to_string();
    let audit = caller.begin(&app, Action::StartCron, Some(&k.role), &job)?;
    let outcome = audit.done(
        app.core
            .mutate(move |s, now, ids, dirty| s.start_cron(&k, now, ids, dirty))
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
    State(app): AppState,
    JobKeyPath(k): JobKeyPath,
) -> Result<Json<CronView>, ApiError> {
    let now = app.core.now_ms();
    views::cron_view(&app.core.read(), &k, now)
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("No cron entry found for job {k}")))
}
