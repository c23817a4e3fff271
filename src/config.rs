//! Configuration, read only from environment variables (App Settings in Azure; the `Values` of
//! `local.settings.json` under `healthsync dev`). Every setting has one name, one parser and one
//! error that names it, so a misconfigured deployment says exactly what is wrong.

use std::{collections::HashMap, path::PathBuf, time::Duration};

use secrecy::SecretString;
use url::Url;

/// A setting that is missing or cannot be parsed. The message names the setting and what it
/// expects, never the value (it may be a secret).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("setting {name} is required but not set ({expects})")]
    Missing { name: &'static str, expects: &'static str },
    #[error("setting {name} is malformed: expected {expects}")]
    Malformed { name: &'static str, expects: &'static str },
}

/// Where the process runs. Decides which local stand-ins are allowed (the dev login, for one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    /// `healthsync dev` or a developer's shell.
    Local,
    /// Inside the Azure Functions host in Azure (detected from the platform's own variables).
    Azure,
}

/// Which request header carries the caller's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientIpHeader {
    /// `X-Azure-ClientIP`, set by Front Door (the only way in when Front Door is deployed).
    FrontDoor,
    /// The last `X-Forwarded-For` entry, appended by the platform's own front end.
    ForwardedFor,
}

/// Where checkup files and other blobs go.
#[derive(Debug, Clone)]
pub enum BlobConfig {
    /// A folder on disk (the local default).
    Folder(PathBuf),
    /// An Azure Blob container. A URL carrying a SAS query authenticates with it (Azurite);
    /// an https URL without one uses the app's managed identity.
    Azure { container_url: Url },
}

#[derive(Debug, Clone)]
pub struct Config {
    pub environment: Environment,
    pub database_url: SecretString,
    pub db_pool_max: u32,
    pub db_acquire_timeout: Duration,
    /// `None`: the in-process cache.
    pub redis_url: Option<SecretString>,
    pub blob: BlobConfig,
    /// Where events go: the Service Bus namespace (Azure), or `None` for the local host's queue.
    pub service_bus_namespace: Option<String>,
    /// The client id of the app's user-assigned managed identity (Azure); `None`: system-assigned.
    pub managed_identity_client_id: Option<String>,
    pub http_body_limit: usize,
    pub http_timeout: Duration,
    pub ready_check_timeout: Duration,
    pub client_ip_header: ClientIpHeader,
    pub auth: crate::users::auth::AuthConfig,
}

/// A source of settings: the process environment in production, a map in tests.
pub trait Source {
    fn get(&self, name: &str) -> Option<String>;
}

pub struct ProcessEnv;

impl Source for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }
}

impl Source for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        HashMap::get(self, name).cloned().filter(|v| !v.trim().is_empty())
    }
}

pub mod names {
    pub const DATABASE_URL: &str = "DATABASE_URL";
    pub const DB_POOL_MAX: &str = "DB_POOL_MAX";
    pub const DB_ACQUIRE_TIMEOUT_MS: &str = "DB_ACQUIRE_TIMEOUT_MS";
    pub const REDIS_URL: &str = "REDIS_URL";
    pub const BLOB_CONTAINER_URL: &str = "BLOB_CONTAINER_URL";
    pub const BLOB_DIR: &str = "BLOB_DIR";
    pub const HTTP_BODY_LIMIT_BYTES: &str = "HTTP_BODY_LIMIT_BYTES";
    pub const HTTP_TIMEOUT_MS: &str = "HTTP_TIMEOUT_MS";
    pub const READY_CHECK_TIMEOUT_MS: &str = "READY_CHECK_TIMEOUT_MS";
    /// `X-Azure-ClientIP` behind Front Door, else `X-Forwarded-For`.
    pub const CLIENT_IP_HEADER: &str = "CLIENT_IP_HEADER";
    pub const CUSTOMHANDLER_PORT: &str = "FUNCTIONS_CUSTOMHANDLER_PORT";
    /// Set by App Service / Functions on every instance in Azure.
    pub const WEBSITE_INSTANCE_ID: &str = "WEBSITE_INSTANCE_ID";
    pub const WEBSITE_SITE_NAME: &str = "WEBSITE_SITE_NAME";
    pub const HEARTBEAT_SCHEDULE: &str = "HEARTBEAT_SCHEDULE";
    /// 6-field NCRONTAB of the `OutboxRelay` timer (the outbox sweep).
    pub const OUTBOX_RELAY_SCHEDULE: &str = "OUTBOX_RELAY_SCHEDULE";
    /// Service Bus triggers' connection (identity-based: the namespace's host name).
    pub const SERVICE_BUS_NAMESPACE: &str = "ServiceBusConnection__fullyQualifiedNamespace";
    /// The user-assigned managed identity the app authenticates to Azure services with.
    pub const AZURE_CLIENT_ID: &str = "AZURE_CLIENT_ID";

