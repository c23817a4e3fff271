//! Every threshold of DOMAIN.md §1, pinned on both sides of every boundary, for both sexes.

use chrono::NaiveDate;

use super::{overall::metabolic_syndrome, *};
use crate::{health::model::Condition, users::api::Sex::*};

const A: Grade = Grade::NormalA;
const B: Grade = Grade::NormalB;
const S: Grade = Grade::Suspected;
const U: Grade = Grade::Unclassified;

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn one(item: GradedItem, set: impl Fn(&mut Measurements), sex: Sex) -> Grade {
    let mut m = Measurements::default();
    set(&mut m);
    let a = assess(&m, sex, date("2026-03-02"), &[]);
    a.grade_of(item).unwrap_or_else(|| panic!("{item:?} was not graded"))
}

/// `(value, grade)` cases for one numeric item, for the given sexes.
fn check(item: GradedItem, sexes: &[Sex], cases: &[(f64, Grade)]) {
    let info = item.info().unwrap();
    for &sex in sexes {
        for &(v, want) in cases {
            let got = one(item, |m| (info.set)(m, Some(v)), sex);
            assert_eq!(got, want, "{item:?} {sex:?} {v}");
        }
    }
}

#[test]
fn blood_pressure_is_graded_on_the_pair() {
    let cases = [
        ((119.0, 79.0), A),
        ((120.0, 79.0), B),
        ((119.0, 80.0), B),
        ((139.0, 89.0), B),
        ((140.0, 70.0), S),
        ((110.0, 90.0), S),
        ((139.0, 90.0), S),
        ((140.0, 89.0), S),
        ((100.0, 60.0), A),
    ];
    for sex in [Male, Female] {
        for ((s, d), want) in cases {
            let got = one(
                GradedItem::BloodPressure,
                |m| {
                    m.systolic = Some(s);
                    m.diastolic = Some(d);
                },
                sex,
            );
            assert_eq!(got, want, "{s}/{d} {sex:?}");
        }
    }
    let mut only_one = Measurements { systolic: Some(150.0), ..Default::default() };
    assert_eq!(assess(&only_one, Male, date("2026-03-02"), &[]).grade_of(GradedItem::BloodPressure), None);
    only_one.diastolic = Some(95.0);
    let a = assess(&only_one, Male, date("2026-03-02"), &[]);
    assert_eq!(a.items[0].value, ItemValue::Text("150/95".into()));
}

#[test]
fn bmi_bands_on_one_decimal_both_sexes() {
    // Height 100 cm makes BMI equal the weight.
    let cases = [(18.4, B), (18.5, A), (24.9, A), (24.94, A), (24.96, B), (25.0, B), (29.9, B), (30.0, S), (12.0, B)];
    for sex in [Male, Female] {
        for (w, want) in cases {
            let got = one(
                GradedItem::Bmi,
                |m| {
                    m.height = Some(100.0);
                    m.weight = Some(w);
                },
                sex,
            );
            assert_eq!(got, want, "BMI {w} {sex:?}");
        }
    }
    let m = Measurements { height: Some(172.0), weight: Some(70.0), ..Default::default() };
    assert_eq!(m.bmi(), Some(23.7));
}

#[test]
fn waist_differs_by_sex() {
    check(GradedItem::Waist, &[Male], &[(89.9, A), (90.0, S), (85.0, A)]);
    check(GradedItem::Waist, &[Female], &[(84.9, A), (85.0, S), (89.0, S)]);
}

#[test]
fn haemoglobin_differs_by_sex_and_above_the_top_is_unclassified() {
    check(
        GradedItem::Hemoglobin,
        &[Male],
        &[(11.9, S), (12.0, B), (12.9, B), (13.0, A), (16.5, A), (16.6, U), (10.0, S)],
    );
    check(
        GradedItem::Hemoglobin,
        &[Female],
        &[(9.9, S), (10.0, B), (11.9, B), (12.0, A), (15.5, A), (15.6, U), (13.0, A)],
    );
}

#[test]
fn fasting_glucose() {
    check(GradedItem::FastingGlucose, &[Male, Female], &[(99.0, A), (99.9, A), (100.0, B), (125.0, B), (125.9, B), (126.0, S)]);
}

#[test]
fn total_cholesterol() {
    check(GradedItem::TotalCholesterol, &[Male, Female], &[(199.0, A), (200.0, B), (239.0, B), (240.0, S)]);
}

#[test]
fn hdl_is_better_high() {
    check(GradedItem::Hdl, &[Male, Female], &[(60.0, A), (59.9, B), (59.0, B), (40.0, B), (39.9, S), (39.0, S)]);
}

#[test]
fn triglycerides() {
    check(GradedItem::Triglycerides, &[Male, Female], &[(149.0, A), (150.0, B), (199.0, B), (200.0, S)]);
}

