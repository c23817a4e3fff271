//! History through HTTP against the fixture computed by hand in src/goals/stats_tests.rs.
//!
//! Goal 1: water + walk, in force 03-01..03-10 (closed on 03-11). Goal 2: water + sleep, from
//! 03-11, open. Today is 03-20.
//! water: 01-05, 07, 08, 11-20 · walk: 02-04, 09, and 12 (not scheduled then) · sleep: 11, 13-15, 19.

use axum::http::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use super::{GoalsApp, User, failing_fields, noon};

async fn fixture(pool: &PgPool, u: &User) {
    let (g1, g2) = (Uuid::now_v7(), Uuid::now_v7());
    sqlx::query(
        "INSERT INTO goals.goals (id, user_id, start_date, end_date, closed_at, close_reason) VALUES \
         ($1, $3::uuid, '2026-03-01', '2026-03-11', '2026-03-11T01:00:00Z', 'REPLACED'), \
         ($2, $3::uuid, '2026-03-11', NULL, NULL, NULL)",
    )
    .bind(g1)
    .bind(g2)
    .bind(&u.id)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO goals.goal_missions (goal_id, mission_id, position) VALUES \
         ($1, 'water-8-cups', 1), ($1, 'walk-7000-steps', 2), ($2, 'water-8-cups', 1), ($2, 'sleep-7-hours', 2)",
    )
    .bind(g1)
    .bind(g2)
    .execute(pool)
    .await
    .unwrap();
    let mut done: Vec<(&str, u32)> = Vec::new();
    done.extend([1, 2, 3, 4, 5, 7, 8].map(|d| ("water-8-cups", d)));
    done.extend((11..=20).map(|d| ("water-8-cups", d)));
    done.extend([2, 3, 4, 9, 12].map(|d| ("walk-7000-steps", d)));
    done.extend([11, 13, 14, 15, 19].map(|d| ("sleep-7-hours", d)));
    for (mission, day) in done {
        let goal = if day < 11 { g1 } else { g2 };
        sqlx::query(
            "INSERT INTO goals.completions (user_id, mission_id, day, goal_id, completed_at, streak_days, points) \
             VALUES ($1::uuid, $2, make_date(2026, 3, $3), $4, make_date(2026, 3, $3) + time '03:00', 1, 10)",
        )
        .bind(&u.id)
        .bind(mission)
        .bind(day as i32)
        .bind(goal)
        .execute(pool)
        .await
        .unwrap();
    }
}

fn stat<'a>(data: &'a Value, id: &str) -> &'a Value {
    data["missionStats"].as_array().unwrap().iter().find(|s| s["missionId"] == id).unwrap()
}

