//! Goals: replacing the open goal with a new one, closing it on reset, and today's missions.

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{MissionRow, select_missions};
use crate::{
    goals::{
        events::{GoalSet, MissionReset},
        model::{AssessmentItem, Category, Comparison, Difficulty, Mission, MissionId, TargetUnit},
    },
    platform::bus::{self, NewEvent},
};

/// Why a goal was closed. Stored as text (`goals.goals.close_reason`), spelled the same in the
/// data export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, sqlx::Encode, sqlx::Decode)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[sqlx(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum CloseReason {
    /// A new selection replaced it.
    Replaced,
    /// The user reset their missions.
    Reset,
}
crate::platform::db::text_enum!(CloseReason);

/// A goal just set.
#[derive(Debug, Clone)]
pub struct NewGoal {
    pub goal_id: Uuid,
    pub start_date: NaiveDate,
    pub replaced: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// A goal just closed.
#[derive(Debug, Clone)]
pub struct ClosedGoal {
    pub goal_id: Uuid,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub missions: Vec<MissionId>,
}

/// Closes the user's open goal, if any, on `today` (`end_date`, exclusive: the day it stopped).
async fn close(
    conn: &mut PgConnection,
    user: Uuid,
    today: NaiveDate,
    now: DateTime<Utc>,
    reason: CloseReason,
    note: Option<&str>,
) -> anyhow::Result<Option<ClosedGoal>> {
    let closed = sqlx::query!(
        r#"UPDATE goals.goals g SET end_date = GREATEST(g.start_date, $2), closed_at = $3, close_reason = $4,
                  reset_note = $5, updated_at = now()
           WHERE g.user_id = $1 AND g.end_date IS NULL
           RETURNING g.id, g.start_date, g.end_date AS "end_date!",
                     ARRAY(SELECT mission_id FROM goals.goal_missions WHERE goal_id = g.id ORDER BY position)
                       AS "missions!""#,
        user,
        today,
        now,
        reason as _,
        note,
    )
    .fetch_optional(&mut *conn)
    .await
    .context("closing the open goal")?;
    Ok(closed.map(|c| ClosedGoal {
        goal_id: c.id,
        start_date: c.start_date,
        end_date: c.end_date,
        missions: c.missions.into_iter().map(MissionId::from_db).collect(),
    }))
}

/// Takes the user's goal lock for the rest of the transaction: selections and resets of one user
/// run one after the other, so each closes what the previous one opened. (Two users whose ids hash
/// alike merely wait for each other.)
async fn lock_user(conn: &mut PgConnection, user: Uuid) -> anyhow::Result<()> {
    sqlx::query!("SELECT pg_advisory_xact_lock($1, hashtext($2))", LOCK_CLASS, user.to_string())
        .execute(conn)
        .await
        .context("taking the user's goal lock")?;
    Ok(())
}

/// The advisory-lock class of the goals domain ('GOAL').
const LOCK_CLASS: i32 = 0x474f_414c;

/// Replaces the user's open goal by a new one of `missions` starting `today`, and announces
/// `goal.set`, in one transaction. Selections racing each other end with the last one in force.
pub async fn replace(
    pool: &PgPool,
    user: Uuid,
    missions: &[MissionId],
    today: NaiveDate,
    now: DateTime<Utc>,
) -> anyhow::Result<NewGoal> {
    let ids: Vec<&str> = missions.iter().map(MissionId::as_str).collect();
    let mut tx = pool.begin().await.context("starting to set a goal")?;
    lock_user(&mut tx, user).await?;
    let replaced = close(&mut tx, user, today, now, CloseReason::Replaced, None).await?.map(|c| c.goal_id);
    let goal_id = Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO goals.goals (id, user_id, start_date, created_at) VALUES ($1, $2, $3, $4)",
        goal_id,
        user,
        today,
        now,
    )
    .execute(&mut *tx)
        .await
        .context("inserting a goal")?;
    sqlx::query!(
        "INSERT INTO goals.goal_missions (goal_id, mission_id, position) \
         SELECT $1, id, pos FROM unnest($2::text[]) WITH ORDINALITY AS t(id, pos)",
        goal_id,
        &ids as &[&str],
    )
    .execute(&mut *tx)
    .await
    .context("inserting a goal's missions")?;
    let event = GoalSet {
        user_id: user,
        goal_id,
        mission_ids: ids.iter().map(|s| s.to_string()).collect(),
        start_date: today,
        replaced_goal_id: replaced,
    };
    bus::publish(&mut tx, NewEvent::of(&event)?).await?;
    tx.commit().await.context("committing a goal")?;
    Ok(NewGoal { goal_id, start_date: today, replaced, created_at: now })
}

