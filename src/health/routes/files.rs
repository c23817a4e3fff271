//! Result sheets: PDF, JPEG or PNG (told by their structure, not their name, `health::sheets`),
//! at most 10 MB, kept under the user's blob prefix so erasure finds them. An upload streams to
//! Blob storage as it arrives (one block in memory, never the file), within the user's limits
//! (`store::uploads`, reserved before a byte is read). The blob is committed before the row and
//! deleted before the row: a storage failure is a 503 and leaves no row without its file.

use axum::{
    body::Body,
    extract::State,
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
    routing::get,
};
use futures::StreamExt as _;
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
        sheets::{self, SheetCheck},
        store::{
            files::{self, FileRow, NewFile},
            uploads::{self, Refusal},
        },
    },
    http::{
        ApiError, ApiPath, ApiQuery, ApiResult, Routes, Success,
        envelope::Envelope,
        text::{self, TextError},
    },
    platform::blob::{BlobName, BlobWriter},
    users::api::{self as users, ActiveUser},
};

/// The largest result sheet accepted.
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;
/// The longest file name kept, in characters.
pub const MAX_FILE_NAME: usize = 200;

pub fn routes() -> Routes<HealthState> {
    Routes::new()
        .route_streaming("/api/health/checkup/files", get(list_files).post(upload_file), MAX_FILE_BYTES)
        .route("/api/health/checkup/files/{fileId}", get(download_file).delete(delete_file))
}

fn storage_down(e: anyhow::Error) -> ApiError {
    ApiError::Unavailable { dependency: "blob", source: Some(Arc::new(e)) }
}

fn not_found() -> ApiError {
    ApiError::not_found("파일을 찾을 수 없습니다.")
}

fn not_a_sheet() -> ApiError {
    ApiError::field("file", "PDF, JPEG, PNG 파일만 올릴 수 있습니다. 파일이 손상되지 않았는지 확인해 주세요.")
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The name the user knows the file by (shown back, never used as a path): up to 200 visible
    /// characters, no path separators or `"*:<>?|`, not starting with a dot.
    #[param(max_length = 200, pattern = "@file-name")]
    pub file_name: Option<String>,
}

fn refusal(r: Refusal) -> ApiError {
    match r {
        Refusal::DailyCount { retry_after_secs } | Refusal::DailyBytes { retry_after_secs } => {
            ApiError::TooManyRequests { retry_after_secs }
        }
        Refusal::Held => ApiError::Conflict {
            code: "STORAGE_QUOTA_EXCEEDED",
            message: "결과지를 더 저장할 공간이 없습니다. 필요 없는 파일을 지운 뒤 다시 올려 주세요.".into(),
        },
    }
}

/// A writer for `name` with the parts held so far already written (aborted if one fails).
async fn open_with(
    blob: &dyn crate::platform::blob::BlobStore,
    name: &crate::platform::blob::BlobName,
    held: impl Iterator<Item = bytes::Bytes>,
) -> anyhow::Result<Box<dyn crate::platform::blob::BlobWriter>> {
    let mut w = blob.writer(name).await?;
    for part in held {
        if let Err(e) = w.write(part).await {
            w.abort().await;
            return Err(e);
        }
    }
    Ok(w)
}

/// What an upload read, and whether it ended well.
enum Streamed {
    Whole { check: SheetCheck, digest: Vec<u8>, name: BlobName, writer: Box<dyn BlobWriter> },
    /// The client's fault: nothing is stored; `read` bytes count for the day.
    Refused { error: ApiError, read: u64 },
    /// Storage failed: nothing is stored, the reservation goes back.
    StorageDown(anyhow::Error),
}

