//! Azure Blob Storage through the official SDK (`azure_storage_blob`).
//!
//! In Azure the container URL is https and the app's managed identity authenticates (no account
//! key anywhere). Against Azurite the URL carries an account SAS and no credential is used.

use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use azure_core::{
    credentials::TokenCredential,
    http::{RequestContent, StatusCode, Url},
};
use azure_storage_blob::{
    BlobContainerClient, BlockBlobClient,
    models::{
        BlobClientUploadOptions, BlobContainerClientListBlobsOptions, BlockBlobClientCommitBlockListOptions,
        BlockLookupList,
    },
};
use bytes::Bytes;
use futures::TryStreamExt;

use super::{BlobName, BlobStore, BlobWriter};

/// The size of a staged block: what an upload holds in memory at most.
const BLOCK_BYTES: usize = 1024 * 1024;

pub struct AzureBlobStore {
    container: BlobContainerClient,
}

fn is_not_found(e: &azure_core::Error) -> bool {
    e.http_status() == Some(StatusCode::NotFound)
}

/// SDK errors print their status and code with `Display`; `Debug` would dump a backtrace.
fn sdk(e: azure_core::Error, what: &'static str) -> anyhow::Error {
    anyhow::anyhow!("{e}").context(what)
}

impl AzureBlobStore {
    /// `client_id`: the user-assigned managed identity to use (`AZURE_CLIENT_ID`); ignored with a SAS.
    pub fn new(container_url: &url::Url, client_id: Option<&str>) -> anyhow::Result<Self> {
        let has_sas = crate::config::has_sas(container_url);
        let url = Url::parse(container_url.as_str()).context("parsing BLOB_CONTAINER_URL")?;
        let credential: Option<Arc<dyn TokenCredential>> = if has_sas {
            None
        } else {
            Some(
                azure_identity::ManagedIdentityCredential::new(Some(
                    azure_identity::ManagedIdentityCredentialOptions {
                        user_assigned_id: client_id
                            .map(|id| azure_identity::UserAssignedId::ClientId(id.to_string())),
                        ..Default::default()
                    },
                ))
                .map_err(|e| sdk(e, "creating the managed identity credential"))?,
            )
        };
        let container = BlobContainerClient::new(url, credential, None)
            .map_err(|e| sdk(e, "creating the blob container client"))?;
        Ok(Self { container })
    }

    /// Creates the container if it does not exist (local set-up; in Azure the Bicep creates it).
    pub async fn ensure_container(&self) -> anyhow::Result<()> {
        match self.container.create(None).await {
            Ok(_) => Ok(()),
            Err(e) if e.http_status() == Some(StatusCode::Conflict) => Ok(()),
            Err(e) => Err(sdk(e, "creating the blob container")),
        }
    }
}

#[async_trait]
impl BlobStore for AzureBlobStore {
    async fn put(&self, name: &BlobName, data: Bytes, content_type: &str) -> anyhow::Result<()> {
        let options = BlobClientUploadOptions {
            blob_content_type: Some(content_type.to_string()),
            ..Default::default()
        };
        self.container
            .blob_client(name.as_str())
            .upload(RequestContent::from(data.to_vec()), Some(options))
            .await
            .map_err(|e| sdk(e, "uploading a blob"))?;
        Ok(())
    }

    async fn writer(&self, name: &BlobName) -> anyhow::Result<Box<dyn BlobWriter>> {
        Ok(Box::new(AzureWriter {
            client: self.container.blob_client(name.as_str()).block_blob_client(),
            buffer: Vec::new(),
            blocks: Vec::new(),
        }))
    }

    async fn get(&self, name: &BlobName) -> anyhow::Result<Option<Bytes>> {
        match self.container.blob_client(name.as_str()).download(None).await {
            Ok(res) => {
                let body = res.body.collect().await.map_err(|e| sdk(e, "reading a blob"))?;
                Ok(Some(Bytes::from(body.to_vec())))
            }
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(sdk(e, "downloading a blob")),
        }
    }

    async fn delete(&self, name: &BlobName) -> anyhow::Result<bool> {
        match self.container.blob_client(name.as_str()).delete(None).await {
            Ok(_) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(sdk(e, "deleting a blob")),
        }
    }

    async fn list(&self, prefix: &str) -> anyhow::Result<Vec<String>> {
        let options = BlobContainerClientListBlobsOptions {
            prefix: (!prefix.is_empty()).then(|| prefix.to_string()),
            ..Default::default()
        };
        let mut pager = self.container.list_blobs(Some(options)).map_err(|e| sdk(e, "listing blobs"))?;
        let mut names = Vec::new();
        while let Some(item) = pager.try_next().await.map_err(|e| sdk(e, "listing blobs"))? {
            names.extend(item.name);
        }
        names.sort();
        Ok(names)
    }

    async fn ping(&self) -> anyhow::Result<()> {
        let exists = self.container.exists().await.map_err(|e| sdk(e, "checking the blob container"))?;
        anyhow::ensure!(exists, "the blob container does not exist");
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "azure"
    }
}

/// Stages blocks of [`BLOCK_BYTES`] as the data arrives (Put Block) and commits their list at the
/// end (Put Block List): the blob appears whole or not at all. Blocks never committed are
/// discarded by the service after a week ("Put Block", Azure Storage REST API reference), so an
/// abort has nothing to delete.
struct AzureWriter {
    client: BlockBlobClient,
    buffer: Vec<u8>,
    blocks: Vec<Vec<u8>>,
}

impl AzureWriter {
    async fn stage(&mut self) -> anyhow::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        // Every block id of a blob has the same length: a UUID's 16 bytes.
        let id = uuid::Uuid::new_v4().as_bytes().to_vec();
        let data = Bytes::from(std::mem::take(&mut self.buffer));
        let len = data.len() as u64;
        self.client
            .stage_block(&id, len, data.into(), None)
            .await
            .map_err(|e| sdk(e, "staging a blob block"))?;
        self.blocks.push(id);
        Ok(())
    }
}

#[async_trait]
impl BlobWriter for AzureWriter {
    async fn write(&mut self, mut chunk: Bytes) -> anyhow::Result<()> {
        while !chunk.is_empty() {
            let room = BLOCK_BYTES - self.buffer.len();
            let part = chunk.split_to(room.min(chunk.len()));
            self.buffer.extend_from_slice(&part);
            if self.buffer.len() == BLOCK_BYTES {
                self.stage().await?;
            }
        }
        Ok(())
    }

    async fn commit(mut self: Box<Self>, content_type: &str) -> anyhow::Result<()> {
        self.stage().await?;
        let list = BlockLookupList { latest: Some(std::mem::take(&mut self.blocks)), ..Default::default() };
        let options = BlockBlobClientCommitBlockListOptions {
            blob_content_type: Some(content_type.to_string()),
            ..Default::default()
        };
        self.client
            .commit_block_list(list.try_into().map_err(|e| sdk(e, "writing a block list"))?, Some(options))
            .await
            .map_err(|e| sdk(e, "committing a blob"))?;
        Ok(())
    }

    async fn abort(self: Box<Self>) {}
}
