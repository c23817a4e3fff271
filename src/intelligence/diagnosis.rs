//! `GET /api/intelligence/health/diagnosis`: the latest checkup explained. `healthScore`,
//! `riskLevel` and `confidenceScore` come from the judgement engine's assessment by fixed rules
//! (the AI never invents a number); the three sentences and the occupation advice come from
//! Claude (with the AI overseas-transfer consent) or the offline coach. Cached per user and
//! checkup (the entry names the checkup it explains and whether AI was allowed), dropped on
//! `checkup.synced`/`checkup.recorded` and on erasure.

use std::time::Duration;

use axum::extract::State;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    Engine, IntelState, coach,
    engine::{self, Ask, Purpose, Spender},
    events::Outcome,
    profile::{self, Subject},
};
use crate::{
    health::api::{self as health, Assessment, CheckupRecord, Grade, GradedItem, Overall},
    http::{ApiError, ApiResult, Success, envelope::Envelope},
    platform::{ai::Turn, cache},
    users::api::{self as users, ActiveUser, ConsentKind},
};

/// How long a Claude explanation is kept (a new checkup or an erasure drops it sooner).
const CLAUDE_TTL: Duration = Duration::from_secs(24 * 3600);
/// The coach's explanation is kept briefly: Claude may be back soon.
const OFFLINE_TTL: Duration = Duration::from_secs(600);

/// `낮음`, `보통` or `높음`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum RiskLevel {
    #[serde(rename = "낮음")]
    Low,
    #[serde(rename = "보통")]
    Medium,
    #[serde(rename = "높음")]
    High,
}

