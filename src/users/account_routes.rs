//! `/api/users/*`: onboarding, profile, consents and data rights. The user is always the one in
//! the access token.

use axum::{
    extract::State,
    routing::{get, post},
};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    UsersState,
    extract::{AuthUser, status_cache_key},
    model::{self, ConsentKind, Sex, UserStatus},
    rights,
    store::{self, ConsentRecord, ProfilePatch, Registration, UserRow},
};
use crate::{
    http::{ApiError, ApiJson, ApiResult, FieldError, ResultExt, Routes, Success, envelope::Envelope},
    platform::cache,
};

pub fn routes() -> Routes<UsersState> {
    Routes::new()
        .route("/api/users/register", post(register))
        .route("/api/users/profile", get(profile).patch(update_profile))
        .route("/api/users/me/consents", get(consents).put(put_consents))
        .route("/api/users/me/export", get(export))
        .route("/api/users/me", axum::routing::delete(delete_me))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub user_id: Uuid,
    pub status: UserStatus,
    pub email: Option<String>,
    pub name: Option<String>,
    pub birth_date: Option<NaiveDate>,
    /// Full years, today in Asia/Seoul.
    pub age: Option<u32>,
    pub sex: Option<Sex>,
    pub occupation: Option<String>,
    pub height_cm: Option<f64>,
    pub created_at: DateTime<Utc>,
}

impl Profile {
    /// The profile as of `today` (the app clock's Seoul date: the age depends on it).
    fn of(u: UserRow, today: chrono::NaiveDate) -> Self {
        Profile {
            user_id: u.id,
            status: u.status,
            age: u.birth_date.map(|b| model::age_on(b, today)),
            sex: u.sex,
            email: u.email,
            name: u.name,
            birth_date: u.birth_date,
            occupation: u.occupation,
            height_cm: u.height_cm,
            created_at: u.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisterRequest {
    #[schema(max_length = 50, pattern = "@text")]
    pub name: String,
    /// `YYYY-MM-DD`. Never a resident registration number. The person is 14 to 120 years old.
    #[schema(format = Date, pattern = "@date")]
    pub birth_date: String,
    /// `MALE` or `FEMALE` (the national checkup's thresholds differ by sex).
    #[schema(value_type = Sex)]
    pub sex: String,
    /// Up to 50 characters; empty means none.
    #[schema(max_length = 50, pattern = "@text-or-empty")]
    pub occupation: Option<String>,
    #[schema(minimum = 50.0, maximum = 250.0)]
    pub height_cm: Option<f64>,
}

fn collect<T>(errors: &mut Vec<FieldError>, r: Result<T, FieldError>) -> Option<T> {
    r.map_err(|e| errors.push(e)).ok()
}

fn parse_sex(raw: &str) -> Result<Sex, FieldError> {
    model::code::<Sex>(raw).ok_or_else(|| FieldError::new("sex", "MALE 또는 FEMALE 로 입력해 주세요."))
}

/// Finishes onboarding: PENDING → ACTIVE with the profile. Emits `user.registered`.
#[utoipa::path(post, path = "/api/users/register", operation_id = "register", tag = "users", request_body = RegisterRequest,
    security(("bearer" = [])),
    responses((status = 201, body = inline(Envelope<Profile>)), (status = 401, body = crate::http::error::ErrorBody),
              (status = 409, body = crate::http::error::ErrorBody), (status = 422, body = crate::http::error::ErrorBody)))]
pub async fn register(
    State(state): State<UsersState>,
    user: AuthUser,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> ApiResult<Success<Profile>> {
    let mut errors = Vec::new();
    let name = collect(&mut errors, model::parse_name(&req.name));
    let birth = collect(&mut errors, model::parse_birth_date(&req.birth_date, state.clock.today()));
    let sex = collect(&mut errors, parse_sex(&req.sex));
    let occupation = req.occupation.as_deref().and_then(|o| collect(&mut errors, model::parse_occupation(o)));
    let height = req.height_cm.and_then(|h| collect(&mut errors, model::parse_height(h)));
    let (Some(name), Some(birth_date), Some(sex)) = (name, birth, sex) else {
        return Err(ApiError::Validation(errors));
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let reg = Registration {
        name: &name,
        birth_date,
        sex,
        occupation: occupation.as_deref().filter(|o| !o.is_empty()),
        height_cm: height,
    };
    let Some(row) = store::register(&state.db, user.id, &reg).await? else {
        return Err(ApiError::Conflict {
            code: "ALREADY_REGISTERED",
            message: "이미 가입을 마친 계정입니다.".into(),
        });
    };
    cache::invalidate(state.cache.as_ref(), &status_cache_key(user.id)).await;
    Ok(Success::created(Profile::of(row, state.clock.today())).message("가입이 완료되었습니다."))
}

/// The caller's profile.
#[utoipa::path(get, path = "/api/users/profile", operation_id = "getProfile", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = inline(Envelope<Profile>)), (status = 401, body = crate::http::error::ErrorBody)))]
pub async fn profile(State(state): State<UsersState>, user: AuthUser) -> ApiResult<Success<Profile>> {
    let row = store::get(&state.db, user.id)
        .await?
        .ok_or_else(|| ApiError::not_found("계정을 찾을 수 없습니다."))?;
    Ok(Success::new(Profile::of(row, state.clock.today())))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProfileUpdate {
    #[schema(max_length = 50, pattern = "@text")]
    pub name: Option<String>,
    #[schema(format = Date, pattern = "@date")]
    pub birth_date: Option<String>,
    #[schema(value_type = Option<Sex>)]
    pub sex: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 50, pattern = "@text-or-empty")]
    pub occupation: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<f64>, minimum = 50.0, maximum = 250.0)]
    pub height_cm: Option<Option<f64>>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Corrects the profile (개인정보보호법 §36). Only the fields sent change.
#[utoipa::path(patch, path = "/api/users/profile", operation_id = "updateProfile", tag = "users", request_body = ProfileUpdate, security(("bearer" = [])),
    responses((status = 200, body = inline(Envelope<Profile>)), (status = 422, body = crate::http::error::ErrorBody)))]
