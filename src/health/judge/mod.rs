//! The judgement engine: pure Rust, no I/O. A checkup's measurements, the person's sex, the
//! checkup date and the conditions already treated go in; an [`Assessment`] comes out: a grade per
//! item (정상A / 정상B(경계) / 질환의심 / 판정불가), the overall category, the metabolic-syndrome
//! criteria met, the rule version used and escalation flags.
//!
//! Wording stays on the national checkup's side of the medical boundary (DOMAIN.md §4): a value is
//! "국가검진 기준상 ‘질환의심’ 범위", never a diagnosis, and findings that need a clinician become
//! flags (referrals), not coaching. This type is the stable API later domains read.

pub mod overall;
pub mod rules;
pub mod scales;
#[cfg(test)]
mod tests;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::model::{Condition, Measurements, items, urine_protein_label};
use crate::users::api::Sex;
pub use overall::{Flag, FlagCode, MetabolicCriterion, MetabolicSyndrome, Overall, Referral};
use scales::Scale;

/// The grade of one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Grade {
    /// Outside every defined band (haemoglobin above the top, γ-GTP below the bottom …).
    Unclassified,
    NormalA,
    NormalB,
    Suspected,
}

impl Grade {
    pub fn label(self) -> &'static str {
        match self {
            Grade::NormalA => "정상A",
            Grade::NormalB => "정상B(경계)",
            Grade::Suspected => "질환의심",
            Grade::Unclassified => "판정불가",
        }
    }

    /// How a value in this band is worded: the national checkup's range, never a diagnosis.
    pub fn statement(self) -> &'static str {
        match self {
            Grade::NormalA => "국가검진 기준상 ‘정상A’ 범위입니다.",
            Grade::NormalB => "국가검진 기준상 ‘정상B(경계)’ 범위입니다. 생활습관 관리를 권합니다.",
            Grade::Suspected => {
                "국가검진 기준상 ‘질환의심’ 범위입니다. 진단이 아니며, 의료진과 상담해 확인해 보세요."
            }
            Grade::Unclassified => "국가검진 기준의 판정 구간 밖의 값이라 판정하지 않았습니다.",
        }
    }

    /// Order of concern: 질환의심 > 정상B > 정상A; unclassified counts for nothing.
    pub fn severity(self) -> u8 {
        match self {
            Grade::Unclassified => 0,
            Grade::NormalA => 1,
            Grade::NormalB => 2,
            Grade::Suspected => 3,
        }
    }
}

/// The items the national checkup grades, by their field names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum GradedItem {
    /// Graded on the systolic/diastolic pair.
    BloodPressure,
    /// Computed from height and weight.
    Bmi,
    Waist,
    FastingGlucose,
    TotalCholesterol,
    Hdl,
    Triglycerides,
    Ldl,
    Hemoglobin,
    Ast,
    Alt,
    Ggt,
    UrineProtein,
    SerumCreatinine,
    Egfr,
}

impl GradedItem {
    pub const ALL: [GradedItem; 15] = [
        GradedItem::BloodPressure,
        GradedItem::Bmi,
        GradedItem::Waist,
        GradedItem::FastingGlucose,
        GradedItem::TotalCholesterol,
        GradedItem::Hdl,
        GradedItem::Triglycerides,
        GradedItem::Ldl,
        GradedItem::Hemoglobin,
        GradedItem::Ast,
        GradedItem::Alt,
        GradedItem::Ggt,
        GradedItem::UrineProtein,
        GradedItem::SerumCreatinine,
        GradedItem::Egfr,
    ];

