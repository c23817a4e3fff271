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

use axum::{
    Router,
    body::Body,
    http::{Method, Request, StatusCode},
};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::{Answer, call, send};

/// Local: the dev login, and the sample aggregator approving at once.
pub const LOCAL: &[(&str, &str)] = &[("DEV_LOGIN_ENABLED", "true"), ("SAMPLE_APPROVAL_DELAY_SECS", "0")];

pub struct User {
    pub token: String,
    pub id: String,
}

pub async fn authed(app: &Router, token: &str, method: Method, uri: &str, body: Option<Value>) -> Answer {
    let mut b = Request::builder().method(method).uri(uri).header("authorization", format!("Bearer {token}"));
    let body = match body {
        Some(v) => {
            b = b.header("content-type", "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    send(app, b.body(body).unwrap()).await
}

/// A registered user of `sex` born on `birth`, with the health-data consent when `consent`.
pub async fn user_with(app: &Router, email: &str, sex: &str, birth: &str, consent: bool) -> User {
    let a = call(app, Method::POST, "/api/auth/dev-login", Some(json!({ "email": email }))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let token = a.body["data"]["accessToken"].as_str().unwrap().to_string();
    let id = a.body["data"]["userId"].as_str().unwrap().to_string();
    let reg = json!({ "name": "김건강", "birthDate": birth, "sex": sex, "occupation": "사무직" });
    let r = authed(app, &token, Method::POST, "/api/users/register", Some(reg)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    if consent {
        let c = json!({ "consents": [{ "type": "HEALTH_DATA", "granted": true, "version": "2026-11" }] });
        let r = authed(app, &token, Method::PUT, "/api/users/me/consents", Some(c)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    User { token, id }
}

pub async fn user(app: &Router, email: &str) -> User {
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
