//! A local fake of the Anthropic Messages API as documented in December 2026, as strict as the
//! documentation lets it be. It stands for:
//! - <https://platform.claude.com/docs/en/api/messages> (the request and the message),
//! - <https://platform.claude.com/docs/en/api/errors> (`{"type":"error","error":{type,message},
//!   "request_id"}`, the statuses, the `request-id` header),
//! - <https://platform.claude.com/docs/en/about-claude/model-deprecations> (retired models: a
//!   request naming one is a 404 `not_found_error`, "model: <id>"),
//! - <https://platform.claude.com/docs/en/models/sonnet-5-5/whats-new-sonnet-5-5> (forced
//!   `tool_choice`, `thinking: disabled` and budgets, a prefilled last turn and non-default
//!   sampling parameters are 400s; adaptive thinking on by default, so answers start with
//!   `thinking` blocks whose text is omitted),
//! - <https://platform.claude.com/docs/en/build-with-claude/structured-outputs> (the JSON arrives
//!   in a `text` block; a schema outside the supported subset is a 400),
//! - <https://platform.claude.com/docs/en/build-with-claude/effort> (`output_config.effort`),
//! - <https://platform.claude.com/docs/en/build-with-claude/handling-stop-reasons> and
//!   <https://platform.claude.com/docs/en/build-with-claude/refusals-and-fallback> (`max_tokens`
//!   cuts the answer where it is, mid-JSON; a refusal is a 200 with empty content; `pause_turn`
//!   continues when the content is sent back),
//! - <https://platform.claude.com/docs/en/api/models/retrieve> (`GET /v1/models/{id}` with
//!   `lifecycle`),
//! - the official SDKs' retry headers (`retry-after-ms`, `retry-after`, `x-should-retry`).
//!
//! It answers at a pace: a first-token delay and then the output tokens (thinking included) at a
//! rate, 1.5 tokens per Hangul syllable (no tokenizer of the current models is public; measured
//! Korean costs one to two tokens a syllable). By default it is instant; [`ClaudeFake::paced`]
//! gives it the current Sonnet's pace.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, Request, Respond, ResponseTemplate,
    matchers::{method, path, path_regex},
};

pub const KEY: &str = "test-key";

/// Models the Claude API serves (the models overview, active and legacy).
pub const CURRENT: &[&str] = &[
    "claude-fable-5-1",
    "claude-opus-5-5",
    "claude-sonnet-5-5",
    "claude-haiku-5-5",
    "claude-fable-5",
    "claude-opus-5",
    "claude-opus-4-8",
    "claude-opus-4-7",
    "claude-opus-4-6",
    "claude-sonnet-5",
    "claude-sonnet-4-6",
    "claude-haiku-4-5-20251001",
];
/// Retired models (the deprecations page): every request naming them fails.
pub const RETIRED: &[&str] = &[
    "claude-sonnet-4-5",
    "claude-sonnet-4-5-20250929",
    "claude-opus-4-1-20250805",
    "claude-opus-4-20250514",
    "claude-sonnet-4-20250514",
    "claude-3-7-sonnet-20250219",
    "claude-3-5-haiku-20241022",
    "claude-3-haiku-20240307",
];
/// Models that refuse a forced `tool_choice` (Sonnet 5.5's and Opus 5.5's pages; Fable 5.1).
const NO_FORCED_TOOLS: &[&str] = &["claude-sonnet-5-5", "claude-opus-5-5", "claude-fable-5-1"];
/// Models on which `thinking: {"type": "disabled"}` is a 400.
const NO_DISABLED_THINKING: &[&str] = &["claude-sonnet-5-5", "claude-opus-5-5"];
/// JSON Schema keywords structured outputs refuse.
const UNSUPPORTED_KEYWORDS: &[&str] = &[
    "minLength",
    "maxLength",
    "maxItems",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "uniqueItems",
    "minProperties",
    "maxProperties",
];

