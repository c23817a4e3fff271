//! SQL of the user domain (schema `users`).

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::model::{ConsentKind, Sex, UserStatus};
use crate::platform::bus::{self, NewEvent};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: Uuid,
    pub status: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub birth_date: Option<NaiveDate>,
    pub sex: Option<String>,
    pub occupation: Option<String>,
    pub height_cm: Option<f64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl UserRow {
    pub fn status(&self) -> UserStatus {
        UserStatus::parse(&self.status).unwrap_or(UserStatus::Pending)
    }

    pub fn sex(&self) -> Option<Sex> {
        self.sex.as_deref().and_then(Sex::parse)
    }
}

const USER_COLUMNS: &str = "id, status, email, name, birth_date, sex, occupation, height_cm::float8 AS height_cm, created_at, updated_at";

pub async fn get(pool: &PgPool, id: Uuid) -> anyhow::Result<Option<UserRow>> {
    sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users.users WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
        .context("reading a user")
}

/// The user signed in as `(issuer, subject)`, created (PENDING) on first sign-in.
/// Returns the user and whether it was created now.
pub async fn find_or_create(
    pool: &PgPool,
    issuer: &str,
    subject: &str,
    email: Option<&str>,
) -> anyhow::Result<(UserRow, bool)> {
    for _ in 0..2 {
        let existing: Option<Uuid> =
            sqlx::query_scalar("SELECT user_id FROM users.identities WHERE issuer = $1 AND subject = $2")
                .bind(issuer)
                .bind(subject)
                .fetch_optional(pool)
                .await
                .context("looking up an identity")?;
        if let Some(id) = existing {
            let user = get(pool, id).await?.context("an identity without its user")?;
            return Ok((user, false));
        }
        let mut tx = pool.begin().await.context("starting the sign-up transaction")?;
        let id = Uuid::now_v7();
        sqlx::query("INSERT INTO users.users (id, email) VALUES ($1, $2)")
            .bind(id)
            .bind(email)
            .execute(&mut *tx)
            .await
            .context("creating a user")?;
        let inserted = sqlx::query(
            "INSERT INTO users.identities (issuer, subject, user_id) VALUES ($1, $2, $3) \
             ON CONFLICT ON CONSTRAINT identities_pkey DO NOTHING",
        )
        .bind(issuer)
        .bind(subject)
        .bind(id)
        .execute(&mut *tx)
        .await
        .context("linking an identity")?
        .rows_affected();
        if inserted == 1 {
            tx.commit().await.context("committing the sign-up")?;
            let user = get(pool, id).await?.context("the user just created")?;
            return Ok((user, true));
        }
        // A concurrent first sign-in won the race: use its user.
        tx.rollback().await.ok();
    }
    anyhow::bail!("could not settle the identity after a concurrent sign-up")
}

pub struct Registration<'a> {
    pub name: &'a str,
    pub birth_date: NaiveDate,
    pub sex: Sex,
    pub occupation: Option<&'a str>,
    pub height_cm: Option<f64>,
}

/// PENDING → ACTIVE with the profile, and `user.registered`, in one transaction.
/// `None` when the user is not PENDING (already registered).
pub async fn register(pool: &PgPool, id: Uuid, r: &Registration<'_>) -> anyhow::Result<Option<UserRow>> {
    let mut tx = pool.begin().await.context("starting the registration")?;
    let user: Option<UserRow> = sqlx::query_as(&format!(
        "UPDATE users.users SET status = 'ACTIVE', name = $2, birth_date = $3, sex = $4, occupation = $5, \
         height_cm = $6, updated_at = now() WHERE id = $1 AND status = 'PENDING' RETURNING {USER_COLUMNS}"
    ))
    .bind(id)
    .bind(r.name)
    .bind(r.birth_date)
    .bind(r.sex.as_str())
    .bind(r.occupation)
    .bind(r.height_cm)
    .fetch_optional(&mut *tx)
    .await
    .context("registering a user")?;
    let Some(user) = user else { return Ok(None) };
    bus::publish(&mut tx, NewEvent::new("user.registered", json!({ "userId": id }))).await?;
    tx.commit().await.context("committing the registration")?;
    Ok(Some(user))
}

#[derive(Default)]
pub struct ProfilePatch {
    pub name: Option<String>,
    pub birth_date: Option<NaiveDate>,
    pub sex: Option<Sex>,
    /// `Some(None)` clears it.
    pub occupation: Option<Option<String>>,
    pub height_cm: Option<Option<f64>>,
}

