//! Redis through a multiplexed, auto-reconnecting connection opened on first use (never at
//! start-up), with a per-command timeout and a circuit breaker: while Redis is unreachable the
//! connection manager spends about 1.5 s on each command before it fails, and a request makes
//! several, so after [`RedisCache::BREAKER_THRESHOLD`] failures in a row every command fails at
//! once (a miss for the callers) until a trial after [`RedisCache::BREAKER_COOL_DOWN`]
//! succeeds. Without it bench/faults.py measured 3-6 s per request for as long as Redis was away.
//!
//! With Entra sign-in (`REDIS_AUTH=entra`, Azure Managed Redis with access keys off) the user
//! name is the managed identity's object id and the password a token for
//! `https://redis.azure.com/.default`. The server closes a connection whose token has expired,
//! and a reconnect would reuse the token it was opened with, so the connection is replaced by one
//! signed in with a fresh token before the old token expires; commands in flight finish on the
//! old one.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use async_trait::async_trait;
use azure_core::credentials::TokenCredential;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::RwLock;

use super::Cache;
use crate::{
    config::{Config, RedisAuth},
    platform::{
        entra::{self, REDIS_SCOPE},
        resilience::{Breaker, CallError},
    },
};

/// Signs in as the managed identity: its object id and a token.
struct EntraSignIn {
    username: String,
    credential: Arc<dyn TokenCredential>,
}

struct Live {
    manager: redis::aio::ConnectionManager,
    /// When to replace the connection (Entra: before its token expires); `None`: never.
    renew_at: Option<Instant>,
}

pub struct RedisCache {
    info: redis::ConnectionInfo,
    entra: Option<EntraSignIn>,
    live: RwLock<Option<Live>>,
    timeout: Duration,
    prefix: String,
    breaker: Breaker,
}

impl RedisCache {
    /// Failed Redis commands in a row that open the breaker.
    pub const BREAKER_THRESHOLD: u32 = 3;
    /// How long the open breaker answers without trying; then one command tries Redis again.
    pub const BREAKER_COOL_DOWN: Duration = Duration::from_secs(2);

    /// With whatever credentials `url` carries.
    pub fn new(url: &SecretString, timeout: Duration, prefix: impl Into<String>) -> anyhow::Result<Self> {
        let info = redis::IntoConnectionInfo::into_connection_info(url.expose_secret())
            .context("reading REDIS_URL")?;
        Ok(Self {
            info,
            entra: None,
            live: RwLock::new(None),
            timeout,
            prefix: prefix.into(),
            breaker: Breaker::new("redis", Self::BREAKER_THRESHOLD, Self::BREAKER_COOL_DOWN),
        })
    }

    /// Signed in as `username` with tokens from `credential` (Entra).
    pub fn with_entra(mut self, username: impl Into<String>, credential: Arc<dyn TokenCredential>) -> Self {
        self.entra = Some(EntraSignIn { username: username.into(), credential });
        self
    }

    /// As configured: `REDIS_URL`, and `REDIS_AUTH` / `REDIS_USERNAME` with the app's identity.
    pub fn for_config(url: &SecretString, config: &Config, prefix: &str) -> anyhow::Result<Self> {
        let cache = Self::new(url, config.ready_check_timeout, prefix)?;
        match &config.redis_auth {
            RedisAuth::Url => Ok(cache),
            RedisAuth::Entra { username } => Ok(cache.with_entra(
                username,
                entra::managed_identity(config.managed_identity_client_id.as_deref())?,
            )),
        }
    }

    async fn conn(&self) -> anyhow::Result<redis::aio::ConnectionManager> {
        if let Some(live) = self.live.read().await.as_ref().filter(|l| fresh(l)) {
            return Ok(live.manager.clone());
        }
        let mut live = self.live.write().await;
        if let Some(l) = live.as_ref().filter(|l| fresh(l)) {
            return Ok(l.manager.clone());
        }
        let opened = tokio::time::timeout(self.timeout, self.open())
            .await
            .context("connecting to Redis timed out")??;
        let manager = opened.manager.clone();
        *live = Some(opened);
        Ok(manager)
    }

    /// Where and as whom to connect now, and when that sign-in must be renewed (Entra).
    async fn sign_in(&self) -> anyhow::Result<(redis::ConnectionInfo, Option<Instant>)> {
        let mut info = self.info.clone();
        let mut renew_at = None;
        if let Some(entra) = &self.entra {
            let token = entra::token(entra.credential.as_ref(), REDIS_SCOPE).await?;
            info.redis.username = Some(entra.username.clone());
            info.redis.password = Some(token.secret.expose_secret().to_string());
            renew_at = Some(Instant::now() + token.renew_in);
        }
        Ok((info, renew_at))
    }

