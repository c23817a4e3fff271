//! The user domain through the router: onboarding, profile, consents, token refresh and logout,
//! protection of every route, and export and erasure leaving nothing behind.

use crate::support::{registration, request, spawn_with};
use axum::{
    Router,
    body::Body,
    http::{Method, Request, StatusCode},
};
use bytes::Bytes;
use healthsync::platform::{blob::BlobName, bus};
use serde_json::{Value, json};
use sqlx::PgPool;

const LOCAL: &[(&str, &str)] = &[("DEV_LOGIN_ENABLED", "true")];

#[sqlx::test]
async fn onboarding_moves_a_new_account_from_pending_to_active_once(pool: PgPool) {
    let app = spawn_with(pool.clone(), LOCAL);
    let s = app.sign_in("new@example.com").await;
    let p = app.call(&s, Method::GET, "/api/users/profile", None).await;
    assert_eq!(p.body["data"]["status"], "PENDING");
    let a = app.call(&s, Method::POST, "/api/users/register", Some(registration())).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(a.body["data"]["status"], "ACTIVE");
    assert_eq!(a.body["data"]["sex"], "FEMALE");
    assert!(a.body["data"]["age"].as_u64().unwrap() >= 38);
    let again = app.call(&s, Method::POST, "/api/users/register", Some(registration())).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.body["code"], "ALREADY_REGISTERED");
    let events: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events.outbox WHERE event_type = 'user.registered'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(events, 1);
}

#[sqlx::test]
async fn bad_registrations_name_every_failing_field_and_change_nothing(pool: PgPool) {
    let app = spawn_with(pool.clone(), LOCAL);
    let s = app.sign_in("bad@example.com").await;
    let cases = [
        (json!({"name": "", "birthDate": "1988-03-15", "sex": "FEMALE"}), vec!["name"]),
        (json!({"name": "가", "birthDate": "880315", "sex": "FEMALE"}), vec!["birthDate"]),
        (json!({"name": "가", "birthDate": "2020-01-01", "sex": "FEMALE"}), vec!["birthDate"]),
        (json!({"name": "가", "birthDate": "1988-03-15", "sex": "F"}), vec!["sex"]),
        (json!({"name": "가", "birthDate": "1988-03-15", "sex": "MALE", "heightCm": 400}), vec!["heightCm"]),
        (json!({"name": "", "birthDate": "x", "sex": "?"}), vec!["name", "birthDate", "sex"]),
        (json!({"name": "\u{200B}\u{200D}", "birthDate": "1988-03-15", "sex": "MALE"}), vec!["name"]),
        (json!({"name": "\u{3164}", "birthDate": "1988-03-15", "sex": "MALE"}), vec!["name"]),
        (json!({"name": "김\u{202E}건강", "birthDate": "1988-03-15", "sex": "MALE"}), vec!["name"]),
        (json!({"name": "김\u{2029}건강", "birthDate": "1988-03-15", "sex": "MALE"}), vec!["name"]),
        (json!({"name": "가", "birthDate": "+001988-03-15", "sex": "MALE"}), vec!["birthDate"]),
        (json!({"name": "가", "birthDate": "1988-3-5", "sex": "MALE"}), vec!["birthDate"]),
        (json!({"name": 5, "birthDate": "1988-03-15", "sex": "MALE"}), vec!["name"]),
        (json!(["not", "an", "object"]), vec!["body"]),
    ];
    for (body, fields) in cases {
        let a = app.call(&s, Method::POST, "/api/users/register", Some(body.clone())).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", a.text);
        let got: Vec<&str> =
            a.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(got, fields, "{body}");
    }
    let missing = app.call(&s, Method::POST, "/api/users/register", Some(json!({"name": "가"}))).await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    let status: String = sqlx::query_scalar("SELECT status FROM users.users").fetch_one(&pool).await.unwrap();
    assert_eq!(status, "PENDING");
}

