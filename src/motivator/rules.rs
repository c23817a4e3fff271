//! The motivator's rules, pure: who gets a daily nudge, and which segment (motivation type ×
//! urgency × streak band) picks its wording. Every input is the user's real progress
//! (`goals::api::Progress`); the rules are written down in docs/motivator.md.

use chrono::{DateTime, NaiveDate, Timelike, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{goals::api::Progress, platform::time::SEOUL};

/// Promotional quiet hours (정보통신망법 §50): from 21:00 to 08:00 Asia/Seoul.
pub const QUIET_FROM_HOUR: u32 = 21;
pub const QUIET_UNTIL_HOUR: u32 = 8;
/// Full days without a completion after which a user is dormant and gets a come-back message
/// instead of a nudge.
pub const DORMANT_AFTER_DAYS: i64 = 3;
/// A dormant user hears from us again after this many days (never daily).
pub const COMEBACK_EVERY_DAYS: i64 = 7;
/// From this hour (Seoul) open missions count towards urgency: the day is ending.
pub const EVENING_HOUR: u32 = 18;

/// Whether `at` lies in the quiet hours.
pub fn is_quiet(at: DateTime<Utc>) -> bool {
    let hour = at.with_timezone(&SEOUL).hour();
    !(QUIET_UNTIL_HOUR..QUIET_FROM_HOUR).contains(&hour)
}

// Also a notification's `motivation_type` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, sqlx::Encode, sqlx::Decode)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[sqlx(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MotivationType {
    Achievement,
    HabitFormation,
    Social,
    HealthBenefit,
}
crate::platform::db::text_enum!(MotivationType);

impl MotivationType {
    pub const ALL: [MotivationType; 4] =
        [Self::Achievement, Self::HabitFormation, Self::Social, Self::HealthBenefit];
}

/// Urgency, shown to the app as `priority`.
// Also a notification's `priority` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, sqlx::Encode, sqlx::Decode)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[sqlx(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Priority {
    High,
    Medium,
    Low,
}
crate::platform::db::text_enum!(Priority);

impl Priority {
    pub const ALL: [Priority; 3] = [Self::High, Self::Medium, Self::Low];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StreakBand {
    /// No current streak.
    None,
    /// 1–2 days.
    Starting,
    /// 3–6 days.
    Building,
    /// 7 days or more.
    Strong,
}

impl StreakBand {
    pub const ALL: [StreakBand; 4] = [Self::None, Self::Starting, Self::Building, Self::Strong];

    pub fn of(streak: i32) -> Self {
        match streak {
            i32::MIN..=0 => Self::None,
            1..=2 => Self::Starting,
            3..=6 => Self::Building,
            _ => Self::Strong,
        }
    }
}

/// The name serde gives a unit variant (`HABIT_FORMATION`): what the app reads, the segment key
/// and the wording brief say.
pub fn name(variant: impl Serialize) -> String {
    match serde_json::to_value(variant) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// How recently the user did anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Engagement {
    /// A completion today or yesterday (or a new goal with nothing done yet).
    Active,
    /// The last completion was 2–3 days ago.
    Slipping,
    /// No completion on the last 3 full days.
    Dormant,
}

/// The wording key of a nudge: every user of a segment gets the same text that day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Segment {
    pub motivation: MotivationType,
    pub urgency: Priority,
    pub streak: StreakBand,
}

impl Segment {
    /// `ACHIEVEMENT.HIGH.BUILDING`
    pub fn key(&self) -> String {
        format!("{}.{}.{}", name(self.motivation), name(self.urgency), name(self.streak))
    }

    /// Every segment (4 × 3 × 4).
    pub fn all() -> impl Iterator<Item = Segment> {
        MotivationType::ALL.into_iter().flat_map(|motivation| {
            Priority::ALL.into_iter().flat_map(move |urgency| {
                StreakBand::ALL.into_iter().map(move |streak| Segment { motivation, urgency, streak })
            })
        })
    }
}

/// Today's and the week's completion rates (0–1) and the counts the rules read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Standing {
    pub today: f64,
    pub weekly: f64,
    pub open: u32,
    pub streak: i32,
}

impl Standing {
    pub fn of(p: &Progress) -> Self {
        Standing {
            today: p.today_rate(),
            weekly: p.seven_day_rate.unwrap_or(0.0) / 100.0,
            open: p.open_missions.len() as u32,
            streak: p.current_streak,
        }
    }
}

