//! HTTP side of the heartbeat demonstration.

use axum::{
    extract::State,
    routing::{get, post},
};
use uuid::Uuid;

use super::store::{self, Heartbeat, Source, SourceTally};
use crate::{
    http::{ApiError, ApiPath, ApiResult, Routes, Success, context},
    system::SystemState,
};

pub fn routes() -> Routes<SystemState> {
    Routes::new()
        .route("/api/system/heartbeats", post(record).get(summary))
        .route("/api/system/heartbeats/{heartbeatId}", get(one))
}

/// Records a heartbeat and announces it (`system.heartbeat`). Local only (the demonstration of
/// the backbone): in Azure it answers 404 and writes nothing; the `HeartbeatTimer` writes them
/// there (docs/decisions.md).
#[utoipa::path(post, path = "/api/system/heartbeats", operation_id = "recordHeartbeat", tag = "system",
    responses((status = 201, description = "기록됨", body = inline(crate::http::envelope::Envelope<Heartbeat>)),
              (status = 404, description = "Azure: 타이머만 기록합니다", body = crate::http::error::ErrorBody)))]
pub async fn record(State(state): State<SystemState>) -> ApiResult<Success<Heartbeat>> {
    // An anonymous write is a demonstration for local work only; in Azure the timer writes them.
    if state.config.environment == crate::config::Environment::Azure {
        return Err(ApiError::not_found("요청한 주소를 찾을 수 없습니다."));
    }
    let hb = store::record(&state.db, Source::Http, &context::trace_id()).await?;
    Ok(Success::created(hb).message("하트비트를 기록했습니다."))
}

/// Heartbeats recorded and tallied, per source.
#[utoipa::path(get, path = "/api/system/heartbeats", operation_id = "getHeartbeatSummary", tag = "system",
    responses((status = 200, description = "요약", body = inline(crate::http::envelope::Envelope<Vec<SourceTally>>))))]
pub async fn summary(State(state): State<SystemState>) -> ApiResult<Success<Vec<SourceTally>>> {
    Ok(Success::new(store::summary(&state.db).await?))
}

/// One heartbeat, with how often the consumer applied it.
#[utoipa::path(get, path = "/api/system/heartbeats/{heartbeatId}", operation_id = "getHeartbeat", tag = "system",
    params(("heartbeatId" = Uuid, Path, description = "하트비트 ID")),
    responses((status = 200, description = "하트비트", body = inline(crate::http::envelope::Envelope<Heartbeat>)),
              (status = 404, description = "없음", body = crate::http::error::ErrorBody)))]
pub async fn one(State(state): State<SystemState>, ApiPath(id): ApiPath<Uuid>) -> ApiResult<Success<Heartbeat>> {
    match store::get(&state.db, id).await? {
        Some(hb) => Ok(Success::new(hb)),
        None => Err(ApiError::not_found("하트비트를 찾을 수 없습니다.")),
    }
}
