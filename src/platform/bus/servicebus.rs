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

use super::{outbox::OutboxEvent, relay::EventSink, rest::BatchTarget};
use crate::platform::{http_client::LazyClient, resilience::Breaker};

pub const SCOPE: &str = "https://servicebus.azure.net/.default";
/// Well under the 256 KB (Standard) batch limit for our small events.
const MAX_BATCH: usize = 100;

pub struct ServiceBusSink {
    /// `https://{namespace}/{topic}/messages`
    target: BatchTarget,
}

impl ServiceBusSink {
    /// `base` is `https://{fully qualified namespace}/`.
    pub fn new(base: &url::Url, topic: &str, credential: Arc<dyn TokenCredential>) -> anyhow::Result<Self> {
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
            },
        })
    }

    /// The sink for the namespace in `ServiceBusConnection__fullyQualifiedNamespace`, with the
    /// app's (user-assigned, when `client_id` is given) managed identity.
    pub fn for_namespace(namespace: &str, topic: &str, client_id: Option<&str>) -> anyhow::Result<Self> {
        let base = url::Url::parse(&format!("https://{}/", namespace.trim_end_matches('/')))
            .context("ServiceBusConnection__fullyQualifiedNamespace is not a host name")?;
        Self::new(&base, topic, crate::platform::entra::managed_identity(client_id)?)
    }

    /// As configured: the namespace's endpoint (or `SERVICE_BUS_ENDPOINT`, a local fake) and the
    /// app's managed identity.
    pub fn for_config(namespace: &str, topic: &str, config: &crate::config::Config) -> anyhow::Result<Self> {
        let client_id = config.managed_identity_client_id.as_deref();
        match &config.service_bus_endpoint {
            Some(base) => Self::new(base, topic, crate::platform::entra::managed_identity(client_id)?),
            None => Self::for_namespace(namespace, topic, client_id),
        }
    }

    async fn send(&self, batch: Value) -> anyhow::Result<()> {
        self.target.send(&batch).await
    }
}

/// The Send Message Batch body for `events`.
pub fn batch_body(events: &[OutboxEvent]) -> Value {
    Value::Array(
        events
            .iter()
            .map(|e| {
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
            })
            .collect(),
    )
}

#[async_trait]
impl EventSink for ServiceBusSink {
    async fn publish(&self, _conn: &mut PgConnection, events: &[OutboxEvent]) -> anyhow::Result<()> {
        for chunk in events.chunks(MAX_BATCH) {
            self.send(batch_body(chunk)).await?;
        }
        Ok(())
    }

    fn publishes_after_commit(&self) -> bool {
        true
    }
}
