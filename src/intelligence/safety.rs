//! The red-flag check every chat message passes before any AI call (DOMAIN.md §4): emergency signs
//! get emergency guidance at once; requests for a diagnosis or a prescription get the
//! medical-boundary answer with a referral. Matching ignores spaces and case, so "가슴이 아파요"
//! and "가슴이아파요" are the same sign.

/// What the guard found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    Emergency,
    /// Thoughts of suicide or self-harm: emergency guidance with the crisis lines first.
    Crisis,
    MedicalBoundary,
}

const EMERGENCY: &[&str] = &[
    // Chest pain.
    "가슴통증", "가슴이아파", "가슴이아프", "가슴이조여", "가슴이조이", "가슴이답답", "가슴을쥐어짜", "흉통", "chestpain",
    // Breathing.
    "숨이안쉬어", "숨을못쉬", "숨쉬기힘들", "숨쉬기가힘들", "숨이막혀", "호흡곤란", "호흡이곤란", "cantbreathe",
    // Stroke signs.
    "마비", "한쪽팔", "한쪽다리", "얼굴한쪽", "입이돌아", "말이어눌", "발음이어눌", "말이안나와", "갑자기말이",
    "갑자기앞이안보", "뇌졸중", "중풍", "stroke",
    // Consciousness.
    "의식을잃", "의식이없", "정신을잃", "기절", "실신", "쓰러졌", "쓰러져", "경련", "발작",
    // Bleeding.
    "피가멈추지", "피가안멈", "출혈이심", "과다출혈", "피를토", "피를많이", "각혈", "토혈",
    // Others that cannot wait.
    "심한두통", "극심한두통", "벼락두통",
];

const CRISIS: &[&str] = &[
    "죽고싶", "자살", "목숨을끊", "극단적선택", "살고싶지않", "사라지고싶", "자해", "죽어버리", "killmyself", "suicide",
];

const BOUNDARY: &[&str] = &[
    "진단해", "진단좀", "진단을내려", "무슨병", "어떤병", "병인가요", "병인지", "병이에요", "병일까", "암인가", "암일까",
    "당뇨인가", "당뇨일까", "고혈압인가", "고혈압일까", "처방", "무슨약", "어떤약", "약을먹어야", "약먹어야", "약을끊",
    "약을바꿔", "복용량", "몇알", "용량을", "약이름", "diagnose", "prescri",
];

/// Signs said in two parts ("가슴이 너무 아파요"): a body part and what it does.
const EMERGENCY_PAIRS: &[(&[&str], &[&str])] = &[
    (&["가슴", "흉부", "명치"], &["아파", "아프", "통증", "조여", "조이", "답답", "쥐어짜", "짓눌"]),
    (&["숨"], &["안쉬어", "못쉬", "쉬기힘들", "쉬기가힘들", "막혀", "막힐"]),
    (&["한쪽", "반쪽"], &["힘이없", "힘이안", "마비", "감각이없", "저려", "처져"]),
    (&["피"], &["멈추지", "안멈", "쏟아", "많이나"]),
];

/// Checks a message (and its optional context) before any AI call.
pub fn check(text: &str) -> Option<Guard> {
    let squashed: String = text.chars().filter(|c| !c.is_whitespace()).flat_map(char::to_lowercase).collect();
    let has = |list: &[&str]| list.iter().any(|w| squashed.contains(w));
    if has(CRISIS) {
        Some(Guard::Crisis)
    } else if has(EMERGENCY) || EMERGENCY_PAIRS.iter().any(|(part, what)| has(part) && has(what)) {
        Some(Guard::Emergency)
    } else if has(BOUNDARY) {
        Some(Guard::MedicalBoundary)
    } else {
        None
    }
}

impl Guard {
    /// `responseType` of the answer.
    pub fn response_type(self) -> &'static str {
        match self {
            Guard::Emergency | Guard::Crisis => "emergency",
            Guard::MedicalBoundary => "medical_boundary",
        }
    }

    pub fn answer(self) -> &'static str {
        match self {
            Guard::Emergency => {
                "말씀하신 증상은 응급 상황일 수 있어요. 지금 바로 119에 전화하거나 가까운 응급실로 가세요. \
                 혼자 계시다면 주변 사람에게 도움을 요청하고, 증상이 나아지더라도 의료진의 확인을 받으세요. \
                 이 상담은 응급 상황을 대신할 수 없어요."
            }
            Guard::Crisis => {
                "많이 힘드셨겠어요. 지금 바로 도움을 받을 수 있어요. 자살예방상담전화 109(24시간), \
                 정신건강위기상담 1577-0199에 전화해 주세요(이전 번호 1393도 연결돼요). \
                 당장 위험하다면 119에 전화하세요. 당신의 이야기를 들어 줄 사람이 있어요."
            }
            Guard::MedicalBoundary => {
                "질병의 진단이나 약 처방·복용 변경은 의료진만 할 수 있어 여기서는 답해 드릴 수 없어요. \
                 검진 결과나 증상이 걱정된다면 가까운 의원이나 보건소에서 진료를 받아 보세요. \
                 진료 전까지 도움이 되는 생활습관(식단, 운동, 수면)은 함께 챙겨 드릴게요."
            }
        }
    }

    pub fn questions(self) -> [String; 3] {
        let q: [&str; 3] = match self {
            Guard::Emergency => {
                ["119에 전화하면 무엇을 말해야 하나요?", "가까운 응급실은 어떻게 찾나요?", "응급 상황에서 보호자가 할 일은요?"]
            }
            Guard::Crisis => {
                ["지금 바로 이야기할 수 있는 곳이 있나요?", "가까운 정신건강복지센터는 어떻게 찾나요?", "힘들 때 도움을 청하는 방법은요?"]
            }
            Guard::MedicalBoundary => {
                ["진료 때 의사에게 무엇을 물어보면 좋을까요?", "검진 결과지를 어떻게 준비해 가면 되나요?", "진료 전까지 할 수 있는 생활습관은요?"]
            }
        };
        q.map(str::to_string)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emergency_signs_crisis_and_boundary_requests_are_caught_in_korean_phrasing() {
        for m in ["가슴이 너무 아파요", "갑자기 한쪽 팔에 힘이 없어요", "숨 쉬기 힘들어요", "아버지가 쓰러졌어요", "피가 멈추지 않아요"] {
            assert_eq!(check(m), Some(Guard::Emergency), "{m}");
        }
        for m in ["요즘 죽고 싶다는 생각이 들어요", "자해를 했어요"] {
            assert_eq!(check(m), Some(Guard::Crisis), "{m}");
        }
        for m in ["제가 당뇨인가요?", "혈압약 처방해 주세요", "무슨 병인지 진단해 주세요"] {
            assert_eq!(check(m), Some(Guard::MedicalBoundary), "{m}");
        }
        for m in ["걷기 운동은 얼마나 하면 좋을까요?", "잠을 잘 자는 방법이 궁금해요"] {
            assert_eq!(check(m), None, "{m}");
        }
        assert!(Guard::Emergency.answer().contains("119"));
        assert!(Guard::Crisis.answer().contains("109") && Guard::Crisis.answer().contains("1393"));
    }
}
