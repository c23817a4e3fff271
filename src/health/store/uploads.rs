//! The limits on result-sheet uploads (issue 21): per user, uploads and bytes per Seoul day, and
//! bytes held. An upload reserves its place before a byte is read, under a per-user advisory lock
//! (check and insert in one transaction), so concurrent uploads by one user cannot all pass one
//! check; it settles with the bytes it took. A reservation whose request died is ignored after an
//! hour and pruned by the sweep.

use anyhow::Context;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// How many uploads and bytes one user may make a day, and hold in all.
#[derive(Debug, Clone, Copy)]
pub struct UploadLimits {
    pub per_day: u32,
    pub bytes_per_day: u64,
    pub bytes_held: u64,
}

/// Why an upload was not let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The day's uploads are used up; the next Seoul day starts in `retry_after_secs`.
    DailyCount { retry_after_secs: u64 },
    /// The day's bytes are used up.
    DailyBytes { retry_after_secs: u64 },
    /// The user holds too much already: only deleting a file makes room.
    Held,
}

/// Reserves `bytes` for upload `id` of `user`, or says which limit it would pass.
pub async fn reserve(
    pool: &PgPool,
    user: Uuid,
    id: Uuid,
    bytes: u64,
    limits: UploadLimits,
) -> anyhow::Result<Result<(), Refusal>> {
    let mut tx = pool.begin().await.context("starting an upload reservation")?;
    sqlx::query!("SELECT pg_advisory_xact_lock(hashtextextended('health.file_uploads:' || $1::uuid::text, 0))", user)
        .execute(&mut *tx)
        .await
        .context("locking the user's uploads")?;
    // Seoul's today is `(now() AT TIME ZONE 'Asia/Seoul')::date` throughout.
    let used = sqlx::query!(
        r#"SELECT (SELECT count(*) FROM health.file_uploads
                    WHERE user_id = $1 AND seoul_day = (now() AT TIME ZONE 'Asia/Seoul')::date) AS "count!",
                  (SELECT coalesce(sum(bytes), 0)::bigint FROM health.file_uploads
                    WHERE user_id = $1 AND seoul_day = (now() AT TIME ZONE 'Asia/Seoul')::date) AS "day_bytes!",
                  (SELECT coalesce(sum(size_bytes), 0)::bigint FROM health.checkup_files WHERE user_id = $1)
                  + (SELECT coalesce(sum(bytes), 0)::bigint FROM health.file_uploads
                      WHERE user_id = $1 AND state = 'RESERVED' AND created_at > now() - interval '1 hour') AS "held!",
                  ceil(extract(epoch FROM ((((now() AT TIME ZONE 'Asia/Seoul')::date + 1)::timestamp
                                           AT TIME ZONE 'Asia/Seoul') - now())))::bigint AS "until_tomorrow!""#,
        user,
    )
    .fetch_one(&mut *tx)
    .await
    .context("reading the user's uploads")?;
    let (count, day_bytes, held, until_tomorrow) = (used.count, used.day_bytes, used.held, used.until_tomorrow);
    let retry_after_secs = until_tomorrow.max(1) as u64;
    let refusal = if count as u64 >= u64::from(limits.per_day) {
        Some(Refusal::DailyCount { retry_after_secs })
    } else if day_bytes as u64 + bytes > limits.bytes_per_day {
        Some(Refusal::DailyBytes { retry_after_secs })
    } else if held as u64 + bytes > limits.bytes_held {
        Some(Refusal::Held)
    } else {
        None
    };
    if let Some(r) = refusal {
        return Ok(Err(r));
    }
    sqlx::query!(
        "INSERT INTO health.file_uploads (id, user_id, bytes, seoul_day) \
         VALUES ($1, $2, $3, (now() AT TIME ZONE 'Asia/Seoul')::date)",
        id,
        user,
        bytes as i64,
    )
    .execute(&mut *tx)
    .await
    .context("reserving an upload")?;
    tx.commit().await.context("committing an upload reservation")?;
    Ok(Ok(()))
}

/// Settles a reservation with the bytes the upload took: STORED (in the transaction that records
/// the file) or REFUSED (its bytes were read, and count for the day).
pub async fn settle(conn: &mut PgConnection, id: Uuid, bytes: u64, stored: bool) -> anyhow::Result<()> {
    sqlx::query!(
        "UPDATE health.file_uploads SET bytes = $2, state = CASE WHEN $3 THEN 'STORED' ELSE 'REFUSED' END, \
         updated_at = now() WHERE id = $1",
        id,
        bytes as i64,
        stored,
    )
    .execute(conn)
        .await
        .context("settling an upload")?;
    Ok(())
}

/// Gives a reservation back (storage failed: the user did nothing wrong).
pub async fn release(pool: &PgPool, id: Uuid) -> anyhow::Result<()> {
    sqlx::query!("DELETE FROM health.file_uploads WHERE id = $1", id)
        .execute(pool)
        .await
        .context("releasing an upload reservation")?;
    Ok(())
}

/// Forgets uploads of earlier days (only the current day counts) and reservations of requests that
/// died. Returns how many rows went.
pub async fn prune(pool: &PgPool) -> anyhow::Result<u64> {
    let done = sqlx::query!(
        "DELETE FROM health.file_uploads WHERE seoul_day < (now() AT TIME ZONE 'Asia/Seoul')::date - 1 \
            OR (state = 'RESERVED' AND created_at < now() - interval '1 hour')"
    )
    .execute(pool)
    .await
    .context("pruning upload records")?;
    Ok(done.rows_affected())
}