#[test]
fn ldl() {
    check(GradedItem::Ldl, &[Male, Female], &[(129.0, A), (130.0, B), (159.0, B), (160.0, S)]);
}

#[test]
fn ast_and_alt() {
    check(GradedItem::Ast, &[Male, Female], &[(40.0, A), (40.5, B), (41.0, B), (50.0, B), (50.9, B), (51.0, S)]);
    check(GradedItem::Alt, &[Male, Female], &[(35.0, A), (36.0, B), (45.0, B), (45.5, B), (46.0, S)]);
}

#[test]
fn ggt_differs_by_sex_and_below_the_bottom_is_unclassified() {
    check(GradedItem::Ggt, &[Male], &[(10.0, U), (11.0, A), (63.0, A), (64.0, B), (77.0, B), (78.0, S), (40.0, A)]);
    check(GradedItem::Ggt, &[Female], &[(7.0, U), (8.0, A), (35.0, A), (36.0, B), (45.0, B), (46.0, S), (63.0, S)]);
}

#[test]
fn urine_protein_codes() {
    for sex in [Male, Female] {
        for (code, want) in [(1, A), (2, B), (3, S), (4, S), (5, S), (6, S)] {
            let got = one(GradedItem::UrineProtein, |m| m.urine_protein = Some(code), sex);
            assert_eq!(got, want, "{code} {sex:?}");
        }
    }
}

#[test]
fn creatinine_and_egfr() {
    check(GradedItem::SerumCreatinine, &[Male, Female], &[(1.5, A), (1.51, S), (0.6, A)]);
    check(GradedItem::Egfr, &[Male, Female], &[(60.0, A), (59.9, S), (59.0, S), (95.0, A)]);
}

fn full(sex: Sex) -> Measurements {
    Measurements {
        height: Some(170.0),
        weight: Some(65.0),
        waist: Some(80.0),
        systolic: Some(115.0),
        diastolic: Some(75.0),
        fasting_glucose: Some(90.0),
        total_cholesterol: Some(180.0),
        hdl: Some(65.0),
        ldl: Some(100.0),
        triglycerides: Some(100.0),
        hemoglobin: Some(if sex == Male { 14.5 } else { 13.0 }),
        urine_protein: Some(1),
        serum_creatinine: Some(0.9),
        egfr: Some(95.0),
        ast: Some(25.0),
        alt: Some(20.0),
        ggt: Some(20.0),
        ..Default::default()
    }
}

#[test]
fn the_overall_category_follows_the_most_significant_finding() {
    let d26 = date("2026-03-02");
    let a = assess(&full(Female), Female, d26, &[]);
    assert_eq!((a.overall, a.coverage.graded, a.flags.len()), (Some(Overall::NormalA), 15, 0));
    assert_eq!(a.rule_version, "MOHW-2026-6");

    let b = assess(&Measurements { ldl: Some(140.0), ..full(Male) }, Male, d26, &[]);
    assert_eq!(b.overall, Some(Overall::NormalB));

    let lipid = Measurements { ldl: Some(170.0), ..full(Male) };
    assert_eq!(assess(&lipid, Male, d26, &[]).overall, Some(Overall::SuspectedHtnDmDyslipidemia));
    let before = assess(&lipid, Male, date("2025-10-01"), &[]);
    assert_eq!((before.overall, before.rule_version.as_str()), (Some(Overall::SuspectedGeneral), "MOHW-BEFORE-2026"));

    let bp = Measurements { systolic: Some(150.0), ..full(Male) };
    assert_eq!(assess(&bp, Male, date("2025-10-01"), &[]).overall, Some(Overall::SuspectedHtnDm));
    let treated = assess(&bp, Male, d26, &[Condition::Hypertension]);
    assert_eq!(treated.overall, Some(Overall::UnderTreatment));
    assert!(treated.flags.iter().all(|f| f.code != FlagCode::ConfirmatoryVisit));

    let liver = Measurements { alt: Some(60.0), systolic: Some(150.0), ..full(Male) };
    let both = assess(&liver, Male, d26, &[]);
    assert_eq!(both.categories, [Overall::SuspectedHtnDmDyslipidemia, Overall::SuspectedGeneral]);
    assert_eq!(both.worst_grade(), Some(Grade::Suspected));

    let nothing = assess(&Measurements { hemoglobin: Some(17.5), ..Default::default() }, Male, d26, &[]);
    assert_eq!((nothing.overall, nothing.coverage), (None, Coverage { measured: 1, graded: 0 }));
}

