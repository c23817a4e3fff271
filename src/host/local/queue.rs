//! The local stand-in for Service Bus: the relay moves outbox rows into `events.local_queue`
//! (one row per subscribing function), and the delivery loop hands each to its function through
//! `POST /{FunctionName}` with the metadata Service Bus would send. A failed delivery is delivered
//! again at once and dead-lettered after `MAX_DELIVERY_COUNT`, as Service Bus does (an abandoned
//! message is available again immediately; the trigger's failure abandons it), so a retry storm
//! shows locally as it would in Azure. Everything
//! lives in PostgreSQL, so a crash of the handler or of this host loses nothing.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::{PgPool, postgres::PgListener};
use tokio::sync::{Notify, Semaphore};

use super::handler::Handler;
use crate::{
    functions::MESSAGE_IN,
    platform::bus::{self, LocalQueueSink, MAX_DELIVERY_COUNT, Subscription, outbox::NOTIFY_CHANNEL},
};

/// How long a delivered message stays locked before it is handed out again (Service Bus's
/// lock duration; the handler is killed long before in the crash test).
const LOCK: &str = "60 seconds";
const BATCH: i64 = 64;
const CONCURRENCY: usize = 16;

/// How failed deliveries are retried.
#[derive(Debug, Clone, Copy)]
pub struct Redelivery {
    /// Deliveries before a message is dead-lettered (Service Bus `maxDeliveryCount`).
    pub max_delivery_count: i32,
    /// Wait before a failed message is delivered again: none, as Service Bus (tests may slow it).
    pub wait: Duration,
}

impl Default for Redelivery {
    fn default() -> Self {
        Self { max_delivery_count: MAX_DELIVERY_COUNT, wait: Duration::ZERO }
    }
}

