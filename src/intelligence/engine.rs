//! Who answers: Claude, when it may and can, else the offline coach. One place decides, sizes each
//! call for its purpose, holds the tokens it may spend against the user's daily budget before it
//! goes out (`budget`) and settles them with the real usage after, reads why the model stopped,
//! and announces every answer as an `ai.call` analytics event (engine, model, tokens, latency,
//! cache hit, outcome; never a text).

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    budget,
    events::{AiCall, Outcome},
};
use crate::{
    domain::Platform,
    platform::{
        ai::{AiError, Answer, ClaudeConfig, Effort, Limits, Prompt, Stop, Turn, Usage},
        bus::{self, NewEvent},
    },
};

/// Which engine wrote an answer.
// Also a chat message's `engine` column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, sqlx::Encode, sqlx::Decode)]
#[serde(rename_all = "lowercase")]
#[sqlx(rename_all = "lowercase")]
pub enum Engine {
    Claude,
    Offline,
}
crate::platform::db::text_enum!(Engine);

/// What an AI call is for: its effort, its sizes and its name in analytics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    Diagnosis,
    Recommend,
    Chat,
    Nudge,
}

/// Output tokens a purpose's effort may spend thinking before its answer (thinking tokens count
/// in `max_tokens`): what the sizes below leave room for.
pub const fn thinking_allowance(effort: Effort) -> u32 {
    match effort {
        Effort::Low => 256,
        Effort::Medium => 1024,
        Effort::High => 4096,
    }
}

/// Room left in an interactive call's budget for a quick retry (a 429 or 529 with a short wait).
const RETRY_ROOM: Duration = Duration::from_secs(4);
/// A reservation outlives its call by this much before it stops holding tokens (a crash between
/// the call and its settlement frees them).
const RESERVATION_SLACK: Duration = Duration::from_secs(30);

impl Purpose {
    pub const ALL: [Purpose; 4] = [Purpose::Diagnosis, Purpose::Recommend, Purpose::Chat, Purpose::Nudge];

    /// The effort each purpose asks for: the short ones (a nudge, picks from a list, an
    /// explanation of numbers the rules computed) need no deep thought; a free conversation with
    /// a safety reading thinks a little more.
    pub const fn effort(self) -> Effort {
        match self {
            Purpose::Chat => Effort::Medium,
            Purpose::Diagnosis | Purpose::Recommend | Purpose::Nudge => Effort::Low,
        }
    }

    /// `max_tokens` of the first request: the purpose's longest valid answer (at 1.5 tokens per
    /// Hangul syllable) plus its effort's thinking allowance, rounded up (docs/intelligence.md
    /// "Sizes"; `tests::each_purposes_longest_valid_answer_fits_its_max_tokens`).
    pub const fn max_tokens(self) -> u32 {
        match self {
            Purpose::Nudge => 512,
            Purpose::Diagnosis => 1536,
            Purpose::Recommend => 2048,
            Purpose::Chat => 2560,
        }
    }

    /// `max_tokens` of the one retry after an answer cut at `max_tokens`.
    pub const fn retry_max_tokens(self) -> u32 {
        self.max_tokens() * 8 / 5
    }

    /// Whether a person waits for the answer (the call must fit a request's long timeout).
    pub const fn interactive(self) -> bool {
        !matches!(self, Purpose::Nudge)
    }

    /// The limits of the purpose's first request under `config`.
    pub fn limits(self, config: &ClaudeConfig) -> Limits {
        let attempt_timeout = config.attempt_timeout(self.max_tokens());
        let budget = if self.interactive() { attempt_timeout + RETRY_ROOM } else { attempt_timeout * 2 + RETRY_ROOM };
        Limits { effort: self.effort(), max_tokens: self.max_tokens(), attempt_timeout, budget }
    }
}

/// Refuses a configuration under which an interactive call could outlast its request: each
/// purpose's whole call (its attempts at the slowest pace allowed, and a quick retry) plus a few
/// seconds for the request's own work must end inside `HTTP_LONG_TIMEOUT_MS`.
pub fn check_fits(platform: &Platform) -> anyhow::Result<()> {
    let long = platform.config.http_long_timeout;
    for p in Purpose::ALL.into_iter().filter(|p| p.interactive()) {
        let budget = p.limits(platform.ai.config()).budget;
        anyhow::ensure!(
            budget + Duration::from_secs(3) <= long,
            "a {:?} call may take {} ms, longer than HTTP_LONG_TIMEOUT_MS ({} ms) allows: raise HTTP_LONG_TIMEOUT_MS \
             or ANTHROPIC_MIN_TOKENS_PER_SEC, or lower ANTHROPIC_FIRST_TOKEN_MS",
            p,
            budget.as_millis(),
            long.as_millis()
        );
    }
    Ok(())
}

/// Whose budget a call is counted against.
#[derive(Clone, Copy, Debug)]
pub struct Spender {
    pub user: Uuid,
    pub day: chrono::NaiveDate,
    pub daily_tokens: u64,
}

