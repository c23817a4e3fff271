//! `PUT /api/goals/missions/{missionId}/complete`: one completion per mission per Seoul day.

use axum::extract::State;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    platform::time::seoul_date,
    goals::{
        GoalsState, active,
        model::MissionId,
        store::{self, Completion, Outcome},
    },
    http::{
        ApiError, ApiJson, ApiPath, ApiResult, FieldError, ResultExt, Success,
        envelope::Envelope,
        text::{self, TextError},
    },
    users::api::ActiveUser,
};

/// The longest note kept, in characters.
pub const MAX_NOTES: usize = 500;
/// How far ahead of the server's clock a reported completion time may be (phones drift).
const CLOCK_SKEW: Duration = Duration::minutes(5);

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CompleteRequest {
    /// Must be true when sent (a completion cannot be taken back); absent means true.
    #[schema(schema_with = crate::http::openapi::only_true)]
    pub completed: Option<bool>,
    /// When the user did it (RFC 3339), if the app queued the completion; it must fall on today
    /// (Asia/Seoul) and not in the future. Absent: now.
    #[schema(format = DateTime)]
    pub completed_at: Option<String>,
    /// Up to 500 characters, lines separated by `\n`; empty means none.
    #[schema(max_length = 500, pattern = "@multiline-or-empty")]
    pub notes: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CompletionStatus {
    /// Recorded by this request.
    Completed,
    /// It had already been completed today; nothing changed.
    AlreadyCompleted,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CompletionResult {
    pub message: String,
    pub status: CompletionStatus,
    /// Set when this completion reached a streak milestone (3, 7, 21, 30 days) for the first time
    /// in this goal.
    pub achievement_message: Option<String>,
    /// The mission's streak including today.
    pub new_streak_days: i32,
    /// How often the user has completed this mission.
    pub total_completed_count: i64,
    /// 10, 20 from a 3-day streak, 30 from a 7-day streak.
    pub earned_points: i32,
    pub mission_id: String,
    pub goal_id: Uuid,
    /// The Seoul day it counts for.
    pub date: NaiveDate,
    pub completed_at: DateTime<Utc>,
}

struct Parsed {
    at: DateTime<Utc>,
    notes: Option<String>,
}

fn parse(req: CompleteRequest, now: DateTime<Utc>) -> Result<Parsed, ApiError> {
    let mut errors = Vec::new();
    if req.completed == Some(false) {
        errors.push(FieldError::new("completed", "완료 기록은 취소할 수 없습니다. 완료할 때 true로 보내 주세요."));
    }
    let at = match req.completed_at.as_deref().map(DateTime::parse_from_rfc3339) {
        None => now,
        Some(Ok(at)) => {
            let at = at.with_timezone(&Utc);
            if at > now + CLOCK_SKEW || seoul_date(at) != seoul_date(now) {
                errors.push(FieldError::new("completedAt", "오늘(한국 시간) 완료한 기록만 남길 수 있습니다."));
            }
            at.min(now)
        }
        Some(Err(_)) => {
            errors.push(FieldError::new("completedAt", "RFC 3339 형식의 시각으로 보내 주세요."));
            now
        }
    };
    let notes = match req.notes.as_deref().map(|n| text::visible_text(n, MAX_NOTES, true)) {
        None | Some(Err(TextError::Empty)) => None,
        Some(Ok(n)) => Some(n),
        Some(Err(TextError::TooLong)) => {
            errors.push(FieldError::new("notes", "메모는 500자 이하로 적어 주세요."));
            None
        }
        Some(Err(TextError::Forbidden)) => {
            errors.push(FieldError::new("notes", "메모에 쓸 수 없는 문자가 있습니다."));
            None
        }
    };
    if errors.is_empty() { Ok(Parsed { at, notes }) } else { Err(ApiError::Validation(errors)) }
}

fn not_in_goal() -> ApiError {
    ApiError::NotFound { code: "MISSION_NOT_IN_GOAL", message: "진행 중인 목표에 없는 미션입니다.".into() }
}

fn achievement_message(days: i32) -> String {
    match days {
        3 => "3일 연속 달성! 습관의 첫 고비를 넘었어요.".into(),
        7 => "7일 연속 달성! 일주일을 꽉 채웠어요.".into(),
        21 => "21일 연속 달성! 이제 몸에 익은 습관이 되어 가고 있어요.".into(),
        _ => format!("{days}일 연속 달성! 한 달 동안 꾸준히 해낸 자신을 칭찬해 주세요."),
    }
}

/// Records today's completion of a mission of the open goal (Asia/Seoul day). A repeat, or a
/// request racing another, answers the existing completion and changes nothing. Emits
/// `mission.completed`, and `goal.achieved` at 3, 7, 21 and 30 consecutive days.
#[utoipa::path(put, path = "/api/goals/missions/{missionId}/complete", operation_id = "completeMission", tag = "goals", request_body = CompleteRequest,
    params(("missionId" = String, Path, description = "카탈로그 미션 ID", example = "water-8-cups")),
    security(("bearer" = [])),
    responses((status = 200, description = "완료 (또는 이미 완료된 기록)", body = inline(Envelope<CompletionResult>)),
              (status = 404, description = "진행 중인 목표에 없는 미션", body = crate::http::error::ErrorBody),
              (status = 422, description = "completed가 false이거나, completedAt이 오늘이 아니거나 목표를 정하기 전이거나, 메모가 너무 김", body = crate::http::error::ErrorBody)))]
pub async fn complete_mission(
    State(state): State<GoalsState>,
    ActiveUser(user): ActiveUser,
    ApiPath(raw_id): ApiPath<String>,
    ApiJson(req): ApiJson<CompleteRequest>,
) -> ApiResult<Success<CompletionResult>> {
    // A malformed id cannot be in anyone's goal.
    let mission = MissionId::parse(&raw_id).ok_or_else(not_in_goal)?;
    let now = state.clock.now();
    let Parsed { at, notes } = parse(req, now)?;
    let outcome = store::complete(&state.db, user.id, &mission, seoul_date(now), at, notes.as_deref())
        .await
        .on_constraint("completions_goal_fkey", not_in_goal)?;
    let (c, status, achieved): (Completion, _, _) = match outcome {
        Outcome::NotInGoal => return Err(not_in_goal()),
        Outcome::BeforeGoal => {
            return Err(ApiError::field("completedAt", "목표를 정하기 전의 완료는 기록할 수 없습니다."));
        }
        Outcome::Existing(c) => (c, CompletionStatus::AlreadyCompleted, None),
        Outcome::Recorded { completion, achieved } => {
            active::invalidate(&state, user.id).await;
            (completion, CompletionStatus::Completed, achieved)
        }
    };
    let message = match status {
        CompletionStatus::Completed if c.streak_days > 1 => {
            format!("완료했어요! {}일째 이어 가고 있어요.", c.streak_days)
        }
        CompletionStatus::Completed => "완료했어요! 오늘도 한 걸음 나아갔어요.".to_string(),
        CompletionStatus::AlreadyCompleted => "오늘은 이미 완료한 미션이에요.".to_string(),
    };
    Ok(Success::new(CompletionResult {
        message,
        status,
        achievement_message: achieved.map(achievement_message),
        new_streak_days: c.streak_days,
        total_completed_count: c.total_completed,
        earned_points: c.points,
        mission_id: mission.to_string(),
        goal_id: c.goal_id,
        date: c.day,
        completed_at: c.completed_at,
    })
    .message("미션 완료를 기록했습니다."))
}
