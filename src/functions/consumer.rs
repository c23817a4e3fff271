//! Helpers for Service Bus-triggered functions: typed payloads and dead letters.

use anyhow::Context;
use serde::de::DeserializeOwned;
use sqlx::PgPool;

use super::ServiceBusMessage;
use crate::platform::bus::{DeadLetter, Handled, record_dead_letter};

impl ServiceBusMessage {
    /// The body as the event's payload struct; `None` when it does not fit.
    pub fn payload<E: DeserializeOwned>(&self) -> Option<E> {
        E::deserialize(&self.body).ok()
    }

    /// The message id, when it is one Service Bus could have sent: 1 to 128 characters, none of
    /// them a control character. Anything else cannot key a "handled" mark; its message is poison.
    pub fn id(&self) -> Option<&str> {
        self.message_id
            .as_deref()
            .filter(|m| !m.is_empty() && m.chars().count() <= 128 && !m.chars().any(char::is_control))
    }
}

/// Records a delivered message that can never be handled as a dead letter and reports it so.
/// A message without an id is kept under a generated one.
pub async fn dead_letter(
    pool: &PgPool,
    consumer: &str,
    msg: &ServiceBusMessage,
    reason: &str,
) -> anyhow::Result<Handled> {
    // The id as given when there is one (the store shortens what it cannot keep), else a new one.
    let id = msg
        .message_id
        .clone()
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| format!("missing-{}", uuid::Uuid::new_v4()));
    let dl = DeadLetter {
        consumer,
        message_id: &id,
        subject: msg.subject.as_deref(),
        reason,
        body: Some(&msg.body),
        delivery_count: i32::try_from(msg.delivery_count).unwrap_or(i32::MAX),
        // Off the wire, perhaps unreadable: every user id in the body is taken as its subject.
        data_subjects: None,
    };
    let mut conn = pool.acquire().await.context("acquiring a connection")?;
    record_dead_letter(&mut conn, &dl).await?;
    tracing::warn!(consumer, reason, "message dead-lettered");
    Ok(Handled::DeadLettered)
}