/// Streams the body into a blob writer (`{stem}.{extension of the kind}`), checking the sheet's
/// structure as it goes: a start that is no sheet is refused before the rest is read, and nothing
/// is committed here.
async fn stream(state: &HealthState, stem: &str, body: Body) -> Streamed {
    let named = |head: &[u8]| sheets::announced(head).map(|k| BlobName::parse(&format!("{stem}.{}", k.extension())));
    let mut check = SheetCheck::new();
    let mut hasher = Sha256::new();
    let mut writer: Option<Box<dyn BlobWriter>> = None;
    let mut pending: Vec<bytes::Bytes> = Vec::new();
    let mut data = body.into_data_stream();
    let abort = |writer: Option<Box<dyn BlobWriter>>| async move {
        if let Some(w) = writer {
            w.abort().await;
        }
    };
    loop {
        let chunk = match data.next().await {
            None => break,
            Some(Ok(chunk)) => chunk,
            Some(Err(e)) => {
                abort(writer).await;
                let too_large =
                    std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
                let error = if too_large {
                    ApiError::PayloadTooLarge
                } else {
                    ApiError::bad_request("BAD_BODY", "요청 본문을 읽을 수 없습니다.")
                };
                return Streamed::Refused { error, read: check.len() };
            }
        };
        check.feed(&chunk);
        hasher.update(&chunk);
        if check.len() > MAX_FILE_BYTES as u64 {
            abort(writer).await;
            return Streamed::Refused { error: ApiError::PayloadTooLarge, read: check.len() };
        }
        if writer.is_none() {
            // Hold the first bytes until they tell what the file is.
            pending.push(chunk);
            if check.head().len() < sheets::HEAD {
                continue;
            }
            let name = match named(check.head()) {
                None => return Streamed::Refused { error: not_a_sheet(), read: check.len() },
                Some(Err(e)) => return Streamed::StorageDown(e),
                Some(Ok(name)) => name,
            };
            match open_with(state.blob.as_ref(), &name, pending.drain(..)).await {
                Ok(w) => writer = Some(w),
                Err(e) => return Streamed::StorageDown(e),
            }
        } else if let Some(w) = writer.as_mut()
            && let Err(e) = w.write(chunk).await
        {
            abort(writer).await;
            return Streamed::StorageDown(e);
        }
    }
    if check.is_empty() {
        return Streamed::Refused { error: ApiError::field("file", "파일이 비어 있습니다."), read: 0 };
    }
    if check.verdict().is_none() {
        abort(writer).await;
        return Streamed::Refused { error: not_a_sheet(), read: check.len() };
    }
    let name = match named(check.head()) {
        Some(Ok(name)) => name,
        Some(Err(e)) => return Streamed::StorageDown(e),
        None => return Streamed::Refused { error: not_a_sheet(), read: check.len() },
    };
    let writer = match writer {
        Some(w) => w,
        // A whole sheet shorter than the head: write what was held.
        None => match open_with(state.blob.as_ref(), &name, pending.drain(..)).await {
            Ok(w) => w,
            Err(e) => return Streamed::StorageDown(e),
        },
    };
    Streamed::Whole { check, digest: hasher.finalize().to_vec(), name, writer }
}

/// Stores a result sheet (the request body is the file itself).
#[utoipa::path(post, path = "/api/health/checkup/files", operation_id = "uploadCheckupFile", tag = "health", security(("bearer" = [])),
    params(UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "PDF, JPEG or PNG, at most 10 MB, whole (PDF header to `%%EOF`, PNG `IHDR` to `IEND`, JPEG SOI to EOI)"),
    responses((status = 201, body = inline(Envelope<FileRow>)),
              (status = 403, description = "`CONSENT_REQUIRED`", body = crate::http::error::ErrorBody),
              (status = 409, description = "`STORAGE_QUOTA_EXCEEDED`: the user holds `HEALTH_FILE_MB_HELD` already; deleting a file makes room", body = crate::http::error::ErrorBody),
              (status = 413, body = crate::http::error::ErrorBody),
              (status = 422, description = "empty, not a whole PDF, JPEG or PNG, or a file name with hidden or path characters", body = crate::http::error::ErrorBody),
              (status = 429, description = "`HEALTH_FILES_PER_DAY` uploads or `HEALTH_FILE_MB_PER_DAY` MiB today; `Retry-After` says when the next Seoul day starts", body = crate::http::error::ErrorBody),
              (status = 503, description = "storage unavailable; nothing was stored", body = crate::http::error::ErrorBody)))]
