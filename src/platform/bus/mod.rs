//! Events: the transactional outbox, the relay that publishes it, and the consumer side's
//! exactly-once helper. Delivery is at-least-once everywhere; effects happen once because a
//! consumer records the message id in the same transaction as its effect.

pub mod consumer;
pub mod eventhubs;
pub mod fast;
pub mod outbox;
pub mod relay;
pub mod replay;
pub mod rest;
pub mod servicebus;

pub use consumer::{DeadLetter, Handled, begin_once, forget_user, record_dead_letter};
pub use fast::FastRelay;
pub use outbox::{Event, NewEvent, OutboxEvent, publish};
pub use relay::{
    Delivery, EventSink, LocalQueueSink, RELAY_DEAD_LETTER, Relayed, Subscription, Sweep, prune, relay_after,
    relay_batch, relay_ids,
};
pub use rest::Down;

/// The Service Bus topic every event goes to; subscriptions filter on the event type (`Subject`).
pub const EVENTS_TOPIC: &str = "events";
/// A subscribing consumer is delivered a message at most this many times before it is
/// dead-lettered (Service Bus `maxDeliveryCount`; the local host uses the same number).
pub const MAX_DELIVERY_COUNT: i32 = 10;
