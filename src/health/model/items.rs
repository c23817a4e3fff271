//! What each item is: its field name (the manual-entry body's, and the assessment's), its Korean
//! name, unit, LOINC code (DOMAIN.md §1, for an interoperable export), the range a real value can
//! take (anything outside is refused as implausible) and the precision it is stored with.

use super::Measurements;

#[derive(Debug, Clone, Copy)]
pub struct ItemInfo {
    /// The JSON field name (camelCase).
    pub name: &'static str,
    pub label: &'static str,
    pub unit: &'static str,
    pub loinc: &'static str,
    /// Plausible values, inclusive.
    pub min: f64,
    pub max: f64,
    /// Decimals kept when stored.
    pub decimals: u32,
    pub get: fn(&Measurements) -> Option<f64>,
    pub set: fn(&mut Measurements, Option<f64>),
}

macro_rules! item {
    ($field:ident, $name:literal, $label:literal, $unit:literal, $loinc:literal, $min:literal, $max:literal, $dec:literal) => {
        ItemInfo {
            name: $name,
            label: $label,
            unit: $unit,
            loinc: $loinc,
            min: $min,
            max: $max,
            decimals: $dec,
            get: |m| m.$field,
            set: |m, v| m.$field = v,
        }
    };
}

pub const HEIGHT: ItemInfo = item!(height, "height", "신장", "cm", "8302-2", 100.0, 250.0, 1);
pub const WEIGHT: ItemInfo = item!(weight, "weight", "체중", "kg", "29463-7", 20.0, 300.0, 1);
pub const WAIST: ItemInfo = item!(waist, "waist", "허리둘레", "cm", "8280-0", 40.0, 200.0, 1);
pub const SYSTOLIC: ItemInfo = item!(systolic, "systolic", "수축기 혈압", "mmHg", "8480-6", 60.0, 260.0, 0);
pub const DIASTOLIC: ItemInfo = item!(diastolic, "diastolic", "이완기 혈압", "mmHg", "8462-4", 30.0, 160.0, 0);
pub const FASTING_GLUCOSE: ItemInfo =
    item!(fasting_glucose, "fastingGlucose", "공복혈당", "mg/dL", "1558-6", 20.0, 1000.0, 1);
pub const TOTAL_CHOLESTEROL: ItemInfo =
    item!(total_cholesterol, "totalCholesterol", "총콜레스테롤", "mg/dL", "2093-3", 50.0, 1000.0, 1);
pub const HDL: ItemInfo = item!(hdl, "hdl", "HDL 콜레스테롤", "mg/dL", "2085-9", 5.0, 250.0, 1);
/// LOINC 13457-7 is the calculated LDL, the usual checkup value (18262-6 when measured directly).
pub const LDL: ItemInfo = item!(ldl, "ldl", "LDL 콜레스테롤", "mg/dL", "13457-7", 5.0, 600.0, 1);
pub const TRIGLYCERIDES: ItemInfo =
    item!(triglycerides, "triglycerides", "중성지방", "mg/dL", "2571-8", 10.0, 5000.0, 1);
pub const HEMOGLOBIN: ItemInfo = item!(hemoglobin, "hemoglobin", "혈색소", "g/dL", "718-7", 3.0, 25.0, 1);
pub const SERUM_CREATININE: ItemInfo =
    item!(serum_creatinine, "serumCreatinine", "혈청 크레아티닌", "mg/dL", "2160-0", 0.1, 20.0, 2);
