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

/// Whether `session` exists and belongs to `user` (another user's session is as good as absent).
pub async fn owns_session(pool: &PgPool, user: Uuid, session: Uuid) -> anyhow::Result<bool> {
    let found: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM intelligence.chat_sessions WHERE id = $1 AND user_id = $2")
            .bind(session)
            .bind(user)
            .fetch_optional(pool)
            .await
            .context("reading a chat session")?;
    Ok(found.is_some())
}

/// The user's most recent session.
pub async fn latest_session(pool: &PgPool, user: Uuid) -> anyhow::Result<Option<Uuid>> {
    sqlx::query_scalar(
        "SELECT id FROM intelligence.chat_sessions WHERE user_id = $1 ORDER BY updated_at DESC, id DESC LIMIT 1",
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

/// Appends an exchange to `session` (created for `user` when `new`), in order. `false`: the
/// session is not the user's (it was erased meanwhile, or never was).
pub async fn append(pool: &PgPool, user: Uuid, session: Uuid, new: bool, ex: &Exchange<'_>) -> anyhow::Result<bool> {
    let mut tx = pool.begin().await.context("starting the chat transaction")?;
    if new {
        sqlx::query("INSERT INTO intelligence.chat_sessions (id, user_id, created_at, updated_at) VALUES ($1, $2, $3, $3)")
            .bind(session)
            .bind(user)
            .bind(ex.asked_at)
            .execute(&mut *tx)
            .await
            .context("creating a chat session")?;
    }
    // The session row is locked while the exchange is numbered: two messages at once take turns.
    let owned: Option<i32> = sqlx::query_scalar(
        "UPDATE intelligence.chat_sessions SET updated_at = $3 WHERE id = $1 AND user_id = $2 RETURNING 1",
    )
    .bind(session)
    .bind(user)
    .bind(ex.answered_at)
    .fetch_optional(&mut *tx)
    .await
    .context("locking the chat session")?;
    if owned.is_none() {
        return Ok(false);
    }
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
    Ok(true)
}

type MessageRow = (Uuid, i32, String, String, Option<String>, Option<String>, DateTime<Utc>);

pub async fn export(pool: &PgPool, user: Uuid) -> anyhow::Result<Value> {
    let sessions: Vec<(Uuid, DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
        "SELECT id, created_at, updated_at FROM intelligence.chat_sessions WHERE user_id = $1 ORDER BY created_at, id",
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
        "chatSessions": sessions.iter().map(|(id, created, updated)| json!({
            "sessionId": id,
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