    /// A connection subscribed to `channel` (under this cache's prefix), and when it must be
    /// replaced (Entra: before its token expires; the server would close it).
    pub async fn subscribe(&self, channel: &str) -> anyhow::Result<(redis::aio::PubSub, Option<Instant>)> {
        let (info, renew_at) = self.sign_in().await?;
        let open = async {
            let client = redis::Client::open(info).context("reading REDIS_URL")?;
            let mut pubsub = client.get_async_pubsub().await.context("connecting to Redis")?;
            pubsub.subscribe(self.key(channel)).await.context("subscribing")?;
            anyhow::Ok(pubsub)
        };
        let pubsub =
            tokio::time::timeout(self.timeout, open).await.context("subscribing to Redis timed out")??;
        Ok((pubsub, renew_at))
    }

    /// Sets (`Some`, with its TTL) or deletes (`None`) `key` and announces it on `channel`, in one
    /// round trip.
    pub async fn change_and_publish(
        &self,
        key: &str,
        value: Option<(&[u8], Duration)>,
        channel: &str,
    ) -> anyhow::Result<()> {
        let mut pipe = redis::pipe();
        match value {
            Some((value, ttl)) => {
                pipe.cmd("SET").arg(self.key(key)).arg(value).arg("PX").arg(millis(ttl)).ignore()
            }
            None => pipe.cmd("DEL").arg(self.key(key)).ignore(),
        };
        pipe.cmd("PUBLISH").arg(self.key(channel)).arg(key).ignore();
        self.guarded("write", async {
            let mut conn = self.conn().await?;
            tokio::time::timeout(self.timeout, pipe.query_async::<()>(&mut conn))
                .await
                .context("Redis write timed out")?
                .context("Redis write")
        })
        .await
    }

    /// A value and how many milliseconds it has left (`None` without an expiry), in one round trip.
    pub async fn get_with_ttl(&self, key: &str) -> anyhow::Result<Option<(Vec<u8>, Option<u64>)>> {
        let key = self.key(key);
        let mut pipe = redis::pipe();
        pipe.cmd("GET").arg(&key).cmd("PTTL").arg(&key);
        let (value, pttl): (Option<Vec<u8>>, i64) = self
            .guarded("GET", async {
                let mut conn = self.conn().await?;
                tokio::time::timeout(self.timeout, pipe.query_async(&mut conn))
                    .await
                    .context("Redis GET timed out")?
                    .context("Redis GET")
            })
            .await?;
        Ok(value.map(|v| (v, u64::try_from(pttl).ok())))
    }

    async fn open(&self) -> anyhow::Result<Live> {
        let (info, renew_at) = self.sign_in().await?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(self.timeout)
            .set_response_timeout(self.timeout)
            .set_number_of_retries(1);
        let client = redis::Client::open(info).context("reading REDIS_URL")?;
        let manager =
            client.get_connection_manager_with_config(config).await.context("connecting to Redis")?;
        Ok(Live { manager, renew_at })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key)
    }

    async fn run<T: redis::FromRedisValue>(&self, cmd: redis::Cmd, what: &'static str) -> anyhow::Result<T> {
        self.guarded(what, async {
            let mut conn = self.conn().await?;
            tokio::time::timeout(self.timeout, cmd.query_async::<T>(&mut conn))
                .await
                .with_context(|| format!("Redis {what} timed out"))?
                .with_context(|| format!("Redis {what}"))
        })
        .await
    }

    /// One round trip (connecting included) through the breaker; an open breaker fails at once.
    async fn guarded<T>(
        &self,
        what: &'static str,
        call: impl std::future::Future<Output = anyhow::Result<T>>,
    ) -> anyhow::Result<T> {
        match self.breaker.call(|_: &anyhow::Error| true, || call).await {
            Ok(value) => Ok(value),
            Err(CallError::Open(open)) => Err(anyhow::Error::new(open).context(format!("Redis {what}"))),
            Err(CallError::Failed(err)) => Err(err),
        }
    }
}

fn millis(ttl: Duration) -> u64 {
    ttl.as_millis().clamp(1, u64::MAX as u128) as u64
}

fn fresh(live: &Live) -> bool {
    live.renew_at.is_none_or(|at| Instant::now() < at)
}

#[async_trait]
impl Cache for RedisCache {
    async fn get(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        self.run(redis::cmd("GET").arg(self.key(key)).clone(), "GET").await
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> anyhow::Result<()> {
        self.run::<()>(
            redis::cmd("SET").arg(self.key(key)).arg(value).arg("PX").arg(millis(ttl)).clone(),
            "SET",
        )
        .await
    }

    async fn delete(&self, key: &str) -> anyhow::Result<()> {
        self.run::<()>(redis::cmd("DEL").arg(self.key(key)).clone(), "DEL").await
    }

    async fn incr(&self, key: &str, window: Duration) -> anyhow::Result<u64> {
        let key = self.key(key);
        let ms = millis(window);
        // One round trip, atomically: the first increment starts the window (PEXPIRE NX).
        let mut pipe = redis::pipe();
        pipe.atomic().cmd("INCR").arg(&key).cmd("PEXPIRE").arg(&key).arg(ms).arg("NX").ignore();
        let (count,): (u64,) = self
            .guarded("INCR", async {
                let mut conn = self.conn().await?;
                tokio::time::timeout(self.timeout, pipe.query_async(&mut conn))
                    .await
                    .context("Redis INCR timed out")?
                    .context("Redis INCR")
            })
            .await?;
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
