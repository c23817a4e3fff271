//! The platform's own settings: database, cache, blob storage, Service Bus, HTTP limits. Each
//! domain declares and reads its own settings the same way (see `crate::domain`).

use std::{path::PathBuf, time::Duration};

use secrecy::SecretString;
use url::Url;

use super::{ConfigError, Environment, Setting, Source, detect_environment, has_sas};

pub const DATABASE_URL: Setting =
    Setting::new("DATABASE_URL", "PostgreSQL URL (dev: a private cluster when unset)")
        .secret()
        .required_in_azure();
pub const DB_POOL_MAX: Setting =
    Setting::new("DB_POOL_MAX", "pool size per instance (instances multiply it)").default("5");
pub const DB_ACQUIRE_TIMEOUT_MS: Setting =
    Setting::new("DB_ACQUIRE_TIMEOUT_MS", "waiting longer for a connection answers 503").default("3000");
pub const DATABASE_AUTH: Setting = Setting::new(
    "DATABASE_AUTH",
    "`password` (from `DATABASE_URL`) or `entra`: the managed identity's Entra token, renewed before it expires",
)
.default("password");
pub const DATABASE_APP_PRINCIPAL: Setting = Setting::new(
    "DATABASE_APP_PRINCIPAL",
    "`healthsync migrate` only: `role:object-id` of the managed identity that gets the app's rights (no more)",
)
.local_only();
pub const REDIS_URL: Setting =
    Setting::new("REDIS_URL", "`redis://` or `rediss://`; unset: an in-process cache").secret();
pub const REDIS_AUTH: Setting = Setting::new(
    "REDIS_AUTH",
    "`url` (credentials in `REDIS_URL`, if any) or `entra`: the managed identity's token as `REDIS_USERNAME`",
)
.default("url");
pub const REDIS_USERNAME: Setting =
    Setting::new("REDIS_USERNAME", "with `REDIS_AUTH=entra`: the managed identity's object id");
pub const REDIS_NEAR_CACHE_MB: Setting = Setting::new(
    "REDIS_NEAR_CACHE_MB",
    "with Redis: MiB of recently read entries kept in process, dropped on any instance's change (0: off)",
)
.default("16");
pub const BLOB_CONTAINER_URL: Setting = Setting::new(
    "BLOB_CONTAINER_URL",
    "an https container URL (managed identity) or an http one with a SAS (Azurite); unset: a folder",
);
pub const BLOB_DIR: Setting = Setting::new("BLOB_DIR", "the blob folder when no container is configured")
    .default(".healthsync/blobs")
    .local_only();
pub const HTTP_BODY_LIMIT_BYTES: Setting =
    Setting::new("HTTP_BODY_LIMIT_BYTES", "larger request bodies get 413").default("1048576");
pub const HTTP_TIMEOUT_MS: Setting =
    Setting::new("HTTP_TIMEOUT_MS", "a request taking longer gets 503 `TIMEOUT`").default("15000");
pub const HTTP_LONG_TIMEOUT_MS: Setting = Setting::new(
    "HTTP_LONG_TIMEOUT_MS",
    "routes that may wait for Claude (diagnosis, recommendations, chat, the goals reset) get this long before 503 `TIMEOUT` (below Front Door's 60 s origin timeout)",
)
.default("55000");
pub const READY_CHECK_TIMEOUT_MS: Setting =
    Setting::new("READY_CHECK_TIMEOUT_MS", "per-dependency timeout of `/api/system/ready`").default("2000");
pub const CLIENT_IP_HEADER: Setting = Setting::new(
    "CLIENT_IP_HEADER",
    "where the caller's address is read (last entry); `X-Azure-ClientIP` behind Front Door",
)
.default("X-Forwarded-For");
pub const SERVICE_BUS_NAMESPACE: Setting = Setting::new(
    "ServiceBusConnection__fullyQualifiedNamespace",
    "Service Bus namespace: the triggers read it, the relay publishes to its `events` topic; unset: the local queue",
);
pub const OUTBOX_PUBLISH_BUDGET_MS: Setting = Setting::new(
    "OUTBOX_PUBLISH_BUDGET_MS",
    "with Service Bus: how long a request or invocation waits to publish the events it committed (0: leave them to the sweep)",
)
.default("1000");
pub const SERVICE_BUS_ENDPOINT: Setting = Setting::new(
    "SERVICE_BUS_ENDPOINT",
    "the Service Bus endpoint for tests and benches (a local fake); unset: `https://{namespace}/`",
)
.local_only();
pub const EVENT_HUB_NAMESPACE: Setting = Setting::new(
    "EVENT_HUB_NAMESPACE",
    "Event Hubs namespace (host name) that receives analytics events (`ai.*`); unset: they stay in the outbox like every event",
);
pub const EVENT_HUB_NAME: Setting =
    Setting::new("EVENT_HUB_NAME", "the event hub of analytics events").default("analytics");
