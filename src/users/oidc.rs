//! Verifying OpenID Connect ID tokens (Google, and any second issuer such as Entra External ID /
//! Azure AD B2C): RS256 only, signature against the issuer's JWKS, `iss`, `aud`, `exp`/`iat` with
//! a small leeway, and `email_verified` where the provider asserts emails.
//!
//! The JWKS is cached for its `Cache-Control: max-age`, fetched again once when a token names an
//! unknown `kid` (keys rotate), and fetched with a timeout through a circuit breaker. With the
//! provider unreachable, cached keys keep working; without any, sign-in is a 503.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
use serde::Deserialize;
use tokio::sync::{Mutex, RwLock};

use crate::platform::{
    http_client::LazyClient,
    resilience::{Breaker, CallError},
};

/// Why an ID token was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The token is not acceptable; the reason is for logs only.
    #[error("invalid ID token: {0}")]
    Invalid(&'static str),
    /// The provider's keys could not be had.
    #[error("identity provider unavailable")]
    Unavailable(#[source] anyhow::Error),
}

/// A verified sign-in: who, at which issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    /// The canonical issuer we store identities under.
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// Stored with each identity (e.g. `https://accounts.google.com`).
    pub canonical_issuer: String,
    /// Every `iss` value the provider uses (Google has two spellings).
    pub issuers: Vec<String>,
    pub audiences: Vec<String>,
    pub jwks_url: url::Url,
    pub require_email_verified: bool,
    /// The shortest time a fetched JWKS is trusted, whatever its `max-age` says.
    pub cache_floor: Duration,
}

struct Cached {
    keys: JwkSet,
    fetched_at: Instant,
    max_age: Duration,
}

pub struct Provider {
    config: ProviderConfig,
    client: LazyClient,
    breaker: Arc<Breaker>,
    cache: RwLock<Option<Cached>>,
    /// Serialises fetches and remembers the last one, so a flood of unknown `kid`s cannot turn
    /// into a flood of JWKS requests.
    fetch: Mutex<Option<Instant>>,
}

const LEEWAY_SECS: u64 = 60;
const MIN_REFETCH: Duration = Duration::from_secs(10);
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Deserialize)]
struct IdClaims {
    sub: String,
    iat: Option<u64>,
    email: Option<String>,
    email_verified: Option<serde_json::Value>,
}

impl Provider {
    pub fn new(config: ProviderConfig, client: LazyClient, breaker: Arc<Breaker>) -> Self {
        Self { config, client, breaker, cache: RwLock::new(None), fetch: Mutex::new(None) }
    }

    pub fn config(&self) -> &ProviderConfig {
        &self.config
    }

