//! Refresh tokens: stored hashed, rotated per use in families, revoked on reuse.

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Stores a new refresh token of `family` for `user`.
pub async fn insert_refresh(
    conn: &mut PgConnection,
    user: Uuid,
    family: Uuid,
    hash: &[u8],
    expires_at: DateTime<Utc>,
) -> anyhow::Result<()> {
    sqlx::query!(
        "INSERT INTO users.refresh_tokens (id, user_id, family_id, token_hash, expires_at) VALUES ($1, $2, $3, $4, $5)",
        Uuid::now_v7(),
        user,
        family,
        hash,
        expires_at,
    )
    .execute(conn)
    .await
    .context("storing a refresh token")?;
    Ok(())
}

/// A session (a refresh token family's member) as the user's export shows it.
pub struct SessionRow {
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub replaced_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// How long after its rotation a refresh token may come back without revoking its family.
pub const REUSE_GRACE_SECS: i64 = 20;

#[derive(Debug, PartialEq, Eq)]
pub enum Rotation {
    /// The token was current: it is replaced by the new one (same session).
    Rotated { user: Uuid, session: Uuid },
    /// No such token, or expired, or revoked.
    Invalid,
    /// A token that was already replaced came back: the family is revoked.
    Reused { user: Uuid },
}

/// Replaces the token hashed `old` by `new` (same family), in one transaction, with the old row
/// locked so two concurrent uses cannot both succeed.
pub async fn rotate_refresh(
    pool: &PgPool,
    old: &[u8],
    new: &[u8],
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> anyhow::Result<Rotation> {
    let mut tx = pool.begin().await.context("starting the refresh transaction")?;
    let row = sqlx::query!(
        "SELECT user_id, family_id, expires_at, replaced_at, revoked_at FROM users.refresh_tokens \
         WHERE token_hash = $1 FOR UPDATE",
        old,
    )
    .fetch_optional(&mut *tx)
    .await
    .context("reading a refresh token")?;
    let Some(row) = row else { return Ok(Rotation::Invalid) };
    let (user, family, expires, replaced, revoked) =
        (row.user_id, row.family_id, row.expires_at, row.replaced_at, row.revoked_at);
    // Every early answer below ends the transaction explicitly: a dropped one would keep the
    // row lock until its connection is next used, stalling a logout of the same family.
    // A client that retries a refresh whose answer it lost (or two racing requests) presents the
    // token again within moments: refuse it without treating it as theft.
    if replaced.is_some_and(|at| now - at < chrono::Duration::seconds(REUSE_GRACE_SECS)) {
        tx.rollback().await.context("ending the refresh transaction")?;
        return Ok(Rotation::Invalid);
    }
    if replaced.is_some() {
        revoke_family_in(&mut tx, family, now).await?;
        tx.commit().await.context("committing the family revocation")?;
        return Ok(Rotation::Reused { user });
    }
    if revoked.is_some() || expires <= now {
        tx.rollback().await.context("ending the refresh transaction")?;
        return Ok(Rotation::Invalid);
    }
    sqlx::query!("UPDATE users.refresh_tokens SET replaced_at = $2 WHERE token_hash = $1", old, now)
        .execute(&mut *tx)
        .await
        .context("retiring a refresh token")?;
    insert_refresh(&mut tx, user, family, new, expires_at).await?;
    tx.commit().await.context("committing the rotation")?;
    Ok(Rotation::Rotated { user, session: family })
}

async fn revoke_family_in(conn: &mut PgConnection, family: Uuid, now: DateTime<Utc>) -> anyhow::Result<()> {
    sqlx::query!(
        "UPDATE users.refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL",
        family,
        now,
    )
    .execute(conn)
    .await
    .context("revoking a token family")?;
    Ok(())
}

/// The owner of a refresh token, for per-account limits before the token is used.
pub async fn refresh_owner(pool: &PgPool, hash: &[u8]) -> anyhow::Result<Option<Uuid>> {
    sqlx::query_scalar!("SELECT user_id FROM users.refresh_tokens WHERE token_hash = $1", hash)
        .fetch_optional(pool)
        .await
        .context("reading a refresh token's owner")
}

/// Revokes the family of the token hashed `hash` (logout): its owner, or `None` when there is no
/// such token.
pub async fn revoke_by_token(pool: &PgPool, hash: &[u8], now: DateTime<Utc>) -> anyhow::Result<Option<Uuid>> {
    let mut conn = pool.acquire().await.context("acquiring a connection")?;
    let found = sqlx::query!("SELECT family_id, user_id FROM users.refresh_tokens WHERE token_hash = $1", hash)
        .fetch_optional(&mut *conn)
        .await
        .context("reading a refresh token")?;
    let Some(found) = found else { return Ok(None) };
    revoke_family_in(&mut conn, found.family_id, now).await?;
    Ok(Some(found.user_id))
}

