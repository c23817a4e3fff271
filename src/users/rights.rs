//! Data rights (개인정보보호법 §35, §35-2, §36): export everything held about a user, and erase it
//! unrecoverably. Each domain contributes a `DataPart`; later domains add theirs to `parts()`.

use anyhow::Context;
use futures::future::BoxFuture;
use serde_json::{Map, Value, json};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{
    app::AppState,
    platform::{
        blob,
        bus::{self, NewEvent},
        cache,
    },
};

pub type ExportFn = for<'a> fn(&'a PgPool, Uuid) -> BoxFuture<'a, anyhow::Result<Value>>;
pub type EraseFn = for<'a> fn(&'a mut PgConnection, Uuid) -> BoxFuture<'a, anyhow::Result<()>>;

/// One domain's share of a user's data.
pub struct DataPart {
    pub name: &'static str,
    pub export: ExportFn,
    /// Runs inside the erasure transaction.
    pub erase: EraseFn,
}

/// Every domain's part. Erased in reverse order, so the account itself goes last.
pub fn parts() -> Vec<DataPart> {
    vec![DataPart {
        name: "users",
        export: |pool, id| Box::pin(super::store::export(pool, id)),
        erase: |conn, id| Box::pin(super::store::erase(conn, id)),
    }]
}

/// Where a user's blobs live.
pub fn blob_prefix(user: Uuid) -> String {
    format!("users/{user}/")
}

pub async fn export(state: &AppState, user: Uuid) -> anyhow::Result<Value> {
    let mut data = Map::new();
    for part in parts() {
        data.insert(part.name.to_string(), (part.export)(&state.db, user).await.with_context(|| part.name)?);
    }
    let files = state.blob.list(&blob_prefix(user)).await.context("listing the user's files")?;
    Ok(json!({
        "exportedAt": chrono::Utc::now(),
        "userId": user,
        "data": data,
        "files": files,
    }))
}

/// Erases the user in every schema and announces `user.deleted`, in one transaction; then
/// deletes the user's blobs (the `UserFilesEraser` consumer of `user.deleted` finishes the job
/// if that fails).
pub async fn erase(state: &AppState, user: Uuid) -> anyhow::Result<()> {
    let mut tx = state.db.begin().await.context("starting the erasure")?;
    for part in parts().iter().rev() {
        (part.erase)(&mut tx, user).await.with_context(|| format!("erasing {}", part.name))?;
    }
    // Events and dead letters that name the user go too: nobody needs news of an account that
    // no longer exists, except `user.deleted` itself.
    bus::forget_user(&mut tx, user).await?;
    bus::publish(&mut tx, NewEvent::new("user.deleted", json!({ "userId": user }))).await?;
    tx.commit().await.context("committing the erasure")?;
    cache::invalidate(state.cache.as_ref(), &super::extract::status_cache_key(user)).await;
    if let Err(err) = erase_files(state, user).await {
        tracing::warn!(error = format!("{err:#}"), "erasing files failed; the user.deleted consumer retries");
    }
    Ok(())
}

pub async fn erase_files(state: &AppState, user: Uuid) -> anyhow::Result<usize> {
    blob::delete_prefix(state.blob.as_ref(), &blob_prefix(user)).await
}
