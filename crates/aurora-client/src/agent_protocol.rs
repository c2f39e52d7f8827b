//! The agent protocol's client side (`/agent/v1`): what an agent says to its scheduler. It
//! registers ([`AgentProtocolClient::register`]), follows its NDJSON command stream
//! ([`AgentProtocolClient::commands`]) and posts status batches
//! ([`AgentProtocolClient::post_status`], an empty one being a heartbeat), presenting the
//! cluster secret with every request. To a plain `http://` scheduler it speaks HTTP/2 from the
//! start (h2c), so that everything an agent says travels on one connection.
//!
//! Not here: what the agent does with a command, how often it retries a status batch, or when a
//! silent stream counts as dead (the agent decides; `aurora_agent`).

use crate::schedulers::{Schedulers, send};
use crate::{ClientError, build, http_builder};
use aurora_api::{
    AGENT_CREDENTIAL_HEADER, AgentCommand, RegisterRequest, RegisterResponse, StatusBatch, routes,
};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use std::time::Duration;

/// How long a heartbeat may take: a late one is as good as lost, the next one follows.
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(5);

/// How often an HTTP/2 connection is pinged, so that a dead peer is noticed between commands.
const KEEPALIVE: Duration = Duration::from_secs(10);

/// One item of the command stream that is not a command.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// A line that is not an [`AgentCommand`]; the stream goes on after it.
    #[error("a command that does not parse: {0}")]
    Unparsable(serde_json::Error),
    /// The connection broke; this is the stream's last item.
    #[error("the command stream broke: {0}")]
    Broken(reqwest::Error),
}

/// The commands from the scheduler, in order. It ends when the scheduler closes the stream.
pub type CommandStream = BoxStream<'static, Result<AgentCommand, CommandError>>;

/// An agent's client for one scheduler; cheap to clone.
#[derive(Clone)]
pub struct AgentProtocolClient {
    schedulers: Schedulers,
    http: reqwest::Client,
}

impl AgentProtocolClient {
    /// A client for the scheduler at `base` (`http://host:port`, or several comma-separated:
    /// the next is tried when one cannot be reached, and followers' redirects to the leader are
    /// followed), presenting the agent's
    /// `credential` with every request and trusting the PEM certificates `ca` (besides the
    /// system's) for `https://`. Requests have no overall timeout: the command stream lives as
    /// long as the connection.
    pub fn new(base: &str, credential: &str, ca: Option<&[u8]>) -> Result<Self, ClientError> {
        Self::with_transport(base, credential, ca, true)
    }

    /// As [`AgentProtocolClient::new`], but HTTP/1.1 only, one connection per request in flight:
    /// for a scheduler reached through a proxy that speaks no HTTP/2.
    pub fn new_http1(base: &str, credential: &str, ca: Option<&[u8]>) -> Result<Self, ClientError> {
        Self::with_transport(base, credential, ca, false)
    }

    fn with_transport(
        base: &str,
        credential: &str,
        ca: Option<&[u8]>,
        http2: bool,
    ) -> Result<Self, ClientError> {
        let mut headers = reqwest::header::HeaderMap::new();
        let mut value = reqwest::header::HeaderValue::from_str(credential).map_err(|_| {
            ClientError::Auth("the agent credential is not a valid header value".into())
        })?;
        value.set_sensitive(true);
        headers.insert(AGENT_CREDENTIAL_HEADER, value);
        let schedulers = Schedulers::parse(base);
        let mut builder = http_builder(ca)?.default_headers(headers);
        // Plain HTTP: HTTP/2 from the first byte (the scheduler serves both), so the command
        // stream and the status posts share one connection. Over TLS, ALPN decides.
        if http2 && schedulers.all().iter().all(|s| s.starts_with("http://")) {
            builder = builder
                .http2_prior_knowledge()
                .http2_keep_alive_interval(KEEPALIVE)
                .http2_keep_alive_while_idle(true);
        }
        Ok(AgentProtocolClient {
            schedulers,
            http: build(builder)?,
        })
    }

    /// The current scheduler's base URL.
    pub fn base(&self) -> &str {
        self.schedulers.base()
    }

