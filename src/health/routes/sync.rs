//! NHIS sync through an aggregator (DOMAIN.md §3), in two steps: `POST /checkup/sync` starts the
//! simple authentication (the user approves in their app) and answers `PENDING_APPROVAL` with a
//! job id; `POST /checkup/sync/{jobId}/complete` fetches and stores every checkup once approved.
//!
//! What the aggregator decides is a `syncStatus` (`PENDING_APPROVAL`, `SUCCESS`, `FAILED` with a
//! reason); our own refusals are HTTP errors (422 input, 403 consent, 404 another user's job, 503
//! the aggregator down, in which case a pending job stays pending and can be completed later).

use axum::{extract::State, http::StatusCode, routing::post};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{profile, require_consent};
use crate::{
    health::{
        HealthState, api,
        provider::{Completion, LoginType, ProviderError, StartOutcome, StartRequest},
        store::{
            self,
            jobs::{JobRow, JobStatus},
        },
    },
    http::{
        ApiError, ApiJson, ApiPath, ApiResult, FieldError, Routes, Success,
        envelope::Envelope,
        text::{self, TextError},
    },
    platform::ratelimit,
    users::api::{ActiveUser, parse_birth_date, parse_name},
};

const HOUR: std::time::Duration = std::time::Duration::from_secs(3600);

pub fn routes() -> Routes<HealthState> {
    Routes::new()
        .route("/api/health/checkup/sync", post(start_sync))
        .route("/api/health/checkup/sync/{jobId}/complete", post(complete_sync))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SyncStatus {
    Success,
    PendingApproval,
    Failed,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncStart {
    /// The app the user approves in.
    pub login_type: LoginType,
    /// Mobile number, digits with or without hyphens or spaces (`010-1234-5678`).
    #[schema(example = "01012345678", pattern = "^[ -]*0[ -]*1[ -]*0([ -]*[0-9]){8}[ -]*$")]
    pub phone_number: String,
    /// The real name registered with NHIS; the profile's name when omitted.
    #[schema(max_length = 50, pattern = "@text")]
    pub name: Option<String>,
    /// `YYYY-MM-DD`; the profile's birth date when omitted. Never a resident registration number.
    #[schema(format = Date, pattern = "@date")]
    pub birth_date: Option<String>,
    /// Carrier (`SKT`, `KT`, `LGU+`, `MVNO`), for aggregators that need it; empty means none.
    #[schema(max_length = 10, pattern = "@text-or-empty")]
    pub telecom: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncAnswer {
    pub sync_status: SyncStatus,
    pub message: String,
    /// Whether the user has a checkup the analysis can use.
    pub ready_for_analysis: bool,
    pub synced_at: Option<DateTime<Utc>>,
    pub job_id: Uuid,
    /// Until when the approval may be completed.
    pub expires_at: DateTime<Utc>,
    /// `USER_CANCELLED`, `APPROVAL_EXPIRED`, `AGGREGATOR_REJECTED` when FAILED.
    pub failure_reason: Option<String>,
    /// Checkups the aggregator returned / of those, new (SUCCESS only).
    pub received_checkups: Option<i32>,
    pub new_checkups: Option<i32>,
}

fn phone(raw: &str) -> Result<String, FieldError> {
    let digits: String = raw.chars().filter(|c| *c != '-' && *c != ' ').collect();
    // Mobile numbers are 010 and eight digits since the 01X prefixes were retired (2021).
    let ok = digits.starts_with("010") && digits.len() == 11 && digits.bytes().all(|b| b.is_ascii_digit());
    ok.then_some(digits).ok_or_else(|| FieldError::new("phoneNumber", "휴대폰 번호를 01012345678 형식으로 입력해 주세요."))
}

fn failure_message(reason: Option<&str>) -> &'static str {
    match reason {
        Some("USER_CANCELLED") => "인증이 취소되었습니다. 다시 시도해 주세요.",
        Some("APPROVAL_EXPIRED") => "인증 시간이 지났습니다. 처음부터 다시 시도해 주세요.",
        _ => "검진 결과를 불러오지 못했습니다. 입력한 정보를 확인하고 다시 시도해 주세요.",
    }
}

async fn answer(state: &HealthState, user: Uuid, job: &JobRow) -> ApiResult<SyncAnswer> {
    let status = match job.status {
        JobStatus::Success => SyncStatus::Success,
        JobStatus::Failed => SyncStatus::Failed,
        JobStatus::Starting | JobStatus::Pending | JobStatus::Fetching => SyncStatus::PendingApproval,
    };
    let message = match status {
        SyncStatus::Success => format!("검진 결과 {}건을 새로 불러왔습니다.", job.new_checkups.unwrap_or(0)),
        SyncStatus::PendingApproval => "인증 앱에서 승인한 뒤 완료를 눌러 주세요.".to_string(),
        SyncStatus::Failed => failure_message(job.failure_reason.as_deref()).to_string(),
    };
    Ok(SyncAnswer {
        sync_status: status,
        message,
        ready_for_analysis: store::checkups::count(&state.db, user).await? > 0,
        synced_at: (status == SyncStatus::Success).then_some(job.completed_at).flatten(),
        job_id: job.id,
        expires_at: job.expires_at,
        failure_reason: job.failure_reason.clone(),
        received_checkups: job.received,
        new_checkups: job.new_checkups,
    })
}

fn provider_error(e: ProviderError) -> ApiError {
    ApiError::Unavailable { dependency: "nhis-aggregator", source: Some(std::sync::Arc::new(anyhow::Error::new(e))) }
}

/// Starts the two-step simple authentication; the user then approves in their app.
#[utoipa::path(post, path = "/api/health/checkup/sync", operation_id = "startCheckupSync", tag = "health", request_body = SyncStart,
    security(("bearer" = [])),
    responses((status = 202, description = "PENDING_APPROVAL, or FAILED when the aggregator refused", body = inline(Envelope<SyncAnswer>)),
              (status = 403, description = "`CONSENT_REQUIRED`, or `ONBOARDING_REQUIRED`", body = crate::http::error::ErrorBody),
              (status = 409, description = "`SYNC_ALREADY_PENDING`: the user's previous start is still open (one at a time)", body = crate::http::error::ErrorBody),
              (status = 422, body = crate::http::error::ErrorBody),
              (status = 429, description = "`HEALTH_SYNC_STARTS_PER_HOUR` starts this hour (`Retry-After`)", body = crate::http::error::ErrorBody),
              (status = 503, description = "the aggregator is unavailable; nothing was started", body = crate::http::error::ErrorBody)))]
