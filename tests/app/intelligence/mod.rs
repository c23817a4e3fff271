//! The intelligence domain through the router, against a local fake of the Anthropic Messages API
//! that behaves as the current API does (`support::claude`): diagnosis, mission picks (and the
//! goals reset), the guarded chat, failures that degrade to the offline coach, stop reasons, the
//! model's lifecycle and the alert on refused calls, the breaker, the budget, consent, isolation,
//! nudge wording and data rights.

mod alerts;
mod analytics;
mod chat;
mod current_api;
mod diagnosis;
mod failures;
mod nudge;
mod recommend;
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

pub use crate::support::claude::{ClaudeFake, Reply};
use crate::support::{Answer, send, settings};

pub const NOW: &str = "2026-11-20T03:00:00Z";

pub struct IntelApp {
    pub router: Router,
    pub platform: Platform,
    pub pool: PgPool,
    time: Arc<Mutex<DateTime<Utc>>>,
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

/// Settings that point the client at `fake`; everything else is the default configuration.
pub fn fake_settings(fake: &ClaudeFake) -> Vec<(&'static str, String)> {
    vec![("ANTHROPIC_API_KEY", crate::support::claude::KEY.into()), ("ANTHROPIC_BASE_URL", fake.uri())]
}

impl IntelApp {
    pub fn start(pool: PgPool, extra: &[(&str, String)]) -> IntelApp {
        // As `serve` does: the safety guard's model trains while the test sets up.
        std::thread::spawn(healthsync::intelligence::safety::model::warm);
        let mut all: Vec<(&str, &str)> =
            vec![("DEV_LOGIN_ENABLED", "true"), ("AUTH_RATE_LIMIT_PER_MINUTE", "10000")];
        all.extend(extra.iter().map(|(k, v)| (*k, v.as_str())));
        let settings = Arc::new(settings(&all));
        let config = Config::from_source(settings.as_ref()).unwrap();
        let mut platform = App::platform(DOMAINS, config, settings, pool.clone()).unwrap();
        let time = Arc::new(Mutex::new(at(NOW)));
        let read = time.clone();
        platform.clock = Clock::from_fn(move || *read.lock().unwrap());
        let app = App::mount(platform).unwrap();
        IntelApp { router: app.router, platform: app.platform, pool, time }
    }

    /// The app without a key (the local default).
    pub fn offline(pool: PgPool) -> IntelApp {
        Self::start(pool, &[])
    }

    pub fn with_fake(pool: PgPool, fake: &ClaudeFake, extra: &[(&'static str, &str)]) -> IntelApp {
        let mut s = fake_settings(fake);
        for (k, v) in extra {
            s.retain(|(n, _)| n != k);
            s.push((k, v.to_string()));
        }
        Self::start(pool, &s)
    }

    pub fn set_time(&self, rfc3339: &str) {
        *self.time.lock().unwrap() = at(rfc3339);
    }

    /// A registered user (born 1988-04-12, an office worker); `consents` granted.
    pub async fn user(&self, email: &str, consents: &[&str]) -> User {
        let a = self.call(None, Method::POST, "/api/auth/dev-login", Some(json!({ "email": email }))).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        let token = a.body["data"]["accessToken"].as_str().unwrap().to_string();
        let id = a.body["data"]["userId"].as_str().unwrap().to_string();
        let reg = json!({ "name": "김건강", "birthDate": "1988-04-12", "sex": "MALE", "occupation": "소프트웨어 개발자" });
        let r = self.call(Some(&token), Method::POST, "/api/users/register", Some(reg)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let u = User { token, id };
        if !consents.is_empty() {
            self.consent(&u, consents, true).await;
        }
        u
    }

    pub async fn consent(&self, u: &User, kinds: &[&str], granted: bool) {
        let list: Vec<Value> =
            kinds.iter().map(|k| json!({"type": k, "granted": granted, "version": "2026-11"})).collect();
        let c = self
            .call(Some(&u.token), Method::PUT, "/api/users/me/consents", Some(json!({ "consents": list })))
            .await;
        assert_eq!(c.status, StatusCode::OK, "{}", c.text);
    }

    /// A manual checkup: blood pressure and fasting glucose 정상B(경계), the rest fine.
    pub async fn checkup(&self, u: &User, date: &str) -> Value {
        let checkup = json!({"checkupDate": date, "systolic": 132, "diastolic": 84,
            "fastingGlucose": 112, "height": 175, "weight": 68, "waist": 80});
        let m = self.call(Some(&u.token), Method::POST, "/api/health/checkups", Some(checkup)).await;
        assert_eq!(m.status, StatusCode::CREATED, "{}", m.text);
        m.body["data"].clone()
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

    pub async fn diagnosis(&self, u: &User) -> Answer {
        self.call(Some(&u.token), Method::GET, "/api/intelligence/health/diagnosis", None).await
    }

    pub async fn chat(&self, u: &User, body: Value) -> Answer {
        self.call(Some(&u.token), Method::POST, "/api/intelligence/chat/consultation", Some(body)).await
    }

    pub async fn recommend(&self, u: &User) -> Answer {
        self.call(Some(&u.token), Method::POST, "/api/intelligence/missions/recommend", None).await
    }

    /// `ai.call` events in the outbox.
    pub async fn ai_calls(&self) -> Vec<Value> {
        sqlx::query_scalar(
            "SELECT payload FROM events.outbox WHERE event_type = 'ai.call' ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await
        .unwrap()
    }
}

pub fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().with_timezone(&Utc)
}

pub fn diagnosis_input() -> Value {
    json!({
        "sentences": ["클로드 첫 문장입니다.", "클로드 둘째 문장입니다.", "클로드 셋째 문장입니다."],
        "occupationConsiderations": "클로드가 쓴 직업 조언입니다."
    })
}

pub fn chat_input(text: &str) -> Value {
    json!({"response": text, "suggestedQuestions": ["질문 하나?", "질문 둘?", "질문 셋?"], "safety": "none"})
}
