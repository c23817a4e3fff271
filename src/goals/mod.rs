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

use std::sync::Arc;

use utoipa::OpenApi as _;

use crate::{
    config::Setting,
    domain::{DataPart, DomainModule, DomainState, Platform},
    functions::Function,
    http::Routes,
    users::api::Verifier,
};

pub const GOALS_RESET_RATE_LIMIT_PER_HOUR: Setting = Setting::new(
    "GOALS_RESET_RATE_LIMIT_PER_HOUR",
    "goal resets one user may make per hour (each may ask Claude for picks; 429 past it)",
)
.default("6");

/// The goals domain's state.
pub type GoalsState = DomainState<Goals>;

pub struct Goals {
    pub verifier: Verifier,
    /// This process's copy of the catalogue.
    pub catalog: catalog::CatalogCache,
    /// Picks for the reset from a later domain (the intelligence domain's Claude picks), handed
    /// over by the composition root; the reset's own rules complete or replace them.
    pub recommender: Option<Arc<dyn api::Recommender>>,
    pub resets_per_hour: u32,
}

impl AsRef<Verifier> for Goals {
    fn as_ref(&self) -> &Verifier {
        &self.verifier
    }
}

/// What the goals domain is handed when it is built.
pub struct Needs {
    pub verifier: Verifier,
    pub recommender: Option<Arc<dyn api::Recommender>>,
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
    type Needs = Needs;
    const NAME: &'static str = "goals";
    const SETTINGS: &'static [Setting] = &[GOALS_RESET_RATE_LIMIT_PER_HOUR];

    fn state(platform: &Platform, needs: Needs) -> anyhow::Result<GoalsState> {
        let src = platform.settings.as_ref();
        Ok(DomainState::new(
            platform,
            Goals {
                resets_per_hour: GOALS_RESET_RATE_LIMIT_PER_HOUR.number(src, "a whole number from 1 to 1000", 1..=1000)?,
                verifier: needs.verifier,
                catalog: catalog::CatalogCache::default(),
                recommender: needs.recommender,
            },
        ))
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