    // Identity (src/users): our token keys, Google, a second OIDC issuer, limits.
    pub const AUTH_SIGNING_KEYS: &str = "AUTH_SIGNING_KEYS";
    pub const AUTH_ACCESS_TTL_SECS: &str = "AUTH_ACCESS_TTL_SECS";
    pub const AUTH_REFRESH_TTL_DAYS: &str = "AUTH_REFRESH_TTL_DAYS";
    pub const GOOGLE_CLIENT_IDS: &str = "GOOGLE_CLIENT_IDS";
    pub const GOOGLE_CLIENT_SECRET: &str = "GOOGLE_CLIENT_SECRET";
    pub const GOOGLE_JWKS_URL: &str = "GOOGLE_JWKS_URL";
    pub const GOOGLE_TOKEN_URL: &str = "GOOGLE_TOKEN_URL";
    pub const OIDC_ISSUER: &str = "OIDC_ISSUER";
    pub const OIDC_JWKS_URL: &str = "OIDC_JWKS_URL";
    pub const OIDC_AUDIENCES: &str = "OIDC_AUDIENCES";
    pub const DEV_LOGIN_ENABLED: &str = "DEV_LOGIN_ENABLED";
    pub const AUTH_RATE_LIMIT_PER_MINUTE: &str = "AUTH_RATE_LIMIT_PER_MINUTE";

    /// Every setting the app reads in Azure. The Bicep must set each one (a test checks it);
    /// settings only the local host uses (`BLOB_DIR`, the dev cluster's port, `DEV_LOGIN_ENABLED`)
    /// and those the platform sets itself are not here.
    pub const AZURE_APP_SETTINGS: &[&str] = &[
        DATABASE_URL,
        DB_POOL_MAX,
        DB_ACQUIRE_TIMEOUT_MS,
        REDIS_URL,
        BLOB_CONTAINER_URL,
        HTTP_BODY_LIMIT_BYTES,
        HTTP_TIMEOUT_MS,
        READY_CHECK_TIMEOUT_MS,
        CLIENT_IP_HEADER,
        HEARTBEAT_SCHEDULE,
        OUTBOX_RELAY_SCHEDULE,
        SERVICE_BUS_NAMESPACE,
        AZURE_CLIENT_ID,
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
    ];
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(&ProcessEnv)
    }

    pub fn from_source(src: &dyn Source) -> Result<Self, ConfigError> {
        use names::*;
        let environment = detect_environment(src);
        let database_url = src
            .get(DATABASE_URL)
            .ok_or(ConfigError::Missing { name: DATABASE_URL, expects: "a postgres:// URL" })?;
        if !(database_url.starts_with("postgres://") || database_url.starts_with("postgresql://")) {
            return Err(ConfigError::Malformed { name: DATABASE_URL, expects: "a postgres:// URL" });
        }
        let redis_url = match src.get(REDIS_URL) {
            Some(u) if u.starts_with("redis://") || u.starts_with("rediss://") => Some(SecretString::from(u)),
            Some(_) => {
                return Err(ConfigError::Malformed {
                    name: REDIS_URL,
                    expects: "a redis:// or rediss:// URL",
                });
            }
            None => None,
        };
        let blob = match src.get(BLOB_CONTAINER_URL) {
            Some(u) => {
                let url = Url::parse(&u).map_err(|_| ConfigError::Malformed {
                    name: BLOB_CONTAINER_URL,
                    expects: "an http(s) URL of a blob container",
                })?;
                let has_sas = has_sas(&url);
                if !(url.scheme() == "https" || (url.scheme() == "http" && has_sas))
                    || url.path_segments().is_none_or(|mut s| s.next_back().unwrap_or("").is_empty())
                {
                    return Err(ConfigError::Malformed {
                        name: BLOB_CONTAINER_URL,
                        expects: "an https container URL (managed identity), or an http one with a SAS",
                    });
                }
                BlobConfig::Azure { container_url: url }
            }
            None => BlobConfig::Folder(
                src.get(BLOB_DIR).map(PathBuf::from).unwrap_or_else(|| PathBuf::from(".healthsync/blobs")),
            ),
        };
        Ok(Config {
            environment,
            database_url: SecretString::from(database_url),
            db_pool_max: parse_num(src, DB_POOL_MAX, 5, "a whole number from 1 to 100", 1..=100)?,
            db_acquire_timeout: Duration::from_millis(parse_num(
                src,
                DB_ACQUIRE_TIMEOUT_MS,
                3_000,
                "milliseconds from 100 to 60000",
                100..=60_000,
            )?),
            redis_url,
            blob,
            managed_identity_client_id: src.get(AZURE_CLIENT_ID),
            service_bus_namespace: src.get(SERVICE_BUS_NAMESPACE),
            http_body_limit: parse_num(
                src,
                HTTP_BODY_LIMIT_BYTES,
                1 << 20,
                "bytes from 1024 to 104857600",
                1024..=100 << 20,
            )?,
            http_timeout: Duration::from_millis(parse_num(
                src,
                HTTP_TIMEOUT_MS,
                15_000,
                "milliseconds from 100 to 230000",
                100..=230_000,
            )?),
            ready_check_timeout: Duration::from_millis(parse_num(
                src,
                READY_CHECK_TIMEOUT_MS,
                2_000,
                "milliseconds from 50 to 30000",
                50..=30_000,
            )?),
            client_ip_header: match src.get(CLIENT_IP_HEADER).map(|v| v.to_ascii_lowercase()).as_deref() {
                None | Some("x-forwarded-for") => ClientIpHeader::ForwardedFor,
                Some("x-azure-clientip") => ClientIpHeader::FrontDoor,
                Some(_) => {
                    return Err(ConfigError::Malformed {
                        name: CLIENT_IP_HEADER,
                        expects: "X-Forwarded-For or X-Azure-ClientIP",
                    });
                }
            },
            auth: crate::users::auth::AuthConfig::from_source(src, environment)?,
        })
    }
}

