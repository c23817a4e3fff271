//! The inbox (`/api/notifications`), push devices, the on-demand encouragement and the
//! operators' batch. The user is always the one in the access token; the batch takes no user
//! token at all: its function has authLevel `function`, so the host demands a function key.

use axum::{
    extract::State,
    http::StatusCode,
    routing::{get, post, put},
};
use chrono::{DateTime, Duration, Timelike, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{
    MotivatorState, nudges,
    rules::{self, MotivationType, Priority, Standing},
    store::{self, Notification, PushPlatform},
    wording,
};
use crate::{
    goals::api::{self as goals, MissionId},
    platform::time::SEOUL,
    http::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, FieldError, OptionalJson, Success, envelope::Envelope},
    users::api::ActiveUser,
};

pub const PAGE_SIZE_DEFAULT: u32 = 20;
pub const PAGE_SIZE_MAX: u32 = 100;
pub const PAGE_MAX: u32 = 10_000;
/// The most users an operator may name in one batch.
pub const TARGETS_MAX: usize = 10_000;
/// How far from now an operator's `triggerTime` may lie.
pub const TRIGGER_WINDOW_HOURS: i64 = 36;

pub fn routes() -> crate::http::Routes<MotivatorState> {
    crate::http::Routes::new()
        .route("/api/notifications", get(inbox))
        .route("/api/notifications/{notificationId}/read", post(read))
        .route("/api/notifications/devices", put(register_device).delete(remove_device))
        .route("/api/motivator/notifications/encouragement", post(encouragement))
        .route("/api/motivator/batch/notifications", post(batch))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct InboxQuery {
    /// 1-based page (default 1).
    #[param(minimum = 1, maximum = 10000)]
    pub page: Option<u32>,
    /// Notifications per page (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub size: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Inbox {
    /// Newest first.
    pub notifications: Vec<Notification>,
    pub unread_count: i64,
    pub total_count: i64,
    pub page: u32,
    pub size: u32,
    pub has_more: bool,
}

/// The caller's notifications, newest first, with the unread count.
#[utoipa::path(get, path = "/api/notifications", operation_id = "listNotifications", tag = "motivator", params(InboxQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "알림함", body = inline(Envelope<Inbox>)),
              (status = 403, description = "가입 절차를 마치지 않았습니다 (ONBOARDING_REQUIRED)", body = crate::http::error::ErrorBody),
              (status = 422, description = "page 또는 size 범위를 벗어났습니다", body = crate::http::error::ErrorBody)))]
pub async fn inbox(
    State(state): State<MotivatorState>,
    ActiveUser(user): ActiveUser,
    ApiQuery(q): ApiQuery<InboxQuery>,
) -> ApiResult<Success<Inbox>> {
    let page = q.page.unwrap_or(1);
    let size = q.size.unwrap_or(PAGE_SIZE_DEFAULT);
    let mut errors = Vec::new();
    if !(1..=PAGE_MAX).contains(&page) {
        errors.push(FieldError::new("page", "page는 1 이상 10000 이하입니다."));
    }
    if !(1..=PAGE_SIZE_MAX).contains(&size) {
        errors.push(FieldError::new("size", "size는 1 이상 100 이하입니다."));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let offset = i64::from(page - 1) * i64::from(size);
    let (notifications, total_count, unread_count) = store::inbox(&state.db, user.id, offset, i64::from(size)).await?;
    let has_more = offset + (notifications.len() as i64) < total_count;
    Ok(Success::new(Inbox { notifications, unread_count, total_count, page, size, has_more }))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReadResult {
    pub notification: Notification,
    pub unread_count: i64,
}

/// Marks one of the caller's notifications read (again: no change). Another user's is 404.
#[utoipa::path(post, path = "/api/notifications/{notificationId}/read", operation_id = "markNotificationRead", tag = "motivator",
    params(("notificationId" = Uuid, Path, description = "알림 ID")),
    security(("bearer" = [])),
    responses((status = 200, description = "읽음으로 표시됨", body = inline(Envelope<ReadResult>)),
              (status = 403, description = "가입 절차를 마치지 않았습니다 (ONBOARDING_REQUIRED)", body = crate::http::error::ErrorBody),
              (status = 404, description = "내 알림 중에 없습니다", body = crate::http::error::ErrorBody)))]
