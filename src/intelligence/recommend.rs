//! `POST /api/intelligence/missions/recommend`, and the goal domain's reset through
//! [`AiRecommender`]: Claude picks missions from the goal catalogue by id, each with a personal
//! reason; ids the catalogue does not offer (invented, retired, excluded) are dropped and the list
//! is completed by the goal domain's rules (`goals::recommend`). Without the AI consent, a key,
//! budget or a valid answer, the rules and the coach's words answer alone.

use std::{collections::BTreeSet, time::Duration};

use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    Engine, IntelState, coach,
    engine::{self, Ask, Offline, Purpose, Spender},
    events::Outcome,
    profile::{self, Subject},
};
use crate::{
    goals::api::{
        self as goals, AssessmentItem, Category, Difficulty, Mission, MissionId, Pick, Recommender,
        rules::{self, Input},
    },
    health::api::{self as health, CheckupRecord},
    http::{ApiResult, Success, envelope::Envelope},
    platform::{ai::Turn, cache},
    users::api::{self as users, ActiveUser, ConsentKind},
};

const CLAUDE_TTL: Duration = Duration::from_secs(6 * 3600);
const OFFLINE_TTL: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecommendedMission {
    #[schema(example = "walk-7000-steps")]
    pub mission_id: String,
    pub title: String,
    pub description: String,
    pub category: Category,
    pub difficulty: Difficulty,
    pub health_benefit: String,
    /// Why the mission fits the user's work.
    pub occupation_relevance: String,
    pub estimated_time_minutes: i32,
    /// Why this mission was picked for the user.
    pub reason: String,
    /// Checkup items whose habits it supports.
    pub helps: Vec<AssessmentItem>,
    /// Who picked it: Claude, or the rules.
    pub engine: Engine,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Recommendations {
    pub missions: Vec<RecommendedMission>,
    pub recommendation_reason: String,
    #[schema(minimum = 0, maximum = 5)]
    pub total_recommended: usize,
    /// `claude` when at least one mission is Claude's pick.
    pub engine: Engine,
}

pub fn cache_key(user: Uuid) -> String {
    profile::cache_key("missions", user)
}

#[derive(Serialize, Deserialize)]
struct Cached {
    checkup_id: Option<Uuid>,
    goal_id: Option<Uuid>,
    day: chrono::NaiveDate,
    ai_allowed: bool,
    recs: Recommendations,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AiPick {
    mission_id: String,
    reason: String,
    #[serde(default)]
    occupation_relevance: String,
}

#[derive(Deserialize)]
struct AiPicks {
    picks: Vec<AiPick>,
    summary: String,
}

/// The longest reason, occupation relevance and summary Claude may write, in characters.
pub const MAX_REASON: usize = 80;
pub const MAX_SUMMARY: usize = 150;

/// The answer's JSON schema, in the structured-output subset (counts and lengths are checked by
/// [`valid`]).
fn schema() -> serde_json::Value {
    json!({
        "type": "object",
        "properties": {
            "picks": {"type": "array", "minItems": 1, "description": "1–5개", "items": {
                "type": "object",
                "properties": {
                    "missionId": {"type": "string", "description": "카탈로그의 미션 ID 그대로"},
                    "reason": {"type": "string", "description": "이 사용자에게 맞는 이유 한 문장, 80자 이내"},
                    "occupationRelevance": {"type": "string", "description": "직업과의 관련, 80자 이내"}
                },
                "required": ["missionId", "reason", "occupationRelevance"],
                "additionalProperties": false
            }},
            "summary": {"type": "string", "description": "추천 전체의 요약, 150자 이내"}
        },
        "required": ["picks", "summary"],
        "additionalProperties": false
    })
}

fn valid(p: &AiPicks) -> bool {
    let ok = |s: &str, max: usize| !s.trim().is_empty() && s.chars().count() <= max;
    (1..=rules::COUNT).contains(&p.picks.len())
        && ok(&p.summary, MAX_SUMMARY)
        && p.picks.iter().all(|x| ok(&x.reason, MAX_REASON) && x.occupation_relevance.chars().count() <= MAX_REASON)
}

const SYSTEM: &str = "당신은 한국의 비의료 건강관리 서비스 HealthSync의 건강 코치입니다. \
주어진 미션 카탈로그의 ID만 사용해 사용자에게 맞는 생활습관 미션을 최대 5개 고르고, 각 미션마다 사용자에게 맞는 이유를 한 문장(80자 이내)으로 씁니다. \
카탈로그에 없는 ID를 만들지 마세요. 질병을 진단하거나 약을 권하지 않습니다. 요약은 150자 이내로 씁니다.";

/// A mission chosen for the user, and by whom.
pub struct Picked<'c> {
    pub mission: &'c Mission,
    pub reason: String,
    pub relevance: String,
    pub engine: Engine,
}

/// What the pick knows of the user.
pub struct Known<'a> {
    pub subject: &'a Subject,
    pub record: Option<&'a CheckupRecord>,
    pub allowed: bool,
}