#[test]
fn a_missing_lipid_panel_is_normal_not_an_error() {
    let m = Measurements { total_cholesterol: None, hdl: None, ldl: None, triglycerides: None, ..full(Female) };
    let a = assess(&m, Female, date("2026-03-02"), &[]);
    assert_eq!(a.overall, Some(Overall::NormalA));
    assert_eq!(a.not_measured.len(), 4);
    assert!(a.not_measured.iter().all(|i| i.is_lipid()));
    assert_eq!(a.notes.len(), 1);
    assert_eq!(a.metabolic_syndrome.evaluated, 3);
}

#[test]
fn metabolic_syndrome_counts_three_of_five_with_sex_specific_cuts() {
    let base = Measurements {
        waist: Some(86.0),
        systolic: Some(128.0),
        diastolic: Some(84.0),
        fasting_glucose: Some(99.0),
        triglycerides: Some(149.0),
        hdl: Some(45.0),
        ..Default::default()
    };
    let men = metabolic_syndrome(&base, Male);
    assert_eq!((men.count, men.meets_definition), (0, Some(false)));
    let women = metabolic_syndrome(&base, Female);
    assert_eq!(women.criteria, [MetabolicCriterion::Waist, MetabolicCriterion::Hdl]);
    let three = Measurements { systolic: Some(130.0), ..base.clone() };
    let w = metabolic_syndrome(&three, Female);
    assert_eq!((w.count, w.meets_definition), (3, Some(true)));
    let m = Measurements { diastolic: Some(85.0), fasting_glucose: Some(100.0), triglycerides: Some(150.0), ..base.clone() };
    let men = metabolic_syndrome(&m, Male);
    assert_eq!(
        men.criteria,
        [MetabolicCriterion::BloodPressure, MetabolicCriterion::FastingGlucose, MetabolicCriterion::Triglycerides]
    );
    let edge = Measurements { waist: Some(90.0), hdl: Some(39.9), ..base.clone() };
    assert_eq!(metabolic_syndrome(&edge, Male).criteria, [MetabolicCriterion::Waist, MetabolicCriterion::Hdl]);
    let unknown = metabolic_syndrome(&Measurements { waist: Some(95.0), ..Default::default() }, Male);
    assert_eq!((unknown.count, unknown.evaluated, unknown.meets_definition), (1, 1, None));
}

#[test]
fn suspected_findings_become_referrals_with_the_confirmatory_deadline() {
    let m = Measurements { fasting_glucose: Some(130.0), egfr: Some(55.0), ast: Some(60.0), ..full(Female) };
    let a = assess(&m, Female, date("2026-11-20"), &[]);
    let codes: Vec<FlagCode> = a.flags.iter().map(|f| f.code).collect();
    assert_eq!(codes, [FlagCode::ConfirmatoryVisit, FlagCode::KidneyReferral, FlagCode::ClinicianReferral]);
    assert_eq!(a.flags[0].deadline, Some(date("2027-01-31")));
    assert!(a.flags[0].message.contains("2027년 1월 31일"));
    assert_eq!(a.flags[1].items, [GradedItem::Egfr]);
    assert_eq!(a.flags[2].items, [GradedItem::Ast]);
    let proteinuria = Measurements { urine_protein: Some(3), ..full(Male) };
    let p = assess(&proteinuria, Male, date("2026-11-20"), &[]);
    assert_eq!(p.flags.iter().map(|f| f.code).collect::<Vec<_>>(), [FlagCode::KidneyReferral]);
}

#[test]
fn wording_never_diagnoses() {
    let m = Measurements { systolic: Some(170.0), diastolic: Some(100.0), ..full(Male) };
    let a = assess(&m, Male, date("2026-03-02"), &[]);
    let text: Vec<&str> = a
        .items
        .iter()
        .map(|i| i.statement.as_str())
        .chain(a.flags.iter().map(|f| f.message.as_str()))
        .collect();
    for t in text {
        for banned in ["고혈압입니다", "당뇨입니다", "진단합니다", "위험이 높습니다", "질환이 있습니다"] {
            assert!(!t.contains(banned), "{t}");
        }
    }
    assert!(a.items[0].statement.contains("국가검진 기준상 ‘질환의심’ 범위"));
}

#[test]
fn the_reference_text_is_the_domain_table() {
    assert_eq!(GradedItem::Waist.reference_text(Male), ["<90", "—", "≥90"]);
    assert_eq!(GradedItem::Waist.reference_text(Female), ["<85", "—", "≥85"]);
    assert_eq!(GradedItem::Ggt.reference_text(Female), ["8–35", "36–45", "≥46"]);
    assert_eq!(GradedItem::BloodPressure.reference_text(Male)[2], "≥140 또는 ≥90");
    for item in GradedItem::ALL {
        assert_eq!(GradedItem::parse(item.name()), Some(item));
        assert!(!item.describe().0.is_empty());
    }
}