/// The motivation type (first match wins). The contract's rules read one "rate"; here today's
/// rate and the week's are both real: a strong day or a strong week with a streak is an
/// achievement, half of either is a habit forming, a decent week whose streak broke gets the
/// social nudge (others keep going), anything else the health benefit.
pub fn motivation(s: &Standing) -> MotivationType {
    if s.today >= 0.8 || (s.weekly >= 0.8 && s.streak >= 3) {
        MotivationType::Achievement
    } else if s.today >= 0.5 || s.weekly >= 0.5 {
        MotivationType::HabitFormation
    } else if s.weekly >= 0.3 && s.streak == 0 {
        MotivationType::Social
    } else {
        MotivationType::HealthBenefit
    }
}

/// Urgency. The contract's thresholds on the better of today's and the week's rate (HIGH < 0.3,
/// MEDIUM < 0.6); open missions count only from the evening (in the morning every mission is
/// open, which says nothing): HIGH with 3 or more open or a streak of 3+ at stake, MEDIUM with 2.
pub fn urgency(s: &Standing, hour: u32) -> Priority {
    let rate = s.today.max(s.weekly);
    let evening = hour >= EVENING_HOUR;
    if rate < 0.3 || (evening && (s.open >= 3 || (s.streak >= 3 && s.open > 0))) {
        Priority::High
    } else if rate < 0.6 || (evening && s.open >= 2) {
        Priority::Medium
    } else {
        Priority::Low
    }
}

pub fn segment(s: &Standing, hour: u32) -> Segment {
    Segment { motivation: motivation(s), urgency: urgency(s, hour), streak: StreakBand::of(s.streak) }
}

/// Full Seoul days between the last completion and `today` (0: today).
pub fn days_since_activity(p: &Progress) -> Option<i64> {
    p.last_activity.map(|at| (p.today - at.with_timezone(&SEOUL).date_naive()).num_days())
}

pub fn engagement(p: &Progress) -> Engagement {
    match days_since_activity(p) {
        // A goal with nothing done yet: still new, nudged like an active one.
        None | Some(..=1) => Engagement::Active,
        Some(d) if d <= DORMANT_AFTER_DAYS => Engagement::Slipping,
        Some(_) => Engagement::Dormant,
    }
}

/// Why a user got no daily message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Skip {
    /// No open goal (or no mission scheduled today).
    NoGoal,
    /// Every mission of today is done already.
    DoneToday,
    /// Quiet hours, and no night-time consent.
    QuietHours,
    /// Dormant, and the last come-back message was recent.
    Resting,
}

/// What the daily run does for one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Skip(Skip),
    Nudge(Segment),
    /// Dormant: a gentle come-back message (the first run after 3 full days without a
    /// completion, then weekly).
    Comeback,
}

/// Decides for one user at `at` (`night_consent`: asked only in quiet hours).
pub fn decide(p: &Progress, at: DateTime<Utc>, quiet: bool, night_consent: bool) -> Decision {
    if p.goal_id.is_none() || p.missions_today == 0 {
        return Decision::Skip(Skip::NoGoal);
    }
    if p.completed_today >= p.missions_today {
        return Decision::Skip(Skip::DoneToday);
    }
    if quiet && !night_consent {
        return Decision::Skip(Skip::QuietHours);
    }
    if engagement(p) == Engagement::Dormant {
        let since = days_since_activity(p).unwrap_or_default();
        return if (since - DORMANT_AFTER_DAYS - 1) % COMEBACK_EVERY_DAYS == 0 {
            Decision::Comeback
        } else {
            Decision::Skip(Skip::Resting)
        };
    }
    Decision::Nudge(segment(&Standing::of(p), at.with_timezone(&SEOUL).hour()))
}

