//! The intelligence domain's Service Bus consumer: a new checkup drops the user's cached
//! diagnosis and recommendations. Dropping is idempotent, so no processed-message mark is needed.

use serde_json::json;

use super::{IntelState, diagnosis, recommend};
use crate::{
    functions::{self, InvocationRequest, InvocationResponse, InvokeFuture, MESSAGE_IN, ServiceBusMessage},
    health::api::events::{CheckupRecorded, CheckupSynced},
    platform::bus::Event as _,
};

pub const CACHE_DROPPER: &str = "IntelligenceCheckupCaches";
pub const SYNCED: &str = CheckupSynced::SUBJECT;
pub const RECORDED: &str = CheckupRecorded::SUBJECT;

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct AboutUser {
    user_id: uuid::Uuid,
}

pub fn drop_caches(state: IntelState, req: InvocationRequest) -> InvokeFuture {
    Box::pin(async move {
        let mut dropped = 0;
        for msg in ServiceBusMessage::from_invocation(&req, MESSAGE_IN) {
            let Some(AboutUser { user_id }) = msg.payload() else {
                functions::dead_letter(&state.db, CACHE_DROPPER, &msg, "body has no valid userId").await?;
                continue;
            };
            diagnosis::invalidate(&state, user_id).await;
            recommend::invalidate(&state, user_id).await;
            dropped += 1;
        }
        Ok(InvocationResponse::default().returning(json!({ "usersDropped": dropped })))
    })
}
