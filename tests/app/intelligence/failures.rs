//! Every failure of Claude degrades to the offline coach with a 200: retries where they help
//! (429 with `retry-after`, 529, 5xx, a hang), none where they cannot (malformed answers), the
//! breaker opens and closes, the daily budget holds per user.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path},
};

use super::{IntelApp, api_error, chat_input, received, tool_answer};

fn ask() -> serde_json::Value {
    json!({"message": "걷기 운동은 얼마나 하면 좋을까요?"})
}

/// `first` answers the first `n` calls, then the chat tool answers.
async fn fake_with(first: ResponseTemplate, n: u64) -> MockServer {
    let fake = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .respond_with(first)
        .up_to_n_times(n)
        .with_priority(1)
        .mount(&fake)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .respond_with(tool_answer("reply", chat_input("클로드 답변"), (50, 50)))
        .with_priority(2)
        .mount(&fake)
        .await;
    fake
}

#[sqlx::test]
async fn a_429_is_retried_after_its_retry_after_and_a_529_after_a_backoff(pool: PgPool) {
    let fake = fake_with(api_error(429, "rate_limit_error").insert_header("retry-after", "1"), 1).await;
    let app = IntelApp::with_fake(pool.clone(), &fake, &[]);
    let u = app.user("retry@example.com", &["AI_OVERSEAS_TRANSFER"]).await;
    let started = Instant::now();
    let a = app.chat(&u, ask()).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["data"]["engine"], "claude", "{}", a.text);
    assert!(started.elapsed() >= Duration::from_millis(950), "retry-after was honoured");
    assert_eq!(received(&fake).await.len(), 2);

    let fake = fake_with(api_error(529, "overloaded_error"), 2).await;
    let app = IntelApp::with_fake(pool, &fake, &[]);
    let u = app.user("overloaded@example.com", &["AI_OVERSEAS_TRANSFER"]).await;
    let a = app.chat(&u, ask()).await;
    assert_eq!(a.body["data"]["engine"], "claude", "{}", a.text);
    assert_eq!(received(&fake).await.len(), 3);
}

#[sqlx::test]
async fn persistent_500s_hangs_and_malformed_answers_end_with_the_offline_coach(pool: PgPool) {
    // 500 every time: the first attempt and two retries, then the coach.
    let fake = fake_with(api_error(500, "api_error"), 100).await;
    let app = IntelApp::with_fake(pool.clone(), &fake, &[]);
    let u = app.user("five-hundred@example.com", &["AI_OVERSEAS_TRANSFER"]).await;
    let a = app.chat(&u, ask()).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(
        (a.body["data"]["engine"].clone(), a.body["data"]["responseType"].clone()),
        (json!("offline"), json!("offline"))
    );
    assert_eq!(a.body["data"]["suggestedQuestions"].as_array().unwrap().len(), 3);
    assert_eq!(received(&fake).await.len(), 3);

    // A hang past the attempt's timeout (400 ms): retried within the budget (2.5 s), then the coach.
    let fake =
        fake_with(tool_answer("reply", chat_input("늦은 답"), (1, 1)).set_delay(Duration::from_secs(5)), 100)
            .await;
    let app = IntelApp::with_fake(
        pool.clone(),
        &fake,
        &[("ANTHROPIC_TIMEOUT_MS", "400"), ("ANTHROPIC_BUDGET_MS", "2500")],
    );
    let u = app.user("hang@example.com", &["AI_OVERSEAS_TRANSFER"]).await;
    let started = Instant::now();
    let a = app.chat(&u, ask()).await;
    assert_eq!((a.status, a.body["data"]["engine"].clone()), (StatusCode::OK, json!("offline")));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the budget bounds the wait: {:?}",
        started.elapsed()
    );
    // Retried, but only as often as the budget allows (2 or 3 attempts, by the jitter and the load).
    let attempts = received(&fake).await.len();
    assert!((2..=3).contains(&attempts), "{attempts} attempts");
    assert!(app.ai_calls().await.iter().any(|e| e["outcome"] == "timeout"));

    // Malformed JSON is not retried.
    let fake = fake_with(
        ResponseTemplate::new(200).set_body_string("{\"type\": \"message\", \"content\": [tru"),
        100,
    )
    .await;
    let app = IntelApp::with_fake(pool.clone(), &fake, &[]);
    let u = app.user("malformed@example.com", &["AI_OVERSEAS_TRANSFER"]).await;
    let a = app.chat(&u, ask()).await;
    assert_eq!((a.status, a.body["data"]["engine"].clone()), (StatusCode::OK, json!("offline")));
    assert_eq!(received(&fake).await.len(), 1);

    // A tool answer of the wrong shape (two questions) is refused: the coach answers.
    let bad = json!({"response": "답", "suggestedQuestions": ["하나?", "둘?"]});
    let fake = fake_with(tool_answer("reply", bad, (10, 10)), 100).await;
    let app = IntelApp::with_fake(pool, &fake, &[]);
    let u = app.user("shape@example.com", &["AI_OVERSEAS_TRANSFER"]).await;
    let a = app.chat(&u, ask()).await;
    assert_eq!((a.status, a.body["data"]["engine"].clone()), (StatusCode::OK, json!("offline")));
    assert!(app.ai_calls().await.iter().any(|e| e["outcome"] == "invalid_answer"));
}