/// Why Claude did not answer: the outcome of an offline answer, as the `ai.call` event names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Offline {
    NotConfigured,
    NoConsent,
    Budget,
    /// The rules found a red flag in the message (before any call).
    RedFlag,
    /// Claude's own reading found a red flag the rules missed (its coaching is not shown).
    RedFlagAi,
    /// The budget could not be read: the coach answers rather than spend unchecked.
    UsageUnreadable,
    BreakerOpen,
    Timeout,
    Unavailable,
    ModelUnavailable,
    Refused,
    Transport,
    Malformed,
    InvalidAnswer,
    /// Cut at `max_tokens` (and no retry fitted or the retry was cut too).
    Truncated,
    /// The model declined (`stop_reason: refusal`).
    Refusal,
}

impl From<AiError> for Offline {
    fn from(e: AiError) -> Self {
        match e {
            AiError::NotConfigured => Offline::NotConfigured,
            AiError::BreakerOpen => Offline::BreakerOpen,
            AiError::Timeout => Offline::Timeout,
            AiError::Unavailable(_) => Offline::Unavailable,
            AiError::ModelUnavailable => Offline::ModelUnavailable,
            AiError::Refused(_) => Offline::Refused,
            AiError::Transport => Offline::Transport,
            AiError::Malformed => Offline::Malformed,
        }
    }
}

/// One question for Claude: the purpose decides its effort and sizes.
pub struct Ask<'a> {
    pub purpose: Purpose,
    pub system: &'a str,
    pub turns: Vec<Turn>,
    /// The answer's JSON schema (the structured-output subset; lengths are checked by `valid`).
    pub schema: &'a Value,
}

/// What one call produced, for the analytics event and the budget.
struct Spent {
    usage: Usage,
    model: Option<String>,
    attempts: u32,
    reservations: Vec<Uuid>,
}

/// Asks Claude for a structured answer of shape `T` that `valid` accepts; holds the tokens the
/// call may spend before it is sent, settles them with the real usage (whatever the answer) and
/// announces the call. `Err` says why the coach must answer instead. `allowed` is the consent
/// check's answer (always `true` for calls without personal data).
pub async fn ask<T: DeserializeOwned>(
    platform: &Platform,
    allowed: bool,
    spender: Option<Spender>,
    ask: Ask<'_>,
    valid: impl Fn(&T) -> bool,
) -> Result<T, Offline> {
    let ai = &platform.ai;
    let purpose = ask.purpose;
    let why_not = if !allowed {
        Some(Offline::NoConsent)
    } else if !ai.is_configured() {
        Some(Offline::NotConfigured)
    } else {
        None
    };
    if let Some(why) = why_not {
        announce(platform, purpose, Engine::Offline, false, why.into()).await;
        return Err(why);
    }
    let started = Instant::now();
    let mut prompt =
        Prompt { system: ask.system, turns: ask.turns, schema: ask.schema, limits: purpose.limits(ai.config()) };
    let mut spent = Spent { usage: Usage::default(), model: None, attempts: 0, reservations: Vec::new() };
    let outcome = match hold(platform, spender, &prompt, &mut spent).await {
        Err(why) => Err(why),
        Ok(()) => {
            let mut result = call(platform, &prompt, &mut spent).await;
            // Cut at max_tokens: one retry with a larger limit, when the time left fits it at the
            // pace the first attempt showed and the budget holds its tokens.
            if let Err(Offline::Truncated) = result {
                let deadline = started + prompt.limits.budget;
                let left = deadline.saturating_duration_since(Instant::now());
                let larger = purpose.retry_max_tokens();
                let needed = started.elapsed().mul_f64(f64::from(larger) / f64::from(prompt.limits.max_tokens) * 1.2);
                if left >= needed && left > Duration::ZERO {
                    prompt.limits.max_tokens = larger;
                    prompt.limits.attempt_timeout = left;
                    prompt.limits.budget = left;
                    if hold(platform, spender, &prompt, &mut spent).await.is_ok() {
                        result = call(platform, &prompt, &mut spent).await;
                    }
                }
            }
            result
        }
    };
    let outcome: Result<T, Offline> = outcome.and_then(|answer| match answer.json::<T>() {
        Some(t) if valid(&t) => Ok(t),
        _ => Err(Offline::InvalidAnswer),
    });
    let event = AiCall {
        purpose,
        engine: if outcome.is_ok() { Engine::Claude } else { Engine::Offline },
        model: spent.model.clone().or_else(|| Some(ai.model().to_string())),
        input_tokens: spent.usage.input_tokens,
        output_tokens: spent.usage.output_tokens,
        latency_ms: started.elapsed().as_millis() as u64,
        cache_hit: false,
        attempts: spent.attempts,
        outcome: match &outcome {
            Ok(_) => Outcome::Ok,
            Err(o) => (*o).into(),
        },
    };
    if let Err(err) = record(platform, spender, &spent, &event).await {
        tracing::warn!(error = format!("{err:#}"), "recording AI usage failed");
    }
    outcome
}

