//! `GET /api/goals/missions/catalog`: the missions offered now.

use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::MissionView;
use crate::{
    goals::{GoalsState, store},
    http::{ApiResult, Success, envelope::Envelope},
    users::api::AuthUser,
};

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Catalog {
    pub missions: Vec<MissionView>,
    pub total_missions: usize,
}

/// The mission catalogue: every mission offered now (retired ones are not), in catalogue order.
#[utoipa::path(get, path = "/api/goals/missions/catalog", operation_id = "getMissionCatalog", tag = "goals", security(("bearer" = [])),
    responses((status = 200, description = "미션 카탈로그", body = inline(Envelope<Catalog>))))]
pub async fn mission_catalog(State(state): State<GoalsState>, _user: AuthUser) -> ApiResult<Success<Catalog>> {
    let missions: Vec<MissionView> = store::catalog(&state.db).await?.iter().map(MissionView::from).collect();
    Ok(Success::new(Catalog { total_missions: missions.len(), missions }))
}
