//! Publishing to the Service Bus topic over its REST API (Send Message Batch), authenticated with
//! the app's managed identity. Message id = event id (the topic's duplicate detection and the
//! consumers' processed-message marks both key on it), `Label` = event type (what subscription
//! filters and the trigger's `Subject`/`Label` metadata read).
//!
//! REST rather than AMQP: one HTTPS request per batch fits a relay that runs in short timer
//! invocations, and its public contract can be faked in tests with a plain HTTP server.

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

pub const SCOPE: &str = "https://servicebus.azure.net/.default";
/// The Standard tier's batch limit, the default (`SERVICE_BUS_SKU`).
pub const STANDARD_MAX_BATCH_BYTES: usize = 256 * 1024;

pub struct ServiceBusSink {
    /// `https://{namespace}/{topic}/messages`
    target: BatchTarget,
}

impl ServiceBusSink {
    /// `base` is `https://{fully qualified namespace}/`.
    pub fn new(base: &url::Url, topic: &str, credential: Arc<dyn TokenCredential>) -> anyhow::Result<Self> {
        Self::with_limit(base, topic, credential, STANDARD_MAX_BATCH_BYTES)
    }

    /// With the batch limit of the namespace's tier (`max_batch_bytes`).
    pub fn with_limit(
        base: &url::Url,
        topic: &str,
        credential: Arc<dyn TokenCredential>,
        max_batch_bytes: usize,
    ) -> anyhow::Result<Self> {
        let endpoint =
            base.join(&format!("{topic}/messages")).context("building the Service Bus endpoint")?;
        Ok(Self {
            target: BatchTarget {
                endpoint,
                scope: SCOPE,
                credential,
                client: LazyClient::default(),
                breaker: Breaker::new("servicebus", 5, Duration::from_secs(30)),
                service: "Service Bus",
                max_batch_bytes,
            },
        })
    }

    /// The sink for the namespace in `ServiceBusConnection__fullyQualifiedNamespace`, with the
    /// app's (user-assigned, when `client_id` is given) managed identity.
    /// As configured: the namespace's endpoint (or `SERVICE_BUS_ENDPOINT`, a local fake), the
    /// app's managed identity and the tier's batch limit (`SERVICE_BUS_SKU`).
    pub fn for_config(namespace: &str, topic: &str, config: &crate::config::Config) -> anyhow::Result<Self> {
        let client_id = config.managed_identity_client_id.as_deref();
        let base = match &config.service_bus_endpoint {
            Some(base) => base.clone(),
            None => url::Url::parse(&format!("https://{}/", namespace.trim_end_matches('/')))
                .context("ServiceBusConnection__fullyQualifiedNamespace is not a host name")?,
        };
        let credential = crate::platform::entra::managed_identity(client_id)?;
        Self::with_limit(&base, topic, credential, config.service_bus_max_batch_bytes)
    }
}

/// One event as an item of a Send Message Batch body.
pub fn message(e: &OutboxEvent) -> Value {
    let mut broker = json!({
        "MessageId": e.id.to_string(),
        "Label": e.event_type,
        "ContentType": "application/json",
    });
    if let Some(c) = &e.correlation_id {
        broker["CorrelationId"] = json!(c);
    }
    json!({
        "Body": e.payload.to_string(),
        "BrokerProperties": broker,
        "UserProperties": { "eventType": e.event_type },
    })
}

#[async_trait]
impl EventSink for ServiceBusSink {
    async fn publish(
        &self,
        _conn: &mut PgConnection,
        events: &[OutboxEvent],
        down: &Down,
    ) -> anyhow::Result<Delivery> {
        let messages = events.iter().map(|e| (e.id, message(e).to_string())).collect();
        Ok(self.target.send_all(messages, down).await)
    }

    fn publishes_after_commit(&self) -> bool {
        true
    }
}
