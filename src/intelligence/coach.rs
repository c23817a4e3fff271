//! The offline coach: rules and Korean templates that answer every call of this domain from the
//! assessment and the user's progress alone. It is the local default (no key), and the answer
//! whenever Claude may not or cannot answer (consent, budget, breaker, failure, invalid answer).
//! It stays on the coaching side of the medical boundary (DOMAIN.md §4): it speaks of national
//! checkup ranges and habits, never of diseases.

use super::profile::Subject;
use crate::{
    goals::api::{Category, Mission},
    health::api::{CheckupRecord, Grade},
};

/// The three sentences of an explained checkup.
pub fn diagnosis_sentences(record: &CheckupRecord, score: u8, risk: &str) -> [String; 3] {
    let a = &record.assessment;
    let graded = a.coverage.graded;
    let first = format!(
        "{}년 {}월 검진에서 판정한 {graded}개 항목을 종합한 건강 점수는 {score}점, 관리 필요도는 ‘{risk}’입니다.",
        record.year, record.month
    );
    let attention = super::profile::attention(record);
    let suspected: Vec<&str> =
        attention.iter().filter(|(_, g)| *g == Grade::Suspected).map(|(n, _)| n.as_str()).collect();
    let borderline: Vec<&str> =
        attention.iter().filter(|(_, g)| *g == Grade::NormalB).map(|(n, _)| n.as_str()).collect();
    let second = match (suspected.is_empty(), borderline.is_empty()) {
        (true, true) => "모든 판정 항목이 국가검진 기준상 ‘정상A’ 범위입니다.".to_string(),
        (true, false) => format!(
            "{}은(는) 국가검진 기준상 ‘정상B(경계)’ 범위라 생활습관 관리가 도움이 됩니다.",
            borderline.join(", ")
        ),
        (false, _) => format!(
            "{}은(는) 국가검진 기준상 ‘질환의심’ 범위입니다. 진단이 아니며, 의료진과 상담해 확인해 보세요.",
            suspected.join(", ")
        ),
    };
    let third = if a.needs_referral() {
        "확인 검사나 진료를 먼저 받으시고, 그다음에 생활습관 미션으로 관리를 이어 가세요.".to_string()
    } else if borderline.is_empty() {
        "지금의 생활습관을 꾸준히 이어 가고, 매년 검진으로 변화를 확인해 보세요.".to_string()
    } else {
        "걷기·식단·수면 같은 작은 미션 하나부터 시작하면 다음 검진에서 변화를 확인할 수 있어요.".to_string()
    };
    [first, second, third]
}

/// Occupation advice from rules: the kind of work read from the occupation's words.
pub fn occupation_advice(subject: &Subject) -> String {
    let Some(job) = subject.occupation.as_deref() else {
        return "직업 정보를 프로필에 적어 주시면 일하는 환경에 맞춘 조언을 드릴게요.".into();
    };
    let has = |words: &[&str]| words.iter().any(|w| job.contains(w));
    let advice = if has(&["사무", "개발", "회사원", "디자이너", "프로그래머", "연구", "공무원", "회계", "기획"]) {
        "오래 앉아 일하는 편이라면 50분마다 일어나 5분 걷거나 스트레칭하고, 점심 뒤 짧은 산책으로 활동량을 채워 보세요."
    } else if has(&["운전", "기사", "택배", "배달"]) {
        "운전 시간이 길다면 휴게 시간마다 차에서 내려 몸을 풀고, 단 음료 대신 물을 곁에 두세요."
    } else if has(&["간호", "교대", "경비", "야간", "생산", "공장"]) {
        "교대나 야간 근무가 있다면 근무 뒤 수면 시간을 일정하게 지키고, 야식은 가볍게 드세요."
    } else if has(&["교사", "강사", "판매", "서비스", "상담"]) {
        "오래 서서 말하는 일이라면 물을 자주 마시고, 쉬는 시간에 다리와 허리를 풀어 주세요."
    } else if has(&["학생"]) {
        "공부 시간이 길다면 규칙적인 수면과 아침 식사를 지키고, 틈틈이 몸을 움직여 보세요."
    } else {
        "일하는 중에도 한 시간에 한 번은 몸을 움직이고, 물을 자주 마시며, 잠드는 시간을 일정하게 지켜 보세요."
    };
    format!("{job}: {advice}")
}

/// Why a mission suits the user's work.
pub fn occupation_relevance(m: &Mission, subject: &Subject) -> String {
    let job = subject.occupation.as_deref().unwrap_or("일상");
    let how = match m.category {
        Category::Exercise => "근무 틈틈이 몸을 움직이는 습관을 만들기 좋아요",
        Category::Diet => "바쁜 날에도 식사에서 바로 실천할 수 있어요",
        Category::Sleep => "일과 후 회복에 도움이 돼요",
        Category::Stress => "업무 스트레스를 짧게 풀어 주는 데 좋아요",
        Category::Hydration => "일하는 자리에서도 쉽게 챙길 수 있어요",
        Category::Alcohol => "회식이나 모임이 있는 날에도 지킬 수 있는 목표예요",
        Category::Smoking => "쉬는 시간의 흡연 습관을 바꾸는 데 초점을 둬요",
        Category::Monitoring => "하루 중 짧은 시간으로 꾸준히 확인할 수 있어요",
    };
    format!("{job} 생활에서 {how}.")
}

