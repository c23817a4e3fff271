//! A pool that signs in with the managed identity's Entra token as the password
//! (https://learn.microsoft.com/azure/postgresql/flexible-server/how-to-configure-sign-in-azure-ad-authentication).
//!
//! PostgreSQL checks the token once, when a connection opens; open connections outlive it. So
//! the pool's connect options carry the current token, and a task replaces them with a fresh one
//! before it expires (`Pool::set_connect_options`), every connection opened after that uses the
//! new one.
//!
//! Until the first token has arrived (a few milliseconds after start-up; the task starts at once,
//! but cold start does not wait for it), the options point at a local port that is bound and not
//! listening, so a connection attempt is refused at once. sqlx retries a refused connection with
//! a short backoff, re-reading the options on each try, until its acquire timeout: a request that
//! needs the database before the token is there waits for the token instead of failing; if the
//! identity endpoint never answers, it gets the usual 503 after `DB_ACQUIRE_TIMEOUT_MS`.

use std::{
    net::{Ipv4Addr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use anyhow::Context;
use azure_core::credentials::TokenCredential;
use secrecy::ExposeSecret;
use sqlx::{
    PgPool,
    postgres::{PgConnectOptions, PgPoolOptions, PgSslMode},
};

use crate::platform::entra::{self, POSTGRES_SCOPE};

/// A lazily connected pool for `target` (no password: the token is the password).
pub fn entra_pool(
    options: PgPoolOptions,
    target: PgConnectOptions,
    credential: Arc<dyn TokenCredential>,
) -> anyhow::Result<PgPool> {
    let parking = tokio::net::TcpSocket::new_v4().context("opening the parking socket")?;
    parking.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).context("binding the parking socket")?;
    let port = parking.local_addr().context("reading the parking port")?.port();
    let parked = target.clone().host("127.0.0.1").port(port).ssl_mode(PgSslMode::Disable);
    let pool = options.connect_lazy_with(parked);
    tokio::runtime::Handle::try_current()
        .context("an Entra database pool needs the Tokio runtime")?
        .spawn(keep_token_fresh(pool.clone(), target, credential, parking));
    Ok(pool)
}

/// Puts a fresh token into the pool's options before the current one expires, for as long as
/// the pool is open. A failed fetch is retried with backoff; the last token stays until then.
async fn keep_token_fresh(
    pool: PgPool,
    target: PgConnectOptions,
    credential: Arc<dyn TokenCredential>,
    // Held for the pool's life, so no other process can take the port an attempt may still hold.
    _parking: tokio::net::TcpSocket,
) {
    let mut backoff = Duration::from_millis(200);
    while !pool.is_closed() {
        match entra::token(credential.as_ref(), POSTGRES_SCOPE).await {
            Ok(token) => {
                pool.set_connect_options(target.clone().password(token.secret.expose_secret()));
                backoff = Duration::from_millis(200);
                tracing::debug!(renew_in_s = token.renew_in.as_secs(), "PostgreSQL token renewed");
                tokio::time::sleep(token.renew_in).await;
            }
            Err(err) => {
                tracing::warn!(error = format!("{err:#}"), "getting a PostgreSQL token failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}