    /// Verifies `token` and returns who it names.
    pub async fn verify(&self, token: &str) -> Result<VerifiedIdentity, VerifyError> {
        // The header is read only to pick the key; `alg` is then pinned, never trusted.
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Invalid("malformed token"))?;
        if header.alg != Algorithm::RS256 {
            return Err(VerifyError::Invalid("algorithm other than RS256"));
        }
        // RFC 7515 §4.1.11: an extension the sender marks critical must be understood; we
        // understand none.
        if header.crit.is_some() {
            return Err(VerifyError::Invalid("critical header extension"));
        }
        let kid = header.kid.ok_or(VerifyError::Invalid("no kid"))?;
        let key = self.key_for(&kid).await?;
        let mut v = Validation::new(Algorithm::RS256);
        v.set_issuer(&self.config.issuers);
        v.set_audience(&self.config.audiences);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        v.leeway = LEEWAY_SECS;
        v.validate_nbf = true;
        let data = jsonwebtoken::decode::<IdClaims>(token, &key, &v).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            VerifyError::Invalid(match e.kind() {
                K::ExpiredSignature => "expired",
                K::InvalidAudience => "wrong audience",
                K::InvalidIssuer => "wrong issuer",
                K::InvalidSignature => "bad signature",
                K::MissingRequiredClaim(_) => "missing claim",
                _ => "undecodable",
            })
        })?;
        let claims = data.claims;
        let now = jsonwebtoken::get_current_timestamp();
        if claims.iat.is_none_or(|iat| iat > now + LEEWAY_SECS) {
            return Err(VerifyError::Invalid("issued in the future or without iat"));
        }
        if self.config.require_email_verified {
            let verified = match &claims.email_verified {
                Some(serde_json::Value::Bool(b)) => *b,
                Some(serde_json::Value::String(s)) => s == "true",
                _ => false,
            };
            if !verified {
                return Err(VerifyError::Invalid("email not verified"));
            }
        }
        if claims.sub.is_empty() || claims.sub.len() > 255 {
            return Err(VerifyError::Invalid("bad subject"));
        }
        Ok(VerifiedIdentity {
            issuer: self.config.canonical_issuer.clone(),
            subject: claims.sub,
            email: claims.email.filter(|e| e.len() <= 320),
        })
    }

    async fn key_for(&self, kid: &str) -> Result<DecodingKey, VerifyError> {
        match self.lookup(kid).await {
            Lookup::Found(key) => return Ok(key),
            // A fresh set without this kid: the provider may have rotated. Fetch once.
            Lookup::Fresh => {
                if let Err(err) = self.refresh(false).await {
                    tracing::warn!(error = format!("{err:#}"), "JWKS refetch for an unknown kid failed");
                }
            }
            Lookup::Stale | Lookup::Empty => {
                if let Err(err) = self.refresh(true).await {
                    // Keep serving with expired keys rather than failing everyone.
                    return match self.any_key(kid).await {
                        Some(key) => {
                            tracing::warn!(
                                error = format!("{err:#}"),
                                "JWKS refresh failed; using cached keys"
                            );
                            Ok(key)
                        }
                        None if self.cache.read().await.is_some() => Err(VerifyError::Invalid("unknown kid")),
                        None => Err(VerifyError::Unavailable(err)),
                    };
                }
            }
        }
        self.any_key(kid).await.ok_or(VerifyError::Invalid("unknown kid"))
    }

    async fn lookup(&self, kid: &str) -> Lookup {
        let guard = self.cache.read().await;
        let Some(c) = guard.as_ref() else { return Lookup::Empty };
        if c.fetched_at.elapsed() >= c.max_age {
            return Lookup::Stale;
        }
        match c.keys.find(kid).and_then(|jwk| DecodingKey::from_jwk(jwk).ok()) {
            Some(key) => Lookup::Found(key),
            None => Lookup::Fresh,
        }
    }

    /// The key for `kid` from the cached set, fresh or not.
    async fn any_key(&self, kid: &str) -> Option<DecodingKey> {
        let guard = self.cache.read().await;
        guard.as_ref()?.keys.find(kid).and_then(|jwk| DecodingKey::from_jwk(jwk).ok())
    }

    /// Fetches the JWKS unless another fetch happened within `MIN_REFETCH` (then that one's
    /// result stands); an expired cache (`force`) is throttled to one fetch a second.
    async fn refresh(&self, force: bool) -> anyhow::Result<()> {
        let mut last = self.fetch.lock().await;
        let throttle = if force { Duration::from_secs(1) } else { MIN_REFETCH };
        if last.is_some_and(|t| t.elapsed() < throttle) && self.cache.read().await.is_some() {
            return Ok(());
        }
        *last = Some(Instant::now());
        let (keys, max_age) = self.fetch_jwks().await?;
        *self.cache.write().await = Some(Cached { keys, fetched_at: Instant::now(), max_age });
        Ok(())
    }

    async fn fetch_jwks(&self) -> anyhow::Result<(JwkSet, Duration)> {
        let url = self.config.jwks_url.clone();
        let client = self.client.get().clone();
        let floor = self.config.cache_floor;
        let result = self
            .breaker
            .call(
                |_: &anyhow::Error| true,
                || async move {
                    let res = client.get(url).timeout(FETCH_TIMEOUT).send().await?.error_for_status()?;
                    let max_age = max_age(res.headers(), floor);
                    let keys: JwkSet = res.json().await?;
                    anyhow::ensure!(!keys.keys.is_empty(), "the JWKS holds no keys");
                    Ok((keys, max_age))
                },
            )
            .await;
        match result {
            Ok(v) => Ok(v),
            Err(CallError::Open(open)) => Err(anyhow::Error::new(open)),
            Err(CallError::Failed(e)) => Err(e.context("fetching the JWKS")),
        }
    }
}

enum Lookup {
    Found(DecodingKey),
    /// The cached set is fresh but lacks the kid.
    Fresh,
    /// The cached set has expired.
    Stale,
    Empty,
}

/// `Cache-Control: max-age` of a JWKS answer, between `floor` and one day (default one hour).
fn max_age(headers: &reqwest::header::HeaderMap, floor: Duration) -> Duration {
    let secs = headers
        .get(reqwest::header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(',')
                .find_map(|d| d.trim().strip_prefix("max-age=").and_then(|n| n.trim().parse::<u64>().ok()))
        })
        .unwrap_or(3600);
    Duration::from_secs(secs).clamp(floor.min(Duration::from_secs(86_400)), Duration::from_secs(86_400))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_read_and_bounded() {
        let mut h = reqwest::header::HeaderMap::new();
        let floor = Duration::from_secs(60);
        assert_eq!(max_age(&h, floor), Duration::from_secs(3600));
        h.insert("cache-control", "public, max-age=21600, must-revalidate".parse().unwrap());
        assert_eq!(max_age(&h, floor), Duration::from_secs(21600));
        h.insert("cache-control", "max-age=1".parse().unwrap());
        assert_eq!(max_age(&h, floor), Duration::from_secs(60));
        assert_eq!(max_age(&h, Duration::ZERO), Duration::from_secs(1));
    }
}
