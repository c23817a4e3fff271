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
        Ok(InvocationResponse::default()
            .log(format!("published {published} events"))
            .returning(json!({ "published": published })))
    })
}
