//! Analytics events (`ai.*`) go to Event Hubs over its REST API with the managed identity's token;
//! every other event goes to the sink it wraps (Service Bus), and nothing is marked published
//! unless both took their share.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use healthsync::platform::bus::{self, EventSink, NewEvent, OutboxEvent, eventhubs::EventHubSink};
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};

use crate::support::broker::{FakeBroker, FakeCredential, PREMIUM};

/// The wrapped sink: records what it was handed.
#[derive(Default, Clone)]
struct Recorder(Arc<Mutex<Vec<String>>>);

#[async_trait]
impl EventSink for Recorder {
    async fn publish(
        &self,
        _: &mut PgConnection,
        events: &[OutboxEvent],
        _: &bus::Down,
    ) -> anyhow::Result<bus::Delivery> {
        self.0.lock().unwrap().extend(events.iter().map(|e| e.event_type.clone()));
        Ok(bus::Delivery::all(events))
    }
}

async fn write(pool: &PgPool, event_type: &'static str, payload: Value) {
    let mut tx = pool.begin().await.unwrap();
    bus::publish(&mut tx, NewEvent::new(event_type, payload)).await.unwrap();
    tx.commit().await.unwrap();
}

async fn unpublished(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events.outbox WHERE published_at IS NULL")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test]
async fn ai_events_go_to_the_hub_and_the_others_to_the_bus(pool: PgPool) {
    let hub = FakeBroker::start("analytics", PREMIUM).await;
    hub.fail_with(Some(503));
    write(&pool, "ai.call", json!({"purpose": "chat", "engine": "claude", "inputTokens": 5})).await;
    write(&pool, "user.deleted", json!({"userId": uuid::Uuid::new_v4()})).await;
    let inner = Recorder::default();
    let sink =
        EventHubSink::new(&hub.base(), "analytics", FakeCredential::event_hubs(), Arc::new(inner.clone()))
            .unwrap();

    // The hub is down: only its event waits; the bus's share went out all the same.
    assert!(bus::relay_batch(&pool, &sink, 100).await.is_err());
    assert_eq!(unpublished(&pool).await, 1);
    hub.fail_with(None);
    assert_eq!(bus::relay_batch(&pool, &sink, 100).await.unwrap(), 1);
    assert_eq!(unpublished(&pool).await, 0);
    assert_eq!(*inner.0.lock().unwrap(), ["user.deleted"], "only non-analytics events reach the bus, once");
    let batch = hub.taken();
    assert_eq!(hub.batches().len(), 2, "sent once while the hub was down, once after");
    assert_eq!(batch.len(), 1);
    assert_eq!(batch[0]["UserProperties"]["eventType"], "ai.call");
    let body: Value = serde_json::from_str(batch[0]["Body"].as_str().unwrap()).unwrap();
    assert_eq!(body["inputTokens"], 5);
}
