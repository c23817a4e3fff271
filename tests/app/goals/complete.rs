//! Completing missions: once per Seoul day (repeats and races change nothing), points, streaks
//! across gaps, achievements once each, and what a completion may say.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use super::{GoalsApp, failing_fields, mission, noon};

#[sqlx::test]
async fn a_mission_is_completed_once_a_day_and_a_repeat_answers_the_same_completion(pool: PgPool) {
    let app = GoalsApp::new(pool.clone(), &noon(10));
    let u = app.user("once@example.com").await;
    app.select(&u, &["water-8-cups", "bp-check"]).await;
    let first =
        app.complete(&u, "water-8-cups", json!({"completed": true, "notes": "  아침에 두 잔  "})).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let f = &first.body["data"];
    assert_eq!(f["status"], "COMPLETED");
    assert_eq!(
        (f["newStreakDays"].as_i64(), f["earnedPoints"].as_i64(), f["totalCompletedCount"].as_i64()),
        (Some(1), Some(10), Some(1))
    );
    assert_eq!(f["achievementMessage"], json!(null));
    assert_eq!(f["date"], "2026-03-10");

    app.set_time("2026-03-10T05:00:00Z");
    let repeat = app.complete(&u, "water-8-cups", json!({"completed": true, "notes": "다시"})).await;
    assert_eq!(repeat.status, StatusCode::OK, "{}", repeat.text);
    let r = &repeat.body["data"];
    assert_eq!(r["status"], "ALREADY_COMPLETED");
    assert_eq!(r["completedAt"], f["completedAt"], "the existing completion, not a new one");
    assert_eq!((r["earnedPoints"].as_i64(), r["totalCompletedCount"].as_i64()), (Some(10), Some(1)));
    let rows: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT mission_id, notes FROM goals.completions WHERE user_id = $1::uuid")
            .bind(&u.id)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(rows, vec![("water-8-cups".to_string(), Some("아침에 두 잔".to_string()))]);
    assert_eq!(app.events("mission.completed", &u).await.len(), 1);
    let active = app.active(&u).await;
    assert_eq!(
        (active["todayCompletedCount"].as_u64(), active["completionRate"].as_f64()),
        (Some(1), Some(50.0))
    );
    assert_eq!(mission(&active, "water-8-cups")["completedToday"], true);
    assert_eq!(mission(&active, "bp-check")["status"], "PENDING");
}

#[sqlx::test]
async fn two_requests_racing_to_complete_the_same_mission_record_it_once(pool: PgPool) {
    let app = GoalsApp::new(pool.clone(), &noon(10));
    let u = app.user("race@example.com").await;
    app.select(&u, &["water-8-cups"]).await;
    let goal: uuid::Uuid = sqlx::query_scalar("SELECT id FROM goals.goals WHERE user_id = $1::uuid")
        .bind(&u.id)
        .fetch_one(&pool)
        .await
        .unwrap();
    // Hold the day's row in an open transaction, so both requests reach the insert and wait on it.
    let mut blocker = pool.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO goals.completions (user_id, mission_id, day, goal_id, completed_at, streak_days, points) \
         VALUES ($1::uuid, 'water-8-cups', '2026-03-10', $2, now(), 1, 10)",
    )
    .bind(&u.id)
    .bind(goal)
    .execute(&mut *blocker)
    .await
    .unwrap();
    let one = app.complete(&u, "water-8-cups", json!({"completed": true}));
    let two = app.complete(&u, "water-8-cups", json!({"completed": true}));
    let release = async {
        for _ in 0..1000 {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .fetch_one(&pool)
            .await
            .unwrap();
            if waiting >= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(waiting, 2, "both requests wait on the same day's row");
        blocker.rollback().await.unwrap();
    };
    let (a, b, ()) = tokio::join!(one, two, release);
    assert_eq!((a.status, b.status), (StatusCode::OK, StatusCode::OK), "{} / {}", a.text, b.text);
    let mut statuses =
        [a.body["data"]["status"].as_str().unwrap(), b.body["data"]["status"].as_str().unwrap()];
    statuses.sort();
    assert_eq!(statuses, ["ALREADY_COMPLETED", "COMPLETED"]);
    assert_eq!(a.body["data"]["completedAt"], b.body["data"]["completedAt"]);
    let rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM goals.completions").fetch_one(&pool).await.unwrap();
    assert_eq!(rows, 1);
    assert_eq!(app.events("mission.completed", &u).await.len(), 1);
}

