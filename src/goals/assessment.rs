//! The seam to the health domain: which checkup items need attention for a user, the input of
//! the recommendation rules (`recommend::Input::attention`).
//!
//! The latest checkup's assessment (the health domain's Rust API), read only with the user's
//! health-data consent: each item graded 정상B(경계) or worse becomes an [`AssessmentItem`] (blood
//! pressure → `BLOOD_PRESSURE`, fasting glucose → `GLUCOSE`, total/HDL/LDL cholesterol and
//! triglycerides → `LIPIDS`, waist → `WAIST`, BMI → `BMI`, AST/ALT/γ-GTP → `LIVER`, haemoglobin →
//! `HAEMOGLOBIN`), and current smoking and drinking from the questionnaire → `SMOKING`, `ALCOHOL`.
//! Items in the 질환의심 range are the health domain's to refer, not missions to replace a
//! referral (DOMAIN.md §4); missions may still support them. Kidney items (urine protein,
//! creatinine, eGFR) map to nothing: they call for a clinician, not a habit.

use std::collections::BTreeSet;

use uuid::Uuid;

use super::{GoalsState, model::AssessmentItem};
use crate::health::api::{self, Grade, GradedItem};

/// The assessment item a graded checkup item counts under, if a habit can help it.
pub fn item_for(g: GradedItem) -> Option<AssessmentItem> {
    Some(match g {
        GradedItem::BloodPressure => AssessmentItem::BloodPressure,
        GradedItem::FastingGlucose => AssessmentItem::Glucose,
        GradedItem::TotalCholesterol | GradedItem::Hdl | GradedItem::Ldl | GradedItem::Triglycerides => {
            AssessmentItem::Lipids
        }
        GradedItem::Waist => AssessmentItem::Waist,
        GradedItem::Bmi => AssessmentItem::Bmi,
        GradedItem::Ast | GradedItem::Alt | GradedItem::Ggt => AssessmentItem::Liver,
        GradedItem::Hemoglobin => AssessmentItem::Haemoglobin,
        GradedItem::UrineProtein | GradedItem::SerumCreatinine | GradedItem::Egfr => return None,
    })
}

/// The checkup items that need attention in `latest`: each graded 정상B(경계) or worse that a
/// habit can help, current smoking and drinking.
pub fn attention_of(latest: &api::CheckupRecord) -> BTreeSet<AssessmentItem> {
    let mut out: BTreeSet<AssessmentItem> = latest
        .assessment
        .items
        .iter()
        .filter(|i| matches!(i.grade, Grade::NormalB | Grade::Suspected))
        .filter_map(|i| item_for(i.item))
        .collect();
    if latest.smoking == Some(api::Smoking::Current) {
        out.insert(AssessmentItem::Smoking);
    }
    if latest.drinking == Some(true) {
        out.insert(AssessmentItem::Alcohol);
    }
    out
}

/// The checkup items that need attention for `user`: none without the health-data consent or a
/// checkup.
pub async fn attention(state: &GoalsState, user: Uuid) -> anyhow::Result<BTreeSet<AssessmentItem>> {
    // Nothing without the health-data consent in force: the accessor reads nothing then.
    let Some(latest) = api::latest_checkup(state, user).await? else { return Ok(BTreeSet::new()) };
    Ok(attention_of(&latest))
}
