//! PostgreSQL and Redis as the managed identity (issue 12, items 11 and 12): tokens from a fake
//! credential; PostgreSQL is a local fake speaking the protocol's start-up and cleartext-password
//! exchange (so the password each connection sent can be read back), Redis is the real one with
//! an ACL user whose password is the token; the app role's rights are checked on real PostgreSQL.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use async_trait::async_trait;
use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use healthsync::{
    config::AppPrincipal,
    platform::{
        cache::{Cache, RedisCache},
        db,
        entra::{POSTGRES_SCOPE, REDIS_SCOPE},
    },
};
use secrecy::SecretString;
use sqlx::{
    PgPool,
    postgres::{PgConnectOptions, PgPoolOptions},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// Hands out `tok-1`, `tok-2`, ... for `scope`; each lives `lifetime`. Optionally slow or failing.
#[derive(Debug)]
struct Tokens {
    scope: &'static str,
    lifetime: Vec<Duration>,
    delay: Duration,
    fail: bool,
    calls: AtomicUsize,
}

impl Tokens {
    fn new(scope: &'static str, lifetime: Vec<Duration>) -> Arc<Self> {
        Arc::new(Tokens { scope, lifetime, delay: Duration::ZERO, fail: false, calls: AtomicUsize::new(0) })
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl TokenCredential for Tokens {
    async fn get_token(
        &self,
        scopes: &[&str],
        _: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        assert_eq!(scopes, [self.scope]);
        tokio::time::sleep(self.delay).await;
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        if self.fail {
            return Err(azure_core::Error::with_message(
                azure_core::error::ErrorKind::Credential,
                "identity endpoint down",
            ));
        }
        let lifetime = self.lifetime[n.min(self.lifetime.len() - 1)];
        let expires = azure_core::time::OffsetDateTime::now_utc()
            + azure_core::time::Duration::milliseconds(lifetime.as_millis() as i64);
        Ok(AccessToken::new(format!("tok-{}", n + 1), expires))
    }
}

/// Renewed ~1 s after it is handed out (the pool renews 4 minutes before expiry).
const SHORT: Duration = Duration::from_millis(241_000);
const HOUR: Duration = Duration::from_secs(3600);

/// A PostgreSQL server as far as sign-in goes: it asks for a cleartext password, records
/// (user, password), accepts, and then idles until the client leaves.
async fn fake_postgres() -> (u16, Arc<Mutex<Vec<(String, String)>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            tokio::spawn(sign_in(socket, record.clone()));
        }
    });
    (port, seen)
}

async fn sign_in(mut s: TcpStream, seen: Arc<Mutex<Vec<(String, String)>>>) -> std::io::Result<()> {
    let len = s.read_i32().await? as usize;
    let mut startup = vec![0; len - 4];
    s.read_exact(&mut startup).await?;
    // protocol version, then key\0value\0 pairs
    let fields: Vec<&[u8]> = startup[4..].split(|b| *b == 0).collect();
    let user =
        fields.chunks(2).find(|kv| kv[0] == b"user").map(|kv| String::from_utf8_lossy(kv[1]).into_owned());
    s.write_all(&[b'R', 0, 0, 0, 8, 0, 0, 0, 3]).await?; // AuthenticationCleartextPassword
    let tag = s.read_u8().await?;
    assert_eq!(tag, b'p');
    let len = s.read_i32().await? as usize;
    let mut password = vec![0; len - 4];
    s.read_exact(&mut password).await?;
    password.pop(); // NUL
    seen.lock().unwrap().push((user.unwrap_or_default(), String::from_utf8(password).unwrap()));
    s.write_all(&[b'R', 0, 0, 0, 8, 0, 0, 0, 0]).await?; // AuthenticationOk
    s.write_all(&[b'K', 0, 0, 0, 12, 0, 0, 0, 1, 0, 0, 0, 2]).await?; // BackendKeyData
    s.write_all(&[b'Z', 0, 0, 0, 5, b'I']).await?; // ReadyForQuery
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest).await;
    Ok(())
}

