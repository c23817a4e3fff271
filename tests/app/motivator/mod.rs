//! The motivator through the router and its functions, with the app's clock in the test's hand:
//! the inbox (paging, unread count, another user's notification), devices, the encouragement,
//! the daily run (eligibility, one nudge per Seoul day however often a slice is delivered, quiet
//! hours and the night-time consent), event messages (welcome, results and the confirmatory
//! visit, celebration), push through a Notification Hubs fake, the operators' batch, and data
//! rights.

mod erasure;
mod push;
mod replay;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::goals::{GoalsApp, User};

/// Which motivator function consumes an event type.
fn consumer_of(event_type: &str) -> Option<&'static str> {
    match event_type {
        "nudge.batch" => Some("MotivatorNudgeSlice"),
        "user.registered" => Some("MotivatorWelcome"),
        "checkup.synced" => Some("MotivatorCheckupResults"),
        "goal.achieved" => Some("MotivatorCelebration"),
        "notification.created" => Some("MotivatorPush"),
        _ => None,
    }
}

/// Invokes `function` with one message, as the host would.
pub async fn deliver(
    app: &GoalsApp,
    function: &str,
    message_id: &str,
    body: &Value,
) -> crate::support::Answer {
    let payload = json!({
        "Data": { "message": body.to_string() },
        "Metadata": { "MessageId": format!("\"{message_id}\""), "DeliveryCount": "1" }
    });
    app.call(None, Method::POST, &format!("/{function}"), Some(payload)).await
}

/// The bus in miniature: every unpublished outbox event goes to the motivator function that
/// consumes it, until none is left. Returns the (function, message id, body) delivered.
pub async fn pump(app: &GoalsApp) -> Vec<(String, String, Value)> {
    let mut delivered = Vec::new();
    loop {
        let rows: Vec<(uuid::Uuid, String, Value)> = sqlx::query_as(
            "UPDATE events.outbox SET published_at = now() WHERE published_at IS NULL \
             RETURNING id, event_type, payload",
        )
        .fetch_all(&app.pool)
        .await
        .unwrap();
        if rows.is_empty() {
            return delivered;
        }
        let mut rows = rows;
        rows.sort_by_key(|r| r.0);
        for (id, event_type, payload) in rows {
            if let Some(f) = consumer_of(&event_type) {
                let a = deliver(app, f, &id.to_string(), &payload).await;
                assert!(a.status.is_success(), "{f}: {} {}", a.status, a.text);
                delivered.push((f.to_string(), id.to_string(), payload));
            }
        }
    }
}

async fn inbox(app: &GoalsApp, u: &User) -> Value {
    let a = app.get(u, "/api/notifications?size=100").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    a.body["data"].clone()
}