pub const EVENT_HUB_ENDPOINT: Setting = Setting::new(
    "EVENT_HUB_ENDPOINT",
    "the Event Hubs endpoint for tests (a local fake); unset: `https://{EVENT_HUB_NAMESPACE}/`",
)
.local_only();
pub const SERVICE_BUS_SKU: Setting = Setting::new(
    "SERVICE_BUS_SKU",
    "`Standard` or `Premium`: the namespace's tier, which sets the largest Send Message Batch the relay sends (256 KB; Premium 1 MB)",
)
.default("Standard");
pub const EVENT_HUB_SKU: Setting = Setting::new(
    "EVENT_HUB_SKU",
    "`Basic`, `Standard`, `Premium` or `Dedicated`: the Event Hubs tier, which sets the largest batch the relay sends (Basic 256 KB, else 1 MB)",
)
.default("Standard");
pub const AZURE_CLIENT_ID: Setting =
    Setting::new("AZURE_CLIENT_ID", "the app's user-assigned managed identity (Azure)");
pub const RUST_LOG: Setting = Setting::new("RUST_LOG", "log filter; logs are JSON on stdout").default("info");
pub const LOG_FORMAT: Setting = Setting::new(
    "HEALTHSYNC_LOG_FORMAT",
    "`json` or `pretty`; unset: JSON, except `healthsync dev` on a terminal (pretty, for the handler too)",
)
.local_only();
pub const DEV_PG_PORT: Setting = Setting::new(
    "HEALTHSYNC_DEV_PG_PORT",
    "port of the private dev cluster; unset: one derived from the checkout's folder (54330–55329), so two checkouts never share one",
)
.local_only();

pub const CLOCK_START: Setting = Setting::new(
    "CLOCK_START",
    "local only: the app's clock starts at this RFC 3339 instant and runs on (demos and tests of the daily run)",
)
.local_only();

/// Every setting of the platform.
pub const SETTINGS: &[Setting] = &[
    DATABASE_URL,
    DB_POOL_MAX,
    DB_ACQUIRE_TIMEOUT_MS,
    DATABASE_AUTH,
    DATABASE_APP_PRINCIPAL,
    REDIS_URL,
    REDIS_AUTH,
    REDIS_USERNAME,
    REDIS_NEAR_CACHE_MB,
    BLOB_CONTAINER_URL,
    BLOB_DIR,
    HTTP_BODY_LIMIT_BYTES,
    HTTP_TIMEOUT_MS,
    HTTP_LONG_TIMEOUT_MS,
    READY_CHECK_TIMEOUT_MS,
    CLIENT_IP_HEADER,
    SERVICE_BUS_NAMESPACE,
    OUTBOX_PUBLISH_BUDGET_MS,
    SERVICE_BUS_ENDPOINT,
    SERVICE_BUS_SKU,
    EVENT_HUB_NAMESPACE,
    EVENT_HUB_NAME,
    EVENT_HUB_ENDPOINT,
    EVENT_HUB_SKU,
    AZURE_CLIENT_ID,
    RUST_LOG,
    LOG_FORMAT,
    DEV_PG_PORT,
    CLOCK_START,
];

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

/// How the app signs in to PostgreSQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseAuth {
    /// The password in `DATABASE_URL` (local, tests, break-glass).
    Password,
    /// The managed identity's Entra token as the password, renewed before it expires.
    Entra,
}

/// How the app signs in to Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisAuth {
    /// Whatever `REDIS_URL` carries (nothing, or a password).
    Url,
    /// The managed identity's Entra token as the password of `username` (its object id).
    Entra { username: String },
}

