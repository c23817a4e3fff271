//! `AuthUser`: the caller, from the access token only. No route takes a user id from the query or
//! the body to decide whose data it touches. Any domain's routes can take it: their state hands
//! out the shared [`Verifier`] through axum's `FromRef`.

use std::{sync::Arc, time::Duration};

use axum::{
    extract::{FromRef, FromRequestParts},
    http::request::Parts,
};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use uuid::Uuid;

use super::{auth::Auth, model::UserStatus, store};
use crate::{
    domain::{DomainState, Platform},
    http::ApiError,
    platform::cache::{self, Cache},
};

/// Checks access tokens and the account behind them. One per app, shared by every domain.
#[derive(Clone)]
pub struct Verifier {
    auth: Arc<Auth>,
    db: PgPool,
    cache: Arc<dyn Cache>,
}

impl Verifier {
    pub fn new(platform: &Platform, auth: Arc<Auth>) -> Self {
        Verifier { auth, db: platform.db.clone(), cache: platform.cache.clone() }
    }
}

/// Any domain whose own parts hold the verifier (handed over by the composition root) gives it
/// to `AuthUser` and `ActiveUser`.
impl<T: AsRef<Verifier>> FromRef<DomainState<T>> for Verifier {
    fn from_ref(state: &DomainState<T>) -> Verifier {
        state.own.as_ref().clone()
    }
}

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

/// Status lookups are cached briefly; deletion and logout invalidate the entry at once.
const STATUS_TTL: Duration = Duration::from_secs(30);

pub fn status_cache_key(id: Uuid) -> String {
    format!("user-status:{id}")
}

/// What the account check reads per request: the status, and the sessions logged out (or
/// revoked for a reused refresh token) whose access tokens may not have expired yet: the
/// deny-list. One entry per user, so the check stays one cache read.
#[derive(Serialize, Deserialize)]
struct CachedStatus {
    status: UserStatus,
    #[serde(default)]
    revoked: Vec<Uuid>,
}

/// Drops the account check's entry of `user` (after a logout or a revocation): every instance
/// reads the account and its revoked sessions afresh on its next request.
pub async fn forget_status(cache: &dyn Cache, user: Uuid) {
    cache::invalidate(cache, &status_cache_key(user)).await;
}

/// The token of the one `Authorization: Bearer …` header (the scheme in any case, RFC 7235 §2.1).
/// Two Authorization headers are refused rather than one of them picked.
fn bearer_token(headers: &axum::http::HeaderMap) -> Result<&str, ApiError> {
    let mut all = headers.get_all(axum::http::header::AUTHORIZATION).iter();
    let header = all.next().ok_or_else(|| unauthorized("UNAUTHENTICATED", "로그인이 필요합니다."))?;
    if all.next().is_some() {
        return Err(unauthorized("AMBIGUOUS_CREDENTIALS", "Authorization 헤더는 하나만 보내 주세요."));
    }
    let value = header.to_str().map_err(|_| unauthorized("UNAUTHENTICATED", "Bearer 토큰이 필요합니다."))?;
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(unauthorized("UNAUTHENTICATED", "Bearer 토큰이 필요합니다."));
    }
    Ok(token)
}

impl<S> FromRequestParts<S> for AuthUser
where
    S: Send + Sync,
    Verifier: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let verifier = Verifier::from_ref(state);
        let token = bearer_token(&parts.headers)?;
        let auth = &verifier.auth;
        let verified = auth.verified.verify(&auth.keys, token, auth.config.access_ttl, auth.unix_now()).ok_or_else(|| {
            unauthorized("INVALID_TOKEN", "인증이 만료되었거나 올바르지 않습니다. 다시 로그인해 주세요.")
        })?;
        let id = verified.user;
        let key = status_cache_key(id);
        let checked = match cache::get_json::<CachedStatus>(verifier.cache.as_ref(), &key).await {
            Some(c) => c,
            None => {
                // A session revoked longer ago than an access token lives has no token left to refuse.
                let since = auth.clock.now()
                    - chrono::Duration::from_std(auth.config.access_ttl + Duration::from_secs(60)).unwrap_or_default();
                let Some((status, revoked)) = store::status_and_revoked(&verifier.db, id, since).await? else {
                    return Err(unauthorized("ACCOUNT_NOT_FOUND", "계정을 찾을 수 없습니다. 다시 로그인해 주세요."));
                };
                let c = CachedStatus { status, revoked };
                cache::set_json(verifier.cache.as_ref(), &key, &c, STATUS_TTL).await;
                c
            }
        };
        if verified.session.is_some_and(|s| checked.revoked.contains(&s)) {
            return Err(unauthorized("SESSION_ENDED", "로그아웃된 세션입니다. 다시 로그인해 주세요."));
        }
        Ok(AuthUser { id, status: checked.status })
    }
}

impl<S> FromRequestParts<S> for ActiveUser
where
    S: Send + Sync,
    Verifier: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
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
