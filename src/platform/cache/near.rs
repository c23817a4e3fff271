//! Redis with a near cache: what this instance read from Redis recently is also kept in process,
//! so a hot key (an account's status, today's missions) costs no round trip. Redis stays the one
//! shared cache; the in-process copies follow it through one Pub/Sub channel:
//!
//! - a write (`set` or `delete`) changes Redis and publishes the key in the same round trip;
//!   every instance's subscriber (this one's too) drops its copy on receipt;
//! - copies are only used while this instance's subscription is up; when it drops (network, a
//!   Redis restart, an Entra token about to expire) every copy is forgotten, reads go to Redis
//!   until the subscription is back, and it is back before copies are kept again;
//! - a copy is kept only if no invalidation arrived while it was being read from Redis (a
//!   generation counter), so a write racing a read never leaves the old value behind;
//! - a copy lives no longer than the Redis entry had left, and never more than [`COPY_TTL`].
//!
//! What remains is the time a published write takes to reach another instance (a fraction of a
//! millisecond on one Redis): a request there in that window reads the old value, exactly as it
//! would had it arrived a moment earlier. Counters (`incr`) always go to Redis.

use std::{
    sync::{
        Arc, OnceLock,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use async_trait::async_trait;
use futures::StreamExt as _;

use super::{Cache, ENTRY_OVERHEAD_BYTES, RedisCache};

/// The channel (under the cache's prefix) on which deleted keys are announced.
pub const CHANNEL: &str = "near-cache:invalidate";
/// The longest a copy is kept (a bound on memory, not on staleness: deletes reach copies at once).
pub const COPY_TTL: Duration = Duration::from_secs(60);

/// An in-process copy of a Redis value.
#[derive(Clone)]
struct Held {
    value: Arc<[u8]>,
    ttl: Duration,
}

struct HeldTtl;

impl moka::Expiry<String, Held> for HeldTtl {
    fn expire_after_create(&self, _: &String, copy: &Held, _: Instant) -> Option<Duration> {
        Some(copy.ttl)
    }
}

/// The in-process copies and what decides whether they may be used.
struct Near {
    copies: moka::sync::Cache<String, Held>,
    /// The subscription is up: copies are current.
    subscribed: AtomicBool,
    /// Bumped by every invalidation received and by every change of `subscribed`.
    generation: AtomicU64,
}

impl Near {
    fn forget_all(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.copies.invalidate_all();
    }

    fn forget(&self, key: &str) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.copies.invalidate(key);
    }
}

/// A store of copies holding at most `bytes` of memory: a copy weighs its key, its value and
/// what the entry itself costs.
fn copies_within(bytes: u64) -> moka::sync::Cache<String, Held> {
    moka::sync::Cache::builder()
        .max_capacity(bytes)
        .weigher(|key: &String, copy: &Held| {
            u32::try_from(key.len() + copy.value.len() + ENTRY_OVERHEAD_BYTES).unwrap_or(u32::MAX)
        })
        .expire_after(HeldTtl)
        .build()
}

pub struct NearCache {
    remote: Arc<RedisCache>,
    near: Arc<Near>,
    subscriber: OnceLock<()>,
}

impl NearCache {
    /// Redis, with up to `bytes` of copies in process.
    pub fn new(remote: RedisCache, bytes: u64) -> Self {
        let copies = copies_within(bytes);
        NearCache {
            remote: Arc::new(remote),
            near: Arc::new(Near {
                copies,
                subscribed: AtomicBool::new(false),
                generation: AtomicU64::new(0),
            }),
            subscriber: OnceLock::new(),
        }
    }

    /// Starts the subscriber on first use (never at start-up), like the Redis connection itself.
    fn ensure_subscriber(&self) {
        self.subscriber.get_or_init(|| {
            let (remote, near) = (self.remote.clone(), self.near.clone());
            tokio::spawn(subscribe_forever(remote, near));
        });
    }

    /// Whether copies may be used now (for tests).
    pub fn is_subscribed(&self) -> bool {
        self.near.subscribed.load(Ordering::SeqCst)
    }
}

/// Keeps the subscription up; copies are forgotten whenever it is not.
async fn subscribe_forever(remote: Arc<RedisCache>, near: Arc<Near>) {
    let mut backoff = Duration::from_millis(250);
    loop {
        match remote.subscribe(CHANNEL).await {
            Ok((pubsub, renew_at)) => {
                backoff = Duration::from_millis(250);
                near.forget_all();
                near.subscribed.store(true, Ordering::SeqCst);
                let mut messages = pubsub.into_on_message();
                let renew = async {
                    match renew_at {
                        Some(at) => tokio::time::sleep_until(at.into()).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::pin!(renew);
                loop {
                    tokio::select! {
                        msg = messages.next() => match msg {
                            Some(msg) => match std::str::from_utf8(msg.get_payload_bytes()) {
                                Ok(key) => near.forget(key),
                                Err(_) => near.forget_all(),
                            },
                            None => break,
                        },
                        () = &mut renew => break,
                    }
                }
                near.subscribed.store(false, Ordering::SeqCst);
                near.forget_all();
                tracing::debug!("near cache: subscription ended; resubscribing");
            }
            Err(err) => {
                tracing::warn!(
                    error = format!("{err:#}"),
                    "near cache: subscribing failed; reading Redis only"
                );
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}

#[async_trait]
impl Cache for NearCache {
    async fn get(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        self.ensure_subscriber();
        let near = &self.near;
        if near.subscribed.load(Ordering::SeqCst)
            && let Some(copy) = near.copies.get(key)
        {
            return Ok(Some(copy.value.to_vec()));
        }
        let generation = near.generation.load(Ordering::SeqCst);
        let Some((value, left_ms)) = self.remote.get_with_ttl(key).await? else {
            return Ok(None);
        };
        let ttl = left_ms.map_or(COPY_TTL, |ms| Duration::from_millis(ms).min(COPY_TTL));
        // Kept only if the subscription was up the whole time and no delete arrived meanwhile.
        if near.subscribed.load(Ordering::SeqCst) && !ttl.is_zero() {
            let copy = Held { value: value.as_slice().into(), ttl };
            near.copies.insert(key.to_string(), copy);
            if near.generation.load(Ordering::SeqCst) != generation {
                near.copies.invalidate(key);
            }
        }
        Ok(Some(value))
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> anyhow::Result<()> {
        // Every instance (this one too) drops its copy; the next read keeps what Redis then holds.
        self.near.forget(key);
        self.remote.change_and_publish(key, Some((value, ttl)), CHANNEL).await
    }

    async fn delete(&self, key: &str) -> anyhow::Result<()> {
        self.near.forget(key);
        self.remote.change_and_publish(key, None, CHANNEL).await
    }

    async fn incr(&self, key: &str, window: Duration) -> anyhow::Result<u64> {
        self.remote.incr(key, window).await
    }

    async fn ping(&self) -> anyhow::Result<()> {
        self.remote.ping().await
    }

    fn kind(&self) -> &'static str {
        "redis"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copies_are_bounded_in_bytes_of_memory_small_entries_included() {
        // An account's status is ~40 bytes under a ~50-byte key: counted by payload alone, a bound
        // of 4 MiB would keep all 40,000 of them here, holding four times that.
        let bound = 4 << 20;
        let (copies, held) = crate::platform::test_alloc::held_by(|| {
            let copies = copies_within(bound);
            for i in 0..40_000u32 {
                let value: Arc<[u8]> =
                    format!(r#"{{"status":"ACTIVE","revoked":[],"n":{i}}}"#).into_bytes().into();
                copies.insert(format!("healthsync:user-status:{i:036}"), Held { value, ttl: COPY_TTL });
            }
            copies.run_pending_tasks();
            copies
        });
        let kept = copies.entry_count();
        assert!(kept > 5_000, "copies are kept ({kept})");
        assert!(
            held <= bound as isize * 5 / 4,
            "{kept} copies hold {held} bytes against a bound of {bound} (~300 KiB are the cache's channels and sketch)"
        );
    }
}
