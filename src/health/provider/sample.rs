//! The local stand-in for an aggregator: the same two steps (the "user" approves a few seconds
//! after the start), then several years of realistic checkups for the person, in Tilko's shape,
//! through the same mapping as the real adapter. Deterministic per person, so a second sync finds
//! the same checkups.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{CheckupProvider, Completion, ProviderError, StartOutcome, StartRequest, tilko::map};
use crate::{
    platform::time::Clock,
    users::api::{Sex, age_on},
};

pub struct Sample {
    /// How long the pretend user takes to approve.
    pub approval_delay: Duration,
    /// The app's clock: approval times and the pretend records' dates follow it.
    pub clock: Clock,
}

fn seed(name: &str, birth: NaiveDate) -> u64 {
    let digest = Sha256::digest(format!("{name}|{birth}"));
    u64::from_le_bytes(digest[..8].try_into().unwrap_or_default())
}

/// A normal draw (Box–Muller), rounded to `dec` decimals.
fn normal(rng: &mut StdRng, mean: f64, sd: f64, dec: i32) -> f64 {
    let (u1, u2): (f64, f64) = (rng.random_range(1e-9..1.0), rng.random());
    let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
    let f = 10f64.powi(dec);
    ((mean + sd * z) * f).round() / f
}

/// Biennial checkups over the last eight years, from age 20; values drift with age the way a
/// population's do.
pub fn records(name: &str, birth: NaiveDate, sex: Sex, today: NaiveDate) -> Vec<Value> {
    let mut rng = StdRng::seed_from_u64(seed(name, birth));
    let male = sex == Sex::Male;
    let height = normal(&mut rng, if male { 172.0 } else { 159.0 }, 5.5, 1);
    let base_bmi = normal(&mut rng, if male { 24.2 } else { 22.6 }, 2.6, 1);
    let bp_base = normal(&mut rng, if male { 121.0 } else { 113.0 }, 9.0, 0);
    let mut out = Vec::new();
    for back in [7, 5, 3, 1] {
        let year = today.year() - back;
        let date = NaiveDate::from_ymd_opt(year, rng.random_range(3..=11), rng.random_range(1..=28)).unwrap_or(today);
        let age = age_on(birth, date) as f64;
        if age < 20.0 || date > today {
            continue;
        }
        let drift = (8 - back) as f64;
        let bmi = base_bmi + 0.15 * drift;
        let weight = ((bmi * (height / 100.0).powi(2)) * 10.0).round() / 10.0;
        let sbp = normal(&mut rng, bp_base + 0.5 * age - 20.0 + drift, 5.0, 0);
        let dbp = normal(&mut rng, sbp * 0.63, 4.0, 0);
        let mut items = vec![
            json!({"Name": "신장", "Value": format!("{height:.1}")}),
            json!({"Name": "체중", "Value": format!("{weight:.1}")}),
            json!({"Name": "허리둘레", "Value": format!("{:.1}", normal(&mut rng, bmi * 3.3 + if male { 3.0 } else { 1.0 }, 3.0, 1))}),
            json!({"Name": "체질량지수", "Value": format!("{bmi:.1}")}),
            json!({"Name": "혈압(최고/최저)", "Value": format!("{sbp:.0}/{dbp:.0}")}),
            json!({"Name": "시력(좌/우)", "Value": format!("{:.1}/{:.1}", normal(&mut rng, 1.0, 0.2, 1).clamp(0.1, 2.0), normal(&mut rng, 1.0, 0.2, 1).clamp(0.1, 2.0))}),
            json!({"Name": "청력(좌/우)", "Value": "정상/정상"}),
            json!({"Name": "요단백", "Value": if rng.random_bool(0.94) { "음성" } else { "약양성" }}),
            json!({"Name": "혈색소", "Value": format!("{:.1}", normal(&mut rng, if male { 15.0 } else { 13.0 }, 1.0, 1))}),
            json!({"Name": "공복혈당", "Value": format!("{:.0}", normal(&mut rng, 88.0 + 0.35 * age + drift, 9.0, 0))}),
            json!({"Name": "혈청크레아티닌", "Value": format!("{:.2}", normal(&mut rng, if male { 0.95 } else { 0.72 }, 0.1, 2))}),
            json!({"Name": "신사구체여과율(e-GFR)", "Value": format!("{:.0}", normal(&mut rng, 112.0 - 0.6 * age, 10.0, 0))}),
            json!({"Name": "AST(SGOT)", "Value": format!("{:.0}", normal(&mut rng, 23.0, 6.0, 0).max(8.0))}),
            json!({"Name": "ALT(SGPT)", "Value": format!("{:.0}", normal(&mut rng, if male { 27.0 } else { 18.0 }, 9.0, 0).max(5.0))}),
            json!({"Name": "감마지티피(γ-GTP)", "Value": format!("{:.0}", normal(&mut rng, if male { 38.0 } else { 20.0 }, 14.0, 0).max(9.0))}),
        ];
        // The lipid panel: men from 24, women from 40, every 4 years.
        let lipid_age = if male { 24.0 } else { 40.0 };
        if age >= lipid_age && (back - 1) % 4 == 0 {
            let tc = normal(&mut rng, 185.0 + 0.4 * age, 28.0, 0);
            let hdl = normal(&mut rng, if male { 50.0 } else { 60.0 }, 11.0, 0);
            let tg = normal(&mut rng, if male { 140.0 } else { 100.0 }, 45.0, 0).max(40.0);
            items.extend([
                json!({"Name": "총콜레스테롤", "Value": format!("{tc:.0}")}),
                json!({"Name": "HDL콜레스테롤", "Value": format!("{hdl:.0}")}),
                json!({"Name": "트리글리세라이드", "Value": format!("{tg:.0}")}),
                json!({"Name": "LDL콜레스테롤", "Value": format!("{:.0}", tc - hdl - tg / 5.0)}),
            ]);
        } else {
            items.extend(["총콜레스테롤", "HDL콜레스테롤", "트리글리세라이드", "LDL콜레스테롤"].map(|n| json!({"Name": n, "Value": ""})));
        }
        let code = ["정A", "정B", "정B", "의심"][rng.random_range(0..4)];
        let centre = ["한빛내과의원", "서울건강검진센터", "푸른가정의학과의원"][rng.random_range(0..3)];
        out.push(json!({
            "Year": format!("{year}년"),
            "CheckUpDate": date.format("%m/%d").to_string(),
            "Code": code,
            "Location": centre,
            "Description": "",
            "Inspections": [{"Gubun": "검사", "Illnesses": [{"Name": "", "Items": items}]}],
        }));
    }
    out
}

