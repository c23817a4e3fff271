//! The events the health domain announces.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::judge::Grade;
use crate::platform::bus::Event;

/// An NHIS sync stored new checkups.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckupSynced {
    pub user_id: Uuid,
    pub job_id: Uuid,
    /// How many checkups were new (at least one: a sync that changed nothing announces nothing).
    pub new_checkups: u32,
    /// The most concerning item grade among the new checkups, if any item was graded.
    pub worst_grade: Option<Grade>,
}

impl Event for CheckupSynced {
    const SUBJECT: &'static str = "checkup.synced";

    fn data_subjects(&self) -> Vec<Uuid> {
        vec![self.user_id]
    }
}

/// A checkup was typed in (manually or from an uploaded sheet).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckupRecorded {
    pub user_id: Uuid,
    pub checkup_id: Uuid,
    pub worst_grade: Option<Grade>,
}

impl Event for CheckupRecorded {
    const SUBJECT: &'static str = "checkup.recorded";

    fn data_subjects(&self) -> Vec<Uuid> {
        vec![self.user_id]
    }
}
