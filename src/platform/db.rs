//! The PostgreSQL pool: small, lazily connected (cold start never waits for the database), with
//! an acquire timeout so a database outage becomes a quick 503 instead of a hung request.
//!
//! In Azure the app signs in as its managed identity (`DATABASE_AUTH=entra`, see [`entra_pool`])
//! and holds only the rights of the `healthsync_app` role, which `healthsync migrate` grants
//! ([`grant_app_access`]).

mod entra;

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use azure_core::credentials::TokenCredential;
use secrecy::ExposeSecret;
use sqlx::{
    PgPool,
    migrate::Migrator,
    postgres::{PgConnectOptions, PgPoolOptions},
};

pub use self::entra::entra_pool;
use crate::config::{AppPrincipal, Config, DatabaseAuth};

pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Declares enums stored in `text` columns as PostgreSQL's built-in `text` (and `text[]`), by
/// OID. Use it with `#[derive(sqlx::Encode, sqlx::Decode)]` (which write and read the variant's
/// name, `#[sqlx(rename_all = …)]` applying) instead of `#[derive(sqlx::Type)]` with a
/// `type_name = "text"` in its `sqlx` attribute: a type declared by *name* has no OID until the
/// connection asks the server for it (`SELECT $1::regtype::oid`, and for an array `… FROM
/// pg_type`), which sqlx does on each new connection the first time a statement binding it is
/// prepared: two more round trips on that request.
macro_rules! text_enum {
    ($($ty:ty),+ $(,)?) => {$(
        impl ::sqlx::Type<::sqlx::Postgres> for $ty {
            fn type_info() -> ::sqlx::postgres::PgTypeInfo {
                <str as ::sqlx::Type<::sqlx::Postgres>>::type_info()
            }

            fn compatible(ty: &::sqlx::postgres::PgTypeInfo) -> bool {
                <str as ::sqlx::Type<::sqlx::Postgres>>::compatible(ty)
            }
        }

        impl ::sqlx::postgres::PgHasArrayType for $ty {
            fn array_type_info() -> ::sqlx::postgres::PgTypeInfo {
                <&str as ::sqlx::postgres::PgHasArrayType>::array_type_info()
            }

            fn array_compatible(ty: &::sqlx::postgres::PgTypeInfo) -> bool {
                <&str as ::sqlx::postgres::PgHasArrayType>::array_compatible(ty)
            }
        }
    )+};
}
pub(crate) use text_enum;

/// The role that holds the app's rights: use and change rows in the app's schemas, nothing else
/// (no DDL, no other database, not the migrations' bookkeeping).
pub const APP_ROLE: &str = "healthsync_app";

/// A connection idle longer than this is checked (a round trip) before it is handed out; one in
/// steady use is not, since it answered a moment ago. A connection the server dropped in between
/// (a failover, a restart) is found by the first check after a quiet spell, or fails the one
/// request that used it, which the client may retry.
pub const CHECK_IF_IDLE_FOR: Duration = Duration::from_secs(5);

fn pool_options(config: &Config) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(config.db_pool_max)
        .min_connections(0)
        .acquire_timeout(config.db_acquire_timeout)
        .idle_timeout(Some(Duration::from_secs(120)))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for > CHECK_IF_IDLE_FOR {
                    // A dead connection fails its ping: the pool drops it and opens another.
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
}

pub fn lazy_pool(config: &Config) -> anyhow::Result<PgPool> {
    let target: PgConnectOptions =
        config.database_url.expose_secret().parse().context("reading DATABASE_URL into pool options")?;
    match config.database_auth {
        DatabaseAuth::Password => Ok(pool_options(config).connect_lazy_with(target)),
        DatabaseAuth::Entra => {
            let credential: Arc<dyn TokenCredential> =
                crate::platform::entra::managed_identity(config.managed_identity_client_id.as_deref())?;
            entra_pool(pool_options(config), target, credential)
        }
    }
}

