//! The client against the Messages API as it is today: the default configuration answers with
//! Claude for every purpose at the current model's pace, the fake refuses what the API refuses,
//! answers cut at `max_tokens` or refused are never shown, a paused turn is continued, and a
//! retired model is found out, shown as degraded AI and not called again.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use chrono::NaiveDate;
use healthsync::{
    intelligence::api::{Engine, NudgeBrief, Wording, nudge_wording},
    platform::ai::{ClaudeConfig, DEFAULT_MODEL, check},
};
use serde_json::{Value, json};
use sqlx::PgPool;

use super::{ClaudeFake, IntelApp, Reply, chat_input, diagnosis_input};
use crate::support::claude::{CURRENT, KEY, RETIRED};

fn hangul(n: usize) -> String {
    "건강".repeat(n / 2 + 1).chars().take(n).collect()
}

#[test]
fn the_default_model_is_a_current_one_not_a_retired_one() {
    assert!(!RETIRED.contains(&DEFAULT_MODEL), "{DEFAULT_MODEL} is retired");
    assert!(CURRENT.contains(&DEFAULT_MODEL), "{DEFAULT_MODEL} is not a model the API serves");
}

/// With nothing configured but the key (and the fake's address), every purpose gets Claude's
/// answer even when the answer is the longest each accepts, written at the current model's pace:
/// the sizes (`max_tokens`) and the timeouts of the default configuration fit real answers.
#[sqlx::test]
async fn the_default_configuration_answers_with_claude_for_every_purpose_at_the_models_pace(pool: PgPool) {
    let fake = ClaudeFake::paced().await;
    fake.answer(
        "sentences",
        Reply::Json(json!({"sentences": [hangul(150), hangul(150), hangul(150)], "occupationConsiderations": hangul(300)})),
    );
    fake.answer(
        "response",
        Reply::Json(
            json!({"response": hangul(600), "suggestedQuestions": [hangul(60), hangul(60), hangul(60)], "safety": "none"}),
        ),
    );
    let ids = ["walk-7000-steps", "after-meal-walk-15", "leave-the-soup", "sleep-7-hours", "water-8-cups"];
    let picks: Vec<Value> = ids
        .iter()
        .map(|id| json!({"missionId": id, "reason": hangul(80), "occupationRelevance": hangul(80)}))
        .collect();
    fake.answer("picks", Reply::Json(json!({"picks": picks, "summary": hangul(150)})));
    fake.answer("title", Reply::Json(json!({"title": hangul(30), "body": hangul(90)})));
    let app = IntelApp::with_fake(pool, &fake, &[]);
    let u = app.user("default@example.com", &["HEALTH_DATA", "AI_OVERSEAS_TRANSFER"]).await;
    app.checkup(&u, "2026-10-01").await;
    let day = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    let fallback = Wording { title: "t".into(), body: "b".into(), engine: Engine::Offline };
    let brief = NudgeBrief {
        segment: "s",
        motivation: "HABIT_FORMATION",
        urgency: "LOW",
        streak_band: "0",
        fallback,
    };
    let (d, c, r, n) = tokio::join!(
        app.diagnosis(&u),
        app.chat(&u, json!({"message": "걷기 운동은 얼마나 하면 좋을까요?"})),
        app.recommend(&u),
        nudge_wording(&app.platform, day, &brief),
    );
    for (what, a) in [("diagnosis", &d), ("chat", &c), ("recommend", &r)] {
        assert_eq!(a.status, StatusCode::OK, "{what}: {}", a.text);
        assert_eq!(a.body["data"]["engine"], "claude", "{what}: {}", a.text);
    }
    assert_eq!(c.body["data"]["responseType"], "coaching");
    assert_eq!(r.body["data"]["missions"][0]["reason"], hangul(80));
    assert_eq!(n.engine, Engine::Claude);
    let bodies = fake.received().await;
    assert_eq!(bodies.len(), 4, "one request each, none cut short");
    for b in &bodies {
        assert_eq!(b["model"], "claude-sonnet-5-5");
        assert!(
            b.get("tool_choice").is_none() && b.get("thinking").is_none() && b.get("temperature").is_none()
        );
        assert_eq!(b["output_config"]["format"]["type"], "json_schema");
    }
    let effort_of = |prop: &str| {
        bodies
            .iter()
            .find(|b| b["output_config"]["format"]["schema"]["properties"].get(prop).is_some())
            .map(|b| b["output_config"]["effort"].clone())
            .unwrap()
    };
    assert_eq!(
        [effort_of("title"), effort_of("picks"), effort_of("sentences"), effort_of("response")],
        [json!("low"), json!("low"), json!("low"), json!("medium")],
        "a short nudge need not think hard; a conversation thinks a little"
    );
}

