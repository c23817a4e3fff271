//! The health domain through the router: manual entry, NHIS sync (the sample provider and a fake
//! Tilko speaking its two-step contract), files on the folder store and Azurite, history, detail,
//! trends, peers, the cache, events, export and erasure, and a second user who never sees the
//! first one's data.

mod files;
mod limits;
mod manual;
mod population;
mod sheets;
mod sync;
mod tilko;
mod withdrawal;

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::TestApp;
pub use crate::support::User;

/// Local: the dev login, and the sample aggregator approving at once.
pub const LOCAL: &[(&str, &str)] = &[("DEV_LOGIN_ENABLED", "true"), ("SAMPLE_APPROVAL_DELAY_SECS", "0")];

/// A registered user of `sex` born on `birth`, with the health-data consent when `consent`.
pub async fn user_with(app: &TestApp, email: &str, sex: &str, birth: &str, consent: bool) -> User {
    let reg = json!({ "name": "김건강", "birthDate": birth, "sex": sex, "occupation": "사무직" });
    let u = app.sign_in_and_register_as(email, reg).await;
    if consent {
        app.consent(&u, &["HEALTH_DATA"], true).await;
    }
    u
}

pub async fn user(app: &TestApp, email: &str) -> User {
    user_with(app, email, "MALE", "1978-05-20", true).await
}

pub async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

/// A checkup as typed from a paper result.
pub fn entry(date: &str) -> Value {
    json!({
        "checkupDate": date, "height": 172.0, "weight": 78.5, "waist": 91.0, "systolic": 142, "diastolic": 88,
        "fastingGlucose": 104, "totalCholesterol": 210, "hdl": 38, "ldl": 140, "triglycerides": 180,
        "hemoglobin": 15.2, "urineProtein": 1, "serumCreatinine": 0.95, "egfr": 92, "ast": 28, "alt": 41,
        "ggt": 55, "visionLeft": 1.0, "visionRight": 1.2, "hearingLeft": 1, "hearingRight": 1, "smoking": 2,
        "drinking": true
    })
}

/// Ends every pending sync job's approval window now and runs the `HealthSyncSweep` timer, as
/// the host would; the sweep's answer.
pub async fn expire_pending_syncs_and_sweep(app: &TestApp, pool: &PgPool) -> crate::support::Answer {
    sqlx::query(
        "UPDATE health.sync_jobs SET expires_at = now() - interval '1 second' WHERE status = 'PENDING'",
    )
    .execute(pool)
    .await
    .unwrap();
    let timer =
        serde_json::json!({"Data": {"timer": {"ScheduleStatus": null, "IsPastDue": false}}, "Metadata": {}});
    app.call(None, axum::http::Method::POST, "/HealthSyncSweep", Some(timer)).await
}
