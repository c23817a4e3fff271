//! A domain-free client of the Anthropic Messages API (`POST {base}/v1/messages`): the
//! `x-api-key` and `anthropic-version` headers, a system prompt, structured answers through one
//! forced tool (`tools` + `tool_choice`), retries with full jitter on 429, 529 and 5xx (and on a
//! transport failure or an attempt's timeout) that honour `retry-after` and never outlast the
//! call's time budget, and a circuit breaker around each call as a whole.
//!
//! What the model is sent and whether it may be sent at all (consent, budgets) is the caller's
//! business; this module never logs a prompt or an answer, only statuses and counts.

use std::time::{Duration, Instant};

use rand::Rng as _;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::{Value, json};

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
pub const ANTHROPIC_MODEL: Setting =
    Setting::new("ANTHROPIC_MODEL", "the Claude model every call names").default("claude-sonnet-4-5");
pub const ANTHROPIC_BASE_URL: Setting = Setting::new(
    "ANTHROPIC_BASE_URL",
    "the Messages API root (`/v1/messages` is appended; a local fake in tests)",
)
.default("https://api.anthropic.com");
pub const ANTHROPIC_MAX_TOKENS: Setting =
    Setting::new("ANTHROPIC_MAX_TOKENS", "`max_tokens` of every call (1–8192)").default("1024");
pub const ANTHROPIC_TIMEOUT_MS: Setting =
    Setting::new("ANTHROPIC_TIMEOUT_MS", "one attempt's timeout (a hang past it is retried)").default("8000");
pub const ANTHROPIC_BUDGET_MS: Setting = Setting::new(
    "ANTHROPIC_BUDGET_MS",
    "a call's whole time, retries and their waits included (below HTTP_TIMEOUT_MS: the offline coach still answers in time)",
)
.default("11000");
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
    ANTHROPIC_MAX_TOKENS,
    ANTHROPIC_TIMEOUT_MS,
    ANTHROPIC_BUDGET_MS,
    ANTHROPIC_MAX_RETRIES,
    ANTHROPIC_BREAKER_THRESHOLD,
    ANTHROPIC_BREAKER_COOL_DOWN_MS,
];

/// The `anthropic-version` header.
pub const API_VERSION: &str = "2023-06-01";

#[derive(Clone)]
pub struct ClaudeConfig {
    /// `None`: not configured; every call is refused at once with [`AiError::NotConfigured`].
    pub api_key: Option<SecretString>,
    pub model: String,
    /// `{base}/v1/messages`.
    pub endpoint: url::Url,
    pub max_tokens: u32,
    pub attempt_timeout: Duration,
    pub budget: Duration,
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
        let endpoint =
            base.join(&format!("{}/v1/messages", base.path().trim_end_matches('/'))).map_err(|_| {
                ConfigError::Malformed { name: ANTHROPIC_BASE_URL.name, expects: "an http(s) URL" }
            })?;
        Ok(ClaudeConfig {
            api_key: ANTHROPIC_API_KEY
                .read(src)
                .map(|k| k.trim().to_string())
                .filter(|k| !k.is_empty())
                .map(SecretString::from),
            model: ANTHROPIC_MODEL.require(src, "a model name")?.trim().to_string(),
            endpoint,
            max_tokens: ANTHROPIC_MAX_TOKENS.number(src, "a whole number from 1 to 8192", 1..=8192)?,
            attempt_timeout: ms(&ANTHROPIC_TIMEOUT_MS, 100..=120_000)?,
            budget: ms(&ANTHROPIC_BUDGET_MS, 100..=200_000)?,
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

/// The one tool the model must answer with: its input is the structured answer.
#[derive(Debug, Clone)]
pub struct Tool {
    pub name: &'static str,
    pub description: &'static str,
    /// The JSON schema of the input.
    pub input_schema: Value,
}

#[derive(Debug, Clone)]
pub struct Prompt<'a> {
    pub system: &'a str,
    /// Alternating, starting and ending with the user.
    pub turns: Vec<Turn>,
    pub tool: Option<&'a Tool>,
    /// Below the configured `max_tokens`, if given.
    pub max_tokens: Option<u32>,
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
}

/// A successful answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub model: String,
    /// The text blocks, joined.
    pub text: String,
    /// The input of the first `tool_use` block, if any.
    pub tool_input: Option<Value>,
    pub usage: Usage,
    pub attempts: u32,
}

impl Answer {
    /// The tool's input read as `T` (the expected shape); `None` when absent or of another shape.
    pub fn tool<T: DeserializeOwned>(&self) -> Option<T> {
        self.tool_input.clone().and_then(|v| serde_json::from_value(v).ok())
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
    /// 429, 529 or 5xx after the retries the budget allowed.
    #[error("the API answered {0}")]
    Unavailable(u16),
    /// A 4xx other than 429: the request is wrong, retrying cannot help (it does not open the breaker).
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
        !matches!(self, AiError::Refused(_) | AiError::NotConfigured | AiError::BreakerOpen)
    }

