//! One scheduler among several on etcd (`--etcd`): it listens at once, follows the replicated
//! log into its own store while another leads, and becomes the scheduler only once elected
//! (`aurora_ha::election::lead`), with the state read from its store exactly as after a restart.
//!
//! While it follows, it answers `/health` (200: the process is up), `/leaderhealth` (503; 200
//! once it leads: what load balancers probe, as Aurora's), and every other request with a 307 to
//! the same path on the leader (a JSON body naming it), or 503 while no leader is elected.
//! When its leadership is lost it stops at once (exit status 75), as Aurora's scheduler does: a
//! supervisor (systemd) starts it again, as a follower.
//!
//! Not here: elections and the log (`aurora-ha`); what the leader serves (`http`).

use crate::http::error::ApiError;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::{Arc, OnceLock};
use tokio::sync::watch;

/// The exit status of a scheduler that lost its leadership.
pub const LOST_LEADERSHIP: i32 = crate::EXIT_RESTART;

/// What the listener needs to know: the leader's router once this scheduler leads, and who leads.
pub struct Shared {
    pub leading: OnceLock<Router>,
    pub leader: watch::Receiver<Option<String>>,
}

/// The listener's router: leader health here, everything else to the leader's router (this
/// scheduler's, once it leads) or redirected to the leader.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/leaderhealth", axum::routing::get(leader_health))
        .fallback(dispatch)
        .with_state(shared)
}

async fn leader_health(State(shared): State<Arc<Shared>>) -> Response {
    if shared.leading.get().is_some() {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not the leader\n").into_response()
    }
}

async fn dispatch(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    if let Some(leading) = shared.leading.get() {
        return match tower::ServiceExt::oneshot(leading.clone(), request).await {
            Ok(r) => r,
            Err(never) => match never {},
        };
    }
    if request.uri().path() == "/health" {
        return (StatusCode::OK, "ok\n").into_response();
    }
    let leader = shared.leader.borrow().clone();
    match leader {
        Some(url) => redirect(&url, &request),
        None => {
            let mut r = ApiError::unavailable(
                "no scheduler leads yet (an election is under way): retry in a moment",
            )
            .into_response();
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            r
        }
    }
}

/// 307 to the same path and query on the leader (method and body kept by clients).
fn redirect(leader: &str, request: &Request) -> Response {
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let location = format!("{}{path}", leader.trim_end_matches('/'));
    let body = axum::Json(serde_json::json!({
        "error": format!("this scheduler follows; the leader is {leader}"),
        "leader": leader,
    }));
    let mut r = (StatusCode::TEMPORARY_REDIRECT, body).into_response();
    match HeaderValue::from_str(&location) {
        Ok(v) => {
            r.headers_mut().insert(header::LOCATION, v);
            r
        }
        Err(_) => ApiError::unavailable("the leader's address is not a valid URL").into_response(),
    }
}
