//! What the app reads: a checkup record with the field names of MOBILE-CONTRACT.md (`year`,
//! `month`, `height`, `weight`, `waist`, `bmi`, `vision` "L/R", `hearing`, `bloodPressure` "S/D",
//! `bloodTest`) beside the new ones (`id`, `checkupDate`, every item with unit and grade, the
//! assessment), and the history's chart data and reference ranges.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    judge::{self, Assessment, Grade, GradedItem, ItemValue, Overall},
    model::{Condition, Measurements, Smoking, Source, hearing_label, items},
    provider::tilko::map::centre_category,
    store::checkups::StoredCheckup,
};
use crate::users::api::Sex;

/// The blood values, flat (the old contract's `bloodTest`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BloodTest {
    pub fasting_glucose: Option<f64>,
    pub total_cholesterol: Option<f64>,
    pub hdl: Option<f64>,
    pub ldl: Option<f64>,
    pub triglycerides: Option<f64>,
    pub hemoglobin: Option<f64>,
    pub serum_creatinine: Option<f64>,
    pub egfr: Option<f64>,
    pub ast: Option<f64>,
    pub alt: Option<f64>,
    pub ggt: Option<f64>,
    /// Dipstick grade as printed (−, ±, +1 …).
    pub urine_protein: Option<String>,
}

/// One measured item with its unit and, where the rules grade it, its grade.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordItem {
    /// The field name (`systolic`, `hemoglobin`, `urineProtein` …).
    pub item: String,
    pub name: String,
    pub value: ItemValue,
    pub unit: String,
    pub loinc: String,
    pub grade: Option<Grade>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckupRecord {
    pub id: Uuid,
    #[schema(format = Date)]
    pub checkup_date: NaiveDate,
    pub year: i32,
    pub month: u32,
    pub height: Option<f64>,
    pub weight: Option<f64>,
    pub waist: Option<f64>,
    pub bmi: Option<f64>,
    /// "L/R", e.g. "1.0/1.2" (9.9 = blind).
    pub vision: Option<String>,
    /// "L/R", e.g. "정상/정상".
    pub hearing: Option<String>,
    /// "S/D", e.g. "120/80".
    pub blood_pressure: Option<String>,
    pub blood_test: BloodTest,
    pub source: Source,
    pub centre: Option<String>,
    /// The centre's own judgement, exactly as given (never re-judged).
    pub centre_judgement: Option<String>,
    /// What the centre's judgement means, when it is a known spelling.
    pub centre_category: Option<Overall>,
    pub centre_opinion: Option<String>,
    pub treated_for: Vec<Condition>,
    /// 1 never, 2 former, 3 current.
    #[schema(value_type = Option<u8>)]
    pub smoking: Option<Smoking>,
    pub drinking: Option<bool>,
    pub file_id: Option<Uuid>,
    /// Every measured item with unit, LOINC code and grade.
    pub items: Vec<RecordItem>,
    pub assessment: Assessment,
    /// Values that cannot all be right together, for the user to check against the sheet.
    #[serde(default)]
    pub warnings: Vec<RecordWarning>,
}

/// A flag on values that contradict each other (they are kept: the sheet may say so).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RecordWarning {
    /// LDL + HDL above the total cholesterol, which holds them both (total = LDL + HDL + VLDL).
    LdlHdlAboveTotal,
}

/// What in `m` contradicts itself.
pub fn warnings(m: &Measurements) -> Vec<RecordWarning> {
    let mut out = Vec::new();
    if let (Some(ldl), Some(hdl), Some(total)) = (m.ldl, m.hdl, m.total_cholesterol)
        && ldl + hdl > total
    {
        out.push(RecordWarning::LdlHdlAboveTotal);
    }
    out
}

fn pair(a: Option<f64>, b: Option<f64>, f: impl Fn(f64) -> String) -> Option<String> {
    match (a, b) {
        (None, None) => None,
        (a, b) => Some(format!("{}/{}", a.map_or("-".into(), &f), b.map_or("-".into(), &f))),
    }
}

