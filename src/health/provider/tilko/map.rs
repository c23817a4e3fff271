//! From an aggregator's checkup list to the model. Values come as strings ("120/80", "1.0/1.2",
//! "음성", blank cells), item names vary ("AST(SGOT)", `waist` vs `waists`), the centre's judgement
//! is abbreviated ("정A", "의심", "고∙당"). Names are mapped by alias, values parsed tolerantly,
//! unknown values kept as given in the raw record, and a record without a usable date skipped.

use chrono::NaiveDate;
use serde_json::Value;

use crate::health::{
    judge::Overall,
    model::{Measurements, NewCheckup, Source, validate},
};

/// What came out of one list.
#[derive(Debug, Default)]
pub struct Mapped {
    pub checkups: Vec<NewCheckup>,
    /// Records without a usable checkup date.
    pub skipped: usize,
    /// Values dropped as implausible (kept in the raw record).
    pub dropped_values: usize,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Field {
    BloodPressure,
    Vision,
    Hearing,
    UrineProtein,
    Waist,
    Height,
    Weight,
    Bmi,
    Hemoglobin,
    Glucose,
    TotalCholesterol,
    Hdl,
    Ldl,
    Triglycerides,
    Creatinine,
    Egfr,
    Alt,
    Ast,
    Ggt,
}

fn normalise(name: &str) -> String {
    name.chars().filter(|c| !c.is_whitespace()).flat_map(char::to_lowercase).collect()
}

/// The field an item name means; the order matters (`waist` contains `ast`, `sgpt` contains `gpt`).
fn field(name: &str) -> Option<Field> {
    let n = normalise(name);
    let has = |keys: &[&str]| keys.iter().any(|k| n.contains(k));
    Some(match () {
        _ if has(&["혈압", "bloodpressure"]) => Field::BloodPressure,
        _ if has(&["시력", "vision", "sight"]) => Field::Vision,
        _ if has(&["청력", "hearing"]) => Field::Hearing,
        _ if has(&["요단백", "proteinuria", "urineprotein"]) => Field::UrineProtein,
        _ if has(&["허리", "waist"]) => Field::Waist,
        _ if has(&["신장", "height"]) || n == "키" => Field::Height,
        _ if has(&["체중", "몸무게", "weight"]) => Field::Weight,
        _ if has(&["체질량", "bmi"]) => Field::Bmi,
        _ if has(&["혈색소", "헤모글로빈", "hemoglobin", "haemoglobin"]) => Field::Hemoglobin,
        _ if has(&["혈당", "glucose"]) => Field::Glucose,
        _ if has(&["총콜레스테롤", "totalcholesterol"]) => Field::TotalCholesterol,
        _ if has(&["hdl", "고밀도"]) => Field::Hdl,
        _ if has(&["ldl", "저밀도"]) => Field::Ldl,
        _ if has(&["중성지방", "트리글리", "triglycerid"]) => Field::Triglycerides,
        _ if has(&["크레아티닌", "creatinine"]) => Field::Creatinine,
        _ if has(&["사구체", "gfr"]) => Field::Egfr,
        _ if has(&["sgpt", "지피티", "alt"]) => Field::Alt,
        _ if has(&["sgot", "지오티", "ast"]) => Field::Ast,
        _ if has(&["감마", "gtp", "gpt", "ggt"]) => Field::Ggt,
        _ => return None,
    })
}

/// The leading number of a cell ("95", "95 mg/dL", "1,234"); blank or words are `None`.
pub fn number(raw: &str) -> Option<f64> {
    let s: String = raw.trim().replace(',', "");
    let end = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    s[..end].parse::<f64>().ok().filter(|v| v.is_finite())
}

/// "120/80" → (120, 80); anything else, or only one half, is `None`.
fn pair(raw: &str) -> Option<(&str, &str)> {
    let (a, b) = raw.split_once('/')?;
    Some((a.trim(), b.trim()))
}

fn vision(raw: &str) -> Option<f64> {
    if raw.contains("실명") { Some(9.9) } else { number(raw) }
}

fn hearing(raw: &str) -> Option<u8> {
    if raw.contains("비정상") || raw.contains("이상") {
        Some(2)
    } else if raw.contains("정상") {
        Some(1)
    } else {
        None
    }
}

/// Dipstick grades in their many spellings to the 1–6 code.
pub fn urine_protein(raw: &str) -> Option<u8> {
    let s = normalise(raw).replace(['(', ')'], "");
    let plus = |n: char| s.contains(&format!("+{n}")) || s.contains(&format!("{n}+"));
    Some(match () {
        _ if s.contains("약양성") || s.contains('±') || s.contains("+-") || s.contains("trace") => 2,
        _ if plus('4') => 6,
        _ if plus('3') => 5,
        _ if plus('2') => 4,
        _ if plus('1') || s.contains("양성") || s == "+" => 3,
        _ if s.contains("음성") || s == "-" || s == "−" || s.contains("negative") => 1,
        _ => return None,
    })
}

fn apply(m: &mut Measurements, f: Field, raw: &str) {
    let raw = raw.trim();
    match f {
        Field::BloodPressure => {
            if let Some((s, d)) = pair(raw).and_then(|(s, d)| number(s).zip(number(d))) {
                m.systolic = Some(s);
                m.diastolic = Some(d);
            }
        }
        Field::Vision => match pair(raw) {
            Some((l, r)) => (m.vision_left, m.vision_right) = (vision(l), vision(r)),
            None => (m.vision_left, m.vision_right) = (vision(raw), vision(raw)),
        },
        Field::Hearing => match pair(raw) {
            Some((l, r)) => (m.hearing_left, m.hearing_right) = (hearing(l), hearing(r)),
            None => (m.hearing_left, m.hearing_right) = (hearing(raw), hearing(raw)),
        },
        Field::UrineProtein => m.urine_protein = urine_protein(raw),
        Field::Waist => m.waist = number(raw),
        Field::Height => m.height = number(raw),
        Field::Weight => m.weight = number(raw),
        // Computed from height and weight; the printed value stays in the raw record.
        Field::Bmi => {}
        Field::Hemoglobin => m.hemoglobin = number(raw),
        Field::Glucose => m.fasting_glucose = number(raw),
        Field::TotalCholesterol => m.total_cholesterol = number(raw),
        Field::Hdl => m.hdl = number(raw),
        Field::Ldl => m.ldl = number(raw),
        Field::Triglycerides => m.triglycerides = number(raw),
        Field::Creatinine => m.serum_creatinine = number(raw),
        Field::Egfr => m.egfr = number(raw),
        Field::Alt => m.alt = number(raw),
        Field::Ast => m.ast = number(raw),
        Field::Ggt => m.ggt = number(raw),
    }
}

/// A string field of a record by any of its spellings (case-insensitive).
fn text<'a>(rec: &'a Value, keys: &[&str]) -> Option<&'a str> {
    let obj = rec.as_object()?;
    obj.iter()
        .find(|(k, _)| keys.iter().any(|key| k.eq_ignore_ascii_case(key)))
        .and_then(|(_, v)| v.as_str())
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The checkup date from a year ("2024", "2024년") and a month-day ("03/15", "0315", "03.15"), or
/// from a full date in either field.
pub fn checkup_date(year: Option<&str>, day: Option<&str>) -> Option<NaiveDate> {
    let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
    let day = day.map(digits).unwrap_or_default();
    if day.len() == 8 {
        return NaiveDate::parse_from_str(&day, "%Y%m%d").ok();
    }
    let year: i32 = digits(year?).get(..4)?.parse().ok()?;
    let (m, d) = match day.len() {
        4 => (day[..2].parse().ok()?, day[2..].parse().ok()?),
        3 => (day[..1].parse().ok()?, day[1..].parse().ok()?),
        _ => return None,
    };
    NaiveDate::from_ymd_opt(year, m, d)
}

