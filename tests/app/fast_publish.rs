//! Publishing right after commit (issue 12, item 9): a request or invocation sends the events it
//! committed to Service Bus before it answers, within its budget; whatever fails or runs late
//! stays in the outbox for the once-a-minute sweep. Service Bus is the fake speaking its REST
//! contract (`support::broker`).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use axum::http::{Method, StatusCode};
use healthsync::platform::bus::{FastRelay, LocalQueueSink, servicebus::ServiceBusSink};
use serde_json::json;
use sqlx::PgPool;

use crate::support::{
    TestApp,
    broker::{FakeBroker, FakeCredential, STANDARD},
    call,
};

async fn app(broker: &FakeBroker, pool: &PgPool, extra: &[(&str, &str)]) -> axum::Router {
    let sink =
        Arc::new(ServiceBusSink::new(&broker.base(), "events", FakeCredential::service_bus()).unwrap());
    TestApp::builder(pool.clone()).settings(extra).events(sink).spawn().router
}

async fn unpublished(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events.outbox WHERE published_at IS NULL")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test]
async fn a_request_publishes_the_events_it_committed_before_it_answers(pool: PgPool) {
    let broker = FakeBroker::start("events", STANDARD).await;
    let app = app(&broker, &pool, &[]).await;
    // Written before the request, by someone else: not this request's to publish.
    sqlx::query("INSERT INTO events.outbox (id, event_type, payload) VALUES (gen_random_uuid(), 'user.deleted', '{}')")
        .execute(&pool)
        .await
        .unwrap();

    let answer = call(&app, Method::POST, "/api/system/heartbeats", None).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    let ours: Vec<String> = sqlx::query_scalar(
        "SELECT id::text FROM events.outbox WHERE event_type = 'system.heartbeat' AND published_at IS NOT NULL",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(ours.len(), 1, "the heartbeat's event was published and marked before the answer");
    assert_eq!(broker.taken_ids(), ours, "exactly the request's own event went to Service Bus");
    assert_eq!(unpublished(&pool).await, 1, "the other row is left for the sweep");
}

#[sqlx::test]
async fn an_invocation_publishes_what_it_committed_too(pool: PgPool) {
    let broker = FakeBroker::start("events", STANDARD).await;
    let app = app(&broker, &pool, &[]).await;
    let timer = json!({"Data": {"timer": {"ScheduleStatus": null, "IsPastDue": false}}, "Metadata": {}});
    let answer = call(&app, Method::POST, "/HeartbeatTimer", Some(timer)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(broker.taken_ids().len(), 1);
    assert_eq!(unpublished(&pool).await, 0);
}

#[sqlx::test]
async fn when_service_bus_fails_the_request_still_succeeds_and_the_event_waits_for_the_sweep(pool: PgPool) {
    let broker = FakeBroker::start("events", STANDARD).await;
    broker.fail_with(Some(503));
    let app = app(&broker, &pool, &[]).await;
    let answer = call(&app, Method::POST, "/api/system/heartbeats", None).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    assert_eq!(unpublished(&pool).await, 1, "nothing is marked published that Service Bus did not take");

    broker.fail_with(None);
    let timer = json!({"Data": {"timer": {"ScheduleStatus": null, "IsPastDue": false}}, "Metadata": {}});
    let sweep = call(&app, Method::POST, "/OutboxRelay", Some(timer)).await;
    assert_eq!(sweep.body["ReturnValue"]["published"], 1, "{}", sweep.text);
    assert_eq!(unpublished(&pool).await, 0);
}

#[sqlx::test]
async fn a_slow_service_bus_holds_the_answer_no_longer_than_the_budget(pool: PgPool) {
    let broker = FakeBroker::start("events", STANDARD).await;
    broker.slow(Duration::from_secs(2));
    let app = app(&broker, &pool, &[("OUTBOX_PUBLISH_BUDGET_MS", "150")]).await;
    let started = Instant::now();
    let answer = call(&app, Method::POST, "/api/system/heartbeats", None).await;
    let took = started.elapsed();
    assert_eq!(answer.status, StatusCode::CREATED);
    assert!(took < Duration::from_millis(1500), "the answer waited {took:?} for a 2 s send");
    // The send was not cut off: it finishes on its own and marks the row.
    tokio::time::timeout(Duration::from_secs(10), async {
        while unpublished(&pool).await > 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the send that outlived the budget still completed");
}

#[sqlx::test]
async fn a_zero_budget_or_the_local_queue_leaves_publishing_to_the_relay(pool: PgPool) {
    let broker = FakeBroker::start("events", STANDARD).await;
    let app = app(&broker, &pool, &[("OUTBOX_PUBLISH_BUDGET_MS", "0")]).await;
    assert_eq!(call(&app, Method::POST, "/api/system/heartbeats", None).await.status, StatusCode::CREATED);
    assert_eq!(unpublished(&pool).await, 1);
    assert!(broker.taken_ids().is_empty());

    let local = Arc::new(LocalQueueSink { subscriptions: vec![] });
    assert!(
        FastRelay::new(pool.clone(), local, Duration::from_secs(1)).is_none(),
        "the local host relays on NOTIFY"
    );
}