/// What the fake says to one request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// A complete structured answer (cut at `max_tokens` when it does not fit).
    Json(Value),
    /// Text that is not the structured answer (what no current model sends with `end_turn`).
    Raw(String),
    /// A complete answer after thinking this many tokens (more than the effort's usual).
    ThinkThen(u32, Value),
    /// `stop_reason: refusal`, empty content.
    Refusal,
    /// `stop_reason: pause_turn`; the request that sends the content back gets the next reply.
    Pause,
    /// An error answer: status, `error.type`, extra headers.
    Error(u16, &'static str, Vec<(&'static str, String)>),
    /// No answer for this long.
    Hang(Duration),
}

impl Reply {
    pub fn error(status: u16, kind: &'static str) -> Reply {
        Reply::Error(status, kind, Vec::new())
    }
}

#[derive(Default)]
struct State {
    /// Replies for the next requests, in order, whatever they ask.
    queue: VecDeque<Reply>,
    /// The standing reply for requests whose answer schema has the property named.
    by_property: Vec<(&'static str, Reply)>,
    /// `(first token, tokens per second)`; `None`: instant.
    pace: Option<(Duration, f64)>,
    /// Content of paused turns, by its signature, until sent back.
    paused: Vec<String>,
    /// The model the fake claims to be in its answers (the request's model by default).
    answers: u64,
}

pub struct ClaudeFake {
    pub server: MockServer,
    state: Arc<Mutex<State>>,
}

struct Messages(Arc<Mutex<State>>);
struct Models;

impl ClaudeFake {
    /// An instant fake.
    pub async fn start() -> ClaudeFake {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(State::default()));
        Mock::given(method("POST"))
            .and(path("/v1/messages"))
            .respond_with(Messages(state.clone()))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path_regex(r"^/v1/models/[^/]+$"))
            .respond_with(Models)
            .mount(&server)
            .await;
        ClaudeFake { server, state }
    }

    /// A fake at the current Sonnet's pace: the first token after 1.2 s, then 80 tokens a second
    /// (third-party measurements of Sonnet-class models: 60–100 tokens a second, 1.2–1.8 s to the
    /// first token).
    pub async fn paced() -> ClaudeFake {
        let fake = Self::start().await;
        fake.state.lock().unwrap().pace = Some((Duration::from_millis(1200), 80.0));
        fake
    }

    /// A fake that answers after `first` and then `per_sec` tokens a second.
    pub async fn with_pace(first: Duration, per_sec: f64) -> ClaudeFake {
        let fake = Self::start().await;
        fake.state.lock().unwrap().pace = Some((first, per_sec));
        fake
    }

    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// Every request whose answer schema has `property` gets `reply` (until replaced).
    pub fn answer(&self, property: &'static str, reply: Reply) {
        let mut s = self.state.lock().unwrap();
        s.by_property.retain(|(p, _)| *p != property);
        s.by_property.push((property, reply));
    }

    /// The next requests get these replies first, in order.
    pub fn then(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.lock().unwrap().queue.extend(replies);
    }

    /// The request bodies received (messages only), oldest first.
    pub async fn received(&self) -> Vec<Value> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.url.path() == "/v1/messages")
            .filter_map(|r| r.body_json::<Value>().ok())
            .collect()
    }

    /// Successful answers given.
    pub fn answers(&self) -> u64 {
        self.state.lock().unwrap().answers
    }
}

