//! Data rights through the seam: goals, completions and achievements are in the export and gone
//! after the erasure.

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use super::{GoalsApp, noon};

#[sqlx::test]
async fn export_holds_goals_completions_and_achievements_and_erasure_leaves_none(pool: PgPool) {
    let app = GoalsApp::new(pool.clone(), &noon(1));
    let u = app.user("rights@example.com").await;
    let other = app.user("stays@example.com").await;
    app.select(&other, &["water-8-cups"]).await;
    app.done(&other, "water-8-cups").await;
    app.select(&u, &["water-8-cups"]).await;
    for day in 1..=3 {
        app.set_time(&noon(day));
        app.complete(&u, "water-8-cups", json!({"completed": true, "notes": format!("{day}일째 메모")}))
            .await;
    }
    app.call(&u, Method::POST, "/api/goals/missions/reset", Some(json!({"reason": "잠시 쉬어요"}))).await;

    let e = app.get(&u, "/api/users/me/export").await;
    assert_eq!(e.status, StatusCode::OK, "{}", e.text);
    let g = &e.body["data"]["data"]["goals"];
    assert_eq!(g["goals"].as_array().unwrap().len(), 1);
    assert_eq!(g["goals"][0]["resetReason"], "잠시 쉬어요");
    assert_eq!(g["goals"][0]["missionIds"], json!(["water-8-cups"]));
    assert_eq!(g["completions"].as_array().unwrap().len(), 3);
    assert_eq!(g["completions"][2]["notes"], "3일째 메모");
    assert_eq!(g["completions"][2]["streakDays"], 3);
    assert_eq!(
        g["achievements"],
        json!([{"goalId": g["goals"][0]["goalId"], "missionId": "water-8-cups", "streakDays": 3, "achievedOn": "2026-03-03"}])
    );
    assert!(!e.text.contains(&other.id), "only the caller's data");

    let d = app.call(&u, Method::DELETE, "/api/users/me", None).await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    for table in ["goals", "completions", "achievements"] {
        let left: i64 =
            sqlx::query_scalar(&format!("SELECT count(*) FROM goals.{table} WHERE user_id = $1::uuid"))
                .bind(&u.id)
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(left, 0, "goals.{table}");
    }
    let orphans: i64 = sqlx::query_scalar("SELECT count(*) FROM goals.goal_missions gm WHERE NOT EXISTS (SELECT 1 FROM goals.goals g WHERE g.id = gm.goal_id)")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(orphans, 0);
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events.outbox WHERE payload->>'userId' = $1 AND event_type LIKE 'goal%' OR event_type LIKE 'mission%' AND payload->>'userId' = $1")
        .bind(&u.id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(events, 0, "the user's goal events went with the account");
    assert_eq!(
        app.active(&other).await["todayCompletedCount"],
        0,
        "another user's data stays (their day has moved on)"
    );
    let kept: i64 =
        sqlx::query_scalar("SELECT count(*) FROM goals.completions").fetch_one(&pool).await.unwrap();
    assert_eq!(kept, 1);
}
