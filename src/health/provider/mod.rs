//! How a person's own checkups reach us (DOMAIN.md §3): an aggregator signs in to NHIS with a
//! two-step simple authentication. [`CheckupProvider`] is that contract; [`tilko::Tilko`] speaks a
//! real aggregator's, [`sample::Sample`] plays the same two steps locally with realistic data.

pub mod sample;
pub mod tilko;

use async_trait::async_trait;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::users::api::Sex;
pub use tilko::map::Mapped;

/// The app the user approves the sign-in with (간편인증).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LoginType {
    Kakao,
    Payco,
    Kb,
    Samsung,
    Pass,
    Shinhan,
    Naver,
}

impl LoginType {
    /// Tilko's `PrivateAuthType` code.
    pub fn tilko_code(self) -> &'static str {
        match self {
            LoginType::Kakao => "0",
            LoginType::Payco => "1",
            LoginType::Kb => "2",
            LoginType::Samsung => "3",
            LoginType::Pass => "4",
            LoginType::Shinhan => "5",
            LoginType::Naver => "6",
        }
    }
}

/// Step one's input: who signs in, and with which app. Never a resident registration number.
#[derive(Debug, Clone)]
pub struct StartRequest {
    pub name: String,
    pub birth_date: NaiveDate,
    /// Digits only, `01012345678`.
    pub phone: String,
    pub login_type: LoginType,
    /// Some aggregators need the carrier (PASS); Tilko's NHIS contract does not.
    pub telecom: Option<String>,
    /// From the profile; only the sample uses it (which panels a person of that sex gets).
    pub sex: Sex,
}

pub enum StartOutcome {
    /// The user must now approve in their app; `handle` is what step two needs.
    Waiting(Value),
    /// The aggregator refused (wrong name or phone …); the reason is a stable code.
    Rejected(String),
}

pub enum Completion {
    /// Not approved yet: ask again later.
    Pending,
    Approved(Mapped),
    Cancelled,
    Expired,
    Rejected(String),
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The aggregator cannot be reached or failed: a 503, and a pending job stays pending.
    #[error("the checkup aggregator is unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// No aggregator is configured (in Azure without `TILKO_API_KEY`).
    #[error("no checkup aggregator is configured")]
    NotConfigured,
}

#[async_trait]
pub trait CheckupProvider: Send + Sync {
    /// Stored with each job.
    fn name(&self) -> &'static str;
    async fn start(&self, req: &StartRequest) -> Result<StartOutcome, ProviderError>;
    async fn complete(&self, handle: &Value) -> Result<Completion, ProviderError>;
}

/// Refuses every call: Azure without an aggregator key must not serve sample data to people.
pub struct NotConfigured;

#[async_trait]
impl CheckupProvider for NotConfigured {
    fn name(&self) -> &'static str {
        "none"
    }

    async fn start(&self, _: &StartRequest) -> Result<StartOutcome, ProviderError> {
        Err(ProviderError::NotConfigured)
    }

    async fn complete(&self, _: &Value) -> Result<Completion, ProviderError> {
        Err(ProviderError::NotConfigured)
    }
}
