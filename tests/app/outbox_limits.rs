//! The relay against brokers that enforce their real limits (`support::broker`): batches cut by
//! their bytes under the tier's limit, an event that can never fit dead-lettered with its reason
//! while the sweep goes on, and Service Bus and Event Hubs each failing alone.

use std::sync::Arc;

use healthsync::{
    config::Config,
    platform::bus::{self, EventSink, NewEvent, eventhubs::EventHubSink, servicebus::ServiceBusSink},
};
use serde_json::json;
use sqlx::PgPool;

use crate::support::broker::{FakeBroker, FakeCredential, PREMIUM, STANDARD};

fn sb_sink(broker: &FakeBroker, limit: usize) -> ServiceBusSink {
    ServiceBusSink::with_limit(&broker.base(), "events", FakeCredential::service_bus(), limit).unwrap()
}

/// The app whose relay publishes through `sink`.
fn app_with_sink(pool: &PgPool, sink: Arc<dyn EventSink>) -> axum::Router {
    crate::support::TestApp::builder(pool.clone()).events(sink).spawn().router
}

async fn run_relay(app: &axum::Router) -> crate::support::Answer {
    let timer = json!({"Data": {"timer": {"ScheduleStatus": null, "IsPastDue": false}}, "Metadata": {}});
    crate::support::call(app, axum::http::Method::POST, "/OutboxRelay", Some(timer)).await
}

/// Writes `n` events of `event_type` whose payload is about `bytes` long, oldest first.
async fn write(pool: &PgPool, event_type: &'static str, n: usize, bytes: usize) -> Vec<uuid::Uuid> {
    let mut ids = Vec::new();
    let mut tx = pool.begin().await.unwrap();
    for i in 0..n {
        let payload = json!({ "n": i, "pad": "x".repeat(bytes) });
        ids.push(bus::publish(&mut tx, NewEvent::new(event_type, payload)).await.unwrap());
    }
    tx.commit().await.unwrap();
    ids
}

async fn unpublished(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events.outbox WHERE published_at IS NULL")
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn dead_letters(pool: &PgPool) -> Vec<(String, String, String)> {
    sqlx::query_as("SELECT consumer, message_id, reason FROM events.dead_letters ORDER BY id")
        .fetch_all(pool)
        .await
        .unwrap()
}

#[sqlx::test]
async fn a_2_mb_event_first_in_the_outbox_and_1000_behind_it_one_sweep_delivers_the_1000_and_dead_letters_the_big_one(
    pool: PgPool,
) {
    let broker = FakeBroker::start("events", STANDARD).await;
    let big = write(&pool, "user.deleted", 1, 2 << 20).await[0];
    let ordinary = write(&pool, "user.deleted", 1000, 60).await;
    let app = app_with_sink(&pool, Arc::new(sb_sink(&broker, STANDARD)));

    let run = run_relay(&app).await;
    assert_eq!(run.status, axum::http::StatusCode::OK, "{}", run.text);
    assert_eq!(run.body["ReturnValue"]["published"], 1000, "{}", run.text);
    assert_eq!(run.body["ReturnValue"]["deadLettered"], 1, "{}", run.text);
    let mut taken = broker.taken_ids();
    taken.sort();
    let mut expected: Vec<String> = ordinary.iter().map(|id| id.to_string()).collect();
    expected.sort();
    assert_eq!(taken, expected, "every ordinary event went out, the big one never did");
    assert!(broker.largest_body() <= STANDARD);
    assert!(broker.requests() < 10, "batches, not one request per event: {}", broker.requests());
    assert_eq!(unpublished(&pool).await, 0);
    let dl = dead_letters(&pool).await;
    assert_eq!(dl.len(), 1);
    assert_eq!((dl[0].0.as_str(), dl[0].1.as_str()), (bus::RELAY_DEAD_LETTER, big.to_string().as_str()));
    assert!(dl[0].2.contains("larger than the 262144-byte batch limit of Service Bus"), "{}", dl[0].2);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM events.outbox WHERE id = $1")
        .bind(big)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 0, "the big one left the outbox for the dead letters, body and all");
    let replayable = bus::replay::recorded(&pool, &Default::default()).await.unwrap();
    assert!(replayable.is_empty(), "replaying cannot make it fit, so replay-dlq leaves it");
}

#[sqlx::test]
async fn seven_events_of_41_kb_are_cut_into_batches_under_the_standard_limit_and_go_as_one_on_premium(
    pool: PgPool,
) {
    // Seven `notification.created` events of the old shape (1,000 UUIDs, ~41 KB each): one batch
    // of them is ~290 KB, which Standard refuses with 403.
    let ids = write(&pool, "notification.created", 7, 41 * 1024).await;
    let broker = FakeBroker::start("events", STANDARD).await;
    assert_eq!(bus::relay_batch(&pool, &sb_sink(&broker, STANDARD), 100).await.unwrap(), 7);
    assert_eq!(broker.requests(), 2, "cut in two by bytes");
    assert!(broker.largest_body() <= STANDARD);
    assert_eq!(broker.taken_ids(), ids.iter().map(ToString::to_string).collect::<Vec<_>>());

    sqlx::query("UPDATE events.outbox SET published_at = NULL").execute(&pool).await.unwrap();
    let broker = FakeBroker::start("events", PREMIUM).await;
    assert_eq!(bus::relay_batch(&pool, &sb_sink(&broker, PREMIUM), 100).await.unwrap(), 7);
    assert_eq!(broker.requests(), 1, "Premium takes them in one batch");
}

