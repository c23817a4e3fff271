//! The events the motivator announces and consumes itself. Payloads carry ids, dates and
//! instants only: never a message text.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::platform::bus::Event;

/// A piece of a nudge run. Either a *plan* step (read the next keyset page of users with an open
/// goal after `after`, announce one slice per `sliceSize` of them and the next plan step), a
/// *slice* (the users with an open goal in `(after, until]`), or a slice of an operator's
/// targets (kept in the database; the event names the range).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NudgeBatch {
    /// The run this piece belongs to (`motivator.nudge_runs`).
    pub run_id: Uuid,
    /// The run's instant: its Seoul day and the quiet-hours check.
    pub run_at: DateTime<Utc>,
    /// The Seoul day of `run_at`: at most one nudge per user and day.
    pub day: NaiveDate,
    pub slice_size: u32,
    pub step: Step,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Step {
    /// Plan the slices after `after` (none: from the first user).
    #[serde(rename_all = "camelCase")]
    Plan { after: Option<Uuid> },
    /// The users with an open goal whose id is in `(after, until]`.
    #[serde(rename_all = "camelCase")]
    Slice { after: Option<Uuid>, until: Uuid },
    /// An operator's targets (`motivator.nudge_targets` of the run) in `(after, until]`, each
    /// still checked for an open goal.
    #[serde(rename_all = "camelCase")]
    Targets { after: Option<Uuid>, until: Uuid },
    /// These users (messages written before targets were kept in the database; still read).
    #[serde(rename_all = "camelCase")]
    Users { user_ids: Vec<Uuid> },
}

impl Event for NudgeBatch {
    const SUBJECT: &'static str = "nudge.batch";

    /// Every user the batch names: the listed users, or a range's bounds (user ids too). Erasing
    /// one of them drops the whole batch wherever it still is.
    fn data_subjects(&self) -> Vec<Uuid> {
        match &self.step {
            Step::Plan { after } => after.iter().copied().collect(),
            Step::Slice { after, until } | Step::Targets { after, until } => {
                after.iter().copied().chain([*until]).collect()
            }
            Step::Users { user_ids } => user_ids.clone(),
        }
    }
}

/// Notifications were written to users' inboxes (one event per slice or message): the push
/// consumer sends each to the user's devices. The event names the push batch they were written
/// with (a reference the consumer reads from the database): a slice's thousand ids would make
/// ~41 KB messages, seven of which overflow a Standard Service Bus batch.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationCreated {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_batch: Option<Uuid>,
    /// Messages written before push batches listed the ids; still read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notification_ids: Vec<Uuid>,
    /// Present when every notification is one user's (the erasure drops the event with the user).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Uuid>,
}

impl Event for NotificationCreated {
    const SUBJECT: &'static str = "notification.created";

    /// The one user whose notifications these are, when the event says; a push batch is a
    /// reference whose rows the erasure deletes with the user.
    fn data_subjects(&self) -> Vec<Uuid> {
        self.user_id.iter().copied().collect()
    }
}