/// The last day of the free confirmatory visit for a checkup taken on `date` (DOMAIN.md §1):
/// 31 January of the following year.
pub fn confirmatory_deadline(date: NaiveDate) -> Option<NaiveDate> {
    use chrono::Datelike;
    NaiveDate::from_ymd_opt(date.year() + 1, 1, 31)
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;
    use crate::goals::api::{Category, MissionId, OpenMission};

    fn progress(today_done: u32, missions: u32, weekly: Option<f64>, streak: i32, last_days_ago: Option<i64>) -> Progress {
        let today = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let noon = SEOUL.from_local_datetime(&today.and_hms_opt(12, 0, 0).unwrap()).unwrap().with_timezone(&Utc);
        Progress {
            today,
            goal_id: (missions > 0).then(uuid::Uuid::new_v4),
            missions_today: missions,
            completed_today: today_done,
            open_missions: (0..missions - today_done.min(missions))
                .map(|i| OpenMission {
                    id: MissionId::parse(&format!("m-{i}")).unwrap(),
                    title: "t".into(),
                    category: Category::Exercise,
                })
                .collect(),
            seven_day_rate: weekly,
            current_streak: streak,
            best_streak: streak,
            last_activity: last_days_ago.map(|d| noon - Duration::days(d)),
        }
    }

    fn at(hour: u32) -> DateTime<Utc> {
        SEOUL.with_ymd_and_hms(2026, 12, 1, hour, 0, 0).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_segments_key_names_its_parts_as_the_app_reads_them() {
        let s = Segment { motivation: MotivationType::HabitFormation, urgency: Priority::High, streak: StreakBand::None };
        assert_eq!(s.key(), "HABIT_FORMATION.HIGH.NONE");
        assert_eq!(Segment::all().map(|s| s.key()).collect::<std::collections::HashSet<_>>().len(), 48);
    }

    #[test]
    fn quiet_hours_are_21_to_8_seoul() {
        assert!(is_quiet(at(21)) && is_quiet(at(23)) && is_quiet(at(0)) && is_quiet(at(7)));
        assert!(!is_quiet(at(8)) && !is_quiet(at(9)) && !is_quiet(at(20)));
        // 00:00 UTC, the daily timer, is 09:00 in Seoul.
        assert!(!is_quiet(Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap()));
    }

    #[test]
    fn motivation_follows_real_rates_first_match_wins() {
        let s = |today, weekly, streak| Standing { today, weekly, open: 1, streak };
        assert_eq!(motivation(&s(0.8, 0.0, 0)), MotivationType::Achievement);
        assert_eq!(motivation(&s(0.0, 0.85, 3)), MotivationType::Achievement);
        assert_eq!(motivation(&s(0.0, 0.85, 0)), MotivationType::HabitFormation);
        assert_eq!(motivation(&s(0.5, 0.0, 0)), MotivationType::HabitFormation);
        assert_eq!(motivation(&s(0.0, 0.4, 0)), MotivationType::Social);
        assert_eq!(motivation(&s(0.0, 0.4, 1)), MotivationType::HealthBenefit);
        assert_eq!(motivation(&s(0.0, 0.1, 0)), MotivationType::HealthBenefit);
    }

    #[test]
    fn urgency_counts_open_missions_only_in_the_evening() {
        let s = |weekly, open, streak| Standing { today: 0.0, weekly, open, streak };
        assert_eq!(urgency(&s(0.2, 1, 0), 9), Priority::High);
        assert_eq!(urgency(&s(0.7, 3, 0), 9), Priority::Low);
        assert_eq!(urgency(&s(0.7, 3, 0), 19), Priority::High);
        assert_eq!(urgency(&s(0.7, 1, 4), 19), Priority::High);
        assert_eq!(urgency(&s(0.7, 2, 0), 19), Priority::Medium);
        assert_eq!(urgency(&s(0.5, 1, 0), 9), Priority::Medium);
    }

    #[test]
    fn streak_bands() {
        assert_eq!([0, 1, 2, 3, 6, 7, 40].map(StreakBand::of), [
            StreakBand::None,
            StreakBand::Starting,
            StreakBand::Starting,
            StreakBand::Building,
            StreakBand::Building,
            StreakBand::Strong,
            StreakBand::Strong
        ]);
        assert_eq!(Segment::all().count(), 48);
    }

    #[test]
    fn decisions() {
        let day = at(9);
        assert_eq!(decide(&progress(0, 0, None, 0, None), day, false, false), Decision::Skip(Skip::NoGoal));
        assert_eq!(decide(&progress(3, 3, Some(100.0), 5, Some(0)), day, false, false), Decision::Skip(Skip::DoneToday));
        assert_eq!(decide(&progress(0, 3, Some(50.0), 2, Some(1)), at(22), true, false), Decision::Skip(Skip::QuietHours));
        assert!(matches!(decide(&progress(0, 3, Some(50.0), 2, Some(1)), at(22), true, true), Decision::Nudge(_)));
        // Dormant: the first run after 3 full days without a completion, then weekly.
        assert_eq!(decide(&progress(0, 3, Some(0.0), 0, Some(4)), day, false, false), Decision::Comeback);
        assert_eq!(decide(&progress(0, 3, Some(0.0), 0, Some(5)), day, false, false), Decision::Skip(Skip::Resting));
        assert_eq!(decide(&progress(0, 3, Some(0.0), 0, Some(11)), day, false, false), Decision::Comeback);
        assert!(matches!(decide(&progress(0, 3, Some(0.0), 0, Some(3)), day, false, false), Decision::Nudge(_)));
        assert!(matches!(decide(&progress(0, 3, None, 0, None), day, false, false), Decision::Nudge(_)));
    }

    #[test]
    fn the_confirmatory_visit_runs_to_31_january_of_the_next_year() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        assert_eq!(confirmatory_deadline(d(2026, 3, 5)), Some(d(2027, 1, 31)));
        assert_eq!(confirmatory_deadline(d(2026, 12, 31)), Some(d(2027, 1, 31)));
    }
}
