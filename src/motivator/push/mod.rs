//! Push delivery. The inbox entry is written first (with its `notification.created` event, in
//! one transaction); pushing is a consumer of that event, so a failed push never loses the entry
//! and is retried by redelivery. Azure: Notification Hubs (`hubs`), each device an installation
//! tagged `user:{id}` (`installations`), each push sent to the user's tag. Locally: no push, the
//! inbox only.
//!
//! Failures: a configuration error of the hub (401, 404, 410) is logged once per instance (the
//! line the `notification-hubs-misconfigured` alert counts) and the message goes back to Service
//! Bus, which redelivers it and dead-letters it after 10 tries (`replay-dlq` once fixed); no device
//! row is touched. Throttling and quota (429, 403) are retried with backoff, then redelivered.

pub mod hubs;
pub mod installations;

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use futures::StreamExt as _;
use serde_json::json;

pub use hubs::{NotificationHubs, Outcome, PushMessage, PushSender};
pub use installations::{MAX_DEVICES, PushError};

use super::{MotivatorState, events::NotificationCreated, store};
use crate::{
    functions::{self, InvocationError, InvocationRequest, InvocationResponse, InvokeFuture, MESSAGE_IN, ServiceBusMessage},
    platform::bus::Handled,
    users::api::events::UserDeleted,
};

pub const CONSUMER: &str = "MotivatorPush";
pub const ERASER: &str = "MotivatorInstallationsEraser";
/// Users pushed at once within one message.
const CONCURRENCY: usize = 8;

/// The sender as configured: Notification Hubs when a connection string and hub name are set (an
/// unresolved Key Vault reference counts as unset), else none (the inbox only).
pub fn sender(connection: Option<String>, hub: Option<String>) -> anyhow::Result<Option<Arc<dyn PushSender>>> {
    let connection = connection.filter(|c| !c.trim().is_empty() && !c.starts_with("@Microsoft.KeyVault("));
    match (connection, hub.filter(|h| !h.is_empty())) {
        (Some(c), Some(h)) => Ok(Some(Arc::new(NotificationHubs::from_connection_string(&c, &h)?))),
        _ => Ok(None),
    }
}

/// Whether this instance has logged the hub's configuration error since it last worked.
static MISCONFIGURED_LOGGED: AtomicBool = AtomicBool::new(false);

/// The error an invocation ends with, having logged a configuration error once.
fn failed(err: PushError) -> InvocationError {
    match err {
        PushError::Misconfigured(why) => {
            if !MISCONFIGURED_LOGGED.swap(true, Ordering::SeqCst) {
                // One line per instance until the hub works again: what the alert counts.
                tracing::error!(
                    alert = "notification_hubs_misconfigured",
                    reason = why,
                    "Notification Hubs refuses our configuration (NOTIFICATION_HUB_NAME, NOTIFICATION_HUB_CONNECTION); pushes wait, no device data is touched"
                );
            }
            InvocationError::Retryable(anyhow::anyhow!("Notification Hubs is misconfigured: {why}"))
        }
        PushError::Retry(why) => InvocationError::Retryable(anyhow::anyhow!("a push is to be retried: {why}")),
        PushError::Other(err) => InvocationError::Retryable(err),
    }
}

/// `MotivatorPush`: pushes new notifications to their users' devices.
pub fn consume(state: MotivatorState, req: InvocationRequest) -> InvokeFuture {
    Box::pin(async move {
        let mut outcomes = Vec::new();
        for msg in ServiceBusMessage::from_invocation(&req, MESSAGE_IN) {
            let Some(event) = msg.payload::<NotificationCreated>() else {
                outcomes.push(functions::dead_letter(&state.db, CONSUMER, &msg, "body is not a notification.created").await?);
                continue;
            };
            let Some(sender) = state.own.push.clone() else {
                outcomes.push(Handled::Applied);
                continue;
            };
            let pending = match event.push_batch {
                Some(batch) => store::pending_push_batch(&state.db, batch).await?,
                // Messages written before push batches (a list of ids).
                None => store::pending_push(&state.db, &event.notification_ids).await?,
            };
            push_all(&state, sender.as_ref(), pending).await.map_err(failed)?;
            outcomes.push(Handled::Applied);
        }
        Ok(InvocationResponse::default().returning(json!({ "outcomes": outcomes })))
    })
}

/// Pushes `pending` (notifications not pushed yet), each to its user's tag, after bringing the
/// user's installations in step. A notification is marked pushed once the hub took it.
pub async fn push_all(state: &MotivatorState, hub: &dyn PushSender, pending: Vec<store::Pending>) -> Result<(), PushError> {
    let mut by_user: BTreeMap<uuid::Uuid, Vec<store::Pending>> = BTreeMap::new();
    for n in pending {
        by_user.entry(n.user_id).or_default().push(n);
    }
    let stop = AtomicBool::new(false);
    let results: Vec<Result<(), PushError>> = futures::stream::iter(by_user)
        .map(|(user, notes)| {
            let stop = &stop;
            async move {
                if stop.load(Ordering::SeqCst) {
                    return Ok(());
                }
                let result = push_user(state, hub, user, notes).await;
                if matches!(result, Err(PushError::Misconfigured(_))) {
                    // The hub refuses everyone alike: stop calling it for this message.
                    stop.store(true, Ordering::SeqCst);
                }
                result
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut retry = None;
    for r in results {
        match r {
            Ok(()) => {}
            Err(e @ PushError::Misconfigured(_)) => return Err(e),
            Err(e) => retry = retry.or(Some(e)),
        }
    }
    match retry {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

async fn push_user(
    state: &MotivatorState,
    hub: &dyn PushSender,
    user: uuid::Uuid,
    notes: Vec<store::Pending>,
) -> Result<(), PushError> {
    let platforms = installations::reconcile(&state.db, hub, user).await?;
    let tag = hubs::user_tag(user);
    for n in notes {
        let message = PushMessage { notification_id: n.id, kind: n.kind, title: n.title, body: n.body };
        for &platform in &platforms {
            match hubs::with_backoff(|| hub.send(platform, &tag, &message)).await {
                Outcome::Done => MISCONFIGURED_LOGGED.store(false, Ordering::SeqCst),
                Outcome::Refused(why) => tracing::warn!(reason = why, "a push was refused"),
                Outcome::Misconfigured(why) => return Err(PushError::Misconfigured(why)),
                Outcome::Retry { why, .. } => return Err(PushError::Retry(why)),
            }
        }
        store::mark_pushed(&state.db, n.id).await?;
    }
    Ok(())
}

/// `MotivatorInstallationsEraser`: on `user.deleted`, deletes the erased user's installations
/// from the hub (the erasure marked them; their tokens are gone already).
pub fn erase(state: MotivatorState, req: InvocationRequest) -> InvokeFuture {
    Box::pin(async move {
        let mut erased = 0;
        for msg in ServiceBusMessage::from_invocation(&req, MESSAGE_IN) {
            let Some(UserDeleted { user_id }) = msg.payload() else {
                functions::dead_letter(&state.db, ERASER, &msg, "body has no valid userId").await?;
                continue;
            };
            erased += installations::erase(&state.db, state.own.push.as_deref(), user_id).await.map_err(failed)?;
        }
        Ok(InvocationResponse::default().returning(json!({ "installationsRemoved": erased })))
    })
}
