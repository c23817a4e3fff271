//! The edge: a manual entry becomes a [`NewCheckup`] or a list of every failing field; values an
//! aggregator sends are kept only when plausible (the raw payload keeps the rest).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Condition, Measurements, NewCheckup, Smoking, Source, items, round_to};
use crate::http::{
    FieldError,
    text::{self, TextError},
};

/// The oldest checkup date accepted.
pub fn earliest_checkup_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(1980, 1, 1).unwrap_or_default()
}

/// Vision 9.9 is the open data's code for "blind", accepted besides the range.
const BLIND: f64 = 9.9;

/// A paper result typed in by its owner: flat camelCase, everything but the date optional.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManualEntry {
    /// The checkup date, exactly `YYYY-MM-DD`; not in the future.
    #[schema(format = Date, example = "2025-10-14", pattern = "@date")]
    pub checkup_date: String,
    #[schema(minimum = 100, maximum = 250)]
    pub height: Option<f64>,
    #[schema(minimum = 20, maximum = 300)]
    pub weight: Option<f64>,
    #[schema(minimum = 40, maximum = 200)]
    pub waist: Option<f64>,
    #[schema(minimum = 60, maximum = 260)]
    pub systolic: Option<f64>,
    #[schema(minimum = 30, maximum = 160)]
    pub diastolic: Option<f64>,
    #[schema(minimum = 20, maximum = 1000)]
    pub fasting_glucose: Option<f64>,
    #[schema(minimum = 50, maximum = 1000)]
    pub total_cholesterol: Option<f64>,
    #[schema(minimum = 5, maximum = 250)]
    pub hdl: Option<f64>,
    #[schema(minimum = 5, maximum = 600)]
    pub ldl: Option<f64>,
    #[schema(minimum = 10, maximum = 5000)]
    pub triglycerides: Option<f64>,
    #[schema(minimum = 3, maximum = 25)]
    pub hemoglobin: Option<f64>,
    /// 1 (−), 2 (±), 3 (+1), 4 (+2), 5 (+3), 6 (+4).
    #[schema(minimum = 1, maximum = 6)]
    pub urine_protein: Option<i64>,
    #[schema(minimum = 0.1, maximum = 20)]
    pub serum_creatinine: Option<f64>,
    #[schema(minimum = 1, maximum = 200)]
    pub egfr: Option<f64>,
    #[schema(minimum = 1, maximum = 5000)]
    pub ast: Option<f64>,
    #[schema(minimum = 1, maximum = 5000)]
    pub alt: Option<f64>,
    #[schema(minimum = 1, maximum = 5000)]
    pub ggt: Option<f64>,
    /// 0.1–2.5, or 9.9 (blind).
    pub vision_left: Option<f64>,
    pub vision_right: Option<f64>,
    /// 1 normal, 2 abnormal.
    #[schema(minimum = 1, maximum = 2)]
    pub hearing_left: Option<i64>,
    #[schema(minimum = 1, maximum = 2)]
    pub hearing_right: Option<i64>,
    /// 1 never, 2 former, 3 current.
    #[schema(minimum = 1, maximum = 3)]
    pub smoking: Option<i64>,
    pub drinking: Option<bool>,
    /// The checkup centre, as printed (up to 100 visible characters; empty means none).
    #[schema(max_length = 100, pattern = "@text-or-empty")]
    pub centre: Option<String>,
    /// Conditions already diagnosed and treated (유질환자), each once.
    #[schema(schema_with = conditions_once)]
    pub treated_for: Option<Vec<Condition>>,
    /// An uploaded result sheet these values were typed from (`POST /api/health/checkup/files`).
    pub file_id: Option<Uuid>,
}

/// `treatedFor`'s schema: conditions, each at most once (`uniqueItems`), or null.
fn conditions_once() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, SchemaType, Type};
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(<Condition as utoipa::PartialSchema>::schema())
        .unique_items(true)
        .build()
}

