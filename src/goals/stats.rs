//! Statistics of a user's missions over a period, computed from their goals and completions: what
//! was scheduled (the missions of the goal in force each day), what was done, rates, streaks,
//! chart series and the insights drawn from them. Pure: the history route and the progress API
//! load the data and call these.
//!
//! A mission-day counts in a rate when the mission belonged to the goal in force that day; days
//! after today are never counted. Streaks count every completion (see `rules`).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{Datelike, Days, NaiveDate};

use super::{
    model::{Category, MissionId},
    rules,
};

/// A goal as statistics see it: its missions, in force on [start, end).
#[derive(Debug, Clone)]
pub struct GoalSpan {
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
    pub missions: Vec<MissionId>,
}

/// Everything statistics need about one user.
#[derive(Debug, Clone, Default)]
pub struct Record {
    pub goals: Vec<GoalSpan>,
    /// (mission, Seoul day) of every completion.
    pub done: Vec<(MissionId, NaiveDate)>,
}

/// Scheduled and completed mission-days.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub scheduled: u32,
    pub completed: u32,
}

impl Tally {
    fn add(&mut self, completed: bool) {
        self.scheduled += 1;
        self.completed += u32::from(completed);
    }

    /// Percent with one decimal; `None` when nothing was scheduled.
    pub fn rate(self) -> Option<f64> {
        (self.scheduled > 0).then(|| percent(self.completed, self.scheduled))
    }

    /// The rate, 0 when nothing was scheduled.
    pub fn rate_or_zero(self) -> f64 {
        self.rate().unwrap_or(0.0)
    }
}

pub fn percent(part: u32, whole: u32) -> f64 {
    if whole == 0 { 0.0 } else { (f64::from(part) * 1000.0 / f64::from(whole)).round() / 10.0 }
}

/// Which missions to count (`None`: all).
pub type Filter<'a> = Option<&'a BTreeSet<MissionId>>;

fn selected(filter: Filter<'_>, id: &MissionId) -> bool {
    filter.is_none_or(|f| f.contains(id))
}

fn add_days(d: NaiveDate, n: u64) -> NaiveDate {
    d.checked_add_days(Days::new(n)).unwrap_or(d)
}

fn sub_days(d: NaiveDate, n: u64) -> NaiveDate {
    d.checked_sub_days(Days::new(n)).unwrap_or(d)
}

/// Every mission-day scheduled in [from, to] (selected missions only), oldest first, with
/// whether it was completed.
pub fn mission_days<'r>(
    record: &'r Record,
    from: NaiveDate,
    to: NaiveDate,
    filter: Filter<'_>,
) -> Vec<(NaiveDate, &'r MissionId, bool)> {
    let done: HashSet<(&MissionId, NaiveDate)> = record.done.iter().map(|(m, d)| (m, *d)).collect();
    let mut out = Vec::new();
    for goal in &record.goals {
        let first = goal.start.max(from);
        let last = goal.end.map_or(to, |end| to.min(sub_days(end, 1)));
        let mut day = first;
        while day <= last {
            for m in goal.missions.iter().filter(|m| selected(filter, m)) {
                out.push((day, m, done.contains(&(m, day))));
            }
            day = add_days(day, 1);
        }
    }
    out.sort_by_key(|(day, ..)| *day);
    out
}

/// The tally of mission-days in [from, to].
pub fn tally(record: &Record, from: NaiveDate, to: NaiveDate, filter: Filter<'_>) -> Tally {
    let mut t = Tally::default();
    for (.., completed) in mission_days(record, from, to, filter) {
        t.add(completed);
    }
    t
}

/// The first day anything was scheduled.
pub fn first_day(record: &Record) -> Option<NaiveDate> {
    record.goals.iter().map(|g| g.start).min()
}

/// Days with a completion of a selected mission in [from, to].
pub fn active_days(record: &Record, from: NaiveDate, to: NaiveDate, filter: Filter<'_>) -> Vec<NaiveDate> {
    record.done.iter().filter(|(m, d)| *d >= from && *d <= to && selected(filter, m)).map(|(_, d)| *d).collect()
}

