//! Service Bus consumers of the user domain.

use serde_json::json;

use super::{UsersState, events::UserDeleted, rights};
use crate::functions::{self, InvocationRequest, InvocationResponse, InvokeFuture, MESSAGE_IN, ServiceBusMessage};

pub const FILES_ERASER: &str = "UserFilesEraser";

/// Deletes a deleted user's blobs. Idempotent (deleting nothing is fine), so it needs no
/// processed-message mark; a storage failure is retried through redelivery.
pub fn erase_files(state: UsersState, req: InvocationRequest) -> InvokeFuture {
    Box::pin(async move {
        let mut erased = Vec::new();
        for msg in ServiceBusMessage::from_invocation(&req, MESSAGE_IN) {
            let Some(UserDeleted { user_id }) = msg.payload() else {
                functions::dead_letter(&state.db, FILES_ERASER, &msg, "body has no valid userId").await?;
                continue;
            };
            erased.push(rights::erase_files(&state, user_id).await?);
        }
        Ok(InvocationResponse::default().returning(json!({ "filesErased": erased })))
    })
}
