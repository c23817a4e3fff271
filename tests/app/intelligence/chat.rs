//! The chat: sessions owned by the user, messages in order, context for Claude, red flags answered
//! before any AI call, length and rate limits.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

use super::{ClaudeFake, IntelApp, Reply, chat_input};

async fn fake() -> ClaudeFake {
    let fake = ClaudeFake::start().await;
    fake.answer("response", Reply::Json(chat_input("클로드 답변입니다.")));
    fake
}

#[sqlx::test]
async fn a_conversation_keeps_its_order_carries_context_and_belongs_to_its_user(pool: PgPool) {
    let fake = fake().await;
    let app = IntelApp::with_fake(pool, &fake, &[]);
    let u = app.user("chat@example.com", &["HEALTH_DATA", "AI_OVERSEAS_TRANSFER"]).await;
    app.checkup(&u, "2026-10-01").await;
    let s = app
        .call(
            &u,
            Method::POST,
            "/api/goals/missions/select",
            Some(json!({"selectedMissionIds": ["walk-7000-steps"]})),
        )
        .await;
    assert_eq!(s.status, StatusCode::CREATED, "{}", s.text);

    let first = app.chat(&u, json!({"message": "걷기 운동은 얼마나 하면 좋을까요?"})).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let d = &first.body["data"];
    assert_eq!((d["responseType"].clone(), d["engine"].clone()), (json!("coaching"), json!("claude")));
    assert_eq!(d["response"], "클로드 답변입니다.");
    assert_eq!(d["suggestedQuestions"].as_array().unwrap().len(), 3);
    let session = d["sessionId"].as_str().unwrap().to_string();
    let second = app
        .chat(
            &u,
            json!({"message": "저녁에 걸어도 되나요?", "sessionId": session, "context": "오늘의 미션 화면"}),
        )
        .await;
    assert_eq!(second.body["data"]["sessionId"], session.as_str());

    // Claude got the assessment, the open missions and the earlier turns, in order.
    let bodies = fake.received().await;
    assert_eq!(bodies[1]["output_config"]["effort"], "medium", "a conversation thinks a little");
    let system = bodies[1]["system"].as_str().unwrap();
    assert!(system.contains("정상B(경계)") && system.contains("하루 7,000보 걷기"), "{system}");
    let turns: Vec<(String, String)> = bodies[1]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["role"].as_str().unwrap().to_string(), m["content"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(turns.len(), 3);
    assert_eq!(turns[0], ("user".to_string(), "걷기 운동은 얼마나 하면 좋을까요?".to_string()));
    assert_eq!(turns[1].0, "assistant");
    assert!(turns[2].1.starts_with("저녁에 걸어도 되나요?") && turns[2].1.contains("오늘의 미션 화면"));

    let h = app
        .call(
            &u,
            Method::GET,
            &format!("/api/intelligence/chat/history?sessionId={session}&messageLimit=3"),
            None,
        )
        .await;
    assert_eq!(h.status, StatusCode::OK, "{}", h.text);
    assert_eq!(h.body["data"]["totalMessageCount"], 4);
    let roles: Vec<&str> =
        h.body["data"]["messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["assistant", "user", "assistant"], "the newest three, oldest first");
    assert_eq!(h.body["data"]["messages"][1]["content"], "저녁에 걸어도 되나요?");
    let latest = app.call(&u, Method::GET, "/api/intelligence/chat/history", None).await;
    assert_eq!(latest.body["data"]["sessionId"], session.as_str());

    // Another user sending the same id has a session of their own: they neither read nor continue
    // this one, and had none before.
    let other = app.user("other@example.com", &["AI_OVERSEAS_TRANSFER"]).await;
    let none = app.call(&other, Method::GET, "/api/intelligence/chat/history", None).await;
    assert_eq!(
        (none.status, none.body["code"].clone()),
        (StatusCode::NOT_FOUND, json!("CHAT_SESSION_NOT_FOUND"))
    );
    let h = app
        .call(&other, Method::GET, &format!("/api/intelligence/chat/history?sessionId={session}"), None)
        .await;
    assert_eq!(h.status, StatusCode::OK, "{}", h.text);
    assert_eq!(
        (h.body["data"]["totalMessageCount"].clone(), h.body["data"]["messages"].clone()),
        (json!(0), json!([]))
    );
    let c = app.chat(&other, json!({"message": "안녕하세요", "sessionId": session})).await;
    assert_eq!(
        (c.status, c.body["data"]["sessionId"].clone()),
        (StatusCode::OK, json!(session)),
        "{}",
        c.text
    );
    let theirs = app
        .call(&other, Method::GET, &format!("/api/intelligence/chat/history?sessionId={session}"), None)
        .await;
    assert_eq!(theirs.body["data"]["totalMessageCount"], 2, "{}", theirs.text);
    assert_eq!(theirs.body["data"]["messages"][0]["content"], "안녕하세요");
    let mine =
        app.call(&u, Method::GET, &format!("/api/intelligence/chat/history?sessionId={session}"), None).await;
    assert_eq!(
        mine.body["data"]["totalMessageCount"], 4,
        "the other user's message went to their own session"
    );
    let sessions: i64 =
        sqlx::query_scalar("SELECT count(*) FROM intelligence.chat_sessions WHERE session_key = $1")
            .bind(&session)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(sessions, 2);
}

#[sqlx::test]
async fn the_app_names_its_sessions(pool: PgPool) {
    let fake = fake().await;
    let app = IntelApp::with_fake(pool, &fake, &[("CHAT_RATE_LIMIT_PER_MINUTE", "100")]);
    let u = app.user("named@example.com", &["AI_OVERSEAS_TRANSFER"]).await;
    let history = |id: &str| format!("/api/intelligence/chat/history?sessionId={}", urlencoding(id));

    // A name not used yet has an empty history, and its first message starts it.
    for id in ["conv-1", "대화 2026-12-07 저녁", "0192f0c4-7d3e-7a51-9c1e-1f0e8b7a6d5c", &"x".repeat(100)]
    {
        let before = app.call(&u, Method::GET, &history(id), None).await;
        assert_eq!(before.status, StatusCode::OK, "{id}: {}", before.text);
        assert_eq!(
            (before.body["data"]["sessionId"].as_str(), before.body["data"]["totalMessageCount"].as_i64()),
            (Some(id), Some(0))
        );
        let a = app.chat(&u, json!({"message": "물은 얼마나 마셔야 하나요?", "sessionId": id})).await;
        assert_eq!(
            (a.status, a.body["data"]["sessionId"].as_str()),
            (StatusCode::OK, Some(id)),
            "{}",
            a.text
        );
        let b = app.chat(&u, json!({"message": "운동 전에도요?", "sessionId": id})).await;
        assert_eq!(b.status, StatusCode::OK, "{}", b.text);
        let after = app.call(&u, Method::GET, &history(id), None).await;
        assert_eq!(after.body["data"]["totalMessageCount"], 4, "{id}: {}", after.text);
    }
    // The second message continued the first: Claude saw the earlier turns.
    let bodies = fake.received().await;
    assert_eq!(bodies[1]["messages"].as_array().unwrap().len(), 3, "{}", bodies[1]["messages"]);
    // Names are exact: another case or a longer name is another session.
    let other = app.call(&u, Method::GET, &history("CONV-1"), None).await;
    assert_eq!(other.body["data"]["totalMessageCount"], 0);

    // What is not a name is refused, naming the field, and nothing is stored.
    let stored = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM intelligence.chat_messages")
            .fetch_one(&app.pool)
            .await
            .unwrap()
    };
    let count = stored().await;
    for bad in [
        json!(""),
        json!("   "),
        json!(" conv"),
        json!("a\u{200B}b"),
        json!("a\nb"),
        json!("x".repeat(101)),
        json!(5),
    ] {
        let a = app.chat(&u, json!({"message": "안녕하세요", "sessionId": bad})).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {}", a.text);
        if bad.is_string() {
            assert_eq!(a.body["errors"][0]["field"], "sessionId", "{}", a.text);
        }
    }
    assert_eq!(stored().await, count);
    for bad in ["%20conv", "a%E2%80%8Bb", &"x".repeat(101)] {
        let h =
            app.call(&u, Method::GET, &format!("/api/intelligence/chat/history?sessionId={bad}"), None).await;
        assert_eq!(
            (h.status, h.body["errors"][0]["field"].clone()),
            (StatusCode::UNPROCESSABLE_ENTITY, json!("sessionId")),
            "{bad}: {}",
            h.text
        );
    }

    // Omitted, the server names a new session; that name works like any other.
    let fresh = app.chat(&u, json!({"message": "잠은 얼마나 자야 하나요?"})).await;
    let issued = fresh.body["data"]["sessionId"].as_str().unwrap().to_string();
    assert!(uuid::Uuid::parse_str(&issued).is_ok(), "{issued}");
    let again = app.chat(&u, json!({"message": "낮잠은요?", "sessionId": issued})).await;
    assert_eq!(again.body["data"]["sessionId"], issued.as_str());
    let h = app.call(&u, Method::GET, &history(&issued), None).await;
    assert_eq!(h.body["data"]["totalMessageCount"], 4);
    let latest = app.call(&u, Method::GET, "/api/intelligence/chat/history", None).await;
    assert_eq!(latest.body["data"]["sessionId"], issued.as_str());
}

/// Percent-encodes a query value (every byte that is not unreserved).
fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[sqlx::test]
async fn red_flags_are_answered_before_any_ai_call(pool: PgPool) {
    let fake = fake().await;
    let app = IntelApp::with_fake(pool, &fake, &[]);
    let u = app.user("flags@example.com", &["HEALTH_DATA", "AI_OVERSEAS_TRANSFER"]).await;
    let cases: [(&str, &str, &str); 5] = [
        ("갑자기 가슴이 너무 아프고 식은땀이 나요", "emergency", "119"),
        ("아버지가 말이 어눌해지고 한쪽 팔에 힘이 없어요", "emergency", "119"),
        ("요즘 죽고 싶다는 생각이 자꾸 들어요", "emergency", "109"),
        ("제 혈당이면 당뇨인가요? 진단해 주세요", "medical_boundary", "진료"),
        ("혈압약 처방 좀 해 주세요", "medical_boundary", "의료진"),
    ];
    for (message, kind, must) in cases {
        let a = app.chat(&u, json!({ "message": message })).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        assert_eq!(a.body["data"]["responseType"], kind, "{message}");
        assert!(
            a.body["data"]["response"].as_str().unwrap().contains(must),
            "{message}: {}",
            a.body["data"]["response"]
        );
        assert_eq!(a.body["data"]["suggestedQuestions"].as_array().unwrap().len(), 3);
    }
    // The context is checked too.
    let a = app.chat(&u, json!({"message": "이거 괜찮을까요?", "context": "숨 쉬기가 힘들어요"})).await;
    assert_eq!(a.body["data"]["responseType"], "emergency");
    assert!(fake.received().await.is_empty(), "a red-flag message reached Claude");
    assert!(app.ai_calls().await.iter().all(|e| e["outcome"] == "red_flag"));
}

#[sqlx::test]
async fn length_and_rate_limits(pool: PgPool) {
    let app = IntelApp::start(pool, &[("CHAT_RATE_LIMIT_PER_MINUTE", "3".to_string())]);
    let u = app.user("limits@example.com", &[]).await;
    let field = |a: &crate::support::Answer| -> Value { a.body["errors"][0]["field"].clone() };
    let long = app.chat(&u, json!({"message": "가".repeat(1001)})).await;
    assert_eq!((long.status, field(&long)), (StatusCode::UNPROCESSABLE_ENTITY, json!("message")));
    let blank = app.chat(&u, json!({"message": "  \n "})).await;
    assert_eq!(blank.status, StatusCode::UNPROCESSABLE_ENTITY);
    let hidden = app.chat(&u, json!({"message": "안녕\u{202e}하세요"})).await;
    assert_eq!(hidden.status, StatusCode::UNPROCESSABLE_ENTITY);
    let unknown = app.chat(&u, json!({"message": "안녕", "userId": "x"})).await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", unknown.text);
    let bad_limit = app.call(&u, Method::GET, "/api/intelligence/chat/history?messageLimit=101", None).await;
    assert_eq!(bad_limit.status, StatusCode::UNPROCESSABLE_ENTITY);
    for _ in 0..3 {
        let ok = app.chat(&u, json!({"message": "가".repeat(1000)})).await;
        assert_eq!(
            (ok.status, ok.body["data"]["engine"].clone()),
            (StatusCode::OK, json!("offline")),
            "{}",
            ok.text
        );
    }
    let limited = app.chat(&u, json!({"message": "하나 더"})).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers.contains_key("retry-after"));
}

