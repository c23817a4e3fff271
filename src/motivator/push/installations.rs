//! Which devices the hub holds, kept in step with `motivator.devices` before every push: each of a
//! user's newest [`MAX_DEVICES`] devices is an installation tagged `user:{id}`; a token that moved
//! to another account is re-tagged for it (so the old account's pushes no longer reach that
//! phone); a removed device, or one beyond the cap, is uninstalled. Nothing here ever deletes a
//! device row: what the hub says never touches device data.

use sha2::Digest as _;
use sqlx::PgPool;
use uuid::Uuid;

use super::hubs::{Installation, Outcome, PushSender, with_backoff};
use crate::motivator::store::PushPlatform;

/// The most devices of one user that receive pushes (the newest).
pub const MAX_DEVICES: usize = 10;

/// Why a push could not be done now.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("{0}")]
    Misconfigured(String),
    #[error("{0}")]
    Retry(String),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// The installation id of a device: a hash of its token (stable, and no token in any URL or log).
pub fn installation_id(token: &str) -> String {
    let digest = sha2::Sha256::digest(token.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("hs-{hex}")
}

#[derive(Debug)]
struct Installed {
    installation_id: String,
    platform: PushPlatform,
    token: Option<String>,
}

/// Turns a call's outcome into `Ok(true)` (done), `Ok(false)` (refused for good: logged, skipped)
/// or the error that stops this push.
fn settled(outcome: Outcome, what: &str) -> Result<bool, PushError> {
    match outcome {
        Outcome::Done => Ok(true),
        Outcome::Refused(why) => {
            tracing::warn!(reason = why, what, "Notification Hubs refused a request");
            Ok(false)
        }
        Outcome::Misconfigured(why) => Err(PushError::Misconfigured(why)),
        Outcome::Retry { why, .. } => Err(PushError::Retry(why)),
    }
}

async fn record(db: &PgPool, id: &str, user: Uuid, platform: PushPlatform, token: &str) -> anyhow::Result<()> {
    sqlx::query!(
        "INSERT INTO motivator.installations (installation_id, user_id, platform, token) VALUES ($1, $2, $3, $4) \
         ON CONFLICT ON CONSTRAINT installations_pkey DO UPDATE SET user_id = EXCLUDED.user_id, \
           platform = EXCLUDED.platform, token = EXCLUDED.token, installed_at = now(), erased_at = NULL",
        id,
        user,
        platform as PushPlatform,
        token,
    )
    .execute(db)
    .await
    .map(|_| ())
    .map_err(|e| anyhow::Error::new(e).context("recording an installation"))
}

async fn forget(db: &PgPool, id: &str) -> anyhow::Result<()> {
    sqlx::query!("DELETE FROM motivator.installations WHERE installation_id = $1", id)
        .execute(db)
        .await
        .map(|_| ())
        .map_err(|e| anyhow::Error::new(e).context("forgetting an installation"))
}

/// Brings the hub in step with `user`'s devices and returns the platforms the user can be
/// reached on.
pub async fn reconcile(db: &PgPool, hub: &dyn PushSender, user: Uuid) -> Result<Vec<PushPlatform>, PushError> {
    let devices = sqlx::query!(
        r#"SELECT token, platform AS "platform: PushPlatform" FROM motivator.devices WHERE user_id = $1
           ORDER BY updated_at DESC, created_at DESC"#,
        user,
    )
    .fetch_all(db)
    .await
    .map_err(|e| anyhow::Error::new(e).context("reading the user's devices"))?;
    let installed = sqlx::query_as!(
        Installed,
        r#"SELECT installation_id, platform AS "platform: PushPlatform", token FROM motivator.installations
           WHERE user_id = $1 AND erased_at IS NULL"#,
        user,
    )
    .fetch_all(db)
    .await
    .map_err(|e| anyhow::Error::new(e).context("reading the user's installations"))?;

    let mut platforms = Vec::new();
    let mut kept = Vec::new();
    for d in devices.iter().take(MAX_DEVICES) {
        let (token, platform) = (&d.token, d.platform);
        let id = installation_id(token);
        let current =
            installed.iter().any(|i| i.installation_id == id && i.platform == platform && i.token.as_ref() == Some(token));
        let reachable = current || {
            let inst = Installation { id: &id, platform, token, user };
            let done = settled(with_backoff(|| hub.install(&inst)).await, "installing a device")?;
            if done {
                record(db, &id, user, platform, token).await?;
            }
            done
        };
        if reachable && !platforms.contains(&platform) {
            platforms.push(platform);
        }
        kept.push(id);
    }
    for stale in installed.iter().filter(|i| !kept.contains(&i.installation_id)) {
        // Moved to another account, removed, or beyond the cap.
        let owner = match &stale.token {
            Some(token) => sqlx::query!(
                r#"SELECT user_id, platform AS "platform: PushPlatform" FROM motivator.devices WHERE token = $1"#,
                token.as_str(),
            )
            .fetch_optional(db)
            .await
            .map_err(|e| anyhow::Error::new(e).context("finding a device's owner"))?,
            None => None,
        };
        match (owner, &stale.token) {
            (Some(other), Some(token)) if other.user_id != user => {
                let inst =
                    Installation { id: &stale.installation_id, platform: other.platform, token, user: other.user_id };
                if settled(with_backoff(|| hub.install(&inst)).await, "moving an installation")? {
                    record(db, &stale.installation_id, other.user_id, other.platform, token).await?;
                }
            }
            _ => {
                if settled(with_backoff(|| hub.uninstall(&stale.installation_id)).await, "removing an installation")? {
                    forget(db, &stale.installation_id).await?;
                }
            }
        }
    }
    Ok(platforms)
}

/// Deletes from the hub the installations of an erased user (marked by the erasure), then their
/// rows.
pub async fn erase(db: &PgPool, hub: Option<&dyn PushSender>, user: Uuid) -> Result<usize, PushError> {
    let ids = sqlx::query_scalar!(
        "SELECT installation_id FROM motivator.installations WHERE user_id = $1 AND erased_at IS NOT NULL",
        user,
    )
    .fetch_all(db)
    .await
    .map_err(|e| anyhow::Error::new(e).context("reading an erased user's installations"))?;
    for id in &ids {
        if let Some(hub) = hub {
            settled(with_backoff(|| hub.uninstall(id)).await, "removing an erased user's installation")?;
        }
        forget(db, id).await?;
    }
    Ok(ids.len())
}
