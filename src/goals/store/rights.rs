//! Data rights (개인정보보호법 §35, §35-2, §36): a user's goals, completions and achievements,
//! exported as JSON and erased.

use anyhow::Context;
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::goals::CloseReason;

pub async fn export(pool: &PgPool, user: Uuid) -> anyhow::Result<Value> {
    let goals = sqlx::query!(
        r#"SELECT g.id, g.start_date, g.end_date, g.close_reason AS "close_reason: CloseReason", g.reset_note, g.created_at, g.closed_at,
                  ARRAY(SELECT mission_id FROM goals.goal_missions WHERE goal_id = g.id ORDER BY position)
                    AS "missions!"
           FROM goals.goals g WHERE g.user_id = $1 ORDER BY g.start_date, g.created_at"#,
        user,
    )
    .fetch_all(pool)
    .await
    .context("exporting goals")?;
    let completions = sqlx::query!(
        "SELECT mission_id, day, goal_id, completed_at, notes, streak_days, points FROM goals.completions \
         WHERE user_id = $1 ORDER BY day, mission_id",
        user,
    )
    .fetch_all(pool)
    .await
    .context("exporting completions")?;
    let achievements = sqlx::query!(
        "SELECT goal_id, mission_id, milestone, achieved_on FROM goals.achievements WHERE user_id = $1 \
         ORDER BY achieved_on, mission_id, milestone",
        user,
    )
    .fetch_all(pool)
    .await
    .context("exporting achievements")?;
    Ok(json!({
        "goals": goals.iter().map(|g| json!({
            "goalId": g.id, "startDate": g.start_date, "endDate": g.end_date, "closeReason": g.close_reason,
            "resetReason": g.reset_note, "createdAt": g.created_at, "closedAt": g.closed_at, "missionIds": g.missions,
        })).collect::<Vec<_>>(),
        "completions": completions.iter().map(|c| json!({
            "missionId": c.mission_id, "date": c.day, "goalId": c.goal_id, "completedAt": c.completed_at,
            "notes": c.notes, "streakDays": c.streak_days, "earnedPoints": c.points,
        })).collect::<Vec<_>>(),
        "achievements": achievements.iter().map(|a| json!({
            "goalId": a.goal_id, "missionId": a.mission_id, "streakDays": a.milestone, "achievedOn": a.achieved_on,
        })).collect::<Vec<_>>(),
    }))
}

/// Erases everything the goals domain holds about a user (inside the erasure's transaction).
/// Completions, goal missions and achievements hang off the goals (`ON DELETE CASCADE`); they are
/// deleted explicitly too, so no row survives whatever the keys.
pub async fn erase(conn: &mut PgConnection, user: Uuid) -> anyhow::Result<()> {
    sqlx::query!("DELETE FROM goals.achievements WHERE user_id = $1", user)
        .execute(&mut *conn)
        .await
        .context("erasing a user's achievements")?;
    sqlx::query!("DELETE FROM goals.completions WHERE user_id = $1", user)
        .execute(&mut *conn)
        .await
        .context("erasing a user's completions")?;
    sqlx::query!("DELETE FROM goals.goals WHERE user_id = $1", user)
        .execute(&mut *conn)
        .await
        .context("erasing a user's goals")?;
    Ok(())
}