fn entra_pool(port: u16, credential: Arc<Tokens>, acquire: Duration) -> PgPool {
    let target: PgConnectOptions =
        format!("postgres://id-healthsync@127.0.0.1:{port}/healthsync?sslmode=disable").parse().unwrap();
    let options = PgPoolOptions::new().max_connections(4).acquire_timeout(acquire);
    db::entra_pool(options, target, credential).unwrap()
}

#[tokio::test]
async fn the_first_connection_waits_for_the_token_and_signs_in_with_it() {
    let (port, seen) = fake_postgres().await;
    let credential = Arc::new(Tokens {
        delay: Duration::from_millis(150),
        ..Arc::into_inner(Tokens::new(POSTGRES_SCOPE, vec![HOUR])).unwrap()
    });
    let started = Instant::now();
    let pool = entra_pool(port, credential.clone(), Duration::from_secs(5));
    assert!(started.elapsed() < Duration::from_millis(50), "building the pool must not wait for a token");
    let conn = pool.acquire().await.expect("the pool connects once the token is there");
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "it cannot have signed in before the token existed"
    );
    assert_eq!(*seen.lock().unwrap(), [("id-healthsync".to_string(), "tok-1".to_string())]);
    drop(conn);
    pool.close().await;
}

#[tokio::test]
async fn a_token_is_renewed_before_it_expires_and_new_connections_sign_in_with_the_new_one() {
    let (port, seen) = fake_postgres().await;
    let credential = Tokens::new(POSTGRES_SCOPE, vec![SHORT, HOUR]);
    let pool = entra_pool(port, credential.clone(), Duration::from_secs(5));
    let first = pool.acquire().await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), async {
        while credential.calls() < 2 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the short-lived token was renewed");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let second = pool.acquire().await.unwrap();
    let passwords: Vec<String> = seen.lock().unwrap().iter().map(|(_, p)| p.clone()).collect();
    assert_eq!(
        passwords,
        ["tok-1", "tok-2"],
        "the open connection kept its token; the new one used the fresh token"
    );
    drop((first, second));
    pool.close().await;
}