/// A new instance's first database connection, opened while the process is still starting
/// (`healthsync serve`): the TLS handshake, the sign-in (an Entra token in Azure) and the server's
/// new backend are paid before the first request arrives instead of inside it. Requests that come
/// in while it is being opened wait for it ([`Warmup::ready`]) rather than open a second one.
#[derive(Clone)]
pub struct Warmup(tokio::sync::watch::Receiver<bool>);

/// Starts opening `pool`'s first connection in the background. A failure is only logged: the first
/// request then connects (and reports) as it would have.
pub fn warm_up(pool: PgPool) -> Warmup {
    let (done, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        match pool.acquire().await {
            // Back in the pool before anyone is let through, so the first request finds it idle.
            Ok(mut conn) => conn.return_to_pool().await,
            Err(err) => {
                tracing::warn!(error = format!("{err:#}"), "opening the first database connection failed")
            }
        }
        let _ = done.send(true);
    });
    Warmup(rx)
}

impl Warmup {
    /// Waits (at most `at_most`) until the first connection is open or failed to open.
    pub async fn ready(&self, at_most: Duration) {
        if *self.0.borrow() {
            return;
        }
        let mut rx = self.0.clone();
        let _ = tokio::time::timeout(at_most, rx.wait_for(|done| *done)).await;
    }
}

pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    MIGRATOR.run(pool).await.context("applying migrations")?;
    grant_app_access(pool, None).await
}

/// Migrations, then the app's rights, given to `config`'s app principal when there is one
/// (`healthsync migrate` in Azure: the managed identity).
pub async fn migrate_for(pool: &PgPool, config: &Config) -> anyhow::Result<()> {
    MIGRATOR.run(pool).await.context("applying migrations")?;
    grant_app_access(pool, config.database_app_principal.as_ref()).await
}

/// Creates [`APP_ROLE`] if needed and grants it the app's rights on every schema of the database
/// (so schemas a later migration adds are covered the next time this runs: after every
/// migration), then, for `principal`, makes sure its login role exists (in Azure:
/// `pgaadauth_create_principal_with_oid`, the documented way to add a managed identity) and is a
/// member of [`APP_ROLE`]. Idempotent.
pub async fn grant_app_access(pool: &PgPool, principal: Option<&AppPrincipal>) -> anyhow::Result<()> {
    sqlx::query!(
        r"DO $grant$
        DECLARE s text;
        BEGIN
          IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'healthsync_app') THEN
            BEGIN
              CREATE ROLE healthsync_app NOLOGIN;
            EXCEPTION
              WHEN duplicate_object OR unique_violation THEN NULL;
              -- A migrator that may not create roles (a local owner account) leaves rights as
              -- they are; with an app principal to grant, the GRANT below then fails loudly.
              WHEN insufficient_privilege THEN
                RAISE NOTICE 'no CREATEROLE: the app role is not managed here';
                RETURN;
            END;
          END IF;
          FOR s IN SELECT nspname FROM pg_namespace
                   WHERE nspname NOT LIKE 'pg\_%' AND nspname NOT IN ('information_schema', 'public')
                     AND pg_has_role(current_user, nspowner, 'USAGE')
          LOOP
            EXECUTE format('GRANT USAGE ON SCHEMA %I TO healthsync_app', s);
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO healthsync_app', s);
            EXECUTE format('GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA %I TO healthsync_app', s);
          END LOOP;
        END
        $grant$",
    )
    .execute(pool)
    .await
    .context("granting the app role its rights")?;
    let Some(principal) = principal else { return Ok(()) };
    let exists = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = $1) AS "exists!""#,
        principal.role
    )
    .fetch_one(pool)
    .await
    .context("looking for the app principal's role")?;
    if !exists {
        create_entra_principal(pool, principal).await?;
    }
    let quoted = sqlx::query_scalar!(r#"SELECT quote_ident($1) AS "quoted!""#, principal.role)
        .fetch_one(pool)
        .await
        .context("quoting the app principal's role")?;
    // runtime: GRANT names the role (an identifier, quoted above): it cannot be a bound parameter.
    sqlx::raw_sql(&format!("GRANT {APP_ROLE} TO {quoted}"))
        .execute(pool)
        .await
        .context("making the app principal a member of the app role")?;
    Ok(())
}

