//! The intelligence domain's tables: chat sessions and messages (in order), token usage per user
//! per Seoul day, and the user's share of them for data rights (개인정보보호법 §35, §35-2, §36).

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{Engine, chat::ResponseType};
use crate::platform::ai::Usage;

pub async fn add_usage(conn: &mut PgConnection, user: Uuid, day: NaiveDate, usage: Usage) -> anyhow::Result<()> {
    sqlx::query!(
        "INSERT INTO intelligence.usage (user_id, day, input_tokens, output_tokens, calls) VALUES ($1, $2, $3, $4, 1) \
         ON CONFLICT ON CONSTRAINT usage_pkey DO UPDATE SET \
           input_tokens = usage.input_tokens + EXCLUDED.input_tokens, \
           output_tokens = usage.output_tokens + EXCLUDED.output_tokens, \
           calls = usage.calls + 1, updated_at = now()",
        user,
        day,
        usage.input_tokens.min(i64::MAX as u64) as i64,
        usage.output_tokens.min(i64::MAX as u64) as i64,
    )
    .execute(conn)
    .await
    .context("recording AI usage")?;
    Ok(())
}

/// Who said a chat message (`intelligence.chat_messages.role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, sqlx::Encode, sqlx::Decode)]
#[serde(rename_all = "lowercase")]
#[sqlx(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}
crate::platform::db::text_enum!(Role);

/// A stored chat message.
#[derive(Debug, Clone)]
pub struct Message {
    pub role: Role,
    pub content: String,
    pub created_at: DateTime<Utc>,
}

/// The internal id of the user's session named `key` (sessions are named per user: another
/// user's session of the same name is theirs, not this one).
pub async fn find_session(pool: &PgPool, user: Uuid, key: &str) -> anyhow::Result<Option<Uuid>> {
    sqlx::query_scalar!("SELECT id FROM intelligence.chat_sessions WHERE user_id = $1 AND session_key = $2", user, key)
        .fetch_optional(pool)
        .await
        .context("reading a chat session")
}

/// The user's most recent session: its internal id and its name.
pub async fn latest_session(pool: &PgPool, user: Uuid) -> anyhow::Result<Option<(Uuid, String)>> {
    let row = sqlx::query!(
        "SELECT id, session_key FROM intelligence.chat_sessions WHERE user_id = $1 \
         ORDER BY updated_at DESC, id DESC LIMIT 1",
        user,
    )
    .fetch_optional(pool)
    .await
    .context("reading the latest chat session")?;
    Ok(row.map(|r| (r.id, r.session_key)))
}

/// The last `limit` messages of a session, oldest first, and how many it holds.
pub async fn messages(pool: &PgPool, session: Uuid, limit: i64) -> anyhow::Result<(Vec<Message>, i64)> {
    let mut rows = sqlx::query_as!(
        Message,
        r#"SELECT role AS "role: Role", content, created_at FROM intelligence.chat_messages WHERE session_id = $1
           ORDER BY seq DESC LIMIT $2"#,
        session,
        limit,
    )
    .fetch_all(pool)
    .await
    .context("reading chat messages")?;
    rows.reverse();
    let total =
        sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM intelligence.chat_messages WHERE session_id = $1"#, session)
            .fetch_one(pool)
            .await
            .context("counting chat messages")?;
    Ok((rows, total))
}

/// One exchange to store: the user's message and the answer.
pub struct Exchange<'a> {
    pub question: &'a str,
    pub answer: &'a str,
    pub engine: Engine,
    pub response_type: ResponseType,
    pub asked_at: DateTime<Utc>,
    pub answered_at: DateTime<Utc>,
}