pub async fn start_sync(
    State(state): State<HealthState>,
    ActiveUser(user): ActiveUser,
    ApiJson(req): ApiJson<SyncStart>,
) -> ApiResult<Success<SyncAnswer>> {
    require_consent(&state, user.id).await?;
    let (info, sex) = profile(&state, user.id).await?;
    let mut errors = Vec::new();
    let phone = phone(&req.phone_number).map_err(|e| errors.push(e)).ok();
    let name = match req.name.as_deref() {
        Some(n) => parse_name(n).map_err(|e| errors.push(e)).ok(),
        None => info.name.clone(),
    };
    let birth: Option<NaiveDate> = match req.birth_date.as_deref() {
        Some(b) => parse_birth_date(b, state.clock.today()).map_err(|e| errors.push(e)).ok(),
        None => info.birth_date,
    };
    let telecom = match req.telecom.as_deref().map(|t| text::visible_text(t, 10, false)) {
        None | Some(Err(TextError::Empty)) => None,
        Some(Ok(t)) => Some(t),
        Some(Err(TextError::TooLong)) => {
            errors.push(FieldError::new("telecom", "통신사는 10자 이내로 입력해 주세요."));
            None
        }
        Some(Err(TextError::Forbidden)) => {
            errors.push(FieldError::new("telecom", "통신사 이름에 쓸 수 없는 문자가 있습니다."));
            None
        }
    };
    let (Some(phone), Some(name), Some(birth_date), true) = (phone, name, birth, errors.is_empty()) else {
        return Err(ApiError::Validation(errors));
    };
    let start = StartRequest { name, birth_date, phone, login_type: req.login_type, telecom, sex };
    // One open job per user: the slot is taken before the aggregator sends anything to a phone.
    let id = Uuid::now_v7();
    if let Err(open_until) = store::jobs::take_slot(&state.db, id, user.id, state.own.provider.name()).await? {
        let minutes = (open_until - state.clock.now()).num_minutes().max(0) + 1;
        return Err(ApiError::Conflict {
            code: "SYNC_ALREADY_PENDING",
            message: format!(
                "이미 진행 중인 인증 요청이 있습니다. 인증 앱에서 승인한 뒤 완료를 누르거나, {minutes}분 뒤 다시 시작해 주세요."
            ),
        });
    }
    // Each start sends an approval request to someone's phone: a per-user rate on top.
    let per_hour = state.own.sync_starts_per_hour;
    if let Err(limited) =
        ratelimit::check(state.cache.as_ref(), "health-sync-start", &user.id.to_string(), per_hour, HOUR).await
    {
        store::jobs::drop_slot(&state.db, id).await?;
        return Err(limited.into());
    }
    let outcome = match state.own.provider.start(&start).await {
        Ok(outcome) => outcome,
        Err(e) => {
            store::jobs::drop_slot(&state.db, id).await?;
            return Err(provider_error(e));
        }
    };
    let (handle, reason) = match outcome {
        StartOutcome::Waiting(h) => (Some(h), None),
        StartOutcome::Rejected(r) => (None, Some(r)),
    };
    let job = store::jobs::started(&state.db, id, handle, reason.as_deref(), state.clock.now() + state.own.job_ttl).await?;
    let body = answer(&state, user.id, &job).await?;
    Ok(Success(StatusCode::ACCEPTED, "인증 요청을 보냈습니다.", body))
}

