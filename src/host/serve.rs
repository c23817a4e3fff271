//! `healthsync serve`: the custom handler the Functions host starts.

use std::net::{Ipv4Addr, SocketAddr};

use anyhow::Context;
use axum::Router;

use crate::config;

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
