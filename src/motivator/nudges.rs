//! The daily nudges: a timer that starts a run in milliseconds, and one Service Bus consumer
//! that plans the run's slices and processes them.
//!
//! How slices are named without scanning the users: user ids are UUIDv7 (time-ordered), so equal
//! ranges of the id space would hold very unequal numbers of users. Instead the run is a chain of
//! *plan* steps over the keyset of users with an open goal (`goals::api::users_with_active_goal`,
//! served by goals' partial unique index): the timer writes the first plan step and returns; a plan
//! step reads the next `PLAN_PAGE` ids (one index-only range read), announces one *slice*
//! `(after, until]` per `sliceSize` of them and the next plan step, all in one transaction with
//! its processed-message mark. The chain runs ahead of the slices (it does no per-user work), so
//! slices are consumed by as many instances as Service Bus scales out to.

use std::collections::HashMap;

use chrono::{DateTime, Timelike, Utc};
use futures::{StreamExt as _, TryStreamExt as _};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::{
    MotivatorState,
    events::{NotificationCreated, NudgeBatch, Step},
    rules::{self, Decision, Segment, Skip},
    store::{self, Kind, NewNotification},
    wording::{self, Wording},
};
use crate::{
    functions::{self, InvocationError, InvocationRequest, InvocationResponse, InvokeFuture, MESSAGE_IN, ServiceBusMessage},
    goals::api as goals,
    platform::time::seoul_date,
    platform::bus::{self, Handled, NewEvent},
    users::api::{self as users, ConsentKind},
};

pub const TIMER: &str = "MotivatorDailyNudges";
pub const CONSUMER: &str = "MotivatorNudgeSlice";
/// The most ids one plan step reads (the goals API's page limit).
pub const PLAN_PAGE: u32 = 10_000;

/// Who started a run (`motivator.nudge_runs.trigger`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Encode, sqlx::Decode)]
#[sqlx(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Trigger {
    Timer,
    Operator,
}
crate::platform::db::text_enum!(Trigger);

/// Starts a run at `run_at`: its row and its first step(s), in one transaction. `users`: only
/// these (an operator's targets), else everyone with an open goal.
pub async fn start_run(
    state: &MotivatorState,
    run_at: DateTime<Utc>,
    trigger: Trigger,
    users: Option<&[Uuid]>,
) -> anyhow::Result<Uuid> {
    let run_id = Uuid::now_v7();
    let day = seoul_date(run_at);
    let slice_size = state.own.slice_size;
    let mut tx = state.db.begin().await?;
    store::create_run(&mut tx, run_id, run_at, day, trigger, slice_size).await?;
    // An operator's targets are kept in the database and split into slices here, before anything
    // is published: each slice event names a range of them, never the ids themselves.
    let steps = match users {
        None => vec![Step::Plan { after: None }],
        Some(ids) => {
            let mut ids = ids.to_vec();
            ids.sort_unstable();
            ids.dedup();
            store::add_targets(&mut tx, run_id, &ids).await?;
            let mut after = None;
            ids.chunks(slice_size as usize)
                .map(|c| {
                    let until = *c.last().expect("chunks are never empty");
                    let step = Step::Targets { after, until };
                    after = Some(until);
                    step
                })
                .collect()
        }
    };
    for step in steps {
        let batch = NudgeBatch { run_id, run_at, day, slice_size, step };
        bus::publish(&mut tx, NewEvent::of(&batch)?).await?;
    }
    tx.commit().await?;
    Ok(run_id)
}

/// `MotivatorDailyNudges`: starts the day's run and returns (it reads no user).
pub fn timer(state: MotivatorState, _req: InvocationRequest) -> InvokeFuture {
    Box::pin(async move {
        let run_id = start_run(&state, state.clock.now(), Trigger::Timer, None).await?;
        Ok(InvocationResponse::default().log("nudge run started".to_string()).returning(json!({ "runId": run_id })))
    })
}

/// What one slice did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SliceReport {
    pub processed: usize,
    pub created: usize,
    pub skipped: HashMap<Skip, usize>,
    /// Users whose daily message existed already (a second run the same day).
    pub already: usize,
    /// Distinct segments worded.
    pub segments: usize,
}

/// `MotivatorNudgeSlice`: a plan step or a slice.
pub fn consume(state: MotivatorState, req: InvocationRequest) -> InvokeFuture {
    Box::pin(async move {
        let mut outcomes = Vec::new();
        for msg in ServiceBusMessage::from_invocation(&req, MESSAGE_IN) {
            outcomes.push(consume_one(&state, &msg).await.map_err(InvocationError::Retryable)?);
        }
        Ok(InvocationResponse::default().returning(json!({ "outcomes": outcomes })))
    })
}

async fn consume_one(state: &MotivatorState, msg: &ServiceBusMessage) -> anyhow::Result<Handled> {
    let Some(message_id) = msg.id() else {
        return functions::dead_letter(&state.db, CONSUMER, msg, "message has no valid MessageId").await;
    };
    let Some(batch) = msg.payload::<NudgeBatch>() else {
        return functions::dead_letter(&state.db, CONSUMER, msg, "body is not a nudge batch").await;
    };
    if batch.slice_size == 0 {
        return functions::dead_letter(&state.db, CONSUMER, msg, "slice size is 0").await;
    }
    match &batch.step {
        Step::Plan { after } => plan(state, message_id, &batch, *after).await,
        Step::Slice { after, until } => {
            let ids = slice_users(state, *after, *until, batch.slice_size).await?;
            Ok(process(state, message_id, &batch, &ids).await?.0)
        }
        Step::Targets { after, until } => {
            let ids = store::targets(&state.db, batch.run_id, *after, *until).await?;
            Ok(process(state, message_id, &batch, &ids).await?.0)
        }
        Step::Users { user_ids } => Ok(process(state, message_id, &batch, user_ids).await?.0),
    }
}

