//! `/agent/v1`: the protocol agents speak, embedded or remote alike. An agent registers (with the
//! tasks it still runs), holds one long-lived command stream (one JSON `AgentCommand` a line,
//! heartbeats included), and posts status updates, which are acknowledged once durable (applied
//! together with other agents', `http::statuses`).

use super::App;
use super::error::ApiError;
use crate::core::{AgentLink, Core};
use aurora_agent::cluster_secret;
use aurora_api::{AgentCommand, RegisterRequest, RegisterResponse, StatusBatch};
use aurora_sched::placement::AgentView;
use axum::Json;
use axum::body::Body;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Path, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::{IntervalStream, UnboundedReceiverStream};

/// How often an idle command stream carries a heartbeat (each answered by the agent), unless
/// the agent-lost timeout asks for more often (`Core::heartbeat`).
pub const HEARTBEAT: Duration = Duration::from_secs(5);

/// Whether the request proves it comes from agent `agent_id` (its credential,
/// `aurora_agent::cluster_secret`): a 401 otherwise, logged with the peer's address.
fn authorize(
    core: &Core,
    peer: SocketAddr,
    agent_id: &str,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    let given = headers.get(cluster_secret::HEADER).map(|v| v.as_bytes());
    let expected = cluster_secret::credential(&core.cluster_secret, agent_id);
    cluster_secret::check(&expected, agent_id, given).map_err(|e| {
        tracing::warn!(%peer, agent = agent_id, "agent protocol request refused: {e}");
        ApiError::new(StatusCode::UNAUTHORIZED, format!("agent refused: {e}"))
    })
}

/// Refuses a request for an agent that has not registered (since the scheduler started).
fn registered(core: &Core, agent_id: &str) -> Result<(), ApiError> {
    if core.read().agents.get(agent_id).is_some() {
        Ok(())
    } else {
        Err(ApiError::not_found(format!(
            "agent {agent_id} is not registered: register first"
        )))
    }
}

pub async fn register(
    AxState(app): AxState<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Json<RegisterRequest>, JsonRejection>,
) -> Result<Json<RegisterResponse>, ApiError> {
    let core = app.core.clone();
    let Json(req) = body?;
    if !aurora_model::job_key::is_good_identifier(&req.agent_id) {
        return Err(ApiError::bad_request(format!(
            "invalid agent id '{}'",
            req.agent_id
        )));
    }
    authorize(&core, peer, &req.agent_id, &headers)?;
    // A fresh link: commands decided from here on wait for the agent's new stream.
    {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut links = core.links.lock().unwrap_or_else(|p| p.into_inner());
        let generation = links.get(&req.agent_id).map_or(0, |l| l.generation + 1);
        links.insert(
            req.agent_id.clone(),
            AgentLink {
                tx,
                rx: Some(rx),
                generation,
            },
        );
    }
    let view = AgentView {
        id: req.agent_id.clone(),
        hostname: req.hostname.clone(),
        cpu: req.resources.cpu,
        ram_mb: req.resources.ram_mb,
        disk_mb: req.resources.disk_mb,
        used_cpu: 0.0,
        used_ram_mb: 0,
        used_disk_mb: 0,
        port_range: req.resources.port_range,
        used_ports: BTreeSet::new(),
        unavailable: false,
        attributes: req.attributes.clone(),
    };
    core.mutate(move |s, now, ids, dirty| {
        let id = view.id.clone();
        s.register_agent(view, req.endpoint, &req.running, now, ids, dirty);
        if let Some(a) = s.agents.get_mut(&id) {
            a.isolation = req.isolation;
        }
        Ok(())
    })
    .await?;
    Ok(Json(RegisterResponse {
        heartbeat_ms: core.heartbeat.as_millis() as u64,
    }))
}

/// Marks the agent disconnected when its stream ends, unless a newer stream has replaced it.
struct StreamGuard {
    core: Arc<Core>,
    agent: String,
    generation: u64,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let current = self
            .core
            .links
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&self.agent)
            .map(|l| l.generation);
        if current == Some(self.generation) {
            self.core
                .mutate_in_memory(|s| s.agent_disconnected(&self.agent));
        }
    }
}

