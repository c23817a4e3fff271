//! The goals domain through the router, with the app's clock set by the test: catalogue and
//! selection, completion (repeats, races, streaks, the Seoul day boundary), the cached active view,
//! history against a hand-computed fixture, reset and recommendations, the Rust API, isolation
//! between users, and data rights.

mod api;
mod catalog;
mod complete;
mod day_boundary;
mod history;
mod isolation;
mod reset;
mod rights;

use std::ops::Deref;

use axum::http::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::{Answer, TestApp};
pub use crate::support::{User, app::at};

/// The app with its clock in the test's hand, and the goals' own requests.
pub struct GoalsApp(TestApp);

impl Deref for GoalsApp {
    type Target = TestApp;

    fn deref(&self) -> &TestApp {
        &self.0
    }
}

impl GoalsApp {
    /// The app around `pool` at `now` (RFC 3339), with extra settings.
    pub fn start(pool: PgPool, now: &str, extra: &[(&str, &str)]) -> GoalsApp {
        let local = [("DEV_LOGIN_ENABLED", "true"), ("AUTH_RATE_LIMIT_PER_MINUTE", "10000")];
        GoalsApp(TestApp::builder(pool).settings(&local).settings(extra).at(now).spawn())
    }

    pub fn new(pool: PgPool, now: &str) -> GoalsApp {
        Self::start(pool, now, &[])
    }

    /// A signed-in, registered user.
    pub async fn user(&self, email: &str) -> User {
        let reg = json!({ "name": "이목표", "birthDate": "1990-05-05", "sex": "MALE" });
        self.sign_in_and_register_as(email, reg).await
    }

    pub async fn select(&self, u: &User, ids: &[&str]) -> Answer {
        self.post(u, "/api/goals/missions/select", Some(json!({ "selectedMissionIds": ids }))).await
    }

    pub async fn complete(&self, u: &User, mission: &str, body: Value) -> Answer {
        self.put(u, &format!("/api/goals/missions/{mission}/complete"), Some(body)).await
    }

    pub async fn done(&self, u: &User, mission: &str) -> Answer {
        let a = self.complete(u, mission, json!({ "completed": true })).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        a
    }

    pub async fn active(&self, u: &User) -> Value {
        let a = self.get(u, "/api/goals/missions/active").await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        a.body["data"].clone()
    }

    /// Events of a type in the outbox about a user.
    pub async fn events(&self, event_type: &str, u: &User) -> Vec<Value> {
        sqlx::query_scalar(
            "SELECT payload FROM events.outbox WHERE event_type = $1 AND payload->>'userId' = $2 ORDER BY created_at, id",
        )
        .bind(event_type)
        .bind(&u.id)
        .fetch_all(&self.pool)
        .await
        .unwrap()
    }
}

/// The field names of a 422 answer, in order.
pub fn failing_fields(a: &Answer) -> Vec<String> {
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    a.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap().to_string()).collect()
}

/// The daily mission `id` in an active view.
pub fn mission<'v>(active: &'v Value, id: &str) -> &'v Value {
    active["dailyMissions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["missionId"] == id)
        .unwrap_or_else(|| panic!("{id} is not in {active}"))
}

/// Noon in Seoul on 2026-03-`day` (03:00 UTC).
pub fn noon(day: u32) -> String {
    format!("2026-03-{day:02}T03:00:00Z")
}
