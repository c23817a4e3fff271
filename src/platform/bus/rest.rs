//! The one REST send both brokers share: Service Bus's Send Message Batch and Event Hubs' Send
//! Batch take the same JSON batch, the same content type and a managed identity's token, and answer
//! 201. A 4xx other than throttling is our problem (auth, size, a missing entity), not the broker
//! being down, so it does not open the breaker.

use std::{sync::Arc, time::Duration};

use azure_core::credentials::TokenCredential;
use serde_json::Value;

use crate::platform::{
    http_client::LazyClient,
    resilience::{Breaker, CallError},
};

/// Where and as whom a batch is sent.
pub struct BatchTarget {
    pub endpoint: url::Url,
    pub scope: &'static str,
    pub credential: Arc<dyn TokenCredential>,
    pub client: LazyClient,
    pub breaker: Breaker,
    /// For messages: "Service Bus", "Event Hubs".
    pub service: &'static str,
}

struct Failure {
    rejected: bool,
    error: anyhow::Error,
}

impl BatchTarget {
    pub async fn send(&self, batch: &Value) -> anyhow::Result<()> {
        let service = self.service;
        let token = self
            .credential
            .get_token(&[self.scope], None)
            .await
            .map_err(|e| anyhow::anyhow!("{e}").context(format!("getting a {service} token")))?;
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
                |f: &Failure| !f.rejected,
                || async move {
                    let res =
                        request.send().await.map_err(|e| Failure { rejected: false, error: e.into() })?;
                    let status = res.status();
                    if status == reqwest::StatusCode::CREATED {
                        return Ok(());
                    }
                    let rejected =
                        status.is_client_error() && status != reqwest::StatusCode::TOO_MANY_REQUESTS;
                    Err(Failure { rejected, error: anyhow::anyhow!("{service} answered {status}") })
                },
            )
            .await;
        match result {
            Ok(()) => Ok(()),
            Err(CallError::Open(open)) => Err(anyhow::Error::new(open)),
            Err(CallError::Failed(f)) => Err(f.error.context(format!("sending a batch to {service}"))),
        }
    }
}
