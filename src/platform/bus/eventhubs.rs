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

use super::{
    outbox::OutboxEvent,
    relay::{Delivery, EventSink},
    rest::{BatchTarget, Down},
};
use crate::platform::{http_client::LazyClient, resilience::Breaker};

pub const SCOPE: &str = "https://eventhubs.azure.net/.default";
/// The Standard tier's batch limit (1 MB; Basic: 256 KB), the default (`EVENT_HUB_SKU`).
pub const STANDARD_MAX_BATCH_BYTES: usize = 1024 * 1024;

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
        Self::with_limit(base, hub, credential, inner, STANDARD_MAX_BATCH_BYTES)
    }

    /// With the batch limit of the namespace's tier (`max_batch_bytes`).
    pub fn with_limit(
        base: &url::Url,
        hub: &str,
        credential: Arc<dyn TokenCredential>,
        inner: Arc<dyn EventSink>,
        max_batch_bytes: usize,
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
                max_batch_bytes,
            },
            inner,
        })
    }
}

/// One event as an item of a Send Batch body: its payload with its type and id as properties.
pub fn message(e: &OutboxEvent) -> Value {
    json!({
        "Body": e.payload.to_string(),
        "UserProperties": { "eventType": e.event_type, "eventId": e.id.to_string() },
    })
}

#[async_trait]
impl EventSink for EventHubSink {
    /// The two targets fail alone: the hub refusing or down holds only the analytics events, and
    /// Service Bus down holds only the others.
    async fn publish(
        &self,
        conn: &mut PgConnection,
        events: &[OutboxEvent],
        down: &Down,
    ) -> anyhow::Result<Delivery> {
        let (analytics, others): (Vec<&OutboxEvent>, Vec<&OutboxEvent>) =
            events.iter().partition(|e| is_analytics(&e.event_type));
        let mut delivery = Delivery::default();
        if !others.is_empty() {
            let others: Vec<OutboxEvent> = others.into_iter().cloned().collect();
            delivery = self.inner.publish(conn, &others, down).await?;
        }
        let messages = analytics.iter().map(|e| (e.id, message(e).to_string())).collect();
        delivery.merge(self.target.send_all(messages, down).await);
        Ok(delivery)
    }

    fn publishes_after_commit(&self) -> bool {
        self.inner.publishes_after_commit()
    }
}
