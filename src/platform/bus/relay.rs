//! The relay: moves unpublished outbox rows to the bus and marks them published, in one
//! transaction with the rows locked (`SKIP LOCKED`), so several relays never publish the same
//! row at once. A crash before the commit leaves the rows unpublished: they go out again, with
//! the same message id, and consumers drop the duplicate.

use anyhow::Context;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{outbox::OutboxEvent, rest::Down};

/// The consumer name under which the relay records an event no target can ever take (in
/// `events.dead_letters`; `replay-dlq` leaves these alone: replaying cannot make them fit).
pub const RELAY_DEAD_LETTER: &str = "OutboxRelay";

/// What a sink did with the events it was handed.
#[derive(Debug, Default)]
pub struct Delivery {
    /// Taken by their target: marked published.
    pub published: Vec<Uuid>,
    /// Never publishable as they are (too large for any batch): dead-lettered with the reason.
    pub refused: Vec<(Uuid, String)>,
    /// How many were held because their target failed: they stay for the next sweep.
    pub held: usize,
    /// Why targets failed.
    pub failed: Vec<anyhow::Error>,
}

impl Delivery {
    /// Everything published (a sink that cannot fail one event alone).
    pub fn all(events: &[OutboxEvent]) -> Self {
        Delivery { published: events.iter().map(|e| e.id).collect(), ..Delivery::default() }
    }

    pub fn merge(&mut self, other: Delivery) {
        self.published.extend(other.published);
        self.refused.extend(other.refused);
        self.held += other.held;
        self.failed.extend(other.failed);
    }
}

/// Where published events go: Service Bus in Azure, the local host's queue in dev.
#[async_trait]
pub trait EventSink: Send + Sync {
    /// Publishes `events`, each target on its own: a target in `down` is not called (its events
    /// are held), a target that fails is added to it. `conn` is the relay's transaction, for
    /// sinks that live in the database. `Err` only when nothing can be said about any event (the
    /// database failed): then nothing is marked.
    async fn publish(
        &self,
        conn: &mut PgConnection,
        events: &[OutboxEvent],
        down: &Down,
    ) -> anyhow::Result<Delivery>;

    /// Whether a request should publish what it committed before it answers (`bus::fast`).
    /// Service Bus: yes, else events wait for the sweep. The local queue: no, the local host
    /// relays on every outbox notification already.
    fn publishes_after_commit(&self) -> bool {
        false
    }
}

/// What one relay step did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Relayed {
    /// Rows read (and locked) in this step.
    #[serde(skip)]
    pub seen: usize,
    pub published: usize,
    pub dead_lettered: usize,
    pub held: usize,
    /// Why targets failed (their events wait for the next sweep).
    pub failures: Vec<String>,
    /// The last row read: where a sweep goes on from.
    #[serde(skip)]
    pub last: Option<(DateTime<Utc>, Uuid)>,
}

impl Relayed {
    fn add(&mut self, other: Relayed) {
        self.seen += other.seen;
        self.published += other.published;
        self.dead_lettered += other.dead_lettered;
        self.held += other.held;
        self.failures.extend(other.failures);
        self.last = other.last.or(self.last);
    }
}

/// Publishes at most `limit` of the oldest events and returns how many went out; `Err` when a
/// target failed (after what did go out, and what can never go out, is settled).
pub async fn relay_batch(pool: &PgPool, sink: &dyn EventSink, limit: i64) -> anyhow::Result<usize> {
    let r = relay_after(pool, sink, limit, None, &Down::default()).await?;
    into_count(r)
}

fn into_count(r: Relayed) -> anyhow::Result<usize> {
    match r.failures.first() {
        Some(why) => Err(anyhow::anyhow!("{why}").context("publishing outbox events")),
        None => Ok(r.published),
    }
}

/// One step of a sweep: at most `limit` unpublished events after `after` (oldest first).
pub async fn relay_after(
    pool: &PgPool,
    sink: &dyn EventSink,
    limit: i64,
    after: Option<(DateTime<Utc>, Uuid)>,
    down: &Down,
) -> anyhow::Result<Relayed> {
    let mut tx = pool.begin().await.context("starting the relay transaction")?;
    let (at, id) = after.unzip();
    let events = sqlx::query_as!(
        OutboxEvent,
        "SELECT id, event_type, payload, correlation_id, created_at, data_subjects FROM events.outbox \
         WHERE published_at IS NULL AND ($2::timestamptz IS NULL OR (created_at, id) > ($2, $3::uuid)) \
         ORDER BY created_at, id LIMIT $1 FOR UPDATE SKIP LOCKED",
        limit,
        at,
        id,
    )
    .fetch_all(&mut *tx)
    .await
    .context("reading unpublished outbox rows")?;
    publish_locked(tx, sink, events, down).await
}

/// A sweep over the whole outbox, oldest first, in steps of `step` rows: an event that can never
/// be published is dead-lettered and one target's failure holds only that target's events, so
/// nothing blocks what is behind it.
pub struct Sweep<'a> {
    pool: &'a PgPool,
    sink: &'a dyn EventSink,
    down: Down,
    after: Option<(DateTime<Utc>, Uuid)>,
    pub total: Relayed,
}

impl<'a> Sweep<'a> {
    pub fn new(pool: &'a PgPool, sink: &'a dyn EventSink) -> Self {
        Sweep { pool, sink, down: Down::default(), after: None, total: Relayed::default() }
    }

