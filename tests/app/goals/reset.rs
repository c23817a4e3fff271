//! Reset: the goal is closed with the user's reason, and fresh missions are recommended by rules.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

use super::{GoalsApp, failing_fields, noon};

#[sqlx::test]
async fn reset_closes_the_goal_and_recommends_other_missions_by_rules(pool: PgPool) {
    let app = GoalsApp::new(pool.clone(), &noon(1));
    let u = app.user("reset@example.com").await;
    sqlx::query("UPDATE goals.missions SET retired_at = now() WHERE id = 'morning-stretch-10'")
        .execute(&pool)
        .await
        .unwrap();
    app.select(&u, &["water-8-cups", "leave-the-soup"]).await;
    // Kept 9 of 10 mission-days over five days: a step up in difficulty is recommended.
    for day in 1..=5 {
        app.set_time(&noon(day));
        app.done(&u, "water-8-cups").await;
        if day != 3 {
            app.done(&u, "leave-the-soup").await;
        }
    }
    app.set_time(&noon(6));
    let body = json!({"reason": "  좀 더 어려운 걸 해 보고 싶어요 ", "currentMissionIds": ["bp-check"]});
    let a = app.call(&u, Method::POST, "/api/goals/missions/reset", Some(body)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let d = &a.body["data"];
    assert!(d["closedGoalId"].is_string() && d["resetCompletedAt"].is_string() && d["message"].is_string());
    let recs = d["newRecommendations"].as_array().unwrap();
    assert_eq!(recs.len(), 5);
    let ids: BTreeSet<&str> = recs.iter().map(|r| r["missionId"].as_str().unwrap()).collect();
    for gone in ["water-8-cups", "leave-the-soup", "bp-check", "morning-stretch-10"] {
        assert!(!ids.contains(gone), "{gone} is recommended: {ids:?}");
    }
    let categories: BTreeSet<&str> = recs.iter().map(|r| r["category"].as_str().unwrap()).collect();
    assert_eq!(categories.len(), 5, "one per area: {categories:?}");
    assert_eq!(recs[0]["difficulty"], "HARD", "90 % kept: the hardest fit first");
    assert!(recs.iter().all(|r| r["reason"].as_str().unwrap().contains("90%")), "{recs:?}");
    assert!(recs.iter().all(|r| r["title"].is_string() && r["description"].is_string()));

    let (end, reason, note): (String, String, String) = sqlx::query_as(
        "SELECT end_date::text, close_reason, reset_note FROM goals.goals WHERE id = $1::uuid",
    )
    .bind(d["closedGoalId"].as_str().unwrap())
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        (end.as_str(), reason.as_str(), note.as_str()),
        ("2026-03-06", "RESET", "좀 더 어려운 걸 해 보고 싶어요")
    );
    assert_eq!(app.active(&u).await["totalMissions"], 0);
    let events = app.events("mission.reset", &u).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["missionIds"], json!(["water-8-cups", "leave-the-soup"]));
    assert!(!events[0].to_string().contains("어려운"), "the user's words stay out of events");

    // Without an open goal: recommendations for a start, nothing closed, no event.
    let again =
        app.call(&u, Method::POST, "/api/goals/missions/reset", Some(json!({"reason": "다시"}))).await;
    assert_eq!(again.body["data"]["closedGoalId"], Value::Null);
    assert_eq!(again.body["data"]["newRecommendations"][0]["difficulty"], "EASY");
    assert_eq!(app.events("mission.reset", &u).await.len(), 1);
}

#[sqlx::test]
async fn bad_resets_name_the_failing_fields(pool: PgPool) {
    let app = GoalsApp::new(pool.clone(), &noon(1));
    let u = app.user("bad-reset@example.com").await;
    app.select(&u, &["water-8-cups"]).await;
    let long = "가".repeat(501);
    let cases = [
        (json!({"reason": "  "}), vec!["reason"]),
        (json!({"reason": long}), vec!["reason"]),
        (json!({}), vec!["reason"]),
        (json!({"reason": "x", "currentMissionIds": ["NOPE"]}), vec!["currentMissionIds[0]"]),
        (
            json!({"reason": "x", "currentMissionIds": ["a", "b", "c", "d", "e", "f"]}),
            vec!["currentMissionIds"],
        ),
        (
            json!({"reason": "", "currentMissionIds": ["no-such-mission"]}),
            vec!["reason", "currentMissionIds[0]"],
        ),
    ];
    for (body, fields) in cases {
        let a = app.call(&u, Method::POST, "/api/goals/missions/reset", Some(body.clone())).await;
        assert_eq!(failing_fields(&a), fields, "{body}");
    }
    assert_eq!(app.active(&u).await["totalMissions"], 1, "nothing was closed");
}

/// The missions recommended first help what the latest checkup says needs attention; without
/// the health-data consent the checkup is not read and the catalogue alone decides.
#[sqlx::test]
async fn recommendations_follow_the_latest_checkup_when_the_user_allows_it(pool: PgPool) {
    let app = GoalsApp::new(pool.clone(), &noon(1));
    let reset = |token: String| {
        let app = &app;
        async move {
            let a = app
                .call(&token, Method::POST, "/api/goals/missions/reset", Some(json!({"reason": "처음"})))
                .await;
            assert_eq!(a.status, StatusCode::OK, "{}", a.text);
            a.body["data"]["newRecommendations"].clone()
        }
    };
    let ids = |recs: &Value| -> Vec<String> {
        recs.as_array().unwrap().iter().map(|r| r["missionId"].as_str().unwrap().to_string()).collect()
    };
    // Someone without a checkup: the catalogue alone.
    let plain = app.user("plain@example.com").await;
    let baseline = ids(&reset(plain.token().clone()).await);

    let u = app.user("checked@example.com").await;
    let consent = |granted: bool| json!({"consents": [{"type": "HEALTH_DATA", "granted": granted, "version": "2026-11"}]});
    let c = app.call(&u, Method::PUT, "/api/users/me/consents", Some(consent(true))).await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.text);
    // Blood pressure and fasting glucose in 정상B(경계); everything else fine.
    let checkup = json!({"checkupDate": "2026-02-01", "systolic": 132, "diastolic": 84,
        "fastingGlucose": 112, "height": 175, "weight": 68, "waist": 80});
    let m = app.call(&u, Method::POST, "/api/health/checkups", Some(checkup)).await;
    assert_eq!(m.status, StatusCode::CREATED, "{}", m.text);
    let shaped = reset(u.token().clone()).await;
    assert_ne!(ids(&shaped), baseline, "the checkup changed nothing");
    for r in shaped.as_array().unwrap().iter().take(2) {
        let helps: Vec<&str> = r["helps"].as_array().unwrap().iter().map(|h| h.as_str().unwrap()).collect();
        assert!(helps.contains(&"BLOOD_PRESSURE") && helps.contains(&"GLUCOSE"), "{shaped}");
    }
    // Consent withdrawn: the checkup is not read.
    app.call(&u, Method::PUT, "/api/users/me/consents", Some(consent(false))).await;
    assert_eq!(ids(&reset(u.token().clone()).await), baseline);
}