fn code(errors: &mut Vec<FieldError>, field: &str, v: Option<i64>, max: i64, msg: &str) -> Option<u8> {
    match v {
        None => None,
        Some(c) if (1..=max).contains(&c) => Some(c as u8),
        Some(_) => {
            errors.push(FieldError::new(field, msg));
            None
        }
    }
}

/// A checkup date: ISO, not in the future (Seoul), not before 1980 nor before the birth date.
pub fn parse_checkup_date(
    raw: &str,
    today: NaiveDate,
    birth: Option<NaiveDate>,
) -> Result<NaiveDate, FieldError> {
    let field = "checkupDate";
    let date =
        text::iso_date(raw).ok_or_else(|| FieldError::new(field, "검진일은 YYYY-MM-DD 형식으로 입력해 주세요."))?;
    if date > today {
        return Err(FieldError::new(field, "검진일이 미래일 수는 없습니다."));
    }
    if date < earliest_checkup_date() || birth.is_some_and(|b| date < b) {
        return Err(FieldError::new(field, "검진일을 다시 확인해 주세요."));
    }
    Ok(date)
}

/// Checks every value of `m` against its plausible range and rounds it to its stored precision;
/// each failure names its field.
pub fn check_measurements(m: &mut Measurements, errors: &mut Vec<FieldError>) {
    for item in items::NUMERIC_ITEMS {
        let Some(v) = (item.get)(m) else { continue };
        let blind = item.name.starts_with("vision") && v == BLIND;
        if !v.is_finite() || (!blind && !(item.min..=item.max).contains(&v)) {
            let unit = if item.unit.is_empty() { String::new() } else { format!(" {}", item.unit) };
            let message = format!("{}은(는) {}~{}{unit} 범위로 입력해 주세요.", item.label, item.min, item.max);
            errors.push(FieldError::new(item.name, message));
            continue;
        }
        (item.set)(m, Some(round_to(v, item.decimals)));
    }
    let failed = |name: &str| errors.iter().any(|e| e.field == name);
    let (bp_ok, lipid_ok) = (!failed("systolic") && !failed("diastolic"), !failed("hdl") && !failed("totalCholesterol"));
    if let (Some(s), Some(d), true) = (m.systolic, m.diastolic, bp_ok)
        && d >= s
    {
        errors.push(FieldError::new("diastolic", "이완기 혈압은 수축기 혈압보다 낮아야 합니다."));
    }
    if let (Some(hdl), Some(total), true) = (m.hdl, m.total_cholesterol, lipid_ok)
        && hdl > total
    {
        errors.push(FieldError::new("hdl", "HDL 콜레스테롤은 총콜레스테롤보다 클 수 없습니다."));
    }
}

