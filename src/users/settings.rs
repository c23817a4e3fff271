//! The user domain's settings: our token keys and lifetimes, Google, a second OIDC issuer, the
//! dev login and the sign-in rate limit.

use std::time::Duration;

use secrecy::SecretString;

use super::{
    auth::{GOOGLE_ISSUER, JWKS_CACHE_FLOOR},
    oidc::ProviderConfig,
    tokens,
};
use crate::config::{ConfigError, Environment, Setting, Source};

pub const AUTH_SIGNING_KEYS: Setting = Setting::new(
    "AUTH_SIGNING_KEYS",
    "`kid:base64url-secret[,kid:secret…]`, ≥ 32 bytes each; the first signs, all verify (local: random per process)",
)
.secret()
.required_in_azure();
pub const AUTH_ACCESS_TTL_SECS: Setting =
    Setting::new("AUTH_ACCESS_TTL_SECS", "lifetime of our access tokens").default("900");
pub const AUTH_REFRESH_TTL_DAYS: Setting =
    Setting::new("AUTH_REFRESH_TTL_DAYS", "lifetime of a refresh token (rotated on every use)").default("30");
pub const GOOGLE_CLIENT_IDS: Setting = Setting::new(
    "GOOGLE_CLIENT_IDS",
    "accepted `aud` values (Android, iOS, web client ids), comma-separated",
);
pub const GOOGLE_CLIENT_SECRET: Setting =
    Setting::new("GOOGLE_CLIENT_SECRET", "for the authorization-code exchange").secret();
pub const GOOGLE_JWKS_URL: Setting = Setting::new("GOOGLE_JWKS_URL", "Google's signing keys (overridable for tests)")
    .default("https://www.googleapis.com/oauth2/v3/certs");
pub const GOOGLE_TOKEN_URL: Setting =
    Setting::new("GOOGLE_TOKEN_URL", "Google's token endpoint (overridable for tests)")
        .default("https://oauth2.googleapis.com/token");
pub const OIDC_ISSUER: Setting =
    Setting::new("OIDC_ISSUER", "a second accepted issuer (Entra External ID / Azure AD B2C)");
pub const OIDC_JWKS_URL: Setting = Setting::new("OIDC_JWKS_URL", "the second issuer's JWKS URI");
pub const OIDC_AUDIENCES: Setting =
    Setting::new("OIDC_AUDIENCES", "the second issuer's client ids, comma-separated");
pub const AUTH_RATE_LIMIT_PER_MINUTE: Setting = Setting::new(
    "AUTH_RATE_LIMIT_PER_MINUTE",
    "login and refresh attempts per client address and per account",
)
.default("20");
pub const DEV_LOGIN_ENABLED: Setting =
    Setting::new("DEV_LOGIN_ENABLED", "`POST /api/auth/dev-login`; only honoured outside Azure")
        .default("false")
        .local_only();

pub const SETTINGS: &[Setting] = &[
    AUTH_SIGNING_KEYS,
    AUTH_ACCESS_TTL_SECS,
    AUTH_REFRESH_TTL_DAYS,
    GOOGLE_CLIENT_IDS,
    GOOGLE_CLIENT_SECRET,
    GOOGLE_JWKS_URL,
    GOOGLE_TOKEN_URL,
    OIDC_ISSUER,
    OIDC_JWKS_URL,
    OIDC_AUDIENCES,
    AUTH_RATE_LIMIT_PER_MINUTE,
    DEV_LOGIN_ENABLED,
];

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

fn required_url(setting: &Setting, src: &dyn Source) -> Result<url::Url, ConfigError> {
    setting.url(src)?.ok_or(ConfigError::Missing { name: setting.name, expects: "an http(s) URL" })
}

fn random_key() -> SecretString {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    SecretString::from(format!(
        "ephemeral:{}",
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes)
    ))
}

