//! The goals domain's Rust API for the domains after it: progress, users with an open goal by
//! keyset, and catalogue lookups.

use healthsync::goals::api;
use sqlx::PgPool;
use uuid::Uuid;

use super::{GoalsApp, at, noon};

#[sqlx::test]
async fn progress_tells_today_the_last_week_streaks_last_activity_and_open_missions(pool: PgPool) {
    let app = GoalsApp::new(pool.clone(), &noon(1));
    let u = app.user("progress@example.com").await;
    let none = api::progress_at(&pool, u.uuid(), at(&noon(1))).await.unwrap();
    assert_eq!(
        (none.goal_id, none.missions_today, none.seven_day_rate, none.last_activity),
        (None, 0, None, None)
    );

    app.select(&u, &["water-8-cups", "bp-check"]).await;
    // Days 1-3 both missions, day 4 nothing, days 5-6 water only; "today" is day 6 at noon.
    for day in [1, 2, 3, 5, 6] {
        app.set_time(&noon(day));
        app.done(&u, "water-8-cups").await;
        if day <= 3 {
            app.done(&u, "bp-check").await;
        }
    }
    let p = api::progress_at(&pool, u.uuid(), at(&noon(6))).await.unwrap();
    assert_eq!(p.today.to_string(), "2026-03-06");
    assert!(p.goal_id.is_some());
    assert_eq!((p.missions_today, p.completed_today), (2, 1));
    assert_eq!(p.open_missions.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), ["bp-check"]);
    // Six days scheduled (goal from day 1), 12 mission-days, 8 done.
    assert_eq!(p.seven_day_rate, Some(66.7));
    assert_eq!((p.current_streak, p.best_streak), (2, 3));
    assert_eq!(p.last_activity, Some(at(&noon(6))));
    assert_eq!(p.today_rate(), 0.5);
    // Through the platform's clock, the same.
    let via_platform = api::progress(&app.platform, u.uuid()).await.unwrap();
    assert_eq!(via_platform, p);

    // Many users at once (the daily nudges' read) give each one's progress, in the order asked.
    // (The other user's goal is set on day 5, before its completion: one timed before its goal is refused.)
    app.set_time(&noon(5));
    let other = app.user("other@example.com").await;
    app.select(&other, &["walk-7000-steps"]).await;
    app.done(&other, "walk-7000-steps").await;
    let idle = app.user("idle@example.com").await;
    let ids = [other.uuid(), u.uuid(), idle.uuid(), Uuid::nil()];
    let many = api::progress_many_at(&pool, &ids, at(&noon(6))).await.unwrap();
    assert_eq!(many.iter().map(|(id, _)| *id).collect::<Vec<_>>(), ids);
    for (id, got) in &many {
        assert_eq!(*got, api::progress_at(&pool, *id, at(&noon(6))).await.unwrap(), "{id}");
    }
    assert_eq!(many[1].1, p);
    assert_eq!((many[0].1.missions_today, many[0].1.current_streak), (1, 1));
    assert_eq!(many[2].1.goal_id, None);
}

#[sqlx::test]
async fn users_with_an_open_goal_are_paged_by_keyset(pool: PgPool) {
    let app = GoalsApp::new(pool.clone(), &noon(1));
    let mut expected = Vec::new();
    for n in 0..5 {
        let u = app.user(&format!("page{n}@example.com")).await;
        app.select(&u, &["water-8-cups"]).await;
        expected.push(u.uuid());
    }
    // Closed goals and users without one are not listed.
    let reset = app.user("closed@example.com").await;
    app.select(&reset, &["water-8-cups"]).await;
    app.call(
        &reset,
        axum::http::Method::POST,
        "/api/goals/missions/reset",
        Some(serde_json::json!({"reason": "쉼"})),
    )
    .await;
    app.user("never@example.com").await;
    expected.sort();

    let mut seen: Vec<Uuid> = Vec::new();
    let mut after = None;
    loop {
        let page = api::users_with_active_goal(&pool, after, 2).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 2);
        after = page.last().copied();
        seen.extend(page);
    }
    assert_eq!(seen, expected);
}

#[sqlx::test]
async fn a_lookup_sorts_ids_into_offered_unknown_and_retired(pool: PgPool) {
    sqlx::query("UPDATE goals.missions SET retired_at = now() WHERE id = 'gratitude-3'")
        .execute(&pool)
        .await
        .unwrap();
    let l = api::lookup(
        &pool,
        &["water-8-cups", "gratitude-3", "made-up", "Bad Id", "water-8-cups", "sleep-7-hours"],
    )
    .await
    .unwrap();
    assert_eq!(l.found.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), ["water-8-cups", "sleep-7-hours"]);
    assert_eq!(l.retired, ["gratitude-3"]);
    assert_eq!(l.unknown, ["Bad Id", "made-up"]);
    let catalog = api::catalog(&pool).await.unwrap();
    assert!(catalog.len() >= 24 && catalog.iter().all(|m| !m.retired));
    assert!(!catalog.iter().any(|m| m.id.as_str() == "gratitude-3"));
}
