//! Fixed-window rate limits on the shared cache (Redis when configured, so every instance counts
//! together; in-process otherwise). Keys are hashed: addresses and account ids never sit in the
//! cache in clear. A cache outage lets requests through (the limit is a brake, not a lock).

use std::time::Duration;

use sha2::{Digest, Sha256};

use super::cache::Cache;

/// A request over its limit; it may be retried after `retry_after_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("rate limited; retry after {retry_after_secs} s")]
pub struct RateLimited {
    pub retry_after_secs: u64,
}

/// Counts one request for `subject` under `scope` and refuses it when over `limit` per `window`.
pub async fn check(
    cache: &dyn Cache,
    scope: &'static str,
    subject: &str,
    limit: u32,
    window: Duration,
) -> Result<(), RateLimited> {
    let digest = Sha256::digest(subject.as_bytes());
    let key = format!("rl:{scope}:{}", hex(&digest[..12]));
    match cache.incr(&key, window).await {
        Ok(count) if count > u64::from(limit) => {
            Err(RateLimited { retry_after_secs: window.as_secs().max(1) })
        }
        Ok(_) => Ok(()),
        Err(err) => {
            tracing::warn!(scope, error = format!("{err:#}"), "rate limit unavailable; request allowed");
            Ok(())
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
