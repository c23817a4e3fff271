//! A domain-free client of the Anthropic Messages API (`POST {base}/v1/messages`): the
//! `x-api-key` and `anthropic-version` headers, a system prompt, structured answers through JSON
//! outputs (`wire`), the effort and size each caller asks for, retries with full jitter on 408,
//! 409, 429, 529 and 5xx (and on a transport failure or an attempt's timeout) that honour
//! `x-should-retry`, `retry-after-ms` and `retry-after` and never outlast the call's time budget,
//! a paused turn continued, the model's lifecycle (`models`), and a circuit breaker around each
//! call as a whole.
//!
//! What the model is sent and whether it may be sent at all (consent, budgets) is the caller's
//! business; this module never logs a prompt or an answer, only statuses and counts. The outcomes
//! an operator is paged for (a model gone, a refusal, a refused request) are logged with an
//! `ai_outcome` field (`outcome`).

pub mod check;
pub mod models;
pub mod outcome;
mod wire;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use rand::Rng as _;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::Value;
pub use wire::Stop;

use self::{
    models::{Known, ModelInfo, ModelStatus},
    outcome::Throttle,
};
use super::{
    http_client::LazyClient,
    resilience::{Breaker, BreakerState, CallError},
};
use crate::config::{ConfigError, Setting, Source};

pub const ANTHROPIC_API_KEY: Setting = Setting::new(
    "ANTHROPIC_API_KEY",
    "the Anthropic API key (a Key Vault reference in Azure); unset: every AI answer comes from the offline coach",
)
.secret();
/// The default model: Claude Sonnet 5.5 (Claude Sonnet 4.5 retired on 2026-11-30,
/// <https://platform.claude.com/docs/en/about-claude/model-deprecations>).
pub const DEFAULT_MODEL: &str = "claude-sonnet-5-5";
pub const ANTHROPIC_MODEL: Setting = Setting::new(
    "ANTHROPIC_MODEL",
    "the Claude model every call names (a current one: `healthsync ai-check` and /api/system/ready show its lifecycle)",
)
.default(DEFAULT_MODEL);
pub const ANTHROPIC_BASE_URL: Setting = Setting::new(
    "ANTHROPIC_BASE_URL",
    "the Messages API root (`/v1/messages` is appended; a local fake in tests)",
)
.default("https://api.anthropic.com");
pub const ANTHROPIC_FIRST_TOKEN_MS: Setting = Setting::new(
    "ANTHROPIC_FIRST_TOKEN_MS",
    "time allowed before an answer's first token; an attempt's timeout is this plus its max_tokens at ANTHROPIC_MIN_TOKENS_PER_SEC",
)
.default("3000");
pub const ANTHROPIC_MIN_TOKENS_PER_SEC: Setting = Setting::new(
    "ANTHROPIC_MIN_TOKENS_PER_SEC",
    "the slowest output pace (tokens per second) an answer may have before its attempt times out",
)
.default("60");
pub const ANTHROPIC_MAX_RETRIES: Setting =
    Setting::new("ANTHROPIC_MAX_RETRIES", "retries after the first attempt (0–5)").default("2");
pub const ANTHROPIC_BREAKER_THRESHOLD: Setting = Setting::new(
    "ANTHROPIC_BREAKER_THRESHOLD",
    "failed calls in a row that open the circuit breaker (the offline coach answers meanwhile)",
)
.default("5");
pub const ANTHROPIC_BREAKER_COOL_DOWN_MS: Setting =
    Setting::new("ANTHROPIC_BREAKER_COOL_DOWN_MS", "how long the breaker stays open before one trial call")
        .default("30000");

/// The client's settings, for the domain that declares them.
pub const SETTINGS: &[Setting] = &[
    ANTHROPIC_API_KEY,
    ANTHROPIC_MODEL,
    ANTHROPIC_BASE_URL,
    ANTHROPIC_FIRST_TOKEN_MS,
    ANTHROPIC_MIN_TOKENS_PER_SEC,
    ANTHROPIC_MAX_RETRIES,
    ANTHROPIC_BREAKER_THRESHOLD,
    ANTHROPIC_BREAKER_COOL_DOWN_MS,
];

