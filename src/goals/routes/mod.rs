//! `/api/goals/missions/*`. The user is always the one in the access token.

pub mod active;
pub mod catalog;
pub mod complete;
pub mod history;
pub mod select;

use std::collections::BTreeSet;

use axum::routing::{get, post, put};
use serde::Serialize;
use utoipa::ToSchema;

use super::{
    GoalsState,
    model::{AssessmentItem, Category, DailyTarget, Difficulty, Mission, MissionId},
};
use crate::http::{FieldError, Routes};

pub fn routes() -> Routes<GoalsState> {
    Routes::new()
        .route("/api/goals/missions/catalog", get(catalog::mission_catalog))
        .route("/api/goals/missions/select", post(select::select_missions))
        .route("/api/goals/missions/active", get(active::active_missions))
        .route("/api/goals/missions/{missionId}/complete", put(complete::complete_mission))
        .route("/api/goals/missions/history", get(history::mission_history))
        .route_long("/api/goals/missions/reset", post(select::reset_missions))
}

/// A catalogue mission as the app shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MissionView {
    #[schema(example = "water-8-cups")]
    pub mission_id: String,
    pub title: String,
    pub description: String,
    pub category: Category,
    /// The category in Korean.
    pub category_label: &'static str,
    pub difficulty: Difficulty,
    pub estimated_time_minutes: i32,
    pub daily_target: DailyTarget,
    pub health_benefit: String,
    /// Checkup items whose habits this mission supports.
    pub helps: Vec<AssessmentItem>,
}

impl From<&Mission> for MissionView {
    fn from(m: &Mission) -> Self {
        MissionView {
            mission_id: m.id.to_string(),
            title: m.title.clone(),
            description: m.description.clone(),
            category: m.category,
            category_label: m.category.label(),
            difficulty: m.difficulty,
            estimated_time_minutes: m.estimated_minutes,
            daily_target: m.target.clone(),
            health_benefit: m.health_benefit.clone(),
            helps: m.helps.clone(),
        }
    }
}

/// Parses mission ids sent in `field` (`field[i]` names each failing one). Malformed and repeated
/// ids are reported in `errors`; the distinct well-formed ones are returned in order.
pub(crate) fn parse_ids(field: &str, raw: &[String], errors: &mut Vec<FieldError>) -> Vec<MissionId> {
    let mut seen = BTreeSet::new();
    let mut ids = Vec::new();
    for (i, r) in raw.iter().enumerate() {
        match MissionId::parse(r) {
            None => errors.push(FieldError::new(format!("{field}[{i}]"), "형식이 올바르지 않은 미션 ID입니다.")),
            Some(id) if !seen.insert(id.clone()) => {
                errors.push(FieldError::new(format!("{field}[{i}]"), format!("같은 미션을 두 번 보냈습니다: {id}")))
            }
            Some(id) => ids.push(id),
        }
    }
    ids
}

/// Reports ids of `ids` that the catalogue does not know (and, unless `allow_retired`, the
/// retired ones), naming each by its position in `raw`.
pub(crate) fn check_known(
    field: &str,
    raw: &[String],
    ids: &[MissionId],
    found: &[Mission],
    allow_retired: bool,
    errors: &mut Vec<FieldError>,
) {
    for id in ids {
        let i = raw.iter().position(|r| r.trim() == id.as_str()).unwrap_or_default();
        match found.iter().find(|m| m.id == *id) {
            None => errors.push(FieldError::new(format!("{field}[{i}]"), format!("카탈로그에 없는 미션입니다: {id}"))),
            Some(m) if m.retired && !allow_retired => errors.push(FieldError::new(
                format!("{field}[{i}]"),
                format!("더 이상 제공하지 않는 미션입니다: {id}"),
            )),
            Some(_) => {}
        }
    }
}
