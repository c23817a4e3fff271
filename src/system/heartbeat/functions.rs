//! The heartbeat's timer and its Service Bus-triggered consumer.

use serde_json::json;
use uuid::Uuid;

use super::{HeartbeatRecorded, store};
use crate::{
    functions::{
        self, InvocationRequest, InvocationResponse, InvokeFuture, MESSAGE_IN, ServiceBusMessage, TIMER_IN,
        TimerInfo,
    },
    platform::bus::{self, Handled},
    system::SystemState,
};

pub const CONSUMER: &str = "HeartbeatTally";

pub fn timer(state: SystemState, req: InvocationRequest) -> InvokeFuture {
    Box::pin(async move {
        let info = TimerInfo::from_invocation(&req, TIMER_IN);
        // A past-due run (the app was down at the scheduled time) still records one heartbeat.
        let hb = store::record(&state.db, store::Source::Timer, &Uuid::new_v4().simple().to_string()).await?;
        Ok(InvocationResponse::default()
            .log(format!("heartbeat recorded (past due: {})", info.is_past_due))
            .returning(json!({ "heartbeatId": hb.id })))
    })
}

pub fn tally(state: SystemState, req: InvocationRequest) -> InvokeFuture {
    Box::pin(async move {
        let mut outcomes = Vec::new();
        for msg in ServiceBusMessage::from_invocation(&req, MESSAGE_IN) {
            outcomes.push(tally_one(&state, &msg).await?);
        }
        Ok(InvocationResponse::default().returning(json!({ "outcomes": outcomes })))
    })
}

async fn tally_one(state: &SystemState, msg: &ServiceBusMessage) -> anyhow::Result<Handled> {
    let poison = |reason: &'static str| functions::dead_letter(&state.db, CONSUMER, msg, reason);
    let Some(message_id) = msg.id() else {
        return poison("message has no valid MessageId").await;
    };
    let Some(HeartbeatRecorded { heartbeat_id: id, .. }) = msg.payload() else {
        return poison("body has no valid heartbeatId").await;
    };
    let Some(mut tx) = bus::begin_once(&state.db, CONSUMER, message_id).await? else {
        return Ok(Handled::Duplicate);
    };
    match store::tally(&mut tx, id).await {
        Ok(true) => tx.commit().await?,
        Ok(false) => {
            // Release the "handled" mark at once, so a replay after a fix can still apply.
            tx.rollback().await?;
            return poison("heartbeat does not exist").await;
        }
        Err(err) => {
            let _ = tx.rollback().await;
            return Err(err);
        }
    }
    Ok(Handled::Applied)
}