#[sqlx::test]
async fn history_matches_the_hand_computed_fixture(pool: PgPool) {
    let app = GoalsApp::new(pool.clone(), &noon(20));
    let u = app.user("history@example.com").await;
    fixture(&pool, &u).await;

    let a = app.get(&u, "/api/goals/missions/history?startDate=2026-03-01&endDate=2026-03-20").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let d = &a.body["data"];
    assert_eq!(
        (d["periodAchievementRate"].as_f64(), d["totalAchievementRate"].as_f64()),
        (Some(65.0), Some(65.0))
    );
    assert_eq!(
        (d["completedMissionDays"].as_u64(), d["scheduledMissionDays"].as_u64()),
        (Some(26), Some(40))
    );
    assert_eq!((d["bestStreak"].as_i64(), d["currentStreak"].as_i64()), (Some(10), Some(10)));
    assert_eq!(
        d["period"],
        json!({"startDate": "2026-03-01", "endDate": "2026-03-20", "countedUntil": "2026-03-20"})
    );
    for (id, rate, done, total, best) in [
        ("water-8-cups", 85.0, 17, 20, 10),
        ("walk-7000-steps", 40.0, 4, 10, 3),
        ("sleep-7-hours", 50.0, 5, 10, 3),
    ] {
        let s = stat(d, id);
        assert_eq!(
            (
                s["achievementRate"].as_f64(),
                s["completedDays"].as_u64(),
                s["totalDays"].as_u64(),
                s["bestStreak"].as_i64()
            ),
            (Some(rate), Some(done), Some(total), Some(best)),
            "{id}"
        );
        assert!(s["title"].as_str().unwrap().chars().any(|c| ('가'..='힣').contains(&c)));
    }
    let order: Vec<&str> =
        d["missionStats"].as_array().unwrap().iter().map(|s| s["missionId"].as_str().unwrap()).collect();
    assert_eq!(order, ["walk-7000-steps", "sleep-7-hours", "water-8-cups"], "catalogue order");
    let chart = &d["chartData"];
    assert_eq!(chart["chartType"], "line");
    assert_eq!(chart["daily"].as_array().unwrap().len(), 20);
    assert_eq!(
        chart["daily"][0],
        json!({"date": "2026-03-01", "completed": 1, "scheduled": 2, "rate": 50.0})
    );
    let weekly: Vec<(String, u64, u64)> = chart["weekly"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["date"].as_str().unwrap().to_string(),
                w["completed"].as_u64().unwrap(),
                w["scheduled"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        weekly,
        [
            ("2026-02-23".into(), 1, 2),
            ("2026-03-02".into(), 9, 14),
            ("2026-03-09".into(), 10, 14),
            ("2026-03-16".into(), 6, 10)
        ]
    );
    let hydration =
        chart["byCategory"].as_array().unwrap().iter().find(|c| c["category"] == "HYDRATION").unwrap();
    assert_eq!((hydration["label"].as_str(), hydration["rate"].as_f64()), (Some("수분"), Some(85.0)));
    let insights: Vec<&str> = d["insights"].as_array().unwrap().iter().map(|i| i.as_str().unwrap()).collect();
    assert_eq!(
        insights,
        [
            "수분 미션을 가장 꾸준히 지키고 있어요 (달성률 85%).",
            "최근 7일 달성률은 71%로, 그 전 7일(57%)보다 14%p 올랐어요.",
            "이 기간 가장 길게 이어 간 기록은 10일 연속이에요.",
            "'하루 7,000보 걷기' 미션은 달성률이 40%로 가장 낮아요. 시간대를 바꾸거나 더 쉬운 미션으로 바꿔 보세요.",
        ]
    );

    let part = app.get(&u, "/api/goals/missions/history?startDate=2026-03-05&endDate=2026-03-12").await;
    let p = &part.body["data"];
    assert_eq!(
        (p["periodAchievementRate"].as_f64(), p["totalAchievementRate"].as_f64()),
        (Some(43.8), Some(65.0))
    );
    assert_eq!(p["bestStreak"], 3);

    let walk = app
        .get(
            &u,
            "/api/goals/missions/history?startDate=2026-03-01&endDate=2026-03-20&missionIds=walk-7000-steps",
        )
        .await;
    let w = &walk.body["data"];
    assert_eq!((w["periodAchievementRate"].as_f64(), w["bestStreak"].as_i64()), (Some(40.0), Some(3)));
    assert_eq!(w["missionStats"].as_array().unwrap().len(), 1);

    // Without dates: the last 30 days up to today.
    let default = app.get(&u, "/api/goals/missions/history").await;
    assert_eq!(default.body["data"]["period"]["startDate"], "2026-02-19");
    assert_eq!(default.body["data"]["periodAchievementRate"], 65.0);
}

#[sqlx::test]
async fn bad_history_queries_are_refused_naming_the_field(pool: PgPool) {
    let app = GoalsApp::new(pool, &noon(20));
    let u = app.user("bad-history@example.com").await;
    let cases = [
        ("startDate=2026-13-01", vec!["startDate"]),
        ("endDate=20260320", vec!["endDate"]),
        ("startDate=x&endDate=y", vec!["startDate", "endDate"]),
        ("startDate=2026-03-20&endDate=2026-03-01", vec!["startDate"]),
        ("startDate=2025-03-01&endDate=2026-03-02", vec!["endDate"]),
        ("missionIds=Water_8", vec!["missionIds[0]"]),
        ("missionIds=water-8-cups,no-such-mission", vec!["missionIds[1]"]),
    ];
    for (query, fields) in cases {
        let a = app.get(&u, &format!("/api/goals/missions/history?{query}")).await;
        assert_eq!(failing_fields(&a), fields, "{query}");
    }
    let year = app.get(&u, "/api/goals/missions/history?startDate=2024-03-02&endDate=2025-03-02").await;
    assert_eq!(year.status, StatusCode::OK, "366 days are allowed: {}", year.text);
    let empty = app.get(&u, "/api/goals/missions/history?startDate=2026-04-01&endDate=2026-04-30").await;
    assert_eq!(empty.status, StatusCode::OK);
    assert_eq!(empty.body["data"]["period"]["countedUntil"], json!(null));
    assert_eq!(empty.body["data"]["insights"].as_array().unwrap().len(), 1);
}
