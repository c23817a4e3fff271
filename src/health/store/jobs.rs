//! NHIS sync jobs: STARTING (the user's one open slot, taken before the aggregator is asked) →
//! PENDING (waiting for the user's approval) → FETCHING (one request is fetching) → SUCCESS or
//! FAILED. The handle (what step two needs: the third party's name, birth date and phone) lives
//! only while the job is open; every end clears it. A user has at most one open job (a partial
//! unique index).

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    health::{
        events::CheckupSynced,
        judge::{self, Grade},
        model::NewCheckup,
    },
    platform::bus::{self, NewEvent},
    users::api::Sex,
};

/// A fetch that has not finished after this long is taken to have died with its process.
const STALE_FETCH_SECS: i64 = 60;

/// Where a sync job stands. Stored as text (`health.sync_jobs.status`), spelled the same in the
/// data export; a stored value outside these is an error when read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, sqlx::Encode, sqlx::Decode)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[sqlx(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobStatus {
    /// The user's slot is taken; the aggregator has not answered the start yet.
    Starting,
    /// Waiting for the user's approval.
    Pending,
    /// One request is fetching the checkups.
    Fetching,
    Success,
    Failed,
}
crate::platform::db::text_enum!(JobStatus);

impl JobStatus {
    /// Whether the job has ended (its outcome is final and its handle gone).
    pub fn is_closed(self) -> bool {
        matches!(self, JobStatus::Success | JobStatus::Failed)
    }
}

#[derive(Debug, Clone)]
pub struct JobRow {
    pub id: Uuid,
    pub provider: String,
    pub status: JobStatus,
    pub handle: Option<Value>,
    pub failure_reason: Option<String>,
    pub received: Option<i32>,
    pub new_checkups: Option<i32>,
    pub expires_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// `query_as!` into [`JobRow`]: `$sql` (string literals) followed by `RETURNING` the job's columns.
macro_rules! returning_job {
    ($sql:literal $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            JobRow,
            $sql + r#" RETURNING id, provider, status AS "status: JobStatus", handle, failure_reason, received,
                       new_checkups, expires_at, completed_at, created_at"#
            $(, $arg)*
        )
    };
}

/// How long a start may hold the slot before the aggregator answers (a process that died then
/// frees it after this).
const STARTING_SECS: f64 = 60.0;

/// Takes the user's one open slot for a start (STARTING), after ending their open jobs that
/// expired. `None`: another job is open (its expiry, to say when to retry).
pub async fn take_slot(pool: &PgPool, id: Uuid, user: Uuid, provider: &str) -> anyhow::Result<Result<(), DateTime<Utc>>> {
    let mut tx = pool.begin().await.context("starting a sync start")?;
    sqlx::query!(
        "UPDATE health.sync_jobs SET status = 'FAILED', failure_reason = 'APPROVAL_EXPIRED', handle = NULL, \
         completed_at = now(), updated_at = now() \
         WHERE user_id = $1 AND status IN ('STARTING', 'PENDING', 'FETCHING') AND expires_at <= now()",
        user,
    )
    .execute(&mut *tx)
    .await
    .context("ending the user's expired sync jobs")?;
    let taken = sqlx::query!(
        "INSERT INTO health.sync_jobs (id, user_id, provider, status, expires_at) \
         VALUES ($1, $2, $3, 'STARTING', now() + make_interval(secs => $4)) \
         ON CONFLICT (user_id) WHERE status IN ('STARTING', 'PENDING', 'FETCHING') DO NOTHING",
        id,
        user,
        provider,
        STARTING_SECS,
    )
    .execute(&mut *tx)
    .await
    .context("taking the user's sync slot")?
    .rows_affected()
        == 1;
    if !taken {
        let open = sqlx::query_scalar!(
            "SELECT expires_at FROM health.sync_jobs \
             WHERE user_id = $1 AND status IN ('STARTING', 'PENDING', 'FETCHING')",
            user,
        )
        .fetch_optional(&mut *tx)
        .await
        .context("reading the user's open sync job")?
        .unwrap_or_else(Utc::now);
        return Ok(Err(open));
    }
    tx.commit().await.context("committing a sync start")?;
    Ok(Ok(()))
}

/// Gives the slot back: the start did not reach the aggregator (a limit, or the aggregator down).
pub async fn drop_slot(pool: &PgPool, id: Uuid) -> anyhow::Result<()> {
    sqlx::query!("DELETE FROM health.sync_jobs WHERE id = $1 AND status = 'STARTING'", id)
        .execute(pool)
        .await
        .context("freeing a sync slot")?;
    Ok(())
}

/// The aggregator's answer to a start: waiting for the approval (PENDING with its handle until
/// `expires_at`), or refused (FAILED with the reason, nothing personal kept).
pub async fn started(
    pool: &PgPool,
    id: Uuid,
    handle: Option<Value>,
    failure_reason: Option<&str>,
    expires_at: DateTime<Utc>,
) -> anyhow::Result<JobRow> {
    let status = if handle.is_some() { JobStatus::Pending } else { JobStatus::Failed };
    returning_job!(
        "UPDATE health.sync_jobs SET status = $2, handle = $3, failure_reason = $4, expires_at = $5, \
         completed_at = CASE WHEN $2 = 'FAILED' THEN now() END, updated_at = now() \
         WHERE id = $1 AND status = 'STARTING'",
        id,
        status as _,
        handle,
        failure_reason,
        expires_at,
    )
    .fetch_one(pool)
    .await
    .context("recording a started sync job")
}

