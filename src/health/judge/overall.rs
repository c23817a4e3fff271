//! From item grades to the overall category, the metabolic-syndrome criteria and the escalation
//! flags.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Grade, GradedItem, ItemAssessment, rules::RuleVersion};
use crate::{
    health::model::{Condition, Measurements},
    users::api::Sex,
};

/// The overall categories of the national checkup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[schema(as = OverallCategory)]
pub enum Overall {
    /// 고혈압·당뇨병·이상지질혈증 질환의심 (from 2026-01-07).
    SuspectedHtnDmDyslipidemia,
    /// 고혈압·당뇨병 질환의심 (before 2026-01-07).
    SuspectedHtnDm,
    /// 일반 질환의심: follow-up or specialist care.
    SuspectedGeneral,
    /// 유질환자: already diagnosed and treated.
    UnderTreatment,
    /// 정상B(경계): self-care and prevention.
    NormalB,
    /// 정상A.
    NormalA,
}

impl Overall {
    pub fn label(self) -> &'static str {
        match self {
            Overall::SuspectedHtnDmDyslipidemia => "고혈압·당뇨병·이상지질혈증 질환의심",
            Overall::SuspectedHtnDm => "고혈압·당뇨병 질환의심",
            Overall::SuspectedGeneral => "일반 질환의심",
            Overall::UnderTreatment => "유질환자",
            Overall::NormalB => "정상B(경계)",
            Overall::NormalA => "정상A",
        }
    }
}

/// Which condition a graded item's suspicion belongs to, for the dedicated category.
fn condition_of(item: GradedItem) -> Option<Condition> {
    match item {
        GradedItem::BloodPressure => Some(Condition::Hypertension),
        GradedItem::FastingGlucose => Some(Condition::Diabetes),
        i if i.is_lipid() => Some(Condition::Dyslipidemia),
        _ => None,
    }
}

/// Every category that applies, most significant first (that order is the list's order).
/// A suspicion about a condition already treated belongs to 유질환자, not to a 질환의심 category.
pub fn categories(items: &[ItemAssessment], rules: &RuleVersion, treated: &[Condition]) -> Vec<Overall> {
    let mut dedicated = false;
    let mut general = false;
    let mut under_treatment = !treated.is_empty();
    for i in items.iter().filter(|i| i.grade == Grade::Suspected) {
        match condition_of(i.item) {
            Some(c) if treated.contains(&c) => under_treatment = true,
            Some(Condition::Dyslipidemia) if !rules.lipids_in_metabolic_category => general = true,
            Some(_) => dedicated = true,
            None => general = true,
        }
    }
    let graded: Vec<Grade> = items.iter().map(|i| i.grade).filter(|g| *g != Grade::Unclassified).collect();
    let mut out = Vec::new();
    if dedicated {
        out.push(if rules.lipids_in_metabolic_category {
            Overall::SuspectedHtnDmDyslipidemia
        } else {
            Overall::SuspectedHtnDm
        });
    }
    if general {
        out.push(Overall::SuspectedGeneral);
    }
    if under_treatment {
        out.push(Overall::UnderTreatment);
    }
    if graded.contains(&Grade::NormalB) {
        out.push(Overall::NormalB);
    }
    if !graded.is_empty() && graded.iter().all(|g| *g == Grade::NormalA) && !under_treatment {
        out.push(Overall::NormalA);
    }
    out
}

/// One of the five Korean metabolic-syndrome criteria.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MetabolicCriterion {
    /// Waist men ≥ 90 cm, women ≥ 85 cm.
    Waist,
    /// SBP ≥ 130 or DBP ≥ 85 mmHg.
    BloodPressure,
    /// Fasting glucose ≥ 100 mg/dL.
    FastingGlucose,
    /// Triglycerides ≥ 150 mg/dL.
    Triglycerides,
    /// HDL men < 40, women < 50 mg/dL.
    Hdl,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetabolicSyndrome {
    /// How many criteria are met.
    pub count: u32,
    pub criteria: Vec<MetabolicCriterion>,
    /// How many of the five could be checked (the rest were not measured).
    pub evaluated: u32,
    /// 3 or more met: `true`; fewer met but enough unmeasured to reach 3: `null`; else `false`.
    pub meets_definition: Option<bool>,
}

