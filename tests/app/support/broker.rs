//! A fake of the batch send that Service Bus and Event Hubs share over REST, as strict as their
//! public contract, mounted on a wiremock server:
//!
//! - Send Message Batch (https://learn.microsoft.com/rest/api/servicebus/send-message-batch):
//!   `POST /{topic}/messages`, `Content-Type: application/vnd.microsoft.servicebus.json`, a bearer
//!   token, a JSON array of messages each with a string `Body`; 201 when taken, 401 without a
//!   token, 400 for a body that is not such an array, 403 "Quota exceeded or message too large"
//!   for a batch over the tier's limit (or when the entity is full), 413 for one message over it.
//! - The limits are the tiers' (https://learn.microsoft.com/azure/service-bus-messaging/service-bus-quotas:
//!   256 KB on Standard, 1 MB on Premium; Event Hubs, https://learn.microsoft.com/azure/event-hubs/event-hubs-quotas:
//!   256 KB on Basic, 1 MB above). Event Hubs' Send Batch
//!   (https://learn.microsoft.com/rest/api/eventhub/send-batch-events) takes the same body.
//!
//! Everything taken is kept, in order, for the test to read.

use std::sync::{Arc, Mutex};

use serde_json::Value;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers::method};

pub const STANDARD: usize = 256 * 1024;
pub const PREMIUM: usize = 1024 * 1024;

#[derive(Default)]
struct State {
    taken: Vec<Value>,
    requests: usize,
    largest_body: usize,
    /// Answer this status to every send (an outage, a quota, a bad token), when set.
    failing: Option<u16>,
}

/// The fake broker: what it took, and a switch to make it fail.
#[derive(Clone)]
pub struct FakeBroker {
    limit: usize,
    path: String,
    state: Arc<Mutex<State>>,
}

impl FakeBroker {
    /// Mounts the fake for `entity` (a topic or hub) with a batch limit of `limit` bytes.
    pub async fn mount(server: &MockServer, entity: &str, limit: usize) -> Self {
        let broker = FakeBroker { limit, path: format!("/{entity}/messages"), state: Arc::default() };
        Mock::given(method("POST")).respond_with(broker.clone()).mount(server).await;
        broker
    }

    /// The messages taken, in order.
    pub fn taken(&self) -> Vec<Value> {
        self.state.lock().unwrap().taken.clone()
    }

    /// The `MessageId` (Service Bus) or `eventId` (Event Hubs) of each message taken.
    pub fn taken_ids(&self) -> Vec<String> {
        self.taken()
            .iter()
            .map(|m| {
                m["BrokerProperties"]["MessageId"]
                    .as_str()
                    .or(m["UserProperties"]["eventId"].as_str())
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    }

    pub fn requests(&self) -> usize {
        self.state.lock().unwrap().requests
    }

    pub fn largest_body(&self) -> usize {
        self.state.lock().unwrap().largest_body
    }

    pub fn fail_with(&self, status: Option<u16>) {
        self.state.lock().unwrap().failing = status;
    }
}

impl Respond for FakeBroker {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut state = self.state.lock().unwrap();
        state.requests += 1;
        if req.url.path() != self.path {
            // The entity does not exist.
            return ResponseTemplate::new(410);
        }
        let bearer = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("Bearer ") && v.len() > 7);
        if !bearer {
            return ResponseTemplate::new(401);
        }
        let json_batch = req.headers.get("content-type").and_then(|v| v.to_str().ok())
            == Some("application/vnd.microsoft.servicebus.json");
        let Some(batch) = json_batch
            .then(|| serde_json::from_slice::<Value>(&req.body).ok())
            .flatten()
            .and_then(|v| v.as_array().cloned())
            .filter(|a| !a.is_empty() && a.iter().all(|m| m["Body"].is_string()))
        else {
            return ResponseTemplate::new(400);
        };
        if let Some(status) = state.failing {
            return ResponseTemplate::new(status);
        }
        if req.body.len() > self.limit {
            return ResponseTemplate::new(if batch.len() == 1 { 413 } else { 403 })
                .set_body_string("Quota exceeded or message too large");
        }
        state.largest_body = state.largest_body.max(req.body.len());
        state.taken.extend(batch);
        ResponseTemplate::new(201)
    }
}
