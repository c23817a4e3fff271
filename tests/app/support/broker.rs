//! The one fake of Service Bus's REST API (and of Event Hubs' send, which takes the same batch),
//! as strict as their public contract, on a wiremock server of its own:
//!
//! - Send Message Batch (https://learn.microsoft.com/rest/api/servicebus/send-message-batch):
//!   `POST /{topic}/messages`, `Content-Type: application/vnd.microsoft.servicebus.json`, a bearer
//!   token, a JSON array of messages each with a string `Body`; 201 when taken, 401 without a
//!   valid token, 400 for a body that is not such an array, 403 "Quota exceeded or message too
//!   large" for a batch over the tier's limit (or when the entity is full), 413 for one message
//!   over it. Event Hubs' Send Batch (https://learn.microsoft.com/rest/api/eventhub/send-batch-events)
//!   takes the same body.
//! - Send Message (https://learn.microsoft.com/rest/api/servicebus/send-message-to-queue): the same
//!   address with any other content type; the body is the message and the `BrokerProperties`
//!   header (JSON) its properties; 201, or 413 over the limit.
//! - A subscription's dead-letter queue
//!   (https://learn.microsoft.com/rest/api/servicebus/peek-lock-message-non-destructive-read,
//!   https://learn.microsoft.com/rest/api/servicebus/unlock-message,
//!   https://learn.microsoft.com/rest/api/servicebus/delete-message): a peek-lock receive
//!   (`POST .../$deadletterqueue/messages/head`) takes the unlocked message with the lowest
//!   sequence number (201, its `BrokerProperties` and the lock's `Location`; 204 when none); `PUT`
//!   on the lock unlocks it, `DELETE` completes it, each 200, or 404 when the lock is unknown or
//!   expired. A subscription the test did not create is a 404.
//! - The limits are the tiers' (https://learn.microsoft.com/azure/service-bus-messaging/service-bus-quotas:
//!   256 KB on Standard, 1 MB on Premium; Event Hubs, https://learn.microsoft.com/azure/event-hubs/event-hubs-quotas:
//!   256 KB on Basic, 1 MB above). An address outside the entity is a 410 (it does not exist).
//!
//! Every request needs `Bearer {TOKEN}`, which [`FakeCredential`] hands out for the scope the
//! client must ask for. Everything taken is kept, in order, for the test to read.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers::any};

pub const STANDARD: usize = 256 * 1024;
pub const PREMIUM: usize = 1024 * 1024;

/// The token the fake credential hands out and the fake broker takes.
pub const TOKEN: &str = "test-token";

/// Stands in for the managed identity: hands out [`TOKEN`] for its scope, and fails the test when
/// asked for another.
#[derive(Debug)]
pub struct FakeCredential {
    scope: &'static str,
}

impl FakeCredential {
    pub fn service_bus() -> Arc<Self> {
        Arc::new(FakeCredential { scope: "https://servicebus.azure.net/.default" })
    }

    pub fn event_hubs() -> Arc<Self> {
        Arc::new(FakeCredential { scope: "https://eventhubs.azure.net/.default" })
    }
}

#[async_trait]
impl TokenCredential for FakeCredential {
    async fn get_token(
        &self,
        scopes: &[&str],
        _: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        assert_eq!(scopes, [self.scope]);
        Ok(AccessToken::new(
            TOKEN,
            azure_core::time::OffsetDateTime::now_utc() + azure_core::time::Duration::hours(1),
        ))
    }
}

/// A message in a dead-letter queue.
pub struct DeadLetter {
    pub seq: i64,
    pub id: &'static str,
    pub label: &'static str,
    /// `EnqueuedTimeUtc` as Service Bus writes it (RFC 1123).
    pub enqueued: &'static str,
    pub body: &'static str,
}

struct Held {
    msg: DeadLetter,
    lock: Option<String>,
}

