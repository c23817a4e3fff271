//! Domain types of the goals domain: mission ids, categories, difficulties, daily targets and the
//! assessment items a mission helps. Requests become these at the edge; rows are read into them.

use std::fmt;

use chrono::NaiveTime;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Declares a closed set of codes stored as text, spelled the same in the database (`text` by OID,
/// `platform::db::text_enum!`) and on the wire (serde): the variant's name in
/// SCREAMING_SNAKE_CASE. Each has a Korean label.
macro_rules! codes {
    ($(#[$doc:meta])* $name:ident $(as $schema:ident)? { $($variant:ident / $label:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema, sqlx::Encode, sqlx::Decode)]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        #[sqlx(rename_all = "SCREAMING_SNAKE_CASE")]
        $(#[schema(as = $schema)])?
        pub enum $name { $($variant),+ }
        crate::platform::db::text_enum!($name);

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// How the app shows it.
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }
        }
    };
}

codes!(
    /// What area of life a mission belongs to.
    Category as MissionCategory {
        Exercise / "운동",
        Diet / "식단",
        Sleep / "수면",
        Stress / "스트레스",
        Hydration / "수분",
        Smoking / "금연",
        Alcohol / "절주",
        Monitoring / "자기 기록",
    }
);

codes!(
    /// How hard a mission is to keep daily.
    Difficulty {
        Easy / "쉬움",
        Medium / "보통",
        Hard / "어려움",
    }
);

codes!(
    /// Items of the national checkup's assessment (and its lifestyle questions) that a mission's
    /// habit helps with. The health domain's assessment names the ones that need attention.
    AssessmentItem {
        BloodPressure / "혈압",
        Glucose / "공복혈당",
        Lipids / "이상지질(콜레스테롤·중성지방)",
        Waist / "허리둘레",
        Bmi / "체질량지수",
        Liver / "간 수치",
        Haemoglobin / "혈색소",
        Smoking / "흡연",
        Alcohol / "음주",
    }
);

codes!(
    /// The unit of a daily target.
    TargetUnit {
        Minutes / "분",
        Hours / "시간",
        Steps / "보",
        Floors / "층",
        Cups / "잔",
        Servings / "접시",
        Meals / "끼",
        Times / "회",
        Items / "가지",
        Drinks / "잔",
        Cigarettes / "개비",
    }
);

codes!(
    /// Whether the daily target is a floor or a ceiling.
    Comparison {
        AtLeast / "이상",
        AtMost / "이하",
    }
);

impl Difficulty {
    /// Easy 0, medium 1, hard 2: how far apart two difficulties are.
    pub fn level(self) -> i32 {
        match self {
            Difficulty::Easy => 0,
            Difficulty::Medium => 1,
            Difficulty::Hard => 2,
        }
    }
}

/// A catalogue id: a lower-case slug (`walk-7000-steps`), at most 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MissionId(String);

impl TryFrom<String> for MissionId {
    type Error = &'static str;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        MissionId::parse(&s).ok_or("a mission id is a lower-case slug")
    }
}

impl From<MissionId> for String {
    fn from(id: MissionId) -> String {
        id.0
    }
}

impl MissionId {
    pub const MAX_LEN: usize = 64;

    pub fn parse(raw: &str) -> Option<Self> {
        let s = raw.trim();
        let ok = !s.is_empty()
            && s.len() <= Self::MAX_LEN
            && s.split('-').all(|part| {
                !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            });
        ok.then(|| MissionId(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// For ids read back from the database, which only holds valid ones.
    pub(crate) fn from_db(s: String) -> Self {
        MissionId(s)
    }
}

impl std::borrow::Borrow<str> for MissionId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MissionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A measurable daily target: at least (or at most) `value` `unit` a day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DailyTarget {
    pub value: i32,
    pub unit: TargetUnit,
    pub comparison: Comparison,
    /// The same, as people read it (`하루 7,000보 이상`).
    pub text: String,
}

/// A mission of the catalogue.
#[derive(Debug, Clone, PartialEq)]
pub struct Mission {
    pub id: MissionId,
    pub category: Category,
    pub difficulty: Difficulty,
    pub title: String,
    pub description: String,
    pub health_benefit: String,
    pub estimated_minutes: i32,
    pub target: DailyTarget,
    pub helps: Vec<AssessmentItem>,
    /// Suggested reminder time of day (Asia/Seoul).
    pub reminder_time: NaiveTime,
    pub sort_order: i32,
    /// Retired missions are no longer offered, but goals and history that name them stay intact.
    pub retired: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mission_ids_are_lower_case_slugs() {
        for good in ["water-8-cups", "a", "bp-check", " walk-7000-steps "] {
            assert!(MissionId::parse(good).is_some(), "{good}");
        }
        let long = "a".repeat(65);
        for bad in ["", "Water", "water--8", "-water", "water-", "물", "a_b", "a b", long.as_str()] {
            assert!(MissionId::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn codes_round_trip_through_their_text() {
        for c in Category::ALL {
            assert_eq!(serde_json::from_value::<Category>(serde_json::to_value(c).unwrap()).unwrap(), *c);
        }
        for a in AssessmentItem::ALL {
            assert_eq!(serde_json::from_value::<AssessmentItem>(serde_json::to_value(a).unwrap()).unwrap(), *a);
        }
        assert_eq!(serde_json::to_value(AssessmentItem::BloodPressure).unwrap(), "BLOOD_PRESSURE");
        assert_eq!(serde_json::to_value(Comparison::AtLeast).unwrap(), "AT_LEAST");
        assert!(serde_json::from_value::<Category>(serde_json::json!("exercise")).is_err());
        let id: MissionId = serde_json::from_value(serde_json::json!("bp-check")).unwrap();
        assert_eq!(serde_json::to_value(&id).unwrap(), "bp-check");
        assert!(serde_json::from_value::<MissionId>(serde_json::json!("BP check")).is_err());
    }
}
