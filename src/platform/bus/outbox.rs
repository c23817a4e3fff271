//! Writing events: always inside the caller's transaction, so the event exists if and only if
//! the state change it announces was committed.

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

/// The channel on which a committed outbox insert wakes the relay (a hint; the sweep is the
/// guarantee).
pub const NOTIFY_CHANNEL: &str = "events_outbox";

/// An event type: its subject (`domain.happening`, what subscriptions filter on) and its payload,
/// one serde struct shared by the producer, its consumers and the subscription.
pub trait Event: serde::Serialize + serde::de::DeserializeOwned {
    const SUBJECT: &'static str;
}

#[derive(Debug, Clone)]
pub struct NewEvent {
    /// `domain.happening`, e.g. `user.registered`.
    pub event_type: &'static str,
    pub payload: Value,
    pub correlation_id: Option<String>,
}

impl NewEvent {
    pub fn new(event_type: &'static str, payload: Value) -> Self {
        Self { event_type, payload, correlation_id: None }
    }

    /// A typed event; its payload is the struct as JSON.
    pub fn of<E: Event>(event: &E) -> anyhow::Result<Self> {
        let payload = serde_json::to_value(event).context("encoding an event")?;
        Ok(Self::new(E::SUBJECT, payload))
    }

    pub fn correlated(mut self, id: impl Into<String>) -> Self {
        self.correlation_id = Some(id.into());
        self
    }
}

/// An outbox row as the relay sees it. Its id is the message id downstream.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutboxEvent {
    pub id: Uuid,
    pub event_type: String,
    pub payload: Value,
    pub correlation_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Adds an event to the outbox in the caller's transaction and returns its id.
pub async fn publish(conn: &mut PgConnection, event: NewEvent) -> anyhow::Result<Uuid> {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO events.outbox (id, event_type, payload, correlation_id) VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(event.event_type)
    .bind(&event.payload)
    .bind(&event.correlation_id)
    .execute(&mut *conn)
    .await
    .with_context(|| format!("writing a {} event to the outbox", event.event_type))?;
    // Delivered at commit, dropped on rollback: exactly the semantics a wake-up needs.
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(NOTIFY_CHANNEL)
        .execute(&mut *conn)
        .await
        .context("notifying the relay")?;
    super::fast::written(id);
    Ok(id)
}
