//! `POST /api/goals/missions/select` (set a goal) and `POST /api/goals/missions/reset` (close it
//! and get fresh recommendations).

use std::{collections::BTreeSet, time::Duration};

use axum::extract::State;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{MissionView, check_known, parse_ids};
use crate::{
    goals::{GoalsState, active, api, assessment, recommend, stats, store},
    http::{
        ApiError, ApiJson, ApiResult, FieldError, ResultExt, Success,
        envelope::Envelope,
        text::{self, TextError},
    },
    platform::time::seoul_date,
    platform::ratelimit,
    users::api::ActiveUser,
};

const HOUR: Duration = Duration::from_secs(3600);

/// The most missions a goal holds.
pub const MAX_MISSIONS: usize = 5;
/// The longest reset reason kept, in characters.
pub const MAX_REASON: usize = 500;

fn account_gone() -> ApiError {
    ApiError::Unauthorized { code: "ACCOUNT_NOT_FOUND", message: "계정을 찾을 수 없습니다. 다시 로그인해 주세요.".into() }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SelectRequest {
    /// 1–5 distinct ids of missions in the catalogue (not retired).
    #[schema(min_items = 1, max_items = 5, example = json!(["water-8-cups", "walk-7000-steps"]))]
    pub selected_mission_ids: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SelectedMission {
    #[serde(flatten)]
    pub mission: MissionView,
    /// The Seoul date the goal starts (today).
    pub start_date: NaiveDate,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GoalSetup {
    pub goal_id: Uuid,
    pub selected_missions: Vec<SelectedMission>,
    pub message: String,
    pub setup_completed_at: DateTime<Utc>,
    /// The goal this one replaced (closed today), if there was one.
    pub replaced_goal_id: Option<Uuid>,
}

/// Sets the caller's goal: replaces the open one (closed today) by the selected missions, starting
/// today (Seoul). Emits `goal.set`.
#[utoipa::path(post, path = "/api/goals/missions/select", operation_id = "selectMissions", tag = "goals", request_body = SelectRequest,
    security(("bearer" = [])),
    responses((status = 201, description = "새 목표", body = inline(Envelope<GoalSetup>)),
              (status = 422, description = "선택 개수가 맞지 않거나, 형식이 틀리거나 중복되었거나, 카탈로그에 없거나 종료된 미션 (각각 이름과 함께)",
               body = crate::http::error::ErrorBody)))]
pub async fn select_missions(
    State(state): State<GoalsState>,
    ActiveUser(user): ActiveUser,
    ApiJson(req): ApiJson<SelectRequest>,
) -> ApiResult<Success<GoalSetup>> {
    let raw = &req.selected_mission_ids;
    if raw.is_empty() || raw.len() > MAX_MISSIONS {
        return Err(ApiError::field("selectedMissionIds", "미션을 1개 이상 5개 이하로 골라 주세요."));
    }
    let mut errors = Vec::new();
    let ids = parse_ids("selectedMissionIds", raw, &mut errors);
    let found = store::missions_by_ids(&state.db, &ids).await?;
    check_known("selectedMissionIds", raw, &ids, &found, false, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let now = state.clock.now();
    let goal = store::replace(&state.db, user.id, &ids, seoul_date(now), now)
        .await
        .on_constraint("goals_user_fkey", account_gone)?;
    active::invalidate(&state, user.id).await;
    let selected_missions = ids
        .iter()
        .filter_map(|id| found.iter().find(|m| m.id == *id))
        .map(|m| SelectedMission { mission: MissionView::from(m), start_date: goal.start_date })
        .collect::<Vec<_>>();
    let message = format!("미션 {}개로 새 목표를 시작했어요. 오늘부터 하나씩 해 봐요!", selected_missions.len());
    Ok(Success::created(GoalSetup {
        goal_id: goal.goal_id,
        selected_missions,
        message,
        setup_completed_at: goal.created_at,
        replaced_goal_id: goal.replaced,
    })
    .message("목표를 설정했습니다."))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResetRequest {
    /// Why the user starts over, in their words (kept with the closed goal): up to 500
    /// characters, lines separated by `\n`.
    #[schema(min_length = 1, max_length = 500, pattern = "@multiline")]
    pub reason: String,
    /// The missions the app shows as current; the server's own goal wins, these are only not
    /// recommended again.
    #[schema(max_items = 5)]
    pub current_mission_ids: Option<Vec<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Recommendation {
    #[serde(flatten)]
    pub mission: MissionView,
    /// Why this mission was recommended.
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResetResult {
    pub message: String,
    pub new_recommendations: Vec<Recommendation>,
    pub reset_completed_at: DateTime<Utc>,
    /// The goal closed now (null when there was no open goal).
    pub closed_goal_id: Option<Uuid>,
}

/// Closes the caller's goal (today) and recommends missions for a fresh start: the AI's picks when
/// the intelligence domain answers (`api::Recommender`), completed by rules over the catalogue and
/// the user's record. Emits `mission.reset` when a goal was closed.
#[utoipa::path(post, path = "/api/goals/missions/reset", operation_id = "resetMissions", tag = "goals", request_body = ResetRequest,
    security(("bearer" = [])),
    responses((status = 200, description = "초기화와 새 추천", body = inline(Envelope<ResetResult>)),
              (status = 422, description = "사유가 없거나 너무 길거나, 현재 미션 ID가 잘못됨", body = crate::http::error::ErrorBody),
              (status = 429, description = "시간당 초기화 횟수 초과 (`Retry-After`)", body = crate::http::error::ErrorBody)))]
pub async fn reset_missions(
    State(state): State<GoalsState>,
    ActiveUser(user): ActiveUser,
    ApiJson(req): ApiJson<ResetRequest>,
) -> ApiResult<Success<ResetResult>> {
    let mut errors = Vec::new();
    let reason = match text::visible_text(&req.reason, MAX_REASON, true) {
        Ok(r) => r,
        Err(e) => {
            errors.push(FieldError::new(
                "reason",
                match e {
                    TextError::Forbidden => "초기화 사유에 쓸 수 없는 문자가 있습니다.",
                    TextError::Empty | TextError::TooLong => "초기화 사유를 1자 이상 500자 이하로 적어 주세요.",
                },
            ));
            String::new()
        }
    };
    let current = req.current_mission_ids.unwrap_or_default();
    let mut current_ids = Vec::new();
    if current.len() > MAX_MISSIONS {
        errors.push(FieldError::new("currentMissionIds", "현재 미션은 5개까지 보낼 수 있습니다."));
    } else {
        current_ids = parse_ids("currentMissionIds", &current, &mut errors);
        let found = store::missions_by_ids(&state.db, &current_ids).await?;
        check_known("currentMissionIds", &current, &current_ids, &found, true, &mut errors);
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    // Each reset may ask Claude for picks: a per-user limit keeps a loop of resets from spending
    // the AI budget (and the API) in seconds.
    ratelimit::check(state.cache.as_ref(), "goals-reset", &user.id.to_string(), state.own.resets_per_hour, HOUR)
        .await
        .map_err(|r| ApiError::TooManyRequests { retry_after_secs: r.retry_after_secs })?;
    let now = state.clock.now();
    let closed = store::close_open(&state.db, user.id, seoul_date(now), now, &reason).await?;
    active::invalidate(&state, user.id).await;
    let mut exclude: BTreeSet<_> = current_ids.into_iter().collect();
    let mut last_rate = None;
    if let Some(c) = &closed {
        exclude.extend(c.missions.iter().cloned());
        let record = store::record(&state.db, user.id).await?;
        let only: BTreeSet<_> = c.missions.iter().cloned().collect();
        let last_day = c.end_date.pred_opt().unwrap_or(c.end_date);
        last_rate = stats::tally(&record, c.start_date, last_day, Some(&only)).rate();
    }
    let input = recommend::Input { attention: assessment::attention(&state, user.id).await?, exclude, last_rate };
    let catalog = store::catalog(&state.db).await?;
    let new_recommendations = api::recommendations(state.own.recommender.as_deref(), user.id, &catalog, &input)
        .await
        .into_iter()
        .map(|(m, reason)| Recommendation { mission: MissionView::from(m), reason })
        .collect();
    let message = match &closed {
        Some(_) => "목표를 정리했어요. 새로 시작할 미션을 추천해 드릴게요.",
        None => "진행 중인 목표가 없어요. 시작할 미션을 추천해 드릴게요.",
    };
    Ok(Success::new(ResetResult {
        message: message.to_string(),
        new_recommendations,
        reset_completed_at: now,
        closed_goal_id: closed.map(|c| c.goal_id),
    })
    .message("목표를 초기화했습니다."))
}
