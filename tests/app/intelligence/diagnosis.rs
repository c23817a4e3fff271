//! The explained checkup: numbers from the rules, words from Claude or the coach, cached per
//! checkup and dropped by `checkup.synced`; only the minimum reaches Claude.

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use super::{ClaudeFake, IntelApp, Reply, diagnosis_input};

#[sqlx::test]
async fn without_a_checkup_the_app_is_told_to_offer_sync_or_manual_entry(pool: PgPool) {
    let app = IntelApp::offline(pool);
    let u = app.user("none@example.com", &[]).await;
    let a = app.diagnosis(&u).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.text);
    assert_eq!(a.body["code"], "CONSENT_REQUIRED");
    app.consent(&u, &["HEALTH_DATA"], true).await;
    let a = app.diagnosis(&u).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.text);
    assert_eq!(a.body["code"], "CHECKUP_REQUIRED");
}

#[sqlx::test]
async fn the_offline_coach_explains_with_the_rules_numbers(pool: PgPool) {
    let app = IntelApp::offline(pool);
    let u = app.user("offline@example.com", &["HEALTH_DATA", "AI_OVERSEAS_TRANSFER"]).await;
    app.checkup(&u, "2026-10-01").await;
    let a = app.diagnosis(&u).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let d = &a.body["data"];
    assert_eq!(d["engine"], "offline");
    let s = d["threeSentenceSummary"].as_array().unwrap();
    assert_eq!(s.len(), 3);
    // Graded: blood pressure 70, BMI 100, waist 100, glucose 70 → 85, minus 3 per metabolic
    // criterion met (blood pressure and glucose: 2) → 79.
    assert_eq!(d["healthScore"], 79, "{d}");
    assert_eq!(d["riskLevel"], "보통");
    assert_eq!(d["confidenceScore"], json!(0.27), "4 of 15 items graded");
    assert!(s[1].as_str().unwrap().contains("정상B(경계)"), "{s:?}");
    assert!(d["occupationConsiderations"].as_str().unwrap().contains("앉아"), "{d}");
    assert!(d["analysisTimestamp"].is_string() && d["checkupId"].is_string());
}

