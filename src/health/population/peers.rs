//! Where a value stands among people of the same sex and 5-year age band: its percentile rank in
//! the population reference (the NHIS open data, DOMAIN.md §2), read from the stored 1st…99th
//! percentiles by interpolation.

use anyhow::Context;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::ToSchema;

use super::ITEMS;
use crate::{
    health::views::CheckupRecord,
    users::api::{Sex, age_on},
};

/// NHIS age band code of an age: 5 = 20–24, 6 = 25–29 … 18 = 85+; none under 20.
pub fn age_band(age: u32) -> Option<i16> {
    (age >= 20).then(|| (5 + (age - 20) / 5).min(18) as i16)
}

pub fn age_band_label(code: i16) -> String {
    let from = 20 + (code as u32 - 5) * 5;
    if code >= 18 { format!("{from}세 이상") } else { format!("{from}–{}세", from + 4) }
}

/// The percentile rank (0–100) of `v` given the 1st…99th percentiles and the extremes.
pub fn rank(v: f64, p: &[f32], min: f64, max: f64) -> f64 {
    let p: Vec<f64> = p.iter().map(|x| f64::from(*x)).collect();
    if p.len() != 99 || !v.is_finite() {
        return f64::NAN;
    }
    let below = p.iter().filter(|x| **x < v).count();
    let equal = p.iter().filter(|x| **x == v).count();
    let r = if equal > 0 {
        below as f64 + equal as f64 / 2.0 + 0.5
    } else if below == 0 {
        if v <= min || p[0] <= min { 0.0 } else { (v - min) / (p[0] - min) }
    } else if below == 99 {
        if v >= max || max <= p[98] { 100.0 } else { 99.0 + (v - p[98]) / (max - p[98]) }
    } else {
        let (lo, hi) = (p[below - 1], p[below]);
        below as f64 + (v - lo) / (hi - lo)
    };
    r.clamp(0.0, 100.0)
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgeBand {
    /// NHIS code (5 = 20–24 … 18 = 85+).
    pub code: i16,
    pub label: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PeerItem {
    /// The manual-entry field name (`systolic`, `fastingGlucose` …), or `bmi`.
    pub item: String,
    pub value: f64,
    pub unit: String,
    /// Share of the group with a lower value, in percent (0–100).
    pub percentile: u32,
    pub median: f64,
    pub sample_size: i32,
    pub statement: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Peers {
    /// Whether a comparison could be made.
    pub available: bool,
    pub message: String,
    pub reference_year: Option<i16>,
    pub sex: Sex,
    pub age_band: Option<AgeBand>,
    #[schema(format = Date)]
    pub checkup_date: Option<NaiveDate>,
    pub items: Vec<PeerItem>,
}

struct Row {
    year: i16,
    item: String,
    n: i32,
    min_value: f32,
    max_value: f32,
    p: Vec<f32>,
}

/// Compares the latest checkup of someone of `sex` born on `birth` with the population reference.
pub async fn compare(
    pool: &PgPool,
    latest: Option<&CheckupRecord>,
    sex: Sex,
    birth: Option<NaiveDate>,
) -> anyhow::Result<Peers> {
    let mut out = Peers {
        available: false,
        message: String::new(),
        reference_year: None,
        sex,
        age_band: None,
        checkup_date: latest.map(|l| l.checkup_date),
        items: Vec::new(),
    };
    let (Some(latest), Some(birth)) = (latest, birth) else {
        out.message = "비교할 검진 결과가 없습니다.".into();
        return Ok(out);
    };
    let Some(band) = age_band(age_on(birth, latest.checkup_date)) else {
        out.message = "국가검진 공개 자료는 20세 이상만 있어 비교할 수 없습니다.".into();
        return Ok(out);
    };
    out.age_band = Some(AgeBand { code: band, label: age_band_label(band) });
    let sex_code: i16 = if sex == Sex::Male { 1 } else { 2 };
    let rows = sqlx::query_as!(
        Row,
        "WITH y AS (SELECT coalesce((SELECT max(year) FROM health.population_percentiles \
                      WHERE sex = $1 AND age_band = $2 AND year <= $3), \
                     (SELECT max(year) FROM health.population_percentiles WHERE sex = $1 AND age_band = $2)) AS year) \
         SELECT p.year, p.item, p.n, p.min_value, p.max_value, p.p FROM health.population_percentiles p, y \
         WHERE p.year = y.year AND p.sex = $1 AND p.age_band = $2",
        sex_code,
        band,
        latest.year as i16,
    )
    .fetch_all(pool)
    .await
    .context("reading the population percentiles")?;
    if rows.is_empty() {
        out.message = "비교할 인구 자료가 아직 없습니다.".into();
        return Ok(out);
    }
    out.reference_year = rows.first().map(|r| r.year);
    for item in ITEMS {
        let (Some(row), Some(value)) = (rows.iter().find(|r| r.item == item.name), (item.of_record)(latest)) else {
            continue;
        };
        let pct = rank(value, &row.p, f64::from(row.min_value), f64::from(row.max_value));
        if !pct.is_finite() {
            continue;
        }
        let percentile = pct.round() as u32;
        out.items.push(PeerItem {
            item: item.name.into(),
            value,
            unit: item.unit.into(),
            percentile,
            median: f64::from(row.p[49]),
            sample_size: row.n,
            statement: format!("같은 성별·연령대에서 약 {percentile}%가 이 값보다 낮습니다."),
        });
    }
    out.available = !out.items.is_empty();
    out.message = if out.available {
        format!("{}년 국가건강검진 공개 자료의 같은 성별·연령대와 비교했습니다.", out.reference_year.unwrap_or_default())
    } else {
        "비교할 수 있는 항목이 없습니다.".into()
    };
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_bands_are_the_nhis_codes() {
        assert_eq!(age_band(19), None);
        assert_eq!(age_band(20), Some(5));
        assert_eq!(age_band(24), Some(5));
        assert_eq!(age_band(25), Some(6));
        assert_eq!(age_band(84), Some(17));
        assert_eq!(age_band(85), Some(18));
        assert_eq!(age_band(101), Some(18));
        assert_eq!(age_band_label(5), "20–24세");
        assert_eq!(age_band_label(18), "85세 이상");
    }

    #[test]
    fn ranks_interpolate_between_percentiles_and_split_ties() {
        let p: Vec<f32> = (1..=99).map(|k| k as f32).collect();
        assert!((rank(50.0, &p, 0.0, 100.0) - 50.0).abs() < 1e-9);
        assert!((rank(50.25, &p, 0.0, 100.0) - 50.25).abs() < 1e-9);
        assert_eq!(rank(-5.0, &p, 0.0, 100.0), 0.0);
        assert!((rank(0.5, &p, 0.0, 100.0) - 0.5).abs() < 1e-9);
        assert_eq!(rank(120.0, &p, 0.0, 100.0), 100.0);
        let flat = vec![120.0f32; 99];
        assert!((rank(120.0, &flat, 100.0, 140.0) - 50.0).abs() < 1.0);
        assert!(rank(1.0, &p[..10], 0.0, 1.0).is_nan());
    }
}
