//! Events: the transactional outbox, the relay that publishes it, and the consumer side's
//! exactly-once helper. Delivery is at-least-once everywhere; effects happen once because a
//! consumer records the message id in the same transaction as its effect.

pub mod consumer;
pub mod outbox;
pub mod relay;
pub mod servicebus;
pub mod sweep;

pub use consumer::{DeadLetter, Handled, begin_once, dead_letter_message, forget_user, record_dead_letter};
pub use outbox::{NewEvent, OutboxEvent, publish};
pub use relay::{EventSink, LocalQueueSink, relay_batch};

/// The Service Bus topic every event goes to; subscriptions filter on the event type (`Subject`).
pub const EVENTS_TOPIC: &str = "events";
/// A subscribing consumer is delivered a message at most this many times before it is
/// dead-lettered (Service Bus `maxDeliveryCount`; the local host uses the same number).
pub const MAX_DELIVERY_COUNT: i32 = 10;