/// The Korean criteria: 3 or more of the five.
pub fn metabolic_syndrome(m: &Measurements, sex: Sex) -> MetabolicSyndrome {
    let (waist_cut, hdl_cut) = match sex {
        Sex::Male => (90.0, 40.0),
        Sex::Female => (85.0, 50.0),
    };
    let bp = match (m.systolic, m.diastolic) {
        (Some(s), Some(d)) => Some(s >= 130.0 || d >= 85.0),
        (Some(s), None) if s >= 130.0 => Some(true),
        (None, Some(d)) if d >= 85.0 => Some(true),
        _ => None,
    };
    let checks = [
        (MetabolicCriterion::Waist, m.waist.map(|w| w >= waist_cut)),
        (MetabolicCriterion::BloodPressure, bp),
        (MetabolicCriterion::FastingGlucose, m.fasting_glucose.map(|g| g >= 100.0)),
        (MetabolicCriterion::Triglycerides, m.triglycerides.map(|t| t >= 150.0)),
        (MetabolicCriterion::Hdl, m.hdl.map(|h| h < hdl_cut)),
    ];
    let criteria: Vec<MetabolicCriterion> =
        checks.iter().filter(|(_, met)| *met == Some(true)).map(|(c, _)| *c).collect();
    let evaluated = checks.iter().filter(|(_, met)| met.is_some()).count() as u32;
    let count = criteria.len() as u32;
    let meets_definition = if count >= 3 {
        Some(true)
    } else if count + (5 - evaluated) >= 3 {
        None
    } else {
        Some(false)
    };
    MetabolicSyndrome { count, criteria, evaluated, meets_definition }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[schema(as = ReferralFlagCode)]
pub enum FlagCode {
    /// Hypertension or diabetes 질환의심: one free confirmatory visit until 31 January of the
    /// following year.
    ConfirmatoryVisit,
    /// eGFR < 60 or proteinuria +1 or more.
    KidneyReferral,
    /// Any other 질환의심 finding.
    ClinicianReferral,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[schema(as = ReferralKind)]
pub enum Referral {
    ConfirmatoryTest,
    Clinician,
}

/// A finding that calls for a referral, not a mission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ReferralFlag)]
pub struct Flag {
    pub code: FlagCode,
    pub referral: Referral,
    pub items: Vec<GradedItem>,
    pub message: String,
    /// The last day of the free confirmatory visit.
    pub deadline: Option<NaiveDate>,
}

/// The escalation flags of a checkup taken on `date`.
pub fn flags(items: &[ItemAssessment], date: NaiveDate, treated: &[Condition]) -> Vec<Flag> {
    let suspected = |i: &&ItemAssessment| i.grade == Grade::Suspected;
    let mut out = Vec::new();
    let confirm: Vec<GradedItem> = items
        .iter()
        .filter(suspected)
        .map(|i| i.item)
        .filter(|i| match i {
            GradedItem::BloodPressure => !treated.contains(&Condition::Hypertension),
            GradedItem::FastingGlucose => !treated.contains(&Condition::Diabetes),
            _ => false,
        })
        .collect();
    if !confirm.is_empty() {
        let deadline = NaiveDate::from_ymd_opt(date.year() + 1, 1, 31);
        let until = deadline.map_or(String::new(), |d| d.format("%Y년 %-m월 %-d일").to_string());
        out.push(Flag {
            code: FlagCode::ConfirmatoryVisit,
            referral: Referral::ConfirmatoryTest,
            items: confirm,
            message: format!(
                "혈압 또는 공복혈당이 국가검진 기준상 ‘질환의심’ 범위입니다. {until}까지 확진 검사를 한 번 \
                 무료로 받을 수 있으니 가까운 병·의원에 문의해 보세요."
            ),
            deadline,
        });
    }
    let kidney: Vec<GradedItem> = items
        .iter()
        .filter(suspected)
        .map(|i| i.item)
        .filter(|i| matches!(i, GradedItem::Egfr | GradedItem::UrineProtein))
        .collect();
    if !kidney.is_empty() {
        out.push(Flag {
            code: FlagCode::KidneyReferral,
            referral: Referral::Clinician,
            items: kidney,
            message: "신사구체여과율 또는 요단백이 국가검진 기준상 ‘질환의심’ 범위입니다. 진단이 아니며, \
                      의료진과 상담해 신장 기능을 확인해 보세요."
                .into(),
            deadline: None,
        });
    }
    let covered: Vec<GradedItem> = out.iter().flat_map(|f| f.items.clone()).collect();
    let rest: Vec<GradedItem> =
        items.iter().filter(suspected).map(|i| i.item).filter(|i| !covered.contains(i)).collect();
    if !rest.is_empty() {
        out.push(Flag {
            code: FlagCode::ClinicianReferral,
            referral: Referral::Clinician,
            items: rest,
            message: "국가검진 기준상 ‘질환의심’ 범위인 항목이 있습니다. 진단이 아니며, 의료진과 상담해 \
                      확인해 보세요."
                .into(),
            deadline: None,
        });
    }
    out
}
