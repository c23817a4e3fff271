//! The consumer side: apply an effect once per message id, and keep poison messages.

use anyhow::Context;
use serde_json::Value;
use sha2::Digest as _;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

/// What happened to a delivered message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Handled {
    Applied,
    /// The same message id was handled before: the delivery is a duplicate.
    Duplicate,
    /// The message can never be handled; it was recorded as a dead letter.
    DeadLettered,
}

/// Starts the transaction in which `consumer` applies the effect of `message_id`, with the
/// "handled" mark already written in it. `None` means the message was handled before.
///
/// A concurrent duplicate blocks on the primary key until the first commits, then sees the
/// conflict; if the first rolls back, the second applies the effect. Either way: once.
pub async fn begin_once(
    pool: &PgPool,
    consumer: &str,
    message_id: &str,
) -> anyhow::Result<Option<Transaction<'static, Postgres>>> {
    let mut tx = pool.begin().await.context("starting the consumer transaction")?;
    let inserted = sqlx::query(
        "INSERT INTO events.processed_messages (consumer, message_id) VALUES ($1, $2) \
         ON CONFLICT ON CONSTRAINT processed_messages_pkey DO NOTHING",
    )
    .bind(consumer)
    .bind(message_id)
    .execute(&mut *tx)
    .await
    .context("marking the message as handled")?
    .rows_affected();
    if inserted == 0 {
        tx.rollback().await.context("ending the duplicate's transaction")?;
        return Ok(None);
    }
    Ok(Some(tx))
}

/// A message that can never be handled (malformed, unknown version, exhausted deliveries).
#[derive(Debug, Clone)]
pub struct DeadLetter<'a> {
    pub consumer: &'a str,
    pub message_id: &'a str,
    pub subject: Option<&'a str>,
    pub reason: &'a str,
    pub body: Option<&'a Value>,
    pub delivery_count: i32,
}

/// The longest message id a dead letter keeps as given (Service Bus allows 128 characters).
const MAX_ID_CHARS: usize = 128;

/// Text PostgreSQL can store: NUL replaced, at most `max` characters.
fn storable(text: &str, max: usize) -> String {
    text.chars().take(max).map(|c| if c == '\0' { '\u{FFFD}' } else { c }).collect()
}

/// A message id as a dead letter key: as given when it fits, else a prefix and a hash of the
/// whole (so two long ids never collide).
fn storable_id(id: &str) -> String {
    if id.chars().count() <= MAX_ID_CHARS && !id.contains('\0') {
        return id.to_string();
    }
    let digest = sha2::Sha256::digest(id.as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("{}…{hex}", storable(id, 64))
}

/// The JSON with every NUL in its strings and keys replaced: `jsonb` refuses `\u0000`.
fn storable_json(v: &Value) -> Value {
    match v {
        Value::String(s) if s.contains('\0') => Value::String(s.replace('\0', "\u{FFFD}")),
        Value::Array(items) => Value::Array(items.iter().map(storable_json).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.replace('\0', "\u{FFFD}"), storable_json(v))).collect())
        }
        other => other.clone(),
    }
}

/// Keeps a dead letter where operators can see and replay it. Recording twice is harmless. What
/// PostgreSQL cannot store (NUL characters, ids longer than any Service Bus id) is replaced or
/// shortened first, so a poison message can always be recorded and never loops forever.
pub async fn record_dead_letter(conn: &mut PgConnection, dl: &DeadLetter<'_>) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO events.dead_letters (consumer, message_id, subject, reason, body, delivery_count) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT ON CONSTRAINT dead_letters_consumer_message_key \
         DO UPDATE SET reason = EXCLUDED.reason, delivery_count = EXCLUDED.delivery_count",
    )
    .bind(dl.consumer)
    .bind(storable_id(dl.message_id))
    .bind(dl.subject.map(|s| storable(s, 256)))
    .bind(storable(dl.reason, 2000))
    .bind(dl.body.map(storable_json))
    .bind(dl.delivery_count)
    .execute(conn)
    .await
    .context("recording a dead letter")?;
    Ok(())
}

/// Deletes every outbox row, dead letter and local queue row whose payload names `user`
/// (`"userId"`), in the caller's transaction: part of erasing a user.
pub async fn forget_user(conn: &mut PgConnection, user: uuid::Uuid) -> anyhow::Result<()> {
    let id = user.to_string();
    // `? 'userId'` lets PostgreSQL use the partial expression indexes of these tables.
    sqlx::query("DELETE FROM events.outbox WHERE payload ? 'userId' AND payload->>'userId' = $1")
        .bind(&id)
        .execute(&mut *conn)
        .await
        .context("dropping events about the user")?;
    sqlx::query("DELETE FROM events.dead_letters WHERE body ? 'userId' AND body->>'userId' = $1")
        .bind(&id)
        .execute(&mut *conn)
        .await
        .context("dropping dead letters about the user")?;
    sqlx::query("DELETE FROM events.local_queue WHERE body->>'userId' = $1")
        .bind(&id)
        .execute(&mut *conn)
        .await
        .context("dropping queued messages about the user")?;
    Ok(())
}
