//! The heartbeat's timer and its Service Bus-triggered consumer.

use serde_json::json;
use uuid::Uuid;

use super::{HEARTBEAT_EVENT, store};
use crate::{
    app::AppState,
    host::{
        protocol::{InvocationRequest, InvocationResponse, ServiceBusMessage, TimerInfo},
        registry::{FunctionDef, InvokeFuture, MESSAGE_IN, TIMER_IN, Trigger},
    },
    platform::bus::{self, EVENTS_TOPIC, Handled},
};

pub const CONSUMER: &str = "HeartbeatTally";

pub fn functions() -> Vec<FunctionDef> {
    vec![
        FunctionDef {
            name: "HeartbeatTimer",
            // Every five minutes unless the app setting says otherwise.
            trigger: Trigger::Timer { schedule: "%HEARTBEAT_SCHEDULE%" },
            invoke: timer,
        },
        FunctionDef {
            name: CONSUMER,
            trigger: Trigger::ServiceBus {
                topic: EVENTS_TOPIC,
                subscription: "heartbeat-tally",
                subjects: &[HEARTBEAT_EVENT],
            },
            invoke: tally,
        },
    ]
}

fn timer(state: AppState, req: InvocationRequest) -> InvokeFuture {
    Box::pin(async move {
        let info = TimerInfo::from_invocation(&req, TIMER_IN);
        // A past-due run (the app was down at the scheduled time) still records one heartbeat.
        let hb = store::record(&state.db, store::Source::Timer, &Uuid::new_v4().simple().to_string()).await?;
        Ok(InvocationResponse::default()
            .log(format!("heartbeat recorded (past due: {})", info.is_past_due))
            .returning(json!({ "heartbeatId": hb.id })))
    })
}

fn tally(state: AppState, req: InvocationRequest) -> InvokeFuture {
    Box::pin(async move {
        let mut outcomes = Vec::new();
        for msg in ServiceBusMessage::from_invocation(&req, MESSAGE_IN) {
            outcomes.push(tally_one(&state, &msg).await?);
        }
        Ok(InvocationResponse::default().returning(json!({ "outcomes": outcomes })))
    })
}

async fn tally_one(state: &AppState, msg: &ServiceBusMessage) -> anyhow::Result<Handled> {
    let poison = |reason: &'static str| bus::dead_letter_message(&state.db, CONSUMER, msg, reason);
    let Some(message_id) = msg.message_id.as_deref().filter(|m| !m.is_empty()) else {
        return poison("message has no MessageId").await;
    };
    let Some(id) = msg.body.get("heartbeatId").and_then(|v| v.as_str()).and_then(|s| Uuid::parse_str(s).ok())
    else {
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