pub async fn update_profile(pool: &PgPool, id: Uuid, p: &ProfilePatch) -> anyhow::Result<Option<UserRow>> {
    sqlx::query_as(&format!(
        "UPDATE users.users SET \
           name = COALESCE($2, name), birth_date = COALESCE($3, birth_date), sex = COALESCE($4, sex), \
           occupation = CASE WHEN $5 THEN $6 ELSE occupation END, \
           height_cm = CASE WHEN $7 THEN $8 ELSE height_cm END, updated_at = now() \
         WHERE id = $1 RETURNING {USER_COLUMNS}"
    ))
    .bind(id)
    .bind(&p.name)
    .bind(p.birth_date)
    .bind(p.sex.map(Sex::as_str))
    .bind(p.occupation.is_some())
    .bind(p.occupation.clone().flatten())
    .bind(p.height_cm.is_some())
    .bind(p.height_cm.flatten())
    .fetch_optional(pool)
    .await
    .context("updating a profile")
}

// Refresh tokens.

/// Stores a new refresh token of `family` for `user`.
pub async fn insert_refresh(
    conn: &mut PgConnection,
    user: Uuid,
    family: Uuid,
    hash: &[u8],
    expires_at: DateTime<Utc>,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO users.refresh_tokens (id, user_id, family_id, token_hash, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(Uuid::now_v7())
    .bind(user)
    .bind(family)
    .bind(hash)
    .bind(expires_at)
    .execute(conn)
    .await
    .context("storing a refresh token")?;
    Ok(())
}

/// user, family, expires, replaced, revoked
type TokenRow = (Uuid, Uuid, DateTime<Utc>, Option<DateTime<Utc>>, Option<DateTime<Utc>>);
/// created, expires, replaced, revoked
type SessionRow = (DateTime<Utc>, DateTime<Utc>, Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// How long after its rotation a refresh token may come back without revoking its family.
pub const REUSE_GRACE_SECS: i64 = 20;

#[derive(Debug, PartialEq, Eq)]
pub enum Rotation {
    /// The token was current: it is replaced by the new one.
    Rotated { user: Uuid },
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
    expires_at: DateTime<Utc>,
) -> anyhow::Result<Rotation> {
    let mut tx = pool.begin().await.context("starting the refresh transaction")?;
    let row: Option<TokenRow> = sqlx::query_as(
        "SELECT user_id, family_id, expires_at, replaced_at, revoked_at FROM users.refresh_tokens \
         WHERE token_hash = $1 FOR UPDATE",
    )
    .bind(old)
    .fetch_optional(&mut *tx)
    .await
    .context("reading a refresh token")?;
    let Some((user, family, expires, replaced, revoked)) = row else { return Ok(Rotation::Invalid) };
    // Every early answer below ends the transaction explicitly: a dropped one would keep the
    // row lock until its connection is next used, stalling a logout of the same family.
    // A client that retries a refresh whose answer it lost (or two racing requests) presents the
    // token again within moments: refuse it without treating it as theft.
    if replaced.is_some_and(|at| Utc::now() - at < chrono::Duration::seconds(REUSE_GRACE_SECS)) {
        tx.rollback().await.context("ending the refresh transaction")?;
        return Ok(Rotation::Invalid);
    }
    if replaced.is_some() {
        revoke_family_in(&mut tx, family).await?;
        tx.commit().await.context("committing the family revocation")?;
        return Ok(Rotation::Reused { user });
    }
    if revoked.is_some() || expires <= Utc::now() {
        tx.rollback().await.context("ending the refresh transaction")?;
        return Ok(Rotation::Invalid);
    }
    sqlx::query("UPDATE users.refresh_tokens SET replaced_at = now() WHERE token_hash = $1")
        .bind(old)
        .execute(&mut *tx)
        .await
        .context("retiring a refresh token")?;
    insert_refresh(&mut tx, user, family, new, expires_at).await?;
    tx.commit().await.context("committing the rotation")?;
    Ok(Rotation::Rotated { user })
}

async fn revoke_family_in(conn: &mut PgConnection, family: Uuid) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE users.refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL",
    )
    .bind(family)
    .execute(conn)
    .await
    .context("revoking a token family")?;
    Ok(())
}

/// The owner of a refresh token, for per-account limits before the token is used.
pub async fn refresh_owner(pool: &PgPool, hash: &[u8]) -> anyhow::Result<Option<Uuid>> {
    sqlx::query_scalar("SELECT user_id FROM users.refresh_tokens WHERE token_hash = $1")
        .bind(hash)
        .fetch_optional(pool)
        .await
        .context("reading a refresh token's owner")
}