/// Holds the most the request can spend (its input, estimated, and its `max_tokens`) against the
/// spender's budget; `Err(Budget)` when the day's budget is already spoken for.
async fn hold(platform: &Platform, spender: Option<Spender>, prompt: &Prompt<'_>, spent: &mut Spent) -> Result<(), Offline> {
    let Some(s) = spender else { return Ok(()) };
    let tokens = prompt.estimated_input_tokens() + u64::from(prompt.limits.max_tokens);
    let ttl = prompt.limits.budget + RESERVATION_SLACK;
    match budget::reserve(&platform.db, s, tokens, ttl).await {
        Ok(Some(id)) => {
            spent.reservations.push(id);
            Ok(())
        }
        Ok(None) => Err(Offline::Budget),
        Err(err) => {
            tracing::warn!(error = format!("{err:#}"), "reserving AI tokens failed; the coach answers");
            Err(Offline::UsageUnreadable)
        }
    }
}

/// One call; `Ok` only for a complete answer (its JSON is read by the caller).
async fn call(platform: &Platform, prompt: &Prompt<'_>, spent: &mut Spent) -> Result<Answer, Offline> {
    match platform.ai.complete(prompt).await {
        Ok(a) => {
            spent.usage.input_tokens += a.usage.input_tokens;
            spent.usage.output_tokens += a.usage.output_tokens;
            spent.attempts += a.attempts;
            spent.model = Some(a.model.clone());
            match a.stop {
                Stop::EndTurn => Ok(a),
                Stop::MaxTokens => Err(Offline::Truncated),
                Stop::Refusal => Err(Offline::Refusal),
                Stop::PauseTurn | Stop::Other => Err(Offline::InvalidAnswer),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// Announces an answer that made no call (the coach, a guard, a cache hit).
pub async fn announce(platform: &Platform, purpose: Purpose, engine: Engine, cache_hit: bool, outcome: Outcome) {
    let event = AiCall {
        purpose,
        engine,
        model: None,
        input_tokens: 0,
        output_tokens: 0,
        latency_ms: 0,
        cache_hit,
        attempts: 0,
        outcome,
    };
    let spent = Spent { usage: Usage::default(), model: None, attempts: 0, reservations: Vec::new() };
    if let Err(err) = record(platform, None, &spent, &event).await {
        tracing::warn!(error = format!("{err:#}"), "announcing an AI answer failed");
    }
}

/// Settles the call's reservations with its real usage and publishes its event, in one transaction.
async fn record(platform: &Platform, spender: Option<Spender>, spent: &Spent, event: &AiCall) -> anyhow::Result<()> {
    let mut tx = platform.db.begin().await?;
    if let Some(s) = spender {
        budget::settle(&mut tx, s, &spent.reservations, spent.usage).await?;
    }
    bus::publish(&mut tx, NewEvent::of(event)?).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::ai::estimate_tokens;

    /// The longest answer each purpose accepts, written in Hangul to every length limit.
    fn longest(p: Purpose) -> String {
        let s = |n: usize| "가".repeat(n);
        let v = match p {
            Purpose::Nudge => serde_json::json!({"title": s(30), "body": s(90)}),
            Purpose::Diagnosis => serde_json::json!({"sentences": [s(150), s(150), s(150)], "occupationConsiderations": s(300)}),
            Purpose::Recommend => {
                let pick = serde_json::json!({"missionId": "x".repeat(40), "reason": s(80), "occupationRelevance": s(80)});
                serde_json::json!({"picks": [pick.clone(), pick.clone(), pick.clone(), pick.clone(), pick], "summary": s(150)})
            }
            Purpose::Chat => serde_json::json!({"response": s(600), "suggestedQuestions": [s(60), s(60), s(60)], "safety": "none"}),
        };
        v.to_string()
    }

    #[test]
    fn each_purposes_longest_valid_answer_fits_its_max_tokens() {
        for p in Purpose::ALL {
            let need = estimate_tokens(&longest(p)) + u64::from(thinking_allowance(p.effort()));
            assert!(need <= u64::from(p.max_tokens()), "{p:?}: {need} > {}", p.max_tokens());
            assert!(p.retry_max_tokens() > p.max_tokens());
        }
    }

    #[test]
    fn every_interactive_call_ends_inside_the_long_request_timeout() {
        let src: std::collections::HashMap<String, String> = std::collections::HashMap::new();
        let ai = ClaudeConfig::from_source(&src).unwrap();
        let long = Duration::from_millis(crate::config::settings::HTTP_LONG_TIMEOUT_MS.default.unwrap().parse().unwrap());
        for p in Purpose::ALL.into_iter().filter(|p| p.interactive()) {
            let l = p.limits(&ai);
            assert!(l.budget + Duration::from_secs(3) <= long, "{p:?}: {:?}", l.budget);
            // At the pace the model really writes (~80 tokens/s) the whole answer fits one attempt.
            let realistic = Duration::from_millis(1500) + Duration::from_secs_f64(f64::from(p.max_tokens()) / 80.0);
            assert!(realistic < l.attempt_timeout, "{p:?}");
        }
    }
}
