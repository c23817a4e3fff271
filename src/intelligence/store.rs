//! The intelligence domain's tables: chat sessions and messages (in order), token usage per user
//! per Seoul day, and the user's share of them for data rights (개인정보보호법 §35, §35-2, §36).

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::platform::ai::Usage;

pub async fn add_usage(conn: &mut PgConnection, user: Uuid, day: NaiveDate, usage: Usage) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO intelligence.usage (user_id, day, input_tokens, output_tokens, calls) VALUES ($1, $2, $3, $4, 1) \
         ON CONFLICT ON CONSTRAINT usage_pkey DO UPDATE SET \
           input_tokens = usage.input_tokens + EXCLUDED.input_tokens, \
           output_tokens = usage.output_tokens + EXCLUDED.output_tokens, \
           calls = usage.calls + 1, updated_at = now()",
    )
    .bind(user)
    .bind(day)
    .bind(usage.input_tokens.min(i64::MAX as u64) as i64)
    .bind(usage.output_tokens.min(i64::MAX as u64) as i64)
    .execute(conn)
    .await
    .context("recording AI usage")?;
    Ok(())
}

/// A stored chat message.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Message {
    pub role: String,
    pub content: String,
    pub created_at: DateTime<Utc>,
}

/// The internal id of the user's session named `key` (sessions are named per user: another
/// user's session of the same name is theirs, not this one).
pub async fn find_session(pool: &PgPool, user: Uuid, key: &str) -> anyhow::Result<Option<Uuid>> {
    sqlx::query_scalar("SELECT id FROM intelligence.chat_sessions WHERE user_id = $1 AND session_key = $2")
        .bind(user)
        .bind(key)
        .fetch_optional(pool)
        .await
        .context("reading a chat session")
}

/// The user's most recent session: its internal id and its name.
pub async fn latest_session(pool: &PgPool, user: Uuid) -> anyhow::Result<Option<(Uuid, String)>> {
    sqlx::query_as(
        "SELECT id, session_key FROM intelligence.chat_sessions WHERE user_id = $1 \
         ORDER BY updated_at DESC, id DESC LIMIT 1",
    )
    .bind(user)
    .fetch_optional(pool)
    .await
    .context("reading the latest chat session")
}

/// The last `limit` messages of a session, oldest first, and how many it holds.
pub async fn messages(pool: &PgPool, session: Uuid, limit: i64) -> anyhow::Result<(Vec<Message>, i64)> {
    let mut rows: Vec<Message> = sqlx::query_as(
        "SELECT role, content, created_at FROM intelligence.chat_messages WHERE session_id = $1 \
         ORDER BY seq DESC LIMIT $2",
    )
    .bind(session)
    .bind(limit)
    .fetch_all(pool)
    .await
    .context("reading chat messages")?;
    rows.reverse();
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM intelligence.chat_messages WHERE session_id = $1")
        .bind(session)
        .fetch_one(pool)
        .await
        .context("counting chat messages")?;
    Ok((rows, total))
}

/// One exchange to store: the user's message and the answer.
pub struct Exchange<'a> {
    pub question: &'a str,
    pub answer: &'a str,
    pub engine: &'a str,
    pub response_type: &'a str,
    pub asked_at: DateTime<Utc>,
    pub answered_at: DateTime<Utc>,
}

/// Appends an exchange to the user's session named `key`, creating it when it is new, in order.
pub async fn append(pool: &PgPool, user: Uuid, key: &str, ex: &Exchange<'_>) -> anyhow::Result<()> {
    let mut tx = pool.begin().await.context("starting the chat transaction")?;
    // Created or touched in one statement, which locks the session's row while the exchange is
    // numbered: two messages at once (even the first two of a new session) take turns.
    let session: Uuid = sqlx::query_scalar(
        "INSERT INTO intelligence.chat_sessions (id, user_id, session_key, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT ON CONSTRAINT chat_sessions_user_key DO UPDATE SET updated_at = EXCLUDED.updated_at \
         RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(user)
    .bind(key)
    .bind(ex.asked_at)
    .bind(ex.answered_at)
    .fetch_one(&mut *tx)
    .await
    .context("creating or locking the chat session")?;
    let last: i32 =
        sqlx::query_scalar("SELECT coalesce(max(seq), 0) FROM intelligence.chat_messages WHERE session_id = $1")
            .bind(session)
            .fetch_one(&mut *tx)
            .await
            .context("numbering chat messages")?;
    let rows = [
        (last + 1, "user", ex.question, None, None, ex.asked_at),
        (last + 2, "assistant", ex.answer, Some(ex.engine), Some(ex.response_type), ex.answered_at),
    ];
    for (seq, role, content, engine, response_type, at) in rows {
        sqlx::query(
            "INSERT INTO intelligence.chat_messages \
             (session_id, seq, user_id, role, content, engine, response_type, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(session)
        .bind(seq)
        .bind(user)
        .bind(role)
        .bind(content)
        .bind(engine)
        .bind(response_type)
        .bind(at)
        .execute(&mut *tx)
        .await
        .context("storing a chat message")?;
    }
    tx.commit().await.context("committing the chat exchange")?;
    Ok(())
}

type MessageRow = (Uuid, i32, String, String, Option<String>, Option<String>, DateTime<Utc>);

pub async fn export(pool: &PgPool, user: Uuid) -> anyhow::Result<Value> {
    let sessions: Vec<(Uuid, String, DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
        "SELECT id, session_key, created_at, updated_at FROM intelligence.chat_sessions WHERE user_id = $1 \
         ORDER BY created_at, id",
    )
    .bind(user)
    .fetch_all(pool)
    .await
    .context("exporting chat sessions")?;
    let messages: Vec<MessageRow> = sqlx::query_as(
        "SELECT session_id, seq, role, content, engine, response_type, created_at FROM intelligence.chat_messages \
         WHERE user_id = $1 ORDER BY session_id, seq",
    )
    .bind(user)
    .fetch_all(pool)
    .await
    .context("exporting chat messages")?;
    let usage: Vec<(NaiveDate, i64, i64, i32)> = sqlx::query_as(
        "SELECT day, input_tokens, output_tokens, calls FROM intelligence.usage WHERE user_id = $1 ORDER BY day",
    )
    .bind(user)
    .fetch_all(pool)
    .await
    .context("exporting AI usage")?;
    Ok(json!({
        "chatSessions": sessions.iter().map(|(id, key, created, updated)| json!({
            "sessionId": key,
            "createdAt": created,
            "updatedAt": updated,
            "messages": messages.iter().filter(|m| m.0 == *id).map(|m| json!({
                "seq": m.1, "role": m.2, "content": m.3, "engine": m.4, "responseType": m.5, "timestamp": m.6,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "aiUsage": usage.iter().map(|(day, i, o, c)| json!({
            "day": day, "inputTokens": i, "outputTokens": o, "calls": c,
        })).collect::<Vec<_>>(),
    }))
}

pub async fn erase(conn: &mut PgConnection, user: Uuid) -> anyhow::Result<()> {
    for table in ["chat_messages", "chat_sessions", "usage_reservations", "usage"] {
        sqlx::query(&format!("DELETE FROM intelligence.{table} WHERE user_id = $1"))
            .bind(user)
            .execute(&mut *conn)
            .await
            .with_context(|| format!("erasing intelligence.{table}"))?;
    }
    Ok(())
}
