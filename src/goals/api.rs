//! The goals domain's Rust API for the domains listed after it: a user's progress (the motivator's
//! nudges), the users with an open goal paged by keyset (the nudge batch), and the catalogue to
//! validate AI-picked missions against (intelligence).

use std::collections::BTreeSet;

use chrono::{DateTime, Days, NaiveDate, Utc};
use sqlx::PgPool;
use uuid::Uuid;

pub use super::assessment::attention_of;
pub use super::events;
/// The reset's own rules (what completes or replaces a later domain's picks).
pub use super::recommend as rules;
pub use super::model::{AssessmentItem, Category, Difficulty, Mission, MissionId};
use super::{stats, store};
use crate::platform::time::seoul_date;
use crate::domain::Platform;

/// A mission of the open goal not done yet today.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenMission {
    pub id: MissionId,
    pub title: String,
    pub category: Category,
}

/// Where a user stands, on a Seoul day.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub today: NaiveDate,
    /// The open goal, if any.
    pub goal_id: Option<Uuid>,
    pub missions_today: u32,
    pub completed_today: u32,
    /// Today's missions not done yet, in the goal's order.
    pub open_missions: Vec<OpenMission>,
    /// Achievement rate (0–100) of the last 7 days, today included; `None` when nothing was
    /// scheduled then.
    pub seven_day_rate: Option<f64>,
    /// Consecutive days with a completion, up to today (or yesterday while today is open).
    pub current_streak: i32,
    pub best_streak: i32,
    /// The last completion.
    pub last_activity: Option<DateTime<Utc>>,
}

impl Progress {
    /// Today's share of missions done (0–1; 0 without missions).
    pub fn today_rate(&self) -> f64 {
        if self.missions_today == 0 { 0.0 } else { f64::from(self.completed_today) / f64::from(self.missions_today) }
    }
}

/// A user's progress now, by the app's clock.
pub async fn progress(platform: &Platform, user: Uuid) -> anyhow::Result<Progress> {
    progress_at(&platform.db, user, platform.clock.now()).await
}

/// A user's progress at `now`.
pub async fn progress_at(db: &PgPool, user: Uuid, now: DateTime<Utc>) -> anyhow::Result<Progress> {
    let today = seoul_date(now);
    let missions = store::open_goal_missions(db, user, today).await?;
    let record = store::record(db, user).await?;
    let last_activity = store::last_activity(db, user).await?;
    Ok(assemble(today, &missions, &record, last_activity))
}

/// [`progress_at`] of many users in four queries (the daily nudges read a slice at a time),
/// in the order of `users`; a user without a goal or completions has empty progress.
pub async fn progress_many_at(db: &PgPool, users: &[Uuid], now: DateTime<Utc>) -> anyhow::Result<Vec<(Uuid, Progress)>> {
    let today = seoul_date(now);
    let mut missions: std::collections::HashMap<Uuid, Vec<store::TodayMission>> = std::collections::HashMap::new();
    for (user, m) in store::open_goal_missions_of(db, users, today).await? {
        missions.entry(user).or_default().push(m);
    }
    let records = store::records_of(db, users).await?;
    let none = Vec::new();
    Ok(users
        .iter()
        .map(|u| {
            let (record, last) = records.get(u).cloned().unwrap_or_default();
            (*u, assemble(today, missions.get(u).unwrap_or(&none), &record, last))
        })
        .collect())
}

fn assemble(
    today: NaiveDate,
    missions: &[store::TodayMission],
    record: &stats::Record,
    last_activity: Option<DateTime<Utc>>,
) -> Progress {
    let week_start = today.checked_sub_days(Days::new(6)).unwrap_or(today);
    let days: Vec<NaiveDate> = record.done.iter().map(|(_, d)| *d).filter(|d| *d <= today).collect();
    Progress {
        today,
        goal_id: missions.first().map(|m| m.goal_id),
        missions_today: missions.len() as u32,
        completed_today: missions.iter().filter(|m| m.completed_at.is_some()).count() as u32,
        open_missions: missions
            .iter()
            .filter(|m| m.completed_at.is_none())
            .map(|m| OpenMission { id: m.mission.id.clone(), title: m.mission.title.clone(), category: m.mission.category })
            .collect(),
        seven_day_rate: stats::tally(record, week_start, today, None).rate(),
        current_streak: super::rules::current(days.iter().copied(), today),
        best_streak: super::rules::best(days),
        last_activity,
    }
}