/// Whether a blob URL carries a shared access signature (then no other credential is used).
pub fn has_sas(url: &Url) -> bool {
    url.query_pairs().any(|(k, _)| k == "sig")
}

pub fn detect_environment(src: &dyn Source) -> Environment {
    if src.get(names::WEBSITE_INSTANCE_ID).is_some() || src.get(names::WEBSITE_SITE_NAME).is_some() {
        Environment::Azure
    } else {
        Environment::Local
    }
}

fn parse_num<T>(
    src: &dyn Source,
    name: &'static str,
    default: T,
    expects: &'static str,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd,
{
    match src.get(name) {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse::<T>()
            .ok()
            .filter(|v| range.contains(v))
            .ok_or(ConfigError::Malformed { name, expects }),
    }
}

/// The port the Functions host gave us (`FUNCTIONS_CUSTOMHANDLER_PORT`).
pub fn handler_port(src: &dyn Source) -> Result<u16, ConfigError> {
    let name = names::CUSTOMHANDLER_PORT;
    let raw = src.get(name).ok_or(ConfigError::Missing { name, expects: "a TCP port" })?;
    raw.trim()
        .parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or(ConfigError::Malformed { name, expects: "a TCP port from 1 to 65535" })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_missing_database_url_is_named_in_the_error() {
        let err = Config::from_source(&src(&[])).unwrap_err();
        assert!(err.to_string().contains("DATABASE_URL"), "{err}");
    }

    #[test]
    fn malformed_settings_are_named_and_their_values_are_not_echoed() {
        let cases = [
            ("DATABASE_URL", "mysql://secret@x/y"),
            ("DB_POOL_MAX", "0"),
            ("DB_POOL_MAX", "many"),
            ("REDIS_URL", "http://secretpw@localhost"),
            ("BLOB_CONTAINER_URL", "http://127.0.0.1:10000/acct/c"),
            ("HTTP_TIMEOUT_MS", "-5"),
        ];
        for (name, value) in cases {
            let mut s = src(&[("DATABASE_URL", "postgres://localhost/x")]);
            s.insert(name.to_string(), value.to_string());
            let err = Config::from_source(&s).unwrap_err().to_string();
            assert!(err.contains(name), "{name}: {err}");
            assert!(!err.contains("secret"), "{name}: {err}");
        }
    }

    #[test]
    fn defaults_are_small_pools_and_local_stand_ins() {
        let c = Config::from_source(&src(&[("DATABASE_URL", "postgres://localhost/x")])).unwrap();
        assert_eq!(c.db_pool_max, 5);
        assert!(c.redis_url.is_none());
        assert!(matches!(c.blob, BlobConfig::Folder(_)));
        assert_eq!(c.environment, Environment::Local);
    }

    #[test]
    fn azure_is_detected_from_the_platform_variables() {
        let c = Config::from_source(&src(&[
            ("DATABASE_URL", "postgres://localhost/x"),
            ("WEBSITE_INSTANCE_ID", "abc"),
            ("BLOB_CONTAINER_URL", "https://acct.blob.core.windows.net/checkup-files"),
            ("AUTH_SIGNING_KEYS", "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"),
        ]))
        .unwrap();
        assert_eq!(c.environment, Environment::Azure);
        assert!(matches!(c.blob, BlobConfig::Azure { .. }));
    }

    #[test]
    fn in_azure_the_signing_key_is_required_and_the_dev_login_is_off() {
        let base = [
            ("DATABASE_URL", "postgres://localhost/x"),
            ("WEBSITE_SITE_NAME", "app"),
            ("DEV_LOGIN_ENABLED", "true"),
        ];
        let err = Config::from_source(&src(&base)).unwrap_err().to_string();
        assert!(err.contains("AUTH_SIGNING_KEYS"), "{err}");
        let mut s = src(&base);
        s.insert("AUTH_SIGNING_KEYS".into(), "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY".into());
        assert!(!Config::from_source(&s).unwrap().auth.dev_login);
    }

    #[test]
    fn the_handler_port_must_be_a_real_port() {
        assert!(handler_port(&src(&[])).is_err());
        assert!(handler_port(&src(&[("FUNCTIONS_CUSTOMHANDLER_PORT", "0")])).is_err());
        assert!(handler_port(&src(&[("FUNCTIONS_CUSTOMHANDLER_PORT", "x")])).is_err());
        assert_eq!(handler_port(&src(&[("FUNCTIONS_CUSTOMHANDLER_PORT", "4021")])).unwrap(), 4021);
    }
}