/// The fake refuses what today's API refuses, so a client that sends any of it fails here.
#[tokio::test]
async fn the_fake_refuses_what_the_current_api_refuses() {
    let fake = ClaudeFake::start().await;
    fake.answer("x", Reply::Json(json!({"x": "ok"})));
    let schema = json!({"type": "object", "properties": {"x": {"type": "string"}}, "required": ["x"], "additionalProperties": false});
    let good = json!({
        "model": "claude-sonnet-5-5", "max_tokens": 256,
        "messages": [{"role": "user", "content": "hi"}],
        "output_config": {"effort": "low", "format": {"type": "json_schema", "schema": schema}}
    });
    let client = reqwest::Client::new();
    let send = |body: Value| {
        let client = client.clone();
        let url = format!("{}/v1/messages", fake.uri());
        async move {
            let r = client
                .post(url)
                .header("x-api-key", KEY)
                .header("anthropic-version", "2023-06-01")
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        }
    };
    let (status, ok) = send(good.clone()).await;
    assert_eq!(status, 200, "{ok}");
    assert_eq!(ok["content"][0]["type"], "thinking", "adaptive thinking comes first");
    assert_eq!(ok["content"][1]["text"], "{\"x\":\"ok\"}");
    let with = |k: &str, v: Value| {
        let mut b = good.clone();
        b[k] = v;
        b
    };
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (with("model", json!("claude-sonnet-4-5")), 404, "not_found_error", "model: claude-sonnet-4-5"),
        (with("tool_choice", json!({"type": "any"})), 400, "invalid_request_error", "are not supported"),
        (
            with("tool_choice", json!({"type": "tool", "name": "x"})),
            400,
            "invalid_request_error",
            "are not supported",
        ),
        (with("thinking", json!({"type": "disabled"})), 400, "invalid_request_error", "between_tools"),
        (
            with("thinking", json!({"type": "enabled", "budget_tokens": 1024})),
            400,
            "invalid_request_error",
            "adaptive",
        ),
        (with("temperature", json!(0.2)), 400, "invalid_request_error", "temperature"),
        (
            with(
                "messages",
                json!([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "{"}]),
            ),
            400,
            "invalid_request_error",
            "prefill",
        ),
        (
            with(
                "output_config",
                json!({"format": {"type": "json_schema", "schema": {"type": "object", "properties": {"x": {"type": "string", "maxLength": 5}}, "required": ["x"], "additionalProperties": false}}}),
            ),
            400,
            "invalid_request_error",
            "maxLength",
        ),
        (
            with(
                "output_config",
                json!({"format": {"type": "json_schema", "schema": {"type": "object", "properties": {"x": {"type": "string"}}}}}),
            ),
            400,
            "invalid_request_error",
            "additionalProperties",
        ),
        (with("max_tokens", json!(0)), 400, "invalid_request_error", "max_tokens"),
        (with("effort", json!("low")), 400, "invalid_request_error", "Extra inputs"),
    ];
    for (body, status, kind, says) in cases {
        let (got, answer) = send(body.clone()).await;
        assert_eq!(got, status, "{body} → {answer}");
        assert_eq!(answer["type"], "error");
        assert_eq!(answer["error"]["type"], kind, "{answer}");
        assert!(answer["error"]["message"].as_str().unwrap().contains(says), "{answer}");
        assert!(answer["request_id"].is_string());
    }
}