/// The PostgreSQL role a managed identity logs in as, and the identity's object id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPrincipal {
    pub role: String,
    pub object_id: String,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub environment: Environment,
    pub database_url: SecretString,
    pub db_pool_max: u32,
    pub db_acquire_timeout: Duration,
    pub database_auth: DatabaseAuth,
    /// `healthsync migrate`: the identity to give the app's rights to.
    pub database_app_principal: Option<AppPrincipal>,
    /// `None`: the in-process cache.
    pub redis_url: Option<SecretString>,
    pub redis_auth: RedisAuth,
    /// Bytes of Redis entries kept in process (`platform::cache::NearCache`); 0: none.
    pub redis_near_cache_bytes: u64,
    pub blob: BlobConfig,
    /// Where events go: the Service Bus namespace (Azure), or `None` for the local host's queue.
    pub service_bus_namespace: Option<String>,
    /// A Service Bus endpoint other than `https://{namespace}/` (a local fake).
    pub service_bus_endpoint: Option<Url>,
    /// Where analytics events go: `https://{namespace}/{hub}/messages` (or the fake's endpoint);
    /// `None`: the outbox, like every event.
    pub event_hub: Option<(Url, String)>,
    /// The largest Send Message Batch body the Service Bus namespace takes (its tier's limit).
    pub service_bus_max_batch_bytes: usize,
    /// The largest Send Batch body the Event Hubs namespace takes (its tier's limit).
    pub event_hub_max_batch_bytes: usize,
    /// How long a request waits to publish what it committed (zero: never; the sweep does).
    pub outbox_publish_budget: Duration,
    /// The client id of the app's user-assigned managed identity (Azure); `None`: system-assigned.
    pub managed_identity_client_id: Option<String>,
    pub http_body_limit: usize,
    pub http_timeout: Duration,
    /// The timeout of routes marked long (they may wait for Claude).
    pub http_long_timeout: Duration,
    pub ready_check_timeout: Duration,
    pub client_ip_header: ClientIpHeader,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(&super::ProcessEnv)
    }

    pub fn from_source(src: &dyn Source) -> Result<Self, ConfigError> {
        let database_url = DATABASE_URL.require(src, "a postgres:// URL")?;
        if !(database_url.starts_with("postgres://") || database_url.starts_with("postgresql://")) {
            return Err(ConfigError::Malformed { name: DATABASE_URL.name, expects: "a postgres:// URL" });
        }
        let redis_url = match REDIS_URL.read(src) {
            Some(u) if u.starts_with("redis://") || u.starts_with("rediss://") => Some(SecretString::from(u)),
            Some(_) => {
                return Err(ConfigError::Malformed {
                    name: REDIS_URL.name,
                    expects: "a redis:// or rediss:// URL",
                });
            }
            None => None,
        };
        let ms =
            |s: &Setting, expects, range| s.number::<u64>(src, expects, range).map(Duration::from_millis);
        Ok(Config {
            environment: detect_environment(src),
            database_url: SecretString::from(database_url),
            db_pool_max: DB_POOL_MAX.number(src, "a whole number from 1 to 100", 1..=100)?,
            db_acquire_timeout: ms(&DB_ACQUIRE_TIMEOUT_MS, "milliseconds from 100 to 60000", 100..=60_000)?,
            database_auth: database_auth(src)?,
            database_app_principal: app_principal(src)?,
            redis_auth: redis_auth(src)?,
            redis_url,
            redis_near_cache_bytes: REDIS_NEAR_CACHE_MB.number::<u64>(src, "MiB from 0 to 1024", 0..=1024)?
                << 20,
            blob: blob(src)?,
            managed_identity_client_id: AZURE_CLIENT_ID.read(src),
            service_bus_namespace: SERVICE_BUS_NAMESPACE.read(src),
            service_bus_endpoint: SERVICE_BUS_ENDPOINT.url(src)?,
            event_hub: event_hub(src)?,
            service_bus_max_batch_bytes: tier_limit(
                src,
                &SERVICE_BUS_SKU,
                "Standard or Premium",
                &[("standard", 256 * 1024), ("premium", 1024 * 1024)],
            )?,
            event_hub_max_batch_bytes: tier_limit(
                src,
                &EVENT_HUB_SKU,
                "Basic, Standard, Premium or Dedicated",
                &[
                    ("basic", 256 * 1024),
                    ("standard", 1024 * 1024),
                    ("premium", 1024 * 1024),
                    ("dedicated", 1024 * 1024),
                ],
            )?,
            outbox_publish_budget: ms(&OUTBOX_PUBLISH_BUDGET_MS, "milliseconds from 0 to 10000", 0..=10_000)?,
            http_body_limit: HTTP_BODY_LIMIT_BYTES.number(
                src,
                "bytes from 1024 to 104857600",
                1024..=100 << 20,
            )?,
            http_timeout: ms(&HTTP_TIMEOUT_MS, "milliseconds from 100 to 230000", 100..=230_000)?,
            http_long_timeout: ms(&HTTP_LONG_TIMEOUT_MS, "milliseconds from 100 to 230000", 100..=230_000)?,
            ready_check_timeout: ms(&READY_CHECK_TIMEOUT_MS, "milliseconds from 50 to 30000", 50..=30_000)?,
            client_ip_header: match CLIENT_IP_HEADER.read(src).map(|v| v.to_ascii_lowercase()).as_deref() {
                None | Some("x-forwarded-for") => ClientIpHeader::ForwardedFor,
                Some("x-azure-clientip") => ClientIpHeader::FrontDoor,
                Some(_) => {
                    return Err(ConfigError::Malformed {
                        name: CLIENT_IP_HEADER.name,
                        expects: "X-Forwarded-For or X-Azure-ClientIP",
                    });
                }
            },
        })
    }
}