#[sqlx::test]
async fn the_profile_is_corrected_field_by_field(pool: PgPool) {
    let app = spawn_with(pool, LOCAL);
    let s = app.sign_in_and_register("p@example.com").await;
    let a = app
        .call(&s, Method::PATCH, "/api/users/profile", Some(json!({"name": "김수정", "occupation": null})))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["data"]["name"], "김수정");
    assert_eq!(a.body["data"]["occupation"], Value::Null);
    assert_eq!(a.body["data"]["heightCm"], json!(162.5));
    let bad =
        app.call(&s, Method::PATCH, "/api/users/profile", Some(json!({"name": "x", "heightCm": 10}))).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let p = app.call(&s, Method::GET, "/api/users/profile", None).await;
    assert_eq!(p.body["data"]["name"], "김수정", "a failed patch changes nothing");
}

#[sqlx::test]
async fn consents_are_versioned_records_and_other_domains_can_check_them(pool: PgPool) {
    let app = spawn_with(pool.clone(), LOCAL);
    let s = app.sign_in_and_register("c@example.com").await;
    let id = uuid::Uuid::parse_str(&s.id).unwrap();
    let a = app.call(&s, Method::GET, "/api/users/me/consents", None).await;
    assert_eq!(a.body["data"].as_array().unwrap().len(), 3);
    assert!(a.body["data"].as_array().unwrap().iter().all(|c| c["granted"] == false));

    let grant = json!({"consents": [{"type": "HEALTH_DATA", "granted": true, "version": "2026-11"},
                                    {"type": "AI_OVERSEAS_TRANSFER", "granted": true, "version": "2026-11"}]});
    let a = app.call(&s, Method::PUT, "/api/users/me/consents", Some(grant)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    use healthsync::users::api::{ConsentKind, has_consent};
    assert!(has_consent(&app.platform.db, id, ConsentKind::HealthData).await.unwrap());
    assert!(has_consent(&app.platform.db, id, ConsentKind::AiOverseasTransfer).await.unwrap());
    assert!(!has_consent(&app.platform.db, id, ConsentKind::NightPromotional).await.unwrap());

    let stale = json!({"consents": [{"type": "HEALTH_DATA", "granted": true, "version": "2020-01"}]});
    let a = app.call(&s, Method::PUT, "/api/users/me/consents", Some(stale)).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(a.body["errors"][0]["field"], "consents[0].version");
    let unknown = json!({"consents": [{"type": "MARKETING", "granted": true, "version": "2026-11"}]});
    assert_eq!(app.call(&s, Method::PUT, "/api/users/me/consents", Some(unknown)).await.status, 422);

    let withdraw =
        json!({"consents": [{"type": "AI_OVERSEAS_TRANSFER", "granted": false, "version": "2026-11"}]});
    app.call(&s, Method::PUT, "/api/users/me/consents", Some(withdraw)).await;
    assert!(!has_consent(&app.platform.db, id, ConsentKind::AiOverseasTransfer).await.unwrap());
    let history: i64 =
        sqlx::query_scalar("SELECT count(*) FROM users.consents").fetch_one(&pool).await.unwrap();
    assert_eq!(history, 3, "every answer is kept as a record");
}

#[sqlx::test]
async fn a_refresh_token_works_once_and_its_reuse_revokes_the_whole_family(pool: PgPool) {
    let app = spawn_with(pool.clone(), LOCAL);
    let s = app.sign_in("r@example.com").await;
    let first =
        app.call(None, Method::POST, "/api/auth/refresh", Some(json!({"refreshToken": s.refresh()}))).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let rotated = first.body["data"]["refreshToken"].as_str().unwrap().to_string();
    assert_ne!(rotated, s.refresh());
    assert_eq!(first.body["data"]["userId"], json!(s.id));
    let access = first.body["data"]["accessToken"].as_str().unwrap();
    assert_eq!(app.call(access, Method::GET, "/api/users/profile", None).await.status, StatusCode::OK);

    // The old token comes back long after its rotation (stolen, or replayed): refused, and the
    // whole family is revoked.
    sqlx::query("UPDATE users.refresh_tokens SET replaced_at = now() - interval '5 minutes' WHERE replaced_at IS NOT NULL")
        .execute(&pool)
        .await
        .unwrap();
    let reuse =
        app.call(None, Method::POST, "/api/auth/refresh", Some(json!({"refreshToken": s.refresh()}))).await;
    assert_eq!(reuse.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reuse.body["code"], "REFRESH_TOKEN_REUSED");
    let after =
        app.call(None, Method::POST, "/api/auth/refresh", Some(json!({"refreshToken": rotated}))).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED, "the rotated token died with its family");

    let garbage =
        app.call(None, Method::POST, "/api/auth/refresh", Some(json!({"refreshToken": "nope"}))).await;
    assert_eq!(garbage.status, StatusCode::UNAUTHORIZED);
    assert_eq!(garbage.body["code"], "INVALID_REFRESH_TOKEN");
}

