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

    /// The users this event is about: every user id its payload carries, under whatever key.
    /// Stored with the event (`data_subjects`) and copied wherever it moves, so erasing a user
    /// deletes it from the outbox, the local queue and the dead letters (`bus::forget_user`).
    /// Every event type states them; one about no user returns an empty list.
    fn data_subjects(&self) -> Vec<Uuid>;
}

#[derive(Debug, Clone)]
pub struct NewEvent {
    /// `domain.happening`, e.g. `user.registered`.
    pub event_type: &'static str,
    pub payload: Value,
    pub correlation_id: Option<String>,
    /// The users the event is about ([`Event::data_subjects`]).
    pub data_subjects: Vec<Uuid>,
}

impl NewEvent {
    /// An untyped event about no user (tests, probes). Events of the app are typed: [`Self::of`].
    pub fn new(event_type: &'static str, payload: Value) -> Self {
        Self { event_type, payload, correlation_id: None, data_subjects: Vec::new() }
    }

    /// A typed event; its payload is the struct as JSON, its data subjects the type's.
    pub fn of<E: Event>(event: &E) -> anyhow::Result<Self> {
        let payload = serde_json::to_value(event).context("encoding an event")?;
        Ok(Self { data_subjects: event.data_subjects(), ..Self::new(E::SUBJECT, payload) })
    }

    pub fn correlated(mut self, id: impl Into<String>) -> Self {
        self.correlation_id = Some(id.into());
        self
    }
}

/// An outbox row as the relay sees it. Its id is the message id downstream.
#[derive(Debug, Clone)]
pub struct OutboxEvent {
    pub id: Uuid,
    pub event_type: String,
    pub payload: Value,
    pub correlation_id: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The users it is about, copied to the local queue and the dead letters with it.
    pub data_subjects: Vec<Uuid>,
}

/// Adds an event to the outbox in the caller's transaction and returns its id.
pub async fn publish(conn: &mut PgConnection, event: NewEvent) -> anyhow::Result<Uuid> {
    let id = Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO events.outbox (id, event_type, payload, correlation_id, data_subjects) \
         VALUES ($1, $2, $3, $4, $5)",
        id,
        event.event_type,
        &event.payload,
        event.correlation_id.as_deref(),
        &event.data_subjects,
    )
    .execute(&mut *conn)
    .await
    .with_context(|| format!("writing a {} event to the outbox", event.event_type))?;
    // Delivered at commit, dropped on rollback: exactly the semantics a wake-up needs.
    sqlx::query!("SELECT pg_notify($1, '')", NOTIFY_CHANNEL)
        .execute(&mut *conn)
        .await
        .context("notifying the relay")?;
    super::fast::written(id);
    Ok(id)
}