pub async fn upload_file(
    State(state): State<HealthState>,
    ActiveUser(user): ActiveUser,
    ApiQuery(q): ApiQuery<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Success<FileRow>> {
    require_consent(&state, user.id).await?;
    let file_name = match q.file_name.as_deref().map(|n| text::file_name(n, MAX_FILE_NAME)) {
        None | Some(Err(TextError::Empty)) => None,
        Some(Ok(n)) => Some(n),
        Some(Err(TextError::TooLong)) => {
            return Err(ApiError::field("fileName", "파일 이름은 200자 이하로 보내 주세요."));
        }
        Some(Err(TextError::Forbidden)) => {
            return Err(ApiError::field("fileName", "파일 이름에 쓸 수 없는 문자가 있습니다."));
        }
    };
    // The limit middleware has refused a larger announced length; a body without one may take
    // up to the largest file.
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced == Some(0) {
        return Err(ApiError::field("file", "파일이 비어 있습니다."));
    }
    let reserve = announced.unwrap_or(MAX_FILE_BYTES as u64).min(MAX_FILE_BYTES as u64);
    let id = Uuid::now_v7();
    uploads::reserve(&state.db, user.id, id, reserve, state.own.uploads).await?.map_err(refusal)?;
    let stem = format!("{}health/checkup-files/{id}", users::blob_prefix(user.id));
    let (check, digest, name, writer) = match stream(&state, &stem, body).await {
        Streamed::Whole { check, digest, name, writer } => (check, digest, name, writer),
        Streamed::Refused { error, read } => {
            let mut conn = state.db.acquire().await.map_err(anyhow::Error::new)?;
            uploads::settle(&mut conn, id, read, false).await?;
            return Err(error);
        }
        Streamed::StorageDown(e) => {
            uploads::release(&state.db, id).await?;
            return Err(storage_down(e));
        }
    };
    let kind = check.verdict().ok_or_else(not_a_sheet)?;
    if let Err(e) = writer.commit(kind.content_type()).await {
        uploads::release(&state.db, id).await?;
        return Err(storage_down(e));
    }
    let new = NewFile {
        id,
        user: user.id,
        blob_name: name.as_str(),
        content_type: kind.content_type(),
        size: check.len() as i64,
        sha256: &digest,
        file_name: file_name.as_deref(),
    };
    match files::insert_settled(&state.db, &new).await {
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
    responses((status = 200, description = "the file's bytes, with its content type, `X-Content-Type-Options: nosniff` and `Content-Disposition: attachment` (the name as `filename*`, RFC 6266)", body = Vec<u8>, content_type = "application/octet-stream"),
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
    let disposition = content_disposition(row.file_name.as_deref(), id, &row.content_type);
    let mut res = data.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_str(&row.content_type).map_err(anyhow::Error::new)?);
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_str(&disposition).map_err(anyhow::Error::new)?);
    Ok(res)
}

/// `attachment` with an ASCII `filename` (letters, digits, `._-`; anything else `_`) and the
/// user's name as `filename*` in UTF-8, percent-encoded (RFC 6266 §4.3, RFC 8187): a browser
/// shows the real name and nothing in it can break out of the header or name a path.
pub fn content_disposition(file_name: Option<&str>, id: Uuid, content_type: &str) -> String {
    let ext = match content_type {
        "application/pdf" => "pdf",
        "image/png" => "png",
        _ => "jpg",
    };
    let name = file_name.map(str::to_string).unwrap_or_else(|| format!("{id}.{ext}"));
    let ascii: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' })
        .collect();
    const ATTR: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'!')
        .remove(b'#')
        .remove(b'$')
        .remove(b'&')
        .remove(b'+')
        .remove(b'-')
        .remove(b'.')
        .remove(b'^')
        .remove(b'_')
        .remove(b'`')
        .remove(b'|')
        .remove(b'~');
    let encoded = percent_encoding::utf8_percent_encode(&name, ATTR);
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
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
    use super::content_disposition;

    #[test]
    fn a_download_is_an_attachment_named_safely() {
        let id = uuid::Uuid::nil();
        assert_eq!(
            content_disposition(Some("결과지 2025.pdf"), id, "application/pdf"),
            "attachment; filename=\"____2025.pdf\"; filename*=UTF-8''%EA%B2%B0%EA%B3%BC%EC%A7%80%202025.pdf"
        );
        assert_eq!(
            content_disposition(None, id, "image/png"),
            format!("attachment; filename=\"{id}.png\"; filename*=UTF-8''{id}.png")
        );
        let quoted = content_disposition(Some("a\"; filename=evil.exe"), id, "image/jpeg");
        assert!(quoted.starts_with("attachment; filename=\"a___filename_evil.exe\"; filename*=UTF-8''a%22%3B%20"), "{quoted}");
    }
}
