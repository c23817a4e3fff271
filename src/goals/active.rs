//! Today's missions of a user, cache-aside. The cached value is small (which missions, whether
//! each is done, its streak) and carries the Seoul date it was computed for: it is used only on
//! that date, so an answer cached before midnight is never served as today's after it. Every
//! change drops the entry (`invalidate`). Its lifetime is short (and ends at midnight) to bound the
//! one race cache-aside leaves: a read that started before a change may store what it read just
//! after the change dropped the entry. Titles and targets come from the process's copy of the
//! catalogue (`catalog.rs`).

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    GoalsState,
    catalog::Missions,
    clock::{seoul_date, until_seoul_midnight},
    model::MissionId,
    store,
};
use crate::platform::cache;

/// How long an entry may live at most.
pub const TTL: Duration = Duration::from_secs(120);

pub fn cache_key(user: Uuid) -> String {
    format!("goals:active:{user}")
}

/// The open goal's missions on one Seoul day: what the active view shows that does not depend on
/// the time of day or on the catalogue's texts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Day {
    pub date: NaiveDate,
    pub goal_id: Option<Uuid>,
    pub start_date: Option<NaiveDate>,
    pub missions: Vec<DayMission>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
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

/// The user's missions today (Seoul date of `now`), from the cache when it holds today's, with the
/// catalogue that describes them.
pub async fn day(state: &GoalsState, user: Uuid, now: DateTime<Utc>) -> anyhow::Result<(Day, Missions)> {
    let today = seoul_date(now);
    let key = cache_key(user);
    let day = match cache::get_json::<Day>(state.cache.as_ref(), &key).await {
        Some(day) if day.date == today => day,
        _ => {
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
            cache::set_json(state.cache.as_ref(), &key, &day, TTL.min(until_seoul_midnight(now))).await;
            day
        }
    };
    let missions = state.catalog.with(&state.db, day.missions.iter().map(|m| &m.id)).await?;
    Ok((day, missions))
}

/// Drops the cached view after a change (a goal set or reset, a completion, an erasure).
pub async fn invalidate(state: &GoalsState, user: Uuid) {
    cache::invalidate(state.cache.as_ref(), &cache_key(user)).await;
}
