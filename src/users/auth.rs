//! The sign-in machinery: configuration, the accepted OIDC providers, Google's code exchange,
//! and issuing our own token pair.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    oidc::{Provider, ProviderConfig, VerifiedIdentity, VerifyError},
    store, tokens,
};
use crate::{
    config::{ConfigError, Environment, Source, names},
    platform::{
        http_client::LazyClient,
        resilience::{Breaker, CallError},
    },
};

pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";
const GOOGLE_JWKS: &str = "https://www.googleapis.com/oauth2/v3/certs";
const GOOGLE_TOKEN: &str = "https://oauth2.googleapis.com/token";
/// A JWKS is kept at least this long, so a provider's `max-age=0` cannot make us fetch per login.
const JWKS_CACHE_FLOOR: Duration = Duration::from_secs(60);
/// Identities made by the local dev login are stored under this issuer.
pub const DEV_ISSUER: &str = "healthsync-dev";

#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub signing_keys: SecretString,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    pub google_client_ids: Vec<String>,
    pub google_client_secret: Option<SecretString>,
    pub google_jwks_url: url::Url,
    pub google_token_url: url::Url,
    /// A second accepted issuer (Entra External ID / Azure AD B2C), by configuration only.
    pub extra_issuer: Option<ProviderConfig>,
    pub dev_login: bool,
    pub rate_limit_per_minute: u32,
}

fn list(src: &dyn Source, name: &str) -> Vec<String> {
    src.get(name)
        .map(|v| v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
        .unwrap_or_default()
}

fn url_setting(src: &dyn Source, name: &'static str, default: &str) -> Result<url::Url, ConfigError> {
    let raw = src.get(name).unwrap_or_else(|| default.to_string());
    url::Url::parse(&raw)
        .ok()
        .filter(|u| matches!(u.scheme(), "https" | "http"))
        .ok_or(ConfigError::Malformed { name, expects: "an http(s) URL" })
}

impl AuthConfig {
    pub fn from_source(src: &dyn Source, env: Environment) -> Result<Self, ConfigError> {
        let signing_keys = match src.get(names::AUTH_SIGNING_KEYS) {
            Some(v) => SecretString::from(v),
            // Locally a missing key is replaced by a random one for this process: tokens then
            // do not survive a restart, which is fine for tests and says so in the log.
            None if env == Environment::Local => {
                tracing::warn!("AUTH_SIGNING_KEYS is not set; using a random key for this process");
                let mut bytes = [0u8; 32];
                rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
                SecretString::from(format!(
                    "ephemeral:{}",
                    base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes)
                ))
            }
            None => {
                return Err(ConfigError::Missing {
                    name: names::AUTH_SIGNING_KEYS,
                    expects: "kid:base64url-secret[,kid:secret...]",
                });
            }
        };
        tokens::SigningKeys::parse(&signing_keys)
            .map_err(|expects| ConfigError::Malformed { name: names::AUTH_SIGNING_KEYS, expects })?;
        let secs = |name: &'static str, default: u64, max: u64| -> Result<u64, ConfigError> {
            match src.get(name) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| (1..=max).contains(n))
                    .ok_or(ConfigError::Malformed { name, expects: "a whole number in range" }),
            }
        };
        let extra_issuer = match src.get(names::OIDC_ISSUER) {
            None => None,
            Some(issuer) => {
                let audiences = list(src, names::OIDC_AUDIENCES);
                if audiences.is_empty() {
                    return Err(ConfigError::Missing {
                        name: names::OIDC_AUDIENCES,
                        expects: "the client ids of the second issuer, comma-separated",
                    });
                }
                let jwks = src.get(names::OIDC_JWKS_URL).ok_or(ConfigError::Missing {
                    name: names::OIDC_JWKS_URL,
                    expects: "the JWKS URI of the second issuer",
                })?;
                Some(ProviderConfig {
                    canonical_issuer: issuer.clone(),
                    issuers: vec![issuer],
                    audiences,
                    jwks_url: url_setting(src, names::OIDC_JWKS_URL, &jwks)?,
                    require_email_verified: false,
                    cache_floor: JWKS_CACHE_FLOOR,
                })
            }
        };
        let dev_login = src.get(names::DEV_LOGIN_ENABLED).is_some_and(|v| v.eq_ignore_ascii_case("true"));
        Ok(AuthConfig {
            signing_keys,
            access_ttl: Duration::from_secs(secs(names::AUTH_ACCESS_TTL_SECS, 900, 3600)?),
            refresh_ttl: Duration::from_secs(secs(names::AUTH_REFRESH_TTL_DAYS, 30, 180)? * 86_400),
            google_client_ids: list(src, names::GOOGLE_CLIENT_IDS),
            google_client_secret: src.get(names::GOOGLE_CLIENT_SECRET).map(SecretString::from),
            google_jwks_url: url_setting(src, names::GOOGLE_JWKS_URL, GOOGLE_JWKS)?,
            google_token_url: url_setting(src, names::GOOGLE_TOKEN_URL, GOOGLE_TOKEN)?,
            extra_issuer,
            // Never in Azure, whatever the setting says.
            dev_login: dev_login && env == Environment::Local,
            rate_limit_per_minute: secs(names::AUTH_RATE_LIMIT_PER_MINUTE, 20, 10_000)? as u32,
        })
    }
}

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
    pub keys: tokens::SigningKeys,
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
    pub fn new(config: AuthConfig) -> anyhow::Result<Self> {
        let keys = tokens::SigningKeys::parse(&config.signing_keys)
            .map_err(|e| anyhow::anyhow!("AUTH_SIGNING_KEYS: expected {e}"))?;
        let client = LazyClient::default();
        let google_breaker = Arc::new(Breaker::new("google", 5, Duration::from_secs(30)));
        let google = (!config.google_client_ids.is_empty()).then(|| {
            Provider::new(
                ProviderConfig {
                    canonical_issuer: GOOGLE_ISSUER.into(),
                    issuers: vec![GOOGLE_ISSUER.into(), "accounts.google.com".into()],
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
            keys,
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
        let expires = chrono::Utc::now() + self.config.refresh_ttl;
        let mut conn = pool.acquire().await.context("acquiring a connection")?;
        store::insert_refresh(&mut conn, user.id, Uuid::now_v7(), &hash, expires).await?;
        self.pair(user.id, user.status(), refresh, new_user)
    }

    pub fn pair(
        &self,
        user: Uuid,
        status: super::model::UserStatus,
        refresh: String,
        new_user: bool,
    ) -> anyhow::Result<TokenPair> {
        Ok(TokenPair {
            access_token: tokens::issue_access(&self.keys, user, self.config.access_ttl)?,
            refresh_token: refresh,
            token_type: "Bearer",
            expires_in: self.config.access_ttl.as_secs(),
            new_user,
            user_id: user,
            status,
        })
    }
}