#[tokio::test]
async fn without_a_token_a_query_fails_within_the_acquire_timeout_instead_of_hanging() {
    let (port, seen) = fake_postgres().await;
    let credential =
        Arc::new(Tokens { fail: true, ..Arc::into_inner(Tokens::new(POSTGRES_SCOPE, vec![HOUR])).unwrap() });
    let pool = entra_pool(port, credential.clone(), Duration::from_millis(400));
    let started = Instant::now();
    let err = pool.acquire().await.expect_err("no token, no connection");
    assert!(matches!(err, sqlx::Error::PoolTimedOut), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(seen.lock().unwrap().is_empty(), "nothing reached the server without a token");
    assert!(credential.calls() >= 1);
    pool.close().await;
}

fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

async fn redis_admin(cmd: &[&str]) -> redis::RedisResult<redis::Value> {
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await?;
    let mut c = redis::cmd(cmd[0]);
    for a in &cmd[1..] {
        c.arg(*a);
    }
    c.query_async(&mut conn).await
}

#[tokio::test]
async fn redis_signs_in_as_the_identity_and_reconnects_with_a_fresh_token_before_expiry() {
    let user = format!("hs-entra-{}", uuid::Uuid::new_v4().simple());
    let _cleanup = AclUser(user.clone());
    let prefix = format!("{user}:");
    let keys = format!("~{prefix}*");
    redis_admin(&["ACL", "SETUSER", &user, "on", ">tok-1", &keys, "+@all"]).await.unwrap();
    let credential = Tokens::new(REDIS_SCOPE, vec![SHORT, HOUR]);
    let cache = RedisCache::new(&SecretString::from(redis_url()), Duration::from_secs(2), prefix.clone())
        .unwrap()
        .with_entra(user.clone(), credential.clone());

    cache.set("k", b"v1", Duration::from_secs(60)).await.expect("signed in with tok-1");
    assert_eq!(cache.get("k").await.unwrap().as_deref(), Some(&b"v1"[..]));
    assert_eq!(credential.calls(), 1);

    // The server now accepts only tok-2 and drops the identity's connections, as Azure does when
    // a token expires: the cache must come back signed in with a fresh token, not the old one.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    redis_admin(&["ACL", "SETUSER", &user, "resetpass", ">tok-2"]).await.unwrap();
    redis_admin(&["CLIENT", "KILL", "USER", &user]).await.unwrap();
    assert_eq!(cache.get("k").await.expect("reconnected with tok-2").as_deref(), Some(&b"v1"[..]));
    assert_eq!(credential.calls(), 2);

    // A token the server does not know is a failure (a miss for callers), not a hang.
    redis_admin(&["ACL", "SETUSER", &user, "resetpass", ">other"]).await.unwrap();
    redis_admin(&["CLIENT", "KILL", "USER", &user]).await.unwrap();
    let wrong = RedisCache::new(&SecretString::from(redis_url()), Duration::from_secs(1), prefix)
        .unwrap()
        .with_entra(user.clone(), Tokens::new(REDIS_SCOPE, vec![HOUR]));
    assert!(wrong.ping().await.is_err());
}

/// Deletes the test's ACL user from the shared Redis, also when an assertion failed.
struct AclUser(String);

impl Drop for AclUser {
    fn drop(&mut self) {
        if let Ok(mut conn) = redis::Client::open(redis_url()).and_then(|c| c.get_connection()) {
            let _: redis::RedisResult<()> = redis::cmd("ACL").arg("DELUSER").arg(&self.0).query(&mut conn);
        }
    }
}

#[sqlx::test]
async fn the_app_principal_can_change_rows_but_not_the_schema(pool: PgPool) {
    let role = format!("hs_app_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE ROLE {role} LOGIN")).execute(&pool).await.unwrap();
    let principal = AppPrincipal { role: role.clone(), object_id: uuid::Uuid::new_v4().to_string() };
    db::grant_app_access(&pool, Some(&principal)).await.unwrap();
    db::grant_app_access(&pool, Some(&principal)).await.expect("granting again is harmless");

    let options = pool.connect_options().as_ref().clone().username(&role);
    let app = PgPoolOptions::new().max_connections(1).connect_with(options).await.unwrap();
    sqlx::query("INSERT INTO events.outbox (id, event_type, payload) VALUES (gen_random_uuid(), 'user.deleted', '{}')")
        .execute(&app)
        .await
        .expect("the app writes its tables");
    sqlx::query("DELETE FROM events.outbox").execute(&app).await.expect("and deletes from them");
    for ddl in [
        "CREATE TABLE events.intruder (a int)",
        "DROP TABLE events.outbox",
        "ALTER TABLE events.outbox ADD COLUMN x int",
        "SELECT * FROM _sqlx_migrations",
    ] {
        let err = sqlx::query(ddl).execute(&app).await.expect_err(ddl);
        let code = err.as_database_error().and_then(|e| e.code()).map(|c| c.to_string());
        assert_eq!(code.as_deref(), Some("42501"), "{ddl}: {err}");
    }
    app.close().await;
    sqlx::query(&format!("DROP ROLE {role}")).execute(&pool).await.unwrap();
}

#[sqlx::test]
async fn a_missing_principal_on_a_server_without_pgaadauth_is_an_error_that_names_it(pool: PgPool) {
    let principal = AppPrincipal { role: "id-nowhere".into(), object_id: uuid::Uuid::new_v4().to_string() };
    let err = db::grant_app_access(&pool, Some(&principal)).await.unwrap_err();
    assert!(format!("{err:#}").contains("id-nowhere"), "{err:#}");
}
