//! Every text the motivator sends, behind one function per kind. A daily nudge's text depends on
//! its segment only (motivation type × urgency × streak band), so the slice asks once per
//! segment and reuses the answer for every user in it. Texts are Korean, free of promotion and
//! of any diagnosis (DOMAIN.md §4): they coach habits and point to referrals.

use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

use super::rules::{MotivationType, Priority, Segment, StreakBand, name};
use crate::{
    domain::Platform,
    intelligence::api::{self as intelligence, NudgeBrief},
};

/// Who wrote a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Engine {
    /// The templates below.
    Template,
    /// Claude, once per segment and day (`intelligence::nudge_wording`).
    Claude,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wording {
    pub title: String,
    pub body: String,
    pub engine: Engine,
}

/// The text of a daily nudge for `segment` on `day`.
pub async fn segment_wording(platform: &Platform, day: NaiveDate, segment: &Segment) -> Wording {
    // The AI writes one text per segment and Seoul day, cached for every user, slice and instance
    // of that segment; no personal data is in the prompt. Off, failing or out of its breaker's
    // grace, the template below answers.
    let fallback = template(segment);
    let (motivation, urgency, streak_band) = (name(segment.motivation), name(segment.urgency), name(segment.streak));
    let brief = NudgeBrief {
        segment: &segment.key(),
        motivation: &motivation,
        urgency: &urgency,
        streak_band: &streak_band,
        fallback: intelligence::Wording {
            title: fallback.title.clone(),
            body: fallback.body.clone(),
            engine: intelligence::Engine::Offline,
        },
    };
    let w = intelligence::nudge_wording(platform, day, &brief).await;
    match w.engine {
        intelligence::Engine::Claude => Wording { title: w.title, body: w.body, engine: Engine::Claude },
        intelligence::Engine::Offline => fallback,
    }
}

/// The template of a segment: a title per motivation type and urgency, a body from the
/// motivation type and streak band, closed by a line per urgency. Every one of the 48 differs.
pub fn template(segment: &Segment) -> Wording {
    use MotivationType as M;
    use Priority as P;
    use StreakBand as S;
    let title = match (segment.motivation, segment.urgency) {
        (M::Achievement, P::High) => "오늘도 해낼 차례예요",
        (M::Achievement, P::Medium) => "좋은 흐름을 이어가요",
        (M::Achievement, P::Low) => "정말 잘하고 있어요",
        (M::HabitFormation, P::High) => "습관은 오늘 만들어져요",
        (M::HabitFormation, P::Medium) => "습관이 자리 잡는 중이에요",
        (M::HabitFormation, P::Low) => "습관이 몸에 붙고 있어요",
        (M::Social, P::High) => "함께하는 사람들이 기다려요",
        (M::Social, P::Medium) => "다른 분들도 지금 시작했어요",
        (M::Social, P::Low) => "같이 하면 더 오래가요",
        (M::HealthBenefit, P::High) => "작은 실천 하나부터 시작해요",
        (M::HealthBenefit, P::Medium) => "몸이 고마워할 하루예요",
        (M::HealthBenefit, P::Low) => "건강한 하루를 이어가요",
    };
    let lead = match (segment.motivation, segment.streak) {
        (M::Achievement, S::None) => "최근 미션 달성률이 높아요. 오늘 다시 연속 기록을 시작해 봐요.",
        (M::Achievement, S::Starting) => "연속 기록이 막 시작됐어요. 이 기세를 사흘째로 이어가 봐요.",
        (M::Achievement, S::Building) => "며칠째 꾸준히 해내고 있어요. 일주일 기록이 눈앞이에요.",
        (M::Achievement, S::Strong) => "일주일 넘게 이어온 기록, 정말 대단해요.",
        (M::HabitFormation, S::None) => "절반 넘게 해냈던 미션들, 오늘 하나만 더 해도 습관이 돼요.",
        (M::HabitFormation, S::Starting) => "하루, 이틀 이어진 기록이 습관의 첫걸음이에요.",
        (M::HabitFormation, S::Building) => "사흘 넘게 이어졌어요. 이제 습관이 되어 가고 있어요.",
        (M::HabitFormation, S::Strong) => "꾸준함이 이미 습관이 되었어요. 오늘도 평소처럼 해 봐요.",
        (M::Social, S::None) => "지난주 잘 해 오셨어요. 같은 미션을 하는 분들도 오늘 다시 시작했어요.",
        (M::Social, S::Starting) => "비슷한 목표를 가진 분들도 지금 기록을 쌓고 있어요.",
        (M::Social, S::Building) => "함께하는 분들처럼 며칠째 잘 이어가고 있어요.",
        (M::Social, S::Strong) => "오래 이어온 기록은 함께하는 분들에게도 힘이 돼요.",
        (M::HealthBenefit, S::None) => "가벼운 걷기와 물 한 잔 같은 작은 실천이 건강 습관의 시작이에요.",
        (M::HealthBenefit, S::Starting) => "시작한 기록을 이어가면 생활 리듬이 조금씩 달라져요.",
        (M::HealthBenefit, S::Building) => "며칠 이어진 생활 습관은 몸의 컨디션을 바꾸는 힘이 있어요.",
        (M::HealthBenefit, S::Strong) => "오래 이어온 습관이 건강한 일상을 만들고 있어요.",
    };
    let close = match segment.urgency {
        P::High => "오늘의 미션 중 가장 쉬운 것 하나부터 해 볼까요?",
        P::Medium => "남은 미션을 오늘 안에 하나씩 챙겨 봐요.",
        P::Low => "오늘도 편안한 마음으로 이어가요.",
    };
    Wording { title: title.into(), body: format!("{lead} {close}"), engine: Engine::Template }
}