fn kinds(inbox: &Value) -> Vec<String> {
    inbox["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap().to_string())
        .collect()
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

async fn daily_of(app: &GoalsApp, u: &User) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM motivator.notifications WHERE user_id = $1 AND nudge_day IS NOT NULL",
    )
    .bind(u.uuid())
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

async fn run_timer(app: &GoalsApp) {
    let a = app
        .call(
            None,
            Method::POST,
            "/MotivatorDailyNudges",
            Some(json!({"Data": {"timer": {"IsPastDue": false}}, "Metadata": {}})),
        )
        .await;
    assert!(a.status.is_success(), "{}", a.text);
}

async fn grant_night(app: &GoalsApp, u: &User) {
    let grant = json!({"consents": [{"type": "NIGHT_PROMOTIONAL", "granted": true, "version": "2026-11"}]});
    let a = app.call(&u, Method::PUT, "/api/users/me/consents", Some(grant)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
}

const MORNING: &str = "2026-12-01T00:00:00Z"; // 09:00 in Seoul

#[sqlx::test]
async fn the_inbox_pages_newest_first_counts_unread_and_hides_other_users(pool: PgPool) {
    let app = GoalsApp::new(pool, MORNING);
    let a = app.user("a@example.com").await;
    let b = app.user("b@example.com").await;
    pump(&app).await;
    let box_a = inbox(&app, &a).await;
    assert_eq!(kinds(&box_a), ["WELCOME"]);
    assert_eq!(box_a["unreadCount"], 1);
    // A goal and a completion streak of 3 days: the celebration.
    app.select(&a, &["walk-7000-steps", "water-8-cups"]).await;
    for (i, day) in
        ["2026-12-01T01:00:00Z", "2026-12-02T01:00:00Z", "2026-12-03T01:00:00Z"].iter().enumerate()
    {
        app.set_time(day);
        app.done(&a, "walk-7000-steps").await;
        let _ = i;
    }
    pump(&app).await;
    let box_a = inbox(&app, &a).await;
    assert_eq!(kinds(&box_a), ["CELEBRATION", "WELCOME"], "newest first");
    assert_eq!(box_a["unreadCount"], 2);
    assert!(box_a["notifications"][0]["title"].as_str().unwrap().contains("3일"));

    let page = app.get(&a, "/api/notifications?page=2&size=1").await;
    assert_eq!(page.body["data"]["notifications"][0]["kind"], "WELCOME", "{}", page.text);
    assert_eq!(page.body["data"]["hasMore"], false);
    assert_eq!(app.get(&a, "/api/notifications?size=0").await.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.get(&a, "/api/notifications?size=101").await.status, StatusCode::UNPROCESSABLE_ENTITY);

    let id = box_a["notifications"][1]["id"].as_str().unwrap().to_string();
    let uri = format!("/api/notifications/{id}/read");
    // Another user's notification does not exist for them, and stays unread.
    let other = app.call(&b, Method::POST, &uri, None).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND, "{}", other.text);
    let r = app.call(&a, Method::POST, &uri, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["data"]["unreadCount"], 1);
    assert_eq!(r.body["data"]["notification"]["read"], true);
    let again = app.call(&a, Method::POST, &uri, None).await;
    assert_eq!(again.body["data"]["notification"]["readAt"], r.body["data"]["notification"]["readAt"]);
    assert_eq!(inbox(&app, &b).await["unreadCount"], 1, "b's own welcome only");
    let missing =
        app.call(&a, Method::POST, &format!("/api/notifications/{}/read", uuid::Uuid::new_v4()), None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[sqlx::test]
async fn the_daily_run_nudges_each_eligible_user_once_a_day_however_often_slices_arrive(pool: PgPool) {
    let app = GoalsApp::start(pool, MORNING, &[("NUDGE_SLICE_SIZE", "10")]);
    let mut with_goal = Vec::new();
    for i in 0..25 {
        let u = app.user(&format!("g{i}@example.com")).await;
        app.select(&u, &["walk-7000-steps", "water-8-cups"]).await;
        with_goal.push(u);
    }
    let no_goal = app.user("none@example.com").await;
    let done = app.user("done@example.com").await;
    app.select(&done, &["walk-7000-steps"]).await;
    app.done(&done, "walk-7000-steps").await;
    pump(&app).await;

    run_timer(&app).await;
    let delivered = pump(&app).await;
    let slices: Vec<_> = delivered.iter().filter(|d| d.2["step"]["kind"] == "slice").collect();
    assert_eq!(slices.len(), 3, "26 users with a goal in slices of 10");
    for u in &with_goal {
        assert_eq!(daily_of(&app, u).await, 1);
    }
    assert_eq!(daily_of(&app, &no_goal).await, 0, "no goal, no nudge");
    assert_eq!(daily_of(&app, &done).await, 0, "everything done today");
    let n = &inbox(&app, &with_goal[0]).await["notifications"][0];
    assert_eq!(n["kind"], "DAILY_NUDGE");
    assert_eq!(n["nudgeDay"], "2026-12-01");
    assert_eq!(n["motivationType"], "HEALTH_BENEFIT");
    assert_eq!(n["priority"], "HIGH");

    // Every slice delivered again (same message ids): duplicates. As new messages (a second run
    // the same day): the unique index keeps one per user and day.
    for (f, id, body) in &slices.iter().map(|s| (*s).clone()).collect::<Vec<_>>() {
        assert!(deliver(&app, f, id, body).await.status.is_success());
        assert!(deliver(&app, f, &uuid::Uuid::new_v4().to_string(), body).await.status.is_success());
    }
    run_timer(&app).await;
    pump(&app).await;
    for u in &with_goal {
        assert_eq!(daily_of(&app, u).await, 1);
    }
    let runs: Vec<(i32, i32, i32)> =
        sqlx::query_as("SELECT processed, created, slices FROM motivator.nudge_runs ORDER BY created_at")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    // The slices delivered again as new messages count as processed again (and wrote nothing);
    // those delivered again with their own message id did not count at all.
    assert_eq!(runs[0], (52, 25, 6));
    assert_eq!(runs[1].1, 0, "the second run wrote nothing");

    // The next Seoul day: one more each.
    app.set_time("2026-12-02T00:00:00Z");
    run_timer(&app).await;
    pump(&app).await;
    assert_eq!(daily_of(&app, &with_goal[3]).await, 2);
}

#[sqlx::test]
async fn in_quiet_hours_only_users_with_the_night_consent_are_nudged(pool: PgPool) {
    // 22:30 in Seoul.
    let app = GoalsApp::new(pool, "2026-12-01T13:30:00Z");
    let yes = app.user("yes@example.com").await;
    let no = app.user("no@example.com").await;
    for u in [&yes, &no] {
        app.select(u, &["walk-7000-steps"]).await;
    }
    grant_night(&app, &yes).await;
    pump(&app).await;
    run_timer(&app).await;
    pump(&app).await;
    assert_eq!(daily_of(&app, &yes).await, 1);
    assert_eq!(daily_of(&app, &no).await, 0);

    // The operators' batch for 09:00 while it is 22:30: still quiet now, still nobody without it.
    app.set_time("2026-12-02T13:30:00Z");
    let a = app
        .call(
            None,
            Method::POST,
            "/api/motivator/batch/notifications",
            Some(json!({"triggerTime": "2026-12-02T00:00:00Z"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text);
    pump(&app).await;
    assert_eq!(daily_of(&app, &no).await, 0);
    assert_eq!(daily_of(&app, &yes).await, 2);
}

#[sqlx::test]
async fn a_dormant_user_gets_a_come_back_message_then_rest(pool: PgPool) {
    let app = GoalsApp::new(pool, MORNING);
    let u = app.user("d@example.com").await;
    app.select(&u, &["walk-7000-steps", "water-8-cups"]).await;
    app.done(&u, "walk-7000-steps").await;
    // No completion on 2, 3, 4 December: on the 5th, a come-back message.
    app.set_time("2026-12-05T00:00:00Z");
    run_timer(&app).await;
    pump(&app).await;
    assert_eq!(kinds(&inbox(&app, &u).await)[0], "COMEBACK");
    app.set_time("2026-12-06T00:00:00Z");
    run_timer(&app).await;
    pump(&app).await;
    assert_eq!(daily_of(&app, &u).await, 1, "not every day");
}

#[sqlx::test]
async fn the_operators_batch_takes_given_users_and_refuses_a_far_trigger_time(pool: PgPool) {
    let app = GoalsApp::new(pool, MORNING);
    let a = app.user("a@example.com").await;
    let b = app.user("b@example.com").await;
    for u in [&a, &b] {
        app.select(u, &["walk-7000-steps"]).await;
    }
    pump(&app).await;
    let r = app
        .call(
            None,
            Method::POST,
            "/api/motivator/batch/notifications",
            Some(json!({"targetUsers": [a.id], "notificationType": "DAILY_NUDGE"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let data = &r.body["data"];
    assert!(data["batchId"].is_string() && data["processedCount"] == 0);
    assert_eq!(data["nextScheduledTime"], "2026-12-02T00:00:00Z");
    pump(&app).await;
    assert_eq!(daily_of(&app, &a).await, 1);
    assert_eq!(daily_of(&app, &b).await, 0);
    let far = app
        .call(
            None,
            Method::POST,
            "/api/motivator/batch/notifications",
            Some(json!({"triggerTime": "2026-12-05T00:00:00Z"})),
        )
        .await;
    assert_eq!(far.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", far.text);
    assert_eq!(far.body["errors"][0]["field"], "triggerTime", "{}", far.text);
    let empty = app.call(None, Method::POST, "/api/motivator/batch/notifications", None).await;
    assert_eq!(empty.status, StatusCode::ACCEPTED, "{}", empty.text);
}

#[sqlx::test]
async fn a_checkup_in_the_hypertension_range_brings_the_confirmatory_visit_with_its_deadline(pool: PgPool) {
    let app = GoalsApp::new(pool, MORNING);
    let u = app.user("c@example.com").await;
    let grant = json!({"consents": [{"type": "HEALTH_DATA", "granted": true, "version": "2026-11"}]});
    app.call(&u, Method::PUT, "/api/users/me/consents", Some(grant)).await;
    let c =
        app.call(&u, Method::POST, "/api/health/checkups", Some(crate::health::entry("2026-10-14"))).await;
    assert_eq!(c.status, StatusCode::CREATED, "{}", c.text);
    pump(&app).await;
    let synced = json!({"userId": u.id, "jobId": uuid::Uuid::new_v4(), "newCheckups": 1, "worstGrade": null});
    let id = uuid::Uuid::new_v4().to_string();
    assert!(deliver(&app, "MotivatorCheckupResults", &id, &synced).await.status.is_success());
    assert!(deliver(&app, "MotivatorCheckupResults", &id, &synced).await.status.is_success());
    let b = inbox(&app, &u).await;
    let mut got = kinds(&b);
    got.sort();
    assert_eq!(got, ["CONFIRMATORY_VISIT", "RESULTS_READY", "WELCOME"]);
    let visit = b["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "CONFIRMATORY_VISIT")
        .expect("the reminder");
    assert_eq!(visit["deadline"], "2027-01-31");
    assert!(visit["body"].as_str().unwrap().contains("2027년 1월 31일"));
    assert_eq!(kinds(&b).iter().filter(|k| *k == "RESULTS_READY").count(), 1, "once per message");
}

#[sqlx::test]
async fn the_encouragement_reads_real_progress(pool: PgPool) {
    let app = GoalsApp::new(pool, "2026-12-01T10:00:00Z"); // 19:00 in Seoul
    let u = app.user("e@example.com").await;
    let uri = "/api/motivator/notifications/encouragement";
    let none = app.call(&u, Method::POST, uri, None).await;
    assert_eq!(none.status, StatusCode::CONFLICT, "{}", none.text);
    app.select(&u, &["walk-7000-steps", "water-8-cups", "veg-5-servings"]).await;
    let a = app
        .call(
            &u,
            Method::POST,
            uri,
            Some(json!({"missionsStatus": [{"missionId": "walk-7000-steps", "completed": true}]})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let d = &a.body["data"];
    // The server's progress wins: nothing is done, three open in the evening.
    assert_eq!(d["completedToday"], 0);
    assert_eq!(d["priority"], "HIGH");
    assert_eq!(d["motivationType"], "HEALTH_BENEFIT");
    assert_eq!(d["timing"], "NOW");
    assert!(d["personalizedTip"].as_str().unwrap().contains('‘'));
    assert!(!d["message"].as_str().unwrap().is_empty());
    app.done(&u, "walk-7000-steps").await;
    app.done(&u, "water-8-cups").await;
    let a = app.call(&u, Method::POST, uri, None).await;
    assert_eq!(a.body["data"]["motivationType"], "HABIT_FORMATION", "{}", a.text);
    let bad = app
        .call(
            &u,
            Method::POST,
            uri,
            Some(json!({"missionsStatus": [{"missionId": "NOT VALID", "completed": true}]})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.body["errors"][0]["field"], "missionsStatus[0].missionId", "{}", bad.text);
}

#[sqlx::test]
async fn devices_register_move_and_are_removed_only_by_their_holder(pool: PgPool) {
    let app = GoalsApp::new(pool, MORNING);
    let a = app.user("a@example.com").await;
    let b = app.user("b@example.com").await;
    let token = "fcm-token-0123456789abcdef";
    let put = async |u: &User, body: Value| {
        app.call(&u, Method::PUT, "/api/notifications/devices", Some(body)).await
    };
    let r = put(&a, json!({"platform": "FCM", "token": token})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.body["data"].get("token").is_none(), "the token is not echoed");
    assert_eq!(
        put(&a, json!({"platform": "WEB", "token": token})).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        put(&a, json!({"platform": "FCM", "token": "short"})).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let del = async |u: &User| {
        app.call(&u, Method::DELETE, "/api/notifications/devices", Some(json!({"token": token}))).await
    };
    assert_eq!(del(&b).await.status, StatusCode::NOT_FOUND, "b does not hold it");
    // The same device signed in as b: the token moves.
    assert_eq!(put(&b, json!({"platform": "FCM", "token": token})).await.status, StatusCode::OK);
    assert_eq!(del(&a).await.status, StatusCode::NOT_FOUND);
    assert_eq!(del(&b).await.status, StatusCode::OK);
    assert_eq!(count(&app.pool, "SELECT count(*) FROM motivator.devices").await, 0);
}

#[sqlx::test]
async fn a_user_keeps_ten_devices_and_a_new_one_replaces_the_stalest(pool: PgPool) {
    let app = GoalsApp::new(pool, MORNING);
    let u = app.user("many@example.com").await;
    let other = app.user("other@example.com").await;
    let put = async |u: &User, token: String| {
        app.call(
            &u,
            Method::PUT,
            "/api/notifications/devices",
            Some(json!({"platform": "FCM", "token": token})),
        )
        .await
    };
    let token = |i: usize| format!("fcm-token-{i:04}-0123456789");
    assert_eq!(put(&other, "fcm-token-of-someone-else".into()).await.status, StatusCode::OK);
    for i in 0..10 {
        assert_eq!(put(&u, token(i)).await.status, StatusCode::OK);
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    // Device 0 starts the app again (its token refreshed): device 1 is now the stalest.
    assert_eq!(put(&u, token(0)).await.status, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    // Two hundred more, some at once: the user still has ten, the newest, and the other user one.
    for i in 10..200 {
        assert_eq!(put(&u, token(i)).await.status, StatusCode::OK);
    }
    let burst = futures::future::join_all((200..230).map(|i| put(&u, token(i)))).await;
    assert!(burst.iter().all(|a| a.status == StatusCode::OK));
    let kept: Vec<String> =
        sqlx::query_scalar("SELECT token FROM motivator.devices WHERE user_id = $1::uuid")
            .bind(&u.id)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let newest: Vec<String> = (200..230).map(token).collect();
    assert_eq!(kept.len(), 10, "{kept:?}");
    assert!(kept.iter().all(|t| newest.contains(t)), "only the newest stay: {kept:?}");
    assert_eq!(
        count(&app.pool, "SELECT count(*) FROM motivator.devices WHERE token = 'fcm-token-of-someone-else'")
            .await,
        1,
        "another user's devices are not touched"
    );
}

#[sqlx::test]
async fn a_few_devices_show_the_eviction_order(pool: PgPool) {
    let app = GoalsApp::start(pool, MORNING, &[("NOTIFICATION_DEVICES_PER_USER", "2")]);
    let u = app.user("order@example.com").await;
    let put = async |token: &str| {
        app.call(
            &u,
            Method::PUT,
            "/api/notifications/devices",
            Some(json!({"platform": "APNS", "token": token})),
        )
        .await
    };
    for t in [
        "apns-token-aaaaaaaaaaaa",
        "apns-token-bbbbbbbbbbbb",
        "apns-token-aaaaaaaaaaaa",
        "apns-token-cccccccccccc",
    ] {
        assert_eq!(put(t).await.status, StatusCode::OK);
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let kept: Vec<String> = sqlx::query_scalar("SELECT token FROM motivator.devices ORDER BY token")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(kept, ["apns-token-aaaaaaaaaaaa", "apns-token-cccccccccccc"], "b was the stalest when c came");
}

#[sqlx::test]
async fn notifications_and_devices_are_exported_and_erased(pool: PgPool) {
    let app = GoalsApp::new(pool, MORNING);
    let u = app.user("r@example.com").await;
    pump(&app).await;
    let r = app
        .call(
            &u,
            Method::PUT,
            "/api/notifications/devices",
            Some(json!({"platform": "APNS", "token": "apns-0123456789abcdef"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let e = app.get(&u, "/api/users/me/export").await;
    assert_eq!(e.status, StatusCode::OK, "{}", e.text);
    let part = &e.body["data"]["data"]["motivator"];
    assert_eq!(part["notifications"][0]["kind"], "WELCOME", "{}", e.text);
    assert_eq!(part["devices"][0]["token"], "apns-0123456789abcdef");
    let d = app.call(&u, Method::DELETE, "/api/users/me", None).await;
    assert!(d.status.is_success(), "{}", d.text);
    assert_eq!(count(&app.pool, "SELECT count(*) FROM motivator.notifications").await, 0);
    assert_eq!(count(&app.pool, "SELECT count(*) FROM motivator.devices").await, 0);
}

/// With Claude configured the daily nudge's text is the AI's, written once for a segment and
/// reused for every user in it; when Claude fails the templates answer and nobody misses a nudge.
#[sqlx::test]
async fn the_daily_nudge_text_is_written_once_per_segment_by_the_ai_and_falls_back_to_templates(
    pool: PgPool,
) {
    use crate::intelligence::{ClaudeFake, Reply};
    let fake = ClaudeFake::start().await;
    let ai = json!({"title": "오늘의 한 걸음, 함께해요", "body": "미션 하나로 건강한 하루를 시작해 볼까요?"});
    fake.answer("title", Reply::Json(ai.clone()));
    let fake_settings = crate::intelligence::fake_settings(&fake);
    let mut settings: Vec<(&str, &str)> = fake_settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    settings.push(("NUDGE_SLICE_SIZE", "10"));
    let app = GoalsApp::start(pool, MORNING, &settings);
    let mut users = Vec::new();
    for i in 0..12 {
        let u = app.user(&format!("ai{i}@example.com")).await;
        app.select(&u, &["walk-7000-steps", "water-8-cups"]).await;
        users.push(u);
    }
    pump(&app).await;
    run_timer(&app).await;
    pump(&app).await;
    for u in &users {
        let n = &inbox(&app, u).await["notifications"][0];
        assert_eq!(n["kind"], "DAILY_NUDGE");
        assert_eq!((&n["title"], &n["body"]), (&ai["title"], &ai["body"]), "{n}");
    }
    let asked = fake.received().await;
    assert_eq!(asked.len(), 1, "twelve users of one segment, two slices: one AI call");
    let prompt = asked[0].to_string();
    for u in &users {
        assert!(!prompt.contains(&u.id), "no user id in the nudge prompt");
    }

    // The next day Claude is down: the templates answer, every user still gets one nudge.
    fake.answer("title", Reply::error(500, "api_error"));
    app.set_time("2026-12-02T00:00:00Z");
    run_timer(&app).await;
    pump(&app).await;
    for u in &users {
        assert_eq!(daily_of(&app, u).await, 2);
        let n = &inbox(&app, u).await["notifications"][0];
        assert_eq!(n["nudgeDay"], "2026-12-02");
        assert_ne!(n["title"], ai["title"], "a template, not yesterday's AI text");
    }
}

#[sqlx::test]
async fn an_operators_batch_is_split_into_slices_that_name_ranges_before_anything_is_published(pool: PgPool) {
    let app = GoalsApp::new(pool, MORNING);
    let a = app.user("split@example.com").await;
    app.select(&a, &["walk-7000-steps"]).await;
    pump(&app).await;
    // 10,000 targets (the most an operator may name): the old single step listed them all.
    let mut targets: Vec<String> = (0..9_999).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    targets.push(a.id.clone());
    let r = app
        .call(None, Method::POST, "/api/motivator/batch/notifications", Some(json!({"targetUsers": targets})))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let steps: Vec<Value> = sqlx::query_scalar(
        "SELECT payload FROM events.outbox WHERE event_type = 'nudge.batch' AND published_at IS NULL ORDER BY created_at, id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(steps.len(), 10, "one slice per 1,000 targets");
    for s in &steps {
        assert_eq!(s["step"]["kind"], "targets", "{s}");
        assert!(
            s.to_string().len() < 400,
            "a slice names a range, not its users: {} bytes",
            s.to_string().len()
        );
    }
    pump(&app).await;
    assert_eq!(daily_of(&app, &a).await, 1, "the target behind the ranges got its nudge");
    let created: Vec<Value> = sqlx::query_scalar(
        "SELECT payload FROM events.outbox WHERE event_type = 'notification.created' ORDER BY created_at DESC LIMIT 1",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert!(created[0].to_string().len() < 200, "{}", created[0]);
}
