//! SQL of the goals domain (schema `goals`).

mod completions;
mod goals;
mod record;
mod rights;

use anyhow::Context;
use chrono::NaiveTime;
use sqlx::PgPool;

pub use completions::{Completion, Outcome, complete};
pub use goals::{ClosedGoal, NewGoal, TodayMission, close_open, open_goal_missions, open_goal_missions_of, replace};
pub use record::{last_activity, record, records_of, users_with_active_goal};
pub use rights::{erase, export};

use super::model::{
    AssessmentItem, Category, Comparison, DailyTarget, Difficulty, Mission, MissionId, TargetUnit,
};

/// The columns of a mission, as `MissionRow` reads them (`m` is the missions table).
pub(crate) const MISSION_COLUMNS: &str = "m.id, m.category, m.difficulty, m.title, m.description, m.health_benefit, \
     m.estimated_minutes, m.target_value, m.target_unit, m.target_comparison, m.target_text, m.helps, \
     m.reminder_time, m.sort_order, m.retired_at IS NOT NULL AS retired";

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct MissionRow {
    id: String,
    category: String,
    difficulty: String,
    title: String,
    description: String,
    health_benefit: String,
    estimated_minutes: i32,
    target_value: i32,
    target_unit: String,
    target_comparison: String,
    target_text: String,
    helps: Vec<String>,
    reminder_time: NaiveTime,
    sort_order: i32,
    retired: bool,
}

impl TryFrom<MissionRow> for Mission {
    type Error = anyhow::Error;

    fn try_from(r: MissionRow) -> anyhow::Result<Mission> {
        let bad = |what: &str| anyhow::anyhow!("mission {} has an unknown {what}", r.id);
        Ok(Mission {
            category: Category::parse(&r.category).ok_or_else(|| bad("category"))?,
            difficulty: Difficulty::parse(&r.difficulty).ok_or_else(|| bad("difficulty"))?,
            target: DailyTarget {
                value: r.target_value,
                unit: TargetUnit::parse(&r.target_unit).ok_or_else(|| bad("target unit"))?,
                comparison: Comparison::parse(&r.target_comparison).ok_or_else(|| bad("comparison"))?,
                text: r.target_text,
            },
            helps: r
                .helps
                .iter()
                .map(|h| AssessmentItem::parse(h).ok_or_else(|| bad("assessment item")))
                .collect::<anyhow::Result<_>>()?,
            id: MissionId::from_db(r.id),
            title: r.title,
            description: r.description,
            health_benefit: r.health_benefit,
            estimated_minutes: r.estimated_minutes,
            reminder_time: r.reminder_time,
            sort_order: r.sort_order,
            retired: r.retired,
        })
    }
}

fn missions(rows: Vec<MissionRow>) -> anyhow::Result<Vec<Mission>> {
    rows.into_iter().map(Mission::try_from).collect()
}

/// The missions offered now (not retired), in catalogue order.
pub async fn catalog(pool: &PgPool) -> anyhow::Result<Vec<Mission>> {
    let rows = sqlx::query_as(&format!(
        "SELECT {MISSION_COLUMNS} FROM goals.missions m WHERE m.retired_at IS NULL ORDER BY m.sort_order, m.id"
    ))
    .fetch_all(pool)
    .await
    .context("reading the mission catalogue")?;
    missions(rows)
}

/// Every mission, retired ones included (history names them), in catalogue order.
pub async fn all_missions(pool: &PgPool) -> anyhow::Result<Vec<Mission>> {
    let rows =
        sqlx::query_as(&format!("SELECT {MISSION_COLUMNS} FROM goals.missions m ORDER BY m.sort_order, m.id"))
            .fetch_all(pool)
            .await
            .context("reading all missions")?;
    missions(rows)
}

/// The missions with these ids, retired ones included; unknown ids are simply absent.
pub async fn missions_by_ids(pool: &PgPool, ids: &[MissionId]) -> anyhow::Result<Vec<Mission>> {
    let ids: Vec<&str> = ids.iter().map(MissionId::as_str).collect();
    let rows = sqlx::query_as(&format!(
        "SELECT {MISSION_COLUMNS} FROM goals.missions m WHERE m.id = ANY($1) ORDER BY m.sort_order, m.id"
    ))
    .bind(&ids)
    .fetch_all(pool)
    .await
    .context("looking up missions")?;
    missions(rows)
}
