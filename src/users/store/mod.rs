//! SQL of the user domain (schema `users`).

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

mod consents;
mod sessions;

pub use consents::{ConsentRecord, current_consents, has_consent, record_consents, withdrawn_before};
pub use sessions::{
    Rotation, SessionRow, insert_refresh, refresh_owner, revoke_by_token, rotate_refresh,
};

use super::{
    events::UserRegistered,
    model::{ConsentKind, Sex, UserStatus},
};
use crate::platform::bus::{self, NewEvent};

#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: Uuid,
    pub status: UserStatus,
    pub email: Option<String>,
    pub name: Option<String>,
    pub birth_date: Option<NaiveDate>,
    pub sex: Option<Sex>,
    pub occupation: Option<String>,
    pub height_cm: Option<f64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The account check's read: the account's status and the sessions revoked within `since` (whose
/// access tokens may not have expired yet), on one connection given back before answering.
pub async fn status_and_revoked(
    pool: &PgPool,
    id: Uuid,
    since: DateTime<Utc>,
) -> anyhow::Result<Option<(UserStatus, Vec<Uuid>)>> {
    let mut conn = pool.acquire().await.context("reading a user")?;
    let row = sqlx::query!(
        r#"SELECT u.status AS "status: UserStatus",
                  ARRAY(SELECT DISTINCT r.family_id FROM users.refresh_tokens r
                         WHERE r.user_id = u.id AND r.revoked_at > $2) AS "revoked!"
           FROM users.users u WHERE u.id = $1"#,
        id,
        since,
    )
    .fetch_optional(&mut *conn)
    .await
    .context("reading a user");
    conn.return_to_pool().await;
    Ok(row?.map(|r| (r.status, r.revoked)))
}

pub async fn get(pool: &PgPool, id: Uuid) -> anyhow::Result<Option<UserRow>> {
    // The account check runs before the handler's own queries: give the connection back before
    // answering, or the handler's acquire finds the pool empty (a dropped connection returns
    // from a spawned task) and opens a second connection (a second TLS handshake for the first
    // request of an instance).
    let mut conn = pool.acquire().await.context("reading a user")?;
    let row = sqlx::query_as!(
        UserRow,
        r#"SELECT id, status AS "status: UserStatus", email, name, birth_date, sex AS "sex: Sex", occupation,
                  height_cm::float8 AS height_cm, created_at, updated_at
           FROM users.users WHERE id = $1"#,
        id,
    )
    .fetch_optional(&mut *conn)
    .await
    .context("reading a user");
    conn.return_to_pool().await;
    row
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
        let existing = sqlx::query_scalar!(
            "SELECT user_id FROM users.identities WHERE issuer = $1 AND subject = $2",
            issuer,
            subject,
        )
        .fetch_optional(pool)
        .await
        .context("looking up an identity")?;
        if let Some(id) = existing {
            let user = get(pool, id).await?.context("an identity without its user")?;
            return Ok((user, false));
        }
        let mut tx = pool.begin().await.context("starting the sign-up transaction")?;
        let id = Uuid::now_v7();
        sqlx::query!("INSERT INTO users.users (id, email) VALUES ($1, $2)", id, email)
            .execute(&mut *tx)
            .await
            .context("creating a user")?;
        let inserted = sqlx::query!(
            "INSERT INTO users.identities (issuer, subject, user_id) VALUES ($1, $2, $3) \
             ON CONFLICT ON CONSTRAINT identities_pkey DO NOTHING",
            issuer,
            subject,
            id,
        )
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
    let user = sqlx::query_as!(
        UserRow,
        r#"UPDATE users.users SET status = 'ACTIVE', name = $2, birth_date = $3, sex = $4, occupation = $5,
                  height_cm = $6::float8, updated_at = now()
           WHERE id = $1 AND status = 'PENDING'
           RETURNING id, status AS "status: UserStatus", email, name, birth_date, sex AS "sex: Sex", occupation,
                     height_cm::float8 AS height_cm, created_at, updated_at"#,
        id,
        r.name,
        r.birth_date,
        r.sex as _,
        r.occupation,
        r.height_cm,
    )
    .fetch_optional(&mut *tx)
    .await
    .context("registering a user")?;
    let Some(user) = user else { return Ok(None) };
    bus::publish(&mut tx, NewEvent::of(&UserRegistered { user_id: id })?).await?;
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
    sqlx::query_as!(
        UserRow,
        r#"UPDATE users.users SET
             name = COALESCE($2, name), birth_date = COALESCE($3, birth_date), sex = COALESCE($4, sex),
             occupation = CASE WHEN $5 THEN $6 ELSE occupation END,
             height_cm = CASE WHEN $7 THEN $8::float8 ELSE height_cm END, updated_at = now()
           WHERE id = $1
           RETURNING id, status AS "status: UserStatus", email, name, birth_date, sex AS "sex: Sex", occupation,
                     height_cm::float8 AS height_cm, created_at, updated_at"#,
        id,
        p.name.as_deref(),
        p.birth_date,
        p.sex as _,
        p.occupation.is_some(),
        p.occupation.as_ref().and_then(Option::as_deref),
        p.height_cm.is_some(),
        p.height_cm.flatten(),
    )
    .fetch_optional(pool)
    .await
    .context("updating a profile")
}


// Data rights.

/// Everything the user domain holds about a user.
pub async fn export(pool: &PgPool, user: Uuid) -> anyhow::Result<Value> {
    let Some(u) = get(pool, user).await? else { return Ok(Value::Null) };
    let identities = sqlx::query!(
        "SELECT issuer, created_at FROM users.identities WHERE user_id = $1 ORDER BY created_at",
        user,
    )
    .fetch_all(pool)
    .await
    .context("exporting identities")?;
    let consents = sqlx::query_as!(
        ConsentRecord,
        r#"SELECT kind AS "kind: ConsentKind", version, granted, recorded_at FROM users.consents
           WHERE user_id = $1 ORDER BY id"#,
        user,
    )
    .fetch_all(pool)
    .await
    .context("exporting consents")?;
    let sessions = sqlx::query_as!(
        SessionRow,
        "SELECT created_at, expires_at, replaced_at, revoked_at FROM users.refresh_tokens \
         WHERE user_id = $1 ORDER BY created_at",
        user,
    )
    .fetch_all(pool)
    .await
    .context("exporting sessions")?;
    Ok(json!({
        "account": {
            "userId": u.id, "status": u.status, "email": u.email, "name": u.name, "birthDate": u.birth_date,
            "sex": u.sex, "occupation": u.occupation, "heightCm": u.height_cm,
            "createdAt": u.created_at, "updatedAt": u.updated_at,
        },
        "signInProviders": identities.iter().map(|i| json!({"issuer": i.issuer, "linkedAt": i.created_at})).collect::<Vec<_>>(),
        "consentHistory": consents,
        "sessions": sessions.iter().map(|s| json!({"createdAt": s.created_at, "expiresAt": s.expires_at, "rotatedAt": s.replaced_at, "revokedAt": s.revoked_at})).collect::<Vec<_>>(),
    }))
}

/// Erases the user and everything that hangs off it in this schema (identities, tokens and
/// consents go with the row: `ON DELETE CASCADE`).
pub async fn erase(conn: &mut PgConnection, user: Uuid) -> anyhow::Result<()> {
    sqlx::query!("DELETE FROM users.users WHERE id = $1", user)
        .execute(conn)
        .await
        .context("erasing a user")?;
    Ok(())
}