    /// A short name for logs and analytics.
    pub fn kind(&self) -> &'static str {
        match self {
            AiError::NotConfigured => "not_configured",
            AiError::BreakerOpen => "breaker_open",
            AiError::Timeout => "timeout",
            AiError::Unavailable(_) => "unavailable",
            AiError::Refused(_) => "refused",
            AiError::Transport => "transport",
            AiError::Malformed => "malformed",
        }
    }
}

/// The client: one per process (its breaker counts for every caller).
pub struct Claude {
    config: ClaudeConfig,
    client: LazyClient,
    breaker: Breaker,
}

/// One attempt's failure, and how long the API asked us to wait.
struct Attempt {
    error: AiError,
    retryable: bool,
    retry_after: Option<Duration>,
}

#[derive(Deserialize)]
struct WireMessage {
    #[serde(rename = "type")]
    kind: String,
    model: Option<String>,
    content: Vec<WireBlock>,
    #[serde(default)]
    usage: Usage,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireBlock {
    Text {
        text: String,
    },
    ToolUse {
        input: Value,
    },
    #[serde(other)]
    Other,
}

impl Claude {
    pub fn new(config: ClaudeConfig) -> Self {
        let breaker = Breaker::new("claude", config.breaker_threshold, config.breaker_cool_down);
        Claude { config, client: LazyClient::default(), breaker }
    }

    pub fn is_configured(&self) -> bool {
        self.config.api_key.is_some()
    }

    pub fn model(&self) -> &str {
        &self.config.model
    }

    pub fn breaker_state(&self) -> BreakerState {
        self.breaker.state()
    }

    /// The request body for `prompt`.
    pub fn body(&self, prompt: &Prompt<'_>) -> Value {
        let mut body = json!({
            "model": self.config.model,
            "max_tokens": prompt.max_tokens.unwrap_or(self.config.max_tokens).min(self.config.max_tokens),
            "system": prompt.system,
            "messages": prompt.turns.iter().map(|t| json!({"role": t.role, "content": t.content})).collect::<Vec<_>>(),
        });
        if let Some(tool) = prompt.tool {
            body["tools"] = json!([{
                "name": tool.name,
                "description": tool.description,
                "input_schema": tool.input_schema,
            }]);
            body["tool_choice"] = json!({"type": "tool", "name": tool.name});
        }
        body
    }

    /// Sends `prompt`, retrying within the budget; the breaker counts the call once.
    pub async fn complete(&self, prompt: &Prompt<'_>) -> Result<Answer, AiError> {
        let Some(key) = &self.config.api_key else { return Err(AiError::NotConfigured) };
        let body = self.body(prompt);
        let result =
            self.breaker.call(AiError::is_dependency_failure, || self.with_retries(key, &body)).await;
        match result {
            Ok(answer) => Ok(answer),
            Err(CallError::Open(_)) => Err(AiError::BreakerOpen),
            Err(CallError::Failed(e)) => {
                tracing::warn!(dependency = "claude", failure = e.kind(), "AI call failed");
                Err(e)
            }
        }
    }

    async fn with_retries(&self, key: &SecretString, body: &Value) -> Result<Answer, AiError> {
        let started = Instant::now();
        let deadline = started + self.config.budget;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(AiError::Timeout);
            }
            let timeout = self.config.attempt_timeout.min(left);
            let failure = match tokio::time::timeout(timeout, self.attempt(key, body, timeout)).await {
                Ok(Ok(mut answer)) => {
                    answer.attempts = attempt;
                    return Ok(answer);
                }
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

    async fn attempt(&self, key: &SecretString, body: &Value, timeout: Duration) -> Result<Answer, Attempt> {
        let res = self
            .client
            .get()
            .post(self.config.endpoint.clone())
            .timeout(timeout)
            .header("x-api-key", key.expose_secret())
            .header("anthropic-version", API_VERSION)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| Attempt {
                error: if e.is_timeout() { AiError::Timeout } else { AiError::Transport },
                retryable: true,
                retry_after: None,
            })?;
        let status = res.status();
        let retry_after = res
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| Duration::from_secs_f64(s.min(600.0)));
        if !status.is_success() {
            let code = status.as_u16();
            let retryable = code == 429 || code == 529 || status.is_server_error();
            let error = if retryable { AiError::Unavailable(code) } else { AiError::Refused(code) };
            return Err(Attempt { error, retryable, retry_after });
        }
        let bytes = res.bytes().await.map_err(|_| Attempt {
            error: AiError::Transport,
            retryable: true,
            retry_after: None,
        })?;
        let malformed = || Attempt { error: AiError::Malformed, retryable: false, retry_after: None };
        let msg: WireMessage = serde_json::from_slice(&bytes).map_err(|_| malformed())?;
        if msg.kind != "message" {
            return Err(malformed());
        }
        let mut text = String::new();
        let mut tool_input = None;
        for block in msg.content {
            match block {
                WireBlock::Text { text: t } => text.push_str(&t),
                WireBlock::ToolUse { input } if tool_input.is_none() => tool_input = Some(input),
                _ => {}
            }
        }
        Ok(Answer {
            model: msg.model.unwrap_or_else(|| self.config.model.clone()),
            text,
            tool_input,
            usage: msg.usage,
            attempts: 0,
        })
    }
}
