//! History (the old contract's fields plus ids and assessments), trends and peers.

use axum::{extract::State, routing::get};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::profile;
use crate::{
    health::{
        HealthState,
        api::{self, UserInfo},
        population::peers::{self, Peers},
        trends::{self, ChartData, Series},
        views::{self, CheckupRecord, NormalRangeReference},
    },
    http::{
        ApiError, ApiQuery, ApiResult, Routes, Success,
        envelope::{Envelope, PreRendered},
    },
    users::api::ActiveUser,
};

pub fn routes() -> Routes<HealthState> {
    Routes::new()
        .route("/api/health/checkup/history", get(checkup_history))
        .route("/api/health/trends", get(health_trends))
        .route("/api/health/peers", get(health_peers))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// How many records, newest first (1–50, default 5).
    #[param(minimum = 1, maximum = 50)]
    pub max_records: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryResponse {
    pub user_info: UserInfo,
    /// Newest first.
    pub checkup_records: Vec<CheckupRecord>,
    pub chart_data: ChartData,
    pub normal_range_reference: NormalRangeReference,
    /// All the user's checkups, whatever `maxRecords` shows.
    pub total_records: i64,
}

/// The caller's checkups, newest first, each with its assessment; a chart and the reference ranges
/// for the caller's sex.
#[utoipa::path(get, path = "/api/health/checkup/history", operation_id = "getCheckupHistory", tag = "health", security(("bearer" = [])),
    params(HistoryQuery),
    responses((status = 200, body = inline(Envelope<HistoryResponse>)), (status = 403, description = "`CONSENT_REQUIRED`: no health-data consent in force (withdrawn or never given)", body = crate::http::error::ErrorBody), (status = 422, body = crate::http::error::ErrorBody)))]
pub async fn checkup_history(
    State(state): State<HealthState>,
    ActiveUser(user): ActiveUser,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> ApiResult<PreRendered> {
    let max = q.max_records.unwrap_or(api::HISTORY_DEFAULT);
    if !(1..=api::HISTORY_MAX).contains(&max) {
        return Err(ApiError::field("maxRecords", "maxRecords는 1~50 사이로 보내 주세요."));
    }
    super::require_processing(&state, user.id).await?;
    // The app's usual call is answered from its rendered JSON; any other size is rendered anew.
    let default = max == api::HISTORY_DEFAULT;
    if default && let Some(view) = api::cached_view(&state, user.id).await {
        return Ok(PreRendered::ok(view));
    }
    let h = api::history(&state, user.id).await?.ok_or_else(super::consent_required)?;
    let sex = h.sex.ok_or_else(|| ApiError::Forbidden {
        code: "ONBOARDING_REQUIRED",
        message: "회원 가입을 먼저 완료해 주세요.".into(),
    })?;
    let records: Vec<CheckupRecord> = h.records.into_iter().take(max as usize).collect();
    let view = HistoryResponse {
        chart_data: trends::chart(&records),
        normal_range_reference: views::normal_ranges(sex, state.clock.today()),
        user_info: h.user_info,
        checkup_records: records,
        total_records: h.total,
    };
    let json = serde_json::to_string(&view).map_err(anyhow::Error::new)?;
    if default {
        api::cache_view(&state, user.id, &json).await;
    }
    Ok(PreRendered::ok(json))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TrendsQuery {
    /// Comma-separated assessment item names (`bloodPressure,fastingGlucose`), at least one; all
    /// when omitted (an empty value is refused).
    #[param(value_type = Option<Vec<crate::health::judge::GradedItem>>, style = Form, explode = false, min_items = 1)]
    pub items: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrendsResponse {
    /// One series per item asked for, oldest point first.
    pub items: Vec<Series>,
}

/// A series per item over the caller's checkups, ready for a chart.
#[utoipa::path(get, path = "/api/health/trends", operation_id = "getHealthTrends", tag = "health", security(("bearer" = [])),
    params(TrendsQuery),
    responses((status = 200, body = inline(Envelope<TrendsResponse>)), (status = 403, description = "`CONSENT_REQUIRED`: no health-data consent in force (withdrawn or never given)", body = crate::http::error::ErrorBody), (status = 422, body = crate::http::error::ErrorBody)))]
pub async fn health_trends(
    State(state): State<HealthState>,
    ActiveUser(user): ActiveUser,
    ApiQuery(q): ApiQuery<TrendsQuery>,
) -> ApiResult<Success<TrendsResponse>> {
    super::require_processing(&state, user.id).await?;
    let items = trends::parse_items(q.items.as_deref())
        .map_err(|name| match name.is_empty() {
            true => ApiError::field("items", "항목 이름이 비어 있습니다. 빼려면 items를 보내지 마세요."),
            false => ApiError::field("items", format!("알 수 없는 항목입니다: {}", name.chars().take(40).collect::<String>())),
        })?;
    let h = api::history(&state, user.id).await?.ok_or_else(super::consent_required)?;
    Ok(Success::new(TrendsResponse { items: trends::series(&h.records, &items) }))
}

/// Where each value of the caller's latest checkup stands among people of the same sex and
/// 5-year age band in the NHIS open data (percentiles).
#[utoipa::path(get, path = "/api/health/peers", operation_id = "getHealthPeers", tag = "health", security(("bearer" = [])),
    responses((status = 200, body = inline(Envelope<Peers>)), (status = 403, description = "`CONSENT_REQUIRED`: no health-data consent in force (withdrawn or never given)", body = crate::http::error::ErrorBody)))]
pub async fn health_peers(State(state): State<HealthState>, ActiveUser(user): ActiveUser) -> ApiResult<Success<Peers>> {
    super::require_processing(&state, user.id).await?;
    let (info, sex) = profile(&state, user.id).await?;
    let latest = api::latest_checkup(&state, user.id).await?;
    Ok(Success::new(peers::compare(&state.db, latest.as_ref(), sex, info.birth_date).await?))
}
