//! `/agent/v1`: the protocol agents speak, embedded or remote alike. An agent registers (with the
//! tasks it still runs), holds one long-lived command stream (one JSON `AgentCommand` a line,
//! heartbeats included), and posts status updates, which are acknowledged once durable.

use super::error::ApiError;
use crate::core::{AgentLink, Core};
use aurora_api::{AgentCommand, RegisterRequest, StatusBatch};
use aurora_model::task::ScheduleStatus;
use aurora_sched::placement::AgentView;
use axum::Json;
use axum::body::Body;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State as AxState};
use axum::response::{IntoResponse, Response};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::{IntervalStream, UnboundedReceiverStream};

/// How often an idle command stream carries a heartbeat.
pub const HEARTBEAT: Duration = Duration::from_secs(5);

pub async fn register(
    AxState(core): AxState<Arc<Core>>,
    body: Result<Json<RegisterRequest>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Json(req) = body?;
    if !aurora_model::job_key::is_good_identifier(&req.agent_id) {
        return Err(ApiError::bad_request(format!(
            "invalid agent id '{}'",
            req.agent_id
        )));
    }
    // A fresh link: commands decided from here on wait for the agent's new stream.
    {
        let (tx, rx) = mpsc::unbounded_channel();
        core.links
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(req.agent_id.clone(), AgentLink { tx, rx: Some(rx) });
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
        s.register_agent(view, req.endpoint, &req.running, now, ids, dirty);
        Ok(())
    })
    .await?;
    Ok(Json(serde_json::json!({})))
}

/// Marks the agent disconnected when its stream ends.
struct StreamGuard {
    core: Arc<Core>,
    agent: String,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.core.read().agent_disconnected(&self.agent);
    }
}

pub async fn commands(
    AxState(core): AxState<Arc<Core>>,
    Path(agent_id): Path<String>,
) -> Result<Response, ApiError> {
    let rx = {
        let mut links = core.links.lock().unwrap_or_else(|p| p.into_inner());
        let link = links.get_mut(&agent_id).ok_or_else(|| {
            ApiError::not_found(format!(
                "agent {agent_id} is not registered: register first"
            ))
        })?;
        match link.rx.take() {
            Some(rx) => rx,
            None => {
                // A second stream replaces the first: the old one ends when its sender goes.
                let (tx, rx) = mpsc::unbounded_channel();
                link.tx = tx;
                rx
            }
        }
    };
    let guard = StreamGuard {
        core: core.clone(),
        agent: agent_id,
    };
    let heartbeats =
        IntervalStream::new(tokio::time::interval(HEARTBEAT)).map(|_| AgentCommand::Heartbeat);
    let lines = UnboundedReceiverStream::new(rx)
        .merge(heartbeats)
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

pub async fn status(
    AxState(core): AxState<Arc<Core>>,
    Path(agent_id): Path<String>,
    body: Result<Json<StatusBatch>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Json(batch) = body?;
    let mut updates = Vec::with_capacity(batch.updates.len());
    for u in batch.updates {
        let status: ScheduleStatus = u
            .status
            .parse()
            .map_err(|e: aurora_model::task::UnknownStatus| ApiError::bad_request(e.to_string()))?;
        updates.push((u.task_id, status, u.message));
    }
    core.mutate(move |s, now, ids, dirty| {
        for (id, status, message) in updates {
            s.agent_status(&agent_id, &id, status, message, now, ids, dirty);
        }
        Ok(())
    })
    .await?;
    Ok(Json(serde_json::json!({})))
}
