//! The `OutboxRelay` timer: publishes what the outbox holds, in bounded batches, through the
//! configured sink (Service Bus in Azure; the local host's queue otherwise). Every instance may run
//! it at once: the relay's `SKIP LOCKED` keeps them off each other's rows.

use std::time::{Duration, Instant};

use serde_json::json;

use super::relay_batch;
use crate::{
    app::AppState,
    host::{
        protocol::{InvocationRequest, InvocationResponse},
        registry::{FunctionDef, InvokeFuture, Trigger},
    },
};

const BATCH: i64 = 200;
/// An invocation stops after this long or this many batches; the next run continues.
const BUDGET: Duration = Duration::from_secs(20);
const MAX_BATCHES: usize = 50;

/// Published events are kept this long (for operators), then deleted.
pub const PUBLISHED_RETENTION: &str = "7 days";
/// "Handled" marks must outlive every redelivery of their message: Service Bus keeps a message at
/// most 14 days (its time to live) and detects duplicates for 10 minutes.
pub const PROCESSED_RETENTION: &str = "30 days";
const PRUNE_BATCH: i64 = 5_000;

/// Deletes old published outbox rows and old processed-message marks, a bounded batch of each,
/// and returns how many went. Unpublished rows are never touched.
pub async fn prune(pool: &sqlx::PgPool) -> anyhow::Result<u64> {
    use anyhow::Context;
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

pub fn functions() -> Vec<FunctionDef> {
    vec![FunctionDef {
        name: "OutboxRelay",
        trigger: Trigger::Timer { schedule: "%OUTBOX_RELAY_SCHEDULE%" },
        invoke: run,
    }]
}

fn run(state: AppState, _req: InvocationRequest) -> InvokeFuture {
    Box::pin(async move {
        let started = Instant::now();
        let mut published = 0;
        for _ in 0..MAX_BATCHES {
            let n = relay_batch(&state.db, state.events.as_ref(), BATCH).await?;
            published += n;
            if n == 0 || started.elapsed() > BUDGET {
                break;
            }
        }
        let pruned = prune(&state.db).await?;
        Ok(InvocationResponse::default()
            .log(format!("published {published} events, pruned {pruned} old rows"))
            .returning(json!({ "published": published, "pruned": pruned })))
    })
}
