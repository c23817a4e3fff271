//! Which version of 보건복지부 고시 「건강검진 실시기준」 judges a checkup: the one in force on its
//! checkup date (DOMAIN.md §1). Versions are only ever appended, never edited, so an old checkup
//! keeps the judgement it had.

use chrono::NaiveDate;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleVersion {
    /// Stable id, stored with every assessment.
    pub id: &'static str,
    /// What a person reads.
    pub label: &'static str,
    /// First day in force; `None` for the oldest version we judge by.
    pub effective_from: Option<(i32, u32, u32)>,
    /// 2026: dyslipidaemia joins hypertension and diabetes in the dedicated "질환의심" category;
    /// before, that category covered hypertension and diabetes only and a lipid finding was a
    /// general one.
    pub lipids_in_metabolic_category: bool,
}

/// 제2026-6호, in force from 2026-01-07.
pub const MOHW_2026_6: RuleVersion = RuleVersion {
    id: "MOHW-2026-6",
    label: "보건복지부 고시 제2026-6호 「건강검진 실시기준」(2026-01-07 시행)",
    effective_from: Some((2026, 1, 7)),
    lipids_in_metabolic_category: true,
};

/// The rules before 2026-01-07: the same item bands, with a "고혈압·당뇨병 질환의심" category
/// (`고∙당` in aggregator data). Its notice number is not printed because it was not confirmed.
pub const BEFORE_2026: RuleVersion = RuleVersion {
    id: "MOHW-BEFORE-2026",
    label: "「건강검진 실시기준」 2026-01-07 이전 고시",
    effective_from: None,
    lipids_in_metabolic_category: false,
};

/// Newest first.
pub const VERSIONS: &[RuleVersion] = &[MOHW_2026_6, BEFORE_2026];

/// The version in force on `date`.
pub fn version_for(date: NaiveDate) -> &'static RuleVersion {
    VERSIONS
        .iter()
        .find(|v| match v.effective_from {
            Some((y, m, d)) => NaiveDate::from_ymd_opt(y, m, d).is_some_and(|from| date >= from),
            None => true,
        })
        .unwrap_or(&BEFORE_2026)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkup_is_judged_by_the_version_in_force_on_its_date() {
        let d = |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(version_for(d("2026-01-06")).id, "MOHW-BEFORE-2026");
        assert_eq!(version_for(d("2026-01-07")).id, "MOHW-2026-6");
        assert_eq!(version_for(d("2031-05-01")).id, "MOHW-2026-6");
        assert_eq!(version_for(d("2012-05-01")).id, "MOHW-BEFORE-2026");
    }
}
