//! Recommendations by rules: which catalogue missions to offer a user next.
//!
//! The input is what is known about the user: the assessment items that need attention (from the
//! health domain's assessment of their latest checkup, `assessment::attention`; empty without a
//! checkup or the health-data consent), the missions they just left behind, and how well they kept
//! their last goal.

use std::collections::BTreeSet;

use super::model::{AssessmentItem, Category, Difficulty, Mission, MissionId};

/// How many missions a recommendation offers (a goal holds at most 5).
pub const COUNT: usize = 5;

/// What the rules know about the user.
#[derive(Debug, Clone, Default)]
pub struct Input {
    /// Checkup items that need attention: missions helping them come first.
    pub attention: BTreeSet<AssessmentItem>,
    /// Missions not to offer again now (the goal just reset, the ones the app says are current).
    pub exclude: BTreeSet<MissionId>,
    /// The achievement rate (0–100) of the goal just closed, if it had any scheduled days.
    pub last_rate: Option<f64>,
}

/// The difficulty that suits someone who kept their last goal at `rate`: easy to start or after a
/// hard time, a step up once they keep most of it.
pub fn preferred_difficulty(last_rate: Option<f64>) -> Difficulty {
    match last_rate {
        Some(r) if r >= 80.0 => Difficulty::Hard,
        Some(r) if r >= 50.0 => Difficulty::Medium,
        _ => Difficulty::Easy,
    }
}

fn score(m: &Mission, input: &Input, preferred: Difficulty) -> i32 {
    let helps = m.helps.iter().filter(|h| input.attention.contains(h)).count() as i32;
    let fit = 2 - (m.difficulty.level() - preferred.level()).abs();
    helps * 3 + fit
}

/// Up to [`COUNT`] active missions, best first: a mission helping more items that need attention
/// wins, then the one closest to the preferred difficulty, then catalogue order; one per category
/// before any category gets a second.
pub fn recommend<'c>(catalog: &'c [Mission], input: &Input) -> Vec<&'c Mission> {
    let preferred = preferred_difficulty(input.last_rate);
    let mut ranked: Vec<(i32, &Mission)> = catalog
        .iter()
        .filter(|m| !m.retired && !input.exclude.contains(&m.id))
        .map(|m| (score(m, input, preferred), m))
        .collect();
    ranked.sort_by(|(sa, a), (sb, b)| sb.cmp(sa).then(a.sort_order.cmp(&b.sort_order)).then(a.id.cmp(&b.id)));
    let mut picked: Vec<&Mission> = Vec::new();
    let mut seen: BTreeSet<Category> = BTreeSet::new();
    for (_, m) in &ranked {
        if picked.len() < COUNT && seen.insert(m.category) {
            picked.push(m);
        }
    }
    for (_, m) in &ranked {
        if picked.len() < COUNT && !picked.iter().any(|p| p.id == m.id) {
            picked.push(m);
        }
    }
    picked.sort_by_key(|m| (std::cmp::Reverse(score(m, input, preferred)), m.sort_order));
    picked
}

/// Why a mission was recommended, in words the user reads (automated choices are explained,
/// 개인정보보호법 §37-2).
pub fn reason(m: &Mission, input: &Input) -> String {
    let helped: Vec<&str> = m.helps.iter().filter(|h| input.attention.contains(h)).map(|h| h.label()).collect();
    if !helped.is_empty() {
        return format!("검진 결과에서 살펴볼 항목({}) 관리에 도움이 되는 미션이에요.", helped.join(", "));
    }
    match input.last_rate {
        Some(rate) => format!(
            "지난 목표 달성률({rate:.0}%)에 맞춰 {} 난이도의 {} 미션을 골랐어요.",
            m.difficulty.label(),
            m.category.label()
        ),
        None => format!("부담 없이 시작하기 좋은 {} 미션이에요.", m.category.label()),
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveTime;

    use super::*;
    use crate::goals::model::{Comparison, DailyTarget, TargetUnit};

    fn mission(id: &str, category: Category, difficulty: Difficulty, helps: &[AssessmentItem], order: i32) -> Mission {
        Mission {
            id: MissionId::parse(id).unwrap(),
            category,
            difficulty,
            title: id.into(),
            description: String::new(),
            health_benefit: String::new(),
            estimated_minutes: 10,
            target: DailyTarget { value: 1, unit: TargetUnit::Times, comparison: Comparison::AtLeast, text: String::new() },
            helps: helps.to_vec(),
            reminder_time: NaiveTime::MIN,
            sort_order: order,
            retired: false,
        }
    }

    fn catalog() -> Vec<Mission> {
        use AssessmentItem::{BloodPressure, Glucose, Liver};
        use Category::*;
        use Difficulty::*;
        vec![
            mission("walk", Exercise, Medium, &[BloodPressure, Glucose], 1),
            mission("stretch", Exercise, Easy, &[], 2),
            mission("soup", Diet, Easy, &[BloodPressure], 3),
            mission("sugar", Diet, Easy, &[Glucose, Liver], 4),
            mission("sleep", Sleep, Medium, &[], 5),
            mission("breathe", Stress, Easy, &[BloodPressure], 6),
            mission("water", Hydration, Easy, &[], 7),
            mission("no-drink", Alcohol, Medium, &[Liver, AssessmentItem::Alcohol], 8),
            mission("no-smoke", Smoking, Hard, &[AssessmentItem::Smoking], 9),
        ]
    }

    fn ids(v: &[&Mission]) -> Vec<String> {
        v.iter().map(|m| m.id.to_string()).collect()
    }

    #[test]
    fn without_an_assessment_a_newcomer_gets_easy_missions_from_different_categories() {
        let c = catalog();
        let got = recommend(&c, &Input::default());
        assert_eq!(ids(&got), ["stretch", "soup", "breathe", "water", "sleep"]);
    }

    #[test]
    fn items_that_need_attention_come_first() {
        let c = catalog();
        let input = Input { attention: BTreeSet::from([AssessmentItem::Liver]), ..Input::default() };
        let got = recommend(&c, &input);
        assert_eq!(ids(&got)[..2], ["sugar", "no-drink"]);
        assert!(reason(got[0], &input).contains("간 수치"), "{}", reason(got[0], &input));
    }

    #[test]
    fn excluded_and_retired_missions_are_never_offered_and_difficulty_follows_the_last_rate() {
        let mut c = catalog();
        c[1].retired = true;
        let input = Input {
            exclude: BTreeSet::from([MissionId::parse("soup").unwrap()]),
            last_rate: Some(90.0),
            ..Input::default()
        };
        let got = recommend(&c, &input);
        let names = ids(&got);
        assert!(!names.contains(&"stretch".to_string()) && !names.contains(&"soup".to_string()), "{names:?}");
        assert_eq!(names[0], "no-smoke", "a hard mission for someone who kept 90 %");
        assert_eq!(got.len(), COUNT);
        assert_eq!(preferred_difficulty(Some(60.0)), Difficulty::Medium);
        assert_eq!(preferred_difficulty(None), Difficulty::Easy);
    }
}
