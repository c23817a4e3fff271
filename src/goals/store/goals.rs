//! Goals: replacing the open goal with a new one, closing it on reset, and today's missions.

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{MISSION_COLUMNS, MissionRow};
use crate::{
    goals::{
        events::{GoalSet, MissionReset},
        model::{Mission, MissionId},
    },
    platform::bus::{self, NewEvent},
};

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
    reason: &str,
    note: Option<&str>,
) -> anyhow::Result<Option<ClosedGoal>> {
    let closed: Option<(Uuid, NaiveDate, NaiveDate, Vec<String>)> = sqlx::query_as(
        "UPDATE goals.goals g SET end_date = GREATEST(g.start_date, $2), closed_at = $3, close_reason = $4, \
                reset_note = $5, updated_at = now() \
         WHERE g.user_id = $1 AND g.end_date IS NULL \
         RETURNING g.id, g.start_date, g.end_date, \
                   ARRAY(SELECT mission_id FROM goals.goal_missions WHERE goal_id = g.id ORDER BY position)",
    )
    .bind(user)
    .bind(today)
    .bind(now)
    .bind(reason)
    .bind(note)
    .fetch_optional(&mut *conn)
    .await
    .context("closing the open goal")?;
    Ok(closed.map(|(goal_id, start_date, end_date, missions)| ClosedGoal {
        goal_id,
        start_date,
        end_date,
        missions: missions.into_iter().map(MissionId::from_db).collect(),
    }))
}

/// Takes the user's goal lock for the rest of the transaction: selections and resets of one user
/// run one after the other, so each closes what the previous one opened. (Two users whose ids hash
/// alike merely wait for each other.)
async fn lock_user(conn: &mut PgConnection, user: Uuid) -> anyhow::Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
        .bind(LOCK_CLASS)
        .bind(user.to_string())
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
    let replaced = close(&mut tx, user, today, now, "REPLACED", None).await?.map(|c| c.goal_id);
    let goal_id = Uuid::now_v7();
    sqlx::query("INSERT INTO goals.goals (id, user_id, start_date, created_at) VALUES ($1, $2, $3, $4)")
        .bind(goal_id)
        .bind(user)
        .bind(today)
        .bind(now)
        .execute(&mut *tx)
        .await
        .context("inserting a goal")?;
    sqlx::query(
        "INSERT INTO goals.goal_missions (goal_id, mission_id, position) \
         SELECT $1, id, pos FROM unnest($2::text[]) WITH ORDINALITY AS t(id, pos)",
    )
    .bind(goal_id)
    .bind(&ids)
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
    let Some(closed) = close(&mut tx, user, today, now, "RESET", Some(note)).await? else {
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

#[derive(sqlx::FromRow)]
struct TodayRow {
    goal_id: Uuid,
    start_date: NaiveDate,
    #[sqlx(flatten)]
    mission: MissionRow,
    completed_at: Option<DateTime<Utc>>,
    today_streak: Option<i32>,
    yesterday_streak: Option<i32>,
}

#[derive(sqlx::FromRow)]
struct UserTodayRow {
    user_id: Uuid,
    #[sqlx(flatten)]
    row: TodayRow,
}

impl TryFrom<TodayRow> for TodayMission {
    type Error = anyhow::Error;

    fn try_from(r: TodayRow) -> anyhow::Result<TodayMission> {
        Ok(TodayMission {
            goal_id: r.goal_id,
            start_date: r.start_date,
            mission: Mission::try_from(r.mission)?,
            completed_at: r.completed_at,
            streak_days: r.today_streak.or(r.yesterday_streak).unwrap_or(0),
        })
    }
}

/// [`open_goal_missions`] of many users in one query, each user's in their goal's order.
pub async fn open_goal_missions_of(
    pool: &PgPool,
    users: &[Uuid],
    today: NaiveDate,
) -> anyhow::Result<Vec<(Uuid, TodayMission)>> {
    let rows: Vec<UserTodayRow> = sqlx::query_as(&format!(
        "SELECT g.user_id, g.id AS goal_id, g.start_date, {MISSION_COLUMNS}, \
                ct.completed_at, ct.streak_days AS today_streak, cy.streak_days AS yesterday_streak \
         FROM goals.goals g \
         JOIN goals.goal_missions gm ON gm.goal_id = g.id \
         JOIN goals.missions m ON m.id = gm.mission_id \
         LEFT JOIN goals.completions ct ON ct.user_id = g.user_id AND ct.mission_id = gm.mission_id AND ct.day = $2 \
         LEFT JOIN goals.completions cy ON cy.user_id = g.user_id AND cy.mission_id = gm.mission_id \
                                       AND cy.day = $2::date - 1 \
         WHERE g.user_id = ANY($1) AND g.end_date IS NULL \
         ORDER BY g.user_id, gm.position"
    ))
    .bind(users)
    .bind(today)
    .fetch_all(pool)
    .await
    .context("reading today's missions of many users")?;
    rows.into_iter().map(|r| Ok((r.user_id, TodayMission::try_from(r.row)?))).collect()
}

/// The missions of the user's open goal in their order, each with today's completion and streak
/// (empty without an open goal): [`open_goal_missions_of`] for one user.
pub async fn open_goal_missions(pool: &PgPool, user: Uuid, today: NaiveDate) -> anyhow::Result<Vec<TodayMission>> {
    Ok(open_goal_missions_of(pool, &[user], today).await?.into_iter().map(|(_, m)| m).collect())
}