/// Up to five missions of `catalog` for `user`: Claude's valid picks first (when allowed), then
/// the rules'. Returns the picks and a summary.
pub async fn pick<'c>(
    state: &IntelState,
    user: Uuid,
    input: &Input,
    catalog: &'c [Mission],
    known: &Known<'_>,
) -> (Vec<Picked<'c>>, String) {
    let offered: Vec<&Mission> = catalog.iter().filter(|m| !m.retired && !input.exclude.contains(&m.id)).collect();
    let mut out: Vec<Picked> = Vec::new();
    let mut summary = None;
    let lines: Vec<String> = offered
        .iter()
        .map(|m| {
            let helps: Vec<&str> = m.helps.iter().map(|h| h.label()).collect();
            format!("{} | {} | {} | {} | 도움: {}", m.id, m.title, m.category.label(), m.difficulty.label(), helps.join(", "))
        })
        .collect();
    let checkup = known.record.map_or_else(|| "검진 결과 없음".to_string(), profile::checkup_lines);
    let rate = input.last_rate.map_or_else(|| "기록 없음".to_string(), |r| format!("{r:.0}%"));
    let ask = format!(
        "[사용자]\n{}\n최근 목표 달성률: {rate}\n\n[검진 결과]\n{checkup}\n\n[미션 카탈로그: ID | 제목 | 영역 | 난이도 | 도움 항목]\n{}\n\n\
         이 사용자에게 맞는 미션을 최대 5개 골라 주세요.",
        known.subject.lines(),
        lines.join("\n")
    );
    let schema = schema();
    let ask = Ask { purpose: Purpose::Recommend, system: SYSTEM, turns: vec![Turn::user(ask)], schema: &schema };
    let spender = Spender { user, day: state.clock.today(), daily_tokens: state.own.daily_tokens };
    let answer = engine::ask::<AiPicks>(&state.platform, known.allowed, Some(spender), ask, valid).await;
    if let Ok(ai) = answer {
        let mut dropped = 0;
        for p in ai.picks {
            let Some(m) = MissionId::parse(&p.mission_id).and_then(|id| offered.iter().find(|m| m.id == id)) else {
                dropped += 1;
                continue;
            };
            if out.iter().any(|o| o.mission.id == m.id) {
                continue;
            }
            let relevance = if p.occupation_relevance.trim().is_empty() {
                coach::occupation_relevance(m, known.subject)
            } else {
                p.occupation_relevance
            };
            out.push(Picked { mission: m, reason: p.reason, relevance, engine: Engine::Claude });
        }
        if dropped > 0 {
            tracing::info!(dropped, "AI picked missions the catalogue does not offer; dropped");
        }
        if !out.is_empty() {
            summary = Some(ai.summary);
        }
    }
    for m in rules::recommend(catalog, input) {
        if out.len() < rules::COUNT && !out.iter().any(|o| o.mission.id == m.id) {
            out.push(Picked {
                mission: m,
                reason: rules::reason(m, input),
                relevance: coach::occupation_relevance(m, known.subject),
                engine: Engine::Offline,
            });
        }
    }
    let summary = summary.unwrap_or_else(|| {
        let attention = known.record.map(profile::attention).unwrap_or_default();
        coach::recommendation_summary(&attention, out.len())
    });
    (out, summary)
}

/// The checkup items needing attention, as the goal rules read them.
fn attention(record: Option<&CheckupRecord>) -> BTreeSet<AssessmentItem> {
    record.map(goals::attention_of).unwrap_or_default()
}

/// The latest checkup: `None` without the health-data consent in force (the accessor decides).
async fn record(state: &IntelState, user: Uuid) -> anyhow::Result<Option<CheckupRecord>> {
    health::latest_checkup(&state.platform, user).await
}