/// Tokens a text costs here: 1.5 per Hangul syllable or CJK character, 1 per other non-ASCII
/// character, a quarter per ASCII character.
pub fn tokens(text: &str) -> u64 {
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

fn error(status: u16, kind: &str, message: &str) -> Box<ResponseTemplate> {
    Box::new(ResponseTemplate::new(status).insert_header("request-id", "req_fake0001").set_body_json(json!({
        "type": "error",
        "error": {"type": kind, "message": message},
        "request_id": "req_fake0001"
    })))
}

fn invalid(message: &str) -> Box<ResponseTemplate> {
    error(400, "invalid_request_error", message)
}

/// The first place `schema` leaves the structured-output subset.
fn schema_problem(schema: &Value, at: &str) -> Option<String> {
    let Value::Object(map) = schema else { return None };
    for k in UNSUPPORTED_KEYWORDS {
        if map.contains_key(*k) {
            return Some(format!("{at}: '{k}' is not supported in output_config.format schemas"));
        }
    }
    if let Some(n) = map.get("minItems").and_then(Value::as_u64)
        && n > 1
    {
        return Some(format!("{at}: minItems values other than 0 or 1 are not supported"));
    }
    if map.get("type").and_then(Value::as_str) == Some("object")
        && map.get("additionalProperties") != Some(&Value::Bool(false))
    {
        return Some(format!(
            "{at}: For 'object' type, 'additionalProperties' must be explicitly set to false"
        ));
    }
    if let Some(Value::Object(props)) = map.get("properties") {
        for (name, sub) in props {
            if let Some(p) = schema_problem(sub, &format!("{at}.properties.{name}")) {
                return Some(p);
            }
        }
    }
    map.get("items").and_then(|i| schema_problem(i, &format!("{at}.items")))
}

/// Whether `value` has the shape `schema` asks for (types, required, no extra properties): what
/// constrained decoding guarantees of a complete answer.
fn conforms(value: &Value, schema: &Value) -> bool {
    match schema.get("type").and_then(Value::as_str) {
        Some("object") => {
            let Value::Object(obj) = value else { return false };
            let props = schema.get("properties").and_then(Value::as_object);
            let required: Vec<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            required.iter().all(|k| obj.contains_key(*k))
                && obj.iter().all(|(k, v)| props.and_then(|p| p.get(k)).is_some_and(|s| conforms(v, s)))
        }
        Some("array") => {
            let Value::Array(items) = value else { return false };
            let min = schema.get("minItems").and_then(Value::as_u64).unwrap_or(0);
            items.len() as u64 >= min
                && schema.get("items").is_none_or(|s| items.iter().all(|i| conforms(i, s)))
        }
        Some("string") => {
            value.is_string()
                && schema.get("enum").and_then(Value::as_array).is_none_or(|e| e.contains(value))
        }
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        _ => true,
    }
}

/// What a valid request asks for.
struct Checked {
    schema: Value,
    model: String,
    max_tokens: u32,
    effort: &'static str,
    input_tokens: u64,
}

impl Messages {
    /// The request's own problems, as the API reports them; `Ok` with what the answer needs.
    fn check(&self, req: &Request) -> Result<Checked, Box<ResponseTemplate>> {
        let header = |n: &str| req.headers.get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
        if header("x-api-key").as_deref() != Some(KEY) {
            return Err(error(401, "authentication_error", "invalid x-api-key"));
        }
        match header("anthropic-version").as_deref() {
            Some("2023-06-01" | "2026-10-21") => {}
            Some(v) => return Err(invalid(&format!("anthropic-version: unknown version {v}"))),
            None => return Err(invalid("anthropic-version: header is required")),
        }
        let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
            return Err(invalid("There was an issue with the format of your JSON request"));
        };
        let allowed = [
            "model",
            "max_tokens",
            "messages",
            "system",
            "output_config",
            "tools",
            "tool_choice",
            "thinking",
            "metadata",
            "stop_sequences",
            "stream",
            "temperature",
            "top_p",
            "top_k",
            "service_tier",
        ];
        if let Some(extra) =
            body.as_object().into_iter().flat_map(|o| o.keys()).find(|k| !allowed.contains(&k.as_str()))
        {
            return Err(invalid(&format!("{extra}: Extra inputs are not permitted")));
        }
        let model = body["model"].as_str().unwrap_or_default().to_string();
        if RETIRED.contains(&model.as_str()) || !CURRENT.contains(&model.as_str()) {
            return Err(error(404, "not_found_error", &format!("model: {model}")));
        }
        let Some(max_tokens) = body["max_tokens"].as_u64().filter(|n| (1..=128_000).contains(n)) else {
            return Err(invalid("max_tokens: must be an integer from 1 to 128000"));
        };
        let messages = body["messages"].as_array().cloned().unwrap_or_default();
        if messages.is_empty() {
            return Err(invalid("messages: at least one message is required"));
        }
        let last = messages.last().unwrap();
        // A last assistant turn is refused unless it is a paused turn's content sent back as it came.
        if last["role"] == "assistant" {
            let sig = last["content"].to_string();
            let mut s = self.0.lock().unwrap();
            match s.paused.iter().position(|p| *p == sig) {
                Some(i) => {
                    s.paused.remove(i);
                }
                None => {
                    return Err(invalid(
                        "This model does not support assistant message prefill. The conversation must end with a user message.",
                    ));
                }
            }
        }
        for p in ["temperature", "top_p", "top_k"] {
            if !body[p].is_null() {
                return Err(invalid(&format!("`{p}` is deprecated for this model.")));
            }
        }
        if let Some(kind) = body["tool_choice"]["type"].as_str()
            && (kind == "any" || kind == "tool")
            && NO_FORCED_TOOLS.contains(&model.as_str())
        {
            return Err(invalid("tool_choice: type \"tool\" and \"any\" are not supported for this model."));
        }
        let effort = match body["output_config"]["effort"].as_str() {
            None | Some("high") => "high",
            Some("low") => "low",
            Some("medium") => "medium",
            Some("xhigh") => "xhigh",
            Some("max") => "max",
            Some(other) => return Err(invalid(&format!("output_config.effort: unknown value {other}"))),
        };
        match body["thinking"]["type"].as_str() {
            None | Some("adaptive") => {}
            Some("disabled") if NO_DISABLED_THINKING.contains(&model.as_str()) => {
                return Err(invalid(
                    "To turn thinking off on this model, send \"thinking\": {\"type\": \"between_tools\"} instead of {\"type\": \"disabled\"}.",
                ));
            }
            Some("enabled") => {
                return Err(invalid(
                    "\"thinking.type.enabled\" is not supported for this model. Use \"thinking.type.adaptive\" and \"output_config.effort\" to control thinking behavior.",
                ));
            }
            Some("between_tools") if matches!(effort, "xhigh" | "max") => {
                return Err(invalid("thinking.type between_tools is not supported at this effort"));
            }
            Some(_) => {}
        }
        let schema = match &body["output_config"]["format"] {
            Value::Null => {
                return Err(invalid(
                    "this fake answers structured outputs only: output_config.format is required",
                ));
            }
            f if f["type"] != "json_schema" || !f["schema"].is_object() => {
                return Err(invalid("output_config.format: type must be json_schema with a schema"));
            }
            f => f["schema"].clone(),
        };
        if let Some(problem) = schema_problem(&schema, "output_config.format.schema") {
            return Err(invalid(&problem));
        }
        // The structured-output system prompt the API adds costs a few hundred tokens.
        let input_tokens = tokens(body["system"].as_str().unwrap_or_default())
            + tokens(&body["messages"].to_string())
            + tokens(&schema.to_string())
            + 300;
        Ok(Checked { schema, model, max_tokens: max_tokens as u32, effort, input_tokens })
    }
}