/// Azure's `pgaadauth` extension adds a role for an Entra principal. It is reachable from the
/// `postgres` database on every server, from ours only when installed there.
async fn create_entra_principal(pool: &PgPool, principal: &AppPrincipal) -> anyhow::Result<()> {
    const CREATE: &str = "SELECT * FROM pgaadauth_create_principal_with_oid($1, $2, 'service', false, false)";
    let here = sqlx::query_scalar!(
        r#"SELECT to_regproc('pgaadauth_create_principal_with_oid') IS NOT NULL AS "here!""#
    )
    .fetch_one(pool)
    .await
    .context("looking for pgaadauth")?;
    let run = |pool: PgPool| async move {
        // runtime: the function exists only on Azure's servers, not in the database the queries are
        // checked against.
        sqlx::query(CREATE)
            .bind(&principal.role)
            .bind(&principal.object_id)
            .execute(&pool)
            .await
            .with_context(|| format!("creating the Entra role {}", principal.role))
    };
    if here {
        run(pool.clone()).await?;
        return Ok(());
    }
    let options = pool.connect_options().as_ref().clone().database("postgres");
    let admin = PgPoolOptions::new().max_connections(1).connect_lazy_with(options);
    let found = sqlx::query_scalar!(
        r#"SELECT to_regproc('pgaadauth_create_principal_with_oid') IS NOT NULL AS "here!""#
    )
    .fetch_one(&admin)
    .await
    .context("looking for pgaadauth in the postgres database")?;
    anyhow::ensure!(
        found,
        "the role {} does not exist and this server has no pgaadauth to create it: create it (LOGIN) and run `healthsync migrate` again",
        principal.role
    );
    run(admin.clone()).await?;
    admin.close().await;
    Ok(())
}

/// A cheap liveness probe of the database.
pub async fn ping(pool: &PgPool) -> anyhow::Result<()> {
    sqlx::query!("SELECT 1 AS one").fetch_one(pool).await.context("pinging PostgreSQL")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use sqlx::{
        Postgres, Type,
        postgres::{PgHasArrayType, types::Oid},
    };

    /// `text` and `text[]` (pg_type), fixed in every PostgreSQL.
    const TEXT: (Option<Oid>, Option<Oid>) = (Some(Oid(25)), Some(Oid(1009)));

    fn oids<T: Type<Postgres> + PgHasArrayType>() -> (Option<Oid>, Option<Oid>) {
        (T::type_info().oid(), T::array_type_info().oid())
    }

    fn files(dir: &Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push((path.display().to_string(), std::fs::read_to_string(&path).unwrap()));
            }
        }
    }

    #[test]
    fn enums_stored_as_text_are_text_by_oid_so_a_new_connection_looks_nothing_up() {
        assert_eq!(oids::<crate::users::api::UserStatus>(), TEXT);
        assert_eq!(oids::<crate::users::api::ConsentKind>(), TEXT);
        assert_eq!(oids::<crate::goals::model::Category>(), TEXT);
        assert_eq!(oids::<crate::health::model::Condition>(), TEXT);
        assert_eq!(oids::<crate::motivator::store::PushPlatform>(), TEXT);
        // A type declared by name (a `type_name` in a `sqlx` attribute) would be looked up again.
        let mut sources = Vec::new();
        files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut sources);
        let by_name: Vec<&str> = sources
            .iter()
            .filter(|(_, text)| text.contains(concat!("#[sqlx(type", "_name")))
            .map(|(path, _)| path.as_str())
            .collect();
        assert!(by_name.is_empty(), "declare text enums with text_enum!: {by_name:?}");
    }
}
