//! The events the goals domain announces (each written in the transaction of its change).
//! Payloads carry ids and dates only: never a note or a reason the user wrote.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::platform::bus::Event;

/// A user chose a new set of missions (replacing their previous goal, if any).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GoalSet {
    pub user_id: Uuid,
    pub goal_id: Uuid,
    pub mission_ids: Vec<String>,
    pub start_date: NaiveDate,
    pub replaced_goal_id: Option<Uuid>,
}

impl Event for GoalSet {
    const SUBJECT: &'static str = "goal.set";

    fn data_subjects(&self) -> Vec<Uuid> {
        vec![self.user_id]
    }
}

/// A mission was completed for a Seoul day (once per mission and day).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MissionCompleted {
    pub user_id: Uuid,
    pub goal_id: Uuid,
    pub mission_id: String,
    pub day: NaiveDate,
    pub streak_days: i32,
    pub points: i32,
}

impl Event for MissionCompleted {
    const SUBJECT: &'static str = "mission.completed";

    fn data_subjects(&self) -> Vec<Uuid> {
        vec![self.user_id]
    }
}

/// A mission's streak reached a milestone (3, 7, 21 or 30 days), once per goal and mission.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GoalAchieved {
    pub user_id: Uuid,
    pub goal_id: Uuid,
    pub mission_id: String,
    pub streak_days: i32,
    pub achieved_on: NaiveDate,
}

impl Event for GoalAchieved {
    const SUBJECT: &'static str = "goal.achieved";

    fn data_subjects(&self) -> Vec<Uuid> {
        vec![self.user_id]
    }
}

/// A user reset their goal: it is closed, and they were offered new missions.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MissionReset {
    pub user_id: Uuid,
    pub goal_id: Uuid,
    pub mission_ids: Vec<String>,
    pub end_date: NaiveDate,
}

impl Event for MissionReset {
    const SUBJECT: &'static str = "mission.reset";

    fn data_subjects(&self) -> Vec<Uuid> {
        vec![self.user_id]
    }
}
