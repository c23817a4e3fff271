//! Mission picks: Claude's ids checked against the catalogue (invented ones dropped), the list
//! completed by the goal rules; the goals reset uses the same picks.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use super::{ClaudeFake, IntelApp, Reply};

fn picks() -> serde_json::Value {
    json!({
        "picks": [
            {"missionId": "after-meal-walk-15", "reason": "식후 혈당 관리에 좋아요.", "occupationRelevance": "점심 뒤 사무실 주변을 걸어 보세요."},
            {"missionId": "quantum-yoga-99", "reason": "지어낸 미션", "occupationRelevance": ""},
            {"missionId": "leave-the-soup", "reason": "혈압을 위해 국물을 줄여요.", "occupationRelevance": ""}
        ],
        "summary": "혈압과 혈당을 중심으로 골랐어요."
    })
}

#[sqlx::test]
async fn claude_picks_from_the_catalogue_invented_ids_are_dropped_and_rules_complete_the_list(pool: PgPool) {
    let fake = ClaudeFake::start().await;
    fake.answer("picks", Reply::Json(picks()));
    let app = IntelApp::with_fake(pool, &fake, &[]);
    let u = app.user("picks@example.com", &["HEALTH_DATA", "AI_OVERSEAS_TRANSFER"]).await;
    app.checkup(&u, "2026-10-01").await;
    let a = app.recommend(&u).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let d = &a.body["data"];
    assert_eq!(d["engine"], "claude");
    assert_eq!(d["recommendationReason"], "혈압과 혈당을 중심으로 골랐어요.");
    let missions = d["missions"].as_array().unwrap();
    assert_eq!((missions.len(), d["totalRecommended"].clone()), (5, json!(5)));
    let ids: Vec<&str> = missions.iter().map(|m| m["missionId"].as_str().unwrap()).collect();
    assert_eq!(&ids[..2], ["after-meal-walk-15", "leave-the-soup"]);
    assert!(!ids.contains(&"quantum-yoga-99"));
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), 5, "no repeats: {ids:?}");
    assert_eq!(missions[0]["reason"], "식후 혈당 관리에 좋아요.");
    assert_eq!(missions[0]["occupationRelevance"], "점심 뒤 사무실 주변을 걸어 보세요.");
    assert!(
        missions[1]["occupationRelevance"].as_str().unwrap().contains("소프트웨어 개발자"),
        "the coach fills a blank"
    );
    assert_eq!(
        (missions[0]["engine"].clone(), missions[4]["engine"].clone()),
        (json!("claude"), json!("offline"))
    );
    for m in missions {
        for f in ["title", "description", "category", "difficulty", "healthBenefit", "estimatedTimeMinutes"] {
            assert!(!m[f].is_null(), "{f} missing in {m}");
        }
    }
    let sent = fake.received().await[0].to_string();
    assert!(
        sent.contains("after-meal-walk-15") && sent.contains("정상B(경계)"),
        "catalogue and checkup are sent"
    );
    // Cached: asked once.
    app.recommend(&u).await;
    assert_eq!(fake.received().await.len(), 1);
}

#[sqlx::test]
async fn the_goals_reset_recommends_the_ai_picks_when_claude_answers(pool: PgPool) {
    let fake = ClaudeFake::start().await;
    fake.answer("picks", Reply::Json(picks()));
    let app = IntelApp::with_fake(pool, &fake, &[]);
    let u = app.user("reset-ai@example.com", &["HEALTH_DATA", "AI_OVERSEAS_TRANSFER"]).await;
    let a = reset(&app, &u.token()).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let recs = a.body["data"]["newRecommendations"].as_array().unwrap();
    assert_eq!(recs.len(), 5);
    assert_eq!(recs[0]["missionId"], "after-meal-walk-15");
    assert_eq!(recs[0]["reason"], "식후 혈당 관리에 좋아요.");
    assert_eq!(recs[1]["missionId"], "leave-the-soup");
    assert!(recs.iter().all(|r| r["missionId"] != "quantum-yoga-99"));
    assert_eq!(fake.received().await.len(), 1);

    // Without the AI consent the rules alone answer, and Claude is not asked.
    app.consent(&u, &["AI_OVERSEAS_TRANSFER"], false).await;
    let b = reset(&app, &u.token()).await;
    assert_eq!(b.status, StatusCode::OK);
    assert_ne!(b.body["data"]["newRecommendations"][0]["reason"], "식후 혈당 관리에 좋아요.");
    assert_eq!(fake.received().await.len(), 1);
}

async fn reset(app: &IntelApp, token: &str) -> crate::support::Answer {
    let body = json!({"reason": "새로 시작할래요"});
    app.call(Some(token), Method::POST, "/api/goals/missions/reset", Some(body)).await
}

#[sqlx::test]
async fn resets_are_limited_per_user_per_hour_with_retry_after(pool: PgPool) {
    let app = IntelApp::start(pool, &[("GOALS_RESET_RATE_LIMIT_PER_HOUR", "3".to_string())]);
    let u = app.user("reset-limit@example.com", &[]).await;
    let other = app.user("reset-other@example.com", &[]).await;
    for _ in 0..3 {
        assert_eq!(reset(&app, &u.token()).await.status, StatusCode::OK);
    }
    let limited = reset(&app, &u.token()).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS, "{}", limited.text);
    let wait: u64 = limited.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=3600).contains(&wait), "{wait}");
    // The limit is the user's own: another account resets freely.
    assert_eq!(reset(&app, &other.token()).await.status, StatusCode::OK);
}
