//! Data rights: chat sessions, messages and usage are exported and erased.

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use super::{ClaudeFake, IntelApp, Reply, chat_input};

#[sqlx::test]
async fn chats_and_usage_are_exported_and_erased(pool: PgPool) {
    let fake = ClaudeFake::start().await;
    fake.answer("response", Reply::Json(chat_input("답변")));
    let app = IntelApp::with_fake(pool.clone(), &fake, &[]);
    let u = app.user("rights@example.com", &["AI_OVERSEAS_TRANSFER"]).await;
    let keep = app.user("keep@example.com", &["AI_OVERSEAS_TRANSFER"]).await;
    for who in [&u, &keep] {
        // The same app-chosen session id from both: two sessions, each erased with its user only.
        let a = app.chat(who, json!({"message": "물은 얼마나 마셔야 하나요?", "sessionId": "water"})).await;
        assert_eq!(a.status, StatusCode::OK);
    }
    let e = app.call(&u, Method::GET, "/api/users/me/export", None).await;
    assert_eq!(e.status, StatusCode::OK, "{}", e.text);
    let part = &e.body["data"]["data"]["intelligence"];
    assert_eq!(part["chatSessions"][0]["messages"][0]["content"], "물은 얼마나 마셔야 하나요?", "{part}");
    assert_eq!(part["chatSessions"][0]["sessionId"], "water", "the id the app knows the session by");
    assert_eq!(part["chatSessions"].as_array().unwrap().len(), 1, "only the user's own session: {part}");
    assert!(part["aiUsage"][0]["inputTokens"].as_i64().unwrap() > 0, "{part}");
    // A hold of a call in flight (a crash can leave one until it expires) goes with the account.
    for who in [&u, &keep] {
        sqlx::query(
            "INSERT INTO intelligence.usage_reservations (id, user_id, day, tokens, expires_at) \
             VALUES (gen_random_uuid(), $1, DATE '2026-11-20', 100, now() + interval '1 minute')",
        )
        .bind(who.uuid())
        .execute(&pool)
        .await
        .unwrap();
    }
    let d = app.call(&u, Method::DELETE, "/api/users/me", None).await;
    assert!(d.status.is_success(), "{}", d.text);
    for table in ["chat_sessions", "chat_messages", "usage", "usage_reservations"] {
        let mine: i64 =
            sqlx::query_scalar(&format!("SELECT count(*) FROM intelligence.{table} WHERE user_id = $1"))
                .bind(u.uuid())
                .fetch_one(&pool)
                .await
                .unwrap();
        let theirs: i64 =
            sqlx::query_scalar(&format!("SELECT count(*) FROM intelligence.{table} WHERE user_id = $1"))
                .bind(keep.uuid())
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!((mine, theirs > 0), (0, true), "{table}");
    }
}