/// The manual entry as a new checkup, or every failing field.
pub fn parse_manual(
    e: &ManualEntry,
    today: NaiveDate,
    birth: Option<NaiveDate>,
) -> Result<NewCheckup, Vec<FieldError>> {
    let mut errors = Vec::new();
    let date = parse_checkup_date(&e.checkup_date, today, birth).map_err(|f| errors.push(f)).ok();
    let mut m = Measurements {
        height: e.height,
        weight: e.weight,
        waist: e.waist,
        systolic: e.systolic,
        diastolic: e.diastolic,
        fasting_glucose: e.fasting_glucose,
        total_cholesterol: e.total_cholesterol,
        hdl: e.hdl,
        ldl: e.ldl,
        triglycerides: e.triglycerides,
        hemoglobin: e.hemoglobin,
        serum_creatinine: e.serum_creatinine,
        egfr: e.egfr,
        ast: e.ast,
        alt: e.alt,
        ggt: e.ggt,
        vision_left: e.vision_left,
        vision_right: e.vision_right,
        drinking: e.drinking,
        ..Measurements::default()
    };
    check_measurements(&mut m, &mut errors);
    m.urine_protein =
        code(&mut errors, "urineProtein", e.urine_protein, 6, "요단백은 1(−)~6(+4) 코드로 입력해 주세요.");
    let hearing = "청력은 1(정상) 또는 2(비정상)로 입력해 주세요.";
    m.hearing_left = code(&mut errors, "hearingLeft", e.hearing_left, 2, hearing);
    m.hearing_right = code(&mut errors, "hearingRight", e.hearing_right, 2, hearing);
    m.smoking = code(&mut errors, "smoking", e.smoking, 3, "흡연은 1(비흡연)~3(현재 흡연) 코드로 입력해 주세요.")
        .and_then(|c| Smoking::try_from(c).ok());
    let centre = match e.centre.as_deref().map(|c| text::visible_text(c, 100, false)) {
        None | Some(Err(TextError::Empty)) => None,
        Some(Ok(c)) => Some(c),
        Some(Err(TextError::TooLong)) => {
            errors.push(FieldError::new("centre", "검진기관 이름은 100자 이내로 입력해 주세요."));
            None
        }
        Some(Err(TextError::Forbidden)) => {
            errors.push(FieldError::new("centre", "검진기관 이름에 쓸 수 없는 문자가 있습니다."));
            None
        }
    };
    if !m.has_measurement() && errors.is_empty() {
        errors.push(FieldError::new("body", "검사 값을 하나 이상 입력해 주세요."));
    }
    let treated_for = e.treated_for.clone().unwrap_or_default();
    if treated_for.iter().enumerate().any(|(i, c)| treated_for[..i].contains(c)) {
        errors.push(FieldError::new("treatedFor", "같은 질환을 두 번 보낼 수 없습니다."));
    }
    match (date, errors.is_empty()) {
        (Some(checkup_date), true) => Ok(NewCheckup {
            checkup_date,
            source: if e.file_id.is_some() { Source::Upload } else { Source::Manual },
            centre,
            centre_judgement: None,
            centre_opinion: None,
            treated_for,
            measurements: m,
            raw: serde_json::to_value(e).unwrap_or_default(),
        }),
        _ => Err(errors),
    }
}

