//! Checkups: one row per person and date, each item a column.

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::health::model::{Condition, Measurements, NewCheckup, Source};

/// A stored checkup.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredCheckup {
    pub id: Uuid,
    pub checkup_date: NaiveDate,
    pub source: Source,
    pub centre: Option<String>,
    pub centre_judgement: Option<String>,
    pub centre_opinion: Option<String>,
    pub treated_for: Vec<Condition>,
    pub measurements: Measurements,
    pub file_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    checkup_date: NaiveDate,
    source: String,
    centre: Option<String>,
    centre_judgement: Option<String>,
    centre_opinion: Option<String>,
    treated_for: Vec<String>,
    height: Option<f64>,
    weight: Option<f64>,
    waist: Option<f64>,
    systolic: Option<f64>,
    diastolic: Option<f64>,
    fasting_glucose: Option<f64>,
    total_cholesterol: Option<f64>,
    hdl: Option<f64>,
    ldl: Option<f64>,
    triglycerides: Option<f64>,
    hemoglobin: Option<f64>,
    urine_protein: Option<i16>,
    serum_creatinine: Option<f64>,
    egfr: Option<f64>,
    ast: Option<f64>,
    alt: Option<f64>,
    ggt: Option<f64>,
    vision_left: Option<f64>,
    vision_right: Option<f64>,
    hearing_left: Option<i16>,
    hearing_right: Option<i16>,
    smoking: Option<i16>,
    drinking: Option<bool>,
    file_id: Option<Uuid>,
    created_at: DateTime<Utc>,
}

impl From<Row> for StoredCheckup {
    fn from(r: Row) -> Self {
        let code = |c: Option<i16>| c.and_then(|c| u8::try_from(c).ok());
        StoredCheckup {
            id: r.id,
            checkup_date: r.checkup_date,
            source: Source::parse(&r.source).unwrap_or(Source::Manual),
            centre: r.centre,
            centre_judgement: r.centre_judgement,
            centre_opinion: r.centre_opinion,
            treated_for: r.treated_for.iter().filter_map(|c| Condition::parse(c)).collect(),
            measurements: Measurements {
                height: r.height,
                weight: r.weight,
                waist: r.waist,
                systolic: r.systolic,
                diastolic: r.diastolic,
                fasting_glucose: r.fasting_glucose,
                total_cholesterol: r.total_cholesterol,
                hdl: r.hdl,
                ldl: r.ldl,
                triglycerides: r.triglycerides,
                hemoglobin: r.hemoglobin,
                urine_protein: code(r.urine_protein),
                serum_creatinine: r.serum_creatinine,
                egfr: r.egfr,
                ast: r.ast,
                alt: r.alt,
                ggt: r.ggt,
                vision_left: r.vision_left,
                vision_right: r.vision_right,
                hearing_left: code(r.hearing_left),
                hearing_right: code(r.hearing_right),
                smoking: code(r.smoking),
                drinking: r.drinking,
            },
            file_id: r.file_id,
            created_at: r.created_at,
        }
    }
}

const ITEM_COLUMNS: &str = "height, weight, waist, systolic, diastolic, fasting_glucose, total_cholesterol, hdl, ldl, \
    triglycerides, hemoglobin, urine_protein, serum_creatinine, egfr, ast, alt, ggt, vision_left, vision_right, \
    hearing_left, hearing_right, smoking, drinking";

fn columns() -> String {
    format!(
        "id, checkup_date, source, centre, centre_judgement, centre_opinion, treated_for, {ITEM_COLUMNS}, file_id, created_at"
    )
}

/// The user's checkups, newest first.
pub async fn list(pool: &PgPool, user: Uuid, limit: i64) -> anyhow::Result<Vec<StoredCheckup>> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {} FROM health.checkups WHERE user_id = $1 ORDER BY checkup_date DESC LIMIT $2",
        columns()
    ))
    .bind(user)
    .bind(limit)
    .fetch_all(pool)
    .await
    .context("reading checkups")?;
    Ok(rows.into_iter().map(StoredCheckup::from).collect())
}

pub async fn count(pool: &PgPool, user: Uuid) -> anyhow::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM health.checkups WHERE user_id = $1")
        .bind(user)
        .fetch_one(pool)
        .await
        .context("counting checkups")
}

#[derive(sqlx::FromRow)]
struct WithRaw {
    #[sqlx(flatten)]
    row: Row,
    raw: Value,
}