#[sqlx::test]
async fn an_answer_cut_at_max_tokens_is_retried_once_with_a_larger_limit_and_never_shown(pool: PgPool) {
    // The first answer thinks so long that its JSON is cut at 1,536 tokens; the retry asks for more.
    let fake = ClaudeFake::start().await;
    fake.answer("sentences", Reply::Json(diagnosis_input()));
    fake.then([Reply::ThinkThen(1500, diagnosis_input())]);
    let app = IntelApp::with_fake(pool.clone(), &fake, &[]);
    let u = app.user("cut@example.com", &["HEALTH_DATA", "AI_OVERSEAS_TRANSFER"]).await;
    app.checkup(&u, "2026-10-01").await;
    let a = app.diagnosis(&u).await;
    assert_eq!(a.body["data"]["engine"], "claude", "{}", a.text);
    assert_eq!(a.body["data"]["threeSentenceSummary"][0], "클로드 첫 문장입니다.");
    let bodies = fake.received().await;
    assert_eq!(bodies.len(), 2);
    assert_eq!(
        (bodies[0]["max_tokens"].clone(), bodies[1]["max_tokens"].clone()),
        (json!(1536), json!(2457))
    );
    let event = app.ai_calls().await.into_iter().find(|e| e["purpose"] == "diagnosis").unwrap();
    assert_eq!(event["outcome"], "ok");
    assert!(event["outputTokens"].as_u64().unwrap() > 1536, "both answers are paid for: {event}");

    // Cut twice: the coach answers, recorded as truncated; nothing cut is shown.
    let fake = ClaudeFake::start().await;
    fake.then([Reply::ThinkThen(1500, diagnosis_input()), Reply::ThinkThen(2440, diagnosis_input())]);
    let app = IntelApp::with_fake(pool, &fake, &[]);
    let u = app.user("cut-twice@example.com", &["HEALTH_DATA", "AI_OVERSEAS_TRANSFER"]).await;
    app.checkup(&u, "2026-10-01").await;
    let a = app.diagnosis(&u).await;
    assert_eq!(a.body["data"]["engine"], "offline", "{}", a.text);
    assert!(!a.text.contains("클로드"), "no part of a cut answer is shown");
    assert_eq!(fake.received().await.len(), 2);
    assert!(app.ai_calls().await.iter().any(|e| e["outcome"] == "truncated"));
}

/// The larger retry is held against the day's budget like any call: when the budget cannot hold
/// it (here the first call's own hold fills it), the retry is not sent and the coach answers,
/// recorded as truncated, with the first answer's tokens charged and no hold left behind.
#[sqlx::test]
async fn a_cut_answer_whose_larger_retry_the_daily_budget_refuses_goes_to_the_coach(pool: PgPool) {
    let fake = ClaudeFake::start().await;
    fake.answer("sentences", Reply::Json(diagnosis_input()));
    fake.then([Reply::ThinkThen(1500, diagnosis_input())]);
    // Under the first call's hold (its estimated input plus 1,536 output tokens): the first call
    // starts (nothing is spent or held yet), the retry's hold of 2,457 more does not.
    let app = IntelApp::with_fake(pool, &fake, &[("AI_DAILY_TOKEN_BUDGET", "1000")]);
    let u = app.user("cut-over-budget@example.com", &["HEALTH_DATA", "AI_OVERSEAS_TRANSFER"]).await;
    app.checkup(&u, "2026-10-01").await;
    let a = app.diagnosis(&u).await;
    assert_eq!(
        (a.status, a.body["data"]["engine"].clone()),
        (StatusCode::OK, json!("offline")),
        "{}",
        a.text
    );
    assert!(!a.text.contains("클로드"), "no part of the cut answer is shown: {}", a.text);
    let bodies = fake.received().await;
    assert_eq!(bodies.len(), 1, "the retry the budget cannot hold is not sent");
    assert_eq!(bodies[0]["max_tokens"], json!(1536));
    let event = app.ai_calls().await.into_iter().find(|e| e["purpose"] == "diagnosis").unwrap();
    assert_eq!(
        (event["engine"].clone(), event["outcome"].clone()),
        (json!("offline"), json!("truncated")),
        "{event}"
    );
    assert_eq!(event["outputTokens"], json!(1536), "the cut answer is paid for: {event}");
    let (spent, held): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT coalesce(sum(input_tokens + output_tokens), 0)::int8 FROM intelligence.usage WHERE user_id = $1), \
                (SELECT count(*) FROM intelligence.usage_reservations WHERE user_id = $1)",
    )
    .bind(u.uuid())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(held, 0, "the first call's hold is settled");
    assert_eq!(spent as u64, event["inputTokens"].as_u64().unwrap() + 1536);
}

