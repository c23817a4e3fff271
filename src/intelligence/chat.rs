//! `POST /api/intelligence/chat/consultation` and `GET /api/intelligence/chat/history`: a health
//! chat in sessions named by the app (any 1–100 printable characters, or a name the server chose)
//! and scoped to their user (the same name from two users is two sessions), messages kept in order
//! in PostgreSQL. Every message passes the red-flag check before any AI call (`safety`); Claude
//! answers with the AI overseas-transfer consent (with the latest assessment and the open missions
//! as context), else the offline coach. Three follow-up questions come with every answer.

use std::time::Duration;

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{
    Engine, IntelState, coach,
    engine::{self, Ask, Offline, Purpose, Spender},
    profile,
    safety::{self, Guard, Reading},
    store::{self, Role},
};
use crate::{
    goals::api as goals,
    health::api as health,
    http::{ApiError, ApiJson, ApiQuery, ApiResult, FieldError, ResultExt, Success, envelope::Envelope, text},
    platform::{ai::Turn, ratelimit},
    users::api::{self as users, ActiveUser, ConsentKind},
};

/// The longest message, in characters.
pub const MAX_MESSAGE: usize = 1000;
/// The longest context, in characters.
pub const MAX_CONTEXT: usize = 500;
/// Earlier messages of the session sent along with a question.
const HISTORY_TURNS: i64 = 10;
pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;
/// The longest session id, in characters.
pub const MAX_SESSION_ID: usize = 100;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConsultationRequest {
    /// The question (1–1000 characters; lines separated by `\n`).
    #[schema(min_length = 1, max_length = 1000, pattern = "@multiline")]
    pub message: String,
    /// The conversation: any 1–100 printable characters the app chose (no whitespace at either
    /// end), or the id an earlier answer returned. Scoped to the caller: a name not used yet starts
    /// a session with it. Omitted: a new session with an id the server chooses.
    #[schema(min_length = 1, max_length = 100, pattern = "@identifier", example = "chat-2026-12-07-1")]
    pub session_id: Option<String>,
    /// What the app is showing (up to 500 characters), read with the message.
    #[schema(max_length = 500, pattern = "@multiline-or-empty")]
    pub context: Option<String>,
}

