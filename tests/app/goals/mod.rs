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

use std::sync::{Arc, Mutex};

use axum::{
    Router,
    body::Body,
    http::{Method, Request, StatusCode},
};
use chrono::{DateTime, Utc};
use healthsync::{DOMAINS, app::App, config::Config, domain::Platform, platform::time::Clock};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::{Answer, send, settings};

/// The app with its clock in the test's hand.
pub struct GoalsApp {
    pub router: Router,
    pub platform: Platform,
    pub pool: PgPool,
    time: Arc<Mutex<DateTime<Utc>>>,
}

pub fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).expect("a test time").with_timezone(&Utc)
}

impl GoalsApp {
    /// The app around `pool` at `now` (RFC 3339), with extra settings.
    pub fn start(pool: PgPool, now: &str, extra: &[(&str, &str)]) -> GoalsApp {
        let mut all = vec![("DEV_LOGIN_ENABLED", "true"), ("AUTH_RATE_LIMIT_PER_MINUTE", "10000")];
        all.extend_from_slice(extra);
        let settings = Arc::new(settings(&all));
        let config = Config::from_source(settings.as_ref()).unwrap();
        let mut platform = App::platform(DOMAINS, config, settings, pool.clone()).unwrap();
        let time = Arc::new(Mutex::new(at(now)));
        let read = time.clone();
        // The app's one clock: every domain reads it from the platform.
        platform.clock = Clock::from_fn(move || *read.lock().unwrap());
        let app = App::mount(platform).unwrap();
        GoalsApp { router: app.router, platform: app.platform, pool, time }
    }

    pub fn new(pool: PgPool, now: &str) -> GoalsApp {
        Self::start(pool, now, &[])
    }

    pub fn set_time(&self, rfc3339: &str) {
        *self.time.lock().unwrap() = at(rfc3339);
    }

    /// A signed-in, registered user: their access token and id.
    pub async fn user(&self, email: &str) -> User {
        let a = self.call(None, Method::POST, "/api/auth/dev-login", Some(json!({ "email": email }))).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        let token = a.body["data"]["accessToken"].as_str().unwrap().to_string();
        let id = a.body["data"]["userId"].as_str().unwrap().to_string();
        let reg = json!({ "name": "이목표", "birthDate": "1990-05-05", "sex": "MALE" });
        let r = self.call(Some(&token), Method::POST, "/api/users/register", Some(reg)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        User { token, id }
    }

    pub async fn call(&self, token: Option<&str>, method: Method, uri: &str, body: Option<Value>) -> Answer {
        let mut b = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        let body = match body {
            Some(v) => {
                b = b.header("content-type", "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        send(&self.router, b.body(body).unwrap()).await
    }

    pub async fn get(&self, u: &User, uri: &str) -> Answer {
        self.call(Some(&u.token), Method::GET, uri, None).await
    }

    pub async fn select(&self, u: &User, ids: &[&str]) -> Answer {
        let body = json!({ "selectedMissionIds": ids });
        self.call(Some(&u.token), Method::POST, "/api/goals/missions/select", Some(body)).await
    }

    pub async fn complete(&self, u: &User, mission: &str, body: Value) -> Answer {
        let uri = format!("/api/goals/missions/{mission}/complete");
        self.call(Some(&u.token), Method::PUT, &uri, Some(body)).await
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

pub struct User {
    pub token: String,
    pub id: String,
}

impl User {
    pub fn uuid(&self) -> uuid::Uuid {
        self.id.parse().unwrap()
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
