//! Publishing right after commit: a request (or an invocation) publishes the events it wrote
//! before it answers, within a small time budget; what fails or runs late stays in the outbox for
//! the `OutboxRelay` sweep (once a minute). The sweep is the guarantee; this is the fast path that
//! lets the sweep run rarely, so a scaled-to-zero app is not woken every few seconds.
//!
//! No call site changes: [`crate::platform::bus::publish`] notes each id it writes in the
//! surrounding [`FastRelay::around`] scope (a task-local), and the scope relays exactly those
//! rows once the request's own work is done. Rows whose transaction rolled back are simply not
//! found; rows written by a task the request spawned are left to the sweep.

use std::{
    future::Future,
    sync::{Arc, Mutex},
    time::Duration,
};

use sqlx::PgPool;
use uuid::Uuid;

use super::relay::{EventSink, relay_ids};

tokio::task_local! {
    static WRITTEN: Arc<Mutex<Vec<Uuid>>>;
}

/// Notes an outbox id written inside a [`FastRelay::around`] scope (a no-op outside one).
pub(super) fn written(id: Uuid) {
    let _ = WRITTEN.try_with(|w| w.lock().unwrap_or_else(|e| e.into_inner()).push(id));
}

/// What a request needs to publish its own events.
#[derive(Clone)]
pub struct FastRelay {
    pool: PgPool,
    sink: Arc<dyn EventSink>,
    budget: Duration,
}

impl FastRelay {
    /// `None` when the sink does not want it (the local queue) or the budget is zero.
    pub fn new(pool: PgPool, sink: Arc<dyn EventSink>, budget: Duration) -> Option<Self> {
        (sink.publishes_after_commit() && !budget.is_zero()).then_some(Self { pool, sink, budget })
    }

    /// Runs `work`, then publishes the events it wrote, waiting at most the budget.
    pub async fn around<F: Future>(&self, work: F) -> F::Output {
        let written = Arc::new(Mutex::new(Vec::new()));
        let out = WRITTEN.scope(written.clone(), work).await;
        let ids = std::mem::take(&mut *written.lock().unwrap_or_else(|e| e.into_inner()));
        if !ids.is_empty() {
            self.publish(ids).await;
        }
        out
    }

    /// Publishes in a task of its own, so a send that outlives the budget is not cut off midway
    /// (it finishes, or its transaction ends and the sweep sends the rows again: the message id
    /// is the event id, so Service Bus drops a second copy).
    async fn publish(&self, ids: Vec<Uuid>) {
        let (pool, sink) = (self.pool.clone(), self.sink.clone());
        let task = tokio::spawn(async move { relay_ids(&pool, sink.as_ref(), &ids).await });
        match tokio::time::timeout(self.budget, task).await {
            Ok(Ok(Ok(n))) => tracing::debug!(events = n, "published after commit"),
            Ok(Ok(Err(err))) => {
                tracing::warn!(error = format!("{err:#}"), "publishing after commit failed; the sweep will")
            }
            Ok(Err(err)) => tracing::warn!(error = %err, "publishing after commit panicked; the sweep will"),
            Err(_) => {
                tracing::debug!(budget_ms = self.budget.as_millis() as u64, "publishing outlived the budget")
            }
        }
    }
}
