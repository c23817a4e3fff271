//! Service Bus consumers of the user domain.

use serde_json::json;
use uuid::Uuid;

use super::rights;
use crate::{
    app::AppState,
    host::{
        protocol::{InvocationRequest, InvocationResponse, ServiceBusMessage},
        registry::{FunctionDef, InvokeFuture, MESSAGE_IN, Trigger},
    },
    platform::bus::{self, EVENTS_TOPIC},
};

pub fn functions() -> Vec<FunctionDef> {
    vec![FunctionDef {
        name: "UserFilesEraser",
        trigger: Trigger::ServiceBus {
            topic: EVENTS_TOPIC,
            subscription: "user-files-eraser",
            subjects: &["user.deleted"],
        },
        invoke: erase_files,
    }]
}

/// Deletes a deleted user's blobs. Idempotent (deleting nothing is fine), so it needs no
/// processed-message mark; a storage failure is retried through redelivery.
fn erase_files(state: AppState, req: InvocationRequest) -> InvokeFuture {
    Box::pin(async move {
        let mut erased = Vec::new();
        for msg in ServiceBusMessage::from_invocation(&req, MESSAGE_IN) {
            let Some(user) =
                msg.body.get("userId").and_then(|v| v.as_str()).and_then(|s| Uuid::parse_str(s).ok())
            else {
                bus::dead_letter_message(&state.db, "UserFilesEraser", &msg, "body has no valid userId")
                    .await?;
                continue;
            };
            erased.push(rights::erase_files(&state, user).await?);
        }
        Ok(InvocationResponse::default().returning(json!({ "filesErased": erased })))
    })
}