/// Closes the user's open goal on reset, keeping their note, and announces `mission.reset`.
/// `None` when there was no open goal.
pub async fn close_open(
    pool: &PgPool,
    user: Uuid,
    today: NaiveDate,
    now: DateTime<Utc>,
    note: &str,
) -> anyhow::Result<Option<ClosedGoal>> {
    let mut tx = pool.begin().await.context("starting a reset")?;
    lock_user(&mut tx, user).await?;
    let Some(closed) = close(&mut tx, user, today, now, CloseReason::Reset, Some(note)).await? else {
        tx.rollback().await.context("ending an empty reset")?;
        return Ok(None);
    };
    let event = MissionReset {
        user_id: user,
        goal_id: closed.goal_id,
        mission_ids: closed.missions.iter().map(ToString::to_string).collect(),
        end_date: closed.end_date,
    };
    bus::publish(&mut tx, NewEvent::of(&event)?).await?;
    tx.commit().await.context("committing a reset")?;
    Ok(Some(closed))
}

/// A mission of the open goal, with today's state.
#[derive(Debug, Clone)]
pub struct TodayMission {
    pub goal_id: Uuid,
    pub start_date: NaiveDate,
    pub mission: Mission,
    /// When it was completed today, if it was.
    pub completed_at: Option<DateTime<Utc>>,
    /// The streak still alive today: through today if done, else through yesterday.
    pub streak_days: i32,
}

/// A mission of a user's open goal with today's state, as read: a [`MissionRow`]'s fields, then the
/// goal's and the day's.
struct TodayRow {
    id: String,
    category: Category,
    difficulty: Difficulty,
    title: String,
    description: String,
    health_benefit: String,
    estimated_minutes: i32,
    target_value: i32,
    target_unit: TargetUnit,
    target_comparison: Comparison,
    target_text: String,
    helps: Vec<AssessmentItem>,
    reminder_time: chrono::NaiveTime,
    sort_order: i32,
    retired: bool,
    user_id: Uuid,
    goal_id: Uuid,
    start_date: NaiveDate,
    completed_at: Option<DateTime<Utc>>,
    today_streak: Option<i32>,
    yesterday_streak: Option<i32>,
}

impl TodayRow {
    fn into_user_mission(self) -> (Uuid, TodayMission) {
        let r = self;
        let mission = MissionRow {
            id: r.id,
            category: r.category,
            difficulty: r.difficulty,
            title: r.title,
            description: r.description,
            health_benefit: r.health_benefit,
            estimated_minutes: r.estimated_minutes,
            target_value: r.target_value,
            target_unit: r.target_unit,
            target_comparison: r.target_comparison,
            target_text: r.target_text,
            helps: r.helps,
            reminder_time: r.reminder_time,
            sort_order: r.sort_order,
            retired: r.retired,
        };
        let today = TodayMission {
            goal_id: r.goal_id,
            start_date: r.start_date,
            mission: Mission::from(mission),
            completed_at: r.completed_at,
            streak_days: r.today_streak.or(r.yesterday_streak).unwrap_or(0),
        };
        (r.user_id, today)
    }
}

/// [`open_goal_missions`] of many users in one query, each user's in their goal's order.
pub async fn open_goal_missions_of(
    pool: &PgPool,
    users: &[Uuid],
    today: NaiveDate,
) -> anyhow::Result<Vec<(Uuid, TodayMission)>> {
    let rows = select_missions!(
        TodayRow,
        r#", g.user_id, g.id AS goal_id, g.start_date, ct.completed_at AS "completed_at?",
             ct.streak_days AS "today_streak?", cy.streak_days AS "yesterday_streak?"
           FROM goals.goals g
           JOIN goals.goal_missions gm ON gm.goal_id = g.id
           JOIN goals.missions m ON m.id = gm.mission_id
           LEFT JOIN goals.completions ct ON ct.user_id = g.user_id AND ct.mission_id = gm.mission_id AND ct.day = $2
           LEFT JOIN goals.completions cy ON cy.user_id = g.user_id AND cy.mission_id = gm.mission_id
                                         AND cy.day = $2::date - 1
           WHERE g.user_id = ANY($1) AND g.end_date IS NULL
           ORDER BY g.user_id, gm.position"#,
        users,
        today,
    )
    .fetch_all(pool)
    .await
    .context("reading today's missions of many users")?;
    Ok(rows.into_iter().map(TodayRow::into_user_mission).collect())
}

/// The missions of the user's open goal in their order, each with today's completion and streak
/// (empty without an open goal): [`open_goal_missions_of`] for one user.
pub async fn open_goal_missions(pool: &PgPool, user: Uuid, today: NaiveDate) -> anyhow::Result<Vec<TodayMission>> {
    Ok(open_goal_missions_of(pool, &[user], today).await?.into_iter().map(|(_, m)| m).collect())
}
