//! The relay: moves unpublished outbox rows to the bus and marks them published, in one
//! transaction with the rows locked (`SKIP LOCKED`), so several relays never publish the same
//! row at once. A crash before the commit leaves the rows unpublished: they go out again, with
//! the same message id, and consumers drop the duplicate.

use anyhow::Context;
use async_trait::async_trait;
use sqlx::{PgConnection, PgPool};

use super::outbox::OutboxEvent;

/// Where published events go: Service Bus in Azure, the local host's queue in dev.
#[async_trait]
pub trait EventSink: Send + Sync {
    /// Publishes `events`. `conn` is the relay's transaction, for sinks that live in the
    /// database; a sink that fails must leave nothing it cannot publish again.
    async fn publish(&self, conn: &mut PgConnection, events: &[OutboxEvent]) -> anyhow::Result<()>;

    /// Whether a request should publish what it committed before it answers (`bus::fast`).
    /// Service Bus: yes, else events wait for the sweep. The local queue: no, the local host
    /// relays on every outbox notification already.
    fn publishes_after_commit(&self) -> bool {
        false
    }
}

/// Publishes at most `limit` events and returns how many went out.
pub async fn relay_batch(pool: &PgPool, sink: &dyn EventSink, limit: i64) -> anyhow::Result<usize> {
    let mut tx = pool.begin().await.context("starting the relay transaction")?;
    let events: Vec<OutboxEvent> = sqlx::query_as(
        "SELECT id, event_type, payload, correlation_id, created_at FROM events.outbox \
         WHERE published_at IS NULL ORDER BY created_at, id LIMIT $1 FOR UPDATE SKIP LOCKED",
    )
    .bind(limit)
    .fetch_all(&mut *tx)
    .await
    .context("reading unpublished outbox rows")?;
    publish_locked(tx, sink, events).await
}

/// Publishes exactly the events `ids` that are committed and still unpublished (what one request
/// wrote), skipping any another relay holds. Returns how many went out.
pub async fn relay_ids(pool: &PgPool, sink: &dyn EventSink, ids: &[uuid::Uuid]) -> anyhow::Result<usize> {
    let mut tx = pool.begin().await.context("starting the relay transaction")?;
    // Should this process be frozen or killed mid-send (a Consumption instance after its answer),
    // the server ends the session and frees the rows for the sweep instead of holding their locks.
    sqlx::query("SET LOCAL idle_in_transaction_session_timeout = '30s'")
        .execute(&mut *tx)
        .await
        .context("bounding the relay transaction")?;
    let events: Vec<OutboxEvent> = sqlx::query_as(
        "SELECT id, event_type, payload, correlation_id, created_at FROM events.outbox \
         WHERE id = ANY($1) AND published_at IS NULL ORDER BY created_at, id FOR UPDATE SKIP LOCKED",
    )
    .bind(ids)
    .fetch_all(&mut *tx)
    .await
    .context("reading the request's outbox rows")?;
    publish_locked(tx, sink, events).await
}

/// Hands locked rows to the sink, then marks them published in the same transaction.
async fn publish_locked(
    mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
    sink: &dyn EventSink,
    events: Vec<OutboxEvent>,
) -> anyhow::Result<usize> {
    if events.is_empty() {
        return Ok(0);
    }
    if let Err(err) = sink.publish(&mut tx, &events).await {
        // Roll back now: a dropped transaction keeps its row locks until its connection is
        // next used, and `SKIP LOCKED` would hide these rows from the next relay until then.
        let _ = tx.rollback().await;
        return Err(err.context("publishing outbox events"));
    }
    let ids: Vec<uuid::Uuid> = events.iter().map(|e| e.id).collect();
    sqlx::query("UPDATE events.outbox SET published_at = now() WHERE id = ANY($1)")
        .bind(&ids)
        .execute(&mut *tx)
        .await
        .context("marking outbox rows published")?;
    tx.commit().await.context("committing the relay transaction")?;
    Ok(events.len())
}

/// One subscription: a Service Bus-triggered function and the event types it receives.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub function_name: String,
    pub subjects: Vec<String>,
}

/// The local host's Service Bus: one queue row per subscribing function, in the relay's own
/// transaction, so publishing and enqueueing are one atomic step.
pub struct LocalQueueSink {
    pub subscriptions: Vec<Subscription>,
}

#[async_trait]
impl EventSink for LocalQueueSink {
    async fn publish(&self, conn: &mut PgConnection, events: &[OutboxEvent]) -> anyhow::Result<()> {
        for event in events {
            for sub in self.subscriptions.iter().filter(|s| s.subjects.contains(&event.event_type)) {
                sqlx::query(
                    "INSERT INTO events.local_queue \
                     (function_name, message_id, subject, body, correlation_id) \
                     VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT ON CONSTRAINT local_queue_function_message_key DO NOTHING",
                )
                .bind(&sub.function_name)
                .bind(event.id.to_string())
                .bind(&event.event_type)
                .bind(&event.payload)
                .bind(&event.correlation_id)
                .execute(&mut *conn)
                .await
                .with_context(|| format!("enqueueing for {}", sub.function_name))?;
            }
        }
        Ok(())
    }
}

/// Published events are kept this long (for operators), then deleted.
pub const PUBLISHED_RETENTION: &str = "7 days";
/// "Handled" marks must outlive every redelivery of their message: Service Bus keeps a message at
/// most 14 days (its time to live) and detects duplicates for 10 minutes.
pub const PROCESSED_RETENTION: &str = "30 days";
const PRUNE_BATCH: i64 = 5_000;

/// Deletes old published outbox rows and old processed-message marks, a bounded batch of each,
/// and returns how many went. Unpublished rows are never touched.
pub async fn prune(pool: &sqlx::PgPool) -> anyhow::Result<u64> {
    let outbox = sqlx::query(
        "DELETE FROM events.outbox WHERE id IN (SELECT id FROM events.outbox \
         WHERE published_at < now() - $1::interval LIMIT $2)",
    )
    .bind(PUBLISHED_RETENTION)
    .bind(PRUNE_BATCH)
    .execute(pool)
    .await
    .context("pruning published events")?
    .rows_affected();
    let marks = sqlx::query(
        "DELETE FROM events.processed_messages WHERE (consumer, message_id) IN \
         (SELECT consumer, message_id FROM events.processed_messages \
          WHERE processed_at < now() - $1::interval LIMIT $2)",
    )
    .bind(PROCESSED_RETENTION)
    .bind(PRUNE_BATCH)
    .execute(pool)
    .await
    .context("pruning processed-message marks")?
    .rows_affected();
    Ok(outbox + marks)
}
