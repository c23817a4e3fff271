//! The `OutboxRelay` timer: sweeps the outbox oldest first, in bounded steps, through the
//! configured sink (Service Bus in Azure; the local host's queue otherwise), and prunes what is
//! old. Every instance may run it at once: the relay's `SKIP LOCKED` keeps them off each other's
//! rows. Nothing blocks the sweep: an event that can never be published is dead-lettered with its
//! reason, and a target that fails (Service Bus, Event Hubs) holds only its own events while the
//! sweep goes on with the others; the run then fails, so the failure shows, and the next run
//! tries the held events again.

use std::time::{Duration, Instant};

use serde_json::json;

use super::SystemState;
use crate::{
    functions::{InvocationError, InvocationRequest, InvocationResponse, InvokeFuture},
    platform::bus,
};

pub const BATCH: i64 = 200;
/// An invocation stops after this long or this many batches; the next run continues.
pub const BUDGET: Duration = Duration::from_secs(20);
pub const MAX_BATCHES: usize = 50;

pub fn run(state: SystemState, _req: InvocationRequest) -> InvokeFuture {
    Box::pin(async move {
        let started = Instant::now();
        let mut sweep = bus::Sweep::new(&state.db, state.events.as_ref());
        for _ in 0..MAX_BATCHES {
            if !sweep.step(BATCH).await? || started.elapsed() > BUDGET {
                break;
            }
        }
        let pruned = bus::prune(&state.db).await?;
        let t = &sweep.total;
        let summary = format!(
            "published {} events, dead-lettered {}, held {} for a failed target, pruned {pruned} old rows",
            t.published, t.dead_lettered, t.held
        );
        if !t.failures.is_empty() {
            let down = sweep.down().join(", ");
            return Err(InvocationError::Retryable(anyhow::anyhow!(
                "{summary}; {down} failed: {}",
                t.failures.join("; ")
            )));
        }
        Ok(InvocationResponse::default().log(summary).returning(json!({
            "published": t.published,
            "deadLettered": t.dead_lettered,
            "pruned": pruned,
        })))
    })
}
