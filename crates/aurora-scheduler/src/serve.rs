//! The HTTP listener: what a client on the network can hold of the scheduler. Every connection
//! must send its request headers within [`Limits::header_read_timeout`] (no slowloris: a
//! connection trickling a header is closed), is closed after [`Limits::idle_timeout`] without a
//! byte either way (a streaming response's heartbeats keep it open), and at most
//! [`Limits::max_connections`] are served at once (more wait in the kernel's backlog). HTTPS
//! (`axum-server`) gets the same header and idle timeouts (and its own 10 s TLS handshake
//! timeout); its cap counts connections past the TCP accept, so beyond it connections wait
//! accepted, holding a file descriptor, before their handshake.
//!
//! Plain HTTP speaks HTTP/1.1 and, to clients that open with its preface, HTTP/2 (h2c, "prior
//! knowledge"): agents use it so that one connection carries both their command stream and their
//! status posts, one file descriptor a machine on either side. The header timeout is HTTP/1's;
//! an HTTP/2 connection is bounded by the idle timeout and [`H2_STREAMS`] streams at once.
//!
//! Not here: what a request may do (`http::auth`) or how large its body may be (`http::router`).

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tower::ServiceExt;

/// Requests one HTTP/2 connection may have in flight at once (an agent holds its command
/// stream and posts a status batch or a heartbeat answer beside it).
pub const H2_STREAMS: u32 = 64;

/// What one client may hold.
#[derive(Debug, Clone)]
pub struct Limits {
    /// From a connection's opening (or the previous response's end) to the last byte of a
    /// request's headers: it also closes keep-alive connections idle between requests.
    pub header_read_timeout: Duration,
    /// Nothing read or written for this long closes the connection.
    pub idle_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(120),
            max_connections: 16_384,
        }
    }
}

/// Serves `router` on `listener` (plain HTTP) until the listener fails.
pub async fn plain(listener: tokio::net::TcpListener, router: Router, limits: Limits) {
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return; // never closed
        };
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                // Out of file descriptors, say: wait a little rather than spin.
                tracing::warn!("accepting a connection failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let limits = limits.clone();
        tokio::spawn(async move {
            let io = TokioIo::new(Idle::new(stream, limits.idle_timeout, slot));
            let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                router.clone().oneshot(req)
            });
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout);
            builder
                .http2()
                .timer(TokioTimer::new())
                .max_concurrent_streams(H2_STREAMS);
            let served = builder.serve_connection_with_upgrades(io, service).await;
            if let Err(e) = served {
                tracing::debug!(%peer, "connection closed: {e}");
            }
        });
    }
}

/// Serves `router` over HTTPS with the certificate chain and key in `cert` and `key` (PEM).
pub async fn tls(
    listener: tokio::net::TcpListener,
    router: Router,
    cert: &std::path::Path,
    key: &std::path::Path,
    limits: &Limits,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    use anyhow::Context as _;
    let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
        .await
        .with_context(|| {
            format!(
                "loading the TLS certificate {} and key {}",
                cert.display(),
                key.display()
            )
        })?;
    let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(tls).acceptor(IdleAcceptor {
        timeout: limits.idle_timeout,
        slots: Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1))),
    });
    let mut server = axum_server::from_tcp(listener.into_std()?)?.acceptor(acceptor);
    server
        .http_builder()
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let app = router.into_make_service_with_connect_info::<SocketAddr>();
    Ok(tokio::spawn(async move {
        if let Err(e) = server.serve(app).await {
            tracing::error!("HTTPS server failed: {e}");
        }
    }))
}

/// Under TLS: each accepted TCP stream waits for one of the connection slots, then becomes an
/// [`Idle`] one, before its handshake.
#[derive(Clone)]
struct IdleAcceptor {
    timeout: Duration,
    slots: Arc<tokio::sync::Semaphore>,
}

impl<I, S> axum_server::accept::Accept<I, S> for IdleAcceptor
where
    I: Send + 'static,
    S: Send + 'static,
{
    type Stream = Idle<I>;
    type Service = S;
    type Future = Pin<Box<dyn Future<Output = std::io::Result<(Idle<I>, S)>> + Send>>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        let (slots, timeout) = (self.slots.clone(), self.timeout);
        Box::pin(async move {
            let slot = slots.acquire_owned().await.map_err(std::io::Error::other)?;
            Ok((Idle::new(stream, timeout, slot), service))
        })
    }
}