pub async fn read(
    State(state): State<MotivatorState>,
    ActiveUser(user): ActiveUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Success<ReadResult>> {
    let Some(notification) = store::mark_read(&state.db, user.id, id).await? else {
        return Err(ApiError::not_found("알림을 찾을 수 없습니다."));
    };
    let unread_count = store::unread_count(&state.db, user.id).await?;
    Ok(Success::new(ReadResult { notification, unread_count }).message("알림을 읽음으로 표시했습니다."))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeviceRequest {
    pub platform: PushPlatform,
    /// The app's push token as FCM or APNs issued it (16–4096 printable ASCII characters).
    #[schema(min_length = 16, max_length = 4096, pattern = "^[\\x21-\\x7E]+$")]
    pub token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeviceRemoval {
    #[schema(min_length = 16, max_length = 4096, pattern = "^[\\x21-\\x7E]+$")]
    pub token: String,
}

fn check_token(token: &str) -> ApiResult<()> {
    let ok = (16..=4096).contains(&token.len()) && token.bytes().all(|b| (0x21..=0x7E).contains(&b));
    if ok { Ok(()) } else { Err(ApiError::field("token", "푸시 토큰 형식이 올바르지 않습니다.")) }
}

/// Registers the app's push token for the caller (a token registered by another account moves
/// to the caller: it names this device). A user keeps `NOTIFICATION_DEVICES_PER_USER` devices (10):
/// one more forgets the device registered or refreshed longest ago.
#[utoipa::path(put, path = "/api/notifications/devices", operation_id = "registerDevice", tag = "motivator", request_body = DeviceRequest,
    security(("bearer" = [])),
    responses((status = 200, description = "등록됨", body = inline(Envelope<store::Device>)),
              (status = 403, description = "가입 절차를 마치지 않았습니다 (ONBOARDING_REQUIRED)", body = crate::http::error::ErrorBody)))]
pub async fn register_device(
    State(state): State<MotivatorState>,
    ActiveUser(user): ActiveUser,
    ApiJson(req): ApiJson<DeviceRequest>,
) -> ApiResult<Success<store::Device>> {
    check_token(&req.token)?;
    let device =
        store::upsert_device(&state.db, user.id, req.platform, &req.token, state.own.devices_per_user).await?;
    Ok(Success::new(device).message("푸시 알림 기기를 등록했습니다."))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Removed {
    pub removed: bool,
}

/// Removes one of the caller's push tokens; a token the caller does not hold is 404.
#[utoipa::path(delete, path = "/api/notifications/devices", operation_id = "removeDevice", tag = "motivator", request_body = DeviceRemoval,
    security(("bearer" = [])),
    responses((status = 200, description = "삭제됨", body = inline(Envelope<Removed>)),
              (status = 403, description = "가입 절차를 마치지 않았습니다 (ONBOARDING_REQUIRED)", body = crate::http::error::ErrorBody),
              (status = 404, description = "등록된 토큰이 아닙니다", body = crate::http::error::ErrorBody)))]