    /// The field name (`bloodPressure`, `fastingGlucose` …).
    pub fn name(self) -> &'static str {
        match self {
            GradedItem::BloodPressure => items::BLOOD_PRESSURE.0,
            GradedItem::Bmi => items::BMI.0,
            GradedItem::UrineProtein => items::URINE_PROTEIN.0,
            other => other.info().map_or("", |i| i.name),
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|i| i.name() == name)
    }

    fn info(self) -> Option<&'static items::ItemInfo> {
        Some(match self {
            GradedItem::Waist => &items::WAIST,
            GradedItem::FastingGlucose => &items::FASTING_GLUCOSE,
            GradedItem::TotalCholesterol => &items::TOTAL_CHOLESTEROL,
            GradedItem::Hdl => &items::HDL,
            GradedItem::Triglycerides => &items::TRIGLYCERIDES,
            GradedItem::Ldl => &items::LDL,
            GradedItem::Hemoglobin => &items::HEMOGLOBIN,
            GradedItem::Ast => &items::AST,
            GradedItem::Alt => &items::ALT,
            GradedItem::Ggt => &items::GGT,
            GradedItem::SerumCreatinine => &items::SERUM_CREATININE,
            GradedItem::Egfr => &items::EGFR,
            GradedItem::BloodPressure | GradedItem::Bmi | GradedItem::UrineProtein => return None,
        })
    }

    /// Korean name, unit and LOINC code.
    pub fn describe(self) -> (&'static str, &'static str, &'static str) {
        match self {
            GradedItem::BloodPressure => (items::BLOOD_PRESSURE.1, items::BLOOD_PRESSURE.2, items::BLOOD_PRESSURE.3),
            GradedItem::Bmi => (items::BMI.1, items::BMI.2, items::BMI.3),
            GradedItem::UrineProtein => (items::URINE_PROTEIN.1, "", items::URINE_PROTEIN.2),
            other => other.info().map_or(("", "", ""), |i| (i.label, i.unit, i.loinc)),
        }
    }

    /// The lipid panel (measured for men 24+ and women 40+, every 4 years).
    pub fn is_lipid(self) -> bool {
        matches!(
            self,
            GradedItem::TotalCholesterol | GradedItem::Hdl | GradedItem::Triglycerides | GradedItem::Ldl
        )
    }

    /// The bands for `sex`; `None` for blood pressure, graded on the pair.
    pub fn scale(self, sex: Sex) -> Option<&'static Scale> {
        Some(match self {
            GradedItem::BloodPressure => return None,
            GradedItem::Bmi => &scales::BMI,
            GradedItem::Waist => scales::waist(sex),
            GradedItem::FastingGlucose => &scales::FASTING_GLUCOSE,
            GradedItem::TotalCholesterol => &scales::TOTAL_CHOLESTEROL,
            GradedItem::Hdl => &scales::HDL,
            GradedItem::Triglycerides => &scales::TRIGLYCERIDES,
            GradedItem::Ldl => &scales::LDL,
            GradedItem::Hemoglobin => scales::hemoglobin(sex),
            GradedItem::Ast => &scales::AST,
            GradedItem::Alt => &scales::ALT,
            GradedItem::Ggt => scales::ggt(sex),
            GradedItem::UrineProtein => &scales::URINE_PROTEIN,
            GradedItem::SerumCreatinine => &scales::SERUM_CREATININE,
            GradedItem::Egfr => &scales::EGFR,
        })
    }

    /// How 정상A, 정상B(경계) and 질환의심 are printed for `sex`.
    pub fn reference_text(self, sex: Sex) -> [&'static str; 3] {
        self.scale(sex).map_or(scales::BLOOD_PRESSURE_TEXT, |s| s.text)
    }

    /// The value this item is graded on, if measured.
    pub fn value(self, m: &Measurements) -> Option<ItemValue> {
        Some(match self {
            GradedItem::BloodPressure => {
                let (s, d) = (m.systolic?, m.diastolic?);
                ItemValue::Text(format!("{s:.0}/{d:.0}"))
            }
            GradedItem::Bmi => ItemValue::Number(m.bmi()?),
            GradedItem::UrineProtein => ItemValue::Text(urine_protein_label(m.urine_protein?).to_string()),
            other => ItemValue::Number((other.info()?.get)(m)?),
        })
    }

    fn grade(self, m: &Measurements, sex: Sex) -> Option<Grade> {
        Some(match self {
            GradedItem::BloodPressure => scales::blood_pressure(m.systolic?, m.diastolic?),
            GradedItem::Bmi => scales::BMI.grade(m.bmi()?),
            GradedItem::UrineProtein => scales::URINE_PROTEIN.grade(f64::from(m.urine_protein?)),
            other => other.scale(sex)?.grade((other.info()?.get)(m)?),
        })
    }
}