/// The summary of a recommendation.
pub fn recommendation_summary(attention: &[(String, Grade)], count: usize) -> String {
    if attention.is_empty() {
        format!("부담 없이 시작할 수 있는 미션 {count}개를 여러 영역에서 골랐어요.")
    } else {
        let names: Vec<&str> = attention.iter().take(3).map(|(n, _)| n.as_str()).collect();
        format!("검진에서 살펴볼 항목({})을 중심으로 미션 {count}개를 골랐어요.", names.join(", "))
    }
}

struct Topic {
    words: &'static [&'static str],
    answer: &'static str,
    questions: [&'static str; 3],
}

const TOPICS: &[Topic] = &[
    Topic {
        words: &["운동", "걷기", "걸음", "달리기", "헬스", "근력", "스트레칭"],
        answer: "운동은 주 150분 정도의 빠르게 걷기 같은 중간 강도 활동을 목표로, 하루 10분씩 나누어 시작해도 충분해요. 처음 일주일은 ‘매일 조금이라도’에 집중해 보세요.",
        questions: ["하루 몇 보를 걸으면 좋을까요?", "근력 운동은 일주일에 몇 번 하면 되나요?", "운동 전후 스트레칭은 어떻게 하나요?"],
    },
    Topic {
        words: &["식단", "음식", "식사", "먹", "간식", "야식", "짜", "단 ", "설탕", "탄수화물"],
        answer: "식사는 채소를 먼저, 국물은 조금만, 단 음료는 물로 바꾸는 세 가지부터 해 보세요. 한 끼에 하나씩 바꾸면 부담이 적어요.",
        questions: ["야식이 당길 때는 어떻게 하나요?", "외식할 때 고르기 좋은 메뉴는요?", "물은 하루에 얼마나 마시면 좋을까요?"],
    },
    Topic {
        words: &["잠", "수면", "불면", "피곤", "피로"],
        answer: "수면은 매일 같은 시간에 일어나는 것부터 시작해 보세요. 잠들기 한 시간 전에는 화면을 멀리하고, 오후 늦게는 카페인을 줄이면 도움이 돼요.",
        questions: ["몇 시간 자는 게 좋을까요?", "낮잠은 괜찮나요?", "잠들기 전에 하면 좋은 습관은요?"],
    },
    Topic {
        words: &["스트레스", "우울", "불안", "긴장", "화가"],
        answer: "스트레스가 쌓일 때는 4초 들이쉬고 6초 내쉬는 호흡을 3분만 해 보세요. 짧은 산책이나 믿을 만한 사람과의 대화도 좋아요. 힘든 마음이 오래가면 전문가와 이야기해 보세요.",
        questions: ["호흡 운동은 하루에 몇 번 하나요?", "잠깐 쉬는 시간에 할 수 있는 건요?", "스트레스와 수면은 어떤 관계가 있나요?"],
    },
    Topic {
        words: &["술", "음주", "회식"],
        answer: "술은 마시는 날을 정해 두고, 마실 때는 두 잔에서 멈추며 물을 함께 마셔 보세요. 마신 양을 기록하면 줄이기가 쉬워져요.",
        questions: ["회식에서 술을 줄이는 방법이 있을까요?", "술 대신 마시기 좋은 음료는요?", "음주 기록은 어떻게 하나요?"],
    },
    Topic {
        words: &["담배", "흡연", "금연"],
        answer: "금연은 보건소 금연클리닉(상담·보조제 무료)이나 금연상담전화 1544-9030의 도움을 받으면 성공률이 높아져요. 흡연 욕구가 올 때 할 대체 행동을 하나 정해 두세요.",
        questions: ["금연 첫 주를 버티는 방법은요?", "흡연 욕구가 올 때 무엇을 하면 좋나요?", "금연하면 몸이 언제부터 좋아지나요?"],
    },
    Topic {
        words: &["체중", "살", "다이어트", "허리", "비만", "bmi", "BMI"],
        answer: "체중 관리는 한 달에 1~2kg처럼 천천히 줄이는 목표가 오래가요. 아침에 같은 조건으로 체중을 재고, 저녁 식사량을 조금 줄이는 것부터 해 보세요.",
        questions: ["허리둘레는 어떻게 재나요?", "저녁을 가볍게 먹는 방법은요?", "체중이 정체될 때는 어떻게 하나요?"],
    },
    Topic {
        words: &["혈압", "혈당", "콜레스테롤", "간수치", "간 수치", "검진"],
        answer: "검진 수치는 국가검진 기준의 범위로 살펴볼 수 있어요. 경계 범위라면 싱겁게 먹기, 꾸준한 걷기, 절주 같은 습관이 도움이 되고, ‘질환의심’ 범위라면 의료진과 상담해 확인하는 것이 먼저예요.",
        questions: ["제 검진 결과에서 먼저 관리할 항목은요?", "싱겁게 먹는 요령이 있을까요?", "다음 검진 전까지 무엇을 하면 좋을까요?"],
    },
    Topic {
        words: &["미션", "목표", "습관", "꾸준"],
        answer: "미션은 작게 시작해 매일 체크하는 것이 가장 중요해요. 하루를 놓쳐도 다음 날 다시 이어 가면 습관은 충분히 만들어져요.",
        questions: ["미션을 자꾸 놓치면 어떻게 하나요?", "난이도를 올리는 시점은 언제가 좋을까요?", "연속 달성을 이어 가는 요령은요?"],
    },
];

