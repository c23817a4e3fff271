//! The consumer side: apply an effect once per message id, and keep poison messages.

use anyhow::Context;
use serde_json::Value;
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

/// Keeps a dead letter where operators can see and replay it. Recording twice is harmless.
pub async fn record_dead_letter(conn: &mut PgConnection, dl: &DeadLetter<'_>) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO events.dead_letters (consumer, message_id, subject, reason, body, delivery_count) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT ON CONSTRAINT dead_letters_consumer_message_key \
         DO UPDATE SET reason = EXCLUDED.reason, delivery_count = EXCLUDED.delivery_count",
    )
    .bind(dl.consumer)
    .bind(dl.message_id)
    .bind(dl.subject)
    .bind(dl.reason)
    .bind(dl.body)
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