#[sqlx::test]
async fn claude_writes_the_words_only_the_minimum_is_sent_and_the_answer_is_cached_per_checkup(pool: PgPool) {
    let fake = ClaudeFake::start().await;
    fake.answer("sentences", Reply::Json(diagnosis_input()));
    let app = IntelApp::with_fake(pool.clone(), &fake, &[]);
    let u = app.user("claude@example.com", &["HEALTH_DATA", "AI_OVERSEAS_TRANSFER"]).await;
    app.checkup(&u, "2026-10-01").await;
    let a = app.diagnosis(&u).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let d = &a.body["data"];
    assert_eq!(d["engine"], "claude");
    assert_eq!(d["threeSentenceSummary"][0], "클로드 첫 문장입니다.");
    assert_eq!(d["occupationConsiderations"], "클로드가 쓴 직업 조언입니다.");
    assert_eq!(d["healthScore"], 79, "the numbers stay the rules'");

    let bodies = fake.received().await;
    assert_eq!(bodies.len(), 1);
    let sent = bodies[0].to_string();
    assert_eq!(bodies[0]["output_config"]["format"]["type"], "json_schema");
    assert_eq!(
        bodies[0]["output_config"]["effort"], "low",
        "explaining computed numbers needs no deep thought"
    );
    assert!(bodies[0].get("tool_choice").is_none() && bodies[0].get("tools").is_none());
    assert!(sent.contains("30대") && sent.contains("남성") && sent.contains("소프트웨어 개발자"), "{sent}");
    assert!(sent.contains("132/84"), "values are sent");
    for private in ["김건강", "claude@example.com", "1988", "04-12", &u.id] {
        assert!(!sent.contains(private), "{private} reached Claude");
    }

    // Cached: the same checkup is explained again without a call.
    let again = app.diagnosis(&u).await;
    assert_eq!(again.body["data"]["threeSentenceSummary"], d["threeSentenceSummary"]);
    assert_eq!(fake.received().await.len(), 1);
    let events = app.ai_calls().await;
    let last = events.last().unwrap();
    assert_eq!((last["cacheHit"].clone(), last["engine"].clone()), (json!(true), json!("claude")));
    let first_call = events.iter().find(|e| e["outcome"] == "ok" && e["cacheHit"] == false).unwrap();
    let (input, output) =
        (first_call["inputTokens"].as_i64().unwrap(), first_call["outputTokens"].as_i64().unwrap());
    assert!(input > 300 && output > 120, "the API's own counts, thinking included: {first_call}");
    assert!(events.iter().all(|e| !e.to_string().contains("클로드")), "no text in analytics");
    let spent: i64 =
        sqlx::query_scalar("SELECT input_tokens + output_tokens FROM intelligence.usage WHERE user_id = $1")
            .bind(u.uuid())
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(spent, input + output);
    let held: i64 = sqlx::query_scalar("SELECT count(*) FROM intelligence.usage_reservations")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(held, 0, "the call's hold was settled");
    let keys: Vec<String> = vec![healthsync::intelligence::diagnosis::cache_key(u.uuid())];
    assert!(!keys[0].contains(&u.id), "the cache key holds no id");

    // `checkup.synced` drops the entry: the next read asks again.
    let payload = json!({"Data": {"message": json!({"userId": u.id, "jobId": uuid::Uuid::new_v4(), "newCheckups": 1}).to_string()},
                         "Metadata": {"MessageId": "s-1", "DeliveryCount": 1, "Subject": "checkup.synced"}});
    let inv = app.call(None, Method::POST, "/IntelligenceCheckupCaches", Some(payload)).await;
    assert_eq!(inv.status, StatusCode::OK, "{}", inv.text);
    app.diagnosis(&u).await;
    assert_eq!(fake.received().await.len(), 2);
    // A new checkup is a new version: asked again.
    app.checkup(&u, "2026-11-01").await;
    let newer = app.diagnosis(&u).await;
    assert_eq!(newer.body["data"]["checkupDate"], "2026-11-01");
    assert_eq!(fake.received().await.len(), 3);
}

#[sqlx::test]
async fn without_the_ai_consent_no_request_reaches_claude(pool: PgPool) {
    let fake = ClaudeFake::start().await;
    fake.answer("sentences", Reply::Json(diagnosis_input()));
    fake.answer("picks", Reply::Json(json!({"picks": [], "summary": "x"})));
    fake.answer("response", Reply::Json(super::chat_input("클로드")));
    let app = IntelApp::with_fake(pool, &fake, &[]);
    let u = app.user("noconsent@example.com", &["HEALTH_DATA"]).await;
    app.checkup(&u, "2026-10-01").await;
    let d = app.diagnosis(&u).await;
    assert_eq!((d.status, d.body["data"]["engine"].clone()), (StatusCode::OK, json!("offline")));
    let r = app.recommend(&u).await;
    assert_eq!((r.status, r.body["data"]["engine"].clone()), (StatusCode::OK, json!("offline")));
    let c = app.chat(&u, json!({"message": "걷기 운동은 얼마나 하면 좋을까요?"})).await;
    assert_eq!((c.status, c.body["data"]["responseType"].clone()), (StatusCode::OK, json!("offline")));
    let reset =
        app.call(&u, Method::POST, "/api/goals/missions/reset", Some(json!({"reason": "새로 시작"}))).await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.text);
    assert!(fake.received().await.is_empty(), "a request reached Claude without the consent");
    assert!(app.ai_calls().await.iter().any(|e| e["outcome"] == "no_consent"));

    // Granted: now Claude is asked (the cached offline answer does not stand in).
    app.consent(&u, &["AI_OVERSEAS_TRANSFER"], true).await;
    let d = app.diagnosis(&u).await;
    assert_eq!(d.body["data"]["engine"], "claude");
    assert_eq!(fake.received().await.len(), 1);
}
