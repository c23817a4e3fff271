//! The user domain's Rust API, all the other domains may name of it (tests/app/architecture.rs):
//! the caller of a protected route (`AuthUser`, `ActiveUser`, and the `Verifier` the composition
//! root hands every domain), consents, the profile fields the health rules need, where a user's
//! files live, and the events.

use uuid::Uuid;

pub use super::extract::{ActiveUser, AuthUser, Verifier};
pub use super::model::{ConsentKind, Sex, UserStatus, age_on, parse_birth_date, parse_name};
use super::{rights, store};

/// The user domain's events, for other domains' consumers.
pub mod events {
    pub use super::super::events::*;
}
use crate::domain::Platform;

/// The profile fields other domains read (the health rules judge by sex and age).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Person {
    pub name: Option<String>,
    pub birth_date: Option<chrono::NaiveDate>,
    pub sex: Option<Sex>,
    pub occupation: Option<String>,
}

/// The profile of `user`, or `None` when there is no such account.
pub async fn person(db: &sqlx::PgPool, user: Uuid) -> anyhow::Result<Option<Person>> {
    Ok(store::get(db, user).await?.map(|u| Person {
        sex: u.sex,
        name: u.name,
        birth_date: u.birth_date,
        occupation: u.occupation,
    }))
}

/// For other domains: whether `user` has granted `kind` in its current version (read now, from
/// the database: what a write checks).
pub async fn has_consent(db: &sqlx::PgPool, user: uuid::Uuid, kind: ConsentKind) -> anyhow::Result<bool> {
    store::has_consent(db, user, kind).await
}

/// For other domains' retention sweeps: users whose answer in force for `kind` is a withdrawal
/// older than `cutoff`, a page at a time: `(record id, user)` after record id `after` (start at 0).
pub async fn withdrawn_before(
    db: &sqlx::PgPool,
    kind: ConsentKind,
    cutoff: chrono::DateTime<chrono::Utc>,
    after: i64,
    limit: i64,
) -> anyhow::Result<Vec<(i64, uuid::Uuid)>> {
    store::withdrawn_before(db, kind, cutoff, after, limit).await
}

/// Whether `kind` is in force for `user`, for reads on every request: kept in the cache for
/// [`CONSENT_TTL`] and dropped the moment the user answers (`PUT /api/users/me/consents`), so a
/// withdrawal takes effect on the next request on every instance.
pub async fn consent_in_force(platform: &Platform, user: uuid::Uuid, kind: ConsentKind) -> anyhow::Result<bool> {
    let key = consent_cache_key(user, kind);
    if let Some(granted) = crate::platform::cache::get_json::<bool>(platform.cache.as_ref(), &key).await {
        return Ok(granted);
    }
    let granted = store::has_consent(&platform.db, user, kind).await?;
    crate::platform::cache::set_json(platform.cache.as_ref(), &key, &granted, CONSENT_TTL).await;
    Ok(granted)
}

/// How long a consent read is kept (an answer drops it at once).
pub const CONSENT_TTL: std::time::Duration = std::time::Duration::from_secs(300);

pub fn consent_cache_key(user: uuid::Uuid, kind: ConsentKind) -> String {
    format!("consent:{}:{user}", kind.as_str())
}

/// Where a user's blobs live: every domain puts a user's files under this prefix, so erasure
/// finds them all.
pub fn blob_prefix(user: uuid::Uuid) -> String {
    rights::blob_prefix(user)
}