/// The `anthropic-version` header (still accepted; 2026-10-21 only removes what this client never
/// sends: sampling parameters, documents in assistant turns, citations in user turns).
pub const API_VERSION: &str = "2023-06-01";
/// A paused turn (`pause_turn`) is continued at most this often.
const MAX_CONTINUATIONS: u32 = 2;
/// A server's wait longer than this is not waited for (the official SDKs' bound).
const MAX_SERVER_WAIT: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct ClaudeConfig {
    /// `None`: not configured; every call is refused at once with [`AiError::NotConfigured`].
    pub api_key: Option<SecretString>,
    pub model: String,
    /// `{base}/v1/`.
    pub api: url::Url,
    pub first_token: Duration,
    pub min_tokens_per_sec: u32,
    pub max_retries: u32,
    pub breaker_threshold: u32,
    pub breaker_cool_down: Duration,
    /// The first retry waits up to this long (full jitter), doubling after.
    pub backoff_base: Duration,
}

impl ClaudeConfig {
    pub fn from_source(src: &dyn Source) -> Result<Self, ConfigError> {
        let ms = |s: &Setting, range| s.number::<u64>(src, "milliseconds", range).map(Duration::from_millis);
        let base = ANTHROPIC_BASE_URL
            .url(src)?
            .ok_or(ConfigError::Missing { name: ANTHROPIC_BASE_URL.name, expects: "an http(s) URL" })?;
        let api = base.join(&format!("{}/v1/", base.path().trim_end_matches('/'))).map_err(|_| {
            ConfigError::Malformed { name: ANTHROPIC_BASE_URL.name, expects: "an http(s) URL" }
        })?;
        Ok(ClaudeConfig {
            api_key: ANTHROPIC_API_KEY
                .read(src)
                .map(|k| k.trim().to_string())
                .filter(|k| !k.is_empty())
                .map(SecretString::from),
            model: ANTHROPIC_MODEL.require(src, "a model name")?.trim().to_string(),
            api,
            first_token: ms(&ANTHROPIC_FIRST_TOKEN_MS, 50..=60_000)?,
            min_tokens_per_sec: ANTHROPIC_MIN_TOKENS_PER_SEC.number(
                src,
                "a whole number from 5 to 1000000",
                5..=1_000_000,
            )?,
            max_retries: ANTHROPIC_MAX_RETRIES.number(src, "a whole number from 0 to 5", 0..=5)?,
            breaker_threshold: ANTHROPIC_BREAKER_THRESHOLD.number(
                src,
                "a whole number from 1 to 100",
                1..=100,
            )?,
            breaker_cool_down: ms(&ANTHROPIC_BREAKER_COOL_DOWN_MS, 100..=600_000)?,
            backoff_base: Duration::from_millis(250),
        })
    }

    /// How long one attempt may take to write `max_tokens` tokens: the first-token allowance plus
    /// the tokens at the slowest pace allowed.
    pub fn attempt_timeout(&self, max_tokens: u32) -> Duration {
        self.first_token + Duration::from_secs_f64(f64::from(max_tokens) / f64::from(self.min_tokens_per_sec))
    }
}

/// How hard the model thinks before answering (`output_config.effort`,
/// <https://platform.claude.com/docs/en/build-with-claude/effort>); thinking tokens are output
/// tokens, counted in `max_tokens` and the bill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effort {
    Low,
    Medium,
    High,
}

/// What one request may spend: its effort, its output tokens (thinking included), one attempt's
/// time and the whole call's time (retries and their waits included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub effort: Effort,
    pub max_tokens: u32,
    pub attempt_timeout: Duration,
    pub budget: Duration,
}

/// A turn of the conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Turn {
    /// `user` or `assistant`.
    pub role: &'static str,
    pub content: String,
}

impl Turn {
    pub fn user(content: impl Into<String>) -> Self {
        Turn { role: "user", content: content.into() }
    }

    pub fn assistant(content: impl Into<String>) -> Self {
        Turn { role: "assistant", content: content.into() }
    }
}

#[derive(Debug, Clone)]
pub struct Prompt<'a> {
    pub system: &'a str,
    /// Alternating, starting and ending with the user (the current models refuse a prefill).
    pub turns: Vec<Turn>,
    /// The JSON schema of the answer, in the subset structured outputs accept: every object with
    /// `additionalProperties: false`, no length or range keywords (the caller checks those).
    pub schema: &'a Value,
    pub limits: Limits,
}