/// The user's job; `None` when it is not theirs or not there.
pub async fn get(pool: &PgPool, user: Uuid, id: Uuid) -> anyhow::Result<Option<JobRow>> {
    sqlx::query_as!(
        JobRow,
        r#"SELECT id, provider, status AS "status: JobStatus", handle, failure_reason, received, new_checkups,
                  expires_at, completed_at, created_at
           FROM health.sync_jobs WHERE id = $1 AND user_id = $2"#,
        id,
        user,
    )
    .fetch_optional(pool)
    .await
    .context("reading a sync job")
}

/// Takes an open, unexpired job for one fetch (PENDING, or FETCHING abandoned by a dead process).
/// `None` when another request holds it, or it is closed or expired.
pub async fn claim(pool: &PgPool, user: Uuid, id: Uuid) -> anyhow::Result<Option<JobRow>> {
    returning_job!(
        "UPDATE health.sync_jobs SET status = 'FETCHING', claimed_at = now(), updated_at = now() \
         WHERE id = $1 AND user_id = $2 AND expires_at > now() AND (status = 'PENDING' \
           OR (status = 'FETCHING' AND claimed_at < now() - make_interval(secs => $3)))",
        id,
        user,
        STALE_FETCH_SECS as f64,
    )
    .fetch_optional(pool)
    .await
    .context("claiming a sync job")
}

/// Back to PENDING after a fetch that found no approval yet (or could not reach the aggregator).
pub async fn release(pool: &PgPool, id: Uuid) -> anyhow::Result<()> {
    sqlx::query!(
        "UPDATE health.sync_jobs SET status = 'PENDING', claimed_at = NULL, updated_at = now() \
         WHERE id = $1 AND status = 'FETCHING'",
        id,
    )
    .execute(pool)
    .await
    .context("releasing a sync job")?;
    Ok(())
}

/// Ends an open job as FAILED and forgets its handle.
pub async fn fail(pool: &PgPool, id: Uuid, reason: &str) -> anyhow::Result<Option<JobRow>> {
    returning_job!(
        "UPDATE health.sync_jobs SET status = 'FAILED', failure_reason = $2, handle = NULL, completed_at = now(), \
         updated_at = now() WHERE id = $1 AND status IN ('STARTING', 'PENDING', 'FETCHING')",
        id,
        reason,
    )
    .fetch_optional(pool)
    .await
    .context("failing a sync job")
}

/// Stores the checkups an approved fetch returned (a date already stored is skipped), ends the job
/// as SUCCESS and, when anything was new, announces `checkup.synced` with the worst grade among
/// the new ones (judged for `sex`): one transaction.
pub async fn complete(
    pool: &PgPool,
    user: Uuid,
    id: Uuid,
    checkups: &[NewCheckup],
    sex: Sex,
) -> anyhow::Result<JobRow> {
    let mut tx = pool.begin().await.context("starting to store a sync")?;
    let mut new = 0;
    let mut worst: Option<Grade> = None;
    for c in checkups {
        if super::checkups::insert(&mut tx, user, c, None).await?.is_some() {
            new += 1;
            let grade = judge::assess(&c.measurements, sex, c.checkup_date, &c.treated_for).worst_grade();
            worst = [worst, grade].into_iter().flatten().max_by_key(|g| g.severity());
        }
    }
    let done = returning_job!(
        "UPDATE health.sync_jobs SET status = 'SUCCESS', received = $2, new_checkups = $3, handle = NULL, \
         completed_at = now(), updated_at = now() WHERE id = $1",
        id,
        checkups.len() as i32,
        new,
    )
    .fetch_one(&mut *tx)
    .await
    .context("completing a sync job")?;
    if new > 0 {
        let event = CheckupSynced { user_id: user, job_id: id, new_checkups: new as u32, worst_grade: worst };
        bus::publish(&mut tx, NewEvent::of(&event)?).await?;
    }
    tx.commit().await.context("committing a sync")?;
    Ok(done)
}

/// Ends every expired open job (their handles go with them) and forgets jobs older than 90 days.
/// Returns how many expired.
pub async fn sweep(pool: &PgPool) -> anyhow::Result<u64> {
    let expired = sqlx::query!(
        "UPDATE health.sync_jobs SET status = 'FAILED', failure_reason = 'APPROVAL_EXPIRED', handle = NULL, \
         completed_at = now(), updated_at = now() \
         WHERE status IN ('STARTING', 'PENDING', 'FETCHING') AND expires_at <= now()",
    )
    .execute(pool)
    .await
    .context("expiring sync jobs")?
    .rows_affected();
    sqlx::query!("DELETE FROM health.sync_jobs WHERE created_at < now() - interval '90 days'")
        .execute(pool)
        .await
        .context("pruning old sync jobs")?;
    Ok(expired)
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobExport {
    pub id: Uuid,
    pub provider: String,
    pub status: JobStatus,
    pub failure_reason: Option<String>,
    pub received: Option<i32>,
    pub new_checkups: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// The user's jobs for an export, without handles.
pub async fn list(pool: &PgPool, user: Uuid) -> anyhow::Result<Vec<JobExport>> {
    sqlx::query_as!(
        JobExport,
        r#"SELECT id, provider, status AS "status: JobStatus", failure_reason, received, new_checkups, created_at,
                  completed_at
           FROM health.sync_jobs WHERE user_id = $1 ORDER BY created_at"#,
        user,
    )
    .fetch_all(pool)
    .await
    .context("listing sync jobs")
}