/// A connection that fails once nothing was read or written for its timeout, holding its slot
/// of the connection cap while it lives.
struct Idle<T> {
    inner: T,
    timeout: Duration,
    deadline: Pin<Box<tokio::time::Sleep>>,
    _slot: tokio::sync::OwnedSemaphorePermit,
}

impl<T> Idle<T> {
    fn new(inner: T, timeout: Duration, slot: tokio::sync::OwnedSemaphorePermit) -> Self {
        Idle {
            inner,
            timeout,
            deadline: Box::pin(tokio::time::sleep(timeout)),
            _slot: slot,
        }
    }

    fn active(&mut self) {
        let next = tokio::time::Instant::now() + self.timeout;
        self.deadline.as_mut().reset(next);
    }

    /// After the inner IO said Pending: an error once the deadline has passed.
    fn expired(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Error> {
        ready!(self.deadline.as_mut().poll(cx));
        Poll::Ready(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "connection idle for too long",
        ))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Idle<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let me = self.get_mut();
        match Pin::new(&mut me.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                me.active();
                Poll::Ready(r)
            }
            Poll::Pending => me.expired(cx).map(Err),
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Idle<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let me = self.get_mut();
        match Pin::new(&mut me.inner).poll_write(cx, buf) {
            Poll::Ready(r) => {
                me.active();
                Poll::Ready(r)
            }
            Poll::Pending => me.expired(cx).map(Err),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn server(limits: Limits) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let addr = listener.local_addr().expect("bound");
        let router = Router::new().route(
            "/",
            axum::routing::get(|ConnectInfo(p): ConnectInfo<SocketAddr>| async move {
                p.ip().to_string()
            }),
        );
        tokio::spawn(plain(listener, router, limits));
        addr
    }

    /// Reads until the server closes; `Err` when it does not within `limit`.
    async fn closed_within(s: &mut tokio::net::TcpStream, limit: Duration) -> Result<Vec<u8>, ()> {
        let mut got = Vec::new();
        tokio::time::timeout(limit, s.read_to_end(&mut got))
            .await
            .map_err(|_| ())?
            .map_err(|_| ())?;
        Ok(got)
    }

    #[tokio::test]
    async fn requests_are_served_with_the_peer_and_a_trickled_header_is_cut_off() {
        let limits = Limits {
            header_read_timeout: Duration::from_millis(300),
            idle_timeout: Duration::from_secs(60),
            max_connections: 8,
        };
        let addr = server(limits).await;
        let body = reqwest::get(format!("http://{addr}/"))
            .await
            .expect("answered")
            .text()
            .await
            .expect("a body");
        assert_eq!(body, "127.0.0.1");
        let mut s = tokio::net::TcpStream::connect(addr)
            .await
            .expect("connects");
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
            .await
            .expect("sent");
        closed_within(&mut s, Duration::from_secs(5))
            .await
            .expect("closed after the header timeout");
    }

    #[tokio::test]
    async fn a_silent_connection_is_closed_after_the_idle_timeout_and_connections_are_capped() {
        let limits = Limits {
            header_read_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_millis(300),
            max_connections: 1,
        };
        let addr = server(limits).await;
        let mut first = tokio::net::TcpStream::connect(addr)
            .await
            .expect("connects");
        // The only slot is taken: a second connection is not served while the first lives.
        let mut second = tokio::net::TcpStream::connect(addr).await.expect("backlog");
        second
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .expect("sent");
        let mut buf = [0u8; 1];
        let waited = tokio::time::timeout(Duration::from_millis(100), second.read(&mut buf)).await;
        assert!(waited.is_err(), "served beyond the cap");
        closed_within(&mut first, Duration::from_secs(5))
            .await
            .expect("the silent one is closed");
        let answer = closed_within(&mut second, Duration::from_secs(5))
            .await
            .expect("then the second is served");
        assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
    }
}
