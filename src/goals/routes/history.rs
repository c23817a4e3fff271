//! `GET /api/goals/missions/history`: rates, streaks, per-mission figures, chart series and
//! insights over a period of Seoul dates.

use std::collections::{BTreeSet, HashMap};

use axum::extract::State;
use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{check_known, parse_ids};
use crate::{
    goals::{
        GoalsState,
        insights::insights,
        model::{Category, Mission, MissionId},
        stats::{self, Tally},
        store,
    },
    http::{ApiError, ApiQuery, ApiResult, FieldError, Success, envelope::Envelope},
    users::api::ActiveUser,
};

/// The longest period, in days (a leap year).
pub const MAX_DAYS: i64 = 366;
/// The period when none is given: the last 30 days.
pub const DEFAULT_DAYS: u64 = 30;
/// The most mission ids a filter may name.
pub const MAX_FILTER: usize = 30;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// First day (YYYY-MM-DD, Asia/Seoul). Default: 29 days before the end.
    #[param(format = Date)]
    pub start_date: Option<String>,
    /// Last day (YYYY-MM-DD). Default: today. Days after today are not counted. At most 366 days
    /// after the start.
    #[param(format = Date)]
    pub end_date: Option<String>,
    /// Comma-separated mission ids to count (default: all).
    pub mission_ids: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MissionStat {
    pub mission_id: String,
    pub title: String,
    pub category: Option<Category>,
    /// completedDays / totalDays, 0–100.
    pub achievement_rate: f64,
    pub completed_days: u32,
    /// Days the mission belonged to the goal in force, within the period, up to today.
    pub total_days: u32,
    pub best_streak: i32,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = GoalsSeriesPoint)]
pub struct SeriesPoint {
    /// The day (daily) or the Monday of the week (weekly).
    pub date: NaiveDate,
    pub completed: u32,
    pub scheduled: u32,
    /// Null when nothing was scheduled.
    pub rate: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = GoalsCategoryPoint)]
pub struct CategoryPoint {
    pub category: Category,
    pub label: &'static str,
    pub completed: u32,
    pub scheduled: u32,
    pub rate: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = GoalsChartData)]
pub struct ChartData {
    /// `line`.
    pub chart_type: &'static str,
    pub title: &'static str,
    pub daily: Vec<SeriesPoint>,
    pub weekly: Vec<SeriesPoint>,
    pub by_category: Vec<CategoryPoint>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = HistoryPeriod)]
pub struct Period {
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    /// The last day counted (the end, or today if that comes first); null when the period has not
    /// begun yet.
    pub counted_until: Option<NaiveDate>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct History {
    /// Since the first goal, up to today, 0–100.
    pub total_achievement_rate: f64,
    /// Within the period, 0–100.
    pub period_achievement_rate: f64,
    /// The longest run of days with a completion within the period.
    pub best_streak: i32,
    pub best_streak_all_time: i32,
    pub current_streak: i32,
    pub completed_mission_days: u32,
    pub scheduled_mission_days: u32,
    pub mission_stats: Vec<MissionStat>,
    pub chart_data: ChartData,
    pub period: Period,
    pub insights: Vec<String>,
}

fn point(date: NaiveDate, t: Tally) -> SeriesPoint {
    SeriesPoint { date, completed: t.completed, scheduled: t.scheduled, rate: t.rate() }
}

fn parse_date(field: &str, raw: Option<&str>, errors: &mut Vec<FieldError>) -> Option<Option<NaiveDate>> {
    match raw.map(|r| NaiveDate::parse_from_str(r.trim(), "%Y-%m-%d")) {
        None => Some(None),
        Some(Ok(d)) => Some(Some(d)),
        Some(Err(_)) => {
            errors.push(FieldError::new(field, "YYYY-MM-DD 형식의 날짜로 보내 주세요."));
            None
        }
    }
}

/// The caller's record over a period: achievement rates (period and overall), streaks,
/// per-mission figures, chart series and insights, all computed from their goals and completions.
#[utoipa::path(get, path = "/api/goals/missions/history", operation_id = "getMissionHistory", tag = "goals", params(HistoryQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "기록과 통계", body = inline(Envelope<History>)),
              (status = 422, description = "날짜 형식이 틀렸거나, 시작일이 종료일보다 늦거나, 기간이 1년을 넘거나, 모르는 미션 ID",
               body = crate::http::error::ErrorBody)))]
