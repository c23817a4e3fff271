//! Manual entry, one checkup's detail, and its deletion (개인정보보호법 §36).

use axum::{
    extract::State,
    routing::{get, post},
};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{profile, require_consent};
use crate::{
    health::{
        HealthState, api,
        model::validate::{self, ManualEntry},
        store,
        views::{self, CheckupRecord},
    },
    http::{ApiError, ApiJson, ApiPath, ApiResult, Routes, Success, envelope::Envelope, error::ResultExt},
    users::api::ActiveUser,
};

pub fn routes() -> Routes<HealthState> {
    Routes::new()
        .route("/api/health/checkups", post(record_checkup))
        .route("/api/health/checkups/{checkupId}", get(checkup_detail).delete(delete_checkup))
}

fn not_found() -> ApiError {
    ApiError::not_found("검진 결과를 찾을 수 없습니다.")
}

/// Records a checkup typed from a paper result (or from an uploaded sheet, with `fileId`).
/// Answers the stored checkup with its assessment. Emits `checkup.recorded`.
#[utoipa::path(post, path = "/api/health/checkups", operation_id = "recordCheckup", tag = "health", request_body = ManualEntry,
    security(("bearer" = [])),
    responses((status = 201, body = inline(Envelope<CheckupRecord>)),
              (status = 403, description = "`CONSENT_REQUIRED`: no health-data consent", body = crate::http::error::ErrorBody),
              (status = 409, description = "`CHECKUP_EXISTS`: a checkup of that date is stored", body = crate::http::error::ErrorBody),
              (status = 422, body = crate::http::error::ErrorBody)))]
pub async fn record_checkup(
    State(state): State<HealthState>,
    ActiveUser(user): ActiveUser,
    ApiJson(entry): ApiJson<ManualEntry>,
) -> ApiResult<Success<CheckupRecord>> {
    require_consent(&state, user.id).await?;
    let (info, sex) = profile(&state, user.id).await?;
    let new = validate::parse_manual(&entry, state.clock.today(), info.birth_date).map_err(ApiError::Validation)?;
    let file_missing = || ApiError::field("fileId", "업로드한 결과지를 찾을 수 없습니다.");
    if let Some(file) = entry.file_id
        && store::files::get(&state.db, user.id, file).await?.is_none()
    {
        return Err(file_missing());
    }
    let stored = store::checkups::record(&state.db, user.id, &new, entry.file_id, sex)
        .await
        .on_constraint("checkups_file_fkey", file_missing)?
        .ok_or_else(|| ApiError::Conflict {
            code: "CHECKUP_EXISTS",
            message: "같은 날짜의 검진 결과가 이미 있습니다.".into(),
        })?;
    let record = views::record(&stored, sex);
    api::invalidate(&state, user.id).await;
    Ok(Success::created(record).message("검진 결과를 저장했습니다."))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckupDetail {
    #[serde(flatten)]
    pub record: CheckupRecord,
    /// What arrived, as it arrived (the aggregator's record or the entry).
    pub raw: Value,
}

/// One of the caller's checkups with its assessment and raw payload; another user's is 404.
#[utoipa::path(get, path = "/api/health/checkups/{checkupId}", operation_id = "getCheckup", tag = "health", security(("bearer" = [])),
    params(("checkupId" = Uuid, Path, description = "checkup id")),
    responses((status = 200, body = inline(Envelope<CheckupDetail>)), (status = 403, description = "`CONSENT_REQUIRED`: no health-data consent in force (withdrawn or never given)", body = crate::http::error::ErrorBody), (status = 404, body = crate::http::error::ErrorBody)))]
pub async fn checkup_detail(
    State(state): State<HealthState>,
    ActiveUser(user): ActiveUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Success<CheckupDetail>> {
    super::require_processing(&state, user.id).await?;
    let (_, sex) = profile(&state, user.id).await?;
    let (c, raw) = store::checkups::get(&state.db, user.id, id).await?.ok_or_else(not_found)?;
    Ok(Success::new(CheckupDetail { record: views::record(&c, sex), raw }))
}

/// Deletes one of the caller's checkups, unrecoverably (§36).
#[utoipa::path(delete, path = "/api/health/checkups/{checkupId}", operation_id = "deleteCheckup", tag = "health", security(("bearer" = [])),
    params(("checkupId" = Uuid, Path, description = "checkup id")),
    responses((status = 200, body = inline(Envelope<Value>)), (status = 404, body = crate::http::error::ErrorBody)))]
pub async fn delete_checkup(
    State(state): State<HealthState>,
    ActiveUser(user): ActiveUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Success<Value>> {
    if !store::checkups::delete(&state.db, user.id, id).await? {
        return Err(not_found());
    }
    api::invalidate(&state, user.id).await;
    Ok(Success::new(serde_json::json!({ "deleted": true })).message("검진 결과를 삭제했습니다."))
}

