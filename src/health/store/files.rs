//! Uploaded result sheets: a row per blob under the user's prefix.

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct FileRow {
    pub id: Uuid,
    #[serde(skip)]
    pub blob_name: String,
    /// `application/pdf`, `image/jpeg` or `image/png` (from the file's own bytes).
    pub content_type: String,
    pub size_bytes: i64,
    /// Hex SHA-256 of the content.
    #[sqlx(skip)]
    pub sha256: String,
    pub file_name: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    #[sqlx(flatten)]
    file: FileRow,
    digest: Vec<u8>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl From<Row> for FileRow {
    fn from(r: Row) -> Self {
        FileRow { sha256: hex(&r.digest), ..r.file }
    }
}

const COLUMNS: &str = "id, blob_name, content_type, size_bytes, sha256 AS digest, file_name, created_at";

pub struct NewFile<'a> {
    pub id: Uuid,
    pub user: Uuid,
    pub blob_name: &'a str,
    pub content_type: &'a str,
    pub size: i64,
    pub sha256: &'a [u8],
    pub file_name: Option<&'a str>,
}

/// Records an uploaded file and settles its upload reservation as STORED, together.
pub async fn insert_settled(pool: &PgPool, f: &NewFile<'_>) -> anyhow::Result<FileRow> {
    let mut tx = pool.begin().await.context("starting to record an upload")?;
    let row = insert(&mut tx, f).await?;
    super::uploads::settle(&mut tx, f.id, f.size as u64, true).await?;
    tx.commit().await.context("committing an upload")?;
    Ok(row)
}

pub async fn insert(conn: &mut sqlx::PgConnection, f: &NewFile<'_>) -> anyhow::Result<FileRow> {
    let row: Row = sqlx::query_as(&format!(
        "INSERT INTO health.checkup_files (id, user_id, blob_name, content_type, size_bytes, sha256, file_name) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
    ))
    .bind(f.id)
    .bind(f.user)
    .bind(f.blob_name)
    .bind(f.content_type)
    .bind(f.size)
    .bind(f.sha256)
    .bind(f.file_name)
    .fetch_one(conn)
    .await
    .context("recording an uploaded file")?;
    Ok(row.into())
}

pub async fn list(pool: &PgPool, user: Uuid) -> anyhow::Result<Vec<FileRow>> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM health.checkup_files WHERE user_id = $1 ORDER BY created_at DESC"
    ))
    .bind(user)
    .fetch_all(pool)
    .await
    .context("listing uploaded files")?;
    Ok(rows.into_iter().map(FileRow::from).collect())
}

pub async fn get(pool: &PgPool, user: Uuid, id: Uuid) -> anyhow::Result<Option<FileRow>> {
    let row: Option<Row> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM health.checkup_files WHERE user_id = $1 AND id = $2"))
            .bind(user)
            .bind(id)
            .fetch_optional(pool)
            .await
            .context("reading an uploaded file")?;
    Ok(row.map(FileRow::from))
}

pub async fn delete(pool: &PgPool, user: Uuid, id: Uuid) -> anyhow::Result<bool> {
    let done = sqlx::query("DELETE FROM health.checkup_files WHERE user_id = $1 AND id = $2")
        .bind(user)
        .bind(id)
        .execute(pool)
        .await
        .context("deleting an uploaded file")?;
    Ok(done.rows_affected() == 1)
}