#[sqlx::test]
async fn the_breaker_opens_after_failed_calls_and_closes_after_a_good_trial(pool: PgPool) {
    let fake = fake_with(api_error(503, "api_error"), 6).await;
    let app = IntelApp::with_fake(
        pool,
        &fake,
        &[
            ("ANTHROPIC_MAX_RETRIES", "0"),
            ("ANTHROPIC_BREAKER_THRESHOLD", "2"),
            ("ANTHROPIC_BREAKER_COOL_DOWN_MS", "600"),
        ],
    );
    let u = app.user("breaker@example.com", &["AI_OVERSEAS_TRANSFER"]).await;
    for _ in 0..2 {
        let a = app.chat(&u, ask()).await;
        assert_eq!((a.status, a.body["data"]["engine"].clone()), (StatusCode::OK, json!("offline")));
    }
    assert_eq!(received(&fake).await.len(), 2);
    // Open: the coach answers at once, nothing reaches the API.
    let a = app.chat(&u, ask()).await;
    assert_eq!((a.status, a.body["data"]["engine"].clone()), (StatusCode::OK, json!("offline")));
    assert_eq!(received(&fake).await.len(), 2, "an open breaker sends nothing");
    assert!(app.ai_calls().await.iter().any(|e| e["outcome"] == "breaker_open"));
    // After the cool-down one trial goes through; the fake has recovered (only 2 of its 6 failures
    // were used, so reset it to answer well), and the breaker closes.
    fake.reset().await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .respond_with(tool_answer("reply", chat_input("돌아왔어요"), (5, 5)))
        .mount(&fake)
        .await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    for _ in 0..2 {
        let a = app.chat(&u, ask()).await;
        assert_eq!(a.body["data"]["engine"], "claude", "{}", a.text);
    }
    assert_eq!(received(&fake).await.len(), 2);
}

#[sqlx::test]
async fn the_daily_budget_holds_per_user_and_nothing_leaks_across_users(pool: PgPool) {
    let fake = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .respond_with(tool_answer("reply", chat_input("클로드 답변"), (150, 50)))
        .mount(&fake)
        .await;
    let app = IntelApp::with_fake(pool, &fake, &[("AI_DAILY_TOKEN_BUDGET", "350")]);
    let a = app.user("budget-a@example.com", &["AI_OVERSEAS_TRANSFER"]).await;
    let b = app.user("budget-b@example.com", &["AI_OVERSEAS_TRANSFER"]).await;
    // 200 tokens a call: two calls fit under 350 at their start, the third is over.
    let engines: Vec<String> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            let r = app.chat(&a, ask()).await;
            assert_eq!(r.status, StatusCode::OK);
            v.push(r.body["data"]["engine"].as_str().unwrap().to_string());
        }
        v
    };
    assert_eq!(engines, ["claude", "claude", "offline"]);
    assert_eq!(received(&fake).await.len(), 2);
    assert!(app.ai_calls().await.iter().any(|e| e["outcome"] == "budget"));
    // Another user's budget is untouched, and their conversation holds none of A's.
    let r = app.chat(&b, ask()).await;
    assert_eq!(r.body["data"]["engine"], "claude");
    let bodies = received(&fake).await;
    let last = bodies.last().unwrap();
    assert_eq!(last["messages"].as_array().unwrap().len(), 1, "B's call carries no earlier turns: {last}");
    // The next Seoul day, A has a fresh budget.
    app.set_time("2026-11-20T15:30:00Z");
    let r = app.chat(&a, ask()).await;
    assert_eq!(r.body["data"]["engine"], "claude");
}
