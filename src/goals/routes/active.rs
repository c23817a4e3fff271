//! `GET /api/goals/missions/active`: today's missions of the open goal.

use anyhow::Context as _;
use axum::{
    extract::State,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Days, FixedOffset, NaiveDate, NaiveTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    platform::time::{SEOUL, seoul_instant},
    goals::{
        GoalsState,
        active::{self, Day},
        catalog::Missions,
        model::{Category, DailyTarget, Difficulty, Mission},
        stats::percent,
    },
    http::{
        ApiResult,
        envelope::{Envelope, PreRendered},
    },
    users::api::ActiveUser,
};

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MissionStatus {
    /// Done today.
    Completed,
    /// Not done yet today.
    Pending,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DailyMission<'a> {
    pub mission_id: &'a str,
    pub title: &'a str,
    pub description: &'a str,
    pub status: MissionStatus,
    pub completed_today: bool,
    /// Consecutive days up to today (or yesterday, while today is still open).
    pub streak_days: i32,
    /// The next reminder (Asia/Seoul): the mission's suggested time today if it is still ahead and
    /// the mission is not done, else the same time tomorrow.
    pub next_reminder_time: DateTime<FixedOffset>,
    pub completed_at: Option<DateTime<Utc>>,
    pub category: Category,
    pub difficulty: Difficulty,
    pub estimated_time_minutes: i32,
    pub daily_target: &'a DailyTarget,
    /// The mission is no longer offered in the catalogue (it stays in this goal).
    pub retired: bool,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActiveMissions<'a> {
    pub daily_missions: Vec<DailyMission<'a>>,
    pub total_missions: usize,
    pub today_completed_count: usize,
    /// Today's share of missions done, 0–100.
    #[schema(minimum = 0, maximum = 100)]
    pub completion_rate: f64,
    /// Today (Asia/Seoul).
    pub date: NaiveDate,
    /// The open goal (null without one).
    pub goal_id: Option<Uuid>,
    pub start_date: Option<NaiveDate>,
}

fn next_reminder(m: &Mission, done: bool, today: NaiveDate, now: DateTime<Utc>) -> DateTime<FixedOffset> {
    let at_today = seoul_instant(today, m.reminder_time);
    if !done && at_today > now.with_timezone(&SEOUL) {
        at_today
    } else {
        seoul_instant(today.checked_add_days(Days::new(1)).unwrap_or(today), m.reminder_time)
    }
}

/// Builds the answer from the day's state and the catalogue at `now` (the reminder times depend
/// on the hour).
pub fn answer<'a>(day: &'a Day, missions: &'a Missions, now: DateTime<Utc>) -> anyhow::Result<ActiveMissions<'a>> {
    let done = day.completed_count();
    let total = day.missions.len();
    let daily_missions = day
        .missions
        .iter()
        .map(|d| {
            let m = missions.get(&d.id).with_context(|| format!("mission {} is not in the catalogue", d.id))?;
            let completed = d.completed_at.is_some();
            Ok(DailyMission {
                mission_id: d.id.as_str(),
                title: &m.title,
                description: &m.description,
                status: if completed { MissionStatus::Completed } else { MissionStatus::Pending },
                completed_today: completed,
                streak_days: d.streak_days,
                next_reminder_time: next_reminder(m, completed, day.date, now),
                completed_at: d.completed_at,
                category: m.category,
                difficulty: m.difficulty,
                estimated_time_minutes: m.estimated_minutes,
                daily_target: &m.target,
                retired: m.retired,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(ActiveMissions {
        daily_missions,
        total_missions: total,
        today_completed_count: done,
        completion_rate: percent(done as u32, total as u32),
        date: day.date,
        goal_id: day.goal_id,
        start_date: day.start_date,
    })
}

/// Today's missions (Asia/Seoul) with their completion and streaks. Without an open goal the list
/// is empty.
#[utoipa::path(get, path = "/api/goals/missions/active", operation_id = "getActiveMissions", tag = "goals", security(("bearer" = [])),
    responses((status = 200, description = "오늘의 미션", body = inline(Envelope<ActiveMissions<'static>>))))]
pub async fn active_missions(
    State(state): State<GoalsState>,
    ActiveUser(user): ActiveUser,
) -> ApiResult<Response> {
    let now = state.clock.now();
    if let Some(view) = active::cached_view(&state, user.id, now).await {
        return Ok(PreRendered::ok(view).into_response());
    }
    let (day, missions) = active::day(&state, user.id, now).await?;
    let view = serde_json::value::to_raw_value(&answer(&day, &missions, now)?)
        .context("rendering the active missions")?;
    active::cache_view(&state, user.id, now, changes_at(&day, &missions, now), &view).await;
    Ok(PreRendered::ok(view.get().to_owned()).into_response())
}

/// When the answer at `now` changes by the clock alone: the first reminder time still ahead today
/// of a mission not yet done (its next reminder then moves to tomorrow), else Seoul midnight.
pub fn changes_at(day: &Day, missions: &Missions, now: DateTime<Utc>) -> DateTime<Utc> {
    let midnight = seoul_instant(day.date.checked_add_days(Days::new(1)).unwrap_or(day.date), NaiveTime::MIN);
    day.missions
        .iter()
        .filter(|d| d.completed_at.is_none())
        .filter_map(|d| missions.get(&d.id))
        .map(|m| seoul_instant(day.date, m.reminder_time))
        .filter(|at| *at > now)
        .fold(midnight, DateTime::min)
        .with_timezone(&Utc)
}