#[sqlx::test]
async fn streaks_grow_daily_break_on_a_missed_day_and_earn_points_and_achievements_once(pool: PgPool) {
    let app = GoalsApp::new(pool.clone(), &noon(1));
    let u = app.user("streak@example.com").await;
    app.select(&u, &["water-8-cups"]).await;
    let mut seen = Vec::new();
    for day in 1..=7 {
        app.set_time(&noon(day));
        let d = app.done(&u, "water-8-cups").await.body["data"].clone();
        seen.push((
            d["newStreakDays"].as_i64().unwrap(),
            d["earnedPoints"].as_i64().unwrap(),
            d["achievementMessage"].is_string(),
        ));
    }
    assert_eq!(
        seen,
        [
            (1, 10, false),
            (2, 10, false),
            (3, 20, true),
            (4, 20, false),
            (5, 20, false),
            (6, 20, false),
            (7, 30, true)
        ]
    );
    // Day 8 is missed. While it is still open the streak lives; the next day it is gone.
    app.set_time(&noon(8));
    assert_eq!(mission(&app.active(&u).await, "water-8-cups")["streakDays"], 7);
    app.set_time(&noon(9));
    assert_eq!(mission(&app.active(&u).await, "water-8-cups")["streakDays"], 0);
    let mut after = Vec::new();
    for day in 9..=11 {
        app.set_time(&noon(day));
        let d = app.done(&u, "water-8-cups").await.body["data"].clone();
        after.push((
            d["newStreakDays"].as_i64().unwrap(),
            d["earnedPoints"].as_i64().unwrap(),
            d["achievementMessage"].is_string(),
        ));
    }
    assert_eq!(
        after,
        [(1, 10, false), (2, 10, false), (3, 20, false)],
        "3 days again: no second achievement in this goal"
    );
    let achieved = app.events("goal.achieved", &u).await;
    let days: Vec<i64> = achieved.iter().map(|e| e["streakDays"].as_i64().unwrap()).collect();
    assert_eq!(days, [3, 7]);
    assert_eq!(achieved[0]["missionId"], "water-8-cups");
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM goals.achievements").fetch_one(&pool).await.unwrap();
    assert_eq!(stored, 2);
    let total = app.complete(&u, "water-8-cups", json!({})).await;
    assert_eq!(total.body["data"]["totalCompletedCount"], 10);
    assert_eq!(total.body["data"]["status"], "ALREADY_COMPLETED");
}

#[sqlx::test]
async fn a_mission_outside_the_open_goal_is_not_found(pool: PgPool) {
    let app = GoalsApp::new(pool.clone(), &noon(10));
    let u = app.user("outside@example.com").await;
    let none = app.complete(&u, "water-8-cups", json!({"completed": true})).await;
    assert_eq!(none.status, StatusCode::NOT_FOUND, "no goal yet: {}", none.text);
    assert_eq!(none.body["code"], "MISSION_NOT_IN_GOAL");
    app.select(&u, &["water-8-cups"]).await;
    app.select(&u, &["bp-check"]).await;
    for id in ["water-8-cups", "walk-7000-steps", "no-such-mission", "BAD_ID", "%ED%95%9C"] {
        let a = app.complete(&u, id, json!({"completed": true})).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{id}: {}", a.text);
    }
    let rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM goals.completions").fetch_one(&pool).await.unwrap();
    assert_eq!(rows, 0);
}

#[sqlx::test]
async fn what_a_completion_says_is_checked(pool: PgPool) {
    // The goal is set 30 s after midnight in Seoul; the checks run at 15:00 in Seoul.
    let app = GoalsApp::new(pool.clone(), "2026-03-09T15:00:30Z");
    let u = app.user("checked@example.com").await;
    app.select(&u, &["water-8-cups"]).await;
    app.set_time("2026-03-10T06:00:00Z");
    let long = "가".repeat(501);
    let cases = [
        (json!({"completed": false}), vec!["completed"]),
        (json!({"completedAt": "2026-03-09T14:00:00Z"}), vec!["completedAt"]),
        (json!({"completedAt": "2026-03-10T07:00:00Z"}), vec!["completedAt"]),
        (json!({"completedAt": "어제"}), vec!["completedAt"]),
        (json!({"completedAt": "2026-03-10T00:00:10+09:00"}), vec!["completedAt"]),
        (json!({"notes": long}), vec!["notes"]),
        (
            json!({"completed": false, "completedAt": "x", "notes": long}),
            vec!["completed", "completedAt", "notes"],
        ),
        (json!({"completed": "yes"}), vec!["completed"]),
    ];
    for (body, fields) in cases {
        let a = app.complete(&u, "water-8-cups", body.clone()).await;
        assert_eq!(failing_fields(&a), fields, "{body}");
    }
    assert_eq!(
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM goals.completions")
            .fetch_one(&pool)
            .await
            .unwrap(),
        0
    );
    // 15:01 UTC the day before is 00:01 today in Seoul: a queued completion from just after midnight.
    let queued = app
        .complete(&u, "water-8-cups", json!({"completed": true, "completedAt": "2026-03-10T00:01:00+09:00"}))
        .await;
    assert_eq!(queued.status, StatusCode::OK, "{}", queued.text);
    assert_eq!(queued.body["data"]["completedAt"], "2026-03-09T15:01:00Z");
    assert_eq!(queued.body["data"]["date"], "2026-03-10");
}