#[sqlx::test]
async fn a_refresh_retried_at_once_is_refused_without_logging_the_user_out(pool: PgPool) {
    let app = spawn_with(pool, LOCAL);
    let s = app.sign_in("retry@example.com").await;
    let first =
        app.call(None, Method::POST, "/api/auth/refresh", Some(json!({"refreshToken": s.refresh()}))).await;
    assert_eq!(first.status, StatusCode::OK);
    let rotated = first.body["data"]["refreshToken"].as_str().unwrap().to_string();
    // The client lost the answer and retries with the same token moments later.
    let retry =
        app.call(None, Method::POST, "/api/auth/refresh", Some(json!({"refreshToken": s.refresh()}))).await;
    assert_eq!(retry.status, StatusCode::UNAUTHORIZED);
    assert_eq!(retry.body["code"], "INVALID_REFRESH_TOKEN");
    let next =
        app.call(None, Method::POST, "/api/auth/refresh", Some(json!({"refreshToken": rotated}))).await;
    assert_eq!(next.status, StatusCode::OK, "the family survives a quick retry");
}

#[sqlx::test]
async fn refreshes_are_limited_per_account_across_all_of_its_tokens(pool: PgPool) {
    let app = spawn_with(pool, &[("DEV_LOGIN_ENABLED", "true"), ("AUTH_RATE_LIMIT_PER_MINUTE", "3")]);
    let mut token = app.sign_in("busy@example.com").await.refresh();
    for n in 0..3 {
        let req = Request::post("/api/auth/refresh")
            .header("content-type", "application/json")
            .header("x-forwarded-for", format!("192.0.2.{n}"))
            .body(Body::from(json!({"refreshToken": token}).to_string()))
            .unwrap();
        let a = app.send(req).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        token = a.body["data"]["refreshToken"].as_str().unwrap().to_string();
    }
    let req = Request::post("/api/auth/refresh")
        .header("content-type", "application/json")
        .header("x-forwarded-for", "192.0.2.99")
        .body(Body::from(json!({"refreshToken": token}).to_string()))
        .unwrap();
    let a = app.send(req).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS, "{}", a.text);
    assert!(a.headers.contains_key("retry-after"));
}

