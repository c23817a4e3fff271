//! A day's nudges for 10,000 generated users through `healthsync dev`: the timer's run fans out in
//! slices over the local queue; the handler is killed (SIGKILL) while a slice is being processed
//! and the slice is redelivered. Every eligible user gets exactly one nudge; users without an open
//! goal none. Then the operators' batch (behind the function key) for 22:30 the evening before:
//! only users with the night-time consent are nudged.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::{
    dev_host::{DevHost, NEVER},
    process::{TestDb, signal},
};

const USERS: i64 = 10_000;
const KEY: &str = "local-operator-key";

async fn scalar(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// bench/motivator_users.sql with `:n` bound.
async fn generate(pool: &PgPool, n: i64) {
    let sql = include_str!("../../bench/motivator_users.sql");
    let body: String =
        sql.lines().filter(|l| !l.trim_start().starts_with("--")).collect::<Vec<_>>().join("\n");
    for statement in body.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        sqlx::query(&statement.replace(":n", &n.to_string()))
            .execute(pool)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
}

async fn wait_for_slices(pool: &PgPool, limit: Duration) {
    let started = Instant::now();
    loop {
        let pending = scalar(
            pool,
            "SELECT (SELECT count(*) FROM events.local_queue WHERE function_name = 'MotivatorNudgeSlice') \
                  + (SELECT count(*) FROM events.outbox WHERE published_at IS NULL AND event_type = 'nudge.batch')",
        )
        .await;
        if pending == 0 {
            return;
        }
        assert!(started.elapsed() < limit, "slices still pending after {limit:?}: {pending}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_days_nudges_reach_every_eligible_user_once_through_a_killed_slice() {
    let db = TestDb::create().await;
    db.migrate();
    let pool = db.pool().await;
    generate(&pool, USERS).await;
    let with_goal = scalar(&pool, "SELECT count(*) FROM goals.goals WHERE end_date IS NULL").await;
    assert_eq!(with_goal, USERS * 4 / 5);
    let dev = DevHost::start_with(
        &db,
        NEVER,
        &[
            ("NUDGE_SCHEDULE", NEVER),
            ("NUDGE_SLICE_SIZE", "250"),
            // 09:05 in Seoul on 1 December.
            ("CLOCK_START", "2026-12-01T00:05:00Z"),
            ("LOCAL_FUNCTION_KEY", KEY),
        ],
    )
    .await;

    let started = Instant::now();
    let fired = dev.client.post(dev.url("/admin/functions/MotivatorDailyNudges")).send().await.unwrap();
    assert_eq!(fired.status(), StatusCode::ACCEPTED);
    // Kill the handler while a slice is being processed: some nudges written, a slice in flight.
    let pid = dev.handler_pid().await;
    let (written_at_kill, in_flight_at_kill) = loop {
        let written = scalar(&pool, "SELECT count(*) FROM motivator.notifications").await;
        let in_flight = scalar(
            &pool,
            "SELECT count(*) FROM events.local_queue WHERE function_name = 'MotivatorNudgeSlice' \
             AND locked_until > now() AND body->'step'->>'kind' = 'slice'",
        )
        .await;
        if written > 0 && in_flight > 0 && written < with_goal {
            assert!(signal(pid, "KILL"), "killing the handler");
            break (written, in_flight);
        }
        assert!(written < with_goal, "the run ended before a kill could land");
        assert!(started.elapsed() < Duration::from_secs(60), "no slice in flight within 60 s");
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    wait_for_slices(&pool, Duration::from_secs(180)).await;
    eprintln!(
        "10,000 users: run done in {:?} (killed with {written_at_kill} written, {in_flight_at_kill} slice(s) in flight)",
        started.elapsed()
    );
    // Every user with an open goal: exactly one nudge for the day; nobody else any.
    let per_user: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT n, count(*) FROM (SELECT g.user_id, (SELECT count(*) FROM motivator.notifications m \
           WHERE m.user_id = g.user_id AND m.nudge_day = '2026-12-01') AS n FROM goals.goals g WHERE g.end_date IS NULL) x \
         GROUP BY n ORDER BY n",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(per_user, [(1, with_goal)], "nudges per user with a goal");
    assert_eq!(
        scalar(
            &pool,
            "SELECT count(*) FROM motivator.notifications m WHERE NOT EXISTS \
             (SELECT 1 FROM goals.goals g WHERE g.user_id = m.user_id AND g.end_date IS NULL)"
        )
        .await,
        0,
        "users without a goal"
    );
    let (processed, created): (i32, i32) =
        sqlx::query_as("SELECT processed, created FROM motivator.nudge_runs").fetch_one(&pool).await.unwrap();
    assert_eq!(created as i64, with_goal);
    assert_eq!(processed as i64, with_goal, "the killed slice counted once");

    // The operators' batch: the function key is demanded; 22:30 in Seoul the evening before.
    let url = dev.url("/api/motivator/batch/notifications");
    let body = json!({ "triggerTime": "2026-11-30T13:30:00Z" });
    let refused = dev.client.post(&url).json(&body).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let wrong = dev.client.post(&url).header("x-functions-key", "nope").json(&body).send().await.unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let ok = dev.client.post(&url).header("x-functions-key", KEY).json(&body).send().await.unwrap();
    assert_eq!(ok.status(), StatusCode::ACCEPTED, "{}", ok.text().await.unwrap_or_default());
    wait_for_slices(&pool, Duration::from_secs(180)).await;
    let consenting = scalar(
        &pool,
        "SELECT count(*) FROM goals.goals g JOIN users.consents c ON c.user_id = g.user_id \
         WHERE g.end_date IS NULL AND c.kind = 'NIGHT_PROMOTIONAL' AND c.granted",
    )
    .await;
    assert!(consenting > 0);
    let night: Vec<(bool, i64)> = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM users.consents c WHERE c.user_id = m.user_id AND c.kind = 'NIGHT_PROMOTIONAL' \
           AND c.granted), count(*) FROM motivator.notifications m WHERE m.nudge_day = '2026-11-30' GROUP BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(night, [(true, consenting)], "in quiet hours only the consenting are nudged");
    drop(dev);
}