#[derive(Default)]
struct State {
    taken: Vec<Value>,
    /// Every well-formed batch sent, taken or not.
    batches: Vec<Vec<Value>>,
    requests: usize,
    largest_body: usize,
    /// Answer this status to every send (an outage, a quota, a bad token), when set.
    failing: Option<u16>,
    delay: Duration,
    /// Dead-letter queues by subscription.
    queues: HashMap<String, Vec<Held>>,
    /// Every lock handed out expires at once (a long run).
    locks_expire: bool,
    next_lock: u64,
    /// In order: "receive 7", "unlock 7", "complete 7", "send evt-1", "lost 7".
    log: Vec<String>,
}

/// The fake broker: what it took, and switches to make it fail or slow.
#[derive(Clone)]
pub struct FakeBroker {
    server: Arc<MockServer>,
    entity: String,
    limit: usize,
    state: Arc<Mutex<State>>,
}

impl FakeBroker {
    /// A broker for `entity` (a topic or hub) with a batch limit of `limit` bytes.
    pub async fn start(entity: &str, limit: usize) -> Self {
        let server = Arc::new(MockServer::start().await);
        let broker = FakeBroker { server, entity: entity.to_string(), limit, state: Arc::default() };
        Mock::given(any()).respond_with(broker.clone()).mount(&broker.server).await;
        broker
    }

    /// The namespace's address (`https://{namespace}/` in Azure).
    pub fn base(&self) -> url::Url {
        url::Url::parse(&format!("{}/", self.server.uri())).unwrap()
    }

    /// The messages taken, in order, each as a batch carries it (`Body`, `BrokerProperties`,
    /// `UserProperties`).
    pub fn taken(&self) -> Vec<Value> {
        self.state.lock().unwrap().taken.clone()
    }

    /// The `MessageId` (Service Bus) or `eventId` (Event Hubs) of each message taken.
    pub fn taken_ids(&self) -> Vec<String> {
        self.taken().iter().map(message_id).collect()
    }

    /// Every well-formed batch sent, in order, whether it was taken or refused.
    pub fn batches(&self) -> Vec<Vec<Value>> {
        self.state.lock().unwrap().batches.clone()
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

    /// Every answer comes `delay` late.
    pub fn slow(&self, delay: Duration) {
        self.state.lock().unwrap().delay = delay;
    }

    /// Creates `subscription` with `messages` in its dead-letter queue.
    pub fn dead_letters(&self, subscription: &str, messages: Vec<DeadLetter>) {
        let held = messages.into_iter().map(|msg| Held { msg, lock: None }).collect();
        self.state.lock().unwrap().queues.insert(subscription.to_string(), held);
    }

    /// Every lock handed out from now on is lost at once.
    pub fn expire_locks(&self) {
        self.state.lock().unwrap().locks_expire = true;
    }

    /// The dead-letter queue of `subscription`: (sequence number, locked).
    pub fn queue(&self, subscription: &str) -> Vec<(i64, bool)> {
        let state = self.state.lock().unwrap();
        state.queues[subscription].iter().map(|h| (h.msg.seq, h.lock.is_some())).collect()
    }

    /// What was received, sent, unlocked, completed and lost, in order.
    pub fn log(&self) -> Vec<String> {
        self.state.lock().unwrap().log.clone()
    }
}

fn message_id(m: &Value) -> String {
    m["BrokerProperties"]["MessageId"]
        .as_str()
        .or(m["UserProperties"]["eventId"].as_str())
        .unwrap_or_default()
        .to_string()
}

impl Respond for FakeBroker {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut state = self.state.lock().unwrap();
        state.requests += 1;
        let delay = state.delay;
        self.answer(&mut state, req).set_delay(delay)
    }
}

impl FakeBroker {
    fn answer(&self, state: &mut State, req: &Request) -> ResponseTemplate {
        let path = req.url.path();
        let Some(rest) = path.strip_prefix(&format!("/{}/", self.entity)) else {
            // The entity does not exist.
            return ResponseTemplate::new(410);
        };
        let bearer = req.headers.get("authorization").and_then(|v| v.to_str().ok());
        if bearer != Some(format!("Bearer {TOKEN}").as_str()) {
            return ResponseTemplate::new(401);
        }
        let method = req.method.as_str();
        if rest == "messages" {
            return match method {
                "POST" => self.send(state, req),
                _ => ResponseTemplate::new(405),
            };
        }
        let Some((subscription, rest)) =
            rest.strip_prefix("subscriptions/").and_then(|r| r.split_once("/$deadletterqueue/messages/"))
        else {
            return ResponseTemplate::new(404);
        };
        if !state.queues.contains_key(subscription) {
            return ResponseTemplate::new(404);
        }
        match (method, rest) {
            ("POST", "head") => self.receive(state, subscription),
            ("PUT" | "DELETE", lock) => settle(state, subscription, method, lock),
            _ => ResponseTemplate::new(405),
        }
    }