/// `coaching` (Claude), `offline` (the offline coach), `emergency` (emergency guidance, before any
/// AI call), `medical_boundary` (a diagnosis or prescription was asked: referral).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Encode, sqlx::Decode)]
#[serde(rename_all = "snake_case")]
#[sqlx(rename_all = "snake_case")]
pub enum ResponseType {
    Coaching,
    Offline,
    Emergency,
    MedicalBoundary,
}
crate::platform::db::text_enum!(ResponseType);

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Consultation {
    pub response: String,
    /// The session the exchange belongs to: the one sent, or the one the server started.
    pub session_id: String,
    pub timestamp: DateTime<Utc>,
    #[schema(min_items = 3, max_items = 3)]
    pub suggested_questions: Vec<String>,
    pub response_type: ResponseType,
    pub engine: Engine,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Reply {
    response: String,
    suggested_questions: Vec<String>,
    /// Claude's own reading of the message: a red flag the rules missed replaces the coaching.
    safety: Reading,
}

/// The longest answer and follow-up question Claude may write, in characters.
pub const MAX_RESPONSE: usize = 600;
pub const MAX_QUESTION: usize = 60;

/// The answer's JSON schema, in the structured-output subset (lengths are checked by [`valid`]).
fn schema() -> serde_json::Value {
    json!({
        "type": "object",
        "properties": {
            "response": {"type": "string", "description": "사용자에게 보낼 답변, 600자 이내"},
            "suggestedQuestions": {"type": "array", "items": {"type": "string"}, "minItems": 1,
                                   "description": "대화에 맞는 다음 질문 정확히 세 개, 각 60자 이내"},
            "safety": {"type": "string", "enum": Reading::VALUES,
                       "description": "사용자 메시지의 안전 판단: 응급 증상이면 emergency, 자살·자해 생각이면 crisis, 질병 진단이나 약 처방·복용 변경 요청이면 medical, 아니면 none"}
        },
        "required": ["response", "suggestedQuestions", "safety"],
        "additionalProperties": false
    })
}

fn valid(r: &Reply) -> bool {
    let ok = |s: &str, max: usize| !s.trim().is_empty() && s.chars().count() <= max;
    ok(&r.response, MAX_RESPONSE)
        && r.suggested_questions.len() == 3
        && r.suggested_questions.iter().all(|q| ok(q, MAX_QUESTION))
}

const SYSTEM: &str = "당신은 한국의 비의료 건강관리 서비스 HealthSync의 건강 코치입니다. \
운동, 식단, 수면, 스트레스, 절주·금연 같은 생활습관을 따뜻하고 구체적으로 코칭합니다. \
질병을 진단하거나 질병 위험을 단정하지 않고, 약의 처방·복용 변경을 말하지 않습니다. 검진 수치는 ‘국가검진 기준상 … 범위’로만 말하고, \
질환의심 범위나 걱정되는 증상은 의료진 상담을 권합니다. 응급 증상(가슴 통증, 호흡 곤란, 마비, 의식 저하, 심한 출혈)에는 즉시 119를 안내합니다. \
답변은 5문장 이내, 600자 이내의 한국어로 쓰고, 대화에 맞는 다음 질문 세 개(각 60자 이내)를 함께 주세요. \
safety에는 사용자의 마지막 메시지에 대한 판단을 적습니다: 응급 증상이면 emergency, 자살·자해 생각이면(돌려 말해도) crisis, \
질병 진단이나 약 처방·복용 변경을 묻는다면 medical, 그 밖에는 none.";

fn invalid(field: &str, e: text::TextError, max: usize) -> FieldError {
    let message = match e {
        text::TextError::Empty => "내용을 입력해 주세요.".to_string(),
        text::TextError::TooLong => format!("{max}자 이하로 입력해 주세요."),
        text::TextError::Forbidden => "보이지 않는 문자나 제어 문자는 쓸 수 없습니다.".to_string(),
    };
    FieldError::new(field, message)
}

fn not_found() -> ApiError {
    ApiError::NotFound { code: "CHAT_SESSION_NOT_FOUND", message: "상담 세션을 찾을 수 없습니다.".into() }
}

/// The session id as sent, if it is one (the field's error otherwise).
fn session_id(raw: &str) -> Result<&str, FieldError> {
    text::identifier(raw, MAX_SESSION_ID).map_err(|e| {
        let message = match e {
            text::TextError::Empty => "세션 ID가 비었습니다.".to_string(),
            text::TextError::TooLong => format!("세션 ID는 {MAX_SESSION_ID}자 이하로 보내 주세요."),
            text::TextError::Forbidden => {
                "세션 ID에는 보이지 않는 문자를 쓸 수 없고 앞뒤에 공백을 둘 수 없습니다.".to_string()
            }
        };
        FieldError::new("sessionId", message)
    })
}

fn account_gone() -> ApiError {
    ApiError::Unauthorized { code: "ACCOUNT_NOT_FOUND", message: "계정을 찾을 수 없습니다. 다시 로그인해 주세요.".into() }
}

/// The context lines Claude gets beside the conversation (only with the consents).
async fn context_lines(state: &IntelState, user: Uuid) -> anyhow::Result<(String, Vec<(String, health::Grade)>, Vec<String>)> {
    let subject = profile::subject(&state.platform, user).await?;
    let mut attention = Vec::new();
    let mut lines = vec![subject.lines()];
    // The accessor reads nothing without the health-data consent in force.
    if let Some(r) = health::latest_checkup(&state.platform, user).await? {
        lines.push(format!("[최근 검진]\n{}", profile::checkup_lines(&r)));
        attention = profile::attention(&r);
    }
    let progress = goals::progress_at(&state.db, user, state.clock.now()).await?;
    let open: Vec<String> = progress.open_missions.iter().map(|m| m.title.clone()).collect();
    if progress.missions_today > 0 {
        lines.push(format!(
            "[오늘의 미션] {}개 중 {}개 완료; 남은 미션: {}",
            progress.missions_today,
            progress.completed_today,
            if open.is_empty() { "없음".to_string() } else { open.join(", ") }
        ));
    }
    Ok((lines.join("\n\n"), attention, open))
}

/// Answers a question in the caller's session named `sessionId` (started by its first message; a
/// new one with a server-chosen id when none is named).
#[utoipa::path(post, path = "/api/intelligence/chat/consultation", operation_id = "sendChatMessage", tag = "intelligence",
    request_body = ConsultationRequest, security(("bearer" = [])),
    responses((status = 200, description = "답변 (responseType: coaching, offline, emergency, medical_boundary)", body = inline(Envelope<Consultation>)),
              (status = 422, description = "메시지가 비었거나 너무 길거나 숨은 문자를 포함함, 또는 sessionId가 1–100자의 보이는 문자가 아님", body = crate::http::error::ErrorBody),
              (status = 429, description = "분당 메시지 수 초과 (`Retry-After`)", body = crate::http::error::ErrorBody)))]
