//! The seam to the health domain: which checkup items need attention for a user, the input of
//! the recommendation rules (`recommend::Input::attention`).
//!
//! The health domain (checkups and their assessment) is not part of the app yet, so nothing
//! needs attention and recommendations come from the catalogue alone, as issue 9 asks. Wiring it
//! in is this function only: list `health` before `goals` in `domains!(...)`, ask its Rust API for
//! the user's latest assessment (only with the user's health-data consent) and map each item it
//! grades 정상B(경계) or worse to an [`AssessmentItem`] (blood pressure → `BLOOD_PRESSURE`, fasting
//! glucose → `GLUCOSE`, total/HDL/LDL cholesterol and triglycerides → `LIPIDS`, waist → `WAIST`,
//! BMI → `BMI`, AST/ALT/γ-GTP → `LIVER`, haemoglobin → `HAEMOGLOBIN`, current smoking → `SMOKING`,
//! drinking → `ALCOHOL`). Items in the 질환의심 range are the health domain's to refer, not
//! missions to replace a referral (DOMAIN.md §4); missions may still support them.

use std::collections::BTreeSet;

use uuid::Uuid;

use super::{GoalsState, model::AssessmentItem};

/// The checkup items that need attention for `user` (none until the health domain is listed).
pub async fn attention(_state: &GoalsState, _user: Uuid) -> anyhow::Result<BTreeSet<AssessmentItem>> {
    Ok(BTreeSet::new())
}
