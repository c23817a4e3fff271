//! Uploaded result sheets: a row per blob under the user's prefix.

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FileRow {
    pub id: Uuid,
    #[serde(skip)]
    pub blob_name: String,
    /// `application/pdf`, `image/jpeg` or `image/png` (from the file's own bytes).
    pub content_type: String,
    pub size_bytes: i64,
    /// Hex SHA-256 of the content.
    pub sha256: String,
    pub file_name: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A file's row as read: the digest as stored (bytes).
struct Row {
    id: Uuid,
    blob_name: String,
    content_type: String,
    size_bytes: i64,
    sha256: Vec<u8>,
    file_name: Option<String>,
    created_at: DateTime<Utc>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl From<Row> for FileRow {
    fn from(r: Row) -> Self {
        FileRow {
            id: r.id,
            blob_name: r.blob_name,
            content_type: r.content_type,
            size_bytes: r.size_bytes,
            sha256: hex(&r.sha256),
            file_name: r.file_name,
            created_at: r.created_at,
        }
    }
}

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
    let row = sqlx::query_as!(
        Row,
        "INSERT INTO health.checkup_files (id, user_id, blob_name, content_type, size_bytes, sha256, file_name) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         RETURNING id, blob_name, content_type, size_bytes, sha256, file_name, created_at",
        f.id,
        f.user,
        f.blob_name,
        f.content_type,
        f.size,
        f.sha256,
        f.file_name,
    )
    .fetch_one(conn)
    .await
    .context("recording an uploaded file")?;
    Ok(row.into())
}

pub async fn list(pool: &PgPool, user: Uuid) -> anyhow::Result<Vec<FileRow>> {
    let rows = sqlx::query_as!(
        Row,
        "SELECT id, blob_name, content_type, size_bytes, sha256, file_name, created_at \
         FROM health.checkup_files WHERE user_id = $1 ORDER BY created_at DESC",
        user,
    )
    .fetch_all(pool)
    .await
    .context("listing uploaded files")?;
    Ok(rows.into_iter().map(FileRow::from).collect())
}

pub async fn get(pool: &PgPool, user: Uuid, id: Uuid) -> anyhow::Result<Option<FileRow>> {
    let row = sqlx::query_as!(
        Row,
        "SELECT id, blob_name, content_type, size_bytes, sha256, file_name, created_at \
         FROM health.checkup_files WHERE user_id = $1 AND id = $2",
        user,
        id,
    )
    .fetch_optional(pool)
    .await
    .context("reading an uploaded file")?;
    Ok(row.map(FileRow::from))
}

pub async fn delete(pool: &PgPool, user: Uuid, id: Uuid) -> anyhow::Result<bool> {
    let done = sqlx::query!("DELETE FROM health.checkup_files WHERE user_id = $1 AND id = $2", user, id)
        .execute(pool)
        .await
        .context("deleting an uploaded file")?;
    Ok(done.rows_affected() == 1)
}