/// The overall category a centre's (possibly abbreviated) judgement means, if known.
pub fn centre_category(raw: &str) -> Option<Overall> {
    let s = normalise(raw).replace(['(', ')', '∙', '·', '.', '・'], "");
    Some(match s.as_str() {
        "정a" | "정상a" => Overall::NormalA,
        "정b" | "정상b" | "정상b경계" => Overall::NormalB,
        "고당" | "고혈압당뇨병" | "고혈압당뇨병질환의심" => Overall::SuspectedHtnDm,
        "고혈압당뇨병이상지질혈증질환의심" => Overall::SuspectedHtnDmDyslipidemia,
        "의심" | "질환의심" | "일반질환의심" => Overall::SuspectedGeneral,
        "유질" | "유질환" | "유질환자" => Overall::UnderTreatment,
        _ => return None,
    })
}

/// One record of the list, or `None` when it has no usable date.
fn record(rec: &Value) -> Option<(NewCheckup, usize)> {
    let date = checkup_date(
        text(rec, &["Year", "checkupYear"]),
        text(rec, &["CheckUpDate", "checkupDate", "date"]),
    )?;
    let mut m = Measurements::default();
    let items = rec
        .get("Inspections")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|i| i.get("Illnesses").and_then(Value::as_array).into_iter().flatten())
        .flat_map(|i| i.get("Items").and_then(Value::as_array).into_iter().flatten());
    for item in items {
        let (Some(name), Some(value)) = (text(item, &["Name"]), item.get("Value").and_then(Value::as_str)) else {
            continue;
        };
        if let Some(f) = field(name) {
            apply(&mut m, f, value);
        }
    }
    // Flat records (other aggregators' shape): every string field is a candidate item.
    if let Some(obj) = rec.as_object() {
        for (k, v) in obj {
            if let (Some(f), Some(value)) = (field(k), v.as_str()) {
                apply(&mut m, f, value);
            }
        }
    }
    let dropped = validate::keep_plausible(&mut m).len();
    let checkup = NewCheckup {
        checkup_date: date,
        source: Source::Nhis,
        centre: text(rec, &["Location", "centre", "hospitalName", "checkupPlace"]).map(str::to_string),
        centre_judgement: text(rec, &["Code", "evaluation", "judgement"]).map(str::to_string),
        centre_opinion: text(rec, &["Description", "opinion"]).map(str::to_string),
        treated_for: Vec::new(),
        measurements: m,
        raw: rec.clone(),
    };
    Some((checkup, dropped))
}

