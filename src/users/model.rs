//! Domain types of the user domain. Requests become these at the edge; nothing downstream sees a
//! raw string where one of these belongs.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::http::{
    FieldError,
    text::{self, TextError},
};

// Stored as text (`users.users.sex`), spelled as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Encode, sqlx::Decode)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[sqlx(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Sex {
    Male,
    Female,
}
crate::platform::db::text_enum!(Sex);

// Stored as text (`users.users.status`), spelled as on the wire. A stored value outside these is
// an error when read, never a guess.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Encode, sqlx::Decode)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[sqlx(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserStatus {
    /// Signed in, onboarding not finished.
    Pending,
    Active,
}
crate::platform::db::text_enum!(UserStatus);

/// One of the codes of `T` (an enum spelled on the wire as its serde names), read from a request
/// field that is kept a string so that an unknown code gets the field's own message.
pub fn code<T: serde::de::DeserializeOwned>(raw: &str) -> Option<T> {
    T::deserialize(serde::de::value::StrDeserializer::<serde::de::value::Error>::new(raw)).ok()
}

/// Age in full years on `today`.
pub fn age_on(birth: NaiveDate, today: NaiveDate) -> u32 {
    let mut age = today.year() - birth.year();
    if (today.month(), today.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age.max(0) as u32
}

/// Youngest age that may sign up without a guardian's consent (개인정보보호법 §22-2).
pub const MIN_AGE: u32 = 14;

/// A birth date (never a resident registration number): ISO `YYYY-MM-DD`, the person at least
/// 14 and at most 120 years old on `today` (the app clock's Seoul date).
pub fn parse_birth_date(raw: &str, today: NaiveDate) -> Result<NaiveDate, FieldError> {
    let date = text::iso_date(raw)
        .ok_or_else(|| FieldError::new("birthDate", "YYYY-MM-DD 형식의 날짜로 입력해 주세요."))?;
    let age = age_on(date, today);
    if date > today || age > 120 {
        return Err(FieldError::new("birthDate", "생년월일을 다시 확인해 주세요."));
    }
    if age < MIN_AGE {
        return Err(FieldError::new("birthDate", "만 14세 이상만 가입할 수 있습니다."));
    }
    Ok(date)
}

/// A name: 1–50 visible characters; invisible, bidirectional-override and separator characters
/// are refused (they can make a name look like another).
pub fn parse_name(raw: &str) -> Result<String, FieldError> {
    text::visible_text(raw, 50, false).map_err(|e| match e {
        TextError::Forbidden => FieldError::new("name", "이름에 쓸 수 없는 문자가 있습니다."),
        TextError::Empty | TextError::TooLong => FieldError::new("name", "이름은 1~50자로 입력해 주세요."),
    })
}

/// An occupation: up to 50 visible characters; empty means none.
pub fn parse_occupation(raw: &str) -> Result<String, FieldError> {
    match text::visible_text(raw, 50, false) {
        Ok(v) => Ok(v),
        Err(TextError::Empty) => Ok(String::new()),
        Err(TextError::Forbidden) => Err(FieldError::new("occupation", "직업에 쓸 수 없는 문자가 있습니다.")),
        Err(TextError::TooLong) => Err(FieldError::new("occupation", "직업은 50자 이내로 입력해 주세요.")),
    }
}

pub fn parse_height(v: f64) -> Result<f64, FieldError> {
    if !(50.0..=250.0).contains(&v) {
        return Err(FieldError::new("heightCm", "키는 50~250cm 사이로 입력해 주세요."));
    }
    Ok((v * 10.0).round() / 10.0)
}

/// The consents a user gives separately (개인정보보호법 §23, §28-8; 정보통신망법 §50).
// Stored as text (`users.consents.kind`), spelled as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, sqlx::Encode, sqlx::Decode)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[sqlx(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConsentKind {
    /// Processing of health (sensitive) data.
    HealthData,
    /// Sending health data to the AI provider abroad.
    AiOverseasTransfer,
    /// Promotional and night-time (21:00–08:00 KST) notifications.
    NightPromotional,
}
crate::platform::db::text_enum!(ConsentKind);

impl ConsentKind {
    pub const ALL: [ConsentKind; 3] =
        [ConsentKind::HealthData, ConsentKind::AiOverseasTransfer, ConsentKind::NightPromotional];

    pub fn as_str(self) -> &'static str {
        match self {
            ConsentKind::HealthData => "HEALTH_DATA",
            ConsentKind::AiOverseasTransfer => "AI_OVERSEAS_TRANSFER",
            ConsentKind::NightPromotional => "NIGHT_PROMOTIONAL",
        }
    }

    /// The version of the consent text in force; a grant must name it.
    pub fn current_version(self) -> &'static str {
        match self {
            ConsentKind::HealthData => "2026-11",
            ConsentKind::AiOverseasTransfer => "2026-11",
            ConsentKind::NightPromotional => "2026-11",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_counts_full_years_in_seoul() {
        let d = |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(age_on(d("1990-05-10"), d("2026-05-09")), 35);
        assert_eq!(age_on(d("1990-05-10"), d("2026-05-10")), 36);
        assert_eq!(age_on(d("2000-02-29"), d("2026-02-28")), 25);
    }

    #[test]
    fn birth_dates_are_checked_for_form_and_age() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        assert!(parse_birth_date("1990-05-10", today).is_ok());
        for bad in
            ["1990/05/10", "19900510", "2026-12-08", "1850-01-01", "", "1990-02-30", "+001990-05-10", "1990-5-10"]
        {
            assert!(parse_birth_date(bad, today).is_err(), "{bad}");
        }
        assert_eq!(parse_birth_date("2016-12-07", today).unwrap_err().message, "만 14세 이상만 가입할 수 있습니다.");
    }

    #[test]
    fn names_heights_and_occupations_are_bounded() {
        assert_eq!(parse_name("  홍길동 ").unwrap(), "홍길동");
        assert!(parse_name("").is_err());
        assert!(parse_name(&"가".repeat(51)).is_err());
        assert!(parse_name("a\u{0}b").is_err());
        for invisible in ["\u{200B}\u{200C}", "\u{3164}\u{3164}", "김\u{202E}동길", "홍\u{2028}길동"] {
            assert!(parse_name(invisible).is_err(), "{invisible:?}");
        }
        assert_eq!(parse_height(172.34).unwrap(), 172.3);
        assert!(parse_height(20.0).is_err());
        assert!(parse_height(f64::NAN).is_err());
        assert!(parse_occupation(&"x".repeat(51)).is_err());
    }
}
