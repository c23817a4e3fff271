//! Insights: short Korean sentences drawn from a period's figures. Each appears only when the
//! data behind it is there; nothing is fixed.

use super::{
    model::{Category, MissionId},
    stats::Figures,
};

/// Fewer scheduled mission-days than this say too little about a category or a mission.
const MIN_DAYS: u32 = 3;
/// A change smaller than this many percentage points is "about the same".
const STEADY_POINTS: f64 = 5.0;

pub fn insights(f: &Figures, title: impl Fn(&MissionId) -> String) -> Vec<String> {
    let mut out = Vec::new();
    if f.period.scheduled == 0 {
        out.push("이 기간에는 진행한 미션이 없어요. 미션을 선택하면 달성 기록이 여기에 쌓여요.".to_string());
        return out;
    }
    if let Some(line) = best_category(f) {
        out.push(line);
    }
    if let Some(line) = trend(f) {
        out.push(line);
    }
    if f.period.completed == f.period.scheduled && f.period.scheduled >= 7 {
        out.push("이 기간의 미션을 하루도 빠짐없이 모두 해냈어요!".to_string());
    } else if f.best_streak >= 3 {
        out.push(format!("이 기간 가장 길게 이어 간 기록은 {}일 연속이에요.", f.best_streak));
    }
    if let Some(line) = weakest_mission(f, title) {
        out.push(line);
    }
    out
}

fn best_category(f: &Figures) -> Option<String> {
    let counted: Vec<(Category, f64)> = f
        .categories
        .iter()
        .filter(|(_, t)| t.scheduled >= MIN_DAYS)
        .map(|(c, t)| (*c, t.rate_or_zero()))
        .collect();
    // Highest rate; ties go to the category listed first.
    let (best, rate) = counted.iter().copied().reduce(|a, b| if b.1 > a.1 { b } else { a })?;
    Some(if counted.len() >= 2 {
        format!("{} 미션을 가장 꾸준히 지키고 있어요 (달성률 {rate:.0}%).", best.label())
    } else {
        format!("{} 미션 달성률은 {rate:.0}%예요.", best.label())
    })
}

fn trend(f: &Figures) -> Option<String> {
    let last = f.last_7.rate()?;
    let Some(before) = f.previous_7.rate() else {
        return Some(format!("최근 7일 달성률은 {last:.0}%예요."));
    };
    let diff = last - before;
    Some(if diff >= STEADY_POINTS {
        format!("최근 7일 달성률은 {last:.0}%로, 그 전 7일({before:.0}%)보다 {diff:.0}%p 올랐어요.")
    } else if diff <= -STEADY_POINTS {
        format!(
            "최근 7일 달성률은 {last:.0}%로, 그 전 7일({before:.0}%)보다 {:.0}%p 내려갔어요. 부담이 덜한 미션으로 조정해 보는 것도 방법이에요.",
            -diff
        )
    } else {
        format!("최근 7일 달성률은 {last:.0}%로, 그 전 7일({before:.0}%)과 비슷하게 유지하고 있어요.")
    })
}

fn weakest_mission(f: &Figures, title: impl Fn(&MissionId) -> String) -> Option<String> {
    if f.missions.len() < 2 {
        return None;
    }
    let weakest = f
        .missions
        .iter()
        .filter(|m| m.tally.scheduled >= MIN_DAYS)
        .min_by(|a, b| a.tally.rate_or_zero().total_cmp(&b.tally.rate_or_zero()))?;
    let rate = weakest.tally.rate_or_zero();
    (rate < 50.0).then(|| {
        format!(
            "'{}' 미션은 달성률이 {rate:.0}%로 가장 낮아요. 시간대를 바꾸거나 더 쉬운 미션으로 바꿔 보세요.",
            title(&weakest.mission)
        )
    })
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::goals::stats::{Record, figures};

    fn d(s: &str) -> NaiveDate {
        format!("2026-{s}").parse().unwrap()
    }

    fn category(m: &MissionId) -> Option<Category> {
        match m.as_str() {
            "water-8-cups" => Some(Category::Hydration),
            "walk-7000-steps" => Some(Category::Exercise),
            _ => Some(Category::Sleep),
        }
    }

    #[test]
    fn the_fixture_yields_its_best_category_its_trend_its_streak_and_its_weakest_mission() {
        let record = crate::goals::stats::tests::fixture();
        let f = figures(&record, d("03-01"), d("03-20"), d("03-20"), None, category);
        let lines = insights(&f, |m| format!("<{m}>"));
        assert_eq!(
            lines,
            vec![
                "수분 미션을 가장 꾸준히 지키고 있어요 (달성률 85%).".to_string(),
                "최근 7일 달성률은 71%로, 그 전 7일(57%)보다 14%p 올랐어요.".to_string(),
                "이 기간 가장 길게 이어 간 기록은 10일 연속이에요.".to_string(),
                "'<walk-7000-steps>' 미션은 달성률이 40%로 가장 낮아요. 시간대를 바꾸거나 더 쉬운 미션으로 바꿔 보세요."
                    .to_string(),
            ]
        );
    }

    #[test]
    fn an_empty_period_says_so_and_nothing_else() {
        let f = figures(&Record::default(), d("03-01"), d("03-20"), d("03-20"), None, category);
        let lines = insights(&f, |m| m.to_string());
        assert_eq!(lines.len(), 1);
        assert!(lines[0].contains("진행한 미션이 없어요"));
    }
}
