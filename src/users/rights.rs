//! Data rights (개인정보보호법 §35, §35-2, §36): export everything held about a user, and erase it
//! unrecoverably. Every domain contributes its `DataPart` through the domain seam; this module
//! runs them all.

use anyhow::Context;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::events::UserDeleted;
use crate::{
    domain::Platform,
    platform::{
        blob,
        bus::{self, NewEvent},
        cache,
    },
};

/// Where a user's blobs live.
pub fn blob_prefix(user: Uuid) -> String {
    format!("users/{user}/")
}

pub async fn export(platform: &Platform, user: Uuid) -> anyhow::Result<Value> {
    let mut data = Map::new();
    for part in platform.data_parts.iter() {
        let value = (part.export)(platform, user).await.with_context(|| format!("exporting {}", part.name))?;
        data.insert(part.name.to_string(), value);
    }
    let files = platform.blob.list(&blob_prefix(user)).await.context("listing the user's files")?;
    Ok(json!({
        "exportedAt": platform.clock.now(),
        "userId": user,
        "data": data,
        "files": files,
    }))
}

/// Erases the user in every domain and announces `user.deleted`, in one transaction; then drops
/// the cached copies and deletes the user's blobs (the `UserFilesEraser` consumer of
/// `user.deleted` finishes the job if that fails). Erased in reverse domain order, so the
/// account itself goes last. `false` when the account was already gone: of concurrent erasures
/// one wins (the account row is locked first), the others find nothing and announce nothing.
pub async fn erase(platform: &Platform, user: Uuid) -> anyhow::Result<bool> {
    let mut tx = platform.db.begin().await.context("starting the erasure")?;
    let exists = sqlx::query_scalar!("SELECT id FROM users.users WHERE id = $1 FOR UPDATE", user)
        .fetch_optional(&mut *tx)
        .await
        .context("locking the account")?;
    if exists.is_none() {
        tx.rollback().await.context("ending the erasure")?;
        return Ok(false);
    }
    for part in platform.data_parts.iter().rev() {
        (part.erase)(&mut tx, user).await.with_context(|| format!("erasing {}", part.name))?;
    }
    // Events and dead letters that name the user go too: nobody needs news of an account that
    // no longer exists, except `user.deleted` itself.
    bus::forget_user(&mut tx, user).await?;
    bus::publish(&mut tx, NewEvent::of(&UserDeleted { user_id: user })?).await?;
    tx.commit().await.context("committing the erasure")?;
    for part in platform.data_parts.iter() {
        for key in (part.cache_keys)(user) {
            cache::invalidate(platform.cache.as_ref(), &key).await;
        }
    }
    if let Err(err) = erase_files(platform, user).await {
        tracing::warn!(error = format!("{err:#}"), "erasing files failed; the user.deleted consumer retries");
    }
    Ok(true)
}

pub async fn erase_files(platform: &Platform, user: Uuid) -> anyhow::Result<usize> {
    blob::delete_prefix(platform.blob.as_ref(), &blob_prefix(user)).await
}
