//! The sign-in machinery: configuration, the accepted OIDC providers, Google's code exchange,
//! and issuing our own token pair.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    oidc::{Provider, ProviderConfig, VerifiedIdentity, VerifyError},
    store, tokens,
};
pub use super::settings::AuthConfig;
use crate::{
    platform::{
        http_client::LazyClient,
        resilience::{Breaker, CallError},
    },
};

pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";
/// A JWKS is kept at least this long, so a provider's `max-age=0` cannot make us fetch per login.
pub const JWKS_CACHE_FLOOR: Duration = Duration::from_secs(60);
/// Identities made by the local dev login are stored under this issuer.
pub const DEV_ISSUER: &str = "healthsync-dev";

/// Why sign-in failed, as the routes map it to statuses.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("invalid credential: {0}")]
    Invalid(&'static str),
    #[error("sign-in method not configured")]
    NotConfigured,
    #[error("identity provider unavailable")]
    Unavailable(#[source] anyhow::Error),
}

impl From<VerifyError> for SignInError {
    fn from(e: VerifyError) -> Self {
        match e {
            VerifyError::Invalid(why) => SignInError::Invalid(why),
            VerifyError::Unavailable(err) => SignInError::Unavailable(err),
        }
    }
}

pub struct Auth {
    pub config: AuthConfig,
    /// The app's clock: tokens are issued, refreshed and verified by it.
    pub clock: crate::platform::time::Clock,
    pub keys: tokens::SigningKeys,
    /// Access tokens already verified by this process.
    pub verified: tokens::VerifiedTokens,
    google: Option<Provider>,
    extra: Option<Provider>,
    client: LazyClient,
    token_breaker: Breaker,
    pub google_breaker: Arc<Breaker>,
}

/// What the mobile app reads after login and refresh.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub new_user: bool,
    pub user_id: Uuid,
    pub status: super::model::UserStatus,
}

#[derive(Debug, Deserialize)]
struct TokenEndpointAnswer {
    id_token: Option<String>,
}

impl Auth {
    pub fn new(config: AuthConfig, clock: crate::platform::time::Clock) -> anyhow::Result<Self> {
        let keys = tokens::SigningKeys::parse(&config.signing_keys)
            .map_err(|e| anyhow::anyhow!("AUTH_SIGNING_KEYS: expected {e}"))?;
        let client = LazyClient::default();
        let google_breaker = Arc::new(Breaker::new("google", 5, Duration::from_secs(30)));
        let google = (!config.google_client_ids.is_empty()).then(|| {
            Provider::new(
                ProviderConfig {
                    canonical_issuer: GOOGLE_ISSUER.into(),
                    issuers: AuthConfig::google_issuers(),
                    audiences: config.google_client_ids.clone(),
                    jwks_url: config.google_jwks_url.clone(),
                    require_email_verified: true,
                    cache_floor: JWKS_CACHE_FLOOR,
                },
                client.clone(),
                google_breaker.clone(),
            )
        });
        let extra = config.extra_issuer.clone().map(|c| {
            Provider::new(c, client.clone(), Arc::new(Breaker::new("oidc", 5, Duration::from_secs(30))))
        });
        Ok(Self {
            config,
            clock,
            keys,
            verified: tokens::VerifiedTokens::default(),
            google,
            extra,
            client,
            token_breaker: Breaker::new("google-token", 5, Duration::from_secs(30)),
            google_breaker,
        })
    }

    /// Verifies an ID token from Google or the second issuer (chosen by its `iss`).
    pub async fn verify_id_token(&self, token: &str) -> Result<VerifiedIdentity, SignInError> {
        let iss = jsonwebtoken::dangerous::insecure_decode_claims::<serde_json::Value>(token)
            .ok()
            .and_then(|claims| claims.get("iss").and_then(|v| v.as_str()).map(str::to_string))
            .ok_or(SignInError::Invalid("no issuer"))?;
        let provider = [self.google.as_ref(), self.extra.as_ref()]
            .into_iter()
            .flatten()
            .find(|p| p.config().issuers.contains(&iss));
        match provider {
            Some(p) => Ok(p.verify(token).await?),
            None if self.google.is_none() && self.extra.is_none() => Err(SignInError::NotConfigured),
            None => Err(SignInError::Invalid("issuer not accepted")),
        }
    }