pub async fn mission_history(
    State(state): State<GoalsState>,
    ActiveUser(user): ActiveUser,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> ApiResult<Success<History>> {
    let today = state.clock.today();
    let mut errors = Vec::new();
    let start = parse_date("startDate", q.start_date.as_deref(), &mut errors);
    let end = parse_date("endDate", q.end_date.as_deref(), &mut errors);
    let raw: Vec<String> = q
        .mission_ids
        .as_deref()
        .map(|s| s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect())
        .unwrap_or_default();
    let mut filter_ids = Vec::new();
    if raw.len() > MAX_FILTER {
        errors.push(FieldError::new("missionIds", "미션 ID는 30개까지 보낼 수 있습니다."));
    } else {
        filter_ids = parse_ids("missionIds", &raw, &mut errors);
    }
    let (Some(start), Some(end)) = (start, end) else { return Err(ApiError::Validation(errors)) };
    let end = end.unwrap_or(today);
    let start = start.unwrap_or_else(|| end.checked_sub_days(Days::new(DEFAULT_DAYS - 1)).unwrap_or(end));
    if start > end {
        errors.push(FieldError::new("startDate", "시작일은 종료일보다 늦을 수 없습니다."));
    } else if (end - start).num_days() + 1 > MAX_DAYS {
        errors.push(FieldError::new("endDate", "조회 기간은 최대 1년(366일)입니다."));
    }
    let missions: HashMap<MissionId, Mission> =
        store::all_missions(&state.db).await?.into_iter().map(|m| (m.id.clone(), m)).collect();
    let known: Vec<Mission> = filter_ids.iter().filter_map(|id| missions.get(id).cloned()).collect();
    check_known("missionIds", &raw, &filter_ids, &known, true, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let filter: Option<BTreeSet<MissionId>> = (!filter_ids.is_empty()).then(|| filter_ids.into_iter().collect());
    let record = store::record(&state.db, user.id).await?;
    let f = stats::figures(&record, start, end, today, filter.as_ref(), |m| missions.get(m).map(|m| m.category));
    let title = |m: &MissionId| missions.get(m).map_or_else(|| m.to_string(), |m| m.title.clone());
    let lines = insights(&f, title);
    let mut mission_stats: Vec<MissionStat> = f
        .missions
        .iter()
        .map(|m| MissionStat {
            mission_id: m.mission.to_string(),
            title: title(&m.mission),
            category: missions.get(&m.mission).map(|x| x.category),
            achievement_rate: m.tally.rate_or_zero(),
            completed_days: m.tally.completed,
            total_days: m.tally.scheduled,
            best_streak: m.best_streak,
        })
        .collect();
    mission_stats.sort_by_key(|s| missions.get(s.mission_id.as_str()).map_or(i32::MAX, |m| m.sort_order));
    let chart_data = ChartData {
        chart_type: "line",
        title: "날짜별 미션 달성률",
        daily: f.days.iter().map(|p| point(p.date, p.tally)).collect(),
        weekly: f.weeks.iter().map(|p| point(p.date, p.tally)).collect(),
        by_category: f
            .categories
            .iter()
            .map(|(c, t)| CategoryPoint {
                category: *c,
                label: c.label(),
                completed: t.completed,
                scheduled: t.scheduled,
                rate: t.rate(),
            })
            .collect(),
    };
    Ok(Success::new(History {
        total_achievement_rate: f.all_time.rate_or_zero(),
        period_achievement_rate: f.period.rate_or_zero(),
        best_streak: f.best_streak,
        best_streak_all_time: f.best_streak_all_time,
        current_streak: f.current_streak,
        completed_mission_days: f.period.completed,
        scheduled_mission_days: f.period.scheduled,
        mission_stats,
        chart_data,
        period: Period { start_date: start, end_date: end, counted_until: (f.to >= start).then_some(f.to) },
        insights: lines,
    }))
}