/// The batch limit of the tier named by `setting` (case-insensitive). The figures are the public
/// quotas: Service Bus 256 KB on Standard and 1 MB on Premium for a batch
/// (https://learn.microsoft.com/azure/service-bus-messaging/service-bus-quotas), Event Hubs 256 KB
/// on Basic and 1 MB above (https://learn.microsoft.com/azure/event-hubs/event-hubs-quotas).
fn tier_limit(
    src: &dyn Source,
    setting: &Setting,
    expects: &'static str,
    tiers: &[(&str, usize)],
) -> Result<usize, ConfigError> {
    let raw = setting.require(src, expects)?.trim().to_ascii_lowercase();
    tiers
        .iter()
        .find(|(name, _)| *name == raw)
        .map(|(_, bytes)| *bytes)
        .ok_or(ConfigError::Malformed { name: setting.name, expects })
}

fn event_hub(src: &dyn Source) -> Result<Option<(Url, String)>, ConfigError> {
    let hub = EVENT_HUB_NAME.require(src, "an event hub name")?.trim().to_string();
    if let Some(endpoint) = EVENT_HUB_ENDPOINT.url(src)? {
        return Ok(Some((endpoint, hub)));
    }
    let Some(ns) = EVENT_HUB_NAMESPACE.read(src).map(|n| n.trim().trim_end_matches('/').to_string()) else {
        return Ok(None);
    };
    let url = Url::parse(&format!("https://{ns}/"))
        .map_err(|_| ConfigError::Malformed { name: EVENT_HUB_NAMESPACE.name, expects: "a host name" })?;
    Ok(Some((url, hub)))
}

fn database_auth(src: &dyn Source) -> Result<DatabaseAuth, ConfigError> {
    match DATABASE_AUTH.read(src).map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("password") => Ok(DatabaseAuth::Password),
        Some("entra") => Ok(DatabaseAuth::Entra),
        Some(_) => Err(ConfigError::Malformed { name: DATABASE_AUTH.name, expects: "password or entra" }),
    }
}

fn app_principal(src: &dyn Source) -> Result<Option<AppPrincipal>, ConfigError> {
    let Some(raw) = DATABASE_APP_PRINCIPAL.read(src) else { return Ok(None) };
    let malformed =
        || ConfigError::Malformed { name: DATABASE_APP_PRINCIPAL.name, expects: "role:object-id (a uuid)" };
    let (role, object_id) = raw.trim().rsplit_once(':').ok_or_else(malformed)?;
    if role.is_empty() || uuid::Uuid::parse_str(object_id).is_err() {
        return Err(malformed());
    }
    Ok(Some(AppPrincipal { role: role.to_string(), object_id: object_id.to_string() }))
}

fn redis_auth(src: &dyn Source) -> Result<RedisAuth, ConfigError> {
    match REDIS_AUTH.read(src).map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("url") => Ok(RedisAuth::Url),
        Some("entra") => match REDIS_USERNAME.read(src) {
            Some(username) => Ok(RedisAuth::Entra { username: username.trim().to_string() }),
            None => Err(ConfigError::Missing {
                name: REDIS_USERNAME.name,
                expects: "the managed identity's object id when REDIS_AUTH=entra",
            }),
        },
        Some(_) => Err(ConfigError::Malformed { name: REDIS_AUTH.name, expects: "url or entra" }),
    }
}

