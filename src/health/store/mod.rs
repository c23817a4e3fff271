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
    for table in ["checkups", "checkup_files", "sync_jobs", "file_uploads"] {
        sqlx::query(&format!("DELETE FROM health.{table} WHERE user_id = $1"))
            .bind(user)
            .execute(&mut *conn)
            .await
            .with_context(|| format!("erasing health.{table}"))?;
    }
    Ok(())
}

/// Which of `users` still hold health rows (checkups, files or sync jobs).
pub async fn holding_data(pool: &sqlx::PgPool, users: &[Uuid]) -> anyhow::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "SELECT user_id FROM health.checkups WHERE user_id = ANY($1) \
         UNION SELECT user_id FROM health.checkup_files WHERE user_id = ANY($1) \
         UNION SELECT user_id FROM health.sync_jobs WHERE user_id = ANY($1)",
    )
    .bind(users)
    .fetch_all(pool)
    .await
    .context("finding who holds health data")
}
