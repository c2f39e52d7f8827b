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
pub mod ui;

pub use app::App;
use axum::Router;
use axum::routing::{get, post};
use std::sync::Arc;

/// The `/api/v1` operations the router below serves, as `(path, method)`: the OpenAPI document is
/// checked against this list (`openapi::tests`). Keep it in step with the router.
pub const API_ROUTES: &[(&str, &str)] = &[
    ("/api/v1/roles", "get"),
    ("/api/v1/jobs", "get"),
    ("/api/v1/jobs", "post"),
    ("/api/v1/jobs/{role}/{env}/{name}", "get"),
    ("/api/v1/jobs/{role}/{env}/{name}/instances", "get"),
    ("/api/v1/jobs/{role}/{env}/{name}/instances", "post"),
    ("/api/v1/jobs/{role}/{env}/{name}/kill", "post"),
    ("/api/v1/jobs/{role}/{env}/{name}/restart", "post"),
    ("/api/v1/jobs/{role}/{env}/{name}/update", "get"),
    ("/api/v1/jobs/{role}/{env}/{name}/update", "post"),
    ("/api/v1/jobs/{role}/{env}/{name}/update/{verb}", "post"),
    ("/api/v1/jobs/{role}/{env}/{name}/diff", "post"),
    ("/api/v1/updates", "get"),
    ("/api/v1/updates/{id}", "get"),
    ("/api/v1/updates/{id}/pulse", "post"),
    ("/api/v1/cron", "post"),
    ("/api/v1/cron/{role}/{env}/{name}", "get"),
    ("/api/v1/cron/{role}/{env}/{name}", "delete"),
    ("/api/v1/cron/{role}/{env}/{name}/start", "post"),
    ("/api/v1/hosts", "get"),
    ("/api/v1/maintenance", "get"),
    ("/api/v1/maintenance/drain", "post"),
    ("/api/v1/maintenance/activate", "post"),
    ("/api/v1/tokens", "get"),
    ("/api/v1/tokens", "post"),
    ("/api/v1/tokens/{id}", "delete"),
    ("/api/v1/tasks/{task_id}", "get"),
    ("/api/v1/tasks/{task_id}/logs", "get"),
    ("/api/v1/tasks/{task_id}/processes", "get"),
    ("/api/v1/tasks/{task_id}/files", "get"),
    ("/api/v1/tasks/{task_id}/files/content", "get"),
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
        .route("/metrics", get(api::metrics))
        .route(
            "/api/v1/openapi.json",
            get(|| async { axum::Json(openapi::document()) }),
        )
        .route("/api/v1/roles", get(api::list_roles))
        .route("/api/v1/jobs", get(api::list_jobs).post(api::create_job))
        .route("/api/v1/jobs/{role}/{env}/{name}", get(api::get_job))
        .route(
            "/api/v1/jobs/{role}/{env}/{name}/instances",
            get(api::job_instances).post(api::add_instances),
        )
        .route("/api/v1/jobs/{role}/{env}/{name}/kill", post(api::kill_job))
        .route(
            "/api/v1/jobs/{role}/{env}/{name}/restart",
            post(api::restart_job),
        )
        .route(
            "/api/v1/jobs/{role}/{env}/{name}/update",
            get(api::active_update).post(api::start_update),
        )
        .route(
            "/api/v1/jobs/{role}/{env}/{name}/update/{verb}",
            post(api::control_update),
        )
        .route("/api/v1/jobs/{role}/{env}/{name}/diff", post(api::diff_job))
        .route("/api/v1/updates", get(api::list_updates))
        .route("/api/v1/updates/{id}", get(api::get_update))
        .route("/api/v1/updates/{id}/pulse", post(api::pulse_update))
        .route("/api/v1/cron", post(api::schedule_cron))
        .route(
            "/api/v1/cron/{role}/{env}/{name}",
            get(api::get_cron).delete(api::deschedule_cron),
        )
        .route(
            "/api/v1/cron/{role}/{env}/{name}/start",
            post(api::start_cron),
        )
        .route("/api/v1/hosts", get(api::list_hosts))
        .route("/api/v1/maintenance", get(api::maintenance_status))
        .route("/api/v1/maintenance/drain", post(api::drain_hosts))
        .route("/api/v1/maintenance/activate", post(api::activate_hosts))
        .route(
            "/api/v1/tokens",
            get(api::list_tokens).post(api::issue_token),
        )
        .route(
            "/api/v1/tokens/{id}",
            axum::routing::delete(api::revoke_token),
        )
        .route("/api/v1/tasks/{task_id}", get(api::get_task))
        .route("/api/v1/tasks/{task_id}/logs", get(api::task_logs))
        .route(
            "/api/v1/tasks/{task_id}/processes",
            get(api::task_processes),
        )
        .route("/api/v1/tasks/{task_id}/files", get(api::task_files))
        .route(
            "/api/v1/tasks/{task_id}/files/content",
            get(api::task_file_content),
        )
        .route("/agent/v1/register", post(agent::register))
        .route("/agent/v1/{agent_id}/commands", get(agent::commands))
        .route("/agent/v1/{agent_id}/status", post(agent::status))
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
