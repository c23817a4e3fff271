//! The cache and blob stand-ins and their real counterparts pass the same checks: the in-process
//! cache and Redis; a folder and Azure Blob (Azurite, through the official SDK).

use std::time::Duration;

use bytes::Bytes;
use healthsync::platform::{
    blob::{self, AzureBlobStore, BlobName, BlobStore, FolderBlobStore},
    cache::{self, Cache, MemoryCache, NearCache, RedisCache},
};
use secrecy::{ExposeSecret, SecretString};

async fn cache_contract(c: &dyn Cache) {
    let key = format!("test:{}", uuid::Uuid::new_v4());
    assert_eq!(c.get(&key).await.unwrap(), None);
    c.set(&key, b"one", Duration::from_secs(30)).await.unwrap();
    assert_eq!(c.get(&key).await.unwrap().as_deref(), Some(&b"one"[..]));
    c.set(&key, b"two", Duration::from_secs(30)).await.unwrap();
    assert_eq!(c.get(&key).await.unwrap().as_deref(), Some(&b"two"[..]));
    c.delete(&key).await.unwrap();
    assert_eq!(c.get(&key).await.unwrap(), None);

    c.set(&key, b"short", Duration::from_millis(150)).await.unwrap();
    assert!(c.get(&key).await.unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(c.get(&key).await.unwrap(), None, "{} kept an expired entry", c.kind());

    cache::set_json(c, &key, &serde_json::json!({"a": 1}), Duration::from_secs(5)).await;
    let v: Option<serde_json::Value> = cache::get_json(c, &key).await;
    assert_eq!(v, Some(serde_json::json!({"a": 1})));
    c.ping().await.unwrap();

    // Counters: a fixed window from the first increment, shared by every caller.
    let counter = format!("test:ctr:{}", uuid::Uuid::new_v4());
    for expected in 1..=3 {
        assert_eq!(c.incr(&counter, Duration::from_millis(300)).await.unwrap(), expected);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        c.incr(&counter, Duration::from_millis(300)).await.unwrap(),
        1,
        "{}: the window ended",
        c.kind()
    );
}

#[tokio::test]
async fn the_in_process_cache_keeps_values_until_their_ttl() {
    cache_contract(&MemoryCache::new(1000)).await;
}

fn redis_url() -> SecretString {
    SecretString::from(std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into()))
}

#[tokio::test]
async fn redis_behaves_like_the_in_process_cache() {
    let c = RedisCache::new(&redis_url(), Duration::from_secs(2), "hs-test:").unwrap();
    cache_contract(&c).await;
}

fn near(prefix: &str) -> NearCache {
    NearCache::new(RedisCache::new(&redis_url(), Duration::from_secs(2), prefix).unwrap(), 1 << 20)
}

