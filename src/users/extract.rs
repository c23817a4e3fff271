//! `AuthUser`: the caller, from the access token only. No route takes a user id from the query or
//! the body to decide whose data it touches.

use std::time::Duration;

use axum::{extract::FromRequestParts, http::request::Parts};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{model::UserStatus, store, tokens};
use crate::{
    app::AppState,
    http::ApiError,
    platform::cache::{self},
};

/// The signed-in caller: a valid access token of an existing account (PENDING or ACTIVE).
#[derive(Debug, Clone, Copy)]
pub struct AuthUser {
    pub id: Uuid,
    pub status: UserStatus,
}

/// A caller who finished onboarding; PENDING accounts get 403 `ONBOARDING_REQUIRED`.
#[derive(Debug, Clone, Copy)]
pub struct ActiveUser(pub AuthUser);

fn unauthorized(code: &'static str, message: &str) -> ApiError {
    ApiError::Unauthorized { code, message: message.to_string() }
}

/// Status lookups are cached briefly; deletion invalidates the entry at once.
const STATUS_TTL: Duration = Duration::from_secs(30);

pub fn status_cache_key(id: Uuid) -> String {
    format!("user-status:{id}")
}

#[derive(Serialize, Deserialize)]
struct CachedStatus {
    status: UserStatus,
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| unauthorized("UNAUTHENTICATED", "로그인이 필요합니다."))?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .ok_or_else(|| unauthorized("UNAUTHENTICATED", "Bearer 토큰이 필요합니다."))?;
        let id = tokens::verify_access(&state.auth.keys, token).ok_or_else(|| {
            unauthorized("INVALID_TOKEN", "인증이 만료되었거나 올바르지 않습니다. 다시 로그인해 주세요.")
        })?;
        let key = status_cache_key(id);
        if let Some(c) = cache::get_json::<CachedStatus>(state.cache.as_ref(), &key).await {
            return Ok(AuthUser { id, status: c.status });
        }
        let Some(user) = store::get(&state.db, id).await? else {
            return Err(unauthorized("ACCOUNT_NOT_FOUND", "계정을 찾을 수 없습니다. 다시 로그인해 주세요."));
        };
        let status = user.status();
        cache::set_json(state.cache.as_ref(), &key, &CachedStatus { status }, STATUS_TTL).await;
        Ok(AuthUser { id, status })
    }
}

impl FromRequestParts<AppState> for ActiveUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let user = AuthUser::from_request_parts(parts, state).await?;
        if user.status != UserStatus::Active {
            return Err(ApiError::Forbidden {
                code: "ONBOARDING_REQUIRED",
                message: "회원 가입을 먼저 완료해 주세요.".into(),
            });
        }
        Ok(ActiveUser(user))
    }
}
