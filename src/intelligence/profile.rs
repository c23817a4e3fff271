//! The minimum about a person that an AI prompt may hold (DOMAIN.md §4): an age band, the sex,
//! the occupation and the checkup's values with their grades. Never a name, an e-mail address or a
//! birth date; the cache keys built here hold only a hash.

use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{
    domain::Platform,
    health::api::{self, CheckupRecord, Grade, ItemValue},
    users::api::Sex,
};

/// Who is asking, as far as a prompt may say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject {
    /// "30대", "60대 이상"…
    pub age_band: Option<String>,
    pub sex: Option<Sex>,
    pub occupation: Option<String>,
}

pub fn age_band(age: u32) -> String {
    match age {
        0..=19 => "10대".into(),
        20..=59 => format!("{}대", age / 10 * 10),
        _ => "60대 이상".into(),
    }
}

pub async fn subject(platform: &Platform, user: Uuid) -> anyhow::Result<Subject> {
    let info = api::user_info(platform, user).await?;
    Ok(Subject {
        age_band: info.age.map(age_band),
        sex: info.gender,
        occupation: info.occupation.filter(|o| !o.trim().is_empty()),
    })
}

impl Subject {
    /// The lines a prompt gets.
    pub fn lines(&self) -> String {
        let sex = match self.sex {
            Some(Sex::Male) => "남성",
            Some(Sex::Female) => "여성",
            None => "알 수 없음",
        };
        format!(
            "연령대: {}\n성별: {sex}\n직업: {}",
            self.age_band.as_deref().unwrap_or("알 수 없음"),
            self.occupation.as_deref().unwrap_or("알 수 없음")
        )
    }
}

/// A checkup's values and grades as prompt lines (no centre, no file, no date beyond the year).
pub fn checkup_lines(record: &CheckupRecord) -> String {
    let mut out = vec![format!("검진 연도: {}", record.year)];
    for i in &record.assessment.items {
        let value = match &i.value {
            ItemValue::Number(n) => format!("{n}"),
            ItemValue::Text(t) => t.clone(),
        };
        out.push(format!("- {}: {} {} → {}", i.name, value, i.unit, i.grade.label()));
    }
    let ms = &record.assessment.metabolic_syndrome;
    out.push(format!("대사증후군 기준 충족 수: {}/{} (평가 {}개)", ms.count, 5, ms.evaluated));
    if record.smoking == Some(api::Smoking::Current) {
        out.push("흡연: 현재 흡연".into());
    }
    if record.drinking == Some(true) {
        out.push("음주: 예".into());
    }
    if !record.assessment.flags.is_empty() {
        out.push("의료진 확인이 필요한 항목 있음 (코칭이 아닌 진료 권유 대상)".into());
    }
    out.join("\n")
}

/// Items graded 정상B(경계) or 질환의심, by name, worst first.
pub fn attention(record: &CheckupRecord) -> Vec<(String, Grade)> {
    let mut v: Vec<(String, Grade)> = record
        .assessment
        .items
        .iter()
        .filter(|i| matches!(i.grade, Grade::NormalB | Grade::Suspected))
        .map(|i| (i.name.clone(), i.grade))
        .collect();
    v.sort_by_key(|(_, g)| std::cmp::Reverse(g.severity()));
    v
}

/// A cache key for `user`'s `what`, holding a hash instead of the id.
pub fn cache_key(what: &str, user: Uuid) -> String {
    let digest = Sha256::digest(format!("intelligence:{what}:{user}").as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("intel:{what}:{hex}")
}