    /// The next step; `false` when the outbox held nothing more.
    pub async fn step(&mut self, step: i64) -> anyhow::Result<bool> {
        let r = relay_after(self.pool, self.sink, step, self.after, &self.down).await?;
        let more = r.seen > 0;
        self.after = r.last.or(self.after);
        self.total.add(r);
        Ok(more)
    }

    /// The targets that failed during the sweep.
    pub fn down(&self) -> Vec<&'static str> {
        self.down.targets()
    }
}

/// Publishes exactly the events `ids` that are committed and still unpublished (what one request
/// wrote), skipping any another relay holds. Returns how many went out.
pub async fn relay_ids(pool: &PgPool, sink: &dyn EventSink, ids: &[uuid::Uuid]) -> anyhow::Result<usize> {
    let mut tx = pool.begin().await.context("starting the relay transaction")?;
    // Should this process be frozen or killed mid-send (a Consumption instance after its answer),
    // the server ends the session and frees the rows for the sweep instead of holding their locks.
    sqlx::query!("SET LOCAL idle_in_transaction_session_timeout = '30s'")
        .execute(&mut *tx)
        .await
        .context("bounding the relay transaction")?;
    let events = sqlx::query_as!(
        OutboxEvent,
        "SELECT id, event_type, payload, correlation_id, created_at, data_subjects FROM events.outbox \
         WHERE id = ANY($1) AND published_at IS NULL ORDER BY created_at, id FOR UPDATE SKIP LOCKED",
        ids,
    )
    .fetch_all(&mut *tx)
    .await
    .context("reading the request's outbox rows")?;
    into_count(publish_locked(tx, sink, events, &Down::default()).await?)
}

/// Hands locked rows to the sink, then, in the same transaction, marks published what went out
/// and moves to the dead letters what never can; held rows stay unpublished.
async fn publish_locked(
    mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
    sink: &dyn EventSink,
    events: Vec<OutboxEvent>,
    down: &Down,
) -> anyhow::Result<Relayed> {
    let mut report = Relayed {
        seen: events.len(),
        last: events.last().map(|e| (e.created_at, e.id)),
        ..Relayed::default()
    };
    if events.is_empty() {
        return Ok(report);
    }
    let delivery = match sink.publish(&mut tx, &events, down).await {
        Ok(d) => d,
        Err(err) => {
            // Roll back now: a dropped transaction keeps its row locks until its connection is
            // next used, and `SKIP LOCKED` would hide these rows from the next relay until then.
            let _ = tx.rollback().await;
            return Err(err.context("publishing outbox events"));
        }
    };
    if !delivery.published.is_empty() {
        sqlx::query!("UPDATE events.outbox SET published_at = now() WHERE id = ANY($1)", &delivery.published)
            .execute(&mut *tx)
            .await
            .context("marking outbox rows published")?;
    }
    for (id, reason) in &delivery.refused {
        let Some(event) = events.iter().find(|e| e.id == *id) else { continue };
        // The type, id and reason only: a payload may hold personal data.
        tracing::warn!(event_id = %id, event_type = %event.event_type, reason, "an event can never be published; dead-lettered");
        let message_id = id.to_string();
        let dl = super::DeadLetter {
            consumer: RELAY_DEAD_LETTER,
            message_id: &message_id,
            subject: Some(&event.event_type),
            reason,
            body: Some(&event.payload),
            delivery_count: 0,
            data_subjects: Some(&event.data_subjects),
        };
        super::record_dead_letter(&mut tx, &dl).await?;
        sqlx::query!("DELETE FROM events.outbox WHERE id = $1", id)
            .execute(&mut *tx)
            .await
            .context("taking a dead-lettered event out of the outbox")?;
    }
    tx.commit().await.context("committing the relay transaction")?;
    report.published = delivery.published.len();
    report.dead_lettered = delivery.refused.len();
    report.held = delivery.held;
    report.failures = delivery.failed.iter().map(|e| format!("{e:#}")).collect();
    Ok(report)
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
    async fn publish(
        &self,
        conn: &mut PgConnection,
        events: &[OutboxEvent],
        _down: &Down,
    ) -> anyhow::Result<Delivery> {
        for event in events {
            for sub in self.subscriptions.iter().filter(|s| s.subjects.contains(&event.event_type)) {
                sqlx::query!(
                    "INSERT INTO events.local_queue \
                     (function_name, message_id, subject, body, correlation_id, data_subjects) \
                     VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT ON CONSTRAINT local_queue_function_message_key DO NOTHING",
                    sub.function_name,
                    event.id.to_string(),
                    event.event_type,
                    event.payload,
                    event.correlation_id.as_deref(),
                    &event.data_subjects,
                )
                .execute(&mut *conn)
                .await
                .with_context(|| format!("enqueueing for {}", sub.function_name))?;
            }
        }
        Ok(Delivery::all(events))
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
    // The retentions are readable constants ("7 days"), bound as text and cast.
    let outbox = sqlx::query!(
        "DELETE FROM events.outbox WHERE id IN (SELECT id FROM events.outbox \
         WHERE published_at < now() - $1::text::interval LIMIT $2)",
        PUBLISHED_RETENTION,
        PRUNE_BATCH,
    )
    .execute(pool)
    .await
    .context("pruning published events")?
    .rows_affected();
    let marks = sqlx::query!(
        "DELETE FROM events.processed_messages WHERE (consumer, message_id) IN \
         (SELECT consumer, message_id FROM events.processed_messages \
          WHERE processed_at < now() - $1::text::interval LIMIT $2)",
        PROCESSED_RETENTION,
        PRUNE_BATCH,
    )
    .execute(pool)
    .await
    .context("pruning processed-message marks")?
    .rows_affected();
    Ok(outbox + marks)
}
