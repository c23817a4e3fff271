//! The bands of DOMAIN.md §1 as data: for each graded item (and sex where they differ) the
//! intervals of 정상A, 정상B(경계) and 질환의심, and the text printed for each. A value in none of
//! them is left unclassified (haemoglobin above the top, γ-GTP below the bottom), never forced into
//! a band. Values are read as continuous: "AST 41–50" is `40 < x < 51`, so 40.5 is 정상B.

use super::Grade;
use crate::users::api::Sex;

/// An interval of the real line; each end is `(value, inclusive)`, `None` is unbounded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    lo: Option<(f64, bool)>,
    hi: Option<(f64, bool)>,
}

impl Interval {
    pub fn contains(&self, x: f64) -> bool {
        let above = match self.lo {
            None => true,
            Some((v, true)) => x >= v,
            Some((v, false)) => x > v,
        };
        let below = match self.hi {
            None => true,
            Some((v, true)) => x <= v,
            Some((v, false)) => x < v,
        };
        above && below
    }
}

/// `x < v`
const fn lt(v: f64) -> Interval {
    Interval { lo: None, hi: Some((v, false)) }
}
/// `x <= v`
const fn le(v: f64) -> Interval {
    Interval { lo: None, hi: Some((v, true)) }
}
/// `x >= v`
const fn ge(v: f64) -> Interval {
    Interval { lo: Some((v, true)), hi: None }
}
/// `x > v`
const fn gt(v: f64) -> Interval {
    Interval { lo: Some((v, false)), hi: None }
}
/// `a <= x < b`
const fn co(a: f64, b: f64) -> Interval {
    Interval { lo: Some((a, true)), hi: Some((b, false)) }
}
/// `a <= x <= b`
const fn cc(a: f64, b: f64) -> Interval {
    Interval { lo: Some((a, true)), hi: Some((b, true)) }
}
/// `a < x < b`
const fn oo(a: f64, b: f64) -> Interval {
    Interval { lo: Some((a, false)), hi: Some((b, false)) }
}

/// One item's bands for one sex, and how they are printed.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    pub normal_a: &'static [Interval],
    pub normal_b: &'static [Interval],
    pub suspected: &'static [Interval],
    /// 정상A, 정상B(경계), 질환의심 as printed ("—" where the band does not exist).
    pub text: [&'static str; 3],
}

impl Scale {
    pub fn grade(&self, x: f64) -> Grade {
        let within = |bands: &[Interval]| bands.iter().any(|b| b.contains(x));
        if !x.is_finite() {
            Grade::Unclassified
        } else if within(self.normal_a) {
            Grade::NormalA
        } else if within(self.normal_b) {
            Grade::NormalB
        } else if within(self.suspected) {
            Grade::Suspected
        } else {
            Grade::Unclassified
        }
    }
}

macro_rules! scale {
    ([$($a:expr),*], [$($b:expr),*], [$($s:expr),*], $ta:literal, $tb:literal, $ts:literal) => {
        Scale { normal_a: &[$($a),*], normal_b: &[$($b),*], suspected: &[$($s),*], text: [$ta, $tb, $ts] }
    };
}

pub const BMI: Scale = scale!([co(18.5, 25.0)], [co(25.0, 30.0), lt(18.5)], [ge(30.0)], "18.5–24.9", "25–29.9, 또는 <18.5", "≥30");
pub const WAIST_MALE: Scale = scale!([lt(90.0)], [], [ge(90.0)], "<90", "—", "≥90");
pub const WAIST_FEMALE: Scale = scale!([lt(85.0)], [], [ge(85.0)], "<85", "—", "≥85");
pub const HEMOGLOBIN_MALE: Scale = scale!([cc(13.0, 16.5)], [co(12.0, 13.0)], [lt(12.0)], "13.0–16.5", "12.0–12.9", "<12.0");
pub const HEMOGLOBIN_FEMALE: Scale =
    scale!([cc(12.0, 15.5)], [co(10.0, 12.0)], [lt(10.0)], "12.0–15.5", "10.0–11.9", "<10.0");
pub const FASTING_GLUCOSE: Scale = scale!([lt(100.0)], [co(100.0, 126.0)], [ge(126.0)], "<100", "100–125", "≥126");
pub const TOTAL_CHOLESTEROL: Scale = scale!([lt(200.0)], [co(200.0, 240.0)], [ge(240.0)], "<200", "200–239", "≥240");
pub const HDL: Scale = scale!([ge(60.0)], [co(40.0, 60.0)], [lt(40.0)], "≥60", "40–59", "<40");
pub const TRIGLYCERIDES: Scale = scale!([lt(150.0)], [co(150.0, 200.0)], [ge(200.0)], "<150", "150–199", "≥200");
pub const LDL: Scale = scale!([lt(130.0)], [co(130.0, 160.0)], [ge(160.0)], "<130", "130–159", "≥160");
pub const AST: Scale = scale!([le(40.0)], [oo(40.0, 51.0)], [ge(51.0)], "≤40", "41–50", "≥51");
pub const ALT: Scale = scale!([le(35.0)], [oo(35.0, 46.0)], [ge(46.0)], "≤35", "36–45", "≥46");
pub const GGT_MALE: Scale = scale!([cc(11.0, 63.0)], [oo(63.0, 78.0)], [ge(78.0)], "11–63", "64–77", "≥78");
pub const GGT_FEMALE: Scale = scale!([cc(8.0, 35.0)], [oo(35.0, 46.0)], [ge(46.0)], "8–35", "36–45", "≥46");
/// Dipstick codes: 1 (−), 2 (±), 3–6 (+1 … +4).
pub const URINE_PROTEIN: Scale = scale!([cc(1.0, 1.0)], [cc(2.0, 2.0)], [cc(3.0, 6.0)], "음성(−)", "약양성(±)", "양성(+1 이상)");
pub const SERUM_CREATININE: Scale = scale!([le(1.5)], [], [gt(1.5)], "≤1.5", "—", ">1.5");
pub const EGFR: Scale = scale!([ge(60.0)], [], [lt(60.0)], "≥60", "—", "<60");

/// Blood pressure is graded on the pair: 정상A needs both below (<120 and <80), 질환의심 either
/// above (≥140 or ≥90); anything between is 정상B(경계).
pub fn blood_pressure(systolic: f64, diastolic: f64) -> Grade {
    if !systolic.is_finite() || !diastolic.is_finite() {
        Grade::Unclassified
    } else if systolic >= 140.0 || diastolic >= 90.0 {
        Grade::Suspected
    } else if systolic < 120.0 && diastolic < 80.0 {
        Grade::NormalA
    } else {
        Grade::NormalB
    }
}

pub const BLOOD_PRESSURE_TEXT: [&str; 3] = ["<120 그리고 <80", "120–139 또는 80–89", "≥140 또는 ≥90"];

pub fn waist(sex: Sex) -> &'static Scale {
    match sex {
        Sex::Male => &WAIST_MALE,
        Sex::Female => &WAIST_FEMALE,
    }
}

pub fn hemoglobin(sex: Sex) -> &'static Scale {
    match sex {
        Sex::Male => &HEMOGLOBIN_MALE,
        Sex::Female => &HEMOGLOBIN_FEMALE,
    }
}

pub fn ggt(sex: Sex) -> &'static Scale {
    match sex {
        Sex::Male => &GGT_MALE,
        Sex::Female => &GGT_FEMALE,
    }
}
