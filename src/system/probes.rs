//! Liveness, readiness, the OpenAPI document and its docs page.

use std::time::Duration;

use axum::{
    extract::State,
    http::StatusCode,
    response::{Html, IntoResponse, Response},
    routing::get,
};
use serde::Serialize;
use utoipa::ToSchema;

use super::SystemState;
use crate::{
    http::{Routes, Success, envelope::Envelope},
    platform::db,
};

pub fn routes() -> Routes<SystemState> {
    Routes::new()
        .route("/api/system/live", get(live))
        .route("/api/system/ready", get(ready))
        .route("/api/openapi.json", get(openapi_json))
        .route("/api/docs", get(docs))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Live {
    pub status: &'static str,
    pub version: &'static str,
}

/// The process is up. Touches nothing else.
#[utoipa::path(get, path = "/api/system/live", operation_id = "getLiveness", tag = "system",
    responses((status = 200, description = "살아 있음", body = inline(Envelope<Live>))))]
pub async fn live() -> Success<Live> {
    Success::new(Live { status: "UP", version: env!("CARGO_PKG_VERSION") })
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ReadinessCheck)]
pub struct Check {
    pub name: &'static str,
    /// `UP` or `DOWN`; for `claude`, also `DEGRADED` (the model is retired or unknown, or the
    /// breaker is open: the offline coach answers) and `UNKNOWN` (the lifecycle could not be read).
    pub status: &'static str,
    pub elapsed_ms: u64,
    /// What an operator should know (for `claude`: the model and its lifecycle).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Ready {
    /// `UP`, `DEGRADED` (serving, but the AI answers come from the offline coach) or `DOWN`.
    pub status: &'static str,
    pub checks: Vec<Check>,
}

async fn check<F>(name: &'static str, timeout: Duration, fut: F) -> Check
where
    F: std::future::Future<Output = anyhow::Result<()>>,
{
    let started = std::time::Instant::now();
    let status = match tokio::time::timeout(timeout, fut).await {
        Ok(Ok(())) => "UP",
        Ok(Err(err)) => {
            tracing::warn!(check = name, error = format!("{err:#}"), "readiness check failed");
            "DOWN"
        }
        Err(_) => {
            tracing::warn!(check = name, "readiness check timed out");
            "DOWN"
        }
    };
    Check { name, status, elapsed_ms: started.elapsed().as_millis() as u64, detail: None }
}

/// Claude, when configured: the configured model's lifecycle (Models API, kept for ten minutes)
/// and the breaker. Never DOWN: without Claude the offline coach answers.
async fn claude(state: &SystemState, timeout: Duration) -> Option<Check> {
    use crate::platform::{ai::models::ModelStatus, resilience::BreakerState};
    if !state.ai.is_configured() {
        return None;
    }
    let started = std::time::Instant::now();
    let model = state.ai.model();
    let lifecycle = state.ai.model_status(timeout).await;
    let (status, detail) = match &lifecycle {
        ModelStatus::Retired | ModelStatus::NotFound => ("DEGRADED", format!("{model}: {}", lifecycle.label())),
        ModelStatus::Unknown => ("UNKNOWN", format!("{model}: the Models API did not answer")),
        ModelStatus::Deprecated { retires_at } => {
            ("UP", format!("{model}: deprecated, retires {}", retires_at.as_deref().unwrap_or("(unannounced)")))
        }
        ModelStatus::Active => ("UP", format!("{model}: active")),
    };
    let (status, detail) = match state.ai.breaker_state() {
        BreakerState::Open if status == "UP" => ("DEGRADED", format!("{detail}; circuit breaker open")),
        _ => (status, detail),
    };
    Some(Check { name: "claude", status, elapsed_ms: started.elapsed().as_millis() as u64, detail: Some(detail) })
}

/// Whether every configured dependency answers in time: PostgreSQL always; Redis and Azure
/// Blob when configured. 503 when one does not. Claude, when configured, is reported but never
/// makes the app unready: a retired or unknown model (or an open breaker) is `DEGRADED`.
#[utoipa::path(get, path = "/api/system/ready", operation_id = "getReadiness", tag = "system",
    responses((status = 200, description = "준비됨 (status UP, 또는 AI가 오프라인 코치로 답하는 DEGRADED)", body = inline(Envelope<Ready>)),
              (status = 503, description = "의존 서비스 응답 없음", body = inline(Envelope<Ready>))))]
pub async fn ready(State(state): State<SystemState>) -> Response {
    let timeout = state.config.ready_check_timeout;
    let mut checks = vec![check("postgres", timeout, db::ping(&state.db)).await];
    if state.cache.kind() != "memory" {
        checks.push(check("redis", timeout, state.cache.ping()).await);
    }
    if state.blob.kind() != "folder" {
        checks.push(check("blob", timeout, state.blob.ping()).await);
    }
    let up = checks.iter().all(|c| c.status == "UP");
    let ai = claude(&state, timeout).await;
    let degraded = ai.as_ref().is_some_and(|c| c.status == "DEGRADED");
    checks.extend(ai);
    let status = match (up, degraded) {
        (false, _) => "DOWN",
        (true, true) => "DEGRADED",
        (true, false) => "UP",
    };
    let body = Ready { status, checks };
    if up {
        Success::new(body).into_response()
    } else {
        Success(StatusCode::SERVICE_UNAVAILABLE, "일부 의존 서비스가 응답하지 않습니다.", body)
            .into_response()
    }
}

/// The OpenAPI 3.1 document, generated from the code.
pub async fn openapi_json(State(state): State<SystemState>) -> Response {
    let headers = [
        (axum::http::header::CONTENT_TYPE, "application/json"),
        (axum::http::header::CACHE_CONTROL, "public, max-age=300"),
    ];
    (headers, state.api_doc.json()).into_response()
}

/// A browsable page over the OpenAPI document.
pub async fn docs(State(state): State<SystemState>) -> Response {
    ([(axum::http::header::CACHE_CONTROL, "public, max-age=300")], Html(state.api_doc.page().to_string()))
        .into_response()
}
