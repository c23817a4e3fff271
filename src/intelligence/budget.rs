//! The daily token budget, held before a call and settled after it. A call reserves the most it
//! can spend; a reservation is granted while what the user spent today and what calls in flight
//! hold stays under the budget, so parallel calls overspend by at most the last one's hold. The
//! reservation and the day's usage of one user are decided under a transaction advisory lock
//! (class `ai-budget`, the user and the day), read in a statement that starts after the lock is
//! held, so two racing calls see each other's holds.

use std::time::Duration;

use anyhow::Context;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::engine::Spender;
use crate::platform::ai::Usage;

/// Reserves `tokens` for `s` that expire after `ttl`; `None` when the day's budget is spoken for.
pub async fn reserve(pool: &PgPool, s: Spender, tokens: u64, ttl: Duration) -> anyhow::Result<Option<Uuid>> {
    let mut tx = pool.begin().await.context("starting the budget transaction")?;
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtextextended('ai-budget:' || $1::uuid::text || ':' || $2::date::text, 0))",
        s.user,
        s.day,
    )
    .execute(&mut *tx)
    .await
    .context("locking the user's AI budget")?;
    // A new statement after the lock: it sees every hold committed before the lock was granted.
    let id = Uuid::now_v7();
    let granted = sqlx::query_scalar!(
        "WITH gone AS ( \
           DELETE FROM intelligence.usage_reservations WHERE user_id = $1 AND day = $2 AND expires_at <= now() \
         ), spent AS ( \
           SELECT coalesce((SELECT input_tokens + output_tokens FROM intelligence.usage \
                            WHERE user_id = $1 AND day = $2), 0) AS n \
         ), held AS ( \
           SELECT coalesce(sum(tokens), 0) AS n FROM intelligence.usage_reservations \
           WHERE user_id = $1 AND day = $2 AND expires_at > now() \
         ) \
         INSERT INTO intelligence.usage_reservations (id, user_id, day, tokens, expires_at) \
         SELECT $3, $1, $2, $4, now() + make_interval(secs => $5) FROM spent, held \
         WHERE spent.n + held.n < $6::bigint \
         RETURNING id",
        s.user,
        s.day,
        id,
        tokens.clamp(1, i64::MAX as u64) as i64,
        ttl.as_secs_f64(),
        s.daily_tokens.min(i64::MAX as u64) as i64,
    )
    .fetch_optional(&mut *tx)
    .await
    .context("reserving AI tokens")?;
    tx.commit().await.context("committing the AI token reservation")?;
    Ok(granted)
}

/// Gives `reservations` back and records what the call really spent, inside the caller's
/// transaction (the one that publishes the call's event).
pub async fn settle(conn: &mut PgConnection, s: Spender, reservations: &[Uuid], usage: Usage) -> anyhow::Result<()> {
    if !reservations.is_empty() {
        sqlx::query!("DELETE FROM intelligence.usage_reservations WHERE id = ANY($1)", reservations)
            .execute(&mut *conn)
            .await
            .context("releasing AI token reservations")?;
    }
    if usage.total() > 0 {
        super::store::add_usage(conn, s.user, s.day, usage).await?;
    }
    Ok(())
}
