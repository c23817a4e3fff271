//! The one REST send both brokers share: Service Bus's Send Message Batch and Event Hubs' Send
//! Batch take the same JSON batch, the same content type and a managed identity's token, and answer
//! 201. A 4xx other than throttling is our problem (auth, size, a missing entity), not the broker
//! being down, so it does not open the breaker.
//!
//! Batches are cut by their serialised bytes, never by a count: Send Message Batch refuses a body
//! over the tier's limit with 403 "Quota exceeded or message too large"
//! (https://learn.microsoft.com/rest/api/servicebus/send-message-batch; limits: 256 KB on Standard,
//! 1 MB on Premium, https://learn.microsoft.com/azure/service-bus-messaging/service-bus-quotas), and
//! one oversize message with 413. A message that can never fit is handed back as refused (the relay
//! dead-letters it locally with the reason), so it never blocks what comes after it.

use std::{collections::HashSet, sync::Arc, sync::Mutex, time::Duration};

use azure_core::credentials::TokenCredential;
use uuid::Uuid;

use super::relay::Delivery;
use crate::platform::{
    http_client::LazyClient,
    resilience::{Breaker, CallError},
};

/// The smallest batch limit of any tier (Service Bus Standard, Event Hubs Basic). A single message
/// larger than this that the broker refuses is refused for its size, whatever the setting says.
pub const SMALLEST_TIER_LIMIT: usize = 256 * 1024;

/// Targets that failed during one sweep: the rest of the sweep holds their events without calling
/// them again, and keeps publishing to the others.
#[derive(Debug, Default)]
pub struct Down(Mutex<HashSet<&'static str>>);

impl Down {
    pub fn is_down(&self, target: &str) -> bool {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).contains(target)
    }

    fn mark(&self, target: &'static str) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(target);
    }

    /// The targets that failed, for the sweep's report.
    pub fn targets(&self) -> Vec<&'static str> {
        let mut v: Vec<_> = self.0.lock().unwrap_or_else(|e| e.into_inner()).iter().copied().collect();
        v.sort_unstable();
        v
    }
}

/// Where and as whom a batch is sent.
pub struct BatchTarget {
    pub endpoint: url::Url,
    pub scope: &'static str,
    pub credential: Arc<dyn TokenCredential>,
    pub client: LazyClient,
    pub breaker: Breaker,
    /// For messages: "Service Bus", "Event Hubs".
    pub service: &'static str,
    /// The largest request body the tier takes, in bytes.
    pub max_batch_bytes: usize,
}

struct Failure {
    rejected: bool,
    status: Option<u16>,
    error: anyhow::Error,
}

/// Why one request failed.
enum SendError {
    /// 403 or 413: too large (or, for 403, over a quota).
    TooLarge(u16),
    Other(anyhow::Error),
}

/// A message as it goes into a batch: its event id and its JSON text.
pub type Message = (Uuid, String);

fn body(batch: &[Message]) -> String {
    let mut out = String::with_capacity(batch.iter().map(|(_, m)| m.len() + 1).sum::<usize>() + 2);
    out.push('[');
    for (i, (_, m)) in batch.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(m);
    }
    out.push(']');
    out
}

/// Cuts `messages` into batches whose bodies fit `max` bytes, in order; a message that cannot fit
/// even alone is returned apart.
pub fn cut(messages: Vec<Message>, max: usize) -> (Vec<Vec<Message>>, Vec<(Uuid, usize)>) {
    let mut batches = Vec::new();
    let mut too_large = Vec::new();
    let mut current: Vec<Message> = Vec::new();
    let mut bytes = 2; // the brackets
    for (id, m) in messages {
        if m.len() + 2 > max {
            too_large.push((id, m.len()));
            continue;
        }
        let separator = usize::from(!current.is_empty());
        if bytes + separator + m.len() > max {
            batches.push(std::mem::take(&mut current));
            bytes = 2;
        }
        bytes += usize::from(!current.is_empty()) + m.len();
        current.push((id, m));
    }
    if !current.is_empty() {
        batches.push(current);
    }
    (batches, too_large)
}

