//! JSON logs on stdout, which the Functions host forwards to Application Insights.
//! Spans carry trace ids and route templates; health values, tokens and names never go in.

use tracing_subscriber::{EnvFilter, fmt};

pub fn init_json() {
    let filter = EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,azure_core=warn,hyper=warn"));
    let _ = fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(true)
        .try_init();
}

/// Human-readable logs for the local host's own messages.
pub fn init_pretty() {
    let filter = EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let _ = fmt().with_env_filter(filter).with_target(false).try_init();
}