    /// Every scheduler the agent knows of.
    pub fn schedulers(&self) -> &Schedulers {
        &self.schedulers
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.schedulers.base())
    }

    /// `POST /agent/v1/register`: announces the agent (again, after any restart of either side)
    /// with the tasks it still runs. An answer that does not parse is an error: the agent would
    /// otherwise guess the heartbeat its stream is watched by.
    pub async fn register(&self, req: &RegisterRequest) -> Result<RegisterResponse, ClientError> {
        let url = self.url(routes::AGENT_REGISTER);
        let resp = send(self.http.post(&url).json(req), &url, &self.schedulers).await?;
        resp.json().await.map_err(|e| {
            ClientError::Decode(format!(
                "the registration answer from {url} does not parse: {e}"
            ))
        })
    }

    /// `GET /agent/v1/AGENT/commands`: the command stream, one JSON [`AgentCommand`] a line.
    pub async fn commands(&self, agent_id: &str) -> Result<CommandStream, ClientError> {
        let url = self.url(&routes::agent_commands(agent_id));
        let resp = send(self.http.get(&url), &url, &self.schedulers).await?;
        Ok(command_lines(resp.bytes_stream()))
    }

    /// `POST /agent/v1/AGENT/status`: one batch of status updates, sent once (the caller retries
    /// until acknowledged; applying a batch twice changes nothing).
    pub async fn post_status(
        &self,
        agent_id: &str,
        batch: &StatusBatch,
    ) -> Result<(), ClientError> {
        let url = self.url(&routes::agent_status(agent_id));
        send(self.http.post(&url).json(batch), &url, &self.schedulers)
            .await
            .map(|_| ())
    }

    /// Answers a heartbeat with an empty status batch, so the scheduler knows the agent lives;
    /// given up after a few seconds.
    pub async fn heartbeat(&self, agent_id: &str) -> Result<(), ClientError> {
        let url = self.url(&routes::agent_status(agent_id));
        let empty = StatusBatch {
            updates: Vec::new(),
        };
        let req = self.http.post(&url).timeout(HEARTBEAT_TIMEOUT).json(&empty);
        send(req, &url, &self.schedulers).await.map(|_| ())
    }
}

/// Splits a body into lines and parses each as a command. A partial line at the end of a broken
/// or closed body is dropped: it was never a whole command.
fn command_lines<S>(body: S) -> CommandStream
where
    S: futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Send + 'static,
{
    struct Lines {
        body: BoxStream<'static, reqwest::Result<bytes::Bytes>>,
        buf: Vec<u8>,
        broken: bool,
    }
    let start = Lines {
        body: body.boxed(),
        buf: Vec::new(),
        broken: false,
    };
    futures_util::stream::unfold(start, |mut s| async move {
        loop {
            if let Some(pos) = s.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = s.buf.drain(..=pos).collect();
                let item =
                    serde_json::from_slice::<AgentCommand>(&line).map_err(CommandError::Unparsable);
                return Some((item, s));
            }
            if s.broken {
                return None;
            }
            match s.body.next().await {
                Some(Ok(chunk)) => s.buf.extend_from_slice(&chunk),
                Some(Err(e)) => {
                    s.broken = true;
                    s.buf.clear();
                    return Some((Err(CommandError::Broken(e)), s));
                }
                None => return None,
            }
        }
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(parts: &[&'static str]) -> Vec<reqwest::Result<bytes::Bytes>> {
        parts
            .iter()
            .map(|p| Ok(bytes::Bytes::from_static(p.as_bytes())))
            .collect()
    }

    #[tokio::test]
    async fn commands_are_lines_whatever_the_chunks() {
        let body = futures_util::stream::iter(chunks(&[
            "\"heartbeat\"\n{\"kill\":{\"task_id\":\"t\",",
            "\"grace_ms\":5}}\nnot json\n\"heart",
            "beat\"\n\"heartbeat\"",
        ]));
        let items: Vec<_> = command_lines(body).collect().await;
        assert_eq!(items.len(), 4, "{items:?}");
        assert!(matches!(items[0], Ok(AgentCommand::Heartbeat)));
        assert!(matches!(
            &items[1],
            Ok(AgentCommand::Kill { task_id, grace_ms: 5 }) if task_id == "t"
        ));
        assert!(matches!(items[2], Err(CommandError::Unparsable(_))));
        // Split across chunks; the last, without its newline, was never whole and is dropped.
        assert!(matches!(items[3], Ok(AgentCommand::Heartbeat)));
    }

    #[tokio::test]
    async fn a_registration_answer_that_does_not_parse_is_an_error() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            // Read the whole request (headers, then Content-Length bytes) before answering.
            let mut req = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                let n = conn.read(&mut buf).await.unwrap();
                req.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&req).to_lowercase();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length: usize = text
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map_or(0, |v| v.trim().parse().unwrap());
                    if req.len() >= end + 4 + length {
                        break;
                    }
                }
                assert!(n > 0, "the request ended early");
            }
            let body = "{\"heartbeat\":\"soon\"}";
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            conn.write_all(answer.as_bytes()).await.unwrap();
        });
        // This fake speaks HTTP/1.1 only.
        let client = AgentProtocolClient::new_http1(
            &format!("http://{addr}"),
            "credential-0123456789",
            None,
        )
        .unwrap();
        let req = RegisterRequest {
            agent_id: "a1".into(),
            hostname: "h".into(),
            endpoint: "http://h:1".into(),
            resources: aurora_api::AgentResources {
                cpu: 1.0,
                ram_mb: 1,
                disk_mb: 1,
                port_range: (1, 2),
            },
            attributes: Default::default(),
            running: Vec::new(),
            isolation: "none".into(),
        };
        let e = client.register(&req).await.unwrap_err();
        assert!(matches!(e, ClientError::Decode(_)), "{e:?}");
        assert!(e.to_string().contains("registration answer"), "{e}");
    }

    #[test]
    fn a_credential_that_is_no_header_value_is_refused() {
        let e = AgentProtocolClient::new("http://x", "a\nb", None)
            .err()
            .expect("refused");
        assert!(matches!(e, ClientError::Auth(_)), "{e:?}");
    }
}
