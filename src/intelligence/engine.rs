//! Who answers: Claude, when it may and can, else the offline coach. One place decides, records
//! the tokens spent against the user's daily budget and announces every answer as an `ai.call`
//! analytics event (engine, model, tokens, latency, cache hit, outcome; never a text).

use std::{sync::Arc, time::Instant};

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{events::AiCall, store};
use crate::{
    domain::Platform,
    platform::{
        ai::{AiError, Claude, ClaudeConfig, Prompt, Usage},
        bus::{self, NewEvent},
    },
};

/// Which engine wrote an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    Claude,
    Offline,
}

/// What an AI call is for (analytics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Diagnosis,
    Recommend,
    Chat,
    Nudge,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Diagnosis => "diagnosis",
            Purpose::Recommend => "recommend",
            Purpose::Chat => "chat",
            Purpose::Nudge => "nudge",
        }
    }
}

/// The app's one Claude client (its breaker counts for every caller), shared through the platform.
pub fn claude(platform: &Platform) -> anyhow::Result<Arc<Claude>> {
    platform.shared(|p| Ok(Arc::new(Claude::new(ClaudeConfig::from_source(p.settings.as_ref())?))))
}

/// Whose budget a call is counted against.
#[derive(Clone, Copy, Debug)]
pub struct Spender {
    pub user: Uuid,
    pub day: chrono::NaiveDate,
    pub daily_tokens: u64,
}

/// Why Claude did not answer (the outcome of an offline answer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offline {
    NotConfigured,
    NoConsent,
    Budget,
    RedFlag,
    Failed(&'static str),
    InvalidAnswer,
}

impl Offline {
    pub fn as_str(self) -> &'static str {
        match self {
            Offline::NotConfigured => "not_configured",
            Offline::NoConsent => "no_consent",
            Offline::Budget => "budget",
            Offline::RedFlag => "red_flag",
            Offline::Failed(kind) => kind,
            Offline::InvalidAnswer => "invalid_answer",
        }
    }
}

/// Asks Claude for a structured answer of shape `T` that `valid` accepts; records the tokens
/// (whatever the answer) and announces the call. `Err` says why the coach must answer instead.
/// `allowed` is the consent check's answer (always `true` for calls without personal data).
pub async fn ask<T: DeserializeOwned>(
    platform: &Platform,
    ai: &Claude,
    allowed: bool,
    spender: Option<Spender>,
    purpose: Purpose,
    prompt: &Prompt<'_>,
    valid: impl Fn(&T) -> bool,
) -> Result<T, Offline> {
    if let Err(why) = may_call(platform, ai, allowed, spender).await {
        announce(platform, purpose, Engine::Offline, false, why.as_str()).await;
        return Err(why);
    }
    let started = Instant::now();
    let result = ai.complete(prompt).await;
    let latency_ms = started.elapsed().as_millis() as u64;
    let (outcome, usage, model, attempts) = match &result {
        Ok(a) => match a.tool::<T>().filter(|t| valid(t)) {
            Some(_) => (Ok(()), a.usage, Some(a.model.clone()), a.attempts),
            None => (Err(Offline::InvalidAnswer), a.usage, Some(a.model.clone()), a.attempts),
        },
        Err(AiError::BreakerOpen) => (Err(Offline::Failed("breaker_open")), Usage::default(), None, 0),
        Err(e) => (Err(Offline::Failed(e.kind())), Usage::default(), None, 0),
    };
    let event = AiCall {
        purpose: purpose.as_str().into(),
        engine: if outcome.is_ok() { Engine::Claude } else { Engine::Offline },
        model: model.or_else(|| Some(ai.model().to_string())),
        input_tokens: usage.input_tokens,
        output_tokens: usage.output_tokens,
        latency_ms,
        cache_hit: false,
        attempts,
        outcome: match outcome {
            Ok(()) => "ok".into(),
            Err(o) => o.as_str().into(),
        },
    };
    if let Err(err) = record(platform, spender, usage, &event).await {
        tracing::warn!(error = format!("{err:#}"), "recording AI usage failed");
    }
    outcome?;
    result.ok().and_then(|a| a.tool::<T>()).ok_or(Offline::InvalidAnswer)
}

async fn may_call(platform: &Platform, ai: &Claude, allowed: bool, spender: Option<Spender>) -> Result<(), Offline> {
    if !allowed {
        return Err(Offline::NoConsent);
    }
    if !ai.is_configured() {
        return Err(Offline::NotConfigured);
    }
    if let Some(s) = spender {
        match store::tokens_on(&platform.db, s.user, s.day).await {
            Ok(spent) if spent >= s.daily_tokens => return Err(Offline::Budget),
            Ok(_) => {}
            Err(err) => {
                tracing::warn!(error = format!("{err:#}"), "reading AI usage failed; the coach answers");
                return Err(Offline::Failed("usage_unreadable"));
            }
        }
    }
    Ok(())
}

/// Announces an answer that made no call (the coach, a guard, a cache hit).
pub async fn announce(platform: &Platform, purpose: Purpose, engine: Engine, cache_hit: bool, outcome: &str) {
    let event = AiCall {
        purpose: purpose.as_str().into(),
        engine,
        model: None,
        input_tokens: 0,
        output_tokens: 0,
        latency_ms: 0,
        cache_hit,
        attempts: 0,
        outcome: outcome.into(),
    };
    if let Err(err) = record(platform, None, Usage::default(), &event).await {
        tracing::warn!(error = format!("{err:#}"), "announcing an AI answer failed");
    }
}

async fn record(platform: &Platform, spender: Option<Spender>, usage: Usage, event: &AiCall) -> anyhow::Result<()> {
    let mut tx = platform.db.begin().await?;
    if let Some(s) = spender
        && usage.total() > 0
    {
        store::add_usage(&mut tx, s.user, s.day, usage).await?;
    }
    bus::publish(&mut tx, NewEvent::of(event)?).await?;
    tx.commit().await?;
    Ok(())
}