impl AuthConfig {
    pub fn from_source(src: &dyn Source, env: Environment) -> Result<Self, ConfigError> {
        let keys_expected = "kid:base64url-secret[,kid:secret...]";
        let signing_keys = match AUTH_SIGNING_KEYS.read(src) {
            Some(v) => SecretString::from(v),
            // Locally a missing key is replaced by a random one for this process: tokens then
            // do not survive a restart, which is fine for tests and says so in the log.
            None if env == Environment::Local => {
                tracing::warn!("AUTH_SIGNING_KEYS is not set; using a random key for this process");
                random_key()
            }
            None => return Err(ConfigError::Missing { name: AUTH_SIGNING_KEYS.name, expects: keys_expected }),
        };
        tokens::SigningKeys::parse(&signing_keys)
            .map_err(|expects| ConfigError::Malformed { name: AUTH_SIGNING_KEYS.name, expects })?;
        if env == Environment::Azure && tokens::uses_well_known_key(&signing_keys) {
            return Err(ConfigError::Malformed {
                name: AUTH_SIGNING_KEYS.name,
                expects: "a secret of this deployment (a key published in the repository forges tokens for anyone)",
            });
        }
        let extra_issuer = match OIDC_ISSUER.read(src) {
            None => None,
            Some(issuer) => {
                let audiences = OIDC_AUDIENCES.list(src);
                if audiences.is_empty() {
                    return Err(ConfigError::Missing {
                        name: OIDC_AUDIENCES.name,
                        expects: "the client ids of the second issuer, comma-separated",
                    });
                }
                Some(ProviderConfig {
                    canonical_issuer: issuer.clone(),
                    issuers: vec![issuer],
                    audiences,
                    jwks_url: required_url(&OIDC_JWKS_URL, src)?,
                    require_email_verified: false,
                    cache_floor: JWKS_CACHE_FLOOR,
                })
            }
        };
        let in_range = "a whole number in range";
        Ok(AuthConfig {
            signing_keys,
            access_ttl: Duration::from_secs(AUTH_ACCESS_TTL_SECS.number(src, in_range, 1..=3600)?),
            refresh_ttl: Duration::from_secs(AUTH_REFRESH_TTL_DAYS.number::<u64>(src, in_range, 1..=180)? * 86_400),
            google_client_ids: GOOGLE_CLIENT_IDS.list(src),
            google_client_secret: GOOGLE_CLIENT_SECRET.read(src).map(SecretString::from),
            google_jwks_url: required_url(&GOOGLE_JWKS_URL, src)?,
            google_token_url: required_url(&GOOGLE_TOKEN_URL, src)?,
            extra_issuer,
            // Never in Azure, whatever the setting says.
            dev_login: DEV_LOGIN_ENABLED.flag(src)? && env == Environment::Local,
            rate_limit_per_minute: AUTH_RATE_LIMIT_PER_MINUTE.number(src, in_range, 1..=10_000)?,
        })
    }

    /// Google's issuer spellings.
    pub fn google_issuers() -> Vec<String> {
        vec![GOOGLE_ISSUER.into(), "accounts.google.com".into()]
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn src(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn in_azure_the_signing_key_is_required_and_the_dev_login_is_off() {
        let base = [("DEV_LOGIN_ENABLED", "true")];
        let err = AuthConfig::from_source(&src(&base), Environment::Azure).unwrap_err().to_string();
        assert!(err.contains("AUTH_SIGNING_KEYS"), "{err}");
        let mut s = src(&base);
        s.insert("AUTH_SIGNING_KEYS".into(), "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY".into());
        assert!(!AuthConfig::from_source(&s, Environment::Azure).unwrap().dev_login);
        assert!(AuthConfig::from_source(&s, Environment::Local).unwrap().dev_login);
    }

    #[test]
    fn the_key_committed_in_local_settings_is_refused_in_azure() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/local.settings.json")).unwrap();
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        let committed = doc["Values"]["AUTH_SIGNING_KEYS"].as_str().unwrap();
        let s = src(&[("AUTH_SIGNING_KEYS", committed)]);
        assert!(AuthConfig::from_source(&s, Environment::Local).is_ok());
        let err = AuthConfig::from_source(&s, Environment::Azure).unwrap_err().to_string();
        assert!(err.contains("AUTH_SIGNING_KEYS") && !err.contains(committed), "{err}");
        // Also when it only verifies, behind a new signing key.
        let rotated = format!("k9:{},{committed}", "A".repeat(43));
        assert!(AuthConfig::from_source(&src(&[("AUTH_SIGNING_KEYS", &rotated)]), Environment::Azure).is_err());
    }

    #[test]
    fn malformed_identity_settings_are_named() {
        for (name, value) in
            [("AUTH_ACCESS_TTL_SECS", "0"), ("GOOGLE_JWKS_URL", "ftp://x"), ("AUTH_SIGNING_KEYS", "k1:short")]
        {
            let err = AuthConfig::from_source(&src(&[(name, value)]), Environment::Local).unwrap_err();
            assert!(err.to_string().contains(name), "{name}: {err}");
        }
        let err = AuthConfig::from_source(&src(&[("OIDC_ISSUER", "https://b2c")]), Environment::Local).unwrap_err();
        assert!(err.to_string().contains("OIDC_AUDIENCES"), "{err}");
    }
}
