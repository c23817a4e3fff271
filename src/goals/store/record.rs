//! Reading a user's goals and completions for statistics, and the users with an open goal.

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::goals::{
    model::MissionId,
    stats::{GoalSpan, Record},
};

/// Every goal and completion of a user (a few thousand rows after years of daily use).
pub async fn record(pool: &PgPool, user: Uuid) -> anyhow::Result<Record> {
    let goals = sqlx::query!(
        r#"SELECT g.start_date, g.end_date,
                  ARRAY(SELECT mission_id FROM goals.goal_missions WHERE goal_id = g.id ORDER BY position)
                    AS "missions!"
           FROM goals.goals g WHERE g.user_id = $1 ORDER BY g.start_date, g.created_at"#,
        user,
    )
    .fetch_all(pool)
    .await
    .context("reading a user's goals")?;
    let done = sqlx::query!("SELECT mission_id, day FROM goals.completions WHERE user_id = $1 ORDER BY day", user)
        .fetch_all(pool)
        .await
        .context("reading a user's completions")?;
    Ok(Record {
        goals: goals
            .into_iter()
            .map(|g| GoalSpan {
                start: g.start_date,
                end: g.end_date,
                missions: g.missions.into_iter().map(MissionId::from_db).collect(),
            })
            .collect(),
        done: done.into_iter().map(|c| (MissionId::from_db(c.mission_id), c.day)).collect(),
    })
}

/// [`record`] and [`last_activity`] of many users, in three queries.
pub async fn records_of(
    pool: &PgPool,
    users: &[Uuid],
) -> anyhow::Result<std::collections::HashMap<Uuid, (Record, Option<DateTime<Utc>>)>> {
    let mut out: std::collections::HashMap<Uuid, (Record, Option<DateTime<Utc>>)> =
        users.iter().map(|u| (*u, (Record::default(), None))).collect();
    let goals = sqlx::query!(
        r#"SELECT g.user_id, g.start_date, g.end_date,
                  ARRAY(SELECT mission_id FROM goals.goal_missions WHERE goal_id = g.id ORDER BY position)
                    AS "missions!"
           FROM goals.goals g WHERE g.user_id = ANY($1) ORDER BY g.user_id, g.start_date, g.created_at"#,
        users,
    )
    .fetch_all(pool)
    .await
    .context("reading many users' goals")?;
    for g in goals {
        if let Some((r, _)) = out.get_mut(&g.user_id) {
            let missions = g.missions.into_iter().map(MissionId::from_db).collect();
            r.goals.push(GoalSpan { start: g.start_date, end: g.end_date, missions });
        }
    }
    let done = sqlx::query!(
        "SELECT user_id, mission_id, day FROM goals.completions WHERE user_id = ANY($1) ORDER BY user_id, day",
        users,
    )
    .fetch_all(pool)
    .await
    .context("reading many users' completions")?;
    for c in done {
        if let Some((r, _)) = out.get_mut(&c.user_id) {
            r.done.push((MissionId::from_db(c.mission_id), c.day));
        }
    }
    let last = sqlx::query!(
        "SELECT user_id, max(completed_at) AS last FROM goals.completions WHERE user_id = ANY($1) GROUP BY user_id",
        users,
    )
    .fetch_all(pool)
    .await
    .context("reading many users' last activity")?;
    for l in last {
        if let Some((_, at)) = out.get_mut(&l.user_id) {
            *at = l.last;
        }
    }
    Ok(out)
}

/// When the user last completed a mission.
pub async fn last_activity(pool: &PgPool, user: Uuid) -> anyhow::Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar!("SELECT max(completed_at) FROM goals.completions WHERE user_id = $1", user)
        .fetch_one(pool)
        .await
        .context("reading a user's last activity")
}

/// Users with an open goal, in id order, after `after` (keyset paging: pass the last id of the
/// previous page). Served by the partial unique index on open goals.
pub async fn users_with_active_goal(pool: &PgPool, after: Option<Uuid>, limit: i64) -> anyhow::Result<Vec<Uuid>> {
    sqlx::query_scalar!(
        "SELECT user_id FROM goals.goals WHERE end_date IS NULL AND ($1::uuid IS NULL OR user_id > $1) \
         ORDER BY user_id LIMIT $2",
        after,
        limit,
    )
    .fetch_all(pool)
    .await
    .context("paging users with an open goal")
}
