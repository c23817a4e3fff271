//! The health domain's Rust API for the domains after it (goals, intelligence, motivator), and the
//! cache-aside reads the routes share. Stable: later domains depend on these names.
//!
//! Every read of a user's health data goes through here, and here only with the health-data
//! consent in force ([`processing_allowed`]): after a withdrawal nothing is read for any purpose
//! (the routes, an explanation, picks, chat context, nudges) — docs/privacy.md. Export and
//! erasure go through the data part, which the withdrawal does not stop.
//!
//! - [`latest_checkup`]: the user's newest checkup with its [`Assessment`] (cached);
//! - [`Assessment`] and its parts: items with grades, the overall category, the metabolic-syndrome
//!   criteria, the escalation flags (a flag means "refer", never "coach").

use std::time::Duration;

use anyhow::Context;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub use super::judge::{
    Assessment, Coverage, Flag, FlagCode, Grade, GradedItem, ItemAssessment, ItemValue, MetabolicCriterion,
    MetabolicSyndrome, Overall, Referral,
};
pub use super::events;
pub use super::{model::Smoking, views::CheckupRecord};
use super::{store, views};
use crate::{
    domain::Platform,
    platform::cache,
    users::api::{self as users, Sex, age_on},
};

/// Cached reads live this long at most; every change of the user's checkups drops them at once.
const LATEST_TTL: Duration = Duration::from_secs(600);
/// The history carries profile fields (name, occupation) the user domain may change without
/// telling us, so it is kept briefly.
const HISTORY_TTL: Duration = Duration::from_secs(60);
/// The history keeps at most this many records (the largest `maxRecords`).
pub const HISTORY_MAX: i64 = 50;
/// `maxRecords` when the app does not say.
pub const HISTORY_DEFAULT: i64 = 5;

/// The rendered history of the default size, from the cache (JSON this app rendered).
pub async fn cached_view(platform: &Platform, user: Uuid) -> Option<bytes::Bytes> {
    platform.cache.get(&history_view_key(user)).await.ok().flatten().map(bytes::Bytes::from)
}

/// Keeps the rendered history of the default size (as long as the history it was made from).
pub async fn cache_view(platform: &Platform, user: Uuid, json: &str) {
    if let Err(err) = platform.cache.set(&history_view_key(user), json.as_bytes(), HISTORY_TTL).await {
        tracing::warn!(cache = platform.cache.kind(), error = format!("{err:#}"), "cache write failed");
    }
}

pub fn latest_key(user: Uuid) -> String {
    format!("health:latest:{user}")
}

pub fn history_key(user: Uuid) -> String {
    format!("health:history:{user}")
}

/// The rendered history of the default size (what the app asks for), as JSON.
pub fn history_view_key(user: Uuid) -> String {
    format!("health:history-view:{user}")
}

/// Every cache key that may hold the user's health data.
pub fn cache_keys(user: Uuid) -> Vec<String> {
    vec![latest_key(user), history_key(user), history_view_key(user)]
}

/// Drops the user's cached health data (after every change).
pub async fn invalidate(platform: &Platform, user: Uuid) {
    for key in cache_keys(user) {
        cache::invalidate(platform.cache.as_ref(), &key).await;
    }
}

/// Who the checkups belong to, as the history shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserInfo {
    pub name: Option<String>,
    /// Full years today (Asia/Seoul).
    pub age: Option<u32>,
    /// `MALE` or `FEMALE`.
    pub gender: Option<Sex>,
    pub occupation: Option<String>,
    #[serde(skip)]
    pub birth_date: Option<NaiveDate>,
}

/// The profile fields the health domain needs, from the user domain.
pub async fn user_info(platform: &Platform, user: Uuid) -> anyhow::Result<UserInfo> {
    let person = users::person(&platform.db, user).await.context("reading the profile")?;
    Ok(match person {
        Some(u) => UserInfo {
            age: u.birth_date.map(|b| age_on(b, platform.clock.today())),
            gender: u.sex,
            birth_date: u.birth_date,
            name: u.name,
            occupation: u.occupation,
        },
        None => UserInfo { name: None, age: None, gender: None, occupation: None, birth_date: None },
    })
}

/// The sex the rules judge by; a profile without one (not onboarded) is judged as neither can
/// be: such accounts cannot reach the routes, and later domains get `None` from here.
fn sex_of(info: &UserInfo) -> Option<Sex> {
    info.gender
}

/// Whether the user's health data may be processed now: the health-data consent is in force
/// (개인정보보호법 §23, §37). Cached briefly; a withdrawal drops the reading at once.
pub async fn processing_allowed(platform: &Platform, user: Uuid) -> anyhow::Result<bool> {
    users::consent_in_force(platform, user, users::ConsentKind::HealthData).await
}

/// The user's newest checkup with its assessment, or `None` (no consent in force, no checkup, or
/// no profile to judge by).
pub async fn latest_checkup(platform: &Platform, user: Uuid) -> anyhow::Result<Option<CheckupRecord>> {
    if !processing_allowed(platform, user).await? {
        return Ok(None);
    }
    let key = latest_key(user);
    if let Some(hit) = cache::get_json::<Option<CheckupRecord>>(platform.cache.as_ref(), &key).await {
        return Ok(hit);
    }
    let info = user_info(platform, user).await?;
    let latest = match sex_of(&info) {
        Some(sex) => store::checkups::list(&platform.db, user, 1).await?.first().map(|c| views::record(c, sex)),
        None => None,
    };
    cache::set_json(platform.cache.as_ref(), &key, &latest, LATEST_TTL).await;
    Ok(latest)
}

/// The history as cached: the profile part and the newest records, judged.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct History {
    pub user_info: UserInfo,
    pub sex: Option<Sex>,
    pub records: Vec<CheckupRecord>,
    pub total: i64,
}

/// The history, or `None` without the health-data consent in force.
pub async fn history(platform: &Platform, user: Uuid) -> anyhow::Result<Option<History>> {
    if !processing_allowed(platform, user).await? {
        return Ok(None);
    }
    let key = history_key(user);
    if let Some(hit) = cache::get_json::<History>(platform.cache.as_ref(), &key).await {
        return Ok(Some(hit));
    }
    let info = user_info(platform, user).await?;
    let sex = sex_of(&info);
    let rows = store::checkups::list(&platform.db, user, HISTORY_MAX).await?;
    let total = store::checkups::count(&platform.db, user).await?;
    let records = match sex {
        Some(sex) => rows.iter().map(|c| views::record(c, sex)).collect(),
        None => Vec::new(),
    };
    let h = History { user_info: info, sex, records, total };
    cache::set_json(platform.cache.as_ref(), &key, &h, HISTORY_TTL).await;
    Ok(Some(h))
}
