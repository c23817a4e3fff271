//! Another user's missions are never reachable: every route reads and writes the token's user,
//! whatever ids a request carries.

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use super::{GoalsApp, mission, noon};

#[sqlx::test]
async fn another_users_goal_completions_and_history_are_never_reachable(pool: PgPool) {
    let app = GoalsApp::new(pool.clone(), &noon(10));
    let a = app.user("a@example.com").await;
    let b = app.user("b@example.com").await;
    app.select(&a, &["water-8-cups", "walk-7000-steps"]).await;
    app.done(&a, "water-8-cups").await;

    // B sees nothing of A's, even when naming A.
    let active = app.get(&b, &format!("/api/goals/missions/active?userId={}", a.id)).await;
    assert_eq!(active.body["data"]["totalMissions"], 0, "{}", active.text);
    let history = app.get(&b, &format!("/api/goals/missions/history?userId={}", a.id)).await;
    assert_eq!(history.body["data"]["scheduledMissionDays"], 0, "{}", history.text);
    assert!(!history.text.contains("water-8-cups"));
    // B cannot complete A's mission, with A's id anywhere in the request.
    let body = json!({"completed": true, "userId": a.id, "goalId": a.id});
    let uri = format!("/api/goals/missions/walk-7000-steps/complete?userId={}", a.id);
    let steal = app.call(&b, Method::PUT, &uri, Some(body)).await;
    assert_eq!(steal.status, StatusCode::NOT_FOUND, "{}", steal.text);
    // B's reset closes nothing of A's.
    let reset = app
        .call(&b, Method::POST, "/api/goals/missions/reset", Some(json!({"reason": "x", "userId": a.id})))
        .await;
    assert_eq!(reset.body["data"]["closedGoalId"], json!(null), "{}", reset.text);
    // B's selection leaves A's goal open.
    app.select(&b, &["walk-7000-steps"]).await;
    app.done(&b, "walk-7000-steps").await;

    let mine = app.active(&a).await;
    assert_eq!(mine["totalMissions"], 2);
    assert_eq!(mission(&mine, "water-8-cups")["completedToday"], true);
    assert_eq!(mission(&mine, "walk-7000-steps")["completedToday"], false, "B's completion is B's");
    let open: i64 = sqlx::query_scalar("SELECT count(*) FROM goals.goals WHERE end_date IS NULL")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(open, 2);
    let a_rows: i64 = sqlx::query_scalar("SELECT count(*) FROM goals.completions WHERE user_id = $1::uuid")
        .bind(&a.id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(a_rows, 1);
}
