//! The Messages API on the wire (`POST /v1/messages`, `anthropic-version: 2023-06-01`), as
//! documented at <https://platform.claude.com/docs/en/api/messages>: the request body this client
//! sends, and how an answer is read.
//!
//! - Structured answers use JSON outputs (`output_config.format` of type `json_schema`): the
//!   current models refuse a forced `tool_choice` (Sonnet 5.5's "What's new" page), and the JSON
//!   arrives in the answer's `text` block
//!   (<https://platform.claude.com/docs/en/build-with-claude/structured-outputs>).
//! - `output_config.effort` sets how hard the model thinks; adaptive thinking stays on (the
//!   models' default: `thinking` is not sent). `thinking` and `redacted_thinking` blocks come
//!   before the answer and are skipped, never read as it.
//! - No sampling parameters: the current models refuse non-default ones.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Effort, Prompt, Usage};

/// Why the model stopped (`stop_reason`,
/// <https://platform.claude.com/docs/en/build-with-claude/handling-stop-reasons>).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// `end_turn` (or `stop_sequence`): the answer is complete.
    EndTurn,
    /// `max_tokens` or `model_context_window_exceeded`: cut off; its JSON may be incomplete.
    MaxTokens,
    /// `refusal`: the model declined; the content may be empty or partial and is never used.
    Refusal,
    /// `pause_turn`: the server paused a long turn; sending the content back continues it.
    PauseTurn,
    /// `tool_use` or a value this client does not know: no answer it can use.
    Other,
}

impl Stop {
    fn parse(s: Option<&str>) -> Stop {
        match s {
            Some("end_turn" | "stop_sequence") => Stop::EndTurn,
            Some("max_tokens" | "model_context_window_exceeded") => Stop::MaxTokens,
            Some("refusal") => Stop::Refusal,
            Some("pause_turn") => Stop::PauseTurn,
            _ => Stop::Other,
        }
    }
}

impl Effort {
    pub fn as_str(self) -> &'static str {
        match self {
            Effort::Low => "low",
            Effort::Medium => "medium",
            Effort::High => "high",
        }
    }
}

/// The request body of `prompt` for `model`, with `earlier` assistant content (the blocks of a
/// paused turn, sent back as they came) after the prompt's turns.
pub fn body(model: &str, prompt: &Prompt<'_>, paused: &[Value]) -> Value {
    let mut messages: Vec<Value> =
        prompt.turns.iter().map(|t| json!({"role": t.role, "content": t.content})).collect();
    if !paused.is_empty() {
        messages.push(json!({"role": "assistant", "content": paused}));
    }
    json!({
        "model": model,
        "max_tokens": prompt.limits.max_tokens,
        "system": prompt.system,
        "messages": messages,
        "output_config": {
            "effort": prompt.limits.effort.as_str(),
            "format": {"type": "json_schema", "schema": prompt.schema},
        },
    })
}

#[derive(Deserialize)]
struct WireMessage {
    #[serde(rename = "type")]
    kind: String,
    model: Option<String>,
    content: Vec<Value>,
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Usage,
}

/// One answer as the API sent it.
pub struct Read {
    pub model: Option<String>,
    /// The `text` blocks joined; thinking blocks are not part of it.
    pub text: String,
    pub stop: Stop,
    pub usage: Usage,
    /// Every content block as it came (a paused turn sends them back).
    pub content: Vec<Value>,
}

/// Reads a 200's body; `None` when it is not a message.
pub fn read(bytes: &[u8]) -> Option<Read> {
    let msg: WireMessage = serde_json::from_slice(bytes).ok()?;
    if msg.kind != "message" {
        return None;
    }
    let mut text = String::new();
    for block in &msg.content {
        if block.get("type").and_then(Value::as_str) == Some("text") {
            text.push_str(block.get("text").and_then(Value::as_str).unwrap_or_default());
        }
    }
    Some(Read {
        model: msg.model,
        text,
        stop: Stop::parse(msg.stop_reason.as_deref()),
        usage: msg.usage,
        content: msg.content,
    })
}

/// The `error.type` of an error answer (`{"type":"error","error":{"type":…,"message":…}}`,
/// <https://platform.claude.com/docs/en/api/errors>), if the body has one.
pub fn error_type(bytes: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(bytes).ok()?;
    v.get("error")?.get("type")?.as_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinking_blocks_are_skipped_and_only_text_is_the_answer() {
        let body = json!({
            "type": "message", "model": "claude-sonnet-5-5", "stop_reason": "end_turn",
            "content": [
                {"type": "thinking", "thinking": "{\"not\": \"this\"}", "signature": "sig"},
                {"type": "redacted_thinking", "data": "xyz"},
                {"type": "text", "text": "{\"a\":"},
                {"type": "text", "text": "1}"}
            ],
            "usage": {"input_tokens": 3, "output_tokens": 4}
        });
        let r = read(body.to_string().as_bytes()).unwrap();
        assert_eq!(r.text, "{\"a\":1}");
        assert_eq!(r.stop, Stop::EndTurn);
        assert_eq!(r.usage.total(), 7);
        assert_eq!(r.content.len(), 4);
    }

    #[test]
    fn every_documented_stop_reason_is_read() {
        for (s, want) in [
            ("end_turn", Stop::EndTurn),
            ("stop_sequence", Stop::EndTurn),
            ("max_tokens", Stop::MaxTokens),
            ("model_context_window_exceeded", Stop::MaxTokens),
            ("refusal", Stop::Refusal),
            ("pause_turn", Stop::PauseTurn),
            ("tool_use", Stop::Other),
        ] {
            assert_eq!(Stop::parse(Some(s)), want, "{s}");
        }
        assert_eq!(Stop::parse(None), Stop::Other);
    }

    #[test]
    fn an_error_body_names_its_type() {
        let b = br#"{"type":"error","error":{"type":"not_found_error","message":"model: x"},"request_id":"req_1"}"#;
        assert_eq!(error_type(b).as_deref(), Some("not_found_error"));
        assert_eq!(error_type(b"<html>"), None);
    }
}
