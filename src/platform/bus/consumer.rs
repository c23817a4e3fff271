//! The consumer side: apply an effect once per message id, and keep poison messages.

use anyhow::Context;
use serde_json::Value;
use sha2::Digest as _;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

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
    let inserted = sqlx::query!(
        "INSERT INTO events.processed_messages (consumer, message_id) VALUES ($1, $2) \
         ON CONFLICT ON CONSTRAINT processed_messages_pkey DO NOTHING",
        consumer,
        message_id,
    )
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
    /// The users the message is about, when the row it comes from named them (the outbox, the
    /// local queue). `None` for a message off the wire, whose type may be unknown or its body
    /// unreadable: every UUID in the body stands in (`uuids_in`).
    pub data_subjects: Option<&'a [Uuid]>,
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

/// Every UUID string in a JSON value (hyphenated, as serde writes them): the data subjects of a
/// message whose type is not known. A superset (an event id or a goal id too), never a user less.
pub fn uuids_in(v: &Value) -> Vec<Uuid> {
    fn walk(v: &Value, out: &mut Vec<Uuid>) {
        match v {
            Value::String(s) if s.len() == 36 => out.extend(Uuid::try_parse(s).ok()),
            Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            Value::Object(map) => map.values().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, &mut out);
    out.sort_unstable();
    out.dedup();
    out
}

/// Keeps a dead letter where operators can see and replay it. Recording twice is harmless. What
/// PostgreSQL cannot store (NUL characters, ids longer than any Service Bus id) is replaced or
/// shortened first, so a poison message can always be recorded and never loops forever.
/// Recorded twice, a dead letter keeps the data subjects of both records.
pub async fn record_dead_letter(conn: &mut PgConnection, dl: &DeadLetter<'_>) -> anyhow::Result<()> {
    let data_subjects = match dl.data_subjects {
        Some(known) => known.to_vec(),
        None => dl.body.map(uuids_in).unwrap_or_default(),
    };
    sqlx::query!(
        "INSERT INTO events.dead_letters \
         (consumer, message_id, subject, reason, body, delivery_count, data_subjects) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT ON CONSTRAINT dead_letters_consumer_message_key \
         DO UPDATE SET reason = EXCLUDED.reason, delivery_count = EXCLUDED.delivery_count, \
           data_subjects = ARRAY(SELECT DISTINCT unnest(dead_letters.data_subjects || EXCLUDED.data_subjects))",
        dl.consumer,
        storable_id(dl.message_id),
        dl.subject.map(|s| storable(s, 256)),
        storable(dl.reason, 2000),
        dl.body.map(storable_json),
        dl.delivery_count,
        &data_subjects,
    )
    .execute(conn)
    .await
    .context("recording a dead letter")?;
    Ok(())
}

/// Deletes every outbox row, dead letter and local queue row about `user` (their
/// `data_subjects` hold the id, whatever key the payload keeps it under), in the caller's
/// transaction: part of erasing a user. Each is a lookup in the table's GIN index.
pub async fn forget_user(conn: &mut PgConnection, user: Uuid) -> anyhow::Result<()> {
    sqlx::query!("DELETE FROM events.outbox WHERE data_subjects @> ARRAY[$1::uuid]", user)
        .execute(&mut *conn)
        .await
        .context("dropping events about the user")?;
    sqlx::query!("DELETE FROM events.dead_letters WHERE data_subjects @> ARRAY[$1::uuid]", user)
        .execute(&mut *conn)
        .await
        .context("dropping dead letters about the user")?;
    sqlx::query!("DELETE FROM events.local_queue WHERE data_subjects @> ARRAY[$1::uuid]", user)
        .execute(&mut *conn)
        .await
        .context("dropping queued messages about the user")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_message_off_the_wire_names_every_uuid_in_its_body_once() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let body = json!({
            "userId": a,
            "step": { "kind": "users", "userIds": [b, a.to_string().to_uppercase()] },
            "until": b,
            "simple": a.simple().to_string(),
            "text": format!("about {a}"),
            "n": 36,
        });
        let mut want = vec![a, b];
        want.sort_unstable();
        assert_eq!(uuids_in(&body), want);
        assert!(uuids_in(&json!(["not-a-uuid", 1, null])).is_empty());
    }
}
