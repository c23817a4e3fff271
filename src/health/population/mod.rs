//! The population reference: the NHIS open data (국민건강보험공단_건강검진정보, DOMAIN.md §2), a
//! yearly anonymised sample loaded by `healthsync import-nhis` through COPY (`import`), reduced to
//! percentiles per item, sex and 5-year age band, and read by `peers`. It is never linked to a user.

pub mod csv;
#[cfg(test)]
mod csv_fuzz;
pub mod import;
pub mod peers;

use super::views::CheckupRecord;

/// An item compared with the population: its name (the manual-entry field name, or `bmi`), unit,
/// the SQL expression over a population row, and the value of a record.
pub struct PopItem {
    pub name: &'static str,
    pub unit: &'static str,
    pub sql: &'static str,
    pub of_record: fn(&CheckupRecord) -> Option<f64>,
}

/// Height and weight are floored to 5 cm / 5 kg in the open data: compared at the middle of
/// their bin (+2.5), and BMI is computed from those middles.
pub const ITEMS: &[PopItem] = &[
    PopItem { name: "height", unit: "cm", sql: "height::float8 + 2.5", of_record: |r| r.height },
    PopItem { name: "weight", unit: "kg", sql: "weight::float8 + 2.5", of_record: |r| r.weight },
    PopItem {
        name: "bmi",
        unit: "kg/m²",
        sql: "(weight::float8 + 2.5) / (((height::float8 + 2.5) / 100.0) ^ 2)",
        of_record: |r| r.bmi,
    },
    PopItem { name: "waist", unit: "cm", sql: "waist::float8", of_record: |r| r.waist },
    PopItem { name: "systolic", unit: "mmHg", sql: "systolic::float8", of_record: |r| bp(r, 0) },
    PopItem { name: "diastolic", unit: "mmHg", sql: "diastolic::float8", of_record: |r| bp(r, 1) },
    PopItem {
        name: "fastingGlucose",
        unit: "mg/dL",
        sql: "fasting_glucose::float8",
        of_record: |r| r.blood_test.fasting_glucose,
    },
    PopItem {
        name: "totalCholesterol",
        unit: "mg/dL",
        sql: "total_cholesterol::float8",
        of_record: |r| r.blood_test.total_cholesterol,
    },
    PopItem {
        name: "triglycerides",
        unit: "mg/dL",
        sql: "triglycerides::float8",
        of_record: |r| r.blood_test.triglycerides,
    },
    PopItem { name: "hdl", unit: "mg/dL", sql: "hdl::float8", of_record: |r| r.blood_test.hdl },
    PopItem { name: "ldl", unit: "mg/dL", sql: "ldl::float8", of_record: |r| r.blood_test.ldl },
    PopItem { name: "hemoglobin", unit: "g/dL", sql: "hemoglobin::float8", of_record: |r| r.blood_test.hemoglobin },
    PopItem {
        name: "serumCreatinine",
        unit: "mg/dL",
        sql: "serum_creatinine::float8",
        of_record: |r| r.blood_test.serum_creatinine,
    },
    PopItem { name: "ast", unit: "U/L", sql: "ast::float8", of_record: |r| r.blood_test.ast },
    PopItem { name: "alt", unit: "U/L", sql: "alt::float8", of_record: |r| r.blood_test.alt },
    PopItem { name: "ggt", unit: "U/L", sql: "ggt::float8", of_record: |r| r.blood_test.ggt },
];

fn bp(r: &CheckupRecord, half: usize) -> Option<f64> {
    r.blood_pressure.as_deref()?.split('/').nth(half)?.parse().ok()
}
