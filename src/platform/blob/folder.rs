//! The local stand-in: one file per blob under a root folder.

use std::path::{Path, PathBuf};

use anyhow::Context;
use async_trait::async_trait;
use bytes::Bytes;

use tokio::io::AsyncWriteExt;

use super::{BlobName, BlobStore, BlobWriter};

pub struct FolderBlobStore {
    root: PathBuf,
}

impl FolderBlobStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn path(&self, name: &BlobName) -> PathBuf {
        self.root.join(name.as_str())
    }
}

fn not_found(err: &std::io::Error) -> bool {
    err.kind() == std::io::ErrorKind::NotFound
}

#[async_trait]
impl BlobStore for FolderBlobStore {
    async fn put(&self, name: &BlobName, data: Bytes, _content_type: &str) -> anyhow::Result<()> {
        let path = self.path(name);
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await.context("creating the blob folder")?;
        }
        // Write then rename, so a reader never sees half a blob.
        let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
        tokio::fs::write(&tmp, &data).await.context("writing a blob file")?;
        tokio::fs::rename(&tmp, &path).await.context("moving a blob file into place")?;
        Ok(())
    }

    async fn writer(&self, name: &BlobName) -> anyhow::Result<Box<dyn BlobWriter>> {
        let path = self.path(name);
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await.context("creating the blob folder")?;
        }
        let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
        let file = tokio::fs::File::create(&tmp).await.context("creating a blob file")?;
        Ok(Box::new(FolderWriter { file: Some(file), tmp, path }))
    }

    async fn get(&self, name: &BlobName) -> anyhow::Result<Option<Bytes>> {
        match tokio::fs::read(self.path(name)).await {
            Ok(data) => Ok(Some(Bytes::from(data))),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(e).context("reading a blob file"),
        }
    }

    async fn delete(&self, name: &BlobName) -> anyhow::Result<bool> {
        match tokio::fs::remove_file(self.path(name)).await {
            Ok(()) => Ok(true),
            Err(e) if not_found(&e) => Ok(false),
            Err(e) => Err(e).context("deleting a blob file"),
        }
    }

    async fn list(&self, prefix: &str) -> anyhow::Result<Vec<String>> {
        let root = self.root.clone();
        let prefix = prefix.to_string();
        tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            walk(&root, &root, &mut out)?;
            out.retain(|n| n.starts_with(&prefix) && !n.contains(".tmp-"));
            out.sort();
            Ok(out)
        })
        .await
        .context("listing blobs")?
    }

    async fn ping(&self) -> anyhow::Result<()> {
        tokio::fs::create_dir_all(&self.root).await.context("creating the blob root folder")
    }

    fn kind(&self) -> &'static str {
        "folder"
    }
}

/// Writes to a temporary file beside the blob and renames it into place on commit.
struct FolderWriter {
    file: Option<tokio::fs::File>,
    tmp: PathBuf,
    path: PathBuf,
}

#[async_trait]
impl BlobWriter for FolderWriter {
    async fn write(&mut self, chunk: Bytes) -> anyhow::Result<()> {
        let file = self.file.as_mut().context("writing to a closed blob file")?;
        file.write_all(&chunk).await.context("writing a blob file")
    }

    async fn commit(mut self: Box<Self>, _content_type: &str) -> anyhow::Result<()> {
        let mut file = self.file.take().context("committing a closed blob file")?;
        file.flush().await.context("flushing a blob file")?;
        drop(file);
        tokio::fs::rename(&self.tmp, &self.path).await.context("moving a blob file into place")
    }

    async fn abort(mut self: Box<Self>) {
        self.file.take();
        let _ = tokio::fs::remove_file(&self.tmp).await;
    }
}

impl Drop for FolderWriter {
    fn drop(&mut self) {
        // Neither committed nor aborted (the request was dropped): leave no temporary file.
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> anyhow::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if not_found(&e) => return Ok(()),
        Err(e) => return Err(e).context("reading a blob folder"),
    };
    for entry in entries {
        let path = entry.context("reading a blob folder entry")?.path();
        if path.is_dir() {
            walk(root, &path, out)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(())
}