impl Prompt<'_> {
    /// A generous estimate of the input tokens ([`estimate_tokens`] over the system prompt, the
    /// turns and the schema, plus the system prompt the API adds for structured outputs): what a
    /// budget holds before the real count comes back.
    pub fn estimated_input_tokens(&self) -> u64 {
        let turns: u64 = self.turns.iter().map(|t| estimate_tokens(&t.content) + 4).sum();
        estimate_tokens(self.system) + turns + estimate_tokens(&self.schema.to_string()) + 300
    }
}

/// Tokens a text is assumed to cost: 1.5 per Hangul syllable or other CJK character, 1 per other
/// non-ASCII character, a quarter per ASCII character, rounded up. No tokenizer of the current
/// models is public; measurements put Korean at one to two tokens a syllable
/// (docs/intelligence.md "Sizes"), so this errs on the high side.
pub fn estimate_tokens(text: &str) -> u64 {
    let quarters: u64 = text
        .chars()
        .map(|c| match c {
            c if c.is_ascii() => 1,
            '\u{1100}'..='\u{11FF}'
            | '\u{3130}'..='\u{318F}'
            | '\u{AC00}'..='\u{D7A3}'
            | '\u{4E00}'..='\u{9FFF}' => 6,
            _ => 4,
        })
        .sum();
    quarters.div_ceil(4)
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

impl Usage {
    pub fn total(&self) -> u64 {
        self.input_tokens + self.output_tokens
    }

    fn add(&mut self, other: Usage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
    }
}

/// An answer the API gave (HTTP 200), complete or not: [`Answer::stop`] says which.
#[derive(Debug, Clone)]
pub struct Answer {
    pub model: String,
    /// The text blocks, joined (thinking blocks are never part of it).
    pub text: String,
    pub stop: Stop,
    /// Every attempt's and continuation's tokens.
    pub usage: Usage,
    pub attempts: u32,
}

impl Answer {
    /// The structured answer read as `T`: only from a complete answer (`end_turn`), never from a
    /// truncated or refused one.
    pub fn json<T: DeserializeOwned>(&self) -> Option<T> {
        if self.stop != Stop::EndTurn {
            return None;
        }
        serde_json::from_str(self.text.trim()).ok()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AiError {
    #[error("no API key is configured")]
    NotConfigured,
    #[error("the circuit breaker is open")]
    BreakerOpen,
    #[error("the call ran out of its time budget")]
    Timeout,
    /// 408, 409, 429, 529 or 5xx after the retries the budget allowed.
    #[error("the API answered {0}")]
    Unavailable(u16),
    /// The configured model is retired or unknown (Models API, or a 404 `not_found_error`).
    #[error("the configured model is not available")]
    ModelUnavailable,
    /// A 4xx the API will not retry: the request is wrong (it does not open the breaker).
    #[error("the API refused the request with {0}")]
    Refused(u16),
    #[error("the API could not be reached")]
    Transport,
    #[error("the API's answer was not a message")]
    Malformed,
}

impl AiError {
    /// Whether the failure counts against the dependency (opens the breaker).
    fn is_dependency_failure(&self) -> bool {
        !matches!(
            self,
            AiError::Refused(_) | AiError::ModelUnavailable | AiError::NotConfigured | AiError::BreakerOpen
        )
    }

    /// A short name for logs and analytics.
    pub fn kind(&self) -> &'static str {
        match self {
            AiError::NotConfigured => "not_configured",
            AiError::BreakerOpen => "breaker_open",
            AiError::Timeout => "timeout",
            AiError::Unavailable(_) => "unavailable",
            AiError::ModelUnavailable => "model_unavailable",
            AiError::Refused(_) => "refused",
            AiError::Transport => "transport",
            AiError::Malformed => "malformed",
        }
    }
}

/// The client: one per process (its breaker and model status count for every caller).
pub struct Claude {
    config: ClaudeConfig,
    client: LazyClient,
    breaker: Breaker,
    model_status: Arc<Known>,
    /// Calls not sent because the model is gone: one line a minute at most.
    blocked: Throttle,
}

/// One attempt's failure, and how long the API asked us to wait.
struct Attempt {
    error: AiError,
    retryable: bool,
    retry_after: Option<Duration>,
}

impl Attempt {
    fn transport(e: &reqwest::Error) -> Attempt {
        let error = if e.is_timeout() { AiError::Timeout } else { AiError::Transport };
        Attempt { error, retryable: true, retry_after: None }
    }
}

impl Claude {
    pub fn new(config: ClaudeConfig) -> Self {
        let breaker = Breaker::new("claude", config.breaker_threshold, config.breaker_cool_down);
        Claude {
            config,
            client: LazyClient::default(),
            breaker,
            model_status: Arc::default(),
            blocked: Throttle::new(outcome::BLOCKED_LINE_EVERY),
        }
    }

    pub fn is_configured(&self) -> bool {
        self.config.api_key.is_some()
    }

    pub fn config(&self) -> &ClaudeConfig {
        &self.config
    }

    pub fn model(&self) -> &str {
        &self.config.model
    }

    pub fn breaker_state(&self) -> BreakerState {
        self.breaker.state()
    }

    /// The request body for `prompt` (for tests and `ai-check`).
    pub fn body(&self, prompt: &Prompt<'_>) -> Value {
        wire::body(&self.config.model, prompt, &[])
    }

    /// The configured model's lifecycle: the kept answer while fresh, else asked now (within
    /// `timeout`). Without a key nothing can be asked: [`ModelStatus::Unknown`].
    pub async fn model_status(&self, timeout: Duration) -> ModelStatus {
        if let Some(s) = self.model_status.fresh() {
            return s;
        }
        let Some(key) = &self.config.api_key else { return ModelStatus::Unknown };
        let status = match self.fetch_model(key, timeout).await {
            Ok(s) => s,
            Err(why) => {
                tracing::warn!(dependency = "claude", failure = why, "the model lifecycle check failed");
                ModelStatus::Unknown
            }
        };
        // An unknown answer is not kept: the next probe asks again.
        if status != ModelStatus::Unknown {
            self.model_status.set(&self.config.model, status.clone());
        }
        status
    }

    async fn fetch_model(&self, key: &SecretString, timeout: Duration) -> Result<ModelStatus, &'static str> {
        let url = self.config.api.join(&format!("models/{}", self.config.model)).map_err(|_| "url")?;
        let res = self
            .client
            .get()
            .get(url)
            .timeout(timeout)
            .header("x-api-key", key.expose_secret())
            .header("anthropic-version", API_VERSION)
            .send()
            .await
            .map_err(|e| if e.is_timeout() { "timeout" } else { "transport" })?;
        match res.status().as_u16() {
            200 => {
                let bytes = res.bytes().await.map_err(|_| "transport")?;
                let info: ModelInfo = serde_json::from_slice(&bytes).map_err(|_| "malformed")?;
                Ok(info.status())
            }
            404 => Ok(ModelStatus::NotFound),
            401 | 403 => Err("refused"),
            _ => Err("unavailable"),
        }
    }

    /// Sends `prompt`, retrying within its budget and continuing a paused turn; the breaker counts
    /// the call once. An `Ok` answer may still be truncated or refused: see [`Answer::stop`].
    pub async fn complete(self: &Arc<Self>, prompt: &Prompt<'_>) -> Result<Answer, AiError> {
        let Some(key) = &self.config.api_key else { return Err(AiError::NotConfigured) };
        match self.model_status.fresh() {
            Some(s) if !s.usable() => {
                if let Some(blocked) = self.blocked.admit(Instant::now()) {
                    tracing::warn!(
                        dependency = "claude",
                        ai_outcome = outcome::MODEL_UNAVAILABLE,
                        model = self.config.model.as_str(),
                        lifecycle = s.label(),
                        blocked,
                        "AI call not sent: the configured Claude model is retired or unknown"
                    );
                }
                return Err(AiError::ModelUnavailable);
            }
            Some(_) => {}
            // First call of the process (or the answer went stale): check in the background.
            None => {
                let me = self.clone();
                tokio::spawn(async move {
                    me.model_status(Duration::from_secs(5)).await;
                });
            }
        }
        let result = self.breaker.call(AiError::is_dependency_failure, || self.continued(key, prompt)).await;
        match result {
            Ok(answer) => {
                if answer.stop == Stop::Refusal {
                    tracing::warn!(
                        dependency = "claude",
                        ai_outcome = outcome::REFUSAL,
                        model = answer.model.as_str(),
                        "the model declined to answer (stop_reason refusal)"
                    );
                }
                Ok(answer)
            }
            Err(CallError::Open(_)) => Err(AiError::BreakerOpen),
            Err(CallError::Failed(e)) => {
                match e {
                    AiError::ModelUnavailable => {
                        // The Models API says whether the model retired or never existed; either
                        // way it is not called again until the answer is stale.
                        let status = match self.fetch_model(key, Duration::from_secs(2)).await {
                            Ok(s) if !s.usable() => s,
                            _ => ModelStatus::NotFound,
                        };
                        tracing::warn!(
                            dependency = "claude",
                            ai_outcome = outcome::NOT_FOUND,
                            failure = e.kind(),
                            model = self.config.model.as_str(),
                            lifecycle = status.label(),
                            "AI call failed: the Messages API does not know the configured model"
                        );
                        self.model_status.set(&self.config.model, status);
                    }
                    AiError::Refused(status) => tracing::warn!(
                        dependency = "claude",
                        ai_outcome = outcome::REQUEST_REFUSED,
                        failure = e.kind(),
                        status,
                        "AI call failed: the API refused the request"
                    ),
                    _ => tracing::warn!(dependency = "claude", failure = e.kind(), "AI call failed"),
                }
                Err(e)
            }
        }
    }

    /// One call: attempts with retries, then, while the turn is paused, its continuation.
    async fn continued(&self, key: &SecretString, prompt: &Prompt<'_>) -> Result<Answer, AiError> {
        let deadline = Instant::now() + prompt.limits.budget;
        let mut paused: Vec<Value> = Vec::new();
        let mut usage = Usage::default();
        let mut attempts = 0;
        for continuation in 0..=MAX_CONTINUATIONS {
            let body = wire::body(&self.config.model, prompt, &paused).to_string();
            let (read, tries) =
                self.with_retries(key, &body, prompt.limits.attempt_timeout, deadline).await?;
            attempts += tries;
            usage.add(read.usage);
            if read.stop == Stop::PauseTurn && continuation < MAX_CONTINUATIONS && Instant::now() < deadline {
                paused.extend(read.content);
                continue;
            }
            return Ok(Answer {
                model: read.model.unwrap_or_else(|| self.config.model.clone()),
                text: read.text,
                stop: read.stop,
                usage,
                attempts,
            });
        }
        unreachable!("the last continuation returns")
    }

    async fn with_retries(
        &self,
        key: &SecretString,
        body: &str,
        attempt_timeout: Duration,
        deadline: Instant,
    ) -> Result<(wire::Read, u32), AiError> {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(AiError::Timeout);
            }
            let timeout = attempt_timeout.min(left);
            let failure = match tokio::time::timeout(timeout, self.attempt(key, body, timeout)).await {
                Ok(Ok(read)) => return Ok((read, attempt)),
                Ok(Err(f)) => f,
                Err(_) => Attempt { error: AiError::Timeout, retryable: true, retry_after: None },
            };
            if !failure.retryable || attempt > self.config.max_retries {
                return Err(failure.error);
            }
            let backoff = self.config.backoff_base.saturating_mul(1 << (attempt - 1).min(6));
            let jitter = Duration::from_millis(rand::rng().random_range(0..=backoff.as_millis() as u64));
            let wait = failure.retry_after.unwrap_or(jitter);
            // Waiting past the budget (or leaving no time for the attempt) helps nobody.
            if Instant::now() + wait + Duration::from_millis(50) >= deadline {
                return Err(failure.error);
            }
            tracing::info!(
                dependency = "claude",
                attempt,
                wait_ms = wait.as_millis() as u64,
                "retrying the AI call"
            );
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt(
        &self,
        key: &SecretString,
        body: &str,
        timeout: Duration,
    ) -> Result<wire::Read, Attempt> {
        let url = self.config.api.join("messages").map_err(|_| Attempt {
            error: AiError::Transport,
            retryable: false,
            retry_after: None,
        })?;
        let res = self
            .client
            .get()
            .post(url)
            .timeout(timeout)
            .header("x-api-key", key.expose_secret())
            .header("anthropic-version", API_VERSION)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| Attempt::transport(&e))?;
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.bytes().await.map_err(|e| Attempt::transport(&e))?;
        if status.is_success() {
            return wire::read(&bytes).ok_or(Attempt {
                error: AiError::Malformed,
                retryable: false,
                retry_after: None,
            });
        }
        Err(failed(status.as_u16(), &headers, &bytes))
    }
}

