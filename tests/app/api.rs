//! In-process tests of the HTTP conventions and the heartbeat flow: `oneshot` on the router,
//! a fresh database per test.

use crate::support::{app, app_with, call, send};
use axum::{
    body::Body,
    http::{Method, Request, StatusCode},
};
use serde_json::{Value, json};
use sqlx::PgPool;

fn assert_error_shape(body: &Value, status: u16, code: &str) {
    assert_eq!(body["success"], json!(false), "{body}");
    assert_eq!(body["status"], json!(status), "{body}");
    assert_eq!(body["code"], json!(code), "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    assert!(body["traceId"].as_str().is_some_and(|t| t.len() >= 8), "{body}");
}

#[sqlx::test]
async fn live_answers_in_the_envelope_the_client_reads(pool: PgPool) {
    let app = app(pool);
    let a = call(&app, Method::GET, "/api/system/live", None).await;
    assert_eq!(a.status, StatusCode::OK);
    for key in ["status", "message", "data", "timestamp", "traceId", "success"] {
        assert!(a.body.get(key).is_some(), "missing {key}: {}", a.body);
    }
    assert_eq!(a.body["success"], json!(true));
    assert_eq!(a.body["data"]["status"], json!("UP"));
    assert_eq!(a.headers["x-trace-id"].to_str().unwrap(), a.body["traceId"].as_str().unwrap());
}

#[sqlx::test]
async fn the_host_ping_at_the_root_is_answered(pool: PgPool) {
    let a = call(&app(pool), Method::GET, "/", None).await;
    assert_eq!(a.status, StatusCode::OK);
}

#[sqlx::test]
async fn the_trace_id_comes_from_the_invocation_id_or_traceparent(pool: PgPool) {
    let app = app(pool);
    let req = Request::get("/api/system/live")
        .header("X-Azure-Functions-InvocationId", "0f8fad5b-d9cb-469f-a165-70867728950e")
        .body(Body::empty())
        .unwrap();
    let a = send(&app, req).await;
    assert_eq!(a.body["traceId"], json!("0f8fad5b-d9cb-469f-a165-70867728950e"));
    let req = Request::get("/api/nowhere")
        .header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        .body(Body::empty())
        .unwrap();
    let a = send(&app, req).await;
    assert_eq!(a.body["traceId"], json!("4bf92f3577b34da6a3ce929d0e0e4736"));
}

#[sqlx::test]
async fn client_mistakes_get_their_status_and_one_error_shape(pool: PgPool) {
    let app = app(pool);
    let a = call(&app, Method::GET, "/api/does/not/exist", None).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_error_shape(&a.body, 404, "NOT_FOUND");

    let a = call(&app, Method::DELETE, "/api/system/live", None).await;
    assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_error_shape(&a.body, 405, "METHOD_NOT_ALLOWED");

    let a = call(&app, Method::GET, "/api/system/heartbeats/not-a-uuid", None).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_error_shape(&a.body, 400, "BAD_PATH");

    let a =
        call(&app, Method::GET, "/api/system/heartbeats/0190f5c2-0000-7000-8000-000000000000", None).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_error_shape(&a.body, 404, "NOT_FOUND");
}

#[sqlx::test]
async fn bodies_over_the_limit_are_refused_with_413_and_nothing_is_written(pool: PgPool) {
    let app = app_with(pool.clone(), &[("HTTP_BODY_LIMIT_BYTES", "1024")]);
    let big = json!({ "note": "x".repeat(4096) }).to_string();
    let req = Request::post("/api/system/heartbeats")
        .header("content-type", "application/json")
        .header("content-length", big.len())
        .body(Body::from(big))
        .unwrap();
    let a = send(&app, req).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", a.text);
    assert_error_shape(&a.body, 413, "PAYLOAD_TOO_LARGE");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM ops.heartbeats").fetch_one(&pool).await.unwrap();
    assert_eq!(rows, 0);
    let outbox: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events.outbox").fetch_one(&pool).await.unwrap();
    assert_eq!(outbox, 0);
}

#[sqlx::test]
async fn a_body_streamed_without_a_length_is_held_to_the_same_limit(pool: PgPool) {
    let app = app_with(pool.clone(), &[("HTTP_BODY_LIMIT_BYTES", "1024"), ("DEV_LOGIN_ENABLED", "true")]);
    let streamed = |chunks: usize| {
        let chunk = bytes::Bytes::from(vec![b' '; 512]);
        let stream = futures::stream::iter((0..chunks).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
        Body::from_stream(stream)
    };
    // A route that reads its body and one that does not: both refuse before anything happens.
    for uri in ["/api/auth/dev-login", "/api/system/heartbeats"] {
        let req = Request::post(uri).header("content-type", "application/json").body(streamed(8)).unwrap();
        assert!(req.headers().get("content-length").is_none());
        let a = send(&app, req).await;
        assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE, "{uri}: {}", a.text);
        assert_error_shape(&a.body, 413, "PAYLOAD_TOO_LARGE");
    }
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM ops.heartbeats").fetch_one(&pool).await.unwrap();
    assert_eq!(rows, 0);
    // Under the limit, a streamed body is read as usual.
    let small = futures::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from_static(
        b"{\"email\":\"s@example.com\"}",
    ))]);
    let req = Request::post("/api/auth/dev-login")
        .header("content-type", "application/json")
        .body(Body::from_stream(small))
        .unwrap();
    let a = send(&app, req).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
}

