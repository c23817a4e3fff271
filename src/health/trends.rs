//! Series over time for a chart: one per graded item, oldest first, with each point's grade.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    judge::{Grade, GradedItem, ItemValue},
    views::CheckupRecord,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrendPoint {
    #[schema(format = Date)]
    pub checkup_date: NaiveDate,
    pub year: i32,
    /// The number plotted (for blood pressure: the systolic value; `systolic`/`diastolic` carry both).
    pub value: Option<f64>,
    /// As printed ("142/88", "±").
    pub text: Option<String>,
    pub systolic: Option<f64>,
    pub diastolic: Option<f64>,
    pub grade: Grade,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = TrendSeries)]
pub struct Series {
    pub item: GradedItem,
    pub name: String,
    pub unit: String,
    pub points: Vec<TrendPoint>,
}

/// The series of `items` over `records` (any order in, oldest first out); items without any
/// value get an empty series.
pub fn series(records: &[CheckupRecord], items: &[GradedItem]) -> Vec<Series> {
    let mut ordered: Vec<&CheckupRecord> = records.iter().collect();
    ordered.sort_by_key(|r| r.checkup_date);
    items
        .iter()
        .map(|&item| {
            let (name, unit, _) = item.describe();
            let points = ordered
                .iter()
                .filter_map(|r| {
                    let a = r.assessment.items.iter().find(|i| i.item == item)?;
                    let (value, text) = match &a.value {
                        ItemValue::Number(n) => (Some(*n), None),
                        ItemValue::Text(t) if item == GradedItem::BloodPressure => {
                            (t.split('/').next().and_then(|s| s.parse().ok()), Some(t.clone()))
                        }
                        ItemValue::Text(t) => (None, Some(t.clone())),
                    };
                    let bp = item == GradedItem::BloodPressure;
                    Some(TrendPoint {
                        checkup_date: r.checkup_date,
                        year: r.year,
                        value,
                        text,
                        systolic: if bp { r.items.iter().find(|i| i.item == "systolic").and_then(num) } else { None },
                        diastolic: if bp { r.items.iter().find(|i| i.item == "diastolic").and_then(num) } else { None },
                        grade: a.grade,
                    })
                })
                .collect();
            Series { item, name: name.into(), unit: unit.into(), points }
        })
        .collect()
}

fn num(i: &super::views::RecordItem) -> Option<f64> {
    match i.value {
        ItemValue::Number(n) => Some(n),
        ItemValue::Text(_) => None,
    }
}

/// `items=bloodPressure,fastingGlucose`: every name must be a graded item.
pub fn parse_items(raw: Option<&str>) -> Result<Vec<GradedItem>, String> {
    let Some(raw) = raw else { return Ok(GradedItem::ALL.to_vec()) };
    let mut out = Vec::new();
    // `items=` or `items=a,,b` names an empty item: refused like any unknown name.
    for name in raw.split(',') {
        let item = GradedItem::parse(name).ok_or_else(|| name.to_string())?;
        if !out.contains(&item) {
            out.push(item);
        }
    }
    Ok(out)
}

/// The old contract's chart: `{bmiTrend:[{year,bmi}], chartType:"line", title}`, plus series.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CheckupChartData)]
pub struct ChartData {
    pub bmi_trend: Vec<BmiPoint>,
    pub chart_type: String,
    pub title: String,
    pub series: Vec<Series>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BmiPoint {
    pub year: i32,
    pub bmi: f64,
}

pub fn chart(records: &[CheckupRecord]) -> ChartData {
    let mut bmi: Vec<BmiPoint> =
        records.iter().filter_map(|r| Some(BmiPoint { year: r.year, bmi: r.bmi? })).collect();
    bmi.sort_by_key(|p| p.year);
    let items = [GradedItem::BloodPressure, GradedItem::FastingGlucose, GradedItem::Waist, GradedItem::TotalCholesterol];
    ChartData {
        bmi_trend: bmi,
        chart_type: "line".into(),
        title: "연도별 검진 결과 변화".into(),
        series: series(records, &items).into_iter().filter(|s| !s.points.is_empty()).collect(),
    }
}