#[sqlx::test]
async fn logout_revokes_the_refresh_token_and_answers_the_same_for_unknown_ones(pool: PgPool) {
    let app = spawn_with(pool, LOCAL);
    let s = app.sign_in("l@example.com").await;
    let other = app.sign_in("l@example.com").await;
    let a =
        app.call(None, Method::POST, "/api/auth/logout", Some(json!({"refreshToken": s.refresh()}))).await;
    assert_eq!(a.status, StatusCode::OK);
    let r =
        app.call(None, Method::POST, "/api/auth/refresh", Some(json!({"refreshToken": s.refresh()}))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Another session of the same user (another device) is untouched.
    let r = app
        .call(None, Method::POST, "/api/auth/refresh", Some(json!({"refreshToken": other.refresh()})))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let unknown =
        app.call(None, Method::POST, "/api/auth/logout", Some(json!({"refreshToken": "unknown"}))).await;
    assert_eq!(unknown.status, StatusCode::OK);
}

/// Logging out ends the session's access tokens too, at once, even while the process remembers
/// having verified them and the account check is cached; other sessions keep working, and so
/// does a refresh-token reuse's revocation.
#[sqlx::test]
async fn logout_ends_the_sessions_access_tokens_at_once_and_only_that_sessions(pool: PgPool) {
    let app = spawn_with(pool.clone(), LOCAL);
    let s = app.sign_in_and_register("logout-access@example.com").await;
    let other = app.sign_in("logout-access@example.com").await;
    // Warm both caches: the verified token and the account check.
    for _ in 0..2 {
        let a = app.call(&s, Method::GET, "/api/users/profile", None).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    }
    let out =
        app.call(None, Method::POST, "/api/auth/logout", Some(json!({"refreshToken": s.refresh()}))).await;
    assert_eq!(out.status, StatusCode::OK);
    let a = app.call(&s, Method::GET, "/api/users/profile", None).await;
    assert_eq!(
        (a.status, a.body["code"].clone()),
        (StatusCode::UNAUTHORIZED, json!("SESSION_ENDED")),
        "{}",
        a.text
    );
    // Another device's session is untouched.
    let b = app.call(&other, Method::GET, "/api/users/profile", None).await;
    assert_eq!(b.status, StatusCode::OK, "{}", b.text);
    // A stolen refresh token presented again ends its session's access tokens as well.
    let r1 = app
        .call(None, Method::POST, "/api/auth/refresh", Some(json!({"refreshToken": other.refresh()})))
        .await;
    assert_eq!(r1.status, StatusCode::OK);
    let fresh = r1.body["data"]["accessToken"].as_str().unwrap().to_string();
    assert_eq!(app.call(&fresh, Method::GET, "/api/users/profile", None).await.status, StatusCode::OK);
    sqlx::query("UPDATE users.refresh_tokens SET replaced_at = now() - interval '5 minutes' WHERE replaced_at IS NOT NULL")
        .execute(&pool)
        .await
        .unwrap();
    let reuse = app
        .call(None, Method::POST, "/api/auth/refresh", Some(json!({"refreshToken": other.refresh()})))
        .await;
    assert_eq!(reuse.body["code"], "REFRESH_TOKEN_REUSED");
    for token in [&fresh, &other.token()] {
        let a = app.call(&token, Method::GET, "/api/users/profile", None).await;
        assert_eq!(a.body["code"], "SESSION_ENDED", "{}", a.text);
    }
    // Signing in again starts a session that works.
    let again = app.sign_in("logout-access@example.com").await;
    assert_eq!(app.call(&again, Method::GET, "/api/users/profile", None).await.status, StatusCode::OK);
}

#[sqlx::test]
async fn every_protected_route_refuses_a_missing_or_forged_token(pool: PgPool) {
    let app = spawn_with(pool, LOCAL);
    let routes = [
        (Method::POST, "/api/users/register"),
        (Method::GET, "/api/users/profile"),
        (Method::PATCH, "/api/users/profile"),
        (Method::GET, "/api/users/me/consents"),
        (Method::PUT, "/api/users/me/consents"),
        (Method::GET, "/api/users/me/export"),
        (Method::DELETE, "/api/users/me"),
    ];
    // Every /api/users route of the router is in the list above.
    let listed: std::collections::BTreeSet<&str> = routes.iter().map(|(_, p)| *p).collect();
    for path in &app.api_paths {
        if path.starts_with("/api/users") {
            assert!(listed.contains(path), "{path} is not checked for authentication");
        }
    }
    for (method, path) in routes {
        let a = app.call(None, method.clone(), path, Some(json!({}))).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{method} {path}");
        assert_eq!(a.body["code"], "UNAUTHENTICATED");
        let a = app.call("not.a.jwt", method.clone(), path, Some(json!({}))).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{method} {path}");
        assert_eq!(a.body["code"], "INVALID_TOKEN");
    }
}

#[sqlx::test]
async fn another_users_token_never_reaches_the_first_users_data(pool: PgPool) {
    let app = spawn_with(pool.clone(), LOCAL);
    let a = app.sign_in_and_register("a@example.com").await;
    let b = app.sign_in("b@example.com").await;
    // There is no parameter that names a user: B only ever sees B.
    let p = app.call(&b, Method::GET, &format!("/api/users/profile?userId={}", a.id), None).await;
    assert_eq!(p.body["data"]["userId"], json!(b.id));
    assert_eq!(p.body["data"]["name"], Value::Null);
    let e = app.call(&b, Method::GET, "/api/users/me/export", None).await;
    assert!(!e.text.contains("김건강") && !e.text.contains(&a.id), "{}", e.text);
    let patch = json!({"name": "탈취", "userId": a.id});
    app.call(&b, Method::PATCH, "/api/users/profile", Some(patch)).await;
    app.call(&b, Method::DELETE, "/api/users/me", None).await;
    let p = app.call(&a, Method::GET, "/api/users/profile", None).await;
    assert_eq!(p.status, StatusCode::OK);
    assert_eq!(p.body["data"]["name"], "김건강");
}

/// Rows anywhere in the app's schemas whose JSON form mentions `needle`.
async fn rows_mentioning(pool: &PgPool, needle: &str) -> Vec<String> {
    let tables: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_schema::text, table_name::text FROM information_schema.tables \
         WHERE table_schema IN ('users','health','goals','intelligence','motivator','events','ops') AND table_type = 'BASE TABLE'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut found = Vec::new();
    for (schema, table) in tables {
        let rows: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT row_to_json(t)::text FROM {schema}.{table} t WHERE row_to_json(t)::text LIKE $1"
        ))
        .bind(format!("%{needle}%"))
        .fetch_all(pool)
        .await
        .unwrap();
        found.extend(rows.into_iter().map(|r| format!("{schema}.{table}: {r}")));
    }
    found
}