/// Runs the relay: on every outbox notification, and every second as a sweep.
pub async fn run_relay(pool: PgPool, subscriptions: Vec<Subscription>, wake_delivery: Arc<Notify>) {
    let sink = LocalQueueSink { subscriptions };
    let notified = Arc::new(Notify::new());
    tokio::spawn(listen(pool.clone(), notified.clone()));
    loop {
        match bus::relay_batch(&pool, &sink, 500).await {
            Ok(0) => {
                tokio::select! {
                    _ = notified.notified() => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
            Ok(n) => {
                tracing::debug!(events = n, "relayed outbox events");
                wake_delivery.notify_one();
            }
            Err(err) => {
                tracing::warn!(error = format!("{err:#}"), "relay failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

async fn listen(pool: PgPool, notified: Arc<Notify>) {
    loop {
        let result: anyhow::Result<()> = async {
            let mut listener = PgListener::connect_with(&pool).await.context("connecting the listener")?;
            listener.listen(NOTIFY_CHANNEL).await.context("listening for outbox rows")?;
            loop {
                listener.recv().await.context("receiving a notification")?;
                notified.notify_one();
            }
        }
        .await;
        if let Err(err) = result {
            tracing::debug!(error = format!("{err:#}"), "outbox listener restarting");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[derive(Debug)]
struct Claimed {
    id: i64,
    function_name: String,
    message_id: String,
    subject: String,
    body: Value,
    correlation_id: Option<String>,
    enqueued_at: DateTime<Utc>,
    delivery_count: i32,
    data_subjects: Vec<uuid::Uuid>,
}

/// Delivers due messages until the process ends.
pub async fn run_delivery(pool: PgPool, handler: Handler, wake: Arc<Notify>, policy: Redelivery) {
    let permits = Arc::new(Semaphore::new(CONCURRENCY));
    loop {
        if !handler.wait_ready(Duration::from_secs(5)).await {
            continue;
        }
        let available = permits.available_permits().max(1) as i64;
        match claim(&pool, available.min(BATCH)).await {
            Ok(batch) if batch.is_empty() => {
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                }
            }
            Ok(batch) => {
                for msg in batch {
                    let Ok(permit) = permits.clone().acquire_owned().await else { return };
                    let (pool, handler) = (pool.clone(), handler.clone());
                    tokio::spawn(async move {
                        deliver(&pool, &handler, msg, policy).await;
                        drop(permit);
                    });
                }
            }
            Err(err) => {
                tracing::warn!(error = format!("{err:#}"), "claiming messages failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

async fn claim(pool: &PgPool, limit: i64) -> anyhow::Result<Vec<Claimed>> {
    sqlx::query_as!(
        Claimed,
        "UPDATE events.local_queue \
         SET locked_until = now() + $2::text::interval, delivery_count = delivery_count + 1 \
         WHERE id IN (SELECT id FROM events.local_queue \
                      WHERE next_attempt_at <= now() AND (locked_until IS NULL OR locked_until < now()) \
                      ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) \
         RETURNING id, function_name, message_id, subject, body, correlation_id, enqueued_at, delivery_count, \
           data_subjects",
        limit,
        LOCK,
    )
    .fetch_all(pool)
    .await
    .context("claiming due messages")
}

/// The invocation payload Service Bus's trigger produces for one message: string values
/// JSON-encoded a second time, as the real host sends them.
fn invocation(msg: &Claimed) -> Value {
    let enc = |s: &str| Value::String(Value::String(s.to_string()).to_string());
    let now = Utc::now().to_rfc3339();
    json!({
        "Data": { MESSAGE_IN: Value::String(msg.body.to_string()).to_string() },
        "Metadata": {
            "MessageId": enc(&msg.message_id),
            "DeliveryCount": msg.delivery_count,
            "SequenceNumber": msg.id,
            "EnqueuedTimeUtc": msg.enqueued_at.to_rfc3339(),
            "Subject": enc(&msg.subject),
            "Label": enc(&msg.subject),
            "CorrelationId": msg.correlation_id.as_deref().map(enc),
            "ContentType": enc("application/json"),
            "ApplicationProperties": { "eventType": msg.subject },
            "UserProperties": { "eventType": msg.subject },
            "SessionId": null,
            "sys": { "MethodName": msg.function_name, "UtcNow": now, "RandGuid": uuid::Uuid::new_v4() },
        }
    })
}

async fn deliver(pool: &PgPool, handler: &Handler, msg: Claimed, policy: Redelivery) {
    let invocation_id = uuid::Uuid::new_v4().to_string();
    let sent = handler
        .client()
        .post(format!("{}/{}", handler.base, msg.function_name))
        .header("X-Azure-Functions-InvocationId", &invocation_id)
        .json(&invocation(&msg))
        .timeout(Duration::from_secs(55))
        .send()
        .await;
    let outcome = match sent {
        Ok(res) if res.status().is_success() => complete(pool, msg.id).await,
        Ok(res) => {
            let reason = format!("handler answered {}", res.status());
            abandon_or_dead_letter(pool, &msg, &reason, policy).await
        }
        Err(err) => {
            let reason = if err.is_timeout() { "invocation timed out" } else { "handler unreachable" };
            abandon_or_dead_letter(pool, &msg, reason, policy).await
        }
    };
    if let Err(err) = outcome {
        // The lock expires and the message is delivered again: nothing is lost.
        tracing::warn!(error = format!("{err:#}"), "settling a message failed");
    }
}

async fn complete(pool: &PgPool, id: i64) -> anyhow::Result<()> {
    sqlx::query!("DELETE FROM events.local_queue WHERE id = $1", id)
        .execute(pool)
        .await
        .context("completing a message")?;
    Ok(())
}

async fn abandon_or_dead_letter(
    pool: &PgPool,
    msg: &Claimed,
    reason: &str,
    policy: Redelivery,
) -> anyhow::Result<()> {
    if msg.delivery_count >= policy.max_delivery_count {
        tracing::warn!(function = %msg.function_name, reason, "message dead-lettered after max deliveries");
        let mut tx = pool.begin().await.context("starting the dead-letter transaction")?;
        let reason = format!("MaxDeliveryCountExceeded: {reason}");
        let dl = bus::DeadLetter {
            consumer: &msg.function_name,
            message_id: &msg.message_id,
            subject: Some(&msg.subject),
            reason: &reason,
            body: Some(&msg.body),
            delivery_count: msg.delivery_count,
            data_subjects: Some(&msg.data_subjects),
        };
        bus::record_dead_letter(&mut tx, &dl).await?;
        sqlx::query!("DELETE FROM events.local_queue WHERE id = $1", msg.id)
            .execute(&mut *tx)
            .await
            .context("taking the dead letter off the queue")?;
        tx.commit().await.context("committing the dead letter")?;
        return Ok(());
    }
    let backoff_ms = policy.wait.as_millis() as f64;
    tracing::info!(function = %msg.function_name, reason, delivery = msg.delivery_count, "message abandoned; will be redelivered");
    sqlx::query!(
        "UPDATE events.local_queue SET locked_until = NULL, \
         next_attempt_at = now() + make_interval(secs => $2::double precision / 1000) WHERE id = $1",
        msg.id,
        backoff_ms,
    )
    .execute(pool)
    .await
    .context("abandoning a message")?;
    Ok(())
}