pub async fn update_profile(
    State(state): State<UsersState>,
    user: AuthUser,
    ApiJson(req): ApiJson<ProfileUpdate>,
) -> ApiResult<Success<Profile>> {
    let mut errors = Vec::new();
    let patch = ProfilePatch {
        name: req.name.as_deref().and_then(|n| collect(&mut errors, model::parse_name(n))),
        birth_date: req.birth_date.as_deref().and_then(|b| collect(&mut errors, model::parse_birth_date(b, state.clock.today()))),
        sex: req.sex.as_deref().and_then(|s| collect(&mut errors, parse_sex(s))),
        occupation: req.occupation.map(|o| {
            o.and_then(|o| collect(&mut errors, model::parse_occupation(&o))).filter(|o| !o.is_empty())
        }),
        height_cm: req.height_cm.map(|h| h.and_then(|h| collect(&mut errors, model::parse_height(h)))),
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let row = store::update_profile(&state.db, user.id, &patch)
        .await?
        .ok_or_else(|| ApiError::not_found("계정을 찾을 수 없습니다."))?;
    Ok(Success::new(Profile::of(row, state.clock.today())).message("프로필을 수정했습니다."))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsentState {
    #[serde(rename = "type")]
    pub kind: ConsentKind,
    pub granted: bool,
    /// The version answered (null if never answered).
    pub version: Option<String>,
    /// The version in force, to show the user.
    pub current_version: &'static str,
    pub recorded_at: Option<DateTime<Utc>>,
}

async fn consent_states(state: &UsersState, user: Uuid) -> anyhow::Result<Vec<ConsentState>> {
    let records: Vec<ConsentRecord> = store::current_consents(&state.db, user).await?;
    Ok(ConsentKind::ALL
        .into_iter()
        .map(|kind| {
            let rec = records.iter().find(|r| r.kind == kind);
            ConsentState {
                kind,
                granted: rec.is_some_and(|r| r.granted && r.version == kind.current_version()),
                version: rec.map(|r| r.version.clone()),
                current_version: kind.current_version(),
                recorded_at: rec.map(|r| r.recorded_at),
            }
        })
        .collect())
}

/// The caller's consents, one per kind.
#[utoipa::path(get, path = "/api/users/me/consents", operation_id = "getConsents", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = inline(Envelope<Vec<ConsentState>>))))]
pub async fn consents(
    State(state): State<UsersState>,
    user: AuthUser,
) -> ApiResult<Success<Vec<ConsentState>>> {
    Ok(Success::new(consent_states(&state, user.id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsentAnswer {
    #[serde(rename = "type")]
    #[schema(value_type = ConsentKind)]
    pub kind: String,
    pub granted: bool,
    /// The version of the text the user saw; it must be the one in force
    /// (`model::ConsentKind::current_version`; a test keeps this list equal to it).
    #[schema(pattern = "^2026-11$")]
    pub version: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ConsentsUpdate {
    /// One answer per kind; an answer given twice counts as the last one.
    #[schema(min_items = 1, max_items = 3)]
    pub consents: Vec<ConsentAnswer>,
}

/// Records consent answers (each a new, timestamped record). Withdrawal is `granted: false`.
#[utoipa::path(put, path = "/api/users/me/consents", operation_id = "updateConsents", tag = "users", request_body = ConsentsUpdate, security(("bearer" = [])),
    responses((status = 200, body = inline(Envelope<Vec<ConsentState>>)), (status = 422, body = crate::http::error::ErrorBody)))]
pub async fn put_consents(
    State(state): State<UsersState>,
    user: AuthUser,
    ApiJson(req): ApiJson<ConsentsUpdate>,
) -> ApiResult<Success<Vec<ConsentState>>> {
    let mut errors = Vec::new();
    let mut items: Vec<(ConsentKind, bool)> = Vec::new();
    if req.consents.is_empty() || req.consents.len() > ConsentKind::ALL.len() {
        errors.push(FieldError::new("consents", "동의 항목을 1~3개 보내 주세요."));
    }
    for (i, answer) in req.consents.iter().enumerate() {
        match model::code::<ConsentKind>(&answer.kind) {
            None => {
                errors.push(FieldError::new(format!("consents[{i}].type"), "알 수 없는 동의 항목입니다."))
            }
            Some(kind) if answer.version != kind.current_version() => errors.push(FieldError::new(
                format!("consents[{i}].version"),
                "동의서 버전이 최신이 아닙니다. 최신 동의서를 확인해 주세요.",
            )),
            Some(kind) => items.push((kind, answer.granted)),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    // The account can be erased while its answers are on their way: that is a gone account (401),
    // not a failure.
    store::record_consents(&state.db, user.id, &items).await.on_constraint("consents_user_fkey", || {
        ApiError::Unauthorized {
            code: "ACCOUNT_NOT_FOUND",
            message: "계정을 찾을 수 없습니다. 다시 로그인해 주세요.".into(),
        }
    })?;
    forget_after_answers(&state, user.id, &items).await;
    Ok(Success::new(consent_states(&state, user.id).await?).message("동의 내용을 저장했습니다."))
}

/// After consent answers: the cached readings of every consent answered go (each instance reads
/// them afresh), and a withdrawn health-data consent also drops every cached copy of the user's
/// health data and what was derived from it (every data part's cache keys: the checkups, the
/// explained checkup, the picks), so nothing keeps being served from a cache (§37).
async fn forget_after_answers(state: &UsersState, user: Uuid, items: &[(ConsentKind, bool)]) {
    let cache = state.cache.as_ref();
    for (kind, _) in items {
        crate::platform::cache::invalidate(cache, &super::api::consent_cache_key(user, *kind)).await;
    }
    if items.iter().any(|(k, granted)| *k == ConsentKind::HealthData && !granted) {
        for part in state.data_parts.iter() {
            for key in (part.cache_keys)(user) {
                crate::platform::cache::invalidate(cache, &key).await;
            }
        }
    }
}

/// Everything held about the caller, as JSON (개인정보보호법 §35, §35-2).
#[utoipa::path(get, path = "/api/users/me/export", operation_id = "exportMyData", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = inline(Envelope<Value>))))]
pub async fn export(State(state): State<UsersState>, user: AuthUser) -> ApiResult<Success<Value>> {
    Ok(Success::new(rights::export(&state, user.id).await?))
}

/// Erases the caller's account and data in every domain and their files, unrecoverably (§36).
#[utoipa::path(delete, path = "/api/users/me", operation_id = "deleteAccount", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = inline(Envelope<Value>)), (status = 401, body = crate::http::error::ErrorBody)))]
pub async fn delete_me(State(state): State<UsersState>, user: AuthUser) -> ApiResult<Success<Value>> {
    if !rights::erase(&state, user.id).await? {
        return Err(ApiError::Unauthorized {
            code: "ACCOUNT_NOT_FOUND",
            message: "계정을 찾을 수 없습니다. 다시 로그인해 주세요.".into(),
        });
    }
    Ok(Success::new(serde_json::json!({ "deleted": true })).message("계정과 모든 데이터를 삭제했습니다."))
}
