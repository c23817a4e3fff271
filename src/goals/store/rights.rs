//! Data rights (개인정보보호법 §35, §35-2, §36): a user's goals, completions and achievements,
//! exported as JSON and erased.

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

type GoalRow =
    (Uuid, NaiveDate, Option<NaiveDate>, Option<String>, Option<String>, DateTime<Utc>, Option<DateTime<Utc>>, Vec<String>);

type CompletionRow = (String, NaiveDate, Uuid, DateTime<Utc>, Option<String>, i32, i32);

pub async fn export(pool: &PgPool, user: Uuid) -> anyhow::Result<Value> {
    let goals: Vec<GoalRow> = sqlx::query_as(
        "SELECT g.id, g.start_date, g.end_date, g.close_reason, g.reset_note, g.created_at, g.closed_at, \
                ARRAY(SELECT mission_id FROM goals.goal_missions WHERE goal_id = g.id ORDER BY position) \
         FROM goals.goals g WHERE g.user_id = $1 ORDER BY g.start_date, g.created_at",
    )
    .bind(user)
    .fetch_all(pool)
    .await
    .context("exporting goals")?;
    let completions: Vec<CompletionRow> = sqlx::query_as(
        "SELECT mission_id, day, goal_id, completed_at, notes, streak_days, points FROM goals.completions \
         WHERE user_id = $1 ORDER BY day, mission_id",
    )
    .bind(user)
    .fetch_all(pool)
    .await
    .context("exporting completions")?;
    let achievements: Vec<(Uuid, String, i32, NaiveDate)> = sqlx::query_as(
        "SELECT goal_id, mission_id, milestone, achieved_on FROM goals.achievements WHERE user_id = $1 \
         ORDER BY achieved_on, mission_id, milestone",
    )
    .bind(user)
    .fetch_all(pool)
    .await
    .context("exporting achievements")?;
    Ok(json!({
        "goals": goals.iter().map(|(id, start, end, reason, note, created, closed, missions)| json!({
            "goalId": id, "startDate": start, "endDate": end, "closeReason": reason, "resetReason": note,
            "createdAt": created, "closedAt": closed, "missionIds": missions,
        })).collect::<Vec<_>>(),
        "completions": completions.iter().map(|(m, day, goal, at, notes, streak, points)| json!({
            "missionId": m, "date": day, "goalId": goal, "completedAt": at, "notes": notes,
            "streakDays": streak, "earnedPoints": points,
        })).collect::<Vec<_>>(),
        "achievements": achievements.iter().map(|(goal, m, milestone, on)| json!({
            "goalId": goal, "missionId": m, "streakDays": milestone, "achievedOn": on,
        })).collect::<Vec<_>>(),
    }))
}

/// Erases everything the goals domain holds about a user (inside the erasure's transaction).
/// Completions, goal missions and achievements hang off the goals (`ON DELETE CASCADE`); they are
/// deleted explicitly too, so no row survives whatever the keys.
pub async fn erase(conn: &mut PgConnection, user: Uuid) -> anyhow::Result<()> {
    for sql in [
        "DELETE FROM goals.achievements WHERE user_id = $1",
        "DELETE FROM goals.completions WHERE user_id = $1",
        "DELETE FROM goals.goals WHERE user_id = $1",
    ] {
        sqlx::query(sql).bind(user).execute(&mut *conn).await.context("erasing a user's goals")?;
    }
    Ok(())
}