#[sqlx::test]
async fn export_returns_everything_and_delete_leaves_nothing_in_any_table_or_container(pool: PgPool) {
    let app = spawn_with(pool.clone(), LOCAL);
    let s = app.sign_in_and_register("erase-me@example.com").await;
    let grant = json!({"consents": [{"type": "HEALTH_DATA", "granted": true, "version": "2026-11"}]});
    app.call(&s, Method::PUT, "/api/users/me/consents", Some(grant)).await;
    app.call(None, Method::POST, "/api/auth/refresh", Some(json!({"refreshToken": s.refresh()}))).await;
    let file = BlobName::parse(&format!("users/{}/checkups/2024.pdf", s.id)).unwrap();
    app.platform.blob.put(&file, Bytes::from_static(b"%PDF-1.7"), "application/pdf").await.unwrap();
    // A poison message about the user, too, recorded as a consumer records one off the wire.
    let body = json!({"userId": s.id});
    let poison = bus::DeadLetter {
        consumer: "X",
        message_id: "m",
        subject: None,
        reason: "r",
        body: Some(&body),
        delivery_count: 1,
        data_subjects: None,
    };
    bus::record_dead_letter(&mut pool.acquire().await.unwrap(), &poison).await.unwrap();

    let e = app.call(&s, Method::GET, "/api/users/me/export", None).await;
    assert_eq!(e.status, StatusCode::OK, "{}", e.text);
    let data = &e.body["data"];
    assert_eq!(data["userId"], json!(s.id));
    assert_eq!(data["data"]["users"]["account"]["name"], "김건강");
    assert_eq!(data["data"]["users"]["account"]["email"], "erase-me@example.com");
    assert_eq!(data["data"]["users"]["consentHistory"].as_array().unwrap().len(), 1);
    assert_eq!(data["data"]["users"]["sessions"].as_array().unwrap().len(), 2);
    assert_eq!(data["files"], json!([file.as_str()]));
    assert!(!rows_mentioning(&pool, &s.id).await.is_empty());

    let d = app.call(&s, Method::DELETE, "/api/users/me", None).await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);

    let left: Vec<String> = rows_mentioning(&pool, &s.id)
        .await
        .into_iter()
        .filter(|r| !(r.starts_with("events.outbox:") && r.contains("\"user.deleted\"")))
        .collect();
    assert!(left.is_empty(), "left behind: {left:#?}");
    assert!(rows_mentioning(&pool, "김건강").await.is_empty());
    assert!(rows_mentioning(&pool, "erase-me@example.com").await.is_empty());
    let deleted_events: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events.outbox WHERE event_type = 'user.deleted' AND payload->>'userId' = $1",
    )
    .bind(&s.id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(deleted_events, 1);
    assert!(app.platform.blob.list(&format!("users/{}/", s.id)).await.unwrap().is_empty());
    assert!(app.platform.blob.get(&file).await.unwrap().is_none());

    // The old tokens are worthless now, and signing in again makes a new, empty account.
    let p = app.call(&s, Method::GET, "/api/users/profile", None).await;
    assert_eq!(p.status, StatusCode::UNAUTHORIZED);
    let r =
        app.call(None, Method::POST, "/api/auth/refresh", Some(json!({"refreshToken": s.refresh()}))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let again = app.sign_in("erase-me@example.com").await;
    assert_ne!(again.id, s.id);
}

#[sqlx::test]
async fn the_files_eraser_consumer_removes_a_deleted_users_files_and_is_idempotent(pool: PgPool) {
    let app = spawn_with(pool.clone(), LOCAL);
    let user = uuid::Uuid::new_v4();
    let file = BlobName::parse(&format!("users/{user}/a.pdf")).unwrap();
    app.platform.blob.put(&file, Bytes::from_static(b"x"), "application/pdf").await.unwrap();
    let payload = json!({"Data": {"message": json!({"userId": user}).to_string()},
                         "Metadata": {"MessageId": "d-1", "DeliveryCount": 1, "Subject": "user.deleted"}});
    for _ in 0..2 {
        let a = app.call(None, Method::POST, "/UserFilesEraser", Some(payload.clone())).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    }
    assert!(app.platform.blob.get(&file).await.unwrap().is_none());
    let bad = json!({"Data": {"message": "{}"}, "Metadata": {"MessageId": "d-2"}});
    assert_eq!(app.call(None, Method::POST, "/UserFilesEraser", Some(bad)).await.status, StatusCode::OK);
    let dead: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events.dead_letters").fetch_one(&pool).await.unwrap();
    assert_eq!(dead, 1);
}

#[sqlx::test]
async fn a_deleted_user_is_refused_at_once_even_with_a_cached_status(pool: PgPool) {
    let app = spawn_with(pool, LOCAL);
    let s = app.sign_in_and_register("gone@example.com").await;
    // Warm the status cache, then delete.
    app.call(&s, Method::GET, "/api/users/profile", None).await;
    app.call(&s, Method::DELETE, "/api/users/me", None).await;
    let a = app.call(&s, Method::GET, "/api/users/me/consents", None).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.body["code"], "ACCOUNT_NOT_FOUND");
}