/// What an aggregator sent, kept only where plausible: each implausible value is dropped (the raw
/// payload still has it) and its field name returned.
pub fn keep_plausible(m: &mut Measurements) -> Vec<String> {
    let mut errors = Vec::new();
    check_measurements(m, &mut errors);
    for e in &errors {
        match e.field.as_str() {
            "diastolic" if m.diastolic.is_some_and(|d| m.systolic.is_some_and(|s| d >= s)) => {
                m.systolic = None;
                m.diastolic = None;
            }
            "hdl" if m.hdl.zip(m.total_cholesterol).is_some_and(|(h, t)| h > t) => m.hdl = None,
            name => {
                if let Some(item) = items::by_name(name) {
                    (item.set)(m, None);
                }
            }
        }
    }
    let bad = |c: Option<u8>, max: u8| c.filter(|c| (1..=max).contains(c));
    m.urine_protein = bad(m.urine_protein, 6);
    m.hearing_left = bad(m.hearing_left, 2);
    m.hearing_right = bad(m.hearing_right, 2);
    errors.into_iter().map(|e| e.field).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn fields(r: Result<NewCheckup, Vec<FieldError>>) -> Vec<String> {
        r.unwrap_err().into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn implausible_values_are_refused_with_every_failing_field_named() {
        let today = d("2026-03-01");
        let e = ManualEntry {
            checkup_date: "2026-03-02".into(),
            systolic: Some(20.0),
            fasting_glucose: Some(5000.0),
            urine_protein: Some(7),
            hearing_left: Some(0),
            smoking: Some(4),
            height: Some(f64::NAN),
            ..Default::default()
        };
        let got = fields(parse_manual(&e, today, None));
        assert_eq!(
            got,
            ["checkupDate", "height", "systolic", "fastingGlucose", "urineProtein", "hearingLeft", "smoking"]
        );
    }

    #[test]
    fn dates_are_checked_against_today_the_birth_date_and_1980() {
        let today = d("2026-03-01");
        assert!(parse_checkup_date("2026-03-01", today, None).is_ok());
        for bad in
            ["2026-03-02", "1979-12-31", "2026/03/01", "", "2025-02-30", "+002024-03-01", "2024-3-2", " 2024-03-03 "]
        {
            assert!(parse_checkup_date(bad, today, None).is_err(), "{bad}");
        }
        assert!(parse_checkup_date("1990-01-01", today, Some(d("1991-01-01"))).is_err());
    }

    #[test]
    fn a_blood_pressure_pair_must_be_in_order_and_values_are_rounded() {
        let today = d("2026-03-01");
        let e = ManualEntry {
            checkup_date: "2025-10-01".into(),
            systolic: Some(80.0),
            diastolic: Some(90.0),
            ..Default::default()
        };
        assert_eq!(fields(parse_manual(&e, today, None)), ["diastolic"]);
        let e = ManualEntry {
            checkup_date: "2025-10-01".into(),
            hemoglobin: Some(13.04),
            serum_creatinine: Some(1.234),
            vision_left: Some(9.9),
            file_id: Some(Uuid::nil()),
            ..Default::default()
        };
        let c = parse_manual(&e, today, None).unwrap();
        assert_eq!(c.measurements.hemoglobin, Some(13.0));
        assert_eq!(c.measurements.serum_creatinine, Some(1.23));
        assert_eq!(c.measurements.vision_left, Some(9.9));
        assert_eq!(c.source, Source::Upload);
        let empty = ManualEntry { checkup_date: "2025-10-01".into(), ..Default::default() };
        assert_eq!(fields(parse_manual(&empty, today, None)), ["body"]);
        let answers_only = ManualEntry {
            checkup_date: "2025-10-01".into(),
            drinking: Some(false),
            smoking: Some(1),
            ..Default::default()
        };
        assert_eq!(fields(parse_manual(&answers_only, today, None)), ["body"], "answers are no measurement");
    }

    #[test]
    fn the_centre_follows_the_text_rules_and_conditions_come_once() {
        let today = d("2026-03-01");
        let base = ManualEntry { checkup_date: "2025-10-01".into(), weight: Some(70.0), ..Default::default() };
        for bad in ["invoice\u{202E}gnp", "\u{200B}\u{200B}", "a\u{0}b", "센터\u{E0041}"] {
            let e = ManualEntry { centre: Some(bad.into()), ..base.clone() };
            assert_eq!(fields(parse_manual(&e, today, None)), ["centre"], "{bad:?}");
        }
        let e = ManualEntry { centre: Some(" 서울검진센터 ".into()), ..base.clone() };
        assert_eq!(parse_manual(&e, today, None).unwrap().centre.as_deref(), Some("서울검진센터"));
        let twice = ManualEntry {
            treated_for: Some(vec![Condition::Hypertension, Condition::Diabetes, Condition::Hypertension]),
            ..base.clone()
        };
        assert_eq!(fields(parse_manual(&twice, today, None)), ["treatedFor"]);
    }

    #[test]
    fn aggregator_values_out_of_range_are_dropped_not_fatal() {
        let mut m = Measurements {
            systolic: Some(20.0),
            diastolic: Some(70.0),
            fasting_glucose: Some(95.0),
            urine_protein: Some(9),
            ..Default::default()
        };
        let dropped = keep_plausible(&mut m);
        assert_eq!(dropped, ["systolic"]);
        assert_eq!((m.systolic, m.diastolic, m.fasting_glucose, m.urine_protein), (None, Some(70.0), Some(95.0), None));
        let mut swapped = Measurements { systolic: Some(80.0), diastolic: Some(120.0), ..Default::default() };
        keep_plausible(&mut swapped);
        assert_eq!((swapped.systolic, swapped.diastolic), (None, None));
    }
}
