//! Runs the handler as a child process the way the Functions host does: a private port in
//! `FUNCTIONS_CUSTOMHANDLER_PORT`, `GET /` polled until it answers, restarted when it dies.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU32, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use tokio::process::Command;

use crate::config::CUSTOMHANDLER_PORT;

/// What the rest of the local host knows about the handler process.
#[derive(Clone)]
pub struct Handler {
    pub port: u16,
    pub base: String,
    pid: Arc<AtomicU32>,
    ready: Arc<AtomicBool>,
    restarts: Arc<AtomicU32>,
    stopping: Arc<AtomicBool>,
    stop: Arc<tokio::sync::Notify>,
    client: reqwest::Client,
}

impl Handler {
    pub fn pid(&self) -> u32 {
        self.pid.load(Ordering::SeqCst)
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    pub fn restarts(&self) -> u32 {
        self.restarts.load(Ordering::SeqCst)
    }

    /// Stops the handler for good (the local host is shutting down).
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.stop.notify_waiters();
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Waits until the handler answers (after a restart, say), up to `limit`.
    pub async fn wait_ready(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.is_ready() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.is_ready()
    }
}

impl Handler {
    /// A handler that something else runs at `base` (tests, or a handler started by hand).
    pub fn attach(base: &str) -> anyhow::Result<Self> {
        let port = url::Url::parse(base).ok().and_then(|u| u.port()).context("a handler URL with a port")?;
        let handler = Self::new(port)?;
        handler.ready.store(true, Ordering::SeqCst);
        Ok(Handler { base: base.trim_end_matches('/').to_string(), ..handler })
    }

    fn new(port: u16) -> anyhow::Result<Self> {
        Ok(Handler {
            port,
            base: format!("http://127.0.0.1:{port}"),
            pid: Arc::new(AtomicU32::new(0)),
            ready: Arc::new(AtomicBool::new(false)),
            restarts: Arc::new(AtomicU32::new(0)),
            stopping: Arc::new(AtomicBool::new(false)),
            stop: Arc::new(tokio::sync::Notify::new()),
            client: client()?,
        })
    }
}

/// How long the local host keeps an idle connection to the handler (the Functions host's own
/// pool keeps one 1–2 minutes); below the handler's `IDLE_TIMEOUT`.
pub const LOCAL_CLIENT_IDLE: Duration = Duration::from_secs(60);

fn client() -> anyhow::Result<reqwest::Client> {
    // Loopback only: a proxy from the environment must never sit between host and handler.
    // Idle pooled connections are dropped here well before the handler would close them
    // (`http_server::IDLE_TIMEOUT`), so the client never sends on a connection being closed.
    reqwest::Client::builder()
        .no_proxy()
        .pool_idle_timeout(LOCAL_CLIENT_IDLE)
        .connect_timeout(Duration::from_secs(2))
        .build()
        .context("building the local host's HTTP client")
}

/// A free loopback port for the handler.
pub fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0)).context("finding a free port")?;
    Ok(l.local_addr()?.port())
}

/// Starts the handler and keeps it running until the returned handle is dropped with the
/// runtime. Fails if the first start does not answer within the host's 30 s.
pub async fn start(env: Vec<(String, String)>) -> anyhow::Result<Handler> {
    let port = free_port()?;
    let exe = std::env::current_exe().context("locating the healthsync binary")?;
    let handler = Handler::new(port)?;
    let h = handler.clone();
    tokio::spawn(async move {
        let mut first = true;
        loop {
            let mut cmd = Command::new(&exe);
            cmd.arg("serve").env(CUSTOMHANDLER_PORT, port.to_string()).kill_on_drop(true);
            for (k, v) in &env {
                cmd.env(k, v);
            }
            match cmd.spawn() {
                Ok(mut child) => {
                    h.pid.store(child.id().unwrap_or(0), Ordering::SeqCst);
                    let started = Instant::now();
                    if poll_until_up(&h).await {
                        h.ready.store(true, Ordering::SeqCst);
                        tracing::info!(
                            pid = h.pid(),
                            port,
                            ms = started.elapsed().as_millis() as u64,
                            "handler is up"
                        );
                    }
                    let stopped = h.stop.notified();
                    tokio::select! {
                        status = child.wait() => {
                            h.ready.store(false, Ordering::SeqCst);
                            if h.stopping.load(Ordering::SeqCst) {
                                return;
                            }
                            tracing::warn!(?status, "handler exited; restarting it");
                        }
                        _ = stopped => {
                            h.ready.store(false, Ordering::SeqCst);
                            let _ = child.kill().await;
                            return;
                        }
                    }
                }
                Err(err) => tracing::error!(error = %err, "could not start the handler"),
            }
            if !first {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            first = false;
            h.restarts.fetch_add(1, Ordering::SeqCst);
        }
    });
    anyhow::ensure!(
        handler.wait_ready(Duration::from_secs(30)).await,
        "the handler did not answer GET / within 30 s"
    );
    Ok(handler)
}

async fn poll_until_up(h: &Handler) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(r) = h.client.get(format!("{}/", h.base)).timeout(Duration::from_millis(500)).send().await {
            // Any HTTP answer means the handler is listening.
            let _ = r.status();
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    false
}