pub async fn consultation(
    State(state): State<IntelState>,
    ActiveUser(user): ActiveUser,
    ApiJson(req): ApiJson<ConsultationRequest>,
) -> ApiResult<Success<Consultation>> {
    let mut errors = Vec::new();
    let message = text::visible_text(&req.message, MAX_MESSAGE, true).map_err(|e| errors.push(invalid("message", e, MAX_MESSAGE))).ok();
    let context = match req.context.as_deref().filter(|c| !c.trim().is_empty()) {
        None => None,
        Some(c) => text::visible_text(c, MAX_CONTEXT, true).map_err(|e| errors.push(invalid("context", e, MAX_CONTEXT))).ok(),
    };
    let key = match req.session_id.as_deref() {
        Some(raw) => session_id(raw).map_err(|e| errors.push(e)).ok().map(str::to_string),
        None => Some(Uuid::now_v7().to_string()),
    };
    let (Some(message), Some(key)) = (message, key) else { return Err(ApiError::Validation(errors)) };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    ratelimit::check(state.cache.as_ref(), "chat", &user.id.to_string(), state.own.chat_per_minute, Duration::from_secs(60))
        .await
        .map_err(|r| ApiError::TooManyRequests { retry_after_secs: r.retry_after_secs })?;
    let session = match req.session_id {
        Some(_) => store::find_session(&state.db, user.id, &key).await?,
        None => None,
    };
    let asked_at = state.clock.now();
    let checked = match &context {
        Some(c) => format!("{message}\n{c}"),
        None => message.clone(),
    };
    let (response, questions, response_type, engine) = match safety::check(&checked) {
        Some(guard) => {
            engine::announce(&state.platform, Purpose::Chat, Engine::Offline, false, Offline::RedFlag.into()).await;
            guarded(guard)
        }
        None => answer(&state, user.id, session, &message, context.as_deref()).await?,
    };
    let answered_at = state.clock.now().max(asked_at);
    let ex = store::Exchange {
        question: &message,
        answer: &response,
        engine,
        response_type,
        asked_at,
        answered_at,
    };
    // An account erased while Claude answered takes its sessions with it: nothing is stored.
    store::append(&state.db, user.id, &key, &ex).await.on_constraint("chat_sessions_user_fkey", account_gone)?;
    Ok(Success::new(Consultation {
        response,
        session_id: key,
        timestamp: answered_at,
        suggested_questions: questions.to_vec(),
        response_type,
        engine,
    }))
}

/// The guard's answer: emergency guidance, the crisis lines, or the medical boundary.
fn guarded(guard: Guard) -> (String, [String; 3], ResponseType, Engine) {
    let rt = if guard == Guard::MedicalBoundary { ResponseType::MedicalBoundary } else { ResponseType::Emergency };
    (guard.answer().to_string(), guard.questions(), rt, Engine::Offline)
}