/// Maps every record of a list; the same date twice keeps the first.
pub fn map_list(list: &[Value]) -> Mapped {
    let mut out = Mapped::default();
    for rec in list {
        match record(rec) {
            Some((c, dropped)) if !out.checkups.iter().any(|o| o.checkup_date == c.checkup_date) => {
                out.dropped_values += dropped;
                out.checkups.push(c);
            }
            Some(_) => {}
            None => out.skipped += 1,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn nested_tilko_records_map_by_alias_with_their_string_values() {
        let rec = json!({
            "Year": "2024년", "CheckUpDate": "03/15", "Code": "정B", "Location": "한빛내과의원",
            "Description": "생활습관 관리 필요",
            "Inspections": [
                {"Gubun": "계측검사", "Illnesses": [{"Name": "비만", "Items": [
                    {"Name": "신장", "Value": "172.4"}, {"Name": "체중", "Value": "74.0"},
                    {"Name": "허리둘레", "Value": "88"}, {"Name": "체질량지수", "Value": "24.9"},
                    {"Name": "혈압(최고/최저)", "Value": "132/84"}, {"Name": "시력(좌/우)", "Value": "1.0/실명"},
                    {"Name": "청력(좌/우)", "Value": "정상/비정상"}]}]},
                {"Gubun": "요검사", "Illnesses": [{"Items": [{"Name": "요단백", "Value": "약양성"}]}]},
                {"Gubun": "혈액검사", "Illnesses": [{"Items": [
                    {"Name": "혈색소", "Value": "14.8 g/dL"}, {"Name": "공복혈당", "Value": "104"},
                    {"Name": "총콜레스테롤", "Value": ""}, {"Name": "AST(SGOT)", "Value": "31"},
                    {"Name": "ALT(SGPT)", "Value": "44"}, {"Name": "감마지티피(γ-GTP)", "Value": "70"},
                    {"Name": "신사구체여과율(e-GFR)", "Value": "88"}, {"Name": "혈청크레아티닌", "Value": "0.95"},
                    {"Name": "폐결핵 흉부질환", "Value": "정상"}]}]}
            ]
        });
        let out = map_list(&[rec]);
        assert_eq!(out.skipped, 0);
        let c = &out.checkups[0];
        assert_eq!(c.checkup_date, NaiveDate::from_ymd_opt(2024, 3, 15).unwrap());
        assert_eq!(c.centre_judgement.as_deref(), Some("정B"));
        let m = &c.measurements;
        assert_eq!((m.height, m.weight, m.waist), (Some(172.4), Some(74.0), Some(88.0)));
        assert_eq!((m.systolic, m.diastolic), (Some(132.0), Some(84.0)));
        assert_eq!((m.vision_left, m.vision_right), (Some(1.0), Some(9.9)));
        assert_eq!((m.hearing_left, m.hearing_right), (Some(1), Some(2)));
        assert_eq!(m.urine_protein, Some(2));
        assert_eq!((m.hemoglobin, m.fasting_glucose, m.total_cholesterol), (Some(14.8), Some(104.0), None));
        assert_eq!((m.ast, m.alt, m.ggt), (Some(31.0), Some(44.0), Some(70.0)));
        assert_eq!((m.egfr, m.serum_creatinine), (Some(88.0), Some(0.95)));
        assert_eq!(c.raw["Inspections"][0]["Gubun"], "계측검사", "the raw record is kept");
    }

    #[test]
    fn flat_records_with_waist_or_waists_and_abbreviated_judgements() {
        let recs = [
            json!({"checkupDate": "20231102", "waists": "91.5", "bloodPressure": "150 / 95", "yGPT": "80",
                   "proteinuria": "양성(+2)", "evaluation": "고∙당"}),
            json!({"checkupDate": "20211102", "waist": "79", "bloodPressure": "118/", "fastingBloodGlucose": "의심"}),
            json!({"Year": "2020", "CheckUpDate": "13/45"}),
            json!({"checkupDate": "20231102", "waist": "70"}),
        ];
        let out = map_list(&recs);
        assert_eq!((out.checkups.len(), out.skipped), (2, 1));
        let a = &out.checkups[0].measurements;
        assert_eq!((a.waist, a.systolic, a.diastolic, a.ggt, a.urine_protein), (Some(91.5), Some(150.0), Some(95.0), Some(80.0), Some(4)));
        assert_eq!(centre_category(out.checkups[0].centre_judgement.as_deref().unwrap()), Some(Overall::SuspectedHtnDm));
        let b = &out.checkups[1].measurements;
        assert_eq!((b.waist, b.systolic, b.fasting_glucose), (Some(79.0), None, None), "half a pair and words are blanks");
    }

    #[test]
    fn judgements_and_dipstick_grades_in_their_spellings() {
        for (raw, want) in [
            ("정A", Some(Overall::NormalA)),
            ("정상(B)", Some(Overall::NormalB)),
            ("의심", Some(Overall::SuspectedGeneral)),
            ("고·당", Some(Overall::SuspectedHtnDm)),
            ("유질", Some(Overall::UnderTreatment)),
            ("주의", None),
            ("휴무", None),
        ] {
            assert_eq!(centre_category(raw), want, "{raw}");
        }
        for (raw, want) in [("음성", Some(1)), ("-", Some(1)), ("±", Some(2)), ("+1", Some(3)), ("3+", Some(5)), ("양성(+4)", Some(6)), ("", None)] {
            assert_eq!(urine_protein(raw), want, "{raw}");
        }
        assert_eq!(checkup_date(Some("2019"), Some("1105")), NaiveDate::from_ymd_opt(2019, 11, 5));
        assert_eq!(checkup_date(Some("2019년"), Some("3.05")), NaiveDate::from_ymd_opt(2019, 3, 5));
        assert_eq!(checkup_date(None, Some("05/11")), None);
    }
}
