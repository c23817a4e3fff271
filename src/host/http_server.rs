//! The HTTP/1.1 server both the handler and the local front run on: axum's router on hyper, with
//! what `axum::serve` does not offer: a limit on how long a client may take to send a request's
//! head (a connection that trickles headers is closed, not kept forever), a long idle limit for
//! keep-alive connections, the peer's address for the router (`ConnectInfo`), and a graceful stop
//! that lets requests in flight finish.
//!
//! The head limit runs from the head's **first byte**, never while a keep-alive connection waits
//! for its next request: hyper's own `header_read_timeout` starts when it begins waiting, so an
//! idle pooled connection was closed after 10 s and the next request sent on it (the Functions
//! host's, the local front's) got "connection closed without response". An idle connection is
//! closed only after [`IDLE_TIMEOUT`], longer than any client that pools connections to us keeps
//! one idle (the Functions host's .NET pool: 1–2 minutes; the local front's: 60 s), so the client
//! always gives up a connection first and never sends on one we are closing.

use std::{
    future::Future,
    net::SocketAddr,
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::Duration,
};

use anyhow::Context as _;
use axum::{Router, body::Body, extract::ConnectInfo};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    sync::Notify,
    time::Instant,
};
use tower::ServiceExt as _;

/// How long a client may take to send a request's head, from its first byte.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a keep-alive connection may stay idle before we close it.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// How long requests in flight may take to finish once a stop is asked for.
const DRAIN: Duration = Duration::from_secs(10);

pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    serve_with(listener, router, Limits { head: header_read_timeout, idle: IDLE_TIMEOUT }, shutdown).await
}

/// The two clocks of a connection.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// From a request head's first byte to its end.
    pub head: Duration,
    /// With no request under way and no byte moving.
    pub idle: Duration,
}

pub async fn serve_with(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    // hyper's header_read_timeout is off (it defaults to 30 s once a timer is set): it would also
    // run while the connection is idle (see above); the watchdog below times the head from its
    // first byte instead.
    builder.timer(TokioTimer::new()).header_read_timeout(None).keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(err) => {
                    // Out of file descriptors and the like: wait a moment rather than spin.
                    tracing::warn!(error = %err, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let watch = Arc::new(Watch::new());
        let router = router.clone();
        let service_watch = watch.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            service_watch.set(Phase::Busy);
            let answer = router.clone().oneshot(req.map(Body::new));
            let watch = service_watch.clone();
            async move {
                let res = answer.await;
                watch.set(Phase::Idle);
                res
            }
        });
        let io = TokioIo::new(Watched { inner: stream, watch: watch.clone() });
        let conn = graceful.watch(builder.serve_connection(io, service));
        tokio::spawn(async move {
            tokio::pin!(conn);
            tokio::select! {
                ended = &mut conn => if let Err(err) = ended {
                    tracing::debug!(error = %err, "connection ended with an error");
                },
                why = watch.expired(limits) => tracing::debug!(why, "connection closed"),
            }
        });
    }
    drop(listener);
    tokio::time::timeout(DRAIN, graceful.shutdown()).await.context("requests in flight did not finish")?;
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Between requests (or before the first): only the idle limit runs.
    Idle,
    /// A request head has begun to arrive and is not complete.
    Head,
    /// A request is being answered: no limit here (the app's own timeouts apply).
    Busy,
}

/// What a connection is doing, and since when.
struct Watch {
    state: Mutex<(Phase, Instant)>,
    changed: Notify,
}

impl Watch {
    fn new() -> Self {
        Watch { state: Mutex::new((Phase::Idle, Instant::now())), changed: Notify::new() }
    }

    fn get(&self) -> (Phase, Instant) {
        *self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set(&self, phase: Phase) {
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = (phase, Instant::now());
        self.changed.notify_one();
    }

    /// Bytes came in: the first byte after idle starts a head.
    fn read(&self) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if s.0 == Phase::Idle {
            *s = (Phase::Head, Instant::now());
            drop(s);
            self.changed.notify_one();
        }
    }

    /// Bytes went out: an idle connection streaming the end of an answer is not idle.
    fn wrote(&self) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if s.0 == Phase::Idle {
            s.1 = Instant::now();
        }
    }

    /// Resolves when the connection overran a limit, with which.
    async fn expired(&self, limits: Limits) -> &'static str {
        loop {
            let (phase, since) = self.get();
            let (limit, why) = match phase {
                Phase::Head => (limits.head, "the request head took too long"),
                Phase::Idle => (limits.idle, "idle for too long"),
                Phase::Busy => {
                    self.changed.notified().await;
                    continue;
                }
            };
            tokio::select! {
                _ = tokio::time::sleep_until(since + limit) => {
                    if self.get() == (phase, since) {
                        return why;
                    }
                }
                _ = self.changed.notified() => {}
            }
        }
    }
}

/// The connection's socket, telling its [`Watch`] when bytes move.
struct Watched {
    inner: tokio::net::TcpStream,
    watch: Arc<Watch>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.watch.read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.watch.wrote();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.watch.wrote();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The peer of a request served by [`serve`].
pub fn peer(req: &axum::http::Request<Body>) -> Option<SocketAddr> {
    req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0)
}
