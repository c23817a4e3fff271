//! Today's missions of a user, cache-aside. The cached value carries the Seoul date it was
//! computed for and is used only on that date, so an answer cached before midnight is never
//! served as today's after it; every change drops the entry (`invalidate`). Its lifetime is
//! short (and ends at midnight) to bound the one race cache-aside leaves: a read that started
//! before a change may store what it read just after the change dropped the entry.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    GoalsState,
    clock::{seoul_date, until_seoul_midnight},
    model::{Category, DailyTarget, Difficulty},
    store::{self, TodayMission},
};
use crate::platform::cache;

/// How long an entry may live at most.
pub const TTL: Duration = Duration::from_secs(120);

pub fn cache_key(user: Uuid) -> String {
    format!("goals:active:{user}")
}

/// The open goal's missions on one Seoul day: everything the active view shows that does not
/// depend on the time of day.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DayView {
    pub date: NaiveDate,
    pub goal_id: Option<Uuid>,
    pub start_date: Option<NaiveDate>,
    pub missions: Vec<DayMission>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DayMission {
    pub id: String,
    pub title: String,
    pub description: String,
    pub category: Category,
    pub difficulty: Difficulty,
    pub estimated_minutes: i32,
    pub target: DailyTarget,
    pub reminder_time: NaiveTime,
    pub completed_at: Option<DateTime<Utc>>,
    pub streak_days: i32,
    pub retired: bool,
}

impl DayView {
    fn new(date: NaiveDate, rows: Vec<TodayMission>) -> Self {
        DayView {
            date,
            goal_id: rows.first().map(|r| r.goal_id),
            start_date: rows.first().map(|r| r.start_date),
            missions: rows
                .into_iter()
                .map(|r| DayMission {
                    id: r.mission.id.to_string(),
                    title: r.mission.title,
                    description: r.mission.description,
                    category: r.mission.category,
                    difficulty: r.mission.difficulty,
                    estimated_minutes: r.mission.estimated_minutes,
                    target: r.mission.target,
                    reminder_time: r.mission.reminder_time,
                    completed_at: r.completed_at,
                    streak_days: r.streak_days,
                    retired: r.mission.retired,
                })
                .collect(),
        }
    }

    pub fn completed_count(&self) -> usize {
        self.missions.iter().filter(|m| m.completed_at.is_some()).count()
    }
}

/// The user's missions today (Seoul date of `now`), from the cache when it holds today's.
pub async fn day_view(state: &GoalsState, user: Uuid, now: DateTime<Utc>) -> anyhow::Result<DayView> {
    let today = seoul_date(now);
    let key = cache_key(user);
    if let Some(view) = cache::get_json::<DayView>(state.cache.as_ref(), &key).await
        && view.date == today
    {
        return Ok(view);
    }
    let view = DayView::new(today, store::open_goal_missions(&state.db, user, today).await?);
    cache::set_json(state.cache.as_ref(), &key, &view, TTL.min(until_seoul_midnight(now))).await;
    Ok(view)
}

/// Drops the cached view after a change (a goal set or reset, a completion, an erasure).
pub async fn invalidate(state: &GoalsState, user: Uuid) {
    cache::invalidate(state.cache.as_ref(), &cache_key(user)).await;
}