impl BatchTarget {
    /// Sends `messages` in batches that fit the tier's limit. What the target took is published,
    /// what can never fit is refused with its reason; at the first failure that a later sweep may
    /// get past (an outage, a quota, auth), the target is marked down and the rest is held.
    pub async fn send_all(&self, messages: Vec<Message>, down: &Down) -> Delivery {
        let mut out = Delivery::default();
        if messages.is_empty() {
            return out;
        }
        if down.is_down(self.service) {
            out.held = messages.len();
            return out;
        }
        let (service, max) = (self.service, self.max_batch_bytes);
        let (batches, too_large) = cut(messages, max);
        for (id, bytes) in too_large {
            out.refused.push((
                id,
                format!("{bytes} bytes as a message: larger than the {max}-byte batch limit of {service}"),
            ));
        }
        let mut queue: std::collections::VecDeque<Vec<Message>> = batches.into();
        while let Some(batch) = queue.pop_front() {
            match self.send(body(&batch)).await {
                Ok(()) => out.published.extend(batch.iter().map(|(id, _)| *id)),
                Err(SendError::TooLarge(_)) if batch.len() > 1 => {
                    // Our measure and the broker's disagree (or the tier setting is wrong):
                    // halve until each message stands alone.
                    let mut first = batch;
                    let second = first.split_off(first.len() / 2);
                    queue.push_front(second);
                    queue.push_front(first);
                }
                Err(SendError::TooLarge(status))
                    if status == 413 || batch[0].1.len() > SMALLEST_TIER_LIMIT =>
                {
                    let (id, m) = &batch[0];
                    out.refused
                        .push((*id, format!("{service} refused {} bytes as too large ({status})", m.len())));
                }
                Err(err) => {
                    let error = match err {
                        SendError::TooLarge(status) => anyhow::anyhow!(
                            "{service} answered {status}: quota exceeded (the entity is full) or a message too large for the tier"
                        ),
                        SendError::Other(e) => e,
                    };
                    down.mark(service);
                    out.held = batch.len() + queue.iter().map(Vec::len).sum::<usize>();
                    out.failed.push(error.context(format!("sending a batch to {service}")));
                    break;
                }
            }
        }
        out
    }

    async fn send(&self, body: String) -> Result<(), SendError> {
        let service = self.service;
        let token = self.credential.get_token(&[self.scope], None).await.map_err(|e| {
            SendError::Other(anyhow::anyhow!("{e}").context(format!("getting a {service} token")))
        })?;
        let request = self
            .client
            .get()
            .post(self.endpoint.clone())
            .timeout(Duration::from_secs(15))
            .bearer_auth(token.token.secret())
            .header(reqwest::header::CONTENT_TYPE, "application/vnd.microsoft.servicebus.json")
            .body(body);
        let result = self
            .breaker
            .call(
                |f: &Failure| !f.rejected,
                || async move {
                    let res = request.send().await.map_err(|e| Failure {
                        rejected: false,
                        status: None,
                        error: anyhow::Error::from(e.without_url()),
                    })?;
                    let status = res.status();
                    if status == reqwest::StatusCode::CREATED {
                        return Ok(());
                    }
                    let rejected =
                        status.is_client_error() && status != reqwest::StatusCode::TOO_MANY_REQUESTS;
                    Err(Failure {
                        rejected,
                        status: Some(status.as_u16()),
                        error: anyhow::anyhow!("{service} answered {status}"),
                    })
                },
            )
            .await;
        match result {
            Ok(()) => Ok(()),
            Err(CallError::Open(open)) => Err(SendError::Other(anyhow::Error::new(open))),
            Err(CallError::Failed(Failure { status: Some(s @ (403 | 413)), .. })) => {
                Err(SendError::TooLarge(s))
            }
            Err(CallError::Failed(f)) => Err(SendError::Other(f.error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(n: usize) -> Message {
        (Uuid::now_v7(), "x".repeat(n))
    }

    #[test]
    fn batches_are_cut_by_their_bytes_and_a_message_that_can_never_fit_is_set_apart() {
        let big = msg(300);
        let big_id = big.0;
        let (batches, too_large) = cut(vec![msg(40), msg(40), big, msg(40), msg(50)], 100);
        assert_eq!(too_large, [(big_id, 300)]);
        for b in &batches {
            assert!(body(b).len() <= 100, "{}", body(b).len());
        }
        assert_eq!(batches.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2]);
        // 98 bytes fit exactly (with the brackets); 99 do not.
        assert_eq!(cut(vec![msg(98)], 100).0.len(), 1);
        assert_eq!(cut(vec![msg(99)], 100).1.len(), 1);
        // Two of 48 bytes: 2 + 48 + 1 + 48 = 99.
        assert_eq!(cut(vec![msg(48), msg(48)], 99).0.len(), 1);
        assert_eq!(cut(vec![msg(48), msg(48)], 98).0.len(), 2);
    }
}
