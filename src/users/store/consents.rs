//! Consent records: a history per user and kind; the latest answer in its current version is in force.

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::users::model::ConsentKind;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsentRecord {
    #[serde(rename = "type")]
    pub kind: ConsentKind,
    pub version: String,
    pub granted: bool,
    pub recorded_at: DateTime<Utc>,
}

/// The consent in force for each kind that was ever answered.
pub async fn current_consents(pool: &PgPool, user: Uuid) -> anyhow::Result<Vec<ConsentRecord>> {
    sqlx::query_as!(
        ConsentRecord,
        r#"SELECT DISTINCT ON (kind) kind AS "kind: ConsentKind", version, granted, recorded_at
           FROM users.consents WHERE user_id = $1 ORDER BY kind, id DESC"#,
        user,
    )
    .fetch_all(pool)
    .await
    .context("reading consents")
}

pub async fn record_consents(pool: &PgPool, user: Uuid, items: &[(ConsentKind, bool)]) -> anyhow::Result<()> {
    let mut tx = pool.begin().await.context("starting the consent transaction")?;
    for (kind, granted) in items {
        sqlx::query!(
            "INSERT INTO users.consents (user_id, kind, version, granted) VALUES ($1, $2, $3, $4)",
            user,
            *kind as _,
            kind.current_version(),
            granted,
        )
        .execute(&mut *tx)
            .await
            .context("recording a consent")?;
    }
    tx.commit().await.context("committing consents")?;
    Ok(())
}

/// Whether `kind` is granted now, in its current version.
pub async fn has_consent(pool: &PgPool, user: Uuid, kind: ConsentKind) -> anyhow::Result<bool> {
    let granted = sqlx::query_scalar!(
        r#"SELECT granted AND version = $3 AS "in_force!" FROM users.consents
           WHERE user_id = $1 AND kind = $2 ORDER BY id DESC LIMIT 1"#,
        user,
        kind as _,
        kind.current_version(),
    )
    .fetch_optional(pool)
    .await
    .context("checking a consent")?;
    Ok(granted.unwrap_or(false))
}


/// One page of users whose answer in force for `kind` is a withdrawal recorded before `cutoff`:
/// `(record id, user)` after the record id `after`, at most `limit`, in record order (pass the
/// last record id back for the next page). A later answer, in any version, takes a user off.
pub async fn withdrawn_before(
    pool: &PgPool,
    kind: ConsentKind,
    cutoff: DateTime<Utc>,
    after: i64,
    limit: i64,
) -> anyhow::Result<Vec<(i64, Uuid)>> {
    let rows = sqlx::query!(
        "SELECT c.id, c.user_id FROM users.consents c \
         WHERE c.kind = $1 AND NOT c.granted AND c.recorded_at < $2 AND c.id > $3 \
           AND NOT EXISTS (SELECT 1 FROM users.consents n WHERE n.user_id = c.user_id AND n.kind = c.kind AND n.id > c.id) \
         ORDER BY c.id LIMIT $4",
        kind as _,
        cutoff,
        after,
        limit,
    )
    .fetch_all(pool)
    .await
    .context("listing withdrawn consents")?;
    Ok(rows.into_iter().map(|r| (r.id, r.user_id)).collect())
}
