//! The PostgreSQL pool: small, lazily connected (cold start never waits for the database), with
//! an acquire timeout so a database outage becomes a quick 503 instead of a hung request.

use std::time::Duration;

use anyhow::Context;
use secrecy::ExposeSecret;
use sqlx::{PgPool, migrate::Migrator, postgres::PgPoolOptions};

use crate::config::Config;

pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

pub fn lazy_pool(config: &Config) -> anyhow::Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(config.db_pool_max)
        .min_connections(0)
        .acquire_timeout(config.db_acquire_timeout)
        .idle_timeout(Some(Duration::from_secs(120)))
        .connect_lazy(config.database_url.expose_secret())
        .context("reading DATABASE_URL into pool options")
}

pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    MIGRATOR.run(pool).await.context("applying migrations")
}

/// A cheap liveness probe of the database.
pub async fn ping(pool: &PgPool) -> anyhow::Result<()> {
    sqlx::query("SELECT 1").execute(pool).await.context("pinging PostgreSQL")?;
    Ok(())
}