/// Thinking tokens an answer spends at each effort when the test does not say.
fn thinking(effort: &str) -> u32 {
    match effort {
        "low" => 120,
        "medium" => 500,
        "high" => 1500,
        _ => 4000,
    }
}

impl Respond for Messages {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let Checked { schema, model, max_tokens, effort, input_tokens: input } = match self.check(req) {
            Ok(v) => v,
            Err(refused) => return *refused,
        };
        let reply = {
            let mut s = self.0.lock().unwrap();
            let props = schema["properties"].as_object();
            s.queue.pop_front().or_else(|| {
                s.by_property
                    .iter()
                    .find(|(p, _)| props.is_some_and(|m| m.contains_key(*p)))
                    .map(|(_, r)| r.clone())
            })
        };
        let Some(reply) = reply else {
            return *error(500, "api_error", "the fake has no answer for this request");
        };
        let pace = self.0.lock().unwrap().pace;
        let delay = |output: u64| match pace {
            None => Duration::ZERO,
            Some((first, per_sec)) => first + Duration::from_secs_f64(output as f64 / per_sec),
        };
        let message = |content: Vec<Value>, stop: &str, output: u64| {
            json!({
                "id": "msg_fake0001", "type": "message", "role": "assistant", "model": model,
                "content": content, "stop_reason": stop, "stop_sequence": null,
                "stop_details": if stop == "refusal" { json!({"type": "refusal", "category": null, "explanation": null}) } else { Value::Null },
                "usage": {"input_tokens": input, "output_tokens": output}
            })
        };
        let think_block = || json!({"type": "thinking", "thinking": "", "signature": "EqQBCkgIARABGAIiQL"});
        let (text, thought) = match reply {
            Reply::Error(status, kind, headers) => {
                let mut r = *error(status, kind, "fake failure");
                for (k, v) in headers {
                    r = r.insert_header(k, v.as_str());
                }
                return r;
            }
            Reply::Hang(d) => return ResponseTemplate::new(500).set_delay(d),
            Reply::Refusal => {
                return ResponseTemplate::new(200)
                    .insert_header("request-id", "req_fake0001")
                    .set_body_json(message(Vec::new(), "refusal", 0))
                    .set_delay(delay(0));
            }
            Reply::Pause => {
                let content = vec![think_block()];
                self.0.lock().unwrap().paused.push(Value::Array(content.clone()).to_string());
                return ResponseTemplate::new(200)
                    .set_body_json(message(content, "pause_turn", 40))
                    .set_delay(delay(40));
            }
            Reply::Json(v) => {
                if !conforms(&v, &schema) {
                    return *error(
                        500,
                        "api_error",
                        "the fake was scripted an answer its schema cannot produce",
                    );
                }
                (v.to_string(), thinking(effort))
            }
            Reply::ThinkThen(n, v) => (v.to_string(), n),
            Reply::Raw(t) => (t, thinking(effort)),
        };
        let answer = tokens(&text);
        let (content, stop, output) = if u64::from(thought) >= u64::from(max_tokens) {
            (vec![think_block()], "max_tokens", u64::from(max_tokens))
        } else if u64::from(thought) + answer > u64::from(max_tokens) {
            // Cut where the tokens ran out: the JSON is incomplete.
            let room = u64::from(max_tokens) - u64::from(thought);
            let mut cut = String::new();
            for c in text.chars() {
                if tokens(&format!("{cut}{c}")) > room {
                    break;
                }
                cut.push(c);
            }
            (vec![think_block(), json!({"type": "text", "text": cut})], "max_tokens", u64::from(max_tokens))
        } else {
            (
                vec![think_block(), json!({"type": "text", "text": text})],
                "end_turn",
                u64::from(thought) + answer,
            )
        };
        if stop == "end_turn" {
            self.0.lock().unwrap().answers += 1;
        }
        ResponseTemplate::new(200)
            .insert_header("request-id", "req_fake0001")
            .set_body_json(message(content, stop, output))
            .set_delay(delay(output))
    }
}

impl Respond for Models {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        if req.headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some(KEY) {
            return *error(401, "authentication_error", "invalid x-api-key");
        }
        let id = req.url.path().rsplit('/').next().unwrap_or_default().to_string();
        let lifecycle = if CURRENT.contains(&id.as_str()) {
            "active"
        } else if RETIRED.contains(&id.as_str()) {
            "retired"
        } else {
            return *error(404, "not_found_error", &format!("model: {id}"));
        };
        ResponseTemplate::new(200).set_body_json(json!({
            "type": "model", "id": id, "display_name": id, "created_at": "2026-09-28T00:00:00Z",
            "lifecycle": lifecycle, "deprecated_at": null,
            "retires_at": if lifecycle == "retired" { json!("2026-11-30T00:00:00Z") } else { Value::Null },
            "max_input_tokens": 1_000_000, "max_tokens": 128_000
        }))
    }
}
