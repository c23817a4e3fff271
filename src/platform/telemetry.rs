//! Logs on stdout: JSON, which the Functions host forwards to Application Insights, or plain text
//! for a person at a terminal (the local host and its handler then both print text, so the dev
//! console reads as one). Spans carry trace ids and route templates; health values, tokens and
//! names never go in.

use std::io::IsTerminal as _;

use tracing_subscriber::{EnvFilter, fmt};

use crate::config::Source;
pub use crate::config::settings::LOG_FORMAT;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

impl LogFormat {
    /// The configured format; JSON unless `HEALTHSYNC_LOG_FORMAT=pretty`.
    pub fn from_source(src: &dyn Source) -> Self {
        match LOG_FORMAT.read(src).as_deref().map(str::trim) {
            Some(f) if f.eq_ignore_ascii_case("pretty") => LogFormat::Pretty,
            _ => LogFormat::Json,
        }
    }

    /// Pretty on a terminal, JSON otherwise (a test, a pipe, a log collector).
    pub fn for_stdout() -> Self {
        if std::io::stdout().is_terminal() { LogFormat::Pretty } else { LogFormat::Json }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Json => "json",
            LogFormat::Pretty => "pretty",
        }
    }
}

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,azure_core=warn,hyper=warn"));
    let _ = match format {
        LogFormat::Json => fmt()
            .json()
            .with_env_filter(filter)
            .with_current_span(true)
            .with_span_list(false)
            .with_target(true)
            .try_init(),
        LogFormat::Pretty => fmt().with_env_filter(filter).with_target(false).try_init(),
    };
}
