//! The events the user domain announces.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::platform::bus::Event;

/// Onboarding finished: the account is ACTIVE with its profile.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRegistered {
    pub user_id: Uuid,
}

impl Event for UserRegistered {
    const SUBJECT: &'static str = "user.registered";

    fn data_subjects(&self) -> Vec<Uuid> {
        vec![self.user_id]
    }
}

/// The account and all its data were erased; other domains drop what is left (files, caches).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserDeleted {
    pub user_id: Uuid,
}

impl Event for UserDeleted {
    const SUBJECT: &'static str = "user.deleted";

    fn data_subjects(&self) -> Vec<Uuid> {
        vec![self.user_id]
    }
}
