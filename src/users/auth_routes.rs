//! `/api/auth/*`: sign-in (Google ID token or authorization code, a second OIDC issuer, the local
//! dev login), token refresh with rotation, logout.

use std::time::Duration;

use axum::{extract::State, http::HeaderMap, routing::post};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{
    UsersState,
    auth::{DEV_ISSUER, SignInError, TokenPair},
    store::{self, Rotation},
    tokens,
};
use crate::{
    http::{ApiError, ApiJson, ApiResult, FieldError, Routes, Success, envelope::Envelope},
    platform::ratelimit,
};

pub fn routes() -> Routes<UsersState> {
    Routes::new()
        .route("/api/auth/login", post(login))
        .route("/api/auth/refresh", post(refresh))
        .route("/api/auth/logout", post(logout))
        .route("/api/auth/dev-login", post(dev_login))
}

const WINDOW: Duration = Duration::from_secs(60);

fn client_address(state: &UsersState, headers: &HeaderMap) -> String {
    crate::http::client_address(headers, state.config.client_ip_header)
}

async fn limit(state: &UsersState, scope: &'static str, subject: &str) -> Result<(), ApiError> {
    ratelimit::check(state.cache.as_ref(), scope, subject, state.own.auth.config.rate_limit_per_minute, WINDOW)
        .await
        .map_err(ApiError::from)
}

fn sign_in_error(err: SignInError) -> ApiError {
    match err {
        SignInError::Invalid(why) => {
            tracing::info!(reason = why, "sign-in refused");
            ApiError::Unauthorized {
                code: "INVALID_CREDENTIAL",
                message: "로그인 정보를 확인할 수 없습니다. 다시 시도해 주세요.".into(),
            }
        }
        SignInError::NotConfigured => ApiError::Unavailable {
            dependency: "identity-provider",
            source: Some(std::sync::Arc::new(anyhow::anyhow!("no sign-in provider configured"))),
        },
        SignInError::Unavailable(err) => {
            ApiError::Unavailable { dependency: "identity-provider", source: Some(std::sync::Arc::new(err)) }
        }
    }
}

/// The two ways to sign in, for the document: exactly one of an ID token, or an authorization
/// code with its PKCE verifier and redirect URI.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
struct IdTokenLogin {
    /// The ID token the Google Sign-In SDK (or the second issuer) gave the app.
    #[schema(min_length = 1, max_length = 8192)]
    id_token: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
struct CodeLogin {
    #[schema(min_length = 1, max_length = 8192)]
    authorization_code: String,
    #[schema(min_length = 1, max_length = 8192)]
    code_verifier: String,
    #[schema(min_length = 1, max_length = 8192)]
    redirect_uri: String,
    /// One of GOOGLE_CLIENT_IDS; the first when absent.
    #[schema(max_length = 8192)]
    client_id: Option<String>,
}

impl utoipa::PartialSchema for LoginRequest {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::OneOfBuilder;
        OneOfBuilder::new()
            .item(<IdTokenLogin as utoipa::PartialSchema>::schema())
            .item(<CodeLogin as utoipa::PartialSchema>::schema())
            .description(Some("idToken 하나, 또는 authorizationCode 와 codeVerifier, redirectUri"))
            .into()
    }
}

impl ToSchema for LoginRequest {}

/// What `POST /api/auth/login` reads (its schema is the `oneOf` above).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginRequest {
    /// The ID token the Google Sign-In SDK (or the second issuer) gave the app.
    pub id_token: Option<String>,
    /// Or an authorization code, with its PKCE verifier and redirect URI.
    pub authorization_code: Option<String>,
    pub code_verifier: Option<String>,
    pub redirect_uri: Option<String>,
    pub client_id: Option<String>,
}

/// Signs in with Google (or the configured second issuer) and returns our token pair.
#[utoipa::path(post, path = "/api/auth/login", operation_id = "login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = inline(Envelope<TokenPair>)), (status = 401, body = crate::http::error::ErrorBody),
              (status = 422, body = crate::http::error::ErrorBody), (status = 429, body = crate::http::error::ErrorBody),
              (status = 503, body = crate::http::error::ErrorBody)))]
pub async fn login(
    State(state): State<UsersState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Success<TokenPair>> {
    limit(&state, "login-ip", &client_address(&state, &headers)).await?;
    let too_long = |s: &Option<String>| s.as_ref().is_some_and(|v| v.len() > 8192);
    if too_long(&req.id_token)
        || too_long(&req.authorization_code)
        || too_long(&req.code_verifier)
        || too_long(&req.redirect_uri)
    {
        return Err(ApiError::field("body", "값이 너무 깁니다."));
    }
    let id_token = match (req.id_token, req.authorization_code) {
        (Some(t), None) => t,
        (None, Some(code)) => {
            let mut missing = Vec::new();
            if req.code_verifier.as_deref().is_none_or(str::is_empty) {
                missing.push(FieldError::new("codeVerifier", "인가 코드와 함께 PKCE 검증값이 필요합니다."));
            }
            if req.redirect_uri.as_deref().is_none_or(str::is_empty) {
                missing.push(FieldError::new("redirectUri", "인가 코드와 함께 리디렉션 URI가 필요합니다."));
            }
            if !missing.is_empty() {
                return Err(ApiError::Validation(missing));
            }
            state
                .own
                .auth
                .exchange_google_code(
                    &code,
                    req.code_verifier.as_deref().unwrap_or_default(),
                    req.redirect_uri.as_deref().unwrap_or_default(),
                    req.client_id.as_deref(),
                )
                .await
                .map_err(sign_in_error)?
        }
        _ => return Err(ApiError::field("idToken", "idToken 또는 authorizationCode 중 하나만 보내 주세요.")),
    };
    let identity = state.own.auth.verify_id_token(&id_token).await.map_err(sign_in_error)?;
    limit(&state, "login-account", &format!("{}|{}", identity.issuer, identity.subject)).await?;
    let (user, new_user) =
        store::find_or_create(&state.db, &identity.issuer, &identity.subject, identity.email.as_deref())
            .await?;
    let pair = state.own.auth.issue(&state.db, &user, new_user).await?;
    Ok(Success::new(pair).message("로그인되었습니다."))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefreshRequest {
    #[schema(min_length = 1, max_length = 256)]
    pub refresh_token: String,
}

fn refresh_token_field(token: &str) -> Result<(), ApiError> {
    if token.is_empty() || token.chars().count() > 256 {
        return Err(ApiError::field("refreshToken", "리프레시 토큰이 올바르지 않습니다."));
    }
    Ok(())
}

/// Trades a refresh token for a new pair. The old token stops working; presenting it again
/// revokes every token of its family (theft detection).
#[utoipa::path(post, path = "/api/auth/refresh", operation_id = "refreshTokens", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = inline(Envelope<TokenPair>)), (status = 401, body = crate::http::error::ErrorBody),
              (status = 429, body = crate::http::error::ErrorBody)))]
