//! The event-driven messages: a welcome on `user.registered`, "results ready" (and, for
//! hypertension or diabetes 질환의심, the free confirmatory visit with its deadline) on
//! `checkup.synced`, a celebration on `goal.achieved`. Each consumer writes its message with its
//! processed-message mark in one transaction: once, however often the event is delivered.

use serde_json::json;
use uuid::Uuid;

use super::{
    MotivatorState,
    events::NotificationCreated,
    rules,
    store::{self, Kind, NewNotification},
    wording::{self, Wording},
};
use crate::{
    functions::{self, InvocationError, InvocationRequest, InvocationResponse, InvokeFuture, MESSAGE_IN, ServiceBusMessage},
    goals::api::events::GoalAchieved,
    health::api::{self as health, events::CheckupSynced},
    http::error::violated_constraint,
    platform::bus::{self, Handled, NewEvent},
    users::api::events::UserRegistered,
};

pub const WELCOME: &str = "MotivatorWelcome";
pub const CHECKUP: &str = "MotivatorCheckupResults";
pub const CELEBRATION: &str = "MotivatorCelebration";

/// Writes `rows` for `user` once per `message_id` of `consumer`, with the push event. A user erased
/// meanwhile is no error: there is nobody to tell.
async fn write_once(
    state: &MotivatorState,
    consumer: &str,
    message_id: &str,
    user: Uuid,
    rows: Vec<NewNotification>,
) -> anyhow::Result<Handled> {
    let Some(mut tx) = bus::begin_once(&state.db, consumer, message_id).await? else {
        return Ok(Handled::Duplicate);
    };
    let batch = Uuid::now_v7();
    let ids = match store::insert_many(&mut tx, &rows, batch).await {
        Ok(ids) => ids,
        Err(err) if violated_constraint(&err) == Some("notifications_user_fkey") => {
            tx.rollback().await?;
            return Ok(Handled::Applied);
        }
        Err(err) => return Err(err),
    };
    if !ids.is_empty() {
        let event = NotificationCreated { push_batch: Some(batch), notification_ids: Vec::new(), user_id: Some(user) };
        bus::publish(&mut tx, NewEvent::of(&event)?).await?;
    }
    tx.commit().await?;
    Ok(Handled::Applied)
}

fn note(user: Uuid, kind: Kind, w: Wording) -> NewNotification {
    NewNotification::new(user, kind, w.title, w.body)
}

async fn each(
    state: &MotivatorState,
    req: &InvocationRequest,
    consumer: &'static str,
    handle: impl AsyncFn(&MotivatorState, &str, &ServiceBusMessage) -> anyhow::Result<Handled>,
) -> Result<InvocationResponse, InvocationError> {
    let mut outcomes = Vec::new();
    for msg in ServiceBusMessage::from_invocation(req, MESSAGE_IN) {
        let outcome = match msg.id() {
            None => functions::dead_letter(&state.db, consumer, &msg, "message has no valid MessageId").await?,
            Some(id) => handle(state, id, &msg).await?,
        };
        outcomes.push(outcome);
    }
    Ok(InvocationResponse::default().returning(json!({ "outcomes": outcomes })))
}

pub fn welcome(state: MotivatorState, req: InvocationRequest) -> InvokeFuture {
    Box::pin(async move {
        each(&state, &req, WELCOME, async |state, id, msg| {
            let Some(UserRegistered { user_id }) = msg.payload() else {
                return functions::dead_letter(&state.db, WELCOME, msg, "body has no valid userId").await;
            };
            write_once(state, WELCOME, id, user_id, vec![note(user_id, Kind::Welcome, wording::welcome())]).await
        })
        .await
    })
}

pub fn checkup(state: MotivatorState, req: InvocationRequest) -> InvokeFuture {
    Box::pin(async move {
        each(&state, &req, CHECKUP, async |state, id, msg| {
            let Some(CheckupSynced { user_id, new_checkups, .. }) = msg.payload() else {
                return functions::dead_letter(&state.db, CHECKUP, msg, "body is not a checkup sync").await;
            };
            let mut rows = vec![note(user_id, Kind::ResultsReady, wording::results_ready(new_checkups))];
            // The newest checkup's assessment: a confirmatory-visit flag (hypertension or diabetes
            // 질환의심, not already treated) brings the reminder with its deadline.
            if let Some(latest) = health::latest_checkup(&state.platform, user_id).await? {
                let flag = latest.assessment.flags.iter().find(|f| f.code == health::FlagCode::ConfirmatoryVisit);
                if let Some(flag) = flag {
                    let deadline = flag.deadline.or_else(|| rules::confirmatory_deadline(latest.checkup_date));
                    let today = crate::platform::time::seoul_date(state.clock.now());
                    if let Some(deadline) = deadline.filter(|d| *d >= today) {
                        let mut n = note(user_id, Kind::ConfirmatoryVisit, wording::confirmatory_visit(deadline));
                        n.deadline = Some(deadline);
                        rows.push(n);
                    }
                }
            }
            write_once(state, CHECKUP, id, user_id, rows).await
        })
        .await
    })
}

pub fn celebration(state: MotivatorState, req: InvocationRequest) -> InvokeFuture {
    Box::pin(async move {
        each(&state, &req, CELEBRATION, async |state, id, msg| {
            let Some(GoalAchieved { user_id, streak_days, .. }) = msg.payload() else {
                return functions::dead_letter(&state.db, CELEBRATION, msg, "body is not an achievement").await;
            };
            let rows = vec![note(user_id, Kind::Celebration, wording::celebration(streak_days))];
            write_once(state, CELEBRATION, id, user_id, rows).await
        })
        .await
    })
}
