//! The checkup model: one national health checkup (국가건강검진) with every item the rules and the
//! app use, each with its unit and LOINC code (`items`), where it came from, the centre's own
//! judgement as given, and the raw payload. Requests and aggregator payloads become these types at
//! the edge (`validate`); the judgement engine and the store work only on them.

pub mod items;
pub mod validate;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use items::{ItemInfo, NUMERIC_ITEMS};

/// Where a checkup came from.
// Stored as text (`health.checkups.source`), spelled as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Encode, sqlx::Decode)]
#[serde(rename_all = "lowercase")]
#[sqlx(rename_all = "lowercase")]
#[schema(as = CheckupSource)]
pub enum Source {
    /// Fetched from NHIS through an aggregator (two-step simple authentication).
    Nhis,
    /// Typed in by the user from a paper result.
    Manual,
    /// Typed in from a result sheet the user uploaded (the file is linked).
    Upload,
}
crate::platform::db::text_enum!(Source);

/// A condition the person is already diagnosed with and treated for (유질환자).
// Stored as text (`health.checkups.treated_for`), spelled as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, sqlx::Encode, sqlx::Decode)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[sqlx(rename_all = "SCREAMING_SNAKE_CASE")]
#[schema(as = TreatedCondition)]
pub enum Condition {
    Hypertension,
    Diabetes,
    Dyslipidemia,
}
crate::platform::db::text_enum!(Condition);

/// The questionnaire's smoking answer. Its NHIS code (DOMAIN.md §2) is what is stored
/// (`health.checkups.smoking`, a `smallint`) and what the wire carries; a stored code outside these
/// is an error when read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[serde(into = "u8", try_from = "u8")]
#[repr(i16)]
pub enum Smoking {
    Never = 1,
    Former = 2,
    Current = 3,
}

impl From<Smoking> for u8 {
    fn from(s: Smoking) -> u8 {
        s as u8
    }
}

impl TryFrom<u8> for Smoking {
    type Error = String;

    fn try_from(code: u8) -> Result<Self, String> {
        match code {
            1 => Ok(Smoking::Never),
            2 => Ok(Smoking::Former),
            3 => Ok(Smoking::Current),
            _ => Err(format!("{code} is not a smoking code (1 never, 2 former, 3 current)")),
        }
    }
}

/// Every measured value of a checkup; `None` is "not measured" (a missing lipid panel is normal).
/// Codes follow the NHIS open data (DOMAIN.md §2): urine protein 1 (−) … 6 (+4), hearing 1 normal /
/// 2 abnormal, smoking 1 never / 2 former / 3 current; vision 9.9 means blind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Measurements {
    /// cm
    pub height: Option<f64>,
    /// kg
    pub weight: Option<f64>,
    /// cm
    pub waist: Option<f64>,
    /// mmHg
    pub systolic: Option<f64>,
    /// mmHg
    pub diastolic: Option<f64>,
    /// mg/dL
    pub fasting_glucose: Option<f64>,
    /// mg/dL
    pub total_cholesterol: Option<f64>,
    /// mg/dL
    pub hdl: Option<f64>,
    /// mg/dL
    pub ldl: Option<f64>,
    /// mg/dL
    pub triglycerides: Option<f64>,
    /// g/dL
    pub hemoglobin: Option<f64>,
    /// 1 (−), 2 (±), 3 (+1), 4 (+2), 5 (+3), 6 (+4)
    pub urine_protein: Option<u8>,
    /// mg/dL
    pub serum_creatinine: Option<f64>,
    /// mL/min/1.73m²
    pub egfr: Option<f64>,
    /// U/L
    pub ast: Option<f64>,
    /// U/L
    pub alt: Option<f64>,
    /// U/L
    pub ggt: Option<f64>,
    pub vision_left: Option<f64>,
    pub vision_right: Option<f64>,
    /// 1 normal, 2 abnormal
    pub hearing_left: Option<u8>,
    pub hearing_right: Option<u8>,
    /// 1 never, 2 former, 3 current
    #[schema(value_type = Option<u8>)]
    pub smoking: Option<Smoking>,
    pub drinking: Option<bool>,
}

impl Measurements {
    /// BMI (kg/m²) from height and weight, to one decimal as the national checkup reports it.
    pub fn bmi(&self) -> Option<f64> {
        let (h, w) = (self.height?, self.weight?);
        if h <= 0.0 {
            return None;
        }
        let m = h / 100.0;
        Some(round_to(w / (m * m), 1))
    }

    /// Whether anything at all was measured.
    pub fn is_empty(&self) -> bool {
        self == &Measurements::default()
    }

    /// Whether anything was measured (the questionnaire's smoking and drinking answers are not
    /// measurements: a checkup of answers alone is no checkup).
    pub fn has_measurement(&self) -> bool {
        items::NUMERIC_ITEMS.iter().any(|i| (i.get)(self).is_some())
            || self.urine_protein.is_some()
            || self.hearing_left.is_some()
            || self.hearing_right.is_some()
    }

    /// No lipid item was measured (normal outside the lipid years: men 24+, women 40+, every 4 years).
    pub fn lipid_panel_missing(&self) -> bool {
        self.total_cholesterol.is_none()
            && self.hdl.is_none()
            && self.ldl.is_none()
            && self.triglycerides.is_none()
    }
}

/// `x` rounded to `decimals` places.
pub fn round_to(x: f64, decimals: u32) -> f64 {
    let f = 10f64.powi(decimals as i32);
    (x * f).round() / f
}

/// The urine protein dipstick grade as printed: −, ±, +1 … +4.
pub fn urine_protein_label(code: u8) -> &'static str {
    match code {
        1 => "−",
        2 => "±",
        3 => "+1",
        4 => "+2",
        5 => "+3",
        6 => "+4",
        _ => "?",
    }
}

pub fn hearing_label(code: u8) -> &'static str {
    if code == 1 { "정상" } else { "비정상" }
}

/// A checkup as the domain handles it, whatever its source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewCheckup {
    pub checkup_date: NaiveDate,
    pub source: Source,
    /// The checkup centre (검진기관), as given.
    pub centre: Option<String>,
    /// The centre's own overall judgement, kept exactly as given and never re-judged.
    pub centre_judgement: Option<String>,
    /// The centre's opinion text (소견), as given.
    pub centre_opinion: Option<String>,
    pub treated_for: Vec<Condition>,
    pub measurements: Measurements,
    /// What arrived, as it arrived (the request body or the aggregator's record).
    pub raw: serde_json::Value,
}