#[test]
fn the_batch_limit_follows_the_tier_settings() {
    let config = |extra: &[(&str, &str)]| Config::from_source(&crate::support::settings(extra));
    let standard = config(&[]).unwrap();
    assert_eq!(
        (standard.service_bus_max_batch_bytes, standard.event_hub_max_batch_bytes),
        (STANDARD, PREMIUM)
    );
    let premium = config(&[("SERVICE_BUS_SKU", "premium"), ("EVENT_HUB_SKU", "Basic")]).unwrap();
    assert_eq!((premium.service_bus_max_batch_bytes, premium.event_hub_max_batch_bytes), (PREMIUM, STANDARD));
    let err = config(&[("SERVICE_BUS_SKU", "Basic")]).unwrap_err().to_string();
    assert!(err.contains("SERVICE_BUS_SKU"), "{err}");
}

#[sqlx::test]
async fn a_tier_setting_larger_than_the_namespace_costs_splits_not_events(pool: PgPool) {
    // The setting says Premium but the namespace is Standard: batches of ~500 KB get 403 and are
    // halved; a single 300 KB message gets 413 and is dead-lettered; the rest goes out.
    let broker = FakeBroker::start("events", STANDARD).await;
    let small = write(&pool, "user.deleted", 5, 100 * 1024).await;
    let large = write(&pool, "user.deleted", 1, 300 * 1024).await[0];
    let sink = sb_sink(&broker, PREMIUM);
    let mut sweep = bus::Sweep::new(&pool, &sink);
    while sweep.step(100).await.unwrap() {}
    assert_eq!((sweep.total.published, sweep.total.dead_lettered), (5, 1), "{:?}", sweep.total);
    assert!(sweep.total.failures.is_empty(), "{:?}", sweep.total.failures);
    assert_eq!(broker.taken_ids(), small.iter().map(ToString::to_string).collect::<Vec<_>>());
    let dl = dead_letters(&pool).await;
    assert_eq!(dl[0].1, large.to_string());
    assert!(dl[0].2.contains("refused") && dl[0].2.contains("413"), "{}", dl[0].2);
}

#[sqlx::test]
async fn a_full_entity_holds_the_events_without_dead_lettering_them(pool: PgPool) {
    let broker = FakeBroker::start("events", STANDARD).await;
    broker.fail_with(Some(403));
    write(&pool, "user.deleted", 3, 100).await;
    let sink = sb_sink(&broker, STANDARD);
    let err = bus::relay_batch(&pool, &sink, 100).await.unwrap_err();
    assert!(format!("{err:#}").contains("quota exceeded"), "{err:#}");
    assert_eq!(unpublished(&pool).await, 3);
    assert!(dead_letters(&pool).await.is_empty(), "a quota is not the events' fault");
    broker.fail_with(None);
    assert_eq!(bus::relay_batch(&pool, &sink, 100).await.unwrap(), 3);
}

/// Event Hubs in front of Service Bus, both fakes.
async fn both(pool: &PgPool) -> (FakeBroker, FakeBroker, axum::Router) {
    let sb = FakeBroker::start("events", STANDARD).await;
    let hub = FakeBroker::start("analytics", PREMIUM).await;
    let inner: Arc<dyn EventSink> = Arc::new(sb_sink(&sb, STANDARD));
    let sink =
        EventHubSink::with_limit(&hub.base(), "analytics", FakeCredential::event_hubs(), inner, PREMIUM)
            .unwrap();
    // Interleaved, oldest first: hub events ahead of bus events and behind them.
    for i in 0..300 {
        let t = if i % 3 == 0 { "ai.call" } else { "user.deleted" };
        write(pool, t, 1, 50).await;
    }
    (sb, hub, app_with_sink(pool, Arc::new(sink)))
}

#[sqlx::test]
async fn an_event_hubs_refusal_holds_only_the_analytics_events(pool: PgPool) {
    let (sb, hub, app) = both(&pool).await;
    hub.fail_with(Some(401));
    let run = run_relay(&app).await;
    assert_eq!(run.status, axum::http::StatusCode::INTERNAL_SERVER_ERROR, "the failure shows: {}", run.text);
    assert_eq!(sb.taken().len(), 200, "every Service Bus event went out");
    assert_eq!(hub.requests(), 1, "a failed target is not called again in the same sweep");
    assert_eq!(unpublished(&pool).await, 100);
    hub.fail_with(None);
    let again = run_relay(&app).await;
    assert_eq!(again.status, axum::http::StatusCode::OK, "{}", again.text);
    assert_eq!(hub.taken().len(), 100);
    assert_eq!(unpublished(&pool).await, 0);
}

#[sqlx::test]
async fn a_service_bus_outage_holds_only_the_service_bus_events(pool: PgPool) {
    let (sb, hub, app) = both(&pool).await;
    sb.fail_with(Some(503));
    let run = run_relay(&app).await;
    assert_eq!(run.status, axum::http::StatusCode::INTERNAL_SERVER_ERROR, "{}", run.text);
    assert_eq!(hub.taken().len(), 100, "every analytics event went out");
    assert_eq!(unpublished(&pool).await, 200);
    assert!(dead_letters(&pool).await.is_empty());
}
