//! Result sheets: PDF, JPEG or PNG (told by their bytes, not their name), at most 10 MB, kept
//! under the user's blob prefix so erasure finds them. The blob is written before the row and
//! deleted before the row: a storage failure is a 503 and leaves no row without its file.

use axum::{
    body::Bytes,
    extract::State,
    http::header,
    response::{IntoResponse, Response},
    routing::get,
};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use utoipa::IntoParams;
use uuid::Uuid;

use super::require_consent;
use crate::{
    health::{
        HealthState,
        store::files::{self, FileRow, NewFile},
    },
    http::{ApiError, ApiPath, ApiQuery, ApiResult, Routes, Success, envelope::Envelope},
    platform::blob::BlobName,
    users::{self, ActiveUser},
};

/// The largest result sheet accepted.
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;

pub fn routes() -> Routes<HealthState> {
    Routes::new()
        .route_with_body_limit("/api/health/checkup/files", get(list_files).post(upload_file), MAX_FILE_BYTES)
        .route("/api/health/checkup/files/{fileId}", get(download_file).delete(delete_file))
}

/// The content type and extension the bytes say, if one we accept.
pub fn sniff(data: &[u8]) -> Option<(&'static str, &'static str)> {
    if data.starts_with(b"%PDF-") {
        Some(("application/pdf", "pdf"))
    } else if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(("image/jpeg", "jpg"))
    } else if data.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some(("image/png", "png"))
    } else {
        None
    }
}

fn storage_down(e: anyhow::Error) -> ApiError {
    ApiError::Unavailable { dependency: "blob", source: Some(Arc::new(e)) }
}

fn not_found() -> ApiError {
    ApiError::not_found("파일을 찾을 수 없습니다.")
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The name the user knows the file by (shown back, never used as a path).
    pub file_name: Option<String>,
}

/// Stores a result sheet (the request body is the file itself).
#[utoipa::path(post, path = "/api/health/checkup/files", operation_id = "uploadCheckupFile", tag = "health", security(("bearer" = [])),
    params(UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "PDF, JPEG or PNG, at most 10 MB"),
    responses((status = 201, body = inline(Envelope<FileRow>)),
              (status = 403, description = "`CONSENT_REQUIRED`", body = crate::http::error::ErrorBody),
              (status = 413, body = crate::http::error::ErrorBody),
              (status = 422, description = "empty, or not a PDF, JPEG or PNG", body = crate::http::error::ErrorBody),
              (status = 503, description = "storage unavailable; nothing was stored", body = crate::http::error::ErrorBody)))]
pub async fn upload_file(
    State(state): State<HealthState>,
    ActiveUser(user): ActiveUser,
    ApiQuery(q): ApiQuery<UploadQuery>,
    body: Bytes,
) -> ApiResult<Success<FileRow>> {
    require_consent(&state, user.id).await?;
    if body.is_empty() {
        return Err(ApiError::field("file", "파일이 비어 있습니다."));
    }
    if body.len() > MAX_FILE_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    let (content_type, ext) =
        sniff(&body).ok_or_else(|| ApiError::field("file", "PDF, JPEG, PNG 파일만 올릴 수 있습니다."))?;
    let file_name: Option<String> = q
        .file_name
        .map(|n| n.chars().filter(|c| !c.is_control()).take(200).collect::<String>())
        .filter(|n| !n.trim().is_empty());
    let id = Uuid::now_v7();
    let blob = format!("{}health/checkup-files/{id}.{ext}", users::blob_prefix(user.id));
    let name = BlobName::parse(&blob)?;
    let digest = Sha256::digest(&body);
    let size = body.len() as i64;
    state.blob.put(&name, body, content_type).await.map_err(storage_down)?;
    let new = NewFile {
        id,
        user: user.id,
        blob_name: &blob,
        content_type,
        size,
        sha256: &digest,
        file_name: file_name.as_deref(),
    };
    match files::insert(&state.db, &new).await {
        Ok(row) => Ok(Success::created(row).message("결과지를 저장했습니다.")),
        Err(e) => {
            // No row: the blob must not stay behind either.
            if let Err(del) = state.blob.delete(&name).await {
                tracing::warn!(error = format!("{del:#}"), "removing an orphaned upload failed");
            }
            Err(e.into())
        }
    }
}