/// The second layer: with the AI on, Claude's structured answer carries its own safety reading;
/// when it sees a red flag the rules missed, the guarded answer replaces its coaching.
#[sqlx::test]
async fn claudes_own_safety_reading_replaces_its_coaching_when_the_rules_missed_a_red_flag(pool: PgPool) {
    let fake = ClaudeFake::start().await;
    let app = IntelApp::with_fake(pool, &fake, &[]);
    let u = app.user("second-layer@example.com", &["AI_OVERSEAS_TRANSFER"]).await;
    // A message no rule reads as a red flag.
    let quiet = "오늘 저녁은 뭘 먹으면 좋을까요?";
    assert_eq!(healthsync::intelligence::safety::check(quiet), None);
    let coaching = |safety: &str| {
        Reply::Json(
            json!({"response": "코칭 답변입니다", "suggestedQuestions": ["하나?", "둘?", "셋?"], "safety": safety}),
        )
    };
    for (safety, response_type, must) in [
        ("crisis", "emergency", "109"),
        ("emergency", "emergency", "119"),
        ("medical", "medical_boundary", "진료"),
    ] {
        fake.then([coaching(safety)]);
        let a = app.chat(&u, json!({ "message": quiet })).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        let d = &a.body["data"];
        assert_eq!(d["responseType"], response_type, "{safety}: {d}");
        assert!(d["response"].as_str().unwrap().contains(must), "{safety}: {d}");
        assert!(!a.text.contains("코칭 답변입니다"), "the coaching Claude wrote is not shown");
    }
    fake.then([coaching("none")]);
    let a = app.chat(&u, json!({ "message": quiet })).await;
    assert_eq!(
        (a.body["data"]["responseType"].clone(), a.body["data"]["response"].clone()),
        (json!("coaching"), json!("코칭 답변입니다"))
    );
    // Every request asked for the reading.
    for b in fake.received().await {
        assert!(
            b["output_config"]["format"]["schema"]["required"].as_array().unwrap().contains(&json!("safety"))
        );
    }
    assert!(app.ai_calls().await.iter().any(|e| e["outcome"] == "red_flag_ai"));
}