#[sqlx::test]
async fn a_heartbeat_and_its_event_are_written_in_one_transaction(pool: PgPool) {
    let app = app(pool.clone());
    let a = call(&app, Method::POST, "/api/system/heartbeats", None).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let id = a.body["data"]["id"].as_str().unwrap().to_string();
    assert_eq!(a.body["data"]["talliedCount"], json!(0));

    let (event_type, payload, correlation): (String, Value, Option<String>) = sqlx::query_as(
        "SELECT event_type, payload, correlation_id FROM events.outbox WHERE published_at IS NULL",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(event_type, "system.heartbeat");
    assert_eq!(payload["heartbeatId"], json!(id));
    assert_eq!(correlation.as_deref(), a.body["traceId"].as_str());

    let b = call(&app, Method::GET, &format!("/api/system/heartbeats/{id}"), None).await;
    assert_eq!(b.status, StatusCode::OK);
    assert_eq!(b.body["data"]["source"], json!("http"));
}

#[sqlx::test]
async fn a_database_outage_is_a_503_in_the_error_shape_not_a_500(pool: PgPool) {
    pool.close().await;
    let app = app(pool);
    let a = call(&app, Method::POST, "/api/system/heartbeats", None).await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE, "{}", a.text);
    assert_error_shape(&a.body, 503, "SERVICE_UNAVAILABLE");
    let r = call(&app, Method::GET, "/api/system/ready", None).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.body["data"]["checks"][0]["status"], json!("DOWN"));
}

#[sqlx::test]
async fn ready_checks_postgres_and_the_configured_redis(pool: PgPool) {
    let a = call(&app(pool.clone()), Method::GET, "/api/system/ready", None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let names: Vec<&str> =
        a.body["data"]["checks"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["postgres"]);

    // A Redis nobody listens on: ready says which dependency is down, within the timeout.
    let app = app_with(pool, &[("REDIS_URL", "redis://127.0.0.1:1"), ("READY_CHECK_TIMEOUT_MS", "300")]);
    let started = std::time::Instant::now();
    let a = call(&app, Method::GET, "/api/system/ready", None).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE);
    let redis =
        a.body["data"]["checks"].as_array().unwrap().iter().find(|c| c["name"] == "redis").cloned().unwrap();
    assert_eq!(redis["status"], json!("DOWN"));
}

#[sqlx::test]
async fn the_openapi_document_is_3_1_and_the_docs_page_renders(pool: PgPool) {
    let app = app(pool);
    let a = call(&app, Method::GET, "/api/openapi.json", None).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body["openapi"].as_str().unwrap().starts_with("3.1"), "{}", a.body["openapi"]);
    assert!(a.body["paths"]["/api/system/live"].is_object());
    let d = call(&app, Method::GET, "/api/docs", None).await;
    assert_eq!(d.status, StatusCode::OK);
    assert!(d.text.contains("<html") && d.text.contains("HealthSync API"));
    // The page's script is pinned to one version and its integrity hash; nothing else is loaded.
    let pinned = format!(
        "<script src=\"{}\" integrity=\"{}\" crossorigin=\"anonymous\">",
        healthsync::http::openapi::DOCS_SCRIPT,
        healthsync::http::openapi::DOCS_SCRIPT_INTEGRITY
    );
    assert!(d.text.contains(&pinned), "{}", &d.text[d.text.len().saturating_sub(400)..]);
    assert!(healthsync::http::openapi::DOCS_SCRIPT.contains("@1.76.0/"));
    assert_eq!(d.text.matches("<script").count(), 2, "the inline document and the pinned script");
    // The document inside the page cannot close its script element early.
    let inline =
        d.text.split("type=\"application/json\">").nth(1).unwrap().split("</script>").next().unwrap();
    let parsed: serde_json::Value = serde_json::from_str(inline).unwrap();
    assert_eq!(parsed["info"]["title"], "HealthSync API");
}

#[sqlx::test]
async fn personal_answers_are_never_stored_by_caches(pool: PgPool) {
    let app = app_with(pool, &[("DEV_LOGIN_ENABLED", "true")]);
    let login =
        call(&app, Method::POST, "/api/auth/dev-login", Some(serde_json::json!({"email": "c@example.com"})))
            .await;
    assert_eq!(login.headers["cache-control"], "no-store", "a token response (RFC 6749 §5.1)");
    let token = login.body["data"]["accessToken"].as_str().unwrap().to_string();
    let refresh = login.body["data"]["refreshToken"].as_str().unwrap().to_string();
    let refreshed =
        call(&app, Method::POST, "/api/auth/refresh", Some(serde_json::json!({"refreshToken": refresh})))
            .await;
    assert_eq!(refreshed.status, StatusCode::OK);
    assert_eq!(refreshed.headers["cache-control"], "no-store");
    for uri in ["/api/users/profile", "/api/users/me/export", "/api/users/me/consents"] {
        let req =
            Request::get(uri).header("authorization", format!("Bearer {token}")).body(Body::empty()).unwrap();
        let a = send(&app, req).await;
        assert_eq!(a.status, StatusCode::OK, "{uri}: {}", a.text);
        assert_eq!(a.headers["cache-control"], "no-store", "{uri}");
    }
    // Errors too: nothing of a failed request is kept either.
    let a = call(&app, Method::GET, "/api/users/profile", None).await;
    assert_eq!(a.headers["cache-control"], "no-store");
    // The public document may be cached briefly.
    let doc = call(&app, Method::GET, "/api/openapi.json", None).await;
    assert_eq!(doc.headers["cache-control"], "public, max-age=300");
}