/// The caller's result sheets, newest first.
#[utoipa::path(get, path = "/api/health/checkup/files", operation_id = "listCheckupFiles", tag = "health", security(("bearer" = [])),
    responses((status = 200, body = inline(Envelope<Vec<FileRow>>)), (status = 403, description = "`CONSENT_REQUIRED`: no health-data consent in force (withdrawn or never given)", body = crate::http::error::ErrorBody)))]
pub async fn list_files(State(state): State<HealthState>, ActiveUser(user): ActiveUser) -> ApiResult<Success<Vec<FileRow>>> {
    super::require_processing(&state, user.id).await?;
    Ok(Success::new(files::list(&state.db, user.id).await?))
}

/// Downloads one of the caller's result sheets (its own content type); another user's is 404.
#[utoipa::path(get, path = "/api/health/checkup/files/{fileId}", operation_id = "downloadCheckupFile", tag = "health", security(("bearer" = [])),
    params(("fileId" = Uuid, Path, description = "file id")),
    responses((status = 200, description = "the file's bytes, with its content type", body = Vec<u8>, content_type = "application/octet-stream"),
              (status = 403, description = "`CONSENT_REQUIRED`: no health-data consent in force (withdrawn or never given)", body = crate::http::error::ErrorBody),
              (status = 404, body = crate::http::error::ErrorBody),
              (status = 503, body = crate::http::error::ErrorBody)))]
pub async fn download_file(
    State(state): State<HealthState>,
    ActiveUser(user): ActiveUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Response> {
    super::require_processing(&state, user.id).await?;
    let row = files::get(&state.db, user.id, id).await?.ok_or_else(not_found)?;
    let data = state.blob.get(&BlobName::parse(&row.blob_name)?).await.map_err(storage_down)?.ok_or_else(not_found)?;
    Ok((
        [
            (header::CONTENT_TYPE, row.content_type),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{id}\"")),
        ],
        data,
    )
        .into_response())
}

/// Deletes one of the caller's result sheets, file and record.
#[utoipa::path(delete, path = "/api/health/checkup/files/{fileId}", operation_id = "deleteCheckupFile", tag = "health", security(("bearer" = [])),
    params(("fileId" = Uuid, Path, description = "file id")),
    responses((status = 200, body = inline(Envelope<Value>)), (status = 404, body = crate::http::error::ErrorBody),
              (status = 503, description = "storage unavailable; nothing was deleted", body = crate::http::error::ErrorBody)))]
pub async fn delete_file(
    State(state): State<HealthState>,
    ActiveUser(user): ActiveUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Success<Value>> {
    let row = files::get(&state.db, user.id, id).await?.ok_or_else(not_found)?;
    state.blob.delete(&BlobName::parse(&row.blob_name)?).await.map_err(storage_down)?;
    files::delete(&state.db, user.id, id).await?;
    Ok(Success::new(serde_json::json!({ "deleted": true })).message("결과지를 삭제했습니다."))
}

#[cfg(test)]
mod tests {
    use super::sniff;

    #[test]
    fn files_are_told_by_their_bytes() {
        assert_eq!(sniff(b"%PDF-1.7\n...").map(|t| t.0), Some("application/pdf"));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0]).map(|t| t.0), Some("image/jpeg"));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n....").map(|t| t.0), Some("image/png"));
        for bad in [&b"GIF89a"[..], b"%PD", b"<html>", b"PK\x03\x04", b""] {
            assert_eq!(sniff(bad), None);
        }
    }
}