async fn answer(
    state: &IntelState,
    user: Uuid,
    session: Option<Uuid>,
    message: &str,
    context: Option<&str>,
) -> anyhow::Result<(String, [String; 3], ResponseType, Engine)> {
    let allowed = users::has_consent(&state.db, user, ConsentKind::AiOverseasTransfer).await?;
    let (lines, attention, open) = context_lines(state, user).await?;
    if allowed {
        let mut turns = Vec::new();
        if let Some(session) = session {
            let (earlier, _) = store::messages(&state.db, session, HISTORY_TURNS).await?;
            let skip = earlier.iter().position(|m| m.role == Role::User).unwrap_or(earlier.len());
            for m in &earlier[skip..] {
                turns.push(if m.role == Role::User { Turn::user(&m.content) } else { Turn::assistant(&m.content) });
            }
        }
        let question = match context {
            Some(c) => format!("{message}\n\n(앱 화면 정보: {c})"),
            None => message.to_string(),
        };
        turns.push(Turn::user(question));
        let system = format!("{SYSTEM}\n\n[사용자 정보]\n{lines}");
        let schema = schema();
        let ask = Ask { purpose: Purpose::Chat, system: &system, turns, schema: &schema };
        let spender = Spender { user, day: state.clock.today(), daily_tokens: state.own.daily_tokens };
        if let Ok(r) = engine::ask::<Reply>(&state.platform, true, Some(spender), ask, valid).await {
            // The second layer: Claude saw a red flag the rules missed. Its coaching is not shown.
            if let Some(guard) = r.safety.guard() {
                engine::announce(&state.platform, Purpose::Chat, Engine::Offline, false, Offline::RedFlagAi.into()).await;
                return Ok(guarded(guard));
            }
            let q = [r.suggested_questions[0].clone(), r.suggested_questions[1].clone(), r.suggested_questions[2].clone()];
            return Ok((r.response, q, ResponseType::Coaching, Engine::Claude));
        }
    } else {
        engine::announce(&state.platform, Purpose::Chat, Engine::Offline, false, Offline::NoConsent.into()).await;
    }
    let (a, q) = coach::chat(message, &coach::ChatContext { attention: &attention, open_missions: &open });
    Ok((a, q, ResponseType::Offline, Engine::Offline))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// A session id of the caller's (as sent with its messages or answered by the server); one
    /// without messages yet answers an empty history. Omitted: the most recent session.
    #[param(min_length = 1, max_length = 100, pattern = "@identifier")]
    pub session_id: Option<String>,
    /// The newest messages to return (1–100, default 20), oldest first.
    #[param(minimum = 1, maximum = 100)]
    pub message_limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatMessage {
    /// `user` or `assistant`.
    #[schema(value_type = String)]
    pub role: Role,
    pub content: String,
    pub timestamp: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatHistory {
    pub session_id: String,
    pub messages: Vec<ChatMessage>,
    pub total_message_count: i64,
}

/// The newest messages of a session of the caller's, oldest first (none for a session id not used
/// yet: the app may open a conversation before its first message).
#[utoipa::path(get, path = "/api/intelligence/chat/history", operation_id = "getChatHistory", tag = "intelligence", params(HistoryQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "대화 기록", body = inline(Envelope<ChatHistory>)),
              (status = 400, description = "messageLimit 형식이 잘못됨", body = crate::http::error::ErrorBody),
              (status = 404, description = "sessionId 없이 요청했는데 대화한 세션이 없음 (`CHAT_SESSION_NOT_FOUND`)", body = crate::http::error::ErrorBody),
              (status = 422, description = "messageLimit이 1–100 밖이거나 sessionId가 1–100자의 보이는 문자가 아님", body = crate::http::error::ErrorBody)))]
pub async fn history(
    State(state): State<IntelState>,
    ActiveUser(user): ActiveUser,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> ApiResult<Success<ChatHistory>> {
    let limit = q.message_limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::field("messageLimit", "1에서 100 사이로 요청해 주세요."));
    }
    let (session, key) = match q.session_id.as_deref() {
        Some(raw) => {
            let key = session_id(raw).map_err(|e| ApiError::Validation(vec![e]))?;
            (store::find_session(&state.db, user.id, key).await?, key.to_string())
        }
        None => {
            let (id, key) = store::latest_session(&state.db, user.id).await?.ok_or_else(not_found)?;
            (Some(id), key)
        }
    };
    let (messages, total) = match session {
        Some(id) => store::messages(&state.db, id, limit).await?,
        None => (Vec::new(), 0),
    };
    Ok(Success::new(ChatHistory {
        session_id: key,
        messages: messages
            .into_iter()
            .map(|m| ChatMessage { role: m.role, content: m.content, timestamp: m.created_at })
            .collect(),
        total_message_count: total,
    }))
}
