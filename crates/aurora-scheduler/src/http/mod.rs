//! The scheduler's HTTP surface: the web UI (`ui`), the JSON API for users (`api`), sandbox reads
//! forwarded to agents (`sandbox`), the agent protocol (`agent`), health, metrics and the OpenAPI
//! document. Handlers take the [`App`] (auth, audit log, the agents' client, around the `Core`)
//! and translate HTTP to calls on `Core`; they hold no scheduling logic and no SQL.

pub mod agent;
pub mod api;
pub mod app;
pub mod auth;
pub mod error;
pub mod openapi;
pub mod sandbox;
pub mod statuses;
pub mod ui;

pub use app::App;
use aurora_api::routes;
use axum::Router;
use axum::routing::{get, post};
use std::sync::Arc;

/// The `/api/v1` operations the router below serves, as `(path, method)` (the paths are
/// `aurora_api::routes`'): the OpenAPI document is checked against this list (`openapi::tests`).
/// Keep it in step with the router.
pub const API_ROUTES: &[(&str, &str)] = &[
    (routes::ROLES, "get"),
    (routes::JOBS, "get"),
    (routes::JOBS, "post"),
    (routes::JOB, "get"),
    (routes::JOB_INSTANCES, "get"),
    (routes::JOB_INSTANCES, "post"),
    (routes::JOB_KILL, "post"),
    (routes::JOB_RESTART, "post"),
    (routes::JOB_UPDATE, "get"),
    (routes::JOB_UPDATE, "post"),
    (routes::JOB_UPDATE_CONTROL, "post"),
    (routes::JOB_DIFF, "post"),
    (routes::UPDATES, "get"),
    (routes::UPDATE, "get"),
    (routes::UPDATE_PULSE, "post"),
    (routes::CRON, "post"),
    (routes::CRON_JOB, "get"),
    (routes::CRON_JOB, "delete"),
    (routes::CRON_START, "post"),
    (routes::HOSTS, "get"),
    (routes::MAINTENANCE, "get"),
    (routes::MAINTENANCE_DRAIN, "post"),
    (routes::MAINTENANCE_ACTIVATE, "post"),
    (routes::BACKUPS, "get"),
    (routes::BACKUPS, "post"),
    (routes::RECOVERY, "post"),
    (routes::RECOVERY, "delete"),
    (routes::RECOVERY_TASKS, "get"),
    (routes::RECOVERY_TASKS_DELETE, "post"),
    (routes::RECOVERY_COMMIT, "post"),
    (routes::SNAPSHOT, "post"),
    (routes::TOKENS, "get"),
    (routes::TOKENS, "post"),
    (routes::TOKEN, "delete"),
    (routes::TASK, "get"),
    (routes::TASK_LOGS, "get"),
    (routes::TASK_PROCESSES, "get"),
    (routes::TASK_FILES, "get"),
    (routes::TASK_FILE_CONTENT, "get"),
];

/// Every route.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(ui::index))
        .route("/login", get(ui::login_page).post(ui::login))
        .route("/scheduler", get(ui::roles))
        .route("/scheduler/{role}", get(ui::role))
        .route("/scheduler/{role}/{env}", get(ui::environment))
        .route("/scheduler/{role}/{env}/{name}", get(ui::job))
        .route(
            "/scheduler/{role}/{env}/{name}/update/{id}",
            get(ui::update),
        )
        .route("/task/{task_id}", get(ui::task))
        .route("/task/{task_id}/log", get(ui::log))
        .route("/task/{task_id}/files", get(ui::files))
        .route("/task/{task_id}/file", get(ui::file))
        .route("/assets/ui.css", get(ui::css))
        .route("/assets/ui.js", get(ui::js))
        .route("/health", get(|| async { "ok" }))
        // A lone scheduler leads (with --etcd, `ha` answers this until it leads).
        .route("/leaderhealth", get(|| async { "ok" }))
        .route("/metrics", get(api::metrics))
        .route(
            routes::OPENAPI,
            get(|| async { axum::Json(openapi::document()) }),
        )
        .route(routes::ROLES, get(api::list_roles))
        .route(routes::JOBS, get(api::list_jobs).post(api::create_job))
        .route(routes::JOB, get(api::get_job))
        .route(
            routes::JOB_INSTANCES,
            get(api::job_instances).post(api::add_instances),
        )
        .route(routes::JOB_KILL, post(api::kill_job))
        .route(routes::JOB_RESTART, post(api::restart_job))
        .route(
            routes::JOB_UPDATE,
            get(api::active_update).post(api::start_update),
        )
        .route(routes::JOB_UPDATE_CONTROL, post(api::control_update))
        .route(routes::JOB_DIFF, post(api::diff_job))
        .route(routes::UPDATES, get(api::list_updates))
        .route(routes::UPDATE, get(api::get_update))
        .route(routes::UPDATE_PULSE, post(api::pulse_update))
        .route(routes::CRON, post(api::schedule_cron))
        .route(
            routes::CRON_JOB,
            get(api::get_cron).delete(api::deschedule_cron),
        )
        .route(routes::CRON_START, post(api::start_cron))
        .route(routes::HOSTS, get(api::list_hosts))
        .route(routes::MAINTENANCE, get(api::maintenance_status))
        .route(routes::MAINTENANCE_DRAIN, post(api::drain_hosts))
        .route(routes::MAINTENANCE_ACTIVATE, post(api::activate_hosts))
        .route(
            routes::BACKUPS,
            get(api::list_backups).post(api::backup_now),
        )
        .route(
            routes::RECOVERY,
            post(api::stage_recovery).delete(api::unload_recovery),
        )
        .route(routes::RECOVERY_TASKS, get(api::recovery_tasks))
        .route(
            routes::RECOVERY_TASKS_DELETE,
            post(api::delete_recovery_tasks),
        )
        .route(routes::RECOVERY_COMMIT, post(api::commit_recovery))
        .route(routes::SNAPSHOT, post(api::snapshot))
        .route(routes::TOKENS, get(api::list_tokens).post(api::issue_token))
        .route(routes::TOKEN, axum::routing::delete(api::revoke_token))
        .route(routes::TASK, get(api::get_task))
        .route(routes::TASK_LOGS, get(api::task_logs))
        .route(routes::TASK_PROCESSES, get(api::task_processes))
        .route(routes::TASK_FILES, get(api::task_files))
        .route(routes::TASK_FILE_CONTENT, get(api::task_file_content))
        .route(routes::AGENT_REGISTER, post(agent::register))
        .route(routes::AGENT_COMMANDS, get(agent::commands))
        .route(routes::AGENT_STATUS, post(agent::status))
        .fallback(|| async { error::ApiError::not_found("no such route") })
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            auth::identify,
        ))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            4 * 1024 * 1024,
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::new())
        .with_state(app)
}
