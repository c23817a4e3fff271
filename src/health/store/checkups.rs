//! Checkups: one row per person and date, each item a column.

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use sqlx::{PgConnection, PgExecutor, PgPool};
use uuid::Uuid;

use crate::{
    health::{
        events::CheckupRecorded,
        judge,
        model::{Condition, Measurements, NewCheckup, Smoking, Source},
    },
    platform::bus::{self, NewEvent},
    users::api::Sex,
};

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

/// A stored checkup as read, with its raw payload when the statement reads it.
struct Row {
    id: Uuid,
    checkup_date: NaiveDate,
    source: Source,
    centre: Option<String>,
    centre_judgement: Option<String>,
    centre_opinion: Option<String>,
    treated_for: Vec<Condition>,
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
    smoking: Option<Smoking>,
    drinking: Option<bool>,
    file_id: Option<Uuid>,
    created_at: DateTime<Utc>,
    raw: Option<Value>,
}

impl Row {
    fn into_parts(self) -> (StoredCheckup, Option<Value>) {
        let r = self;
        let code = |c: Option<i16>| c.and_then(|c| u8::try_from(c).ok());
        let stored = StoredCheckup {
            id: r.id,
            checkup_date: r.checkup_date,
            source: r.source,
            centre: r.centre,
            centre_judgement: r.centre_judgement,
            centre_opinion: r.centre_opinion,
            treated_for: r.treated_for,
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
                smoking: r.smoking,
                drinking: r.drinking,
            },
            file_id: r.file_id,
            created_at: r.created_at,
        };
        (stored, r.raw)
    }

    fn with_raw(self) -> anyhow::Result<(StoredCheckup, Value)> {
        let (stored, raw) = self.into_parts();
        Ok((stored, raw.context("a checkup read without its raw payload")?))
    }
}

/// `query_as!` into [`Row`]: a stored checkup's columns, then `$raw` (`raw`, or `NULL::jsonb`
/// where the payload is not needed) and the rest of the statement (string literals).
macro_rules! select_checkups {
    ($raw:literal, $rest:literal $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            Row,
            r#"SELECT id, checkup_date, source AS "source: Source", centre, centre_judgement, centre_opinion,
                      treated_for AS "treated_for: Vec<Condition>", height, weight, waist, systolic, diastolic,
                      fasting_glucose, total_cholesterol, hdl, ldl, triglycerides, hemoglobin, urine_protein,
                      serum_creatinine, egfr, ast, alt, ggt, vision_left, vision_right, hearing_left, hearing_right,
                      smoking AS "smoking: Smoking", drinking, file_id, created_at, "# + $raw + r#" AS "raw?"
               FROM health.checkups "# + $rest
            $(, $arg)*
        )
    };
}

/// The user's checkups, newest first.
pub async fn list(pool: &PgPool, user: Uuid, limit: i64) -> anyhow::Result<Vec<StoredCheckup>> {
    let rows = select_checkups!("NULL::jsonb", "WHERE user_id = $1 ORDER BY checkup_date DESC LIMIT $2", user, limit)
        .fetch_all(pool)
        .await
        .context("reading checkups")?;
    Ok(rows.into_iter().map(|r| r.into_parts().0).collect())
}