/// Appends an exchange to the user's session named `key`, creating it when it is new, in order.
pub async fn append(pool: &PgPool, user: Uuid, key: &str, ex: &Exchange<'_>) -> anyhow::Result<()> {
    let mut tx = pool.begin().await.context("starting the chat transaction")?;
    // Created or touched in one statement, which locks the session's row while the exchange is
    // numbered: two messages at once (even the first two of a new session) take turns.
    let session = sqlx::query_scalar!(
        "INSERT INTO intelligence.chat_sessions (id, user_id, session_key, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT ON CONSTRAINT chat_sessions_user_key DO UPDATE SET updated_at = EXCLUDED.updated_at \
         RETURNING id",
        Uuid::now_v7(),
        user,
        key,
        ex.asked_at,
        ex.answered_at,
    )
    .fetch_one(&mut *tx)
    .await
    .context("creating or locking the chat session")?;
    let last = sqlx::query_scalar!(
        r#"SELECT coalesce(max(seq), 0) AS "last!" FROM intelligence.chat_messages WHERE session_id = $1"#,
        session,
    )
    .fetch_one(&mut *tx)
    .await
    .context("numbering chat messages")?;
    let rows = [
        (last + 1, Role::User, ex.question, None, None, ex.asked_at),
        (last + 2, Role::Assistant, ex.answer, Some(ex.engine), Some(ex.response_type), ex.answered_at),
    ];
    for (seq, role, content, engine, response_type, at) in rows {
        sqlx::query!(
            "INSERT INTO intelligence.chat_messages \
             (session_id, seq, user_id, role, content, engine, response_type, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            session,
            seq,
            user,
            role as Role,
            content,
            engine as Option<Engine>,
            response_type as Option<ResponseType>,
            at,
        )
        .execute(&mut *tx)
        .await
        .context("storing a chat message")?;
    }
    tx.commit().await.context("committing the chat exchange")?;
    Ok(())
}

pub async fn export(pool: &PgPool, user: Uuid) -> anyhow::Result<Value> {
    let sessions = sqlx::query!(
        "SELECT id, session_key, created_at, updated_at FROM intelligence.chat_sessions WHERE user_id = $1 \
         ORDER BY created_at, id",
        user,
    )
    .fetch_all(pool)
    .await
    .context("exporting chat sessions")?;
    let messages = sqlx::query!(
        r#"SELECT session_id, seq, role AS "role: Role", content, engine AS "engine: Engine",
                  response_type AS "response_type: ResponseType", created_at
           FROM intelligence.chat_messages WHERE user_id = $1 ORDER BY session_id, seq"#,
        user,
    )
    .fetch_all(pool)
    .await
    .context("exporting chat messages")?;
    let usage = sqlx::query!(
        "SELECT day, input_tokens, output_tokens, calls FROM intelligence.usage WHERE user_id = $1 ORDER BY day",
        user,
    )
    .fetch_all(pool)
    .await
    .context("exporting AI usage")?;
    Ok(json!({
        "chatSessions": sessions.iter().map(|s| json!({
            "sessionId": s.session_key,
            "createdAt": s.created_at,
            "updatedAt": s.updated_at,
            "messages": messages.iter().filter(|m| m.session_id == s.id).map(|m| json!({
                "seq": m.seq, "role": m.role, "content": m.content, "engine": m.engine,
                "responseType": m.response_type, "timestamp": m.created_at,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "aiUsage": usage.iter().map(|u| json!({
            "day": u.day, "inputTokens": u.input_tokens, "outputTokens": u.output_tokens, "calls": u.calls,
        })).collect::<Vec<_>>(),
    }))
}

pub async fn erase(conn: &mut PgConnection, user: Uuid) -> anyhow::Result<()> {
    sqlx::query!("DELETE FROM intelligence.chat_messages WHERE user_id = $1", user)
        .execute(&mut *conn)
        .await
        .context("erasing intelligence.chat_messages")?;
    sqlx::query!("DELETE FROM intelligence.chat_sessions WHERE user_id = $1", user)
        .execute(&mut *conn)
        .await
        .context("erasing intelligence.chat_sessions")?;
    sqlx::query!("DELETE FROM intelligence.usage_reservations WHERE user_id = $1", user)
        .execute(&mut *conn)
        .await
        .context("erasing intelligence.usage_reservations")?;
    sqlx::query!("DELETE FROM intelligence.usage WHERE user_id = $1", user)
        .execute(&mut *conn)
        .await
        .context("erasing intelligence.usage")?;
    Ok(())
}