/// Dormant users: no completion on the last 3 full days.
pub fn comeback() -> Wording {
    Wording {
        title: "다시 시작해도 괜찮아요".into(),
        body: "며칠 쉬어 가도 괜찮아요. 오늘 가장 쉬운 미션 하나로 가볍게 다시 시작해 봐요.".into(),
        engine: Engine::Template,
    }
}

pub fn welcome() -> Wording {
    Wording {
        title: "HealthSync에 오신 것을 환영해요".into(),
        body: "건강검진 결과를 불러오고 나에게 맞는 미션을 골라 보세요. 작은 습관부터 함께 시작해요.".into(),
        engine: Engine::Template,
    }
}

pub fn results_ready(new_checkups: u32) -> Wording {
    Wording {
        title: "건강검진 결과가 준비됐어요".into(),
        body: format!(
            "새 검진 결과 {new_checkups}건을 불러왔어요. 항목별 국가검진 기준과 함께 확인해 보세요."
        ),
        engine: Engine::Template,
    }
}

/// Hypertension or diabetes 질환의심: the free confirmatory visit, with its last day.
pub fn confirmatory_visit(deadline: NaiveDate) -> Wording {
    Wording {
        title: "무료 확진 검사를 받아 보세요".into(),
        body: format!(
            "혈압 또는 공복혈당이 국가검진 기준상 ‘질환의심’ 범위입니다. {}까지 확진 검사를 한 번 무료로 \
             받을 수 있으니 가까운 병·의원에 문의해 보세요.",
            deadline.format("%Y년 %-m월 %-d일")
        ),
        engine: Engine::Template,
    }
}

pub fn celebration(streak_days: i32) -> Wording {
    Wording {
        title: format!("{streak_days}일 연속 달성!"),
        body: format!("미션을 {streak_days}일 연속으로 해냈어요. 스스로를 칭찬해 주세요. 다음 기록도 응원할게요."),
        engine: Engine::Template,
    }
}

/// A tip for the mission most worth doing now (the first open one), or for the day done.
pub fn tip(open_mission: Option<&str>) -> String {
    match open_mission {
        Some(title) => format!("‘{title}’부터 해 보세요. 가장 쉬운 미션 하나가 오늘의 흐름을 만들어요."),
        None => "오늘 미션을 모두 마쳤어요. 내일도 같은 시간에 이어가 보세요.".into(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_segment_has_its_own_template_free_of_promotion_and_diagnosis() {
        let mut seen = HashSet::new();
        for s in Segment::all() {
            let w = template(&s);
            assert!(!w.title.is_empty() && w.body.chars().count() > 20, "{}", s.key());
            assert!(seen.insert((w.title.clone(), w.body.clone())), "duplicate text for {}", s.key());
            for word in ["할인", "이벤트", "광고", "쿠폰", "진단", "당뇨병입니다", "고혈압입니다"] {
                assert!(!w.body.contains(word) && !w.title.contains(word), "{}: {word}", s.key());
            }
        }
        assert_eq!(seen.len(), 48);
    }

    #[test]
    fn the_confirmatory_reminder_names_its_deadline_and_the_national_wording() {
        let w = confirmatory_visit(NaiveDate::from_ymd_opt(2027, 1, 31).unwrap());
        assert!(w.body.contains("2027년 1월 31일"), "{}", w.body);
        assert!(w.body.contains("국가검진 기준상 ‘질환의심’ 범위"));
    }
}