/// Revokes the family of the token hashed `hash` (logout). `false` when there is no such token.
pub async fn revoke_by_token(pool: &PgPool, hash: &[u8]) -> anyhow::Result<bool> {
    let mut conn = pool.acquire().await.context("acquiring a connection")?;
    let family: Option<Uuid> =
        sqlx::query_scalar("SELECT family_id FROM users.refresh_tokens WHERE token_hash = $1")
            .bind(hash)
            .fetch_optional(&mut *conn)
            .await
            .context("reading a refresh token")?;
    let Some(family) = family else { return Ok(false) };
    revoke_family_in(&mut conn, family).await?;
    Ok(true)
}

// Consents.

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsentRecord {
    #[serde(rename = "type")]
    pub kind: String,
    pub version: String,
    pub granted: bool,
    pub recorded_at: DateTime<Utc>,
}

/// The consent in force for each kind that was ever answered.
pub async fn current_consents(pool: &PgPool, user: Uuid) -> anyhow::Result<Vec<ConsentRecord>> {
    sqlx::query_as(
        "SELECT DISTINCT ON (kind) kind, version, granted, recorded_at FROM users.consents \
         WHERE user_id = $1 ORDER BY kind, id DESC",
    )
    .bind(user)
    .fetch_all(pool)
    .await
    .context("reading consents")
}

pub async fn record_consents(pool: &PgPool, user: Uuid, items: &[(ConsentKind, bool)]) -> anyhow::Result<()> {
    let mut tx = pool.begin().await.context("starting the consent transaction")?;
    for (kind, granted) in items {
        sqlx::query("INSERT INTO users.consents (user_id, kind, version, granted) VALUES ($1, $2, $3, $4)")
            .bind(user)
            .bind(kind.as_str())
            .bind(kind.current_version())
            .bind(granted)
            .execute(&mut *tx)
            .await
            .context("recording a consent")?;
    }
    tx.commit().await.context("committing consents")?;
    Ok(())
}

/// Whether `kind` is granted now, in its current version.
pub async fn has_consent(pool: &PgPool, user: Uuid, kind: ConsentKind) -> anyhow::Result<bool> {
    let granted: Option<bool> = sqlx::query_scalar(
        "SELECT granted AND version = $3 FROM users.consents WHERE user_id = $1 AND kind = $2 ORDER BY id DESC LIMIT 1",
    )
    .bind(user)
    .bind(kind.as_str())
    .bind(kind.current_version())
    .fetch_optional(pool)
    .await
    .context("checking a consent")?;
    Ok(granted.unwrap_or(false))
}

// Data rights.

/// Everything the user domain holds about a user.
pub async fn export(pool: &PgPool, user: Uuid) -> anyhow::Result<Value> {
    let Some(u) = get(pool, user).await? else { return Ok(Value::Null) };
    let identities: Vec<(String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT issuer, created_at FROM users.identities WHERE user_id = $1 ORDER BY created_at",
    )
    .bind(user)
    .fetch_all(pool)
    .await
    .context("exporting identities")?;
    let consents: Vec<ConsentRecord> = sqlx::query_as(
        "SELECT kind, version, granted, recorded_at FROM users.consents WHERE user_id = $1 ORDER BY id",
    )
    .bind(user)
    .fetch_all(pool)
    .await
    .context("exporting consents")?;
    let sessions: Vec<SessionRow> = sqlx::query_as(
        "SELECT created_at, expires_at, replaced_at, revoked_at FROM users.refresh_tokens WHERE user_id = $1 ORDER BY created_at",
    )
    .bind(user)
    .fetch_all(pool)
    .await
    .context("exporting sessions")?;
    Ok(json!({
        "account": {
            "userId": u.id, "status": u.status, "email": u.email, "name": u.name, "birthDate": u.birth_date,
            "sex": u.sex, "occupation": u.occupation, "heightCm": u.height_cm,
            "createdAt": u.created_at, "updatedAt": u.updated_at,
        },
        "signInProviders": identities.iter().map(|(i, at)| json!({"issuer": i, "linkedAt": at})).collect::<Vec<_>>(),
        "consentHistory": consents,
        "sessions": sessions.iter().map(|(c, e, rep, rev)| json!({"createdAt": c, "expiresAt": e, "rotatedAt": rep, "revokedAt": rev})).collect::<Vec<_>>(),
    }))
}

/// Erases the user and everything that hangs off it in this schema (identities, tokens and
/// consents go with the row: `ON DELETE CASCADE`).
pub async fn erase(conn: &mut PgConnection, user: Uuid) -> anyhow::Result<()> {
    sqlx::query("DELETE FROM users.users WHERE id = $1")
        .bind(user)
        .execute(conn)
        .await
        .context("erasing a user")?;
    Ok(())
}