/// LOINC 62238-1 is CKD-EPI, the equation the checkup uses (33914-3 for MDRD).
pub const EGFR: ItemInfo = item!(egfr, "egfr", "신사구체여과율(eGFR)", "mL/min/1.73m²", "62238-1", 1.0, 200.0, 1);
pub const AST: ItemInfo = item!(ast, "ast", "AST(SGOT)", "U/L", "1920-8", 1.0, 5000.0, 1);
pub const ALT: ItemInfo = item!(alt, "alt", "ALT(SGPT)", "U/L", "1742-6", 1.0, 5000.0, 1);
pub const GGT: ItemInfo = item!(ggt, "ggt", "감마지티피(γ-GTP)", "U/L", "2324-2", 1.0, 5000.0, 1);
/// Vision has no LOINC code in the DOMAIN list; 9.9 (blind) is accepted besides the range.
pub const VISION_LEFT: ItemInfo = item!(vision_left, "visionLeft", "시력(좌)", "", "", 0.1, 2.5, 1);
pub const VISION_RIGHT: ItemInfo = item!(vision_right, "visionRight", "시력(우)", "", "", 0.1, 2.5, 1);

/// The numeric items, in the order of the result sheet.
pub const NUMERIC_ITEMS: &[ItemInfo] = &[
    HEIGHT,
    WEIGHT,
    WAIST,
    SYSTOLIC,
    DIASTOLIC,
    FASTING_GLUCOSE,
    TOTAL_CHOLESTEROL,
    HDL,
    LDL,
    TRIGLYCERIDES,
    HEMOGLOBIN,
    SERUM_CREATININE,
    EGFR,
    AST,
    ALT,
    GGT,
    VISION_LEFT,
    VISION_RIGHT,
];

/// The coded items: field name, label, LOINC, allowed codes.
pub const URINE_PROTEIN: (&str, &str, &str) = ("urineProtein", "요단백", "20454-5");
pub const SMOKING: (&str, &str, &str) = ("smoking", "흡연", "72166-2");
pub const DRINKING: (&str, &str, &str) = ("drinking", "음주", "11331-6");
pub const BMI: (&str, &str, &str, &str) = ("bmi", "체질량지수", "kg/m²", "39156-5");
pub const BLOOD_PRESSURE: (&str, &str, &str, &str) = ("bloodPressure", "혈압", "mmHg", "85354-9");

pub fn by_name(name: &str) -> Option<&'static ItemInfo> {
    NUMERIC_ITEMS.iter().find(|i| i.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_reads_and_writes_its_own_field() {
        for (n, item) in NUMERIC_ITEMS.iter().enumerate() {
            let mut m = Measurements::default();
            (item.set)(&mut m, Some(n as f64 + 1.5));
            assert_eq!((item.get)(&m), Some(n as f64 + 1.5), "{}", item.name);
            let others = NUMERIC_ITEMS.iter().filter(|o| o.name != item.name);
            assert!(others.into_iter().all(|o| (o.get)(&m).is_none()), "{} leaks", item.name);
        }
    }

    #[test]
    fn the_loinc_codes_are_the_domain_lists() {
        let codes: Vec<(&str, &str)> = NUMERIC_ITEMS.iter().map(|i| (i.name, i.loinc)).collect();
        for pair in [
            ("height", "8302-2"),
            ("weight", "29463-7"),
            ("waist", "8280-0"),
            ("systolic", "8480-6"),
            ("diastolic", "8462-4"),
            ("fastingGlucose", "1558-6"),
            ("totalCholesterol", "2093-3"),
            ("hdl", "2085-9"),
            ("ldl", "13457-7"),
            ("triglycerides", "2571-8"),
            ("hemoglobin", "718-7"),
            ("ast", "1920-8"),
            ("alt", "1742-6"),
            ("ggt", "2324-2"),
            ("serumCreatinine", "2160-0"),
            ("egfr", "62238-1"),
        ] {
            assert!(codes.contains(&pair), "{pair:?}");
        }
        assert_eq!(URINE_PROTEIN.2, "20454-5");
        assert_eq!(BMI.3, "39156-5");
        assert_eq!(BLOOD_PRESSURE.3, "85354-9");
        assert_eq!((SMOKING.2, DRINKING.2), ("72166-2", "11331-6"));
    }
}