#[sqlx::test]
async fn a_stored_status_the_code_does_not_know_is_an_error_not_a_pending_account(pool: PgPool) {
    let app = spawn_with(pool.clone(), LOCAL);
    let s = app.sign_in("suspended@example.com").await;
    // A later migration admits a status this build does not know (as one adding SUSPENDED would).
    sqlx::query("ALTER TABLE users.users DROP CONSTRAINT users_status_check").execute(&pool).await.unwrap();
    sqlx::query("UPDATE users.users SET status = 'SUSPENDED' WHERE id = $1::uuid")
        .bind(&s.id)
        .execute(&pool)
        .await
        .unwrap();
    // Read as PENDING, the account could finish onboarding and be shown as PENDING: it is refused.
    let p = app.call(&s, Method::GET, "/api/users/profile", None).await;
    assert_eq!(p.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", p.text);
    assert_eq!(p.body["code"], "INTERNAL_ERROR");
    let r = app.call(&s, Method::POST, "/api/users/register", Some(registration())).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", r.text);
    let status: String = sqlx::query_scalar("SELECT status FROM users.users WHERE id = $1::uuid")
        .bind(&s.id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "SUSPENDED", "nothing changed the account");
}

#[sqlx::test]
async fn routes_that_need_a_finished_onboarding_refuse_a_pending_account_with_403(pool: PgPool) {
    use healthsync::users::api::ActiveUser;
    let app = spawn_with(pool, LOCAL);
    // A route as later domains write them: it takes `ActiveUser`.
    let guarded = Router::new()
        .route("/guarded", axum::routing::get(|ActiveUser(u): ActiveUser| async move { u.id.to_string() }))
        .with_state(app.wired.verifier.clone());
    let s = app.sign_in("pending@example.com").await;
    let a = request(&guarded, &s, Method::GET, "/guarded", None).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.text);
    assert_eq!(a.body["code"], "ONBOARDING_REQUIRED");
    let r = app.call(&s, Method::POST, "/api/users/register", Some(registration())).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let a = request(&guarded, &s, Method::GET, "/guarded", None).await;
    assert_eq!(a.status, StatusCode::OK, "registration clears the cached PENDING status at once");
    assert_eq!(a.text, s.id);
}

