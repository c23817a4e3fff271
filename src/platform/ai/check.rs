//! `healthsync ai-check`: one real call with the configured key and model, for an operator after a
//! deploy (never in CI: it spends tokens). It reads the model's lifecycle from the Models API,
//! then asks for a one-field structured answer at low effort and prints what came back.

use std::{sync::Arc, time::Instant};

use serde_json::json;

use super::{AiError, Claude, ClaudeConfig, Effort, Limits, Prompt, Stop, Turn, models::ModelStatus};

/// What the check saw, one line per fact; `Err` when the AI cannot answer as configured.
pub async fn run(config: ClaudeConfig) -> anyhow::Result<Vec<String>> {
    let claude = Arc::new(Claude::new(config));
    anyhow::ensure!(
        claude.is_configured(),
        "ANTHROPIC_API_KEY is not set: every AI answer would come from the offline coach"
    );
    let mut lines = vec![format!("model: {}", claude.model())];
    let status = claude.model_status(std::time::Duration::from_secs(10)).await;
    lines.push(match &status {
        ModelStatus::Deprecated { retires_at } => {
            format!("lifecycle: deprecated (retires {})", retires_at.as_deref().unwrap_or("unannounced"))
        }
        s => format!("lifecycle: {}", s.label()),
    });
    anyhow::ensure!(
        status.usable(),
        "{}\nthe Models API says {} is {}: set ANTHROPIC_MODEL to a current model",
        lines.join("\n"),
        claude.model(),
        status.label()
    );
    let schema = json!({
        "type": "object",
        "properties": {"reply": {"type": "string"}},
        "required": ["reply"],
        "additionalProperties": false
    });
    let max_tokens = 512;
    let attempt_timeout = claude.config().attempt_timeout(max_tokens);
    let prompt = Prompt {
        system: "HealthSync 배포 점검입니다. reply에 '확인'이라고만 답하세요.",
        turns: vec![Turn::user("배포 점검: 답해 주세요.")],
        schema: &schema,
        limits: Limits { effort: Effort::Low, max_tokens, attempt_timeout, budget: attempt_timeout * 2 },
    };
    let started = Instant::now();
    let answer = claude.complete(&prompt).await;
    let ms = started.elapsed().as_millis();
    match answer {
        Ok(a) => {
            lines.push(format!(
                "call: {ms} ms, {} attempt(s), stop_reason {:?}, {} input + {} output tokens, answered by {}",
                a.attempts, a.stop, a.usage.input_tokens, a.usage.output_tokens, a.model
            ));
            lines.push(format!("answer: {}", a.text.trim()));
            let parsed = a.json::<serde_json::Value>();
            anyhow::ensure!(
                a.stop == Stop::EndTurn
                    && parsed.is_some_and(|v| v.get("reply").is_some_and(|r| r.is_string())),
                "{}\nthe answer was not a complete structured answer",
                lines.join("\n")
            );
            Ok(lines)
        }
        Err(e) => {
            let hint = match e {
                AiError::Refused(401) => " (the key is wrong or revoked)",
                AiError::Refused(403) => " (the key may not use this model)",
                AiError::Refused(400) => " (the request was refused: check the model's breaking changes)",
                AiError::ModelUnavailable => " (the model is retired or unknown)",
                _ => "",
            };
            anyhow::bail!("{}\ncall: failed after {ms} ms: {e}{hint}", lines.join("\n"))
        }
    }
}
