//! The red-flag check every chat message passes before any AI call (DOMAIN.md §4): emergency
//! signs get emergency guidance at once (119), thoughts of suicide or self-harm the crisis lines
//! (109, 1577-0199) and 119, and requests for a diagnosis or a prescription the medical-boundary
//! answer with a referral. The message is normalized first (`normalize`: every spelling of the
//! same words reads the same), then read against rules that follow the shape of Korean words
//! (`rules`) and by a model learnt from the labelled corpus (`model`, `corpus/`); the gravest
//! reading wins. Measured in docs/intelligence.md.
//!
//! Where the AI is on, Claude's own reading of the message is a second layer (`Reading`): when it
//! sees a red flag the rules missed, the guarded answer replaces its coaching. Where the AI is off,
//! the offline coach answers a message it cannot place, but that sounds distressed, with a gentle
//! check-in and the 109 line (`distressed`).

pub mod corpus;
pub mod model;
mod normalize;
mod rules;

pub use normalize::{Normalized, normalize};
use serde::Deserialize;

/// What the guard found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    Emergency,
    /// Thoughts of suicide or self-harm: the crisis lines, and 119 first when someone is hurt.
    Crisis,
    MedicalBoundary,
}

/// Checks a message (and its optional context) before any AI call. A message that is both a
/// crisis and an emergency (a cut that will not stop bleeding) gets the crisis answer, which
/// begins with 119.
pub fn check(text: &str) -> Option<Guard> {
    let n = normalize(text);
    decide(rules_reading(&n), model::flag(&model::probs(&n)))
}

/// What the rules found, the gravest first.
fn rules_reading(n: &Normalized) -> Option<Guard> {
    rules::matches(n).max_by_key(|g| g.gravity())
}

/// The rules' and the model's readings together: the gravest of the two.
fn decide(rules: Option<Guard>, model: Option<corpus::Label>) -> Option<Guard> {
    let learnt = model.and_then(|l| match l {
        corpus::Label::Crisis => Some(Guard::Crisis),
        corpus::Label::Emergency => Some(Guard::Emergency),
        corpus::Label::Medical => Some(Guard::MedicalBoundary),
        corpus::Label::None => None,
    });
    rules.into_iter().chain(learnt).max_by_key(|g| g.gravity())
}

/// Claude's own safety reading of a message, asked for with every chat answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reading {
    None,
    Emergency,
    Crisis,
    Medical,
}

impl Reading {
    /// The values the answer's schema allows.
    pub const VALUES: [&'static str; 4] = ["none", "emergency", "crisis", "medical"];

    pub fn guard(self) -> Option<Guard> {
        match self {
            Reading::None => None,
            Reading::Emergency => Some(Guard::Emergency),
            Reading::Crisis => Some(Guard::Crisis),
            Reading::Medical => Some(Guard::MedicalBoundary),
        }
    }
}

/// Words of distress that are not red flags by themselves ("요즘 너무 힘들어요"): the offline
/// coach, which cannot tell more, answers them with a check-in and the 109 line instead of tips.
const DISTRESS: &[&str] = &[
    "힘들", "힘드", "괴로", "우울", "외로", "슬퍼", "슬프", "지쳤", "지쳐", "지친", "무기력", "절망", "막막",
    "공허", "불안", "두려", "무서", "눈물", "울고", "울었", "울어", "아무것도하기싫", "아무도없", "혼자인",
    "견디기", "버티기", "포기하고싶", "도망치고싶", "숨고싶", "아무의미", "의미가없", "희망이없", "살기힘",
    "마음이아파", "마음이아프", "가슴이먹먹", "답이없", "hopeless", "worthless", "depressed",
    "lonely", "exhausted", "cant go on", "overwhelmed", "miserable", "empty inside",
];

/// Whether the message carries words of distress (for the offline coach; not a red flag).
pub fn distressed(text: &str) -> bool {
    let n = normalize(text);
    DISTRESS.iter().any(|w| if w.is_ascii() { n.spaced.contains(w) } else { n.compact.contains(w) })
}

impl Guard {
    /// A crisis answer begins with 119, so it covers an emergency too; both outrank the medical one.
    fn gravity(self) -> u8 {
        match self {
            Guard::Crisis => 3,
            Guard::Emergency => 2,
            Guard::MedicalBoundary => 1,
        }
    }

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
                "다치셨거나 약이나 해로운 것을 드셨다면 지금 바로 119에 전화해 주세요. \
                 많이 힘드셨겠어요. 혼자 견디지 않아도 돼요. 자살예방상담전화 109(24시간), \
                 정신건강위기상담 1577-0199에 전화하면 지금 바로 이야기를 들어 줄 사람이 있어요(이전 번호 1393도 연결돼요)."
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

/// The offline coach's answer to a distressed message it cannot place: a check-in, not tips.
pub const CHECK_IN: &str = "마음이 많이 힘드신 것 같아요. 이야기해 주셔서 고마워요. 지금 어떤 마음인지 조금 더 들려주실 수 있을까요? \
혼자 견디기 어렵다면 자살예방상담전화 109(24시간)나 정신건강위기상담 1577-0199에서 언제든 이야기를 들어 줄 수 있어요. \
위험한 상황이라면 119에 전화해 주세요.";

pub const CHECK_IN_QUESTIONS: [&str; 3] =
    ["요즘 마음이 힘들 때 해 볼 수 있는 건 뭐가 있을까요?", "가까운 정신건강복지센터는 어떻게 찾나요?", "잠이 잘 안 올 때는 어떻게 하면 좋을까요?"];

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;
