//! The goals domain: the mission catalogue, a user's goal (1–5 missions), daily completion with
//! streaks, points and achievements, history and its statistics, reset with fresh
//! recommendations, and a Rust API for the domains after it (`api`). "Today" is the Asia/Seoul
//! date, read from the app's [`Clock`].

pub mod active;
pub mod assessment;
pub mod catalog;
pub mod api;
pub mod events;
pub mod insights;
pub mod model;
pub mod recommend;
pub mod routes;
pub mod rules;
pub mod stats;
pub mod store;

use std::{ops::Deref, sync::Arc};

use axum::extract::FromRef;
use crate::platform::time::Clock;
use utoipa::OpenApi as _;

use crate::{
    config::Setting,
    domain::{DataPart, DomainModule, Platform},
    functions::Function,
    http::Routes,
    users::Verifier,
};

pub const GOALS_RESET_RATE_LIMIT_PER_HOUR: Setting = Setting::new(
    "GOALS_RESET_RATE_LIMIT_PER_HOUR",
    "goal resets one user may make per hour (each may ask Claude for picks; 429 past it)",
)
.default("6");

/// The goals domain's state: the platform, the token verifier, the clock and this process's copy
/// of the catalogue. Behind one `Arc`: every request clones the state, and one counter is cheaper
/// than the dozen inside.
#[derive(Clone)]
pub struct GoalsState(Arc<Inner>);

pub struct Inner {
    platform: Platform,
    pub verifier: Verifier,
    pub clock: Clock,
    pub catalog: catalog::CatalogCache,
    /// The intelligence domain's recommender, once it is mounted.
    pub recommender: api::RecommenderSlot,
    pub resets_per_hour: u32,
}

impl Deref for GoalsState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl Deref for Inner {
    type Target = Platform;

    fn deref(&self) -> &Platform {
        &self.platform
    }
}

impl FromRef<GoalsState> for Verifier {
    fn from_ref(state: &GoalsState) -> Verifier {
        state.verifier.clone()
    }
}

pub struct Domain;

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        routes::catalog::mission_catalog,
        routes::select::select_missions,
        routes::active::active_missions,
        routes::complete::complete_mission,
        routes::history::mission_history,
        routes::select::reset_missions,
    ),
    tags((name = "goals", description = "미션 카탈로그, 목표 설정, 오늘의 미션, 완료, 기록과 통계, 초기화"))
)]
struct Api;

/// What a new goal leads to.
const LINKS: &[crate::http::openapi::Link] = &[
    crate::http::openapi::Link { from: "selectMissions", status: "201", name: "GetActiveMissions", to: "getActiveMissions",
        parameters: &[], description: "today's missions of the goal just set up" },
    crate::http::openapi::Link { from: "selectMissions", status: "201", name: "CompleteMission", to: "completeMission",
        parameters: &[("missionId", "$response.body#/data/selectedMissions/0/missionId")],
        description: "complete the goal's first mission today" },
];

impl DomainModule for Domain {
    type State = GoalsState;
    const NAME: &'static str = "goals";
    const SETTINGS: &'static [Setting] = &[GOALS_RESET_RATE_LIMIT_PER_HOUR];

    fn state(platform: &Platform) -> anyhow::Result<GoalsState> {
        let src = platform.settings.as_ref();
        Ok(GoalsState(Arc::new(Inner {
            resets_per_hour: GOALS_RESET_RATE_LIMIT_PER_HOUR.number(src, "a whole number from 1 to 1000", 1..=1000)?,
            verifier: crate::users::verifier(platform)?,
            clock: platform.clock.clone(),
            catalog: catalog::CatalogCache::default(),
            recommender: api::RecommenderSlot::of(platform)?,
            platform: platform.clone(),
        })))
    }

    fn routes() -> Routes<GoalsState> {
        routes::routes()
    }

    fn openapi() -> utoipa::openapi::OpenApi {
        let mut doc = Api::openapi();
        crate::http::openapi::add_links(&mut doc, LINKS);
        doc
    }

    fn functions() -> Vec<Function<GoalsState>> {
        vec![Function::http("Goals", "goals/{*path}", &["get", "post", "put"])]
    }

    fn data() -> Option<DataPart> {
        Some(DataPart {
            name: "goals",
            schema: "goals",
            export: |p, id| Box::pin(store::export(&p.db, id)),
            erase: |conn, id| Box::pin(store::erase(conn, id)),
            cache_keys: |id| vec![active::cache_key(id)],
        })
    }
}
