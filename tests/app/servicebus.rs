//! The Service Bus sink against the fake that speaks Service Bus's REST contract
//! (`support::broker`): what is sent, and that nothing is marked published unless Service Bus
//! took it.

use std::sync::Arc;

use healthsync::platform::bus::{self, NewEvent, servicebus::ServiceBusSink};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::broker::{FakeBroker, FakeCredential, STANDARD};

fn sink_for(broker: &FakeBroker) -> ServiceBusSink {
    ServiceBusSink::new(&broker.base(), "events", FakeCredential::service_bus()).unwrap()
}

async fn write_events(pool: &PgPool, n: usize) {
    for i in 0..n {
        let mut tx = pool.begin().await.unwrap();
        bus::publish(&mut tx, NewEvent::new("user.deleted", json!({ "n": i })).correlated(format!("c-{i}")))
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
}

async fn unpublished(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events.outbox WHERE published_at IS NULL")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test]
async fn events_go_out_as_one_batch_with_their_ids_types_and_correlation(pool: PgPool) {
    let broker = FakeBroker::start("events", STANDARD).await;
    write_events(&pool, 3).await;
    let sink = sink_for(&broker);
    assert_eq!(bus::relay_batch(&pool, &sink, 100).await.unwrap(), 3);
    assert_eq!(unpublished(&pool).await, 0);
    assert_eq!(broker.requests(), 1, "one batch");

    let ids: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT id FROM events.outbox ORDER BY created_at, id")
        .fetch_all(&pool)
        .await
        .unwrap();
    let batch = broker.taken();
    assert_eq!(batch.len(), 3);
    for (i, msg) in batch.iter().enumerate() {
        assert_eq!(msg["BrokerProperties"]["MessageId"], json!(ids[i].to_string()));
        assert_eq!(msg["BrokerProperties"]["Label"], "user.deleted");
        assert_eq!(msg["BrokerProperties"]["CorrelationId"], json!(format!("c-{i}")));
        let payload: Value = serde_json::from_str(msg["Body"].as_str().unwrap()).unwrap();
        assert_eq!(payload, json!({ "n": i }));
    }
}

#[sqlx::test]
async fn when_service_bus_fails_nothing_is_marked_published_and_the_next_sweep_resends(pool: PgPool) {
    let broker = FakeBroker::start("events", STANDARD).await;
    broker.fail_with(Some(503));
    write_events(&pool, 2).await;
    let sink = sink_for(&broker);
    assert!(bus::relay_batch(&pool, &sink, 100).await.is_err());
    assert_eq!(unpublished(&pool).await, 2);
    broker.fail_with(None);
    assert_eq!(bus::relay_batch(&pool, &sink, 100).await.unwrap(), 2);
    assert_eq!(unpublished(&pool).await, 0);
    // The same message ids went out twice: Service Bus duplicate detection and the consumers'
    // processed-message marks make that harmless.
    let batches = broker.batches();
    assert_eq!(batches.len(), 2);
    assert_eq!(
        batches[0][0]["BrokerProperties"]["MessageId"],
        batches[1][0]["BrokerProperties"]["MessageId"]
    );
}

#[sqlx::test]
async fn a_refusal_is_an_error_but_does_not_open_the_breaker_while_outages_do(pool: PgPool) {
    let refusing = FakeBroker::start("events", STANDARD).await;
    refusing.fail_with(Some(401));
    write_events(&pool, 1).await;
    let sink = sink_for(&refusing);
    for _ in 0..7 {
        assert!(bus::relay_batch(&pool, &sink, 100).await.is_err());
    }
    assert_eq!(refusing.requests(), 7, "401s never open the breaker");

    let down = FakeBroker::start("events", STANDARD).await;
    down.fail_with(Some(500));
    let sink = sink_for(&down);
    for _ in 0..7 {
        assert!(bus::relay_batch(&pool, &sink, 100).await.is_err());
    }
    assert_eq!(down.requests(), 5, "after five failures the breaker stops calling");
    assert_eq!(unpublished(&pool).await, 1);
}

/// The app with its relay publishing to `broker`.
fn app_publishing_to(broker: &FakeBroker, pool: &PgPool) -> axum::Router {
    crate::support::TestApp::builder(pool.clone()).events(Arc::new(sink_for(broker))).spawn().router
}

async fn run_relay(app: &axum::Router) -> crate::support::Answer {
    let timer = json!({"Data": {"timer": {"ScheduleStatus": null, "IsPastDue": false}}, "Metadata": {}});
    crate::support::call(app, axum::http::Method::POST, "/OutboxRelay", Some(timer)).await
}

#[sqlx::test]
async fn the_outbox_relay_function_publishes_marks_prunes_and_stops_at_its_budget(pool: PgPool) {
    use healthsync::system::relay::{BATCH, MAX_BATCHES};
    let broker = FakeBroker::start("events", STANDARD).await;
    let app = app_publishing_to(&broker, &pool);
    // More events than one run may publish, one published a week ago and one handled mark of a
    // month ago (both due for pruning).
    let budget = BATCH as usize * MAX_BATCHES;
    sqlx::query(
        "INSERT INTO events.outbox (id, event_type, payload, created_at) \
         SELECT gen_random_uuid(), 'user.deleted', jsonb_build_object('n', n), now() + n * interval '1 microsecond' \
         FROM generate_series(1, $1) AS n",
    )
    .bind((budget + 7) as i32)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO events.outbox (id, event_type, payload, created_at, published_at) \
         VALUES (gen_random_uuid(), 'user.deleted', '{}', now() - interval '9 days', now() - interval '8 days')",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO events.processed_messages (consumer, message_id, processed_at) \
         VALUES ('Old', 'm-old', now() - interval '31 days'), ('New', 'm-new', now())",
    )
    .execute(&pool)
    .await
    .unwrap();

    let first = run_relay(&app).await;
    assert_eq!(first.status, axum::http::StatusCode::OK, "{}", first.text);
    assert_eq!(
        first.body["ReturnValue"],
        json!({"published": budget, "deadLettered": 0, "pruned": 2}),
        "{}",
        first.text
    );
    assert_eq!(unpublished(&pool).await, 7, "the rest waits for the next run");
    let sent = broker.taken_ids();
    assert_eq!(sent.len(), budget, "every published event went to Service Bus, in batches");
    let published: Vec<String> = sqlx::query_scalar(
        "SELECT id::text FROM events.outbox WHERE published_at > now() - interval '1 hour'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut sent_sorted = sent.clone();
    sent_sorted.sort();
    let mut published_sorted = published;
    published_sorted.sort();
    assert_eq!(sent_sorted, published_sorted, "what is marked published is exactly what Service Bus took");
    let marks: Vec<String> = sqlx::query_scalar("SELECT message_id FROM events.processed_messages")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(marks, ["m-new"]);

    let second = run_relay(&app).await;
    assert_eq!(
        second.body["ReturnValue"],
        json!({"published": 7, "deadLettered": 0, "pruned": 0}),
        "{}",
        second.text
    );
    assert_eq!(unpublished(&pool).await, 0);
}

#[sqlx::test]
async fn with_service_bus_down_the_relay_function_fails_for_a_retry_and_publishes_nothing(pool: PgPool) {
    let broker = FakeBroker::start("events", STANDARD).await;
    broker.fail_with(Some(503));
    let app = app_publishing_to(&broker, &pool);
    write_events(&pool, 3).await;
    let a = run_relay(&app).await;
    assert_eq!(a.status, axum::http::StatusCode::INTERNAL_SERVER_ERROR, "{}", a.text);
    assert!(a.body["Logs"][0].as_str().unwrap().contains("retried"), "{}", a.text);
    assert_eq!(unpublished(&pool).await, 3);
}
