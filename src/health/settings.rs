//! The health domain's settings: the NHIS aggregator (Tilko), the sync jobs, the sample provider.

use std::time::Duration;

use secrecy::SecretString;

use super::store::uploads::UploadLimits;
use crate::config::{ConfigError, Setting, Source};

const MIB: u64 = 1024 * 1024;

pub const TILKO_API_KEY: Setting = Setting::new(
    "TILKO_API_KEY",
    "Tilko API key for NHIS checkups (Key Vault); unset: the sample provider locally, sync unavailable in Azure",
)
.secret();
pub const TILKO_BASE_URL: Setting =
    Setting::new("TILKO_BASE_URL", "Tilko's API root (overridable for tests)").default("https://api.tilko.net/");
pub const TILKO_TIMEOUT_MS: Setting =
    Setting::new("TILKO_TIMEOUT_MS", "per-request timeout of the aggregator (below HTTP_TIMEOUT_MS)").default("10000");
pub const HEALTH_SYNC_JOB_TTL_SECS: Setting =
    Setting::new("HEALTH_SYNC_JOB_TTL_SECS", "how long a started NHIS sync waits for the user's approval").default("600");
pub const HEALTH_SYNC_SWEEP_SCHEDULE: Setting = Setting::new(
    "HEALTH_SYNC_SWEEP_SCHEDULE",
    "6-field NCRONTAB (UTC) of `HealthSyncSweep`, which ends expired sync jobs and clears their personal data",
)
.default("0 */5 * * * *");
pub const HEALTH_DATA_WITHDRAWN_RETENTION_DAYS: Setting = Setting::new(
    "HEALTH_DATA_WITHDRAWN_RETENTION_DAYS",
    "days a user's health data is kept, unread, after the health-data consent is withdrawn (time to export it or take the withdrawal back); then `HealthSyncSweep` destroys it (docs/privacy.md)",
)
.default("7");
pub const HEALTH_FILES_PER_DAY: Setting = Setting::new(
    "HEALTH_FILES_PER_DAY",
    "result sheets one user may upload per Seoul day (429 with `Retry-After` past it; refused files count)",
)
.default("20");
pub const HEALTH_FILE_MB_PER_DAY: Setting = Setting::new(
    "HEALTH_FILE_MB_PER_DAY",
    "MiB of result sheets one user may upload per Seoul day (429 with `Retry-After` past it)",
)
.default("100");
pub const HEALTH_FILE_MB_HELD: Setting = Setting::new(
    "HEALTH_FILE_MB_HELD",
    "MiB of result sheets one user may hold in all (409 `STORAGE_QUOTA_EXCEEDED` past it: deleting a file makes room)",
)
.default("500");
pub const HEALTH_SYNC_STARTS_PER_HOUR: Setting = Setting::new(
    "HEALTH_SYNC_STARTS_PER_HOUR",
    "NHIS sync starts one user may make per hour (each sends an approval request to a phone; 429 past it); one open at a time",
)
.default("5");
pub const SAMPLE_APPROVAL_DELAY_SECS: Setting =
    Setting::new("SAMPLE_APPROVAL_DELAY_SECS", "how long the sample provider's pretend user takes to approve")
        .default("3")
        .local_only();

pub const SETTINGS: &[Setting] = &[
    TILKO_API_KEY,
    TILKO_BASE_URL,
    TILKO_TIMEOUT_MS,
    HEALTH_SYNC_JOB_TTL_SECS,
    HEALTH_SYNC_SWEEP_SCHEDULE,
    HEALTH_DATA_WITHDRAWN_RETENTION_DAYS,
    HEALTH_FILES_PER_DAY,
    HEALTH_FILE_MB_PER_DAY,
    HEALTH_FILE_MB_HELD,
    HEALTH_SYNC_STARTS_PER_HOUR,
    SAMPLE_APPROVAL_DELAY_SECS,
];

pub struct HealthConfig {
    pub tilko_api_key: Option<SecretString>,
    pub tilko_base_url: url::Url,
    pub tilko_timeout: Duration,
    pub job_ttl: Duration,
    pub withdrawn_retention: Duration,
    pub uploads: UploadLimits,
    pub sync_starts_per_hour: u32,
    pub sample_delay: Duration,
}

impl HealthConfig {
    pub fn from_source(src: &dyn Source) -> Result<Self, ConfigError> {
        let mut base = TILKO_BASE_URL
            .url(src)?
            .ok_or(ConfigError::Missing { name: TILKO_BASE_URL.name, expects: "an http(s) URL" })?;
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        Ok(HealthConfig {
            // An unresolved Key Vault reference (no secret stored yet) arrives as its own text.
            tilko_api_key: TILKO_API_KEY
                .read(src)
                .filter(|k| !k.trim().is_empty() && !k.starts_with("@Microsoft.KeyVault("))
                .map(SecretString::from),
            tilko_base_url: base,
            tilko_timeout: Duration::from_millis(TILKO_TIMEOUT_MS.number(src, "milliseconds from 500 to 60000", 500..=60_000)?),
            job_ttl: Duration::from_secs(HEALTH_SYNC_JOB_TTL_SECS.number(src, "seconds from 60 to 3600", 60..=3600)?),
            withdrawn_retention: Duration::from_secs(
                86_400 * HEALTH_DATA_WITHDRAWN_RETENTION_DAYS.number(src, "days from 0 to 365", 0..=365)?,
            ),
            uploads: UploadLimits {
                per_day: HEALTH_FILES_PER_DAY.number(src, "uploads from 1 to 1000", 1..=1000)?,
                bytes_per_day: MIB * HEALTH_FILE_MB_PER_DAY.number(src, "MiB from 10 to 100000", 10..=100_000)?,
                bytes_held: MIB * HEALTH_FILE_MB_HELD.number(src, "MiB from 10 to 1000000", 10..=1_000_000)?,
            },
            sync_starts_per_hour: HEALTH_SYNC_STARTS_PER_HOUR.number(src, "starts from 1 to 100", 1..=100)?,
            sample_delay: Duration::from_secs(SAMPLE_APPROVAL_DELAY_SECS.number(src, "seconds from 0 to 600", 0..=600)?),
        })
    }
}
