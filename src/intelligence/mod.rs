//! The intelligence domain: Claude (through `platform::ai`) or the offline coach behind four
//! routes — the explained checkup (`/health/diagnosis`), catalogue-bound mission picks
//! (`/missions/recommend`, also the goal domain's reset through `goals::api::Recommender`) and a
//! guarded chat (`/chat/consultation`, `/chat/history`) — and nudge wording for the motivator
//! (`api::nudge_wording`). Health data reaches Claude only with the AI overseas-transfer consent,
//! and only the minimum (age band, sex, occupation, values); red flags are answered before any AI
//! call; every failure degrades to the offline coach with a 200 whose `engine` says who answered.

pub mod api;
pub mod budget;
pub mod chat;
pub mod coach;
pub mod diagnosis;
pub mod engine;
pub mod events;
pub mod functions;
pub mod profile;
pub mod recommend;
pub mod safety;
pub mod store;

use axum::routing::{get, post};
pub use engine::Engine;
use utoipa::OpenApi as _;

use crate::{
    config::Setting,
    domain::{DataPart, DomainModule, DomainState, Platform},
    functions::Function,
    http::Routes,
    platform::ai,
    users::api::Verifier,
};

pub const AI_DAILY_TOKEN_BUDGET: Setting = Setting::new(
    "AI_DAILY_TOKEN_BUDGET",
    "Claude tokens (input + output) one user may spend per Seoul day; past it the offline coach answers",
)
.default("30000");
pub const CHAT_RATE_LIMIT_PER_MINUTE: Setting =
    Setting::new("CHAT_RATE_LIMIT_PER_MINUTE", "chat messages one user may send per minute (429 past it)")
        .default("10");

/// The intelligence domain's state.
pub type IntelState = DomainState<Intelligence>;

pub struct Intelligence {
    pub verifier: Verifier,
    pub daily_tokens: u64,
    pub chat_per_minute: u32,
}

impl AsRef<Verifier> for Intelligence {
    fn as_ref(&self) -> &Verifier {
        &self.verifier
    }
}

pub struct Domain;

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        diagnosis::diagnosis,
        recommend::recommend_missions,
        chat::consultation,
        chat::history,
    ),
    tags((name = "intelligence", description = "검진 결과 설명, 미션 추천, 건강 상담 (Claude 또는 오프라인 코치)"))
)]
struct Api;

/// What a chat answer leads to.
const LINKS: &[crate::http::openapi::Link] = &[
    crate::http::openapi::Link { from: "sendChatMessage", status: "200", name: "GetChatHistory", to: "getChatHistory",
        parameters: &[("sessionId", "$response.body#/data/sessionId")], description: "the conversation the answer belongs to" },
];

impl DomainModule for Domain {
    type State = IntelState;
    type Needs = Verifier;
    const NAME: &'static str = "intelligence";
    const SETTINGS: &'static [Setting] = &[
        ai::ANTHROPIC_API_KEY,
        ai::ANTHROPIC_MODEL,
        ai::ANTHROPIC_BASE_URL,
        ai::ANTHROPIC_FIRST_TOKEN_MS,
        ai::ANTHROPIC_MIN_TOKENS_PER_SEC,
        ai::ANTHROPIC_MAX_RETRIES,
        ai::ANTHROPIC_BREAKER_THRESHOLD,
        ai::ANTHROPIC_BREAKER_COOL_DOWN_MS,
        AI_DAILY_TOKEN_BUDGET,
        CHAT_RATE_LIMIT_PER_MINUTE,
    ];

    fn state(platform: &Platform, verifier: Verifier) -> anyhow::Result<IntelState> {
        let src = platform.settings.as_ref();
        engine::check_fits(platform)?;
        Ok(DomainState::new(
            platform,
            Intelligence {
                verifier,
                daily_tokens: AI_DAILY_TOKEN_BUDGET.number(src, "a whole number of tokens", 0..=100_000_000)?,
                chat_per_minute: CHAT_RATE_LIMIT_PER_MINUTE.number(src, "a whole number from 1 to 1000", 1..=1000)?,
            },
        ))
    }

    fn routes() -> Routes<IntelState> {
        Routes::new()
            .route_long("/api/intelligence/health/diagnosis", get(diagnosis::diagnosis))
            .route_long("/api/intelligence/missions/recommend", post(recommend::recommend_missions))
            .route_long("/api/intelligence/chat/consultation", post(chat::consultation))
            .route("/api/intelligence/chat/history", get(chat::history))
    }

    fn openapi() -> utoipa::openapi::OpenApi {
        let mut doc = Api::openapi();
        crate::http::openapi::add_links(&mut doc, LINKS);
        doc
    }

    fn functions() -> Vec<Function<IntelState>> {
        vec![
            Function::http("Intelligence", "intelligence/{*path}", &["get", "post"]),
            Function::service_bus(
                functions::CACHE_DROPPER,
                "intelligence-checkups",
                &[functions::SYNCED, functions::RECORDED],
                functions::drop_caches,
            ),
        ]
    }

    fn data() -> Option<DataPart> {
        Some(DataPart {
            name: "intelligence",
            schema: "intelligence",
            export: |p, id| Box::pin(store::export(&p.db, id)),
            erase: |conn, id| Box::pin(store::erase(conn, id)),
            cache_keys: |id| vec![diagnosis::cache_key(id), recommend::cache_key(id)],
        })
    }
}