pub async fn commands(
    AxState(app): AxState<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(agent_id): Path<String>,
) -> Result<Response, ApiError> {
    let core = app.core.clone();
    authorize(&core, peer, &agent_id, &headers)?;
    let (rx, generation) = {
        let mut links = core.links.lock().unwrap_or_else(|p| p.into_inner());
        let link = links.get_mut(&agent_id).ok_or_else(|| {
            ApiError::not_found(format!(
                "agent {agent_id} is not registered: register first"
            ))
        })?;
        // One stream per registration: a second one is refused while the first is held (an
        // agent whose stream broke registers again, which makes a fresh link).
        let rx = link.rx.take().ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                format!("agent {agent_id} already holds its command stream: register again first"),
            )
        })?;
        link.generation += 1;
        (rx, link.generation)
    };
    let guard = StreamGuard {
        core: core.clone(),
        agent: agent_id,
        generation,
    };
    let heartbeats =
        IntervalStream::new(tokio::time::interval(core.heartbeat)).map(|_| AgentCommand::Heartbeat);
    // A stream ends when its agent is declared lost (looked at with each heartbeat, not with
    // each command: a burst of launches takes the state lock once, not once a launch): the
    // agent, if it is alive after all, registers again and is reconciled.
    let (watcher, watched) = (core.clone(), guard.agent.clone());
    let lines = UnboundedReceiverStream::new(rx)
        .merge(heartbeats)
        .take_while(move |cmd| {
            !matches!(cmd, AgentCommand::Heartbeat)
                || !watcher.read().agents.get(&watched).is_some_and(|a| a.lost)
        })
        .map(move |cmd| {
            let _keep = &guard;
            let mut line = serde_json::to_vec(&cmd).unwrap_or_default();
            line.push(b'\n');
            Ok::<_, std::convert::Infallible>(bytes::Bytes::from(line))
        });
    Ok((
        [("content-type", "application/x-ndjson")],
        Body::from_stream(lines),
    )
        .into_response())
}

/// Status updates, acknowledged once durable. An empty batch is a heartbeat: the agent is alive.
pub async fn status(
    AxState(app): AxState<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(agent_id): Path<String>,
    body: Result<Json<StatusBatch>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let core = app.core.clone();
    authorize(&core, peer, &agent_id, &headers)?;
    registered(&core, &agent_id)?;
    let Json(batch) = body?;
    if batch.updates.is_empty() {
        // A heartbeat's answer: nothing to persist, nothing to wait for.
        let now = core.now_ms();
        core.mutate_in_memory(|s| s.agent_seen(&agent_id, now));
        return Ok(Json(serde_json::json!({})));
    }
    app.statuses
        .apply(&core, agent_id, batch.updates)
        .await
        .map_err(|()| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the scheduler is stopping: send the batch again".to_owned(),
            )
        })?;
    Ok(Json(serde_json::json!({})))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Dirty, State};

    #[tokio::test]
    async fn a_stale_stream_ending_does_not_disconnect_a_reconnected_agent() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = aurora_store::Store::open(&dir.path().join("s.db")).unwrap();
        let core = Core::new(
            State::default(),
            store,
            crate::core::CoreOptions {
                cluster: "c".into(),
                clock: Arc::new(crate::core::SystemClock),
                cluster_secret: "0123456789abcdef".into(),
                heartbeat: HEARTBEAT,
            },
        );
        let view = AgentView {
            id: "a1".into(),
            hostname: "h".into(),
            cpu: 1.0,
            ram_mb: 1,
            disk_mb: 1,
            used_cpu: 0.0,
            used_ram_mb: 0,
            used_disk_mb: 0,
            port_range: (1, 2),
            used_ports: BTreeSet::new(),
            unavailable: false,
            attributes: Default::default(),
        };
        core.mutate_in_memory(|s| {
            s.register_agent(
                view,
                "http://h".into(),
                &[],
                0,
                &mut || "x".into(),
                &mut Dirty::default(),
            )
        });
        let (tx, _rx) = mpsc::unbounded_channel();
        core.links.lock().unwrap().insert(
            "a1".into(),
            AgentLink {
                tx,
                rx: None,
                generation: 2,
            },
        );
        drop(StreamGuard {
            core: core.clone(),
            agent: "a1".into(),
            generation: 1,
        });
        assert!(
            core.read().agents["a1"].connected,
            "an older stream must not disconnect the agent"
        );
        drop(StreamGuard {
            core: core.clone(),
            agent: "a1".into(),
            generation: 2,
        });
        assert!(
            !core.read().agents["a1"].connected,
            "the current stream ending does"
        );
    }
}
