//! The app's one clock (`Platform::clock`): every domain's "now" and Seoul "today" come from it,
//! so moving it (here with `CLOCK_START`, as a local demo does) moves ages, birth-date and
//! checkup-date validation, the mission day and the export's time together.

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::support::{TestApp, spawn_with};

const MOVED: &str = "2031-06-01T03:00:00Z"; // 12:00 in Seoul

#[sqlx::test]
async fn moving_the_clock_moves_every_domains_today(pool: PgPool) {
    let app = spawn_with(pool, &[("DEV_LOGIN_ENABLED", "true"), ("CLOCK_START", MOVED)]);
    let u = app.sign_in("clock@example.com").await;

    // Users: 14 on the moved clock (born 2017), though 9 on the wall clock of 2026.
    let reg = json!({ "name": "시계바늘", "birthDate": "2017-05-01", "sex": "MALE" });
    let r = app.register(&u, reg).await;
    assert_eq!(r.body["data"]["age"], 14, "{}", r.text);
    app.consent(&u, &["HEALTH_DATA"], true).await;

    // Health: a checkup of 2030 is in the past on the moved clock; one after its today is not.
    let past = json!({ "checkupDate": "2030-11-20", "height": 150.0, "weight": 45.0 });
    let r = app.call(&u, Method::POST, "/api/health/checkups", Some(past)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let future = json!({ "checkupDate": "2031-06-02", "height": 150.0, "weight": 45.0 });
    let r = app.call(&u, Method::POST, "/api/health/checkups", Some(future)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);

    // Goals: today's missions and a completion are dated on the moved Seoul day.
    let sel = json!({ "selectedMissionIds": ["water-8-cups"] });
    let r = app.call(&u, Method::POST, "/api/goals/missions/select", Some(sel)).await;
    assert!(r.status.is_success(), "{}", r.text);
    let r = app
        .call(
            &u,
            Method::PUT,
            "/api/goals/missions/water-8-cups/complete",
            Some(json!({ "completed": true })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["data"]["date"], "2031-06-01", "{}", r.text);

    // Users again: the export is stamped with the moved time.
    let r = app.call(&u, Method::GET, "/api/users/me/export", None).await;
    assert!(r.text.contains("\"exportedAt\":\"2031-06-01T"), "{}", &r.text[..r.text.len().min(300)]);
}

#[sqlx::test]
async fn a_clock_start_that_is_not_an_instant_stops_the_start(pool: PgPool) {
    let started = TestApp::builder(pool).settings(&[("CLOCK_START", "next tuesday")]).try_spawn();
    let err = started.err().expect("refused");
    assert!(format!("{err:#}").contains("CLOCK_START"), "{err:#}");
}
