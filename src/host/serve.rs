//! `healthsync serve`: the custom handler the Functions host starts.

use std::net::{Ipv4Addr, SocketAddr};

use std::time::Duration;

use anyhow::Context;
use axum::{
    Router,
    extract::{Request, State},
    middleware::{self, Next},
    response::Response,
};

use crate::{config, platform::db::Warmup};

/// Lets requests through once the instance's first database connection is open (or has failed),
/// waiting at most `at_most`; the host's `GET /` and `/api/system/live` never wait.
pub fn after_warmup(router: Router, warmup: Warmup, at_most: Duration) -> Router {
    router.layer(middleware::from_fn_with_state((warmup, at_most), wait_for_warmup))
}

async fn wait_for_warmup(
    State((warmup, at_most)): State<(Warmup, Duration)>,
    req: Request,
    next: Next,
) -> Response {
    if !matches!(req.uri().path(), "/" | "/api/system/live") {
        warmup.ready(at_most).await;
    }
    next.run(req).await
}

/// Binds 127.0.0.1 at `FUNCTIONS_CUSTOMHANDLER_PORT` (the host's private port, never the
/// public one) and serves `app` until SIGTERM or Ctrl-C, letting requests in flight finish.
pub async fn serve(app: Router, port: u16) -> anyhow::Result<()> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding 127.0.0.1:{port} ({})", config::CUSTOMHANDLER_PORT))?;
    tracing::info!(port, "handler listening");
    super::http_server::serve(listener, app, super::http_server::HEADER_READ_TIMEOUT, shutdown_signal())
        .await
        .context("serving")
}

pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