#[sqlx::test]
async fn a_cut_answer_is_not_retried_when_the_time_left_cannot_hold_a_larger_one(pool: PgPool) {
    // 400 tokens a second: the first answer takes ~3.8 s of a 9 s budget (a 5 s attempt, well
    // over the answer even on a loaded machine); a 2,457-token retry at that pace would need ~7 s
    // more, and only an answer under ~3.1 s would leave room for one.
    let fake = ClaudeFake::with_pace(Duration::ZERO, 400.0).await;
    fake.answer("sentences", Reply::Json(diagnosis_input()));
    fake.then([Reply::ThinkThen(1500, diagnosis_input())]);
    let app = IntelApp::with_fake(
        pool,
        &fake,
        &[("ANTHROPIC_FIRST_TOKEN_MS", "5000"), ("ANTHROPIC_MIN_TOKENS_PER_SEC", "1000000")],
    );
    let u = app.user("no-time@example.com", &["HEALTH_DATA", "AI_OVERSEAS_TRANSFER"]).await;
    app.checkup(&u, "2026-10-01").await;
    let a = app.diagnosis(&u).await;
    assert_eq!(a.body["data"]["engine"], "offline", "{}", a.text);
    assert_eq!(fake.received().await.len(), 1);
    assert!(app.ai_calls().await.iter().any(|e| e["outcome"] == "truncated"));
}

#[sqlx::test]
async fn a_refusal_is_never_shown_and_recorded_as_a_refusal(pool: PgPool) {
    let fake = ClaudeFake::start().await;
    fake.answer("response", Reply::Json(chat_input("클로드 답변")));
    fake.then([Reply::Refusal]);
    let app = IntelApp::with_fake(pool, &fake, &[]);
    let u = app.user("refusal@example.com", &["AI_OVERSEAS_TRANSFER"]).await;
    let a = app.chat(&u, json!({"message": "걷기 운동은 얼마나 하면 좋을까요?"})).await;
    assert_eq!(
        (a.body["data"]["engine"].clone(), a.body["data"]["responseType"].clone()),
        (json!("offline"), json!("offline"))
    );
    assert_eq!(fake.received().await.len(), 1, "a refusal is not retried");
    assert!(app.ai_calls().await.iter().any(|e| e["outcome"] == "refusal"));
}

