//! Today's missions of a user, cache-aside: the rendered answer is cached, so a warm read is one
//! cache lookup and no rendering. The entry carries the Seoul date it was rendered for and the
//! instant it would change by the clock alone (a pending mission's reminder time passing, which
//! moves its next reminder to tomorrow; midnight), and is served only before both: an answer
//! cached before midnight is never served as today's after it. Every change drops the entry
//! (`invalidate`). Its lifetime is short (at most [`TTL`], ending at midnight) to bound the one race
//! cache-aside leaves (a read that started before a change may store what it read just after the
//! change dropped the entry) and how long a catalogue edit (a title, a retirement) takes to show.

use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::platform::{
    cache,
    time::{seoul_date, until_seoul_midnight},
};

use super::{
    GoalsState,
    catalog::Missions,
    model::MissionId,
    store,
};

/// How long an entry may live at most.
pub const TTL: Duration = Duration::from_secs(120);

pub fn cache_key(user: Uuid) -> String {
    format!("goals:active:{user}")
}

/// The open goal's missions on one Seoul day: what the active view shows that does not depend on
/// the time of day or on the catalogue's texts.
#[derive(Debug, Clone)]
pub struct Day {
    pub date: NaiveDate,
    pub goal_id: Option<Uuid>,
    pub start_date: Option<NaiveDate>,
    pub missions: Vec<DayMission>,
}

#[derive(Debug, Clone)]
pub struct DayMission {
    pub id: MissionId,
    pub completed_at: Option<DateTime<Utc>>,
    pub streak_days: i32,
}

impl Day {
    pub fn completed_count(&self) -> usize {
        self.missions.iter().filter(|m| m.completed_at.is_some()).count()
    }
}

/// The user's missions today (Seoul date of `now`), read from the database, with the catalogue
/// that describes them.
pub async fn day(state: &GoalsState, user: Uuid, now: DateTime<Utc>) -> anyhow::Result<(Day, Missions)> {
    let today = seoul_date(now);
    let rows = store::open_goal_missions(&state.db, user, today).await?;
    let day = Day {
        date: today,
        goal_id: rows.first().map(|r| r.goal_id),
        start_date: rows.first().map(|r| r.start_date),
        missions: rows
            .into_iter()
            .map(|r| DayMission { id: r.mission.id, completed_at: r.completed_at, streak_days: r.streak_days })
            .collect(),
    };
    let missions = state.own.catalog.with(&state.db, day.missions.iter().map(|m| &m.id)).await?;
    Ok((day, missions))
}

/// When a cached answer may be served: the first line of the entry, the rendered answer after it
/// (`{"date":…,"validUntil":…}\n{…view…}`). A warm read parses this line only, not the answer
/// (JSON an instance of this app rendered, served as it is).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Validity {
    /// The Seoul day it was rendered for.
    date: NaiveDate,
    /// When it changes by itself (a mission's reminder time passes, or midnight): not served from then.
    valid_until: DateTime<Utc>,
}

/// The answer rendered earlier for `user`, if it still holds at `now`: the same Seoul day and
/// nothing in it due to change by the clock alone.
pub async fn cached_view(state: &GoalsState, user: Uuid, now: DateTime<Utc>) -> Option<Bytes> {
    let entry = match state.cache.get(&cache_key(user)).await {
        Ok(entry) => Bytes::from(entry?),
        Err(err) => {
            tracing::warn!(cache = state.cache.kind(), error = format!("{err:#}"), "cache read failed");
            return None;
        }
    };
    let (validity, view) = split_entry(&entry)?;
    (validity.date == seoul_date(now) && now < validity.valid_until).then(|| entry.slice(view..))
}

/// An entry's validity and where its answer starts; `None` for anything else (an entry of an
/// earlier layout, a single JSON object, has no line break: JSON escapes them inside strings).
fn split_entry(entry: &[u8]) -> Option<(Validity, usize)> {
    let line = entry.iter().position(|&b| b == b'\n')?;
    let validity = serde_json::from_slice(&entry[..line]).ok()?;
    Some((validity, line + 1))
}

/// Caches `view` (the answer rendered at `now`) until it would change by itself, at most [`TTL`].
pub async fn cache_view(state: &GoalsState, user: Uuid, now: DateTime<Utc>, valid_until: DateTime<Utc>, view: &RawValue) {
    let Ok(left) = (valid_until - now).to_std() else { return };
    let Ok(mut entry) = serde_json::to_vec(&Validity { date: seoul_date(now), valid_until }) else { return };
    entry.push(b'\n');
    entry.extend_from_slice(view.get().as_bytes());
    let ttl = TTL.min(left).min(until_seoul_midnight(now));
    if let Err(err) = state.cache.set(&cache_key(user), &entry, ttl).await {
        tracing::warn!(cache = state.cache.kind(), error = format!("{err:#}"), "cache write failed");
    }
}

/// Drops the cached view after a change (a goal set or reset, a completion, an erasure).
pub async fn invalidate(state: &GoalsState, user: Uuid) {
    cache::invalidate(state.cache.as_ref(), &cache_key(user)).await;
}