pub async fn count(pool: &PgPool, user: Uuid) -> anyhow::Result<i64> {
    sqlx::query_scalar!(r#"SELECT count(*) AS "count!" FROM health.checkups WHERE user_id = $1"#, user)
        .fetch_one(pool)
        .await
        .context("counting checkups")
}

/// One of the user's checkups with its raw payload; `None` when it is not theirs or not there.
/// On the pool, or inside the caller's transaction.
pub async fn get(
    db: impl PgExecutor<'_>,
    user: Uuid,
    id: Uuid,
) -> anyhow::Result<Option<(StoredCheckup, Value)>> {
    let row = select_checkups!("raw", "WHERE user_id = $1 AND id = $2", user, id)
        .fetch_optional(db)
        .await
        .context("reading a checkup")?;
    row.map(Row::with_raw).transpose()
}

/// Stores a checkup in the caller's transaction; `None` when one of that date is stored already
/// (`checkups_user_date_key`: a repeated sync, a retyped sheet).
pub async fn insert(
    conn: &mut PgConnection,
    user: Uuid,
    c: &NewCheckup,
    file_id: Option<Uuid>,
) -> anyhow::Result<Option<Uuid>> {
    let m = &c.measurements;
    let code = |c: Option<u8>| c.map(i16::from);
    sqlx::query_scalar!(
        "INSERT INTO health.checkups (id, user_id, checkup_date, source, centre, centre_judgement, centre_opinion, \
         treated_for, height, weight, waist, systolic, diastolic, fasting_glucose, total_cholesterol, hdl, ldl, \
         triglycerides, hemoglobin, urine_protein, serum_creatinine, egfr, ast, alt, ggt, vision_left, vision_right, \
         hearing_left, hearing_right, smoking, drinking, raw, file_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, \
         $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33) \
         ON CONFLICT ON CONSTRAINT checkups_user_date_key DO NOTHING RETURNING id",
        Uuid::now_v7(),
        user,
        c.checkup_date,
        c.source as _,
        c.centre.as_deref(),
        c.centre_judgement.as_deref(),
        c.centre_opinion.as_deref(),
        &c.treated_for as _,
        m.height,
        m.weight,
        m.waist,
        m.systolic,
        m.diastolic,
        m.fasting_glucose,
        m.total_cholesterol,
        m.hdl,
        m.ldl,
        m.triglycerides,
        m.hemoglobin,
        code(m.urine_protein),
        m.serum_creatinine,
        m.egfr,
        m.ast,
        m.alt,
        m.ggt,
        m.vision_left,
        m.vision_right,
        code(m.hearing_left),
        code(m.hearing_right),
        m.smoking as _,
        m.drinking,
        &c.raw,
        file_id,
    )
    .fetch_optional(&mut *conn)
    .await
    .context("storing a checkup")
}

/// Stores a typed-in checkup and announces `checkup.recorded` with its worst grade (judged for
/// `sex`): one transaction. `None` when a checkup of that date is stored already; a `file_id` that
/// is gone violates `checkups_file_fkey`.
pub async fn record(
    pool: &PgPool,
    user: Uuid,
    c: &NewCheckup,
    file_id: Option<Uuid>,
    sex: Sex,
) -> anyhow::Result<Option<StoredCheckup>> {
    let mut tx = pool.begin().await.context("starting to record a checkup")?;
    let Some(id) = insert(&mut tx, user, c, file_id).await? else {
        tx.rollback().await.context("ending a checkup that was not stored")?;
        return Ok(None);
    };
    let (stored, _) = get(&mut *tx, user, id).await?.context("the checkup just stored")?;
    let m = &stored.measurements;
    let worst_grade = judge::assess(m, sex, stored.checkup_date, &stored.treated_for).worst_grade();
    let event = CheckupRecorded { user_id: user, checkup_id: id, worst_grade };
    bus::publish(&mut tx, NewEvent::of(&event)?).await?;
    tx.commit().await.context("committing a checkup")?;
    Ok(Some(stored))
}

/// Deletes one of the user's checkups; `false` when there was none.
pub async fn delete(pool: &PgPool, user: Uuid, id: Uuid) -> anyhow::Result<bool> {
    let done = sqlx::query!("DELETE FROM health.checkups WHERE user_id = $1 AND id = $2", user, id)
        .execute(pool)
        .await
        .context("deleting a checkup")?;
    Ok(done.rows_affected() == 1)
}

/// Every checkup with its raw payload, oldest first.
pub async fn export(pool: &PgPool, user: Uuid) -> anyhow::Result<Vec<(StoredCheckup, Value)>> {
    let rows = select_checkups!("raw", "WHERE user_id = $1 ORDER BY checkup_date", user)
        .fetch_all(pool)
        .await
        .context("exporting checkups")?;
    rows.into_iter().map(Row::with_raw).collect()
}