/// A number, or a text where the item is not one number (`"142/88"`, `"±"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum ItemValue {
    Number(f64),
    Text(String),
}

/// One graded item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ItemAssessment {
    pub item: GradedItem,
    /// Korean name.
    pub name: String,
    pub value: ItemValue,
    pub unit: String,
    pub loinc: String,
    pub grade: Grade,
    /// 정상A / 정상B(경계) / 질환의심 / 판정불가
    pub label: String,
    /// One sentence in the national checkup's words.
    pub statement: String,
}

/// How much of the checkup the rules could grade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AssessmentCoverage)]
pub struct Coverage {
    /// Items measured (of the 15 the rules grade).
    pub measured: u32,
    /// Of those, the ones given a grade (not 판정불가).
    pub graded: u32,
}

/// The judgement of one checkup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Assessment {
    /// The rule version in force on the checkup date.
    pub rule_version: String,
    pub rule_label: String,
    /// The most significant category (see `categories`); `null` when nothing could be graded.
    pub overall: Option<Overall>,
    pub overall_label: Option<String>,
    /// Every category that applies, most significant first.
    pub categories: Vec<Overall>,
    pub items: Vec<ItemAssessment>,
    pub metabolic_syndrome: MetabolicSyndrome,
    /// Findings that call for a referral (confirmatory test, clinician), not coaching.
    pub flags: Vec<Flag>,
    /// Graded items that were not measured (a missing lipid panel is normal).
    pub not_measured: Vec<GradedItem>,
    pub notes: Vec<String>,
    pub coverage: Coverage,
}

impl Assessment {
    /// The most concerning grade of any item, if any was graded.
    pub fn worst_grade(&self) -> Option<Grade> {
        self.items.iter().map(|i| i.grade).filter(|g| *g != Grade::Unclassified).max_by_key(|g| g.severity())
    }

    pub fn grade_of(&self, item: GradedItem) -> Option<Grade> {
        self.items.iter().find(|i| i.item == item).map(|i| i.grade)
    }

    /// Whether anything calls for a referral instead of coaching.
    pub fn needs_referral(&self) -> bool {
        !self.flags.is_empty()
    }
}

/// Judges a checkup taken on `date` by someone of `sex`, already treated for `treated_for`.
pub fn assess(m: &Measurements, sex: Sex, date: NaiveDate, treated_for: &[Condition]) -> Assessment {
    let rules = rules::version_for(date);
    let mut items = Vec::new();
    let mut not_measured = Vec::new();
    for item in GradedItem::ALL {
        match (item.value(m), item.grade(m, sex)) {
            (Some(value), Some(grade)) => {
                let (name, unit, loinc) = item.describe();
                items.push(ItemAssessment {
                    item,
                    name: name.into(),
                    value,
                    unit: unit.into(),
                    loinc: loinc.into(),
                    grade,
                    label: grade.label().into(),
                    statement: grade.statement().into(),
                });
            }
            _ => not_measured.push(item),
        }
    }
    let categories = overall::categories(&items, rules, treated_for);
    let overall = categories.first().copied();
    let mut notes = Vec::new();
    if m.lipid_panel_missing() {
        notes.push(
            "지질 검사(총콜레스테롤·HDL·중성지방·LDL)는 남성 24세 이상, 여성 40세 이상에서 4년마다 \
             시행되므로 이번 검진에 없을 수 있습니다."
                .to_string(),
        );
    }
    let coverage = Coverage {
        measured: items.len() as u32,
        graded: items.iter().filter(|i| i.grade != Grade::Unclassified).count() as u32,
    };
    Assessment {
        rule_version: rules.id.into(),
        rule_label: rules.label.into(),
        overall,
        overall_label: overall.map(|o| o.label().to_string()),
        categories,
        metabolic_syndrome: overall::metabolic_syndrome(m, sex),
        flags: overall::flags(&items, date, treated_for),
        items,
        not_measured,
        notes,
        coverage,
    }
}