/// How a non-2xx answer is handled, as the official SDKs do: `x-should-retry` decides when sent,
/// else 408, 409, 429 and 5xx (529 included) are retried; the wait is `retry-after-ms`, else
/// `retry-after` in seconds, when the server gives one no longer than [`MAX_SERVER_WAIT`].
fn failed(code: u16, headers: &reqwest::header::HeaderMap, body: &[u8]) -> Attempt {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let retryable = match header("x-should-retry") {
        Some("true") => true,
        Some("false") => false,
        _ => matches!(code, 408 | 409 | 429) || code >= 500,
    };
    let seconds = |v: &str| v.parse::<f64>().ok().filter(|s| s.is_finite() && *s >= 0.0);
    let retry_after = header("retry-after-ms")
        .and_then(seconds)
        .map(|ms| ms / 1000.0)
        .or_else(|| header("retry-after").and_then(seconds))
        .map(Duration::from_secs_f64)
        .filter(|d| *d <= MAX_SERVER_WAIT);
    // What failed is the status's business, whether to retry the header's: a 503 the server says
    // not to retry is still an outage (it counts for the breaker, and is no refused request).
    let error = if code == 404 && wire::error_type(body).as_deref() == Some("not_found_error") {
        AiError::ModelUnavailable
    } else if matches!(code, 408 | 409 | 429) || code >= 500 {
        AiError::Unavailable(code)
    } else {
        AiError::Refused(code)
    };
    let retryable = retryable && !matches!(error, AiError::ModelUnavailable);
    Attempt { error, retryable, retry_after }
}

