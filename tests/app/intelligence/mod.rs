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

use std::ops::Deref;

use axum::http::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

pub use crate::support::User;
pub use crate::support::claude::{ClaudeFake, Reply};
use crate::support::{Answer, TestApp};

pub const NOW: &str = "2026-11-20T03:00:00Z";

/// The app at [`NOW`] with its clock in the test's hand, and the intelligence domain's requests.
pub struct IntelApp(TestApp);

impl Deref for IntelApp {
    type Target = TestApp;

    fn deref(&self) -> &TestApp {
        &self.0
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
        let local = [("DEV_LOGIN_ENABLED", "true"), ("AUTH_RATE_LIMIT_PER_MINUTE", "10000")];
        let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
        IntelApp(TestApp::builder(pool).settings(&local).settings(&extra).at(NOW).spawn())
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

    /// A registered user (born 1988-04-12, an office worker); `consents` granted.
    pub async fn user(&self, email: &str, consents: &[&str]) -> User {
        let reg = json!({ "name": "김건강", "birthDate": "1988-04-12", "sex": "MALE", "occupation": "소프트웨어 개발자" });
        let u = self.sign_in_and_register_as(email, reg).await;
        if !consents.is_empty() {
            self.consent(&u, consents, true).await;
        }
        u
    }

    /// A manual checkup: blood pressure and fasting glucose 정상B(경계), the rest fine.
    pub async fn checkup(&self, u: &User, date: &str) -> Value {
        let checkup = json!({"checkupDate": date, "systolic": 132, "diastolic": 84,
            "fastingGlucose": 112, "height": 175, "weight": 68, "waist": 80});
        let m = self.post(u, "/api/health/checkups", Some(checkup)).await;
        assert_eq!(m.status, StatusCode::CREATED, "{}", m.text);
        m.body["data"].clone()
    }

    pub async fn diagnosis(&self, u: &User) -> Answer {
        self.get(u, "/api/intelligence/health/diagnosis").await
    }

    pub async fn chat(&self, u: &User, body: Value) -> Answer {
        self.post(u, "/api/intelligence/chat/consultation", Some(body)).await
    }

    pub async fn recommend(&self, u: &User) -> Answer {
        self.post(u, "/api/intelligence/missions/recommend", None).await
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

pub fn diagnosis_input() -> Value {
    json!({
        "sentences": ["클로드 첫 문장입니다.", "클로드 둘째 문장입니다.", "클로드 셋째 문장입니다."],
        "occupationConsiderations": "클로드가 쓴 직업 조언입니다."
    })
}

pub fn chat_input(text: &str) -> Value {
    json!({"response": text, "suggestedQuestions": ["질문 하나?", "질문 둘?", "질문 셋?"], "safety": "none"})
}
