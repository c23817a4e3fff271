//! The rules of daily missions: streaks, points and streak milestones. Pure functions over dates,
//! so the store and the statistics share them and tests check them directly.
//!
//! A streak is a run of consecutive Seoul days with a completion; a day without one breaks it.
//! The current streak is the run that ends today, or yesterday while today is still open (the
//! day is not missed until it is over).

use chrono::{Days, NaiveDate};

/// Points for one completion (MOBILE-CONTRACT.md): 10, plus 10 from a 3-day streak, or plus 20
/// instead from a 7-day streak.
pub fn points(streak_days: i32) -> i32 {
    match streak_days {
        s if s >= 7 => 30,
        s if s >= 3 => 20,
        _ => 10,
    }
}

/// Consecutive days that earn an achievement (`goal.achieved`), once per goal and mission.
pub const MILESTONES: [i32; 4] = [3, 7, 21, 30];

/// The milestone a streak reaches on the day it becomes `streak_days` long, if any.
pub fn milestone(streak_days: i32) -> Option<i32> {
    MILESTONES.contains(&streak_days).then_some(streak_days)
}

/// Points by streak length, 1 to 7 days and more (the last entry holds for every longer streak):
/// the table the store hands the database, which computes a completion's streak (the day
/// before's, plus one) in the statement that records it.
pub fn points_by_streak() -> Vec<i32> {
    (1..=7).map(points).collect()
}

/// A run of consecutive days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    pub first: NaiveDate,
    pub last: NaiveDate,
    pub days: i32,
}

/// The runs of consecutive days among `days` (any order, duplicates allowed), oldest first.
pub fn runs(days: impl IntoIterator<Item = NaiveDate>) -> Vec<Run> {
    let mut days: Vec<NaiveDate> = days.into_iter().collect();
    days.sort_unstable();
    days.dedup();
    let mut out: Vec<Run> = Vec::new();
    for day in days {
        match out.last_mut() {
            Some(run) if run.last.checked_add_days(Days::new(1)) == Some(day) => {
                run.last = day;
                run.days += 1;
            }
            _ => out.push(Run { first: day, last: day, days: 1 }),
        }
    }
    out
}

/// The longest run among `days` (0 without any).
pub fn best(days: impl IntoIterator<Item = NaiveDate>) -> i32 {
    runs(days).iter().map(|r| r.days).max().unwrap_or(0)
}

/// The run still alive on `today`: ending today, or yesterday (0 otherwise).
pub fn current(days: impl IntoIterator<Item = NaiveDate>, today: NaiveDate) -> i32 {
    let yesterday = today.pred_opt().unwrap_or(today);
    runs(days.into_iter().filter(|d| *d <= today))
        .last()
        .filter(|r| r.last == today || r.last == yesterday)
        .map_or(0, |r| r.days)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn points_follow_the_contract() {
        assert_eq!([1, 2, 3, 6, 7, 30].map(points), [10, 10, 20, 20, 30, 30]);
    }

    #[test]
    fn milestones_are_reached_exactly_once_per_run() {
        let hits: Vec<i32> = (1..=40).filter_map(milestone).collect();
        assert_eq!(hits, vec![3, 7, 21, 30]);
        assert_eq!(points_by_streak(), [10, 10, 20, 20, 20, 20, 30]);
        assert_eq!(points(40), *points_by_streak().last().unwrap(), "the table's last entry holds beyond it");
    }

    #[test]
    fn a_missed_day_breaks_a_streak() {
        let days = ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-05", "2026-03-06"].map(d);
        let r = runs(days);
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].first, r[0].days), (d("2026-03-01"), 3));
        assert_eq!((r[1].first, r[1].last, r[1].days), (d("2026-03-05"), d("2026-03-06"), 2));
        assert_eq!(best(days), 3);
        assert_eq!(current(days, d("2026-03-06")), 2, "ending today");
        assert_eq!(current(days, d("2026-03-07")), 2, "today still open");
        assert_eq!(current(days, d("2026-03-08")), 0, "yesterday was missed");
        assert_eq!(current(days, d("2026-03-03")), 3, "later days do not count");
        assert_eq!(best([]), 0);
    }

    #[test]
    fn runs_cross_month_and_year_ends_and_ignore_duplicates() {
        let days = ["2026-12-31", "2027-01-01", "2026-12-30", "2027-01-01"].map(d);
        assert_eq!(best(days), 3);
        let leap = ["2028-02-28", "2028-02-29", "2028-03-01"].map(d);
        assert_eq!(best(leap), 3);
    }
}
