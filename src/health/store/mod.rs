//! SQL of the health domain (schema `health`): checkups, files, sync jobs, the user's share of
//! data rights. The population reference has its own module (`health::population`).

pub mod checkups;
pub mod files;
pub mod jobs;
pub mod uploads;

use anyhow::Context;
use sqlx::PgConnection;
use uuid::Uuid;

/// Erases the user's rows in this schema (the blobs go with the user's prefix).
pub async fn erase(conn: &mut PgConnection, user: Uuid) -> anyhow::Result<()> {
    sqlx::query!("DELETE FROM health.checkups WHERE user_id = $1", user)
        .execute(&mut *conn)
        .await
        .context("erasing health.checkups")?;
    sqlx::query!("DELETE FROM health.checkup_files WHERE user_id = $1", user)
        .execute(&mut *conn)
        .await
        .context("erasing health.checkup_files")?;
    sqlx::query!("DELETE FROM health.sync_jobs WHERE user_id = $1", user)
        .execute(&mut *conn)
        .await
        .context("erasing health.sync_jobs")?;
    sqlx::query!("DELETE FROM health.file_uploads WHERE user_id = $1", user)
        .execute(&mut *conn)
        .await
        .context("erasing health.file_uploads")?;
    Ok(())
}

/// Which of `users` still hold health rows (checkups, files or sync jobs).
pub async fn holding_data(pool: &sqlx::PgPool, users: &[Uuid]) -> anyhow::Result<Vec<Uuid>> {
    let held = sqlx::query_scalar!(
        r#"SELECT user_id AS "user_id!" FROM health.checkups WHERE user_id = ANY($1)
           UNION SELECT user_id FROM health.checkup_files WHERE user_id = ANY($1)
           UNION SELECT user_id FROM health.sync_jobs WHERE user_id = ANY($1)"#,
        users,
    )
    .fetch_all(pool)
    .await
    .context("finding who holds health data")?;
    Ok(held)
}