/// One mission's figures over a period.
#[derive(Debug, Clone, PartialEq)]
pub struct MissionFigures {
    pub mission: MissionId,
    pub tally: Tally,
    pub best_streak: i32,
}

/// One day of the chart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DayPoint {
    pub date: NaiveDate,
    pub tally: Tally,
}

/// A user's figures over [from, to] (to no later than today).
#[derive(Debug, Clone, PartialEq)]
pub struct Figures {
    pub from: NaiveDate,
    /// The last day counted: the period's end, or today if that comes first.
    pub to: NaiveDate,
    pub period: Tally,
    /// Since the first goal, up to today.
    pub all_time: Tally,
    pub best_streak: i32,
    pub best_streak_all_time: i32,
    pub current_streak: i32,
    pub missions: Vec<MissionFigures>,
    pub days: Vec<DayPoint>,
    /// Mondays and the tally of their week (days inside the period only).
    pub weeks: Vec<DayPoint>,
    pub categories: BTreeMap<Category, Tally>,
    /// The 7 days ending at `to`, and the 7 before them (regardless of the period's start).
    pub last_7: Tally,
    pub previous_7: Tally,
}

/// Computes the figures over [from, to]; `category` says which category a mission belongs to.
pub fn figures(
    record: &Record,
    from: NaiveDate,
    to: NaiveDate,
    today: NaiveDate,
    filter: Filter<'_>,
    category: impl Fn(&MissionId) -> Option<Category>,
) -> Figures {
    let to = to.min(today);
    let mission_days = if from <= to { mission_days(record, from, to, filter) } else { Vec::new() };
    let mut period = Tally::default();
    let mut per_day: BTreeMap<NaiveDate, Tally> = BTreeMap::new();
    let mut per_mission: BTreeMap<&MissionId, Tally> = BTreeMap::new();
    let mut categories: BTreeMap<Category, Tally> = BTreeMap::new();
    for (day, mission, completed) in &mission_days {
        period.add(*completed);
        per_day.entry(*day).or_default().add(*completed);
        per_mission.entry(mission).or_default().add(*completed);
        if let Some(c) = category(mission) {
            categories.entry(c).or_default().add(*completed);
        }
    }
    // Missions asked for by name appear even if they were never scheduled.
    for m in filter.into_iter().flatten() {
        per_mission.entry(m).or_default();
    }
    let mut days = Vec::new();
    let mut day = from;
    while day <= to {
        days.push(DayPoint { date: day, tally: per_day.get(&day).copied().unwrap_or_default() });
        day = add_days(day, 1);
    }
    let mut weeks: Vec<DayPoint> = Vec::new();
    for p in &days {
        let monday = sub_days(p.date, u64::from(p.date.weekday().num_days_from_monday()));
        match weeks.last_mut() {
            Some(w) if w.date == monday => {
                w.tally.scheduled += p.tally.scheduled;
                w.tally.completed += p.tally.completed;
            }
            _ => weeks.push(DayPoint { date: monday, tally: p.tally }),
        }
    }
    let missions = per_mission
        .into_iter()
        .map(|(m, tally)| {
            let only = BTreeSet::from([m.clone()]);
            let best_streak = rules::best(active_days(record, from, to, Some(&only)));
            MissionFigures { mission: m.clone(), tally, best_streak }
        })
        .collect();
    let all_time =
        first_day(record).map_or_else(Tally::default, |first| tally(record, first, today, filter));
    Figures {
        from,
        to,
        period,
        all_time,
        best_streak: rules::best(active_days(record, from, to, filter)),
        best_streak_all_time: rules::best(active_days(record, NaiveDate::MIN, today, filter)),
        current_streak: rules::current(active_days(record, NaiveDate::MIN, today, filter), today),
        missions,
        days,
        weeks,
        categories,
        last_7: tally(record, sub_days(to, 6), to, filter),
        previous_7: tally(record, sub_days(to, 13), sub_days(to, 7), filter),
    }
}

#[cfg(test)]
#[path = "stats_tests.rs"]
pub(crate) mod tests;
