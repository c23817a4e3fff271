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

use super::{outbox::OutboxEvent, relay::EventSink};
use crate::platform::{
    http_client::LazyClient,
    resilience::{Breaker, CallError},
};

pub const SCOPE: &str = "https://servicebus.azure.net/.default";
/// Well under the 256 KB (Standard) batch limit for our small events.
const MAX_BATCH: usize = 100;

pub struct ServiceBusSink {
    /// `https://{namespace}/{topic}/messages`
    endpoint: url::Url,
    credential: Arc<dyn TokenCredential>,
    client: LazyClient,
    breaker: Breaker,
}

impl ServiceBusSink {
    /// `base` is `https://{fully qualified namespace}/`.
    pub fn new(base: &url::Url, topic: &str, credential: Arc<dyn TokenCredential>) -> anyhow::Result<Self> {
        let endpoint =
            base.join(&format!("{topic}/messages")).context("building the Service Bus endpoint")?;
        Ok(Self {
            endpoint,
            credential,
            client: LazyClient::default(),
            breaker: Breaker::new("servicebus", 5, Duration::from_secs(30)),
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
        let token = self
            .credential
            .get_token(&[SCOPE], None)
            .await
            .map_err(|e| anyhow::anyhow!("{e}").context("getting a Service Bus token"))?;
        let request = self
            .client
            .get()
            .post(self.endpoint.clone())
            .timeout(Duration::from_secs(15))
            .bearer_auth(token.token.secret())
            .header(reqwest::header::CONTENT_TYPE, "application/vnd.microsoft.servicebus.json")
            .body(batch.to_string());
        let result = self
            .breaker
            .call(
                |e: &SendFailure| !e.rejected,
                || async move {
                    let res = request.send().await.map_err(|e| SendFailure::transient(e.into()))?;
                    let status = res.status();
                    if status == reqwest::StatusCode::CREATED {
                        return Ok(());
                    }
                    // A 4xx other than throttling is our problem (auth, size, missing topic),
                    // not Service Bus being down: it does not open the breaker.
                    let rejected =
                        status.is_client_error() && status != reqwest::StatusCode::TOO_MANY_REQUESTS;
                    Err(SendFailure { rejected, error: anyhow::anyhow!("Service Bus answered {status}") })
                },
            )
            .await;
        match result {
            Ok(()) => Ok(()),
            Err(CallError::Open(open)) => Err(anyhow::Error::new(open)),
            Err(CallError::Failed(f)) => Err(f.error.context("sending a batch to Service Bus")),
        }
    }
}

#[derive(Debug)]
struct SendFailure {
    rejected: bool,
    error: anyhow::Error,
}

impl SendFailure {
    fn transient(error: anyhow::Error) -> Self {
        Self { rejected: false, error }
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
