//! Cache-aside storage: Redis when `REDIS_URL` is set (with in-process copies of hot keys kept in
//! step with it, [`NearCache`]), an in-process cache otherwise.
//! A cache is only a cache: callers treat every failure as a miss and read the source of truth.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use serde::{Serialize, de::DeserializeOwned};

mod near;
mod redis_cache;

pub use near::NearCache;
pub use redis_cache::RedisCache;

/// What an entry of a `moka` cache costs beyond its key and value bytes: the entry itself, its
/// hash-table slot, its places in the access and expiry orders and the timer wheel: ~320 bytes on
/// moka 0.12 with per-entry expiry (12,000 entries of 374-byte tokens hold ~700 bytes each; the
/// `users::tokens` test measures it and fails if the figure stops holding). A cache bounded in
/// bytes adds it to each entry's weight, so its bound holds in memory, not only in payload.
pub const ENTRY_OVERHEAD_BYTES: usize = 320;

#[async_trait]
pub trait Cache: Send + Sync {
    async fn get(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>>;
    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> anyhow::Result<()>;
    async fn delete(&self, key: &str) -> anyhow::Result<()>;
    /// Adds one to a counter that lives for `window` from its first increment (a fixed window)
    /// and returns the new count.
    async fn incr(&self, key: &str, window: Duration) -> anyhow::Result<u64>;
    /// For readiness checks.
    async fn ping(&self) -> anyhow::Result<()>;
    fn kind(&self) -> &'static str;
}

/// Reads a JSON value; a failure or an undecodable entry is a miss (and is logged without
/// the key's contents).
pub async fn get_json<T: DeserializeOwned>(cache: &dyn Cache, key: &str) -> Option<T> {
    match cache.get(key).await {
        Ok(Some(bytes)) => serde_json::from_slice(&bytes).ok(),
        Ok(None) => None,
        Err(err) => {
            tracing::warn!(cache = cache.kind(), error = format!("{err:#}"), "cache read failed");
            None
        }
    }
}

pub async fn set_json<T: Serialize>(cache: &dyn Cache, key: &str, value: &T, ttl: Duration) {
    let Ok(bytes) = serde_json::to_vec(value) else { return };
    if let Err(err) = cache.set(key, &bytes, ttl).await {
        tracing::warn!(cache = cache.kind(), error = format!("{err:#}"), "cache write failed");
    }
}

/// Drops a key; on failure the entry simply lives until its TTL.
pub async fn invalidate(cache: &dyn Cache, key: &str) {
    if let Err(err) = cache.delete(key).await {
        tracing::warn!(cache = cache.kind(), error = format!("{err:#}"), "cache invalidation failed");
    }
}

#[derive(Clone)]
struct Entry {
    value: Arc<[u8]>,
    ttl: Duration,
    /// Counters keep the expiry of their first write; values get a new TTL on every write.
    fixed_window: bool,
}

struct PerEntryTtl;

impl moka::Expiry<String, Entry> for PerEntryTtl {
    fn expire_after_create(&self, _key: &String, value: &Entry, _now: Instant) -> Option<Duration> {
        Some(value.ttl)
    }

    fn expire_after_update(
        &self,
        _key: &String,
        value: &Entry,
        _now: Instant,
        current: Option<Duration>,
    ) -> Option<Duration> {
        if value.fixed_window { current.or(Some(value.ttl)) } else { Some(value.ttl) }
    }
}

/// The local stand-in: bounded in entries, each with its own TTL.
pub struct MemoryCache {
    inner: moka::future::Cache<String, Entry>,
}

impl MemoryCache {
    pub fn new(max_entries: u64) -> Self {
        Self {
            inner: moka::future::Cache::builder().max_capacity(max_entries).expire_after(PerEntryTtl).build(),
        }
    }
}

#[async_trait]
impl Cache for MemoryCache {
    async fn get(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(self.inner.get(key).await.map(|e| e.value.to_vec()))
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> anyhow::Result<()> {
        self.inner.insert(key.to_string(), Entry { value: value.into(), ttl, fixed_window: false }).await;
        Ok(())
    }

    async fn incr(&self, key: &str, window: Duration) -> anyhow::Result<u64> {
        let entry = self
            .inner
            .entry(key.to_string())
            .and_upsert_with(|existing| {
                let count = existing
                    .and_then(|e| e.into_value().value.as_ref().try_into().ok().map(u64::from_le_bytes))
                    .unwrap_or(0)
                    + 1;
                std::future::ready(Entry {
                    value: count.to_le_bytes().into(),
                    ttl: window,
                    fixed_window: true,
                })
            })
            .await;
        let bytes: [u8; 8] = entry.into_value().value.as_ref().try_into().unwrap_or([0; 8]);
        Ok(u64::from_le_bytes(bytes))
    }

    async fn delete(&self, key: &str) -> anyhow::Result<()> {
        self.inner.invalidate(key).await;
        Ok(())
    }

    async fn ping(&self) -> anyhow::Result<()> {
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "memory"
    }
}
