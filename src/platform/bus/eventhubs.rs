//! Analytics events to Event Hubs. Events whose type is an analytics type ([`is_analytics`]) go to
//! the hub over its REST API (Send Batch, `https://{namespace}/{hub}/messages`, the managed
//! identity's token for `https://eventhubs.azure.net`); every other event goes to the sink it
//! wraps (the Service Bus topic). Locally there is no hub: analytics events stay in the outbox like
//! every event, where the relay marks them published.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use async_trait::async_trait;
use azure_core::credentials::TokenCredential;
use serde_json::{Value, json};
use sqlx::PgConnection;

use super::{outbox::OutboxEvent, relay::EventSink, rest::BatchTarget};
use crate::platform::{http_client::LazyClient, resilience::Breaker};

pub const SCOPE: &str = "https://eventhubs.azure.net/.default";
const MAX_BATCH: usize = 100;

/// Analytics event types: `ai.*` and `analytics.*`. They feed reports, no consumer reacts to them.
pub fn is_analytics(event_type: &str) -> bool {
    event_type.starts_with("ai.") || event_type.starts_with("analytics.")
}

pub struct EventHubSink {
    /// `https://{namespace}/{hub}/messages`
    target: BatchTarget,
    /// Where the other events go.
    inner: Arc<dyn EventSink>,
}

impl EventHubSink {
    /// `base` is `https://{fully qualified namespace}/` (or a local fake).
    pub fn new(
        base: &url::Url,
        hub: &str,
        credential: Arc<dyn TokenCredential>,
        inner: Arc<dyn EventSink>,
    ) -> anyhow::Result<Self> {
        let endpoint = base.join(&format!("{hub}/messages")).context("building the Event Hubs endpoint")?;
        Ok(Self {
            target: BatchTarget {
                endpoint,
                scope: SCOPE,
                credential,
                client: LazyClient::default(),
                breaker: Breaker::new("eventhubs", 5, Duration::from_secs(30)),
                service: "Event Hubs",
            },
            inner,
        })
    }
}

/// The Send Batch body: each event's payload with its type and id as properties.
pub fn batch_body(events: &[&OutboxEvent]) -> Value {
    Value::Array(
        events
            .iter()
            .map(|e| {
                json!({
                    "Body": e.payload.to_string(),
                    "UserProperties": { "eventType": e.event_type, "eventId": e.id.to_string() },
                })
            })
            .collect(),
    )
}

#[async_trait]
impl EventSink for EventHubSink {
    async fn publish(&self, conn: &mut PgConnection, events: &[OutboxEvent]) -> anyhow::Result<()> {
        let (analytics, others): (Vec<&OutboxEvent>, Vec<&OutboxEvent>) =
            events.iter().partition(|e| is_analytics(&e.event_type));
        if !others.is_empty() {
            let others: Vec<OutboxEvent> = others.into_iter().cloned().collect();
            self.inner.publish(conn, &others).await?;
        }
        for chunk in analytics.chunks(MAX_BATCH) {
            self.target.send(&batch_body(chunk)).await?;
        }
        Ok(())
    }

    fn publishes_after_commit(&self) -> bool {
        self.inner.publishes_after_commit()
    }
}
