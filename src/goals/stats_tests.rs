//! The statistics against a fixture computed by hand (the same fixture is checked through HTTP in
//! tests/app/goals/history.rs).
//!
//! Goal 1: water + walk, in force 03-01..03-10 (closed on 03-11). Goal 2: water + sleep, from
//! 03-11, open. Today is 03-20.
//! water: 01-05, 07, 08, 11-20 · walk: 02-04, 09, and 12 (not scheduled then) · sleep: 11, 13-15, 19.

use super::*;

fn d(s: &str) -> NaiveDate {
    format!("2026-{s}").parse().unwrap()
}

fn id(s: &str) -> MissionId {
    MissionId::parse(s).unwrap()
}

pub fn fixture() -> Record {
    let mut done = Vec::new();
    for day in ["03-01", "03-02", "03-03", "03-04", "03-05", "03-07", "03-08"] {
        done.push((id("water-8-cups"), d(day)));
    }
    for n in 11..=20 {
        done.push((id("water-8-cups"), d(&format!("03-{n}"))));
    }
    for day in ["03-02", "03-03", "03-04", "03-09", "03-12"] {
        done.push((id("walk-7000-steps"), d(day)));
    }
    for day in ["03-11", "03-13", "03-14", "03-15", "03-19"] {
        done.push((id("sleep-7-hours"), d(day)));
    }
    Record {
        goals: vec![
            GoalSpan {
                start: d("03-01"),
                end: Some(d("03-11")),
                missions: vec![id("water-8-cups"), id("walk-7000-steps")],
            },
            GoalSpan { start: d("03-11"), end: None, missions: vec![id("water-8-cups"), id("sleep-7-hours")] },
        ],
        done,
    }
}

fn category(m: &MissionId) -> Option<Category> {
    match m.as_str() {
        "water-8-cups" => Some(Category::Hydration),
        "walk-7000-steps" => Some(Category::Exercise),
        "sleep-7-hours" => Some(Category::Sleep),
        _ => None,
    }
}

fn t(completed: u32, scheduled: u32) -> Tally {
    Tally { scheduled, completed }
}

#[test]
fn the_whole_period_matches_the_hand_computed_figures() {
    let f = figures(&fixture(), d("03-01"), d("03-20"), d("03-20"), None, category);
    assert_eq!(f.period, t(26, 40));
    assert_eq!(f.period.rate(), Some(65.0));
    assert_eq!(f.all_time, t(26, 40));
    // Days with any completion: 01-05, 07-09, 11-20.
    assert_eq!((f.best_streak, f.best_streak_all_time, f.current_streak), (10, 10, 10));
    let m: Vec<(&str, Tally, i32)> =
        f.missions.iter().map(|m| (m.mission.as_str(), m.tally, m.best_streak)).collect();
    assert_eq!(
        m,
        vec![("sleep-7-hours", t(5, 10), 3), ("walk-7000-steps", t(4, 10), 3), ("water-8-cups", t(17, 20), 10)]
    );
    assert_eq!(f.categories[&Category::Hydration].rate(), Some(85.0));
    assert_eq!(f.categories[&Category::Exercise].rate(), Some(40.0));
    assert_eq!(f.categories[&Category::Sleep].rate(), Some(50.0));
    assert_eq!((f.last_7, f.previous_7), (t(10, 14), t(8, 14)));
    assert_eq!((f.last_7.rate(), f.previous_7.rate()), (Some(71.4), Some(57.1)));
    assert_eq!(f.days.len(), 20);
    assert_eq!(f.days[0].tally, t(1, 2));
    assert_eq!(f.days[19].tally, t(1, 2), "today: water done, sleep not yet");
    let weeks: Vec<(NaiveDate, Tally)> = f.weeks.iter().map(|w| (w.date, w.tally)).collect();
    assert_eq!(
        weeks,
        vec![
            ("2026-02-23".parse().unwrap(), t(1, 2)),
            (d("03-02"), t(9, 14)),
            (d("03-09"), t(10, 14)),
            (d("03-16"), t(6, 10)),
        ]
    );
}

#[test]
fn a_part_of_the_period_counts_only_its_days() {
    let f = figures(&fixture(), d("03-05"), d("03-12"), d("03-20"), None, category);
    assert_eq!(f.period, t(7, 16));
    assert_eq!(f.period.rate(), Some(43.8));
    // Days with a completion inside: 05, 07-09, 11-12.
    assert_eq!(f.best_streak, 3);
}

#[test]
fn a_mission_filter_counts_only_those_missions() {
    let only = BTreeSet::from([id("walk-7000-steps")]);
    let f = figures(&fixture(), d("03-01"), d("03-20"), d("03-20"), Some(&only), category);
    assert_eq!(f.period, t(4, 10));
    assert_eq!(f.best_streak, 3);
    assert_eq!(f.current_streak, 0, "last walk on 03-12");
    assert_eq!(f.missions.len(), 1);
    assert_eq!(f.all_time.rate(), Some(40.0));
}

#[test]
fn days_after_today_and_before_any_goal_are_not_counted() {
    let f = figures(&fixture(), d("02-01"), d("04-30"), d("03-20"), None, category);
    assert_eq!(f.to, d("03-20"));
    assert_eq!(f.period, t(26, 40));
    let empty = figures(&Record::default(), d("03-01"), d("03-20"), d("03-20"), None, category);
    assert_eq!(empty.period, t(0, 0));
    assert_eq!(empty.period.rate(), None);
    assert_eq!(empty.best_streak, 0);
    let future = figures(&fixture(), d("04-01"), d("04-30"), d("03-20"), None, category);
    assert!(future.days.is_empty());
    assert_eq!(future.period, t(0, 0));
}

#[test]
fn a_goal_closed_the_day_it_started_schedules_nothing() {
    let r = Record {
        goals: vec![GoalSpan { start: d("03-05"), end: Some(d("03-05")), missions: vec![id("water-8-cups")] }],
        done: vec![(id("water-8-cups"), d("03-05"))],
    };
    assert_eq!(tally(&r, d("03-01"), d("03-10"), None), t(0, 0));
}