fn blob(src: &dyn Source) -> Result<BlobConfig, ConfigError> {
    let Some(raw) = BLOB_CONTAINER_URL.read(src) else {
        return Ok(BlobConfig::Folder(PathBuf::from(BLOB_DIR.read(src).unwrap_or_default())));
    };
    let malformed = ConfigError::Malformed {
        name: BLOB_CONTAINER_URL.name,
        expects: "an https container URL (managed identity), or an http one with a SAS",
    };
    let url = Url::parse(&raw).map_err(|_| ConfigError::Malformed {
        name: BLOB_CONTAINER_URL.name,
        expects: "an http(s) URL of a blob container",
    })?;
    let secure_or_signed = url.scheme() == "https" || (url.scheme() == "http" && has_sas(&url));
    let names_a_container = url.path_segments().is_some_and(|mut s| !s.next_back().unwrap_or("").is_empty());
    if !secure_or_signed || !names_a_container {
        return Err(malformed);
    }
    Ok(BlobConfig::Azure { container_url: url })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

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
            ("CLIENT_IP_HEADER", "X-Secret"),
            ("DATABASE_AUTH", "secret-token"),
            ("DATABASE_APP_PRINCIPAL", "secret-no-oid"),
            ("DATABASE_APP_PRINCIPAL", "id-healthsync:not-a-secret-uuid"),
            ("REDIS_AUTH", "secret"),
            ("OUTBOX_PUBLISH_BUDGET_MS", "99999999"),
        ];
        for (name, value) in cases {
            let mut s = src(&[("DATABASE_URL", "postgres://localhost/x")]);
            s.insert(name.to_string(), value.to_string());
            let err = Config::from_source(&s).unwrap_err().to_string();
            assert!(err.contains(name), "{name}: {err}");
            assert!(!err.contains("secret") && !err.contains("Secret"), "{name}: {err}");
        }
    }

    #[test]
    fn defaults_are_small_pools_and_local_stand_ins() {
        let c = Config::from_source(&src(&[("DATABASE_URL", "postgres://localhost/x")])).unwrap();
        assert_eq!(c.db_pool_max, 5);
        assert_eq!(c.http_timeout, Duration::from_secs(15));
        assert!(c.redis_url.is_none());
        assert!(matches!(c.blob, BlobConfig::Folder(ref p) if p == &PathBuf::from(".healthsync/blobs")));
        assert_eq!(c.environment, Environment::Local);
    }

    #[test]
    fn entra_sign_in_is_read_for_postgres_and_redis() {
        let c = Config::from_source(&src(&[
            ("DATABASE_URL", "postgres://id-healthsync@db.example/healthsync"),
            ("DATABASE_AUTH", "Entra"),
            ("DATABASE_APP_PRINCIPAL", "id-healthsync:4f0b2f1c-7d0e-4b8a-9a43-2f7d8f0e1c11"),
            ("REDIS_URL", "rediss://cache.example:10000"),
            ("REDIS_AUTH", "entra"),
            ("REDIS_USERNAME", "4f0b2f1c-7d0e-4b8a-9a43-2f7d8f0e1c11"),
        ]))
        .unwrap();
        assert_eq!(c.database_auth, DatabaseAuth::Entra);
        assert_eq!(
            c.database_app_principal,
            Some(AppPrincipal {
                role: "id-healthsync".into(),
                object_id: "4f0b2f1c-7d0e-4b8a-9a43-2f7d8f0e1c11".into()
            })
        );
        assert_eq!(
            c.redis_auth,
            RedisAuth::Entra { username: "4f0b2f1c-7d0e-4b8a-9a43-2f7d8f0e1c11".into() }
        );
        let defaults = Config::from_source(&src(&[("DATABASE_URL", "postgres://localhost/x")])).unwrap();
        assert_eq!((defaults.database_auth, defaults.redis_auth), (DatabaseAuth::Password, RedisAuth::Url));
        assert_eq!(defaults.outbox_publish_budget, Duration::from_secs(1));
        let err = Config::from_source(&src(&[("DATABASE_URL", "postgres://x/y"), ("REDIS_AUTH", "entra")]))
            .unwrap_err();
        assert!(err.to_string().contains("REDIS_USERNAME"), "{err}");
    }

    #[test]
    fn azure_is_detected_from_the_platform_variables() {
        let c = Config::from_source(&src(&[
            ("DATABASE_URL", "postgres://localhost/x"),
            ("WEBSITE_INSTANCE_ID", "abc"),
            ("BLOB_CONTAINER_URL", "https://acct.blob.core.windows.net/checkup-files"),
        ]))
        .unwrap();
        assert_eq!(c.environment, Environment::Azure);
        assert!(matches!(c.blob, BlobConfig::Azure { .. }));
    }
}
