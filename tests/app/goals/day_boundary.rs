//! The Seoul day boundary (23:59 and 00:01 KST) and the cached active view, with the in-process
//! cache and with Redis: a cached answer never shows yesterday as today, and every change drops it.

use axum::http::StatusCode;
use healthsync::goals::{active, store};
use serde_json::json;
use sqlx::PgPool;

use super::{GoalsApp, User, mission};

/// 23:59 KST on 2026-03-10, and 00:01 KST on 2026-03-11.
const LATE: &str = "2026-03-10T14:59:00Z";
const EARLY: &str = "2026-03-10T15:01:00Z";

fn redis() -> Vec<(&'static str, String)> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    vec![("REDIS_URL", url)]
}

fn start(pool: PgPool, at: &str, with_redis: bool) -> GoalsApp {
    let extra = if with_redis { redis() } else { Vec::new() };
    let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
    GoalsApp::start(pool, at, &extra)
}

/// The validity line of the cached entry (`{"date":…,"validUntil":…}`, the answer after it).
async fn cached(app: &GoalsApp, u: &User) -> Option<serde_json::Value> {
    let bytes = app.platform.cache.get(&active::cache_key(u.uuid())).await.unwrap()?;
    let line = bytes.iter().position(|&b| b == b'\n').expect("a validity line, then the answer");
    let view: serde_json::Value = serde_json::from_slice(&bytes[line + 1..]).expect("the answer is JSON");
    assert!(view["dailyMissions"].is_array(), "{view}");
    Some(serde_json::from_slice(&bytes[..line]).unwrap())
}

async fn the_day_turns_at_midnight_in_seoul_even_with_a_warm_cache(pool: PgPool, with_redis: bool) {
    let app = start(pool.clone(), LATE, with_redis);
    let u = app.user(&format!("boundary-{with_redis}@example.com")).await;
    app.select(&u, &["water-8-cups", "sleep-7-hours"]).await;
    let late = app.done(&u, "water-8-cups").await;
    assert_eq!(late.body["data"]["date"], "2026-03-10");
    let before = app.active(&u).await;
    assert_eq!(before["date"], "2026-03-10");
    assert_eq!(mission(&before, "water-8-cups")["completedToday"], true);
    assert_eq!(cached(&app, &u).await.expect("the view is cached")["date"], "2026-03-10");

    app.set_time(EARLY);
    let after = app.active(&u).await;
    assert_eq!(after["date"], "2026-03-11", "a new day, though yesterday's view was cached");
    assert_eq!(after["todayCompletedCount"], 0);
    assert_eq!(mission(&after, "water-8-cups")["completedToday"], false);
    assert_eq!(mission(&after, "water-8-cups")["streakDays"], 1, "yesterday's streak lives on today");
    assert_eq!(mission(&after, "water-8-cups")["nextReminderTime"], "2026-03-11T10:00:00+09:00");
    let early = app.done(&u, "water-8-cups").await;
    assert_eq!(early.body["data"]["status"], "COMPLETED", "a new day, a new completion");
    assert_eq!(
        (early.body["data"]["date"].as_str(), early.body["data"]["newStreakDays"].as_i64()),
        (Some("2026-03-11"), Some(2))
    );
    let days: Vec<String> = sqlx::query_scalar("SELECT day::text FROM goals.completions ORDER BY day")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(days, ["2026-03-10", "2026-03-11"]);
    let history = app.get(&u, "/api/goals/missions/history?startDate=2026-03-10&endDate=2026-03-11").await;
    let daily = &history.body["data"]["chartData"]["daily"];
    assert_eq!(
        (daily[0]["completed"].as_u64(), daily[1]["completed"].as_u64()),
        (Some(1), Some(1)),
        "{}",
        history.text
    );
}

#[sqlx::test]
async fn the_day_turns_at_midnight_in_seoul_with_the_in_process_cache(pool: PgPool) {
    the_day_turns_at_midnight_in_seoul_even_with_a_warm_cache(pool, false).await;
}

#[sqlx::test]
async fn the_day_turns_at_midnight_in_seoul_with_redis(pool: PgPool) {
    the_day_turns_at_midnight_in_seoul_even_with_a_warm_cache(pool, true).await;
}

