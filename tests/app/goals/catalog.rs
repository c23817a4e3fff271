//! The catalogue and choosing missions: what is offered, replacing a goal, bad choices, retired
//! missions.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use super::{GoalsApp, failing_fields, mission, noon};

#[sqlx::test]
async fn the_catalogue_offers_two_dozen_measurable_missions_across_every_area(pool: PgPool) {
    let app = GoalsApp::new(pool, &noon(10));
    let u = app.user("catalog@example.com").await;
    let a = app.get(&u, "/api/goals/missions/catalog").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let missions = a.body["data"]["missions"].as_array().unwrap();
    assert!(missions.len() >= 24, "{}", missions.len());
    assert_eq!(a.body["data"]["totalMissions"], missions.len());
    let ids: BTreeSet<&str> = missions.iter().map(|m| m["missionId"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), missions.len(), "ids are unique");
    let categories: BTreeSet<&str> = missions.iter().map(|m| m["category"].as_str().unwrap()).collect();
    let every = ["ALCOHOL", "DIET", "EXERCISE", "HYDRATION", "MONITORING", "SLEEP", "SMOKING", "STRESS"];
    assert_eq!(categories, BTreeSet::from(every));
    for m in missions {
        let hangul = |s: &str| s.chars().any(|c| ('가'..='힣').contains(&c));
        assert!(hangul(m["title"].as_str().unwrap()) && hangul(m["description"].as_str().unwrap()), "{m}");
        assert!(m["estimatedTimeMinutes"].as_i64().unwrap() > 0, "{m}");
        assert!(["EASY", "MEDIUM", "HARD"].contains(&m["difficulty"].as_str().unwrap()), "{m}");
        let t = &m["dailyTarget"];
        assert!(
            t["value"].as_i64().unwrap() >= 0 && t["unit"].is_string() && hangul(t["text"].as_str().unwrap()),
            "{m}"
        );
        assert!(["AT_LEAST", "AT_MOST"].contains(&t["comparison"].as_str().unwrap()), "{m}");
    }
    let walk = missions.iter().find(|m| m["missionId"] == "walk-7000-steps").unwrap();
    assert_eq!(walk["dailyTarget"]["value"], 7000);
    assert_eq!(walk["dailyTarget"]["unit"], "STEPS");
    assert!(walk["helps"].as_array().unwrap().contains(&json!("BLOOD_PRESSURE")));
    assert_eq!(
        app.call(None, Method::GET, "/api/goals/missions/catalog", None).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[sqlx::test]
async fn selecting_replaces_the_open_goal_and_closes_the_old_one_on_its_end_date(pool: PgPool) {
    let app = GoalsApp::new(pool.clone(), &noon(10));
    let u = app.user("select@example.com").await;
    let first = app.select(&u, &["water-8-cups", "walk-7000-steps"]).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    let d = &first.body["data"];
    assert_eq!(d["selectedMissions"][0]["missionId"], "water-8-cups");
    assert_eq!(d["selectedMissions"][1]["missionId"], "walk-7000-steps");
    assert_eq!(d["selectedMissions"][0]["startDate"], "2026-03-10");
    assert!(d["selectedMissions"][0]["title"].is_string() && d["setupCompletedAt"].is_string());
    assert!(d["message"].as_str().unwrap().contains('2'));
    assert_eq!(d["replacedGoalId"], json!(null));
    let first_id = d["goalId"].as_str().unwrap().to_string();

    app.set_time(&noon(12));
    let second = app.select(&u, &["sleep-7-hours"]).await;
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.text);
    assert_eq!(second.body["data"]["replacedGoalId"], json!(first_id));
    let goals: Vec<(String, String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT id::text, start_date::text, end_date::text, close_reason FROM goals.goals WHERE user_id = $1::uuid ORDER BY created_at",
    )
    .bind(&u.id)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(goals.len(), 2);
    assert_eq!(goals[0], (first_id, "2026-03-10".into(), Some("2026-03-12".into()), Some("REPLACED".into())));
    assert_eq!((goals[1].1.as_str(), goals[1].2.as_deref()), ("2026-03-12", None));
    let active = app.active(&u).await;
    assert_eq!(active["totalMissions"], 1);
    assert_eq!(mission(&active, "sleep-7-hours")["status"], "PENDING");
    let set = app.events("goal.set", &u).await;
    assert_eq!(set.len(), 2);
    assert_eq!(set[1]["replacedGoalId"], json!(goals[0].0));
    assert_eq!(set[1]["missionIds"], json!(["sleep-7-hours"]));
}

#[sqlx::test]
async fn bad_selections_name_every_failing_id_and_change_nothing(pool: PgPool) {
    let app = GoalsApp::new(pool.clone(), &noon(10));
    let u = app.user("bad-select@example.com").await;
    sqlx::query("UPDATE goals.missions SET retired_at = now() WHERE id = 'gratitude-3'")
        .execute(&pool)
        .await
        .unwrap();
    let cases: Vec<(serde_json::Value, Vec<&str>)> = vec![
        (json!([]), vec!["selectedMissionIds"]),
        (json!(["a", "b", "c", "d", "e", "f"]), vec!["selectedMissionIds"]),
        (json!(["Water 8"]), vec!["selectedMissionIds[0]"]),
        (json!(["water-8-cups", "water-8-cups"]), vec!["selectedMissionIds[1]"]),
        (json!(["water-8-cups", "no-such-mission"]), vec!["selectedMissionIds[1]"]),
        (json!(["gratitude-3"]), vec!["selectedMissionIds[0]"]),
        (
            json!(["no-such-mission", "water-8-cups", "gratitude-3", "BAD", "water-8-cups"]),
            vec![
                "selectedMissionIds[3]",
                "selectedMissionIds[4]",
                "selectedMissionIds[0]",
                "selectedMissionIds[2]",
            ],
        ),
    ];
    for (ids, fields) in cases {
        let body = json!({ "selectedMissionIds": ids });
        let a = app.call(&u, Method::POST, "/api/goals/missions/select", Some(body)).await;
        assert_eq!(failing_fields(&a), fields, "{ids}: {}", a.text);
    }
    let a = app.select(&u, &["no-such-mission", "gratitude-3"]).await;
    let messages: Vec<&str> =
        a.body["errors"].as_array().unwrap().iter().map(|e| e["message"].as_str().unwrap()).collect();
    assert!(messages[0].contains("no-such-mission") && messages[1].contains("gratitude-3"), "{messages:?}");
    let missing = app.call(&u, Method::POST, "/api/goals/missions/select", Some(json!({}))).await;
    assert_eq!(failing_fields(&missing), ["selectedMissionIds"]);
    let goals: i64 = sqlx::query_scalar("SELECT count(*) FROM goals.goals").fetch_one(&pool).await.unwrap();
    assert_eq!(goals, 0);
    assert!(app.events("goal.set", &u).await.is_empty());
}

#[sqlx::test]
async fn a_retired_mission_leaves_the_catalogue_but_not_the_goals_and_history_that_hold_it(pool: PgPool) {
    let app = GoalsApp::new(pool.clone(), &noon(10));
    let u = app.user("retired@example.com").await;
    assert_eq!(app.select(&u, &["water-8-cups", "walk-7000-steps"]).await.status, StatusCode::CREATED);
    app.done(&u, "water-8-cups").await;
    sqlx::query("UPDATE goals.missions SET retired_at = now() WHERE id = 'water-8-cups'")
        .execute(&pool)
        .await
        .unwrap();

    let catalog = app.get(&u, "/api/goals/missions/catalog").await;
    assert!(!catalog.text.contains("\"water-8-cups\""), "retired missions are not offered");
    app.set_time(&noon(11));
    let active = app.active(&u).await;
    assert_eq!(mission(&active, "water-8-cups")["retired"], true);
    assert_eq!(mission(&active, "water-8-cups")["streakDays"], 1);
    let again = app.done(&u, "water-8-cups").await;
    assert_eq!(again.body["data"]["newStreakDays"], 2, "the goal that holds it goes on");
    let history = app.get(&u, "/api/goals/missions/history?startDate=2026-03-10&endDate=2026-03-11").await;
    assert_eq!(history.status, StatusCode::OK, "{}", history.text);
    let stats = history.body["data"]["missionStats"].as_array().unwrap();
    let water = stats.iter().find(|s| s["missionId"] == "water-8-cups").unwrap();
    assert_eq!((water["completedDays"].as_u64(), water["totalDays"].as_u64()), (Some(2), Some(2)));
    assert_eq!(water["title"], "물 8잔 마시기");
    assert_eq!(failing_fields(&app.select(&u, &["water-8-cups"]).await), ["selectedMissionIds[0]"]);
    let filtered = app.get(&u, "/api/goals/missions/history?missionIds=water-8-cups").await;
    assert_eq!(
        filtered.status,
        StatusCode::OK,
        "history may still ask for a retired mission: {}",
        filtered.text
    );
}

#[sqlx::test]
async fn goals_need_a_finished_onboarding_and_a_token(pool: PgPool) {
    let app = GoalsApp::new(pool, &noon(10));
    let u = app.sign_in("pending@example.com").await;
    let body = json!({ "selectedMissionIds": ["water-8-cups"] });
    let pending = app.post(&u, "/api/goals/missions/select", Some(body.clone())).await;
    assert_eq!(pending.status, StatusCode::FORBIDDEN, "{}", pending.text);
    assert_eq!(pending.body["code"], "ONBOARDING_REQUIRED");
    for (method, uri) in [
        (Method::POST, "/api/goals/missions/select"),
        (Method::GET, "/api/goals/missions/active"),
        (Method::PUT, "/api/goals/missions/water-8-cups/complete"),
        (Method::GET, "/api/goals/missions/history"),
        (Method::POST, "/api/goals/missions/reset"),
    ] {
        let a = app.call(None, method.clone(), uri, Some(body.clone())).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{method} {uri}");
    }
}

#[sqlx::test]
async fn selections_racing_each_other_leave_exactly_one_open_goal(pool: PgPool) {
    let app = GoalsApp::new(pool.clone(), &noon(10));
    let u = app.user("racing-select@example.com").await;
    let (a, b, c, d) = tokio::join!(
        app.select(&u, &["water-8-cups"]),
        app.select(&u, &["bp-check"]),
        app.select(&u, &["sleep-7-hours"]),
        app.select(&u, &["weigh-in"]),
    );
    for x in [&a, &b, &c, &d] {
        assert_eq!(x.status, StatusCode::CREATED, "{}", x.text);
    }
    let open: Vec<String> = sqlx::query_scalar("SELECT id::text FROM goals.goals WHERE end_date IS NULL")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(open.len(), 1);
    let closed: i64 = sqlx::query_scalar("SELECT count(*) FROM goals.goals WHERE close_reason = 'REPLACED'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(closed, 3);
    assert_eq!(app.active(&u).await["goalId"], json!(open[0]), "the view shows the goal left open");
}
