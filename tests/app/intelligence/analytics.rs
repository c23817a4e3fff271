//! Analytics events (`ai.*`) go to Event Hubs over its REST API with the managed identity's token;
//! every other event goes to the sink it wraps (Service Bus), and nothing is marked published
//! unless both took their share.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use healthsync::platform::bus::{self, EventSink, NewEvent, OutboxEvent, eventhubs::EventHubSink};
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{header, method, path},
};

#[derive(Debug)]
struct FixedToken;

#[async_trait]
impl TokenCredential for FixedToken {
    async fn get_token(
        &self,
        scopes: &[&str],
        _: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        assert_eq!(scopes, ["https://eventhubs.azure.net/.default"]);
        Ok(AccessToken::new(
            "hub-token",
            azure_core::time::OffsetDateTime::now_utc() + azure_core::time::Duration::hours(1),
        ))
    }
}

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
    let hub = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/analytics/messages"))
        .and(header("authorization", "Bearer hub-token"))
        .and(header("content-type", "application/vnd.microsoft.servicebus.json"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&hub)
        .await;
    Mock::given(method("POST"))
        .and(path("/analytics/messages"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&hub)
        .await;
    write(&pool, "ai.call", json!({"purpose": "chat", "engine": "claude", "inputTokens": 5})).await;
    write(&pool, "user.deleted", json!({"userId": uuid::Uuid::new_v4()})).await;
    let inner = Recorder::default();
    let base = url::Url::parse(&format!("{}/", hub.uri())).unwrap();
    let sink = EventHubSink::new(&base, "analytics", Arc::new(FixedToken), Arc::new(inner.clone())).unwrap();

    // The hub is down: only its event waits; the bus's share went out all the same.
    assert!(bus::relay_batch(&pool, &sink, 100).await.is_err());
    assert_eq!(unpublished(&pool).await, 1);
    assert_eq!(bus::relay_batch(&pool, &sink, 100).await.unwrap(), 1);
    assert_eq!(unpublished(&pool).await, 0);
    assert_eq!(*inner.0.lock().unwrap(), ["user.deleted"], "only non-analytics events reach the bus, once");
    let requests = hub.received_requests().await.unwrap();
    let batch: Value = serde_json::from_slice(&requests.last().unwrap().body).unwrap();
    assert_eq!(batch.as_array().unwrap().len(), 1);
    assert_eq!(batch[0]["UserProperties"]["eventType"], "ai.call");
    let body: Value = serde_json::from_str(batch[0]["Body"].as_str().unwrap()).unwrap();
    assert_eq!(body["inputTokens"], 5);
}
