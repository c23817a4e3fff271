//! Completing a mission: one row per user, mission and Seoul day. The primary key settles a repeat
//! or a race: the first insert wins, the others find its row and change nothing. A completion's
//! streak is the day before's plus one (1 without one), computed where the row is written; it never
//! goes stale because completions are only ever written for their own day.

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{
    goals::{
        events::{GoalAchieved, MissionCompleted},
        model::MissionId,
        rules,
    },
    platform::bus::{self, NewEvent},
};

/// A mission's completion for a day, as the app is told about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub goal_id: Uuid,
    pub day: NaiveDate,
    pub completed_at: DateTime<Utc>,
    pub streak_days: i32,
    pub points: i32,
    /// How often the user has completed this mission, this completion included.
    pub total_completed: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The mission is not part of the user's open goal.
    NotInGoal,
    /// The completion's time is before the open goal was created: it cannot count for it.
    BeforeGoal,
    /// Recorded now; with the milestone reached for the first time in this goal, if any.
    Recorded { completion: Completion, achieved: Option<i32> },
    /// Already completed that day: the existing completion, nothing changed.
    Existing(Completion),
}

struct Recorded {
    goal_id: Uuid,
    /// The completion's time is before the goal was created (nothing was written).
    before_goal: bool,
    /// Completions of this mission before this one.
    total: i64,
    /// Set when this statement wrote the row; NULL when the day's row already existed.
    streak_days: Option<i32>,
    points: Option<i32>,
}

/// Records the completion of `mission` by `user` for `day` at `at`, with its streak, points,
/// achievement and events, in one transaction. One statement finds the open goal holding the
/// mission, yesterday's streak and the count so far, and inserts the row: the connection is held
/// for as few round trips as possible.
pub async fn complete(
    pool: &PgPool,
    user: Uuid,
    mission: &MissionId,
    day: NaiveDate,
    at: DateTime<Utc>,
    notes: Option<&str>,
) -> anyhow::Result<Outcome> {
    let mut tx = pool.begin().await.context("starting a completion")?;
    let recorded = sqlx::query_as!(
        Recorded,
        r#"WITH ctx AS (
             SELECT g.id AS goal_id, $4 < g.created_at AS before_goal,
                    coalesce((SELECT c.streak_days FROM goals.completions c
                               WHERE c.user_id = $1 AND c.mission_id = $2 AND c.day = $3::date - 1), 0) + 1 AS streak,
                    (SELECT count(*) FROM goals.completions c WHERE c.user_id = $1 AND c.mission_id = $2) AS total
             FROM goals.goals g JOIN goals.goal_missions gm ON gm.goal_id = g.id
             WHERE g.user_id = $1 AND g.end_date IS NULL AND gm.mission_id = $2),
           ins AS (
             INSERT INTO goals.completions (user_id, mission_id, day, goal_id, completed_at, notes, streak_days, points)
             SELECT $1, $2, $3, goal_id, $4, $5, streak, ($6::int[])[least(streak, cardinality($6::int[]))] FROM ctx
             WHERE NOT before_goal
             ON CONFLICT ON CONSTRAINT completions_pkey DO NOTHING
             RETURNING streak_days, points)
           SELECT goal_id AS "goal_id!", before_goal AS "before_goal!", ctx.total AS "total!",
                  ins.streak_days AS "streak_days?", ins.points AS "points?"
           FROM ctx LEFT JOIN ins ON true"#,
        user,
        mission.as_str(),
        day,
        at,
        notes,
        &rules::points_by_streak(),
    )
    .fetch_optional(&mut *tx)
    .await
    .context("recording a completion")?;
    let Some(Recorded { goal_id, total, streak_days: Some(streak_days), points: Some(points), .. }) = recorded else {
        let outcome = match recorded {
            None => Outcome::NotInGoal,
            Some(r) if r.before_goal => Outcome::BeforeGoal,
            // Another request (or an earlier one) completed it first; it has committed by now.
            Some(_) => Outcome::Existing(existing(&mut tx, user, mission, day).await?),
        };
        tx.rollback().await.context("ending a completion that wrote nothing")?;
        return Ok(outcome);
    };
    let mut achieved = None;
    if let Some(milestone) = rules::milestone(streak_days) {
        let first = sqlx::query_scalar!(
            "INSERT INTO goals.achievements (goal_id, mission_id, milestone, user_id, achieved_on) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT ON CONSTRAINT achievements_pkey DO NOTHING RETURNING milestone",
            goal_id,
            mission.as_str(),
            milestone,
            user,
            day,
        )
        .fetch_optional(&mut *tx)
        .await
        .context("recording an achievement")?;
        if first.is_some() {
            let event = GoalAchieved {
                user_id: user,
                goal_id,
                mission_id: mission.to_string(),
                streak_days: milestone,
                achieved_on: day,
            };
            bus::publish(&mut tx, NewEvent::of(&event)?).await?;
            achieved = Some(milestone);
        }
    }
    let event = MissionCompleted {
        user_id: user,
        goal_id,
        mission_id: mission.to_string(),
        day,
        streak_days,
        points,
    };
    bus::publish(&mut tx, NewEvent::of(&event)?).await?;
    tx.commit().await.context("committing a completion")?;
    let completion =
        Completion { goal_id, day, completed_at: at, streak_days, points, total_completed: total + 1 };
    Ok(Outcome::Recorded { completion, achieved })
}

async fn existing(
    conn: &mut PgConnection,
    user: Uuid,
    mission: &MissionId,
    day: NaiveDate,
) -> anyhow::Result<Completion> {
    let c = sqlx::query!(
        r#"SELECT goal_id, completed_at, streak_days, points,
                  (SELECT count(*) FROM goals.completions a WHERE a.user_id = c.user_id AND a.mission_id = c.mission_id
                     AND a.day <= c.day) AS "total!"
           FROM goals.completions c WHERE c.user_id = $1 AND c.mission_id = $2 AND c.day = $3"#,
        user,
        mission.as_str(),
        day,
    )
    .fetch_one(conn)
    .await
    .context("reading an existing completion")?;
    Ok(Completion {
        goal_id: c.goal_id,
        day,
        completed_at: c.completed_at,
        streak_days: c.streak_days,
        points: c.points,
        total_completed: c.total,
    })
}