async fn every_change_drops_the_cached_view(pool: PgPool, with_redis: bool) {
    let app = start(pool.clone(), "2026-03-10T03:00:00Z", with_redis);
    let u = app.user(&format!("cache-{with_redis}@example.com")).await;
    assert_eq!(app.active(&u).await["totalMissions"], 0);
    app.select(&u, &["water-8-cups", "bp-check"]).await;
    assert_eq!(app.active(&u).await["totalMissions"], 2, "selecting dropped the empty view");

    // A write behind the app's back is not seen while the view is cached: the cache is in use ...
    let goal: uuid::Uuid = sqlx::query_scalar("SELECT id FROM goals.goals WHERE end_date IS NULL")
        .fetch_one(&pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO goals.completions (user_id, mission_id, day, goal_id, completed_at, streak_days, points) \
         VALUES ($1::uuid, 'bp-check', '2026-03-10', $2, now(), 1, 10)",
    )
    .bind(&u.id)
    .bind(goal)
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(app.active(&u).await["todayCompletedCount"], 0, "served from the cache");
    // ... and a completion through the app drops it.
    app.done(&u, "water-8-cups").await;
    assert!(cached(&app, &u).await.is_none(), "the completion dropped the entry");
    assert_eq!(app.active(&u).await["todayCompletedCount"], 2);
    // A repeat changes nothing and keeps the entry.
    let repeat = app.done(&u, "water-8-cups").await;
    assert_eq!(repeat.body["data"]["status"], "ALREADY_COMPLETED");
    assert!(cached(&app, &u).await.is_some());

    let reset = app
        .call(
            &u,
            axum::http::Method::POST,
            "/api/goals/missions/reset",
            Some(json!({"reason": "바꿔 볼래요"})),
        )
        .await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.text);
    assert_eq!(app.active(&u).await["totalMissions"], 0, "the reset dropped the entry");
    app.select(&u, &["sleep-7-hours"]).await;
    assert_eq!(mission(&app.active(&u).await, "sleep-7-hours")["status"], "PENDING");
    // The erasure drops it too (its data part names the key).
    let deleted = app.call(&u, axum::http::Method::DELETE, "/api/users/me", None).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text);
    assert!(cached(&app, &u).await.is_none());
    assert!(
        store::open_goal_missions(&pool, u.uuid(), "2026-03-10".parse().unwrap()).await.unwrap().is_empty()
    );
}

#[sqlx::test]
async fn every_change_drops_the_cached_view_in_process(pool: PgPool) {
    every_change_drops_the_cached_view(pool, false).await;
}

#[sqlx::test]
async fn every_change_drops_the_cached_view_in_redis(pool: PgPool) {
    every_change_drops_the_cached_view(pool, true).await;
}

/// A pending mission's next reminder moves to tomorrow once today's reminder time passes: a view
/// cached a minute before is not served a minute after.
async fn a_reminder_time_passing_renews_the_cached_view(pool: PgPool, with_redis: bool) {
    // 09:59 KST; water-8-cups reminds at 10:00.
    let app = start(pool, "2026-03-10T00:59:00Z", with_redis);
    let u = app.user(&format!("reminder-{with_redis}@example.com")).await;
    app.select(&u, &["water-8-cups"]).await;
    let before = app.active(&u).await;
    assert_eq!(mission(&before, "water-8-cups")["nextReminderTime"], "2026-03-10T10:00:00+09:00");
    assert!(cached(&app, &u).await.is_some(), "the view is cached");
    app.set_time("2026-03-10T01:01:00Z");
    let after = app.active(&u).await;
    assert_eq!(mission(&after, "water-8-cups")["nextReminderTime"], "2026-03-11T10:00:00+09:00");
    assert_eq!(after["date"], "2026-03-10");
}

#[sqlx::test]
async fn a_reminder_time_passing_renews_the_cached_view_in_process(pool: PgPool) {
    a_reminder_time_passing_renews_the_cached_view(pool, false).await;
}

#[sqlx::test]
async fn a_reminder_time_passing_renews_the_cached_view_in_redis(pool: PgPool) {
    a_reminder_time_passing_renews_the_cached_view(pool, true).await;
}

/// An entry written in the layout before the validity line (one JSON object: instances of the
/// previous release during a deploy) is a miss, not an answer.
#[sqlx::test]
async fn a_cached_entry_of_the_earlier_layout_is_rendered_afresh(pool: PgPool) {
    let app = start(pool, LATE, false);
    let u = app.user("layout@example.com").await;
    app.select(&u, &["water-8-cups"]).await;
    let earlier =
        json!({"date": "2026-03-10", "validUntil": "2026-03-10T14:59:50Z", "view": {"stale": true}});
    let key = active::cache_key(u.uuid());
    app.platform
        .cache
        .set(&key, &serde_json::to_vec(&earlier).unwrap(), std::time::Duration::from_secs(60))
        .await
        .unwrap();
    let view = app.active(&u).await;
    assert_eq!((view["date"].as_str(), view.get("stale")), (Some("2026-03-10"), None), "{view}");
    assert_eq!(cached(&app, &u).await.expect("cached again, in the current layout")["date"], "2026-03-10");
}