#[sqlx::test]
async fn a_consent_answer_racing_the_accounts_erasure_is_a_401_not_a_500(pool: PgPool) {
    let app = spawn_with(pool.clone(), LOCAL);
    let s = app.sign_in_and_register("race@example.com").await;
    // The account's status is cached, as after any request; then an erasure commits in between.
    let before = app.call(&s, Method::GET, "/api/users/me/consents", None).await;
    assert_eq!(before.status, StatusCode::OK);
    sqlx::query("DELETE FROM users.users WHERE id = $1::uuid").bind(&s.id).execute(&pool).await.unwrap();
    let body = json!({"consents": [{"type": "HEALTH_DATA", "granted": true, "version": "2026-11"}]});
    let a = app.call(&s, Method::PUT, "/api/users/me/consents", Some(body)).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.text);
    assert_eq!(a.body["code"], "ACCOUNT_NOT_FOUND");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM users.consents").fetch_one(&pool).await.unwrap();
    assert_eq!(rows, 0);
}

#[sqlx::test]
async fn of_three_concurrent_erasures_one_wins_and_one_user_deleted_is_announced(pool: PgPool) {
    let app = spawn_with(pool.clone(), LOCAL);
    let s = app.sign_in_and_register("thrice@example.com").await;
    let answers =
        futures::future::join_all((0..3).map(|_| app.call(&s, Method::DELETE, "/api/users/me", None))).await;
    let mut statuses: Vec<u16> = answers.iter().map(|a| a.status.as_u16()).collect();
    statuses.sort();
    assert_eq!(statuses, [200, 401, 401], "{:?}", answers.iter().map(|a| &a.text).collect::<Vec<_>>());
    for a in answers.iter().filter(|a| a.status == StatusCode::UNAUTHORIZED) {
        assert_eq!(a.body["code"], "ACCOUNT_NOT_FOUND");
    }
    let deleted: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events.outbox WHERE event_type = 'user.deleted'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(deleted, 1);
}

#[sqlx::test]
async fn the_document_names_the_consent_versions_in_force(pool: PgPool) {
    use healthsync::users::api::ConsentKind;
    let app = spawn_with(pool, LOCAL);
    let doc = app.call(None, Method::GET, "/api/openapi.json", None).await.body;
    let pattern = doc["components"]["schemas"]["ConsentAnswer"]["properties"]["version"]["pattern"]
        .as_str()
        .expect("ConsentAnswer.version has a pattern")
        .to_string();
    for kind in ConsentKind::ALL {
        assert_eq!(pattern, format!("^{}$", kind.current_version()), "{kind:?}");
    }
    // And the text rules are expanded, never left as placeholders.
    assert!(!doc.to_string().contains("\"@text"), "a placeholder pattern reached the document");
    let name = &doc["components"]["schemas"]["RegisterRequest"]["properties"]["name"]["pattern"];
    assert_eq!(name.as_str(), healthsync::http::text::pattern("@text").as_deref());
}

/// A new instance pays a connection (with TLS in Azure) on its first request; the account check
/// that runs before the handler must hand its connection back in time for the handler's query,
/// or the first request opens two.
#[sqlx::test]
async fn the_first_authenticated_request_of_a_new_instance_opens_one_database_connection(pool: PgPool) {
    const KEYS: (&str, &str) = ("AUTH_SIGNING_KEYS", "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY");
    let first = spawn_with(pool.clone(), &[LOCAL[0], KEYS]);
    let s = first.sign_in("first-request@example.com").await;
    let reg = json!({ "name": "김첫요청", "birthDate": "1988-03-04", "sex": "FEMALE" });
    assert_eq!(
        first.call(&s, Method::POST, "/api/users/register", Some(reg)).await.status,
        StatusCode::CREATED
    );

    // A second instance on the same database: its pool is lazy and empty.
    let opts = pool.connect_options();
    let url = format!(
        "postgres://{}@{}:{}/{}",
        opts.get_username(),
        opts.get_host(),
        opts.get_port(),
        opts.get_database().expect("the test database")
    );
    let settings = crate::support::settings(&[("DATABASE_URL", url.as_str()), KEYS]);
    let fresh = healthsync::app::App::from_source(std::sync::Arc::new(settings)).expect("a new instance");
    assert_eq!(fresh.platform.db.size(), 0);
    let a = request(&fresh.router, &s, Method::GET, "/api/users/profile", None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(fresh.platform.db.size(), 1, "the account check and the handler share one connection");
}
