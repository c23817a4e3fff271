//! Blob storage for checkup files and exports: Azure Blob (through the official SDK) when
//! `BLOB_CONTAINER_URL` is set, a folder on disk otherwise.

mod azure;
mod folder;

use async_trait::async_trait;
use bytes::Bytes;

pub use azure::AzureBlobStore;
pub use folder::FolderBlobStore;

#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Writes (or replaces) a blob.
    async fn put(&self, name: &BlobName, data: Bytes, content_type: &str) -> anyhow::Result<()>;
    /// Starts a blob written part by part (an upload streamed as it arrives): nothing is visible
    /// under `name` until [`BlobWriter::commit`]; a writer dropped or aborted leaves nothing.
    async fn writer(&self, name: &BlobName) -> anyhow::Result<Box<dyn BlobWriter>>;
    /// `None` when there is no such blob.
    async fn get(&self, name: &BlobName) -> anyhow::Result<Option<Bytes>>;
    /// `false` when there was nothing to delete.
    async fn delete(&self, name: &BlobName) -> anyhow::Result<bool>;
    /// Names under a prefix (`users/{id}/`), sorted.
    async fn list(&self, prefix: &str) -> anyhow::Result<Vec<String>>;
    /// For readiness checks.
    async fn ping(&self) -> anyhow::Result<()>;
    fn kind(&self) -> &'static str;
}

/// A blob being written. At most one block is held in memory, whatever the blob's size.
#[async_trait]
pub trait BlobWriter: Send {
    async fn write(&mut self, chunk: Bytes) -> anyhow::Result<()>;
    /// Makes the blob visible, whole, with its content type.
    async fn commit(self: Box<Self>, content_type: &str) -> anyhow::Result<()>;
    /// Drops what was written (best effort: a failure leaves only unreachable parts).
    async fn abort(self: Box<Self>);
}

/// Deletes every blob under a prefix and returns how many went.
pub async fn delete_prefix(store: &dyn BlobStore, prefix: &str) -> anyhow::Result<usize> {
    let mut deleted = 0;
    for name in store.list(prefix).await? {
        if store.delete(&BlobName::parse(&name)?).await? {
            deleted += 1;
        }
    }
    Ok(deleted)
}

/// A blob name that is safe both as a URL path and as a relative file path: segments of
/// `[A-Za-z0-9._-]`, separated by `/`, no empty, `.` or `..` segment, at most 512 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobName(String);

impl BlobName {
    pub fn parse(raw: &str) -> anyhow::Result<Self> {
        let ok = !raw.is_empty()
            && raw.len() <= 512
            && raw.split('/').all(|seg| {
                !seg.is_empty()
                    && seg != "."
                    && seg != ".."
                    && seg.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
            });
        anyhow::ensure!(ok, "invalid blob name");
        Ok(Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::BlobName;

    #[test]
    fn blob_names_cannot_escape_their_container() {
        for bad in ["", "/abs", "a//b", "../x", "a/../b", "a/./b", "sp ace", "a\\b", "x/"] {
            assert!(BlobName::parse(bad).is_err(), "{bad:?}");
        }
        for good in ["a", "users/123/checkup-2024.pdf", "a.b_c-d/e"] {
            assert!(BlobName::parse(good).is_ok(), "{good:?}");
        }
    }
}