/// Without the AI the offline coach answers: red flags still get the guard's answers, and a
/// distressed message it cannot place gets a check-in with the 109 line, never lifestyle tips.
#[sqlx::test]
async fn without_the_ai_distress_gets_a_check_in_and_red_flags_the_guard(pool: PgPool) {
    let app = IntelApp::offline(pool);
    let u = app.user("offline-distress@example.com", &[]).await;
    for (message, response_type, must) in [
        ("살기 싫어요", "emergency", "109"),
        ("수면제 한 통을 다 먹었어요", "emergency", "119"),
        ("요즘 너무 외롭고 힘들어요", "offline", "109"),
    ] {
        let a = app.chat(&u, json!({ "message": message })).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        let d = &a.body["data"];
        assert_eq!(d["responseType"], response_type, "{message}: {d}");
        let text = d["response"].as_str().unwrap();
        assert!(text.contains(must), "{message}: {text}");
        for tip in ["체중", "식사", "걷기", "운동"] {
            assert!(!text.contains(tip), "{message} got tips: {text}");
        }
    }
}

#[sqlx::test]
async fn emoji_are_welcome_in_chat_and_notes_and_hidden_characters_are_not(pool: PgPool) {
    let app = IntelApp::start(pool, &[]);
    let u = app.user("emoji@example.com", &[]).await;
    for ok in [
        "오늘도 화이팅 ❤\u{FE0F}",
        "가족 👨\u{200D}👩\u{200D}👧\u{200D}👦 과 산책",
        "1\u{FE0F}\u{20E3} 번 질문이요 🏳\u{FE0F}\u{200D}🌈",
    ] {
        let a = app.chat(&u, json!({"message": ok})).await;
        assert_eq!(a.status, StatusCode::OK, "{ok:?}: {}", a.text);
    }
    for bad in ["a\u{200D}b", "숨은\u{FE0F}선택자", "태그\u{E0041}문자", "안녕\u{0}"] {
        let a = app.chat(&u, json!({"message": bad})).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}: {}", a.text);
    }
    // Too long is said as too long, even when it also holds a forbidden character.
    let long = app.chat(&u, json!({"message": format!("{}\u{0}", "가".repeat(1000))})).await;
    assert!(long.body["errors"][0]["message"].as_str().unwrap().contains("1000자"), "{}", long.text);
    // The same rule for a completion's notes.
    let s = app
        .call(
            &u,
            Method::POST,
            "/api/goals/missions/select",
            Some(json!({"selectedMissionIds": ["water-8-cups"]})),
        )
        .await;
    assert_eq!(s.status, StatusCode::CREATED, "{}", s.text);
    let done = app
        .call(
            &u,
            Method::PUT,
            "/api/goals/missions/water-8-cups/complete",
            Some(json!({"notes": "물 다 마심 💧👍🏽 ❤\u{FE0F}"})),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
}
