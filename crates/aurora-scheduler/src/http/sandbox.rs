//! Reaching a task's sandbox through the scheduler: the agent that ran the task is found from the
//! state, and the request is forwarded to its file server (`aurora_agent::files`). Browsers and the
//! CLI reach only the scheduler; no tunnel to agent machines.
//!
//! Paths are checked here too (`aurora_agent::sandbox::relative`) before anything is forwarded;
//! the agent checks them again against the disk.

use super::app::App;
use super::error::ApiError;
use crate::core::Core;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

/// A request for an agent's file server: where, and the agent's credential it must present.
pub struct AgentRequest {
    pub url: reqwest::Url,
    credential: String,
}

impl AgentRequest {
    fn send(&self, app: &App) -> reqwest::RequestBuilder {
        app.agents
            .get(self.url.clone())
            .header(aurora_agent::cluster_secret::HEADER, &self.credential)
    }
}

/// The request for `path` (`logs`, `processes`, `files`, `files/content`) on the file server of
/// the agent that ran `task_id`, with `query` appended.
pub fn agent_url(
    core: &Core,
    task_id: &str,
    path: &str,
    query: &[(&str, String)],
) -> Result<AgentRequest, ApiError> {
    let state = core.read();
    let t = state
        .tasks
        .get(task_id)
        .ok_or_else(|| ApiError::not_found(format!("task {task_id} does not exist")))?;
    let agent = t.agent_id.as_ref().ok_or_else(|| {
        ApiError::not_found(format!(
            "task {task_id} has not been placed on an agent yet"
        ))
    })?;
    let endpoint = state
        .agents
        .get(agent)
        .map(|a| a.endpoint.as_str())
        .ok_or_else(|| ApiError::unavailable(format!("agent {agent} is not known")))?;
    let mut url = reqwest::Url::parse(endpoint)
        .map_err(|e| ApiError::bad_gateway(format!("agent {agent} has a bad endpoint: {e}")))?;
    url.path_segments_mut()
        .map_err(|_| ApiError::bad_gateway(format!("agent {agent} has a bad endpoint")))?
        .extend(["tasks", task_id])
        .extend(path.split('/'));
    url.query_pairs_mut()
        .extend_pairs(query.iter().map(|(k, v)| (k, v)));
    Ok(AgentRequest {
        url,
        credential: aurora_agent::cluster_secret::credential(&core.cluster_secret, agent),
    })
}

/// Checks a sandbox path from a URL, as the agent will.
pub fn check_path(path: &str) -> Result<String, ApiError> {
    aurora_agent::sandbox::relative(path).map_err(|e| ApiError::bad_request(e.to_string()))
}

fn unreachable(e: reqwest::Error) -> ApiError {
    ApiError::bad_gateway(format!("cannot reach the task's agent: {e}"))
}

/// Turns an agent's refusal into ours, keeping its status and message.
async fn refusal(resp: reqwest::Response) -> ApiError {
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let message = resp
        .json::<aurora_api::ErrorBody>()
        .await
        .map_or_else(|_| format!("the agent answered {status}"), |b| b.error);
    ApiError::new(status, message)
}

/// Fetches JSON from an agent.
pub async fn fetch_json<T: DeserializeOwned>(app: &App, req: AgentRequest) -> Result<T, ApiError> {
    let resp = req
        .send(app)
        .timeout(std::time::Duration::from_secs(10))
        .send()
        .await
        .map_err(unreachable)?;
    if !resp.status().is_success() {
        return Err(refusal(resp).await);
    }
    resp.json()
        .await
        .map_err(|e| ApiError::bad_gateway(format!("the agent's answer does not parse: {e}")))
}

/// Forwards an agent's answer (bytes streamed, with the headers that matter).
pub async fn forward(app: &App, req: AgentRequest) -> Result<Response, ApiError> {
    let resp = req.send(app).send().await.map_err(unreachable)?;
    if !resp.status().is_success() {
        return Err(refusal(resp).await);
    }
    let mut headers = HeaderMap::new();
    // What an agent answers is the task's content: never a page on the scheduler's origin. Only
    // plain text, JSON and bytes pass; a browser must not sniff, run scripts or frame it.
    headers.insert(
        "content-type",
        safe_content_type(resp.headers().get("content-type")),
    );
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    for name in ["x-log-offset", "content-length", "content-disposition"] {
        if let Some(v) = resp
            .headers()
            .get(name)
            .and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok())
        {
            headers.insert(name, v);
        }
    }
    Ok((
        StatusCode::OK,
        headers,
        Body::from_stream(resp.bytes_stream()),
    )
        .into_response())
}

/// The content type the scheduler answers for an agent's bytes: plain text and JSON as they are,
/// anything else (HTML, SVG, scripts...) as opaque bytes.
fn safe_content_type(given: Option<&HeaderValue>) -> HeaderValue {
    let essence = given
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    match essence.as_deref() {
        Some("text/plain") => HeaderValue::from_static("text/plain; charset=utf-8"),
        Some("application/json") => HeaderValue::from_static("application/json"),
        _ => HeaderValue::from_static("application/octet-stream"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_agents_html_is_never_passed_through() {
        let t = |v: &str| safe_content_type(Some(&HeaderValue::from_str(v).unwrap()));
        assert_eq!(t("text/html; charset=utf-8"), "application/octet-stream");
        assert_eq!(t("TEXT/HTML"), "application/octet-stream");
        assert_eq!(t("image/svg+xml"), "application/octet-stream");
        assert_eq!(t("application/xhtml+xml"), "application/octet-stream");
        assert_eq!(t("text/plain"), "text/plain; charset=utf-8");
        assert_eq!(t("application/json"), "application/json");
        assert_eq!(safe_content_type(None), "application/octet-stream");
    }
}