    /// Exchanges a Google authorization code (with its PKCE verifier) for an ID token.
    pub async fn exchange_google_code(
        &self,
        code: &str,
        verifier: &str,
        redirect_uri: &str,
        client_id: Option<&str>,
    ) -> Result<String, SignInError> {
        let client_id = match client_id {
            Some(c) if self.config.google_client_ids.iter().any(|x| x == c) => c.to_string(),
            Some(_) => return Err(SignInError::Invalid("client id not accepted")),
            None => self.config.google_client_ids.first().cloned().ok_or(SignInError::NotConfigured)?,
        };
        let mut form = vec![
            ("grant_type", "authorization_code".to_string()),
            ("code", code.to_string()),
            ("code_verifier", verifier.to_string()),
            ("redirect_uri", redirect_uri.to_string()),
            ("client_id", client_id),
        ];
        if let Some(secret) = &self.config.google_client_secret {
            form.push(("client_secret", secret.expose_secret().to_string()));
        }
        let url = self.config.google_token_url.clone();
        let client = self.client.get().clone();
        // A 4xx (invalid_grant) is the caller's mistake and does not count against Google.
        let answer = self
            .token_breaker
            .call(
                |e: &reqwest::Error| e.status().is_none_or(|s| s.is_server_error() || s.as_u16() == 429),
                || async move {
                    let body =
                        url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
                    client
                        .post(url)
                        .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                        .timeout(Duration::from_secs(10))
                        .body(body)
                        .send()
                        .await?
                        .error_for_status()?
                        .json::<TokenEndpointAnswer>()
                        .await
                },
            )
            .await;
        match answer {
            Ok(TokenEndpointAnswer { id_token: Some(t) }) => Ok(t),
            Ok(_) => Err(SignInError::Invalid("token endpoint returned no id_token")),
            // 408 and 429 are Google being busy, not the code being wrong.
            Err(CallError::Failed(e))
                if e.status()
                    .is_some_and(|s| s.is_client_error() && s.as_u16() != 408 && s.as_u16() != 429) =>
            {
                Err(SignInError::Invalid("authorization code refused"))
            }
            Err(CallError::Failed(e)) => {
                Err(SignInError::Unavailable(anyhow::Error::new(e).context("Google token endpoint")))
            }
            Err(CallError::Open(o)) => Err(SignInError::Unavailable(anyhow::Error::new(o))),
        }
    }

    /// A new token pair for `user` (a new refresh-token family).
    pub async fn issue(
        &self,
        pool: &sqlx::PgPool,
        user: &store::UserRow,
        new_user: bool,
    ) -> anyhow::Result<TokenPair> {
        let (refresh, hash) = tokens::new_refresh();
        let expires = self.clock.now() + self.config.refresh_ttl;
        let mut conn = pool.acquire().await.context("acquiring a connection")?;
        let session = Uuid::now_v7();
        store::insert_refresh(&mut conn, user.id, session, &hash, expires).await?;
        self.pair(user.id, session, user.status, refresh, new_user)
    }

    /// The app's clock in Unix seconds (what token claims hold).
    pub fn unix_now(&self) -> u64 {
        u64::try_from(self.clock.now().timestamp()).unwrap_or_default()
    }

    /// A token pair of `session` (the refresh-token family the access token names).
    pub fn pair(
        &self,
        user: Uuid,
        session: Uuid,
        status: super::model::UserStatus,
        refresh: String,
        new_user: bool,
    ) -> anyhow::Result<TokenPair> {
        Ok(TokenPair {
            access_token: tokens::issue_access(&self.keys, user, session, self.config.access_ttl, self.unix_now())?,
            refresh_token: refresh,
            token_type: "Bearer",
            expires_in: self.config.access_ttl.as_secs(),
            new_user,
            user_id: user,
            status,
        })
    }
}