#[async_trait]
impl CheckupProvider for Sample {
    fn name(&self) -> &'static str {
        "sample"
    }

    async fn start(&self, req: &StartRequest) -> Result<StartOutcome, ProviderError> {
        let approve_at = self.clock.now() + self.approval_delay;
        Ok(StartOutcome::Waiting(json!({
            "name": req.name, "birthDate": req.birth_date, "sex": req.sex, "approveAt": approve_at,
        })))
    }

    async fn complete(&self, handle: &Value) -> Result<Completion, ProviderError> {
        let bad = || ProviderError::Unavailable(anyhow::anyhow!("a malformed sample handle"));
        let approve_at: DateTime<Utc> = serde_json::from_value(handle["approveAt"].clone()).map_err(|_| bad())?;
        if self.clock.now() < approve_at {
            return Ok(Completion::Pending);
        }
        let name = handle["name"].as_str().ok_or_else(bad)?;
        let birth: NaiveDate = serde_json::from_value(handle["birthDate"].clone()).map_err(|_| bad())?;
        let sex: Sex = serde_json::from_value(handle["sex"].clone()).map_err(|_| bad())?;
        Ok(Completion::Approved(map::map_list(&records(name, birth, sex, self.clock.today()))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::judge;

    #[test]
    fn the_sample_gives_several_realistic_years_the_same_each_time() {
        let birth = NaiveDate::from_ymd_opt(1975, 4, 2).unwrap();
        let today = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
        let a = map::map_list(&records("김표본", birth, Sex::Male, today));
        let b = map::map_list(&records("김표본", birth, Sex::Male, today));
        assert_eq!(a.checkups.len(), 4);
        assert_eq!(a.checkups, b.checkups);
        assert_eq!(a.dropped_values, 0, "every sample value is plausible");
        let with_lipids = a.checkups.iter().filter(|c| !c.measurements.lipid_panel_missing()).count();
        assert!((1..=2).contains(&with_lipids), "{with_lipids}");
        for c in &a.checkups {
            let s = judge::assess(&c.measurements, Sex::Male, c.checkup_date, &[]);
            assert!(s.coverage.measured >= 11 && s.coverage.graded >= 9, "{:?}", s.coverage);
        }
        let young = records("이청년", NaiveDate::from_ymd_opt(2004, 1, 1).unwrap(), Sex::Female, today);
        assert!(young.len() < 4, "no checkups before 20");
    }
}