const GENERAL_QUESTIONS: [&str; 3] =
    ["오늘 할 수 있는 건강 습관을 추천해 주세요.", "제 미션을 꾸준히 하는 요령이 있을까요?", "검진 결과에서 신경 쓸 부분은 무엇인가요?"];

/// What the coach knows when it answers a chat message.
pub struct ChatContext<'a> {
    pub attention: &'a [(String, Grade)],
    pub open_missions: &'a [String],
}

/// The coach's chat answer and three follow-up questions fitted to the topic.
pub fn chat(message: &str, ctx: &ChatContext<'_>) -> (String, [String; 3]) {
    let topic = TOPICS.iter().find(|t| t.words.iter().any(|w| message.contains(w)));
    // Distress that is no red flag still gets no lifestyle tips nor mission reminders: a
    // check-in and the 109 line.
    if super::safety::distressed(message) {
        return (super::safety::CHECK_IN.to_string(), super::safety::CHECK_IN_QUESTIONS.map(str::to_string));
    }
    let mut answer = match topic {
        Some(t) => t.answer.to_string(),
        None => "말씀해 주셔서 고마워요. 지금은 오프라인 코치가 답하고 있어요. 운동, 식단, 수면, 스트레스, 음주·흡연, 체중, 검진 수치, 미션에 대해 물어봐 주시면 구체적으로 도와드릴게요.".to_string(),
    };
    if let Some((name, grade)) = ctx.attention.first() {
        answer.push_str(&format!(" 참고로 최근 검진에서 {name}이(가) ‘{}’ 범위였어요.", grade.label()));
    }
    if let Some(m) = ctx.open_missions.first() {
        answer.push_str(&format!(" 오늘 남은 미션 ‘{m}’도 잊지 마세요!"));
    }
    let questions = topic.map_or(GENERAL_QUESTIONS, |t| t.questions).map(str::to_string);
    (answer, questions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chat_coach_answers_by_topic_with_three_fitting_questions() {
        let ctx = ChatContext { attention: &[], open_missions: &[] };
        let (a, q) = chat("요즘 잠이 잘 안 와요", &ctx);
        assert!(a.contains("수면"), "{a}");
        assert!(q.iter().any(|q| q.contains("낮잠")), "{q:?}");
        let (_, q2) = chat("금연하고 싶어요", &ctx);
        assert_ne!(q, q2);
        let (g, q3) = chat("안녕하세요", &ctx);
        assert!(g.contains("오프라인"));
        assert_eq!(q3.len(), 3);
    }

    #[test]
    fn a_distressed_message_gets_a_check_in_with_the_109_line_not_tips() {
        let ctx = ChatContext { attention: &[], open_missions: &["하루 7,000보 걷기".to_string()] };
        for m in ["요즘 너무 우우울하고 아무것도 하기 싫어요", "너무 외로워요", "우울해서 아무것도 못 먹겠어요"] {
            let (a, q) = chat(m, &ctx);
            assert!(a.contains("109") && !a.contains("미션"), "{m}: {a}");
            assert_eq!(q.len(), 3);
        }
        let (a, _) = chat("요즘 너무 우울해요", &ctx);
        assert!(a.contains("109"), "{a}");
        let (a, _) = chat("아침 식단 추천해 주세요", &ctx);
        assert!(!a.contains("109"), "{a}");
    }

    #[test]
    fn occupation_advice_follows_the_kind_of_work() {
        let s = |o: &str| Subject { occupation: Some(o.into()), ..Subject::default() };
        assert!(occupation_advice(&s("소프트웨어 개발자")).contains("앉아"));
        assert!(occupation_advice(&s("택배 기사")).contains("운전"));
        assert!(occupation_advice(&Subject::default()).contains("직업 정보"));
    }
}