/// One of the user's checkups with its raw payload; `None` when it is not theirs or not there.
pub async fn get(pool: &PgPool, user: Uuid, id: Uuid) -> anyhow::Result<Option<(StoredCheckup, Value)>> {
    let row: Option<WithRaw> = sqlx::query_as(&format!(
        "SELECT {}, raw FROM health.checkups WHERE user_id = $1 AND id = $2",
        columns()
    ))
    .bind(user)
    .bind(id)
    .fetch_optional(pool)
    .await
    .context("reading a checkup")?;
    Ok(row.map(|r| (StoredCheckup::from(r.row), r.raw)))
}

/// The same, inside the caller's transaction.
pub async fn get_in(conn: &mut PgConnection, user: Uuid, id: Uuid) -> anyhow::Result<Option<(StoredCheckup, Value)>> {
    let row: Option<WithRaw> = sqlx::query_as(&format!(
        "SELECT {}, raw FROM health.checkups WHERE user_id = $1 AND id = $2",
        columns()
    ))
    .bind(user)
    .bind(id)
    .fetch_optional(conn)
    .await
    .context("reading a checkup")?;
    Ok(row.map(|r| (StoredCheckup::from(r.row), r.raw)))
}

/// Stores a checkup. With `skip_existing`, the same date already stored is skipped (`None`);
/// without, it violates `checkups_user_date_key` (the caller maps that to 409).
pub async fn insert(
    conn: &mut PgConnection,
    user: Uuid,
    c: &NewCheckup,
    file_id: Option<Uuid>,
    skip_existing: bool,
) -> anyhow::Result<Option<Uuid>> {
    let m = &c.measurements;
    let conflict = if skip_existing { "ON CONFLICT ON CONSTRAINT checkups_user_date_key DO NOTHING" } else { "" };
    let sql = format!(
        "INSERT INTO health.checkups (id, user_id, checkup_date, source, centre, centre_judgement, centre_opinion, \
         treated_for, {ITEM_COLUMNS}, raw, file_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
         $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33) {conflict} RETURNING id"
    );
    let code = |c: Option<u8>| c.map(i16::from);
    sqlx::query_scalar(&sql)
        .bind(Uuid::now_v7())
        .bind(user)
        .bind(c.checkup_date)
        .bind(c.source.as_str())
        .bind(&c.centre)
        .bind(&c.centre_judgement)
        .bind(&c.centre_opinion)
        .bind(c.treated_for.iter().map(|t| t.as_str().to_string()).collect::<Vec<_>>())
        .bind(m.height)
        .bind(m.weight)
        .bind(m.waist)
        .bind(m.systolic)
        .bind(m.diastolic)
        .bind(m.fasting_glucose)
        .bind(m.total_cholesterol)
        .bind(m.hdl)
        .bind(m.ldl)
        .bind(m.triglycerides)
        .bind(m.hemoglobin)
        .bind(code(m.urine_protein))
        .bind(m.serum_creatinine)
        .bind(m.egfr)
        .bind(m.ast)
        .bind(m.alt)
        .bind(m.ggt)
        .bind(m.vision_left)
        .bind(m.vision_right)
        .bind(code(m.hearing_left))
        .bind(code(m.hearing_right))
        .bind(code(m.smoking))
        .bind(m.drinking)
        .bind(&c.raw)
        .bind(file_id)
        .fetch_optional(&mut *conn)
        .await
        .context("storing a checkup")
}

/// Deletes one of the user's checkups; `false` when there was none.
pub async fn delete(pool: &PgPool, user: Uuid, id: Uuid) -> anyhow::Result<bool> {
    let done = sqlx::query("DELETE FROM health.checkups WHERE user_id = $1 AND id = $2")
        .bind(user)
        .bind(id)
        .execute(pool)
        .await
        .context("deleting a checkup")?;
    Ok(done.rows_affected() == 1)
}

/// Every checkup with its raw payload, oldest first.
pub async fn export(pool: &PgPool, user: Uuid) -> anyhow::Result<Vec<(StoredCheckup, Value)>> {
    let rows: Vec<WithRaw> = sqlx::query_as(&format!(
        "SELECT {}, raw FROM health.checkups WHERE user_id = $1 ORDER BY checkup_date",
        columns()
    ))
    .bind(user)
    .fetch_all(pool)
    .await
    .context("exporting checkups")?;
    Ok(rows.into_iter().map(|r| (StoredCheckup::from(r.row), r.raw)).collect())
}