#[cfg(test)]
mod tests {
    use reqwest::header::{HeaderMap, HeaderValue};

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn the_servers_retry_headers_decide_as_in_the_official_sdks() {
        let a = failed(429, &headers(&[("retry-after-ms", "1500"), ("retry-after", "9")]), b"");
        assert!(a.retryable);
        assert_eq!(a.retry_after, Some(Duration::from_millis(1500)));
        let a = failed(429, &headers(&[("retry-after", "2")]), b"");
        assert_eq!(a.retry_after, Some(Duration::from_secs(2)));
        // A wait longer than a minute is not taken from the server.
        assert_eq!(failed(529, &headers(&[("retry-after", "3600")]), b"").retry_after, None);
        // x-should-retry overrides the status either way, but not what the status says failed.
        let a = failed(503, &headers(&[("x-should-retry", "false")]), b"");
        assert!(!a.retryable && matches!(a.error, AiError::Unavailable(503)));
        let a = failed(400, &headers(&[("x-should-retry", "true")]), b"");
        assert!(a.retryable && matches!(a.error, AiError::Refused(400)));
        assert!(!failed(400, &HeaderMap::new(), b"").retryable);
        for code in [408, 409, 429, 500, 529] {
            assert!(failed(code, &HeaderMap::new(), b"").retryable, "{code}");
        }
    }

    #[test]
    fn a_404_naming_the_model_is_a_model_that_is_gone_and_is_not_retried() {
        let body =
            br#"{"type":"error","error":{"type":"not_found_error","message":"model: claude-sonnet-4-5"}}"#;
        let a = failed(404, &HeaderMap::new(), body);
        assert!(matches!(a.error, AiError::ModelUnavailable));
        assert!(!a.retryable);
        assert!(!a.error.is_dependency_failure());
    }

    #[test]
    fn the_attempt_timeout_grows_with_the_tokens_at_the_slowest_pace() {
        let src: std::collections::HashMap<String, String> =
            [("ANTHROPIC_API_KEY".to_string(), "k".to_string())].into();
        let c = ClaudeConfig::from_source(&src).unwrap();
        assert_eq!(c.model, DEFAULT_MODEL);
        assert_eq!(c.attempt_timeout(600), Duration::from_secs(3) + Duration::from_secs(10));
    }
}
