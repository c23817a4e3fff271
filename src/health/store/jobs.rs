//! NHIS sync jobs: PENDING (waiting for the user's approval) → FETCHING (one request is fetching)
//! → SUCCESS or FAILED. The handle (what step two needs, personal fields included) lives only
//! while the job is open.

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// A fetch that has not finished after this long is taken to have died with its process.
const STALE_FETCH_SECS: i64 = 60;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobRow {
    pub id: Uuid,
    pub provider: String,
    pub status: String,
    pub handle: Option<Value>,
    pub failure_reason: Option<String>,
    pub received: Option<i32>,
    pub new_checkups: Option<i32>,
    pub expires_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "id, provider, status, handle, failure_reason, received, new_checkups, expires_at, completed_at, created_at";

pub struct NewJob<'a> {
    pub id: Uuid,
    pub user: Uuid,
    pub provider: &'a str,
    /// `None`: the job failed at once (the aggregator refused the start).
    pub handle: Option<Value>,
    pub failure_reason: Option<&'a str>,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert(pool: &PgPool, j: &NewJob<'_>) -> anyhow::Result<JobRow> {
    let status = if j.handle.is_some() { "PENDING" } else { "FAILED" };
    sqlx::query_as(&format!(
        "INSERT INTO health.sync_jobs (id, user_id, provider, status, handle, failure_reason, expires_at, completed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $4 = 'FAILED' THEN now() END) RETURNING {COLUMNS}"
    ))
    .bind(j.id)
    .bind(j.user)
    .bind(j.provider)
    .bind(status)
    .bind(&j.handle)
    .bind(j.failure_reason)
    .bind(j.expires_at)
    .fetch_one(pool)
    .await
    .context("recording a sync job")
}

/// The user's job; `None` when it is not theirs or not there.
pub async fn get(pool: &PgPool, user: Uuid, id: Uuid) -> anyhow::Result<Option<JobRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM health.sync_jobs WHERE id = $1 AND user_id = $2"))
        .bind(id)
        .bind(user)
        .fetch_optional(pool)
        .await
        .context("reading a sync job")
}

/// Takes an open, unexpired job for one fetch (PENDING, or FETCHING abandoned by a dead process).
/// `None` when another request holds it, or it is closed or expired.
pub async fn claim(pool: &PgPool, user: Uuid, id: Uuid) -> anyhow::Result<Option<JobRow>> {
    sqlx::query_as(&format!(
        "UPDATE health.sync_jobs SET status = 'FETCHING', claimed_at = now(), updated_at = now() \
         WHERE id = $1 AND user_id = $2 AND expires_at > now() AND (status = 'PENDING' \
           OR (status = 'FETCHING' AND claimed_at < now() - make_interval(secs => $3))) \
         RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(user)
    .bind(STALE_FETCH_SECS as f64)
    .fetch_optional(pool)
    .await
    .context("claiming a sync job")
}

/// Back to PENDING after a fetch that found no approval yet (or could not reach the aggregator).
pub async fn release(pool: &PgPool, id: Uuid) -> anyhow::Result<()> {
    sqlx::query("UPDATE health.sync_jobs SET status = 'PENDING', claimed_at = NULL, updated_at = now() WHERE id = $1 AND status = 'FETCHING'")
        .bind(id)
        .execute(pool)
        .await
        .context("releasing a sync job")?;
    Ok(())
}

/// Ends an open job as FAILED and forgets its handle.
pub async fn fail(pool: &PgPool, id: Uuid, reason: &str) -> anyhow::Result<Option<JobRow>> {
    sqlx::query_as(&format!(
        "UPDATE health.sync_jobs SET status = 'FAILED', failure_reason = $2, handle = NULL, completed_at = now(), \
         updated_at = now() WHERE id = $1 AND status IN ('PENDING', 'FETCHING') RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(reason)
    .fetch_optional(pool)
    .await
    .context("failing a sync job")
}

/// Ends the job as SUCCESS in the caller's transaction (with the checkups it stored).
pub async fn succeed(conn: &mut PgConnection, id: Uuid, received: i32, new: i32) -> anyhow::Result<JobRow> {
    sqlx::query_as(&format!(
        "UPDATE health.sync_jobs SET status = 'SUCCESS', received = $2, new_checkups = $3, handle = NULL, \
         completed_at = now(), updated_at = now() WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(received)
    .bind(new)
    .fetch_one(conn)
    .await
    .context("completing a sync job")
}

/// Ends every expired open job (their handles go with them) and forgets jobs older than 90 days.
/// Returns how many expired.
pub async fn sweep(pool: &PgPool) -> anyhow::Result<u64> {
    let expired = sqlx::query(
        "UPDATE health.sync_jobs SET status = 'FAILED', failure_reason = 'APPROVAL_EXPIRED', handle = NULL, \
         completed_at = now(), updated_at = now() WHERE status IN ('PENDING', 'FETCHING') AND expires_at <= now()",
    )
    .execute(pool)
    .await
    .context("expiring sync jobs")?
    .rows_affected();
    sqlx::query("DELETE FROM health.sync_jobs WHERE created_at < now() - interval '90 days'")
        .execute(pool)
        .await
        .context("pruning old sync jobs")?;
    Ok(expired)
}

#[derive(Debug, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct JobExport {
    pub id: Uuid,
    pub provider: String,
    pub status: String,
    pub failure_reason: Option<String>,
    pub received: Option<i32>,
    pub new_checkups: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// The user's jobs for an export, without handles.
pub async fn list(pool: &PgPool, user: Uuid) -> anyhow::Result<Vec<JobExport>> {
    sqlx::query_as(
        "SELECT id, provider, status, failure_reason, received, new_checkups, created_at, completed_at \
         FROM health.sync_jobs WHERE user_id = $1 ORDER BY created_at",
    )
    .bind(user)
    .fetch_all(pool)
    .await
    .context("listing sync jobs")
}