pub async fn recommend(state: &IntelState, user: Uuid) -> ApiResult<Recommendations> {
    let record = record(state, user).await?;
    let allowed = users::has_consent(&state.db, user, ConsentKind::AiOverseasTransfer).await?;
    let progress = goals::progress_at(&state.db, user, state.clock.now()).await?;
    let key = cache_key(user);
    let checkup_id = record.as_ref().map(|r| r.id);
    if let Some(hit) = cache::get_json::<Cached>(state.cache.as_ref(), &key).await
        && hit.checkup_id == checkup_id
        && hit.goal_id == progress.goal_id
        && hit.day == progress.today
        && hit.ai_allowed == allowed
    {
        engine::announce(&state.platform, Purpose::Recommend, hit.recs.engine, true, Outcome::Ok).await;
        return Ok(hit.recs);
    }
    let input = Input {
        attention: attention(record.as_ref()),
        exclude: progress.open_missions.iter().map(|m| m.id.clone()).collect(),
        last_rate: progress.seven_day_rate,
    };
    let catalog = goals::catalog(&state.db).await?;
    let subject = profile::subject(&state.platform, user).await?;
    let known = Known { subject: &subject, record: record.as_ref(), allowed };
    let (picked, summary) = pick(state, user, &input, &catalog, &known).await;
    let missions: Vec<RecommendedMission> = picked
        .into_iter()
        .map(|p| RecommendedMission {
            mission_id: p.mission.id.to_string(),
            title: p.mission.title.clone(),
            description: p.mission.description.clone(),
            category: p.mission.category,
            difficulty: p.mission.difficulty,
            health_benefit: p.mission.health_benefit.clone(),
            occupation_relevance: p.relevance,
            estimated_time_minutes: p.mission.estimated_minutes,
            reason: p.reason,
            helps: p.mission.helps.clone(),
            engine: p.engine,
        })
        .collect();
    let engine = if missions.iter().any(|m| m.engine == Engine::Claude) { Engine::Claude } else { Engine::Offline };
    let recs = Recommendations { total_recommended: missions.len(), missions, recommendation_reason: summary, engine };
    let ttl = if engine == Engine::Claude { CLAUDE_TTL } else { OFFLINE_TTL };
    let entry = Cached { checkup_id, goal_id: progress.goal_id, day: progress.today, ai_allowed: allowed, recs };
    cache::set_json(state.cache.as_ref(), &key, &entry, ttl).await;
    Ok(entry.recs)
}

/// Missions for the caller from the goal catalogue: Claude's picks (ids checked against the
/// catalogue) completed by the goal rules. No body needed.
#[utoipa::path(post, path = "/api/intelligence/missions/recommend", operation_id = "recommendMissions", tag = "intelligence",
    security(("bearer" = [])),
    responses((status = 200, description = "추천 미션 (engine: claude 또는 offline)", body = inline(Envelope<Recommendations>))))]
pub async fn recommend_missions(
    State(state): State<IntelState>,
    ActiveUser(user): ActiveUser,
) -> ApiResult<Success<Recommendations>> {
    Ok(Success::new(recommend(&state, user.id).await?).message("미션을 추천했습니다."))
}

pub async fn invalidate(state: &IntelState, user: Uuid) {
    cache::invalidate(state.cache.as_ref(), &cache_key(user)).await;
}

/// The goal domain's reset asks here (handed to it as a `goals::api::Recommender` by `app::wiring`).
pub struct AiRecommender(pub IntelState);

#[async_trait::async_trait]
impl Recommender for AiRecommender {
    async fn pick(&self, user: Uuid, input: &Input, catalog: &[Mission]) -> anyhow::Result<Vec<Pick>> {
        let state = &self.0;
        let allowed = users::has_consent(&state.db, user, ConsentKind::AiOverseasTransfer).await?;
        if !allowed {
            engine::announce(&state.platform, Purpose::Recommend, Engine::Offline, false, Offline::NoConsent.into()).await;
            return Ok(Vec::new());
        }
        let record = record(state, user).await?;
        let subject = profile::subject(&state.platform, user).await?;
        let known = Known { subject: &subject, record: record.as_ref(), allowed };
        let (picked, _) = pick(state, user, input, catalog, &known).await;
        invalidate(state, user).await;
        Ok(picked
            .into_iter()
            .filter(|p| p.engine == Engine::Claude)
            .map(|p| Pick { id: p.mission.id.clone(), reason: p.reason })
            .collect())
    }
}
