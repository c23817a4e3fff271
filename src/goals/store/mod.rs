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

/// `query_as!` into `$record`: a mission's columns (`m` is the missions table, the fields of
/// [`MissionRow`]), then `$rest` (string literals: more columns, and the rest of the statement).
macro_rules! select_missions {
    ($record:ident, $rest:literal $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            $record,
            r#"SELECT m.id, m.category AS "category: Category", m.difficulty AS "difficulty: Difficulty", m.title,
                      m.description, m.health_benefit, m.estimated_minutes, m.target_value,
                      m.target_unit AS "target_unit: TargetUnit", m.target_comparison AS "target_comparison: Comparison",
                      m.target_text, m.helps AS "helps: Vec<AssessmentItem>", m.reminder_time, m.sort_order,
                      m.retired_at IS NOT NULL AS "retired!""# + $rest
            $(, $arg)*
        )
    };
}
pub(crate) use select_missions;

/// A mission as read ([`select_missions`]).
#[derive(Debug, Clone)]
pub(crate) struct MissionRow {
    pub(crate) id: String,
    pub(crate) category: Category,
    pub(crate) difficulty: Difficulty,
    pub(crate) title: String,
    pub(crate) description: String,
    pub(crate) health_benefit: String,
    pub(crate) estimated_minutes: i32,
    pub(crate) target_value: i32,
    pub(crate) target_unit: TargetUnit,
    pub(crate) target_comparison: Comparison,
    pub(crate) target_text: String,
    pub(crate) helps: Vec<AssessmentItem>,
    pub(crate) reminder_time: NaiveTime,
    pub(crate) sort_order: i32,
    pub(crate) retired: bool,
}

impl From<MissionRow> for Mission {
    fn from(r: MissionRow) -> Mission {
        Mission {
            id: MissionId::from_db(r.id),
            category: r.category,
            difficulty: r.difficulty,
            title: r.title,
            description: r.description,
            health_benefit: r.health_benefit,
            estimated_minutes: r.estimated_minutes,
            target: DailyTarget {
                value: r.target_value,
                unit: r.target_unit,
                comparison: r.target_comparison,
                text: r.target_text,
            },
            helps: r.helps,
            reminder_time: r.reminder_time,
            sort_order: r.sort_order,
            retired: r.retired,
        }
    }
}

fn missions(rows: Vec<MissionRow>) -> Vec<Mission> {
    rows.into_iter().map(Mission::from).collect()
}

/// The missions offered now (not retired), in catalogue order.
pub async fn catalog(pool: &PgPool) -> anyhow::Result<Vec<Mission>> {
    let rows = select_missions!(
        MissionRow,
        " FROM goals.missions m WHERE m.retired_at IS NULL ORDER BY m.sort_order, m.id"
    )
    .fetch_all(pool)
    .await
    .context("reading the mission catalogue")?;
    Ok(missions(rows))
}

/// Every mission, retired ones included (history names them), in catalogue order.
pub async fn all_missions(pool: &PgPool) -> anyhow::Result<Vec<Mission>> {
    let rows = select_missions!(MissionRow, " FROM goals.missions m ORDER BY m.sort_order, m.id")
        .fetch_all(pool)
        .await
        .context("reading all missions")?;
    Ok(missions(rows))
}

/// The missions with these ids, retired ones included; unknown ids are simply absent.
pub async fn missions_by_ids(pool: &PgPool, ids: &[MissionId]) -> anyhow::Result<Vec<Mission>> {
    let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
    let rows = select_missions!(
        MissionRow,
        " FROM goals.missions m WHERE m.id = ANY($1) ORDER BY m.sort_order, m.id",
        &ids,
    )
    .fetch_all(pool)
    .await
    .context("looking up missions")?;
    Ok(missions(rows))
}