/// One plan step: the next page of users, one slice event per `slice_size` of them, and the next
/// plan step when the page was full, with the step's mark, in one transaction.
pub async fn plan(state: &MotivatorState, message_id: &str, batch: &NudgeBatch, after: Option<Uuid>) -> anyhow::Result<Handled> {
    // Whole slices only: the page is the most slices that fit in the goals API's page limit.
    let page = (PLAN_PAGE / batch.slice_size).max(1) * batch.slice_size;
    let ids = goals::users_with_active_goal(&state.db, after, page).await?;
    let Some(mut tx) = bus::begin_once(&state.db, CONSUMER, message_id).await? else {
        return Ok(Handled::Duplicate);
    };
    let mut prev = after;
    for chunk in ids.chunks(batch.slice_size as usize) {
        let until = *chunk.last().expect("chunks are never empty");
        let step = Step::Slice { after: prev, until };
        bus::publish(&mut tx, NewEvent::of(&NudgeBatch { step, ..batch.clone() })?).await?;
        prev = Some(until);
    }
    // A short page is the end.
    if ids.len() as u32 >= page {
        let step = Step::Plan { after: prev };
        bus::publish(&mut tx, NewEvent::of(&NudgeBatch { step, ..batch.clone() })?).await?;
    }
    tx.commit().await?;
    Ok(Handled::Applied)
}

/// The users with an open goal in `(after, until]`, read by keyset pages.
async fn slice_users(state: &MotivatorState, after: Option<Uuid>, until: Uuid, size: u32) -> anyhow::Result<Vec<Uuid>> {
    let mut out = Vec::new();
    let mut cursor = after;
    loop {
        let page = goals::users_with_active_goal(&state.db, cursor, size).await?;
        let full = page.len() as u32 >= size.min(PLAN_PAGE);
        let last = page.last().copied();
        out.extend(page.into_iter().take_while(|id| *id <= until));
        match last {
            Some(last) if full && last < until => cursor = Some(last),
            _ => return Ok(out),
        }
    }
}

/// Processes `users` for the run of `batch`: reads their progress in a few set-based queries
/// (and, in quiet hours, the night-time consent of those it would nudge), decides, words each segment once, and writes every
/// notification in one statement with the slice's mark, the push event and the run's figures.
pub async fn process(
    state: &MotivatorState,
    message_id: &str,
    batch: &NudgeBatch,
    users: &[Uuid],
) -> anyhow::Result<(Handled, SliceReport)> {
    let now = state.clock.now();
    let run_at = batch.run_at;
    // Quiet hours hold for the run's instant and for now (a late slice of a 20:59 run too).
    let quiet = rules::is_quiet(run_at) || rules::is_quiet(now);
    let db = &state.db;
    // Everyone's progress in four set-based queries; the consent only when it matters: in quiet
    // hours, for someone we would nudge.
    let read = goals::progress_many_at(db, users, run_at).await?;
    let progress: Vec<(Uuid, goals::Progress, bool)> = futures::stream::iter(read)
        .map(|(user, p)| async move {
            let consent = quiet
                && p.goal_id.is_some()
                && p.completed_today < p.missions_today
                && users::has_consent(db, user, ConsentKind::NightPromotional).await?;
            anyhow::Ok((user, p, consent))
        })
        .buffered(state.own.concurrency)
        .try_collect()
        .await?;
    let mut report = SliceReport { processed: progress.len(), ..SliceReport::default() };
    let mut worded: HashMap<Segment, Wording> = HashMap::new();
    let mut rows = Vec::new();
    for (user, p, consent) in &progress {
        match rules::decide(p, run_at, quiet, *consent) {
            Decision::Skip(why) => *report.skipped.entry(why).or_default() += 1,
            Decision::Comeback => {
                let w = wording::comeback();
                let mut n = NewNotification::new(*user, Kind::Comeback, w.title, w.body);
                n.nudge_day = Some(batch.day);
                rows.push(n);
            }
            Decision::Nudge(segment) => {
                if let std::collections::hash_map::Entry::Vacant(slot) = worded.entry(segment) {
                    slot.insert(wording::segment_wording(&state.platform, batch.day, &segment).await);
                }
                let w = &worded[&segment];
                let mut n = NewNotification::new(*user, Kind::DailyNudge, w.title.clone(), w.body.clone());
                n.segment = Some(segment.key());
                n.motivation_type = Some(segment.motivation);
                n.priority = Some(segment.urgency);
                n.nudge_day = Some(batch.day);
                rows.push(n);
            }
        }
    }
    report.segments = worded.len();
    let Some(mut tx) = bus::begin_once(db, CONSUMER, message_id).await? else {
        return Ok((Handled::Duplicate, report));
    };
    let push_batch = Uuid::now_v7();
    let ids = store::insert_many(&mut tx, &rows, push_batch).await?;
    report.created = ids.len();
    report.already = rows.len() - ids.len();
    if !ids.is_empty() {
        let event = NotificationCreated { push_batch: Some(push_batch), notification_ids: Vec::new(), user_id: None };
        bus::publish(&mut tx, NewEvent::of(&event)?).await?;
    }
    let skipped = report.skipped.values().sum::<usize>() + report.already;
    store::add_to_run(&mut tx, batch.run_id, report.processed as i64, report.created as i64, skipped as i64).await?;
    tx.commit().await?;
    tracing::info!(
        processed = report.processed,
        created = report.created,
        segments = report.segments,
        hour = run_at.with_timezone(&crate::platform::time::SEOUL).hour(),
        "nudge slice done"
    );
    Ok((Handled::Applied, report))
}