impl RiskLevel {
    pub fn label(self) -> &'static str {
        match self {
            RiskLevel::Low => "낮음",
            RiskLevel::Medium => "보통",
            RiskLevel::High => "높음",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Diagnosis {
    /// Exactly three sentences.
    #[schema(min_items = 3, max_items = 3)]
    pub three_sentence_summary: Vec<String>,
    /// 0–100 from the grades: 정상A 100, 정상B(경계) 70, 질환의심 35 per graded item, averaged,
    /// minus 3 per metabolic-syndrome criterion met, at most 59 when a finding calls for a referral.
    #[schema(minimum = 0, maximum = 100)]
    pub health_score: u8,
    /// 높음 with any 질환의심 item or referral, 보통 with any 정상B(경계) item or a treated
    /// condition, else 낮음.
    pub risk_level: RiskLevel,
    pub occupation_considerations: String,
    pub analysis_timestamp: DateTime<Utc>,
    /// The share (0–1) of the 15 gradable checkup items the rules could grade: how much of the
    /// picture the score rests on.
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub confidence_score: f64,
    /// Who wrote the sentences.
    pub engine: Engine,
    pub checkup_id: Uuid,
    #[schema(format = Date)]
    pub checkup_date: NaiveDate,
    /// Findings that call for a confirmatory test or a clinician, in the national checkup's words.
    pub referrals: Vec<String>,
}

/// The points of a grade.
fn points(g: Grade) -> Option<f64> {
    match g {
        Grade::NormalA => Some(100.0),
        Grade::NormalB => Some(70.0),
        Grade::Suspected => Some(35.0),
        Grade::Unclassified => None,
    }
}

/// The health score of an assessment (see [`Diagnosis::health_score`]); 50 when nothing could be
/// graded (and the confidence is then 0).
pub fn health_score(a: &Assessment) -> u8 {
    let graded: Vec<f64> = a.items.iter().filter_map(|i| points(i.grade)).collect();
    if graded.is_empty() {
        return 50;
    }
    let mut score = graded.iter().sum::<f64>() / graded.len() as f64 - 3.0 * f64::from(a.metabolic_syndrome.count);
    if a.needs_referral() {
        score = score.min(59.0);
    }
    score.round().clamp(0.0, 100.0) as u8
}

pub fn risk_level(a: &Assessment) -> RiskLevel {
    let suspected_overall = a.categories.iter().any(|c| {
        matches!(c, Overall::SuspectedGeneral | Overall::SuspectedHtnDm | Overall::SuspectedHtnDmDyslipidemia)
    });
    if suspected_overall || a.needs_referral() || a.items.iter().any(|i| i.grade == Grade::Suspected) {
        RiskLevel::High
    } else if a.categories.contains(&Overall::UnderTreatment) || a.items.iter().any(|i| i.grade == Grade::NormalB) {
        RiskLevel::Medium
    } else {
        RiskLevel::Low
    }
}

pub fn confidence(a: &Assessment) -> f64 {
    let share = f64::from(a.coverage.graded) / GradedItem::ALL.len() as f64;
    (share.min(1.0) * 100.0).round() / 100.0
}

pub fn cache_key(user: Uuid) -> String {
    profile::cache_key("diagnosis", user)
}

#[derive(Serialize, Deserialize)]
struct Cached {
    checkup_id: Uuid,
    ai_allowed: bool,
    diagnosis: Diagnosis,
}

/// What Claude is asked to fill in.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Written {
    sentences: Vec<String>,
    occupation_considerations: String,
}

/// The longest sentence and occupation advice, in characters (the app shows them on one screen).
pub const MAX_SENTENCE: usize = 150;
pub const MAX_OCCUPATION: usize = 300;

/// The answer's JSON schema, in the structured-output subset (lengths are checked by [`valid`]).
fn schema() -> serde_json::Value {
    json!({
        "type": "object",
        "properties": {
            "sentences": {"type": "array", "items": {"type": "string"}, "minItems": 1,
                          "description": "정확히 세 문장, 각 150자 이내"},
            "occupationConsiderations": {"type": "string", "description": "300자 이내"}
        },
        "required": ["sentences", "occupationConsiderations"],
        "additionalProperties": false
    })
}

fn valid(w: &Written) -> bool {
    let ok = |s: &str, max: usize| !s.trim().is_empty() && s.chars().count() <= max;
    w.sentences.len() == 3
        && w.sentences.iter().all(|s| ok(s, MAX_SENTENCE))
        && ok(&w.occupation_considerations, MAX_OCCUPATION)
}

pub const SYSTEM: &str = "당신은 한국의 비의료 건강관리 서비스 HealthSync의 건강 코치입니다. \
국가건강검진 결과를 쉬운 한국어로 설명하되, 질병을 진단하거나 질병 위험을 단정하지 않습니다. \
수치는 ‘국가검진 기준상 ‘정상A/정상B(경계)/질환의심’ 범위’로만 표현하고, 질환의심 항목은 의료진 상담을 권합니다. \
점수나 수치를 새로 만들지 말고 주어진 값만 인용하세요. 약이나 처방은 언급하지 않습니다. \
문장마다 150자, 직업 조언은 300자를 넘기지 마세요.";

/// The explanation of `record` for `subject`: Claude's when allowed and it answers, else the coach's.
async fn write(
    state: &IntelState,
    user: Uuid,
    allowed: bool,
    record: &CheckupRecord,
    subject: &Subject,
    score: u8,
    risk: RiskLevel,
) -> (Vec<String>, String, Engine) {
    let ask = format!(
        "[사용자]\n{}\n\n[검진 결과]\n{}\n\n[규칙 엔진 결과]\n건강 점수: {score}/100\n관리 필요도: {}\n\n\
         위 결과를 세 문장으로 설명하고(1: 전체 요약, 2: 살펴볼 항목, 3: 다음 행동), 직업을 고려한 생활 조언을 써 주세요.",
        subject.lines(),
        profile::checkup_lines(record),
        risk.label()
    );
    let schema = schema();
    let ask = Ask { purpose: Purpose::Diagnosis, system: SYSTEM, turns: vec![Turn::user(ask)], schema: &schema };
    let spender = Spender { user, day: state.clock.today(), daily_tokens: state.own.daily_tokens };
    match engine::ask::<Written>(&state.platform, allowed, Some(spender), ask, valid).await
    {
        Ok(w) => (w.sentences, w.occupation_considerations, Engine::Claude),
        Err(_) => {
            let s = coach::diagnosis_sentences(record, score, risk.label());
            (s.to_vec(), coach::occupation_advice(subject), Engine::Offline)
        }
    }
}

/// The diagnosis of `user`'s latest checkup, from the cache when it still explains that checkup.
pub async fn diagnose(state: &IntelState, user: Uuid) -> ApiResult<Diagnosis> {
    if !health::processing_allowed(&state.platform, user).await? {
        return Err(ApiError::Forbidden {
            code: "CONSENT_REQUIRED",
            message: "건강정보 처리에 동의해야 검진 결과 설명을 볼 수 있습니다.".into(),
        });
    }
    let Some(record) = health::latest_checkup(&state.platform, user).await? else {
        return Err(ApiError::NotFound {
            code: "CHECKUP_REQUIRED",
            message: "아직 검진 결과가 없어요. 건강검진 연동이나 직접 입력으로 결과를 먼저 등록해 주세요.".into(),
        });
    };
    let allowed = users::has_consent(&state.db, user, ConsentKind::AiOverseasTransfer).await?;
    let key = cache_key(user);
    if let Some(hit) = cache::get_json::<Cached>(state.cache.as_ref(), &key).await
        && hit.checkup_id == record.id
        && hit.ai_allowed == allowed
    {
        engine::announce(&state.platform, Purpose::Diagnosis, hit.diagnosis.engine, true, Outcome::Ok).await;
        return Ok(hit.diagnosis);
    }
    let a = &record.assessment;
    let (score, risk) = (health_score(a), risk_level(a));
    let subject = profile::subject(&state.platform, user).await?;
    let (sentences, occupation, engine) = write(state, user, allowed, &record, &subject, score, risk).await;
    let diagnosis = Diagnosis {
        three_sentence_summary: sentences,
        health_score: score,
        risk_level: risk,
        occupation_considerations: occupation,
        analysis_timestamp: state.clock.now(),
        confidence_score: confidence(a),
        engine,
        checkup_id: record.id,
        checkup_date: record.checkup_date,
        referrals: a.flags.iter().map(|f| f.message.clone()).collect(),
    };
    let ttl = if engine == Engine::Claude { CLAUDE_TTL } else { OFFLINE_TTL };
    let entry = Cached { checkup_id: record.id, ai_allowed: allowed, diagnosis };
    cache::set_json(state.cache.as_ref(), &key, &entry, ttl).await;
    Ok(entry.diagnosis)
}

/// The caller's latest checkup explained: score and risk by rules, sentences by Claude or the coach.
#[utoipa::path(get, path = "/api/intelligence/health/diagnosis", operation_id = "getDiagnosis", tag = "intelligence",
    security(("bearer" = [])),
    responses((status = 200, description = "검진 결과 설명 (engine: claude 또는 offline)", body = inline(Envelope<Diagnosis>)),
              (status = 403, description = "건강정보 처리 동의가 없음 (`CONSENT_REQUIRED`)", body = crate::http::error::ErrorBody),
              (status = 404, description = "검진 결과가 없음 (`CHECKUP_REQUIRED`: 검진 연동이나 직접 입력을 안내)", body = crate::http::error::ErrorBody)))]
pub async fn diagnosis(State(state): State<IntelState>, ActiveUser(user): ActiveUser) -> ApiResult<Success<Diagnosis>> {
    Ok(Success::new(diagnose(&state, user.id).await?).message("검진 결과 설명입니다."))
}

/// Drops `user`'s cached explanation.
pub async fn invalidate(state: &IntelState, user: Uuid) {
    cache::invalidate(state.cache.as_ref(), &cache_key(user)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_age_band_holds_no_birth_date() {
        assert_eq!(profile::age_band(37), "30대");
        assert_eq!(profile::age_band(72), "60대 이상");
        assert_eq!(profile::age_band(19), "10대");
    }
}