/// Reads once (which starts the subscriber) and waits until copies may be kept.
async fn subscribed(c: &NearCache) {
    let _ = c.get("warm-up").await;
    for _ in 0..200 {
        if c.is_subscribed() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the near cache never subscribed");
}

async fn eventually_reads(c: &NearCache, key: &str, want: Option<&[u8]>) {
    for _ in 0..100 {
        if c.get(key).await.unwrap().as_deref() == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{key} never read {want:?}");
}

#[tokio::test]
async fn the_near_cache_behaves_like_the_in_process_cache() {
    let c = near(&format!("hs-test-{}:", uuid::Uuid::new_v4()));
    subscribed(&c).await;
    cache_contract(&c).await;
}

#[tokio::test]
async fn near_copies_serve_hot_keys_follow_every_instances_deletes_and_go_with_the_subscription() {
    let prefix = format!("hs-test-{}:", uuid::Uuid::new_v4());
    let (a, b) = (near(&prefix), near(&prefix));
    let redis = RedisCache::new(&redis_url(), Duration::from_secs(2), prefix.as_str()).unwrap();
    subscribed(&a).await;
    subscribed(&b).await;
    let key = "user-status:1";
    b.set(key, b"ACTIVE", Duration::from_secs(30)).await.unwrap();
    assert_eq!(a.get(key).await.unwrap().as_deref(), Some(&b"ACTIVE"[..]));
    // A write that bypasses the caches (and announces nothing) shows that `a` answers from its copy.
    redis.set(key, b"CHANGED-BEHIND", Duration::from_secs(30)).await.unwrap();
    assert_eq!(a.get(key).await.unwrap().as_deref(), Some(&b"ACTIVE"[..]), "a read its copy");
    // Another instance's write reaches the copy, and so does its delete.
    b.set(key, b"PENDING", Duration::from_secs(30)).await.unwrap();
    eventually_reads(&a, key, Some(b"PENDING")).await;
    b.delete(key).await.unwrap();
    eventually_reads(&a, key, None).await;
    // So does this instance's own, at once.
    b.set(key, b"ACTIVE", Duration::from_secs(30)).await.unwrap();
    assert_eq!(a.get(key).await.unwrap().as_deref(), Some(&b"ACTIVE"[..]));
    a.delete(key).await.unwrap();
    assert_eq!(a.get(key).await.unwrap(), None);
    // A copy never outlives the Redis entry it was read from.
    redis.set(key, b"SHORT", Duration::from_millis(200)).await.unwrap();
    assert_eq!(a.get(key).await.unwrap().as_deref(), Some(&b"SHORT"[..]));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(a.get(key).await.unwrap(), None);

    // While the subscription is down, copies are forgotten (one test: this kills every subscriber).
    let key = "goals:active:1";
    redis.set(key, b"old", Duration::from_secs(30)).await.unwrap();
    assert_eq!(a.get(key).await.unwrap().as_deref(), Some(&b"old"[..]));
    redis.set(key, b"new", Duration::from_secs(30)).await.unwrap();
    assert_eq!(a.get(key).await.unwrap().as_deref(), Some(&b"old"[..]), "a read its copy");
    // Redis drops every subscriber (as on a restart or a failover): deletes could have been missed
    // meanwhile, so the copies go and reads see Redis again; then the subscription comes back.
    let client = redis::Client::open(redis_url().expose_secret()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let killed: i64 =
        redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("pubsub").query_async(&mut conn).await.unwrap();
    assert!(killed >= 1);
    eventually_reads(&a, key, Some(b"new")).await;
    subscribed(&a).await;
}

#[tokio::test]
async fn an_unreachable_redis_fails_fast_and_reads_as_a_miss() {
    let c = RedisCache::new(&SecretString::from("redis://127.0.0.1:1"), Duration::from_millis(300), "x:")
        .unwrap();
    let started = std::time::Instant::now();
    assert!(c.get("k").await.is_err());
    assert!(started.elapsed() < Duration::from_secs(3));
    let v: Option<String> = cache::get_json(&c, "k").await;
    assert_eq!(v, None);
}

/// A TCP proxy in front of the test Redis that can be taken away (every connection dropped, the
/// port refusing new ones) and started again on the same port: a Redis outage as the app sees it.
struct RedisProxy {
    port: u16,
    accept: tokio::task::JoinHandle<()>,
}

impl RedisProxy {
    async fn start(port: u16) -> Self {
        let url = url::Url::parse(redis_url().expose_secret()).unwrap();
        let target = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(6379));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accept = tokio::spawn(async move {
            // Dropped with this task: every piped connection ends with it.
            let mut pipes = tokio::task::JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.clone();
                pipes.spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Self { port, accept }
    }

    async fn stop(self) {
        self.accept.abort();
        let _ = self.accept.await;
    }
}

#[tokio::test]
async fn while_redis_is_away_the_cache_answers_misses_at_once_and_reads_again_when_it_is_back() {
    let proxy = RedisProxy::start(0).await;
    let port = proxy.port;
    let url = SecretString::from(format!("redis://127.0.0.1:{port}"));
    let c =
        RedisCache::new(&url, Duration::from_secs(2), format!("hs-test:{}:", uuid::Uuid::new_v4())).unwrap();
    c.set("k", b"v", Duration::from_secs(60)).await.unwrap();
    assert_eq!(c.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));

    proxy.stop().await;
    // The first failures take what reconnecting takes (about 1.5 s each, measured by
    // bench/faults.py); past the threshold no command waits for Redis any more.
    for _ in 0..RedisCache::BREAKER_THRESHOLD {
        assert!(c.get("k").await.is_err());
    }
    let mut slowest = Duration::ZERO;
    for _ in 0..5 {
        let started = std::time::Instant::now();
        let v: Option<String> = cache::get_json(&c, "k").await;
        assert_eq!(v, None, "an unreachable Redis reads as a miss");
        assert!(c.set("k", b"w", Duration::from_secs(60)).await.is_err());
        slowest = slowest.max(started.elapsed());
    }
    // Failing at once takes a few ms (tens in a debug build that captures backtraces).
    assert!(
        slowest < Duration::from_millis(500),
        "a read and a write against a Redis that is away took {slowest:?}"
    );

    // Back on the same port: after the cool-down a trial reconnects and the cache reads again.
    let _back = RedisProxy::start(port).await;
    tokio::time::sleep(RedisCache::BREAKER_COOL_DOWN).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(Some(v)) = c.get("k").await {
            assert_eq!(v, b"v", "nothing was written while Redis was away");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the cache did not read Redis again");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn blob_contract(store: &dyn BlobStore) {
    let prefix = format!("users/{}/", uuid::Uuid::new_v4());
    let a = BlobName::parse(&format!("{prefix}checkup-2024.pdf")).unwrap();
    let b = BlobName::parse(&format!("{prefix}nested/file.csv")).unwrap();
    assert_eq!(store.get(&a).await.unwrap(), None);
    assert!(!store.delete(&a).await.unwrap());
    store.put(&a, Bytes::from_static(b"%PDF-1.7 one"), "application/pdf").await.unwrap();
    store.put(&a, Bytes::from_static(b"%PDF-1.7 two"), "application/pdf").await.unwrap();
    store.put(&b, Bytes::from(vec![0u8, 159, 146, 150]), "text/csv").await.unwrap();
    assert_eq!(store.get(&a).await.unwrap().unwrap(), Bytes::from_static(b"%PDF-1.7 two"));
    assert_eq!(store.get(&b).await.unwrap().unwrap(), Bytes::from(vec![0u8, 159, 146, 150]));
    let listed = store.list(&prefix).await.unwrap();
    assert_eq!(listed, vec![a.as_str().to_string(), b.as_str().to_string()]);
    assert_eq!(blob::delete_prefix(store, &prefix).await.unwrap(), 2);
    assert!(store.list(&prefix).await.unwrap().is_empty());
    assert_eq!(store.get(&b).await.unwrap(), None);
    store.ping().await.unwrap();
}

#[tokio::test]
async fn the_blob_folder_stores_lists_and_deletes() {
    let dir = tempfile::tempdir().unwrap();
    blob_contract(&FolderBlobStore::new(dir.path())).await;
}

#[tokio::test]
async fn azure_blob_on_azurite_behaves_like_the_folder() {
    let container = format!("test-{}", uuid::Uuid::new_v4().simple());
    let url = url::Url::parse(&crate::support::azurite_container_url(&container)).unwrap();
    let store = AzureBlobStore::new(&url, None).unwrap();
    store.ensure_container().await.unwrap();
    store.ensure_container().await.unwrap();
    blob_contract(&store).await;
}

#[tokio::test]
async fn a_missing_container_fails_the_readiness_ping() {
    let url = url::Url::parse(&crate::support::azurite_container_url("never-created")).unwrap();
    let store = AzureBlobStore::new(&url, None).unwrap();
    assert!(store.ping().await.is_err());
}

#[tokio::test]
async fn a_rate_limit_on_redis_is_shared_by_every_instance_and_says_when_to_retry() {
    use healthsync::platform::ratelimit::{self, RateLimited};
    // Two instances: two clients of the same Redis.
    let a = RedisCache::new(&redis_url(), Duration::from_secs(2), "hs-test:").unwrap();
    let b = RedisCache::new(&redis_url(), Duration::from_secs(2), "hs-test:").unwrap();
    let who = format!("client-{}", uuid::Uuid::new_v4());
    for cache in [&a, &b, &a] {
        ratelimit::check(cache, "test", &who, 3, Duration::from_secs(60)).await.unwrap();
    }
    match ratelimit::check(&b, "test", &who, 3, Duration::from_secs(60)).await {
        Err(RateLimited { retry_after_secs }) => assert_eq!(retry_after_secs, 60),
        other => panic!("expected 429, got {other:?}"),
    }
    ratelimit::check(&a, "test", "198.51.100.7-other", 3, Duration::from_secs(60)).await.unwrap();
    // With the cache down the limit lets requests through rather than locking everyone out.
    let down = RedisCache::new(&SecretString::from("redis://127.0.0.1:1"), Duration::from_millis(200), "x:")
        .unwrap();
    ratelimit::check(&down, "test", &who, 0, Duration::from_secs(60)).await.unwrap();
}

#[tokio::test]
async fn a_connection_the_server_dropped_during_a_quiet_spell_is_replaced_before_it_is_used() {
    use sqlx::Connection as _;
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let settings = crate::support::settings(&[("DATABASE_URL", url.as_str()), ("DB_POOL_MAX", "1")]);
    let config = healthsync::config::Config::from_source(&settings).unwrap();
    let pool = healthsync::platform::db::lazy_pool(&config).unwrap();
    let backend = || sqlx::query_scalar::<_, i32>("SELECT pg_backend_pid()").fetch_one(&pool);
    let first = backend().await.unwrap();
    // The server drops it (as on a failover), and nobody uses it for a while.
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    let ended: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(first)
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert!(ended);
    tokio::time::sleep(healthsync::platform::db::CHECK_IF_IDLE_FOR + Duration::from_millis(500)).await;
    // The check before handing it out finds it dead; the request gets a new connection, not an error.
    let second = backend().await.expect("the pool replaced the dead connection");
    assert_ne!(first, second);
}