    fn send(&self, state: &mut State, req: &Request) -> ResponseTemplate {
        let content_type = req.headers.get("content-type").and_then(|v| v.to_str().ok());
        let batch = if content_type == Some("application/vnd.microsoft.servicebus.json") {
            let Some(batch) = serde_json::from_slice::<Value>(&req.body)
                .ok()
                .and_then(|v| v.as_array().cloned())
                .filter(|a| !a.is_empty() && a.iter().all(|m| m["Body"].is_string()))
            else {
                return ResponseTemplate::new(400);
            };
            batch
        } else {
            let properties = req.headers.get("brokerproperties").map(|v| v.as_bytes());
            let Ok(properties) = properties.map_or(Ok(json!({})), serde_json::from_slice::<Value>) else {
                return ResponseTemplate::new(400);
            };
            let body = String::from_utf8_lossy(&req.body).into_owned();
            vec![json!({ "Body": body, "BrokerProperties": properties })]
        };
        state.batches.push(batch.clone());
        if let Some(status) = state.failing {
            return ResponseTemplate::new(status);
        }
        if req.body.len() > self.limit {
            return ResponseTemplate::new(if batch.len() == 1 { 413 } else { 403 })
                .set_body_string("Quota exceeded or message too large");
        }
        state.largest_body = state.largest_body.max(req.body.len());
        for m in &batch {
            let id = message_id(m);
            state.log.push(format!("send {}", if id.is_empty() { "-" } else { &id }));
        }
        state.taken.extend(batch);
        ResponseTemplate::new(201)
    }

    fn receive(&self, state: &mut State, subscription: &str) -> ResponseTemplate {
        state.next_lock += 1;
        let token = format!("lock-{}", state.next_lock);
        let expire = state.locks_expire;
        let queue = state.queues.get_mut(subscription).unwrap();
        let Some(held) = queue.iter_mut().filter(|h| h.lock.is_none()).min_by_key(|h| h.msg.seq) else {
            return ResponseTemplate::new(204);
        };
        if !expire {
            held.lock = Some(token.clone());
        }
        let m = &held.msg;
        let properties = json!({
            "MessageId": m.id, "Label": m.label, "EnqueuedTimeUtc": m.enqueued, "SequenceNumber": m.seq,
        });
        let location = format!(
            "{}/{}/subscriptions/{subscription}/$deadletterqueue/messages/{}/{token}",
            self.server.uri(),
            self.entity,
            m.seq
        );
        let answer = ResponseTemplate::new(201)
            .insert_header("BrokerProperties", properties.to_string().as_str())
            .insert_header("Location", location.as_str())
            .set_body_string(m.body);
        let seq = m.seq;
        state.log.push(format!("receive {seq}"));
        answer
    }
}

/// Unlocks (`PUT`) or completes (`DELETE`) the message `{seq}/{lock}` names.
fn settle(state: &mut State, subscription: &str, method: &str, lock: &str) -> ResponseTemplate {
    let Some((seq, token)) = lock.split_once('/').and_then(|(s, t)| Some((s.parse::<i64>().ok()?, t))) else {
        return ResponseTemplate::new(404);
    };
    let queue = state.queues.get_mut(subscription).unwrap();
    let Some(pos) = queue.iter().position(|h| h.msg.seq == seq && h.lock.as_deref() == Some(token)) else {
        state.log.push(format!("lost {seq}"));
        return ResponseTemplate::new(404);
    };
    if method == "PUT" {
        queue[pos].lock = None;
        state.log.push(format!("unlock {seq}"));
    } else {
        queue.remove(pos);
        state.log.push(format!("complete {seq}"));
    }
    ResponseTemplate::new(200)
}
