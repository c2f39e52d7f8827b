//! `/api/v1/hosts` and `/api/v1/maintenance`: the agents' machines, and draining and activating
//! them. Liveness and maintenance themselves live in `state::hosts`.

use super::AppState;
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::views;
use aurora_api::*;
use aurora_auth::Action;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Query, State};
use axum::{Extension, Json};
use serde::Deserialize;

/// `aurora_admin hosts`.
pub async fn list_hosts(State(app): AppState) -> Json<Vec<HostView>> {
    Json(views::hosts(&app.core.read()))
}

#[derive(Deserialize)]
pub struct HostsQuery {
    #[serde(default)]
    hosts: String,
}

/// The hosts named, trimmed; a 400 when there are none.
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
    State(app): AppState,
    Query(q): Query<HostsQuery>,
) -> Result<Json<Vec<MaintenanceView>>, ApiError> {
    let hosts = host_list(q.hosts.split(',').map(str::to_owned).collect())?;
    Ok(Json(views::maintenance(&app.core.read(), &hosts)))
}

/// `aurora_admin host_drain`.
pub async fn drain_hosts(
    State(app): AppState,
    Extension(caller): Extension<Caller>,
    body: Result<Json<HostsRequest>, JsonRejection>,
) -> Result<Json<DrainResponse>, ApiError> {
    let Json(req) = body?;
    let hosts = host_list(req.hosts)?;
    let audit = caller.begin(
        &app,
        Action::Drain,
        None,
        format!("drain {}", hosts.join(",")),
    )?;
    let list = hosts.clone();
    let task_ids = audit.done(
        app.core
            .mutate(move |s, now, _, dirty| Ok(s.drain_hosts(&list, now, dirty)))
            .await
            .map_err(ApiError::from),
    )?;
    Ok(Json(DrainResponse {
        hosts: views::maintenance(&app.core.read(), &hosts),
        task_ids,
    }))
}

/// `aurora_admin host_activate`.
pub async fn activate_hosts(
    State(app): AppState,
    Extension(caller): Extension<Caller>,
    body: Result<Json<HostsRequest>, JsonRejection>,
) -> Result<Json<Vec<MaintenanceView>>, ApiError> {
    let Json(req) = body?;
    let hosts = host_list(req.hosts)?;
    let audit = caller.begin(
        &app,
        Action::Drain,
        None,
        format!("activate {}", hosts.join(",")),
    )?;
    let list = hosts.clone();
    audit.done(
        app.core
            .mutate(move |s, _, _, dirty| {
                s.activate_hosts(&list, dirty);
                Ok(())
            })
            .await
            .map_err(ApiError::from),
    )?;
    Ok(Json(views::maintenance(&app.core.read(), &hosts)))
}