fn record_items(m: &Measurements, a: &Assessment) -> Vec<RecordItem> {
    let grade = |g: GradedItem| a.grade_of(g);
    let mut out = Vec::new();
    for info in items::NUMERIC_ITEMS {
        let Some(v) = (info.get)(m) else { continue };
        let graded = match info.name {
            "systolic" | "diastolic" => grade(GradedItem::BloodPressure),
            name => GradedItem::parse(name).and_then(grade),
        };
        out.push(RecordItem {
            item: info.name.into(),
            name: info.label.into(),
            value: ItemValue::Number(v),
            unit: info.unit.into(),
            loinc: info.loinc.into(),
            grade: graded,
        });
    }
    for g in [GradedItem::Bmi, GradedItem::UrineProtein] {
        if let Some(value) = g.value(m) {
            let (name, unit, loinc) = g.describe();
            out.push(RecordItem {
                item: g.name().into(),
                name: name.into(),
                value,
                unit: unit.into(),
                loinc: loinc.into(),
                grade: grade(g),
            });
        }
    }
    out
}

/// The record of a stored checkup, judged for someone of `sex`.
pub fn record(c: &StoredCheckup, sex: Sex) -> CheckupRecord {
    let m = &c.measurements;
    let assessment = judge::assess(m, sex, c.checkup_date, &c.treated_for);
    CheckupRecord {
        id: c.id,
        checkup_date: c.checkup_date,
        year: c.checkup_date.year(),
        month: c.checkup_date.month(),
        height: m.height,
        weight: m.weight,
        waist: m.waist,
        bmi: m.bmi(),
        vision: pair(m.vision_left, m.vision_right, |v| format!("{v:.1}")),
        hearing: match (m.hearing_left, m.hearing_right) {
            (None, None) => None,
            (l, r) => Some(format!("{}/{}", l.map_or("-", hearing_label), r.map_or("-", hearing_label))),
        },
        blood_pressure: match (m.systolic, m.diastolic) {
            (Some(s), Some(d)) => Some(format!("{s:.0}/{d:.0}")),
            _ => None,
        },
        blood_test: BloodTest {
            fasting_glucose: m.fasting_glucose,
            total_cholesterol: m.total_cholesterol,
            hdl: m.hdl,
            ldl: m.ldl,
            triglycerides: m.triglycerides,
            hemoglobin: m.hemoglobin,
            serum_creatinine: m.serum_creatinine,
            egfr: m.egfr,
            ast: m.ast,
            alt: m.alt,
            ggt: m.ggt,
            urine_protein: m.urine_protein.map(|c| super::model::urine_protein_label(c).to_string()),
        },
        source: c.source,
        centre: c.centre.clone(),
        centre_category: c.centre_judgement.as_deref().and_then(centre_category),
        centre_judgement: c.centre_judgement.clone(),
        centre_opinion: c.centre_opinion.clone(),
        treated_for: c.treated_for.clone(),
        smoking: m.smoking,
        drinking: m.drinking,
        file_id: c.file_id,
        items: record_items(m, &assessment),
        assessment,
        warnings: warnings(m),
    }
}

/// The ranges of every graded item for one sex, as the national checkup prints them.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RangeReference {
    pub item: GradedItem,
    pub name: String,
    pub unit: String,
    pub normal_a: String,
    pub normal_b: String,
    pub suspected: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NormalRangeReference {
    pub rule_version: String,
    pub rule_label: String,
    pub sex: Sex,
    pub items: Vec<RangeReference>,
}

pub fn normal_ranges(sex: Sex, on: NaiveDate) -> NormalRangeReference {
    let rules = judge::rules::version_for(on);
    NormalRangeReference {
        rule_version: rules.id.into(),
        rule_label: rules.label.into(),
        sex,
        items: GradedItem::ALL
            .into_iter()
            .map(|item| {
                let (name, unit, _) = item.describe();
                let [a, b, s] = item.reference_text(sex);
                RangeReference {
                    item,
                    name: name.into(),
                    unit: unit.into(),
                    normal_a: a.into(),
                    normal_b: b.into(),
                    suspected: s.into(),
                }
            })
            .collect(),
    }
}
