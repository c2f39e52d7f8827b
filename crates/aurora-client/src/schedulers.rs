//! Which scheduler a request goes to when a cluster has several (`--etcd`): the clients know a
//! list of schedulers ([`Schedulers`]: `clusters.json`'s `scheduler_uris`, the agent's
//! `--scheduler URL1,URL2`), send to the current one, move to the next when one cannot be
//! reached, and follow a follower's `307` to the leader themselves ([`send`]), keeping every
//! header (reqwest's own redirects drop `Authorization` on the way to another port) and the body.
//!
//! Not here: retries of requests that reached a scheduler, which are the callers'.

use crate::{ClientError, ErrorBody};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The most redirects one request follows (a follower points at the leader: one suffices).
const MAX_REDIRECTS: usize = 3;

/// The schedulers of one cluster, and which one is current. Cheap to clone; clones share the
/// current one.
#[derive(Debug, Clone)]
pub struct Schedulers {
    list: Arc<[String]>,
    current: Arc<AtomicUsize>,
}

impl Schedulers {
    /// `http://a:8081` or several, comma-separated (trailing slashes dropped, empty items
    /// ignored).
    pub fn parse(spec: &str) -> Schedulers {
        let list: Vec<String> = spec
            .split(',')
            .map(|s| s.trim().trim_end_matches('/').to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        Schedulers {
            list: if list.is_empty() {
                vec![String::new()].into()
            } else {
                list.into()
            },
            current: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The current scheduler's base URL.
    pub fn base(&self) -> &str {
        &self.list[self.current.load(Ordering::Relaxed) % self.list.len()]
    }

    /// Every scheduler, in order.
    pub fn all(&self) -> &[String] {
        &self.list
    }

    /// Moves on from `failed` to the next scheduler (unless another caller already did).
    pub fn next_after(&self, failed: &str) {
        let i = self.current.load(Ordering::Relaxed);
        if self.list[i % self.list.len()] == failed {
            let _ = self.current.compare_exchange(
                i,
                (i + 1) % self.list.len(),
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
    }
}

/// How often a request answered "no leader yet, retry after N s" is sent again: an election
/// takes about one lease (3 s by default).
const MAX_ELECTION_WAITS: u32 = 10;

/// A `Retry-After` in seconds, capped at 5 s.
fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    let secs: u64 = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs.min(5)))
}

/// `url` with its scheme, host and port replaced by `base`'s.
fn rebase(url: &reqwest::Url, base: &str) -> Option<reqwest::Url> {
    let base = reqwest::Url::parse(base).ok()?;
    let mut out = url.clone();
    out.set_scheme(base.scheme()).ok()?;
    out.set_host(base.host_str()).ok()?;
    out.set_port(base.port()).ok()?;
    Some(out)
}

/// `retry` (a copy of the request sent to `url`) aimed at `to(its URL)` instead (unchanged when
/// that is `None`), and its URL.
fn retarget(
    retry: reqwest::RequestBuilder,
    url: &str,
    to: impl FnOnce(&reqwest::Url) -> Option<reqwest::Url>,
) -> Result<(reqwest::RequestBuilder, String), ClientError> {
    let (client, request) = retry.build_split();
    let mut request = request.map_err(|source| ClientError::Transport {
        url: url.to_owned(),
        source,
    })?;
    if let Some(target) = to(request.url()) {
        *request.url_mut() = target;
    }
    let url = request.url().to_string();
    Ok((reqwest::RequestBuilder::from_parts(client, request), url))
}

/// Sends `req` (to `url`, on `schedulers`' current one): a success answer, or the scheduler's
/// refusal (its JSON `error`). A scheduler that cannot be reached is left for the next one (the
/// request is sent again there: it never arrived); a `307`/`308` is followed with the same
/// method, headers and body, never from `https` to `http`; a `503` with `Retry-After` (a follower
/// during an election) is sent again after that wait, up to [`MAX_ELECTION_WAITS`] times.
pub(crate) async fn send(
    req: reqwest::RequestBuilder,
    url: &str,
    schedulers: &Schedulers,
) -> Result<reqwest::Response, ClientError> {
    let mut req = req;
    let mut url = url.to_owned();
    let mut redirects = 0;
    let mut unreachable = 0;
    let mut waits = 0;
    loop {
        let mut again = req.try_clone();
        let resp = match req.send().await {
            Ok(r) => r,
            Err(source) => {
                let base = schedulers.base().to_owned();
                let others = schedulers.all().len() > 1 && unreachable + 1 < schedulers.all().len();
                match again.take().filter(|_| source.is_connect() && others) {
                    Some(retry) => {
                        schedulers.next_after(&base);
                        unreachable += 1;
                        (req, url) = retarget(retry, &url, |u| rebase(u, schedulers.base()))?;
                        continue;
                    }
                    None => return Err(ClientError::Transport { url, source }),
                }
            }
        };
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        if matches!(status.as_u16(), 307 | 308) && redirects < MAX_REDIRECTS {
            let target = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| resp.url().join(l).ok())
                .filter(|t| !(resp.url().scheme() == "https" && t.scheme() != "https"));
            if let (Some(target), Some(retry)) = (target, again.take()) {
                redirects += 1;
                (req, url) = retarget(retry, &url, |_| Some(target))?;
                continue;
            }
        }
        // A follower that knows no leader yet (an election under way) did nothing with the
        // request and says when to ask again: asked again, a few times.
        if status.as_u16() == 503
            && waits < MAX_ELECTION_WAITS
            && let Some(wait) = retry_after(&resp)
            && let Some(retry) = again.take()
        {
            waits += 1;
            tokio::time::sleep(wait).await;
            (req, url) = retarget(retry, &url, |_| None)?;
            continue;
        }
        let code = status.as_u16();
        let text = resp.text().await.unwrap_or_default();
        let message = serde_json::from_str::<ErrorBody>(&text)
            .map(|b| b.error)
            .unwrap_or_else(|_| format!("HTTP {code}: {text}"));
        return Err(ClientError::Http {
            status: code,
            message,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_follower_without_a_leader_is_asked_again_after_its_retry_after() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let answers = [
            "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\nContent-Type: application/json\r\nContent-Length: 20\r\nConnection: close\r\n\r\n{\"error\":\"election\"}",
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
        ];
        let server = tokio::spawn(async move {
            for answer in answers {
                let (mut conn, _) = listener.accept().await.unwrap();
                let mut buf = vec![0u8; 4096];
                let _ = conn.read(&mut buf).await.unwrap();
                conn.write_all(answer.as_bytes()).await.unwrap();
            }
        });
        let schedulers = Schedulers::parse(&format!("http://{addr}"));
        let url = format!("http://{addr}/api/v1/jobs");
        let http = reqwest::Client::new();
        let resp = send(http.get(&url), &url, &schedulers).await.unwrap();
        assert_eq!(resp.status(), 200, "answered on the second try");
        server.await.unwrap();
    }

    #[test]
    fn a_list_of_schedulers_moves_on_from_the_failed_one() {
        let s = Schedulers::parse("http://a:1/, http://b:2,,http://c:3");
        assert_eq!(s.all(), ["http://a:1", "http://b:2", "http://c:3"]);
        assert_eq!(s.base(), "http://a:1");
        let other = s.clone();
        s.next_after("http://a:1");
        // Another caller that saw a fail too does not skip b.
        other.next_after("http://a:1");
        assert_eq!(s.base(), "http://b:2");
        s.next_after("http://b:2");
        s.next_after("http://c:3");
        assert_eq!(s.base(), "http://a:1");
        let moved = rebase(
            &reqwest::Url::parse("http://a:1/api/v1/jobs?x=1").unwrap(),
            "https://b:2",
        )
        .unwrap();
        assert_eq!(moved.as_str(), "https://b:2/api/v1/jobs?x=1");
    }
}