pub async fn remove_device(
    State(state): State<MotivatorState>,
    ActiveUser(user): ActiveUser,
    ApiJson(req): ApiJson<DeviceRemoval>,
) -> ApiResult<Success<Removed>> {
    check_token(&req.token)?;
    if !store::delete_device(&state.db, user.id, &req.token).await? {
        return Err(ApiError::not_found("등록된 푸시 토큰이 아닙니다."));
    }
    Ok(Success::new(Removed { removed: true }).message("푸시 알림 기기를 삭제했습니다."))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MissionState {
    #[schema(min_length = 1, max_length = 64, pattern = "^[a-z0-9]+(-[a-z0-9]+)*$")]
    pub mission_id: String,
    pub completed: bool,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EncouragementRequest {
    /// What the app shows; the server's own progress wins (at most 5, as a goal holds).
    #[schema(max_items = 5)]
    pub missions_status: Option<Vec<MissionState>>,
}

/// When to act on the message.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[schema(as = EncouragementTiming)]
pub enum Timing {
    /// Missions are open and the day has time left.
    Now,
    /// Missions are open and it is late (from 21:00): one small one before bed.
    Tonight,
    /// Everything is done today.
    Tomorrow,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Encouragement {
    pub message: String,
    pub title: String,
    pub motivation_type: MotivationType,
    pub timing: Timing,
    pub personalized_tip: String,
    pub priority: Priority,
    /// Today's missions done / scheduled.
    pub completed_today: u32,
    pub missions_today: u32,
    pub current_streak: i32,
}

/// A message for the caller's real progress now (the server's progress, whatever the app sends).
/// Without an open goal: 409 `NO_ACTIVE_GOAL`.
#[utoipa::path(post, path = "/api/motivator/notifications/encouragement", operation_id = "getEncouragement", tag = "motivator",
    request_body(content = Option<EncouragementRequest>, description = "선택 (없어도 됩니다)", content_type = "application/json"),
    security(("bearer" = [])),
    responses((status = 200, description = "응원 메시지", body = inline(Envelope<Encouragement>)),
              (status = 403, description = "가입 절차를 마치지 않았습니다 (ONBOARDING_REQUIRED)", body = crate::http::error::ErrorBody),
              (status = 409, description = "진행 중인 목표가 없습니다 (NO_ACTIVE_GOAL)", body = crate::http::error::ErrorBody)))]
pub async fn encouragement(
    State(state): State<MotivatorState>,
    ActiveUser(user): ActiveUser,
    OptionalJson(req): OptionalJson<EncouragementRequest>,
) -> ApiResult<Success<Encouragement>> {
    if let Some(req) = req {
        let statuses = req.missions_status.as_deref().unwrap_or_default();
        if statuses.len() > 5 {
            return Err(ApiError::field("missionsStatus", "미션 상태는 5개까지 보낼 수 있습니다."));
        }
        let bad: Vec<FieldError> = statuses
            .iter()
            .enumerate()
            .filter(|(_, s)| MissionId::parse(&s.mission_id).is_none())
            .map(|(i, _)| FieldError::new(format!("missionsStatus[{i}].missionId"), "형식이 올바르지 않은 미션 ID입니다."))
            .collect();
        if !bad.is_empty() {
            return Err(ApiError::Validation(bad));
        }
    }
    let now = state.clock.now();
    let p = goals::progress_at(&state.db, user.id, now).await?;
    if p.goal_id.is_none() || p.missions_today == 0 {
        return Err(ApiError::Conflict {
            code: "NO_ACTIVE_GOAL",
            message: "진행 중인 목표가 없습니다. 먼저 미션을 골라 주세요.".into(),
        });
    }
    let hour = now.with_timezone(&SEOUL).hour();
    let standing = Standing::of(&p);
    let segment = rules::segment(&standing, hour);
    let w = wording::segment_wording(&state.platform, p.today, &segment).await;
    let timing = if p.open_missions.is_empty() {
        Timing::Tomorrow
    } else if hour >= rules::QUIET_FROM_HOUR {
        Timing::Tonight
    } else {
        Timing::Now
    };
    Ok(Success::new(Encouragement {
        message: w.body,
        title: w.title,
        motivation_type: segment.motivation,
        timing,
        personalized_tip: wording::tip(p.open_missions.first().map(|m| m.title.as_str())),
        priority: segment.urgency,
        completed_today: p.completed_today,
        missions_today: p.missions_today,
        current_streak: p.current_streak,
    }))
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NotificationType {
    /// The daily nudge (the only batch there is).
    DailyNudge,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchRequest {
    /// The run's instant (RFC 3339): its Seoul day and the quiet-hours check. Default: now. At
    /// most 36 hours from now.
    #[schema(format = DateTime)]
    pub trigger_time: Option<DateTime<Utc>>,
    /// Only these users (each still needs an open goal); empty or absent: everyone.
    #[schema(max_items = 10000)]
    pub target_users: Option<Vec<Uuid>>,
    pub notification_type: Option<NotificationType>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BatchStatus {
    /// The run's first step is on the bus; its slices fill in the figures as they go.
    Started,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchStarted {
    pub batch_id: Uuid,
    pub status: BatchStatus,
    /// Users processed, notifications written, and users not reached so far: 0 when the run
    /// starts (the slices work asynchronously).
    pub processed_count: i64,
    pub success_count: i64,
    pub failed_count: i64,
    pub trigger_time: DateTime<Utc>,
    /// The daily timer's next run.
    pub next_scheduled_time: Option<DateTime<Utc>>,
}

/// Operators: starts the same fan-out as the daily timer, for everyone or the given users. Behind
/// the host's function key (authLevel `function`), never a user token.
#[utoipa::path(post, path = "/api/motivator/batch/notifications", operation_id = "runNotificationBatch", tag = "motivator",
    request_body(content = Option<BatchRequest>, description = "선택 (없어도 됩니다)", content_type = "application/json"),
    security(("functionKey" = [])),
    responses((status = 202, description = "시작됨", body = inline(Envelope<BatchStarted>)),
              (status = 401, description = "함수 키가 없거나 틀렸습니다 (호스트가 답합니다)", body = crate::http::error::ErrorBody),
              (status = 422, description = "triggerTime 이 지금에서 36시간 넘게 떨어져 있습니다", body = crate::http::error::ErrorBody)))]
pub async fn batch(
    State(state): State<MotivatorState>,
    OptionalJson(req): OptionalJson<BatchRequest>,
) -> ApiResult<Success<BatchStarted>> {
    let req = req.unwrap_or_default();
    let now = state.clock.now();
    let trigger_time = req.trigger_time.unwrap_or(now);
    if (trigger_time - now).abs() > Duration::hours(TRIGGER_WINDOW_HOURS) {
        return Err(ApiError::field("triggerTime", "triggerTime 은 지금에서 36시간 안이어야 합니다."));
    }
    let targets = req.target_users.filter(|t| !t.is_empty()).map(|mut t| {
        t.sort();
        t.dedup();
        t
    });
    if targets.as_ref().is_some_and(|t| t.len() > TARGETS_MAX) {
        return Err(ApiError::field("targetUsers", "한 번에 10000명까지 지정할 수 있습니다."));
    }
    let batch_id = nudges::start_run(&state, trigger_time, nudges::Trigger::Operator, targets.as_deref()).await?;
    Ok(Success(
        StatusCode::ACCEPTED,
        "알림 배치를 시작했습니다.",
        BatchStarted {
            batch_id,
            status: BatchStatus::Started,
            processed_count: 0,
            success_count: 0,
            failed_count: 0,
            trigger_time,
            next_scheduled_time: state.own.next_daily_run(now),
        },
    ))
}