#[sqlx::test]
async fn a_paused_turn_is_continued_by_sending_its_content_back(pool: PgPool) {
    let fake = ClaudeFake::start().await;
    fake.answer("response", Reply::Json(chat_input("이어서 답합니다")));
    fake.then([Reply::Pause]);
    let app = IntelApp::with_fake(pool, &fake, &[]);
    let u = app.user("pause@example.com", &["AI_OVERSEAS_TRANSFER"]).await;
    let a = app.chat(&u, json!({"message": "수면 습관을 어떻게 바꿀까요?"})).await;
    assert_eq!(a.body["data"]["response"], "이어서 답합니다", "{}", a.text);
    let bodies = fake.received().await;
    assert_eq!(bodies.len(), 2);
    let last = bodies[1]["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["role"], "assistant");
    assert_eq!(last["content"][0]["type"], "thinking", "the paused content goes back as it came");
}

#[sqlx::test]
async fn a_retired_model_is_found_out_shown_as_degraded_and_not_called_again(pool: PgPool) {
    let fake = ClaudeFake::start().await;
    fake.answer("response", Reply::Json(chat_input("클로드 답변")));
    // The current default: ready, and the model shown as active.
    let app = IntelApp::with_fake(pool.clone(), &fake, &[]);
    let r = app.call(None, Method::GET, "/api/system/ready", None).await;
    assert_eq!((r.status, r.body["data"]["status"].clone()), (StatusCode::OK, json!("UP")), "{}", r.text);
    let claude =
        r.body["data"]["checks"].as_array().unwrap().iter().find(|c| c["name"] == "claude").unwrap().clone();
    assert_eq!(
        (claude["status"].clone(), claude["detail"].clone()),
        (json!("UP"), json!("claude-sonnet-5-5: active"))
    );

    // A model retired on 2026-11-30: the call is a 404, the coach answers, and the next call is
    // not sent at all; readiness shows degraded AI but the app stays ready.
    let app = IntelApp::with_fake(pool, &fake, &[("ANTHROPIC_MODEL", "claude-sonnet-4-5")]);
    let u = app.user("retired@example.com", &["AI_OVERSEAS_TRANSFER"]).await;
    let before = fake.received().await.len();
    let a = app.chat(&u, json!({"message": "물은 얼마나 마셔야 하나요?"})).await;
    assert_eq!((a.status, a.body["data"]["engine"].clone()), (StatusCode::OK, json!("offline")));
    assert_eq!(fake.received().await.len(), before + 1, "a 404 is not retried");
    assert!(app.ai_calls().await.iter().any(|e| e["outcome"] == "model_unavailable"));
    let again = app.chat(&u, json!({"message": "물은 얼마나 마셔야 하나요?"})).await;
    assert_eq!(again.body["data"]["engine"], "offline");
    assert_eq!(fake.received().await.len(), before + 1, "a model known to be gone is not called");
    let r = app.call(None, Method::GET, "/api/system/ready", None).await;
    assert_eq!(
        (r.status, r.body["data"]["status"].clone()),
        (StatusCode::OK, json!("DEGRADED")),
        "{}",
        r.text
    );
    assert!(r.text.contains("claude-sonnet-4-5: retired"), "{}", r.text);
}

#[tokio::test]
async fn ai_check_reports_the_lifecycle_and_one_real_call() {
    let fake = ClaudeFake::start().await;
    fake.answer("reply", Reply::Json(json!({"reply": "확인"})));
    let config = |model: &str| {
        let src: std::collections::HashMap<String, String> = [
            ("ANTHROPIC_API_KEY".to_string(), KEY.to_string()),
            ("ANTHROPIC_BASE_URL".to_string(), fake.uri()),
            ("ANTHROPIC_MODEL".to_string(), model.to_string()),
        ]
        .into();
        ClaudeConfig::from_source(&src).unwrap()
    };
    let lines = check::run(config(DEFAULT_MODEL)).await.unwrap().join("\n");
    assert!(lines.contains("lifecycle: active") && lines.contains("answer: {\"reply\":\"확인\"}"), "{lines}");
    let err = check::run(config("claude-sonnet-4-5")).await.unwrap_err().to_string();
    assert!(err.contains("retired"), "{err}");
    let err = check::run(config("claude-nonexistent-1")).await.unwrap_err().to_string();
    assert!(err.contains("not_found"), "{err}");
    let bodies = fake.received().await;
    assert_eq!(bodies.len(), 1, "a gone model is not called");
}