/// Up to `limit` users with an open goal whose id sorts after `after` (none: from the start).
/// Page on with the last id returned; an empty page is the end.
pub async fn users_with_active_goal(db: &PgPool, after: Option<Uuid>, limit: u32) -> anyhow::Result<Vec<Uuid>> {
    store::users_with_active_goal(db, after, i64::from(limit.clamp(1, 10_000))).await
}

/// The missions offered now, in catalogue order.
pub async fn catalog(db: &PgPool) -> anyhow::Result<Vec<Mission>> {
    store::catalog(db).await
}

/// Ids checked against the catalogue.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lookup {
    /// Offered missions, in the order asked.
    pub found: Vec<Mission>,
    /// Ids the catalogue never had (or malformed ones).
    pub unknown: Vec<String>,
    /// Ids of retired missions.
    pub retired: Vec<String>,
}

/// Checks ids (an AI's picks, say) against the catalogue: which are offered, unknown or retired.
/// Repeated ids count once.
pub async fn lookup(db: &PgPool, ids: &[&str]) -> anyhow::Result<Lookup> {
    let mut seen = BTreeSet::new();
    let mut parsed = Vec::new();
    let mut out = Lookup::default();
    for raw in ids {
        match MissionId::parse(raw) {
            Some(id) if seen.insert(id.clone()) => parsed.push(id),
            Some(_) => {}
            None => out.unknown.push(raw.to_string()),
        }
    }
    let missions = store::missions_by_ids(db, &parsed).await?;
    for id in parsed {
        match missions.iter().find(|m| m.id == id) {
            Some(m) if m.retired => out.retired.push(id.to_string()),
            Some(m) => out.found.push(m.clone()),
            None => out.unknown.push(id.to_string()),
        }
    }
    Ok(out)
}

/// A mission picked by a [`Recommender`], with the reason the user reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pick {
    pub id: MissionId,
    pub reason: String,
}

/// Recommendations from a later domain (the intelligence domain's Claude picks). The goal domain
/// cannot call a later domain: the composition root hands it one when it builds the goals state
/// (`app::wiring`); the reset asks it when there is one and keeps to its own rules when there is
/// not or when it fails.
#[async_trait::async_trait]
pub trait Recommender: Send + Sync {
    /// Up to `input`'s count of missions for `user` from `catalog` (never an excluded or retired
    /// one; the caller checks again and completes the list by its rules).
    async fn pick(&self, user: Uuid, input: &super::recommend::Input, catalog: &[Mission]) -> anyhow::Result<Vec<Pick>>;
}

/// The reset's recommendations: the recommender's picks that are in `catalog`, offered and not
/// excluded, with their reasons, completed by the rules to [`super::recommend::COUNT`].
pub async fn recommendations<'c>(
    recommender: Option<&dyn Recommender>,
    user: Uuid,
    catalog: &'c [Mission],
    input: &super::recommend::Input,
) -> Vec<(&'c Mission, String)> {
    use super::recommend;
    let mut out: Vec<(&Mission, String)> = Vec::new();
    if let Some(r) = recommender {
        match r.pick(user, input, catalog).await {
            Ok(picks) => {
                for p in picks {
                    let Some(m) = catalog.iter().find(|m| m.id == p.id) else { continue };
                    if m.retired || input.exclude.contains(&m.id) || out.iter().any(|(o, _)| o.id == m.id) {
                        continue;
                    }
                    if out.len() < recommend::COUNT {
                        out.push((m, p.reason));
                    }
                }
            }
            Err(err) => tracing::warn!(error = format!("{err:#}"), "recommender failed; rules recommend"),
        }
    }
    for m in recommend::recommend(catalog, input) {
        if out.len() < recommend::COUNT && !out.iter().any(|(o, _)| o.id == m.id) {
            out.push((m, recommend::reason(m, input)));
        }
    }
    out
}
