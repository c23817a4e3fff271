//! The `OutboxRelay` timer: publishes what the outbox holds, in bounded batches, through the
//! configured sink (Service Bus in Azure; the local host's queue otherwise), and prunes what is
//! old. Every instance may run it at once: the relay's `SKIP LOCKED` keeps them off each other's
//! rows.

use std::time::{Duration, Instant};

use serde_json::json;

use super::SystemState;
use crate::{
    functions::{InvocationRequest, InvocationResponse, InvokeFuture},
    platform::bus,
};

pub const BATCH: i64 = 200;
/// An invocation stops after this long or this many batches; the next run continues.
pub const BUDGET: Duration = Duration::from_secs(20);
pub const MAX_BATCHES: usize = 50;

pub fn run(state: SystemState, _req: InvocationRequest) -> InvokeFuture {
    Box::pin(async move {
        let started = Instant::now();
        let mut published = 0;
        for _ in 0..MAX_BATCHES {
            let n = bus::relay_batch(&state.db, state.events.as_ref(), BATCH).await?;
            published += n;
            if n == 0 || started.elapsed() > BUDGET {
                break;
            }
        }
        let pruned = bus::prune(&state.db).await?;
        Ok(InvocationResponse::default()
            .log(format!("published {published} events, pruned {pruned} old rows"))
            .returning(json!({ "published": published, "pruned": pruned })))
    })
}
