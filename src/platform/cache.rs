//! Cache-aside storage: Redis when `REDIS_URL` is set, an in-process cache otherwise.
//! A cache is only a cache: callers treat every failure as a miss and read the source of truth.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::{Serialize, de::DeserializeOwned};
use tokio::sync::OnceCell;

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

/// Redis through a multiplexed, auto-reconnecting connection opened on first use (never at
/// start-up), with a per-command timeout.
pub struct RedisCache {
    client: redis::Client,
    conn: OnceCell<redis::aio::ConnectionManager>,
    timeout: Duration,
    prefix: String,
}

impl RedisCache {
    pub fn new(url: &SecretString, timeout: Duration, prefix: impl Into<String>) -> anyhow::Result<Self> {
        let client = redis::Client::open(url.expose_secret()).context("reading REDIS_URL")?;
        Ok(Self { client, conn: OnceCell::new(), timeout, prefix: prefix.into() })
    }

    async fn conn(&self) -> anyhow::Result<redis::aio::ConnectionManager> {
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(self.timeout)
            .set_response_timeout(self.timeout)
            .set_number_of_retries(1);
        let conn = self
            .conn
            .get_or_try_init(|| async {
                tokio::time::timeout(self.timeout, self.client.get_connection_manager_with_config(config))
                    .await
                    .context("connecting to Redis timed out")?
                    .context("connecting to Redis")
            })
            .await?;
        Ok(conn.clone())
    }

    fn key(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key)
    }

    async fn run<T: redis::FromRedisValue>(&self, cmd: redis::Cmd, what: &'static str) -> anyhow::Result<T> {
        let mut conn = self.conn().await?;
        tokio::time::timeout(self.timeout, cmd.query_async::<T>(&mut conn))
            .await
            .with_context(|| format!("Redis {what} timed out"))?
            .with_context(|| format!("Redis {what}"))
    }
}

#[async_trait]
impl Cache for RedisCache {
    async fn get(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        self.run(redis::cmd("GET").arg(self.key(key)).clone(), "GET").await
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> anyhow::Result<()> {
        let ms = ttl.as_millis().clamp(1, u64::MAX as u128) as u64;
        self.run::<()>(redis::cmd("SET").arg(self.key(key)).arg(value).arg("PX").arg(ms).clone(), "SET").await
    }

    async fn delete(&self, key: &str) -> anyhow::Result<()> {
        self.run::<()>(redis::cmd("DEL").arg(self.key(key)).clone(), "DEL").await
    }

    async fn incr(&self, key: &str, window: Duration) -> anyhow::Result<u64> {
        let key = self.key(key);
        let ms = window.as_millis().clamp(1, u64::MAX as u128) as u64;
        let mut conn = self.conn().await?;
        // One round trip, atomically: the first increment starts the window (PEXPIRE NX).
        let mut pipe = redis::pipe();
        pipe.atomic().cmd("INCR").arg(&key).cmd("PEXPIRE").arg(&key).arg(ms).arg("NX").ignore();
        let (count,): (u64,) = tokio::time::timeout(self.timeout, pipe.query_async(&mut conn))
            .await
            .context("Redis INCR timed out")?
            .context("Redis INCR")?;
        Ok(count)
    }

    async fn ping(&self) -> anyhow::Result<()> {
        let pong: String = self.run(redis::cmd("PING"), "PING").await?;
        anyhow::ensure!(pong == "PONG", "unexpected PING answer");
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "redis"
    }
}