/// Completes a sync once the user approved: fetches every checkup, stores the new ones, and
/// answers SUCCESS (or PENDING_APPROVAL, or FAILED). Completing a finished job answers its
/// outcome again. Emits `checkup.synced` when anything was new.
#[utoipa::path(post, path = "/api/health/checkup/sync/{jobId}/complete", operation_id = "completeCheckupSync", tag = "health",
    security(("bearer" = [])),
    params(("jobId" = Uuid, Path, description = "the job id `POST /checkup/sync` answered")),
    responses((status = 200, body = inline(Envelope<SyncAnswer>)),
              (status = 403, description = "`CONSENT_REQUIRED`", body = crate::http::error::ErrorBody),
              (status = 404, description = "no such job of the caller", body = crate::http::error::ErrorBody),
              (status = 409, description = "`SYNC_IN_PROGRESS`: another request is fetching this job", body = crate::http::error::ErrorBody),
              (status = 503, description = "the aggregator is unavailable; the job stays pending", body = crate::http::error::ErrorBody)))]
pub async fn complete_sync(
    State(state): State<HealthState>,
    ActiveUser(user): ActiveUser,
    ApiPath(job_id): ApiPath<Uuid>,
) -> ApiResult<Success<SyncAnswer>> {
    require_consent(&state, user.id).await?;
    let (_, sex) = profile(&state, user.id).await?;
    let job = store::jobs::get(&state.db, user.id, job_id)
        .await?
        .ok_or_else(|| ApiError::not_found("동기화 요청을 찾을 수 없습니다."))?;
    if job.status.is_closed() {
        return Ok(Success::new(answer(&state, user.id, &job).await?));
    }
    if job.expires_at <= state.clock.now() {
        let ended = store::jobs::fail(&state.db, job.id, "APPROVAL_EXPIRED").await?.unwrap_or(job);
        return Ok(Success::new(answer(&state, user.id, &ended).await?));
    }
    let Some(job) = store::jobs::claim(&state.db, user.id, job_id).await? else {
        return Err(ApiError::Conflict {
            code: "SYNC_IN_PROGRESS",
            message: "검진 결과를 불러오는 중입니다. 잠시 후 다시 시도해 주세요.".into(),
        });
    };
    let handle = job.handle.clone().unwrap_or_default();
    let completion = match state.own.provider.complete(&handle).await {
        Ok(c) => c,
        Err(e) => {
            store::jobs::release(&state.db, job.id).await?;
            return Err(provider_error(e));
        }
    };
    let ended = match completion {
        Completion::Pending => {
            store::jobs::release(&state.db, job.id).await?;
            return Ok(Success::new(answer(&state, user.id, &job).await?));
        }
        Completion::Cancelled => store::jobs::fail(&state.db, job.id, "USER_CANCELLED").await?,
        Completion::Expired => store::jobs::fail(&state.db, job.id, "APPROVAL_EXPIRED").await?,
        Completion::Rejected(reason) => store::jobs::fail(&state.db, job.id, &reason).await?,
        Completion::Approved(mapped) => {
            let done = store::jobs::complete(&state.db, user.id, job.id, &mapped.checkups, sex).await?;
            api::invalidate(&state, user.id).await;
            Some(done)
        }
    };
    let ended = ended.ok_or_else(|| ApiError::not_found("동기화 요청을 찾을 수 없습니다."))?;
    Ok(Success::new(answer(&state, user.id, &ended).await?))
}