pub async fn refresh(
    State(state): State<UsersState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<RefreshRequest>,
) -> ApiResult<Success<TokenPair>> {
    limit(&state, "refresh-ip", &client_address(&state, &headers)).await?;
    refresh_token_field(&req.refresh_token)?;
    let old = tokens::hash_refresh(&req.refresh_token);
    if let Some(owner) = store::refresh_owner(&state.db, &old).await? {
        limit(&state, "refresh-account", &owner.to_string()).await?;
    }
    let (new_token, new_hash) = tokens::new_refresh();
    let expires = state.clock.now() + state.own.auth.config.refresh_ttl;
    let invalid = || ApiError::Unauthorized {
        code: "INVALID_REFRESH_TOKEN",
        message: "로그인이 만료되었습니다. 다시 로그인해 주세요.".into(),
    };
    match store::rotate_refresh(&state.db, &old, &new_hash, state.clock.now(), expires).await? {
        Rotation::Rotated { user, session } => {
            let Some(row) = store::get(&state.db, user).await? else { return Err(invalid()) };
            let pair = state.own.auth.pair(user, session, row.status, new_token, false)?;
            Ok(Success::new(pair).message("토큰이 갱신되었습니다."))
        }
        Rotation::Reused { user } => {
            tracing::warn!("a replaced refresh token was presented again; its family is revoked");
            // Its access tokens stop working at once too.
            super::extract::forget_status(state.cache.as_ref(), user).await;
            Err(ApiError::Unauthorized {
                code: "REFRESH_TOKEN_REUSED",
                message: "보안을 위해 모든 기기에서 로그아웃되었습니다. 다시 로그인해 주세요.".into(),
            })
        }
        Rotation::Invalid => Err(invalid()),
    }
}

/// Revokes the refresh token's whole family (the session): the refresh token and every access
/// token issued in the session stop working at once. Answers the same whether or not it existed.
#[utoipa::path(post, path = "/api/auth/logout", operation_id = "logout", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = inline(Envelope<serde_json::Value>))))]
pub async fn logout(
    State(state): State<UsersState>,
    ApiJson(req): ApiJson<RefreshRequest>,
) -> ApiResult<Success<serde_json::Value>> {
    refresh_token_field(&req.refresh_token)?;
    if let Some(user) = store::revoke_by_token(&state.db, &tokens::hash_refresh(&req.refresh_token), state.clock.now()).await? {
        // The session's access tokens are refused from the next request on, on every instance.
        super::extract::forget_status(state.cache.as_ref(), user).await;
    }
    Ok(Success::new(serde_json::json!({})).message("로그아웃되었습니다."))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DevLoginRequest {
    /// Any address; the same one signs in as the same user.
    #[schema(max_length = 320, pattern = "@email")]
    pub email: String,
}

/// Local development only: signs in without Google. Refused (404) whenever the app runs in Azure
/// or `DEV_LOGIN_ENABLED` is not `true`; held to `AUTH_RATE_LIMIT_PER_MINUTE` per address like
/// every sign-in.
#[utoipa::path(post, path = "/api/auth/dev-login", operation_id = "devLogin", tag = "auth", request_body = DevLoginRequest,
    responses((status = 200, body = inline(Envelope<TokenPair>)), (status = 404, body = crate::http::error::ErrorBody),
              (status = 422, description = "not an e-mail address", body = crate::http::error::ErrorBody),
              (status = 429, description = "`AUTH_RATE_LIMIT_PER_MINUTE` sign-ins from this address (`Retry-After`)", body = crate::http::error::ErrorBody)))]
pub async fn dev_login(
    State(state): State<UsersState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<DevLoginRequest>,
) -> ApiResult<Success<TokenPair>> {
    if !state.own.auth.config.dev_login {
        return Err(ApiError::not_found("요청한 주소를 찾을 수 없습니다."));
    }
    limit(&state, "login-ip", &client_address(&state, &headers)).await?;
    let Some(email) = crate::http::text::plausible_email(&req.email, 320) else {
        return Err(ApiError::field("email", "이메일 형식으로 입력해 주세요."));
    };
    let email = email.to_lowercase();
    let (user, new_user) = store::find_or_create(&state.db, DEV_ISSUER, &email, Some(&email)).await?;
    let pair = state.own.auth.issue(&state.db, &user, new_user).await?;
    Ok(Success::new(pair).message("개발용 로그인이 완료되었습니다."))
}
