//! What a probe of the running app found, as regressions: dot-segment paths and invocation routes
//! reached from the public port, nested bridge invocations, oversized invocations, a client's own
//! X-Forwarded-For, and the front's refusals in the API's error shape.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    dev_host::{DevHost, NEVER},
    handler::{Handler, invocation_id, service_bus_invocation},
    process::{TestDb, peak_rss_kib, raw_request},
};

fn port_of(base: &str) -> u16 {
    base.rsplit(':').next().unwrap().parse().unwrap()
}

fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut r = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    r.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    r.into_bytes()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_public_port_never_reaches_an_invocation_route_by_any_path() {
    let db = TestDb::create().await;
    let dev = DevHost::start(&db, NEVER).await;
    let pool = db.pool().await;
    let port = port_of(&dev.base);
    let status = dev.status().await.unwrap();
    let functions: Vec<String> =
        status["functions"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_string()).collect();
    assert!(functions.contains(&"UserFilesEraser".to_string()), "{functions:?}");
    let body = json!({"Data": {"message": json!({"userId": uuid::Uuid::new_v4()}).to_string()},
                      "Metadata": {"MessageId": "m-x"}})
    .to_string();
    for function in &functions {
        for path in [
            format!("/{function}"),
            format!("/api/users/../../{function}"),
            format!("/api/users/%2e%2e/%2e%2e/{function}"),
            format!("/api/users/%2E%2E/%2e%2E/{function}"),
            format!("/api/system/..%2f..%2f{function}"),
            format!("/api/system/%2e%2e%5c%2e%2e%5c{function}"),
            format!("/api//../{function}"),
        ] {
            let (status, answer) =
                raw_request(port, &request("POST", &path, &[("Content-Type", "application/json")], &body))
                    .await;
            assert!(status == 400 || status == 404, "{path}: {status} {answer}");
            let shape: Value = serde_json::from_str(&answer).unwrap_or(Value::Null);
            assert_eq!(shape["success"], false, "{path}: the API's error shape: {answer}");
        }
    }
    let dead: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events.dead_letters").fetch_one(&pool).await.unwrap();
    assert_eq!(dead, 0, "no consumer ran");
    // The API itself is still reachable, and a path with an encoded id is forwarded as it is.
    let (status, _) = raw_request(port, &request("GET", "/api/system/live", &[], "")).await;
    assert_eq!(status, 200);
    let (status, answer) =
        raw_request(port, &request("GET", "/api/system/heartbeats/not%20a%20uuid", &[], "")).await;
    assert_eq!(status, 400, "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_front_answers_like_the_platform_in_the_apis_error_shape() {
    let db = TestDb::create().await;
    let dev = DevHost::start_with(
        &db,
        NEVER,
        &[("DEV_LOGIN_ENABLED", "true"), ("AUTH_RATE_LIMIT_PER_MINUTE", "3")],
    )
    .await;
    let c = &dev.client;
    // 404 and 405 (with Allow) in the error shape; HEAD is GET without a body; OPTIONS is refused.
    let res = c.get(dev.url("/api/nothing/here")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "NOT_FOUND");
    let res = c.delete(dev.url("/api/openapi.json")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.headers()["allow"], "GET,HEAD", "as the handler writes it");
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "METHOD_NOT_ALLOWED");
    let res = c.request(Method::OPTIONS, dev.url("/api/system/live")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(res.headers()["allow"].to_str().unwrap().contains("GET"));
    let res = c.head(dev.url("/api/system/live")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.bytes().await.unwrap().is_empty());
    // Only timers run by hand.
    let res = c.post(dev.url("/admin/functions/HeartbeatTally")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "NOT_A_TIMER");
    let res = c.post(dev.url("/admin/functions/UserFilesEraser")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        c.post(dev.url("/admin/functions/HeartbeatTimer")).send().await.unwrap().status(),
        StatusCode::ACCEPTED
    );
    // A client cannot reset its own rate limit by sending another X-Forwarded-For each time: the
    // front appends the address it sees, and that is what the app reads.
    let mut statuses = Vec::new();
    for i in 0..4 {
        let res = c
            .post(dev.url("/api/auth/dev-login"))
            .header("x-forwarded-for", format!("198.51.100.{i}"))
            .json(&json!({"email": format!("xff{i}@example.com")}))
            .send()
            .await
            .unwrap();
        statuses.push(res.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 429]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invocation_route_refuses_what_came_through_a_front_and_stays_bounded() {
    let db = TestDb::create().await;
    db.migrate();
    let mut h = Handler::start(&db.url, &[]).await;
    let pool = db.pool().await;
    // A request that a front passed on (it carries X-Forwarded-For, or a client's Authorization)
    // reaching an invocation route, as when the host forwards `/api/users/%2e%2e/...` at its
    // resolved path: refused, nothing dead-lettered or applied.
    let message = service_bus_invocation("m-fwd", json!({"heartbeatId": "12345"}), 1);
    for (name, value) in
        [("X-Forwarded-For", "203.0.113.5"), ("Authorization", "Bearer x"), ("X-Original-URL", "/api/x")]
    {
        let req = h
            .client
            .post(format!("{}/HeartbeatTally", h.base))
            .header("X-Azure-Functions-InvocationId", invocation_id())
            .header(name, value)
            .json(&message);
        let answer = h.send(req).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{name}: {}", answer.text);
    }
    let dead: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events.dead_letters").fetch_one(&pool).await.unwrap();
    assert_eq!(dead, 0);
    // The host's own invocation still works.
    assert_eq!(h.invoke("HeartbeatTally", &message).await.status, StatusCode::OK);

    // Bridge invocations nested 40 deep (each body the next invocation, as a JSON object as older
    // hosts send it): one level is routed, the Url inside is not an /api path.
    let mut nested = json!({"Data": {}, "Metadata": {}});
    for _ in 0..40 {
        nested = json!({"Data": {"req": {"Url": "/System", "Method": "POST",
            "Headers": {"Content-Type": ["application/json"]}, "Body": nested}}, "Metadata": {}});
    }
    assert!(nested.to_string().len() < 10_000);
    let answer = h.invoke("System", &nested).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.body["Outputs"]["res"]["statusCode"], 404);
    h.assert_alive().await;

    // Invocations larger than the host can send for their trigger are refused unread, and the
    // handler's memory stays where it was.
    let before = peak_rss_kib(h.proc.pid());
    let port = port_of(&h.base);
    for function in ["HeartbeatTally", "HeartbeatTimer", "System"] {
        // Announced: refused on its head, before any of the 20 MB is read.
        let head = format!(
            "POST /{function} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\n\
             X-Azure-Functions-InvocationId: {}\r\nContent-Length: {}\r\n\r\n{}",
            invocation_id(),
            20 << 20,
            " ".repeat(1024)
        );
        let (status, answer) = raw_request(port, head.as_bytes()).await;
        assert_eq!(status, 413, "{function}: {answer}");
    }
    // Streamed without a length: read up to the trigger's limit, then refused (the handler may
    // close the connection while the rest is still on its way).
    let chunked = futures::stream::iter(
        (0..40).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b' '; 512 << 10]))),
    );
    let sent = h
        .client
        .post(format!("{}/HeartbeatTally", h.base))
        .header("X-Azure-Functions-InvocationId", invocation_id())
        .body(reqwest::Body::wrap_stream(chunked))
        .send()
        .await;
    match sent {
        Ok(res) => assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE),
        Err(err) => assert!(err.is_request() || err.is_body(), "{err}"),
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let after = peak_rss_kib(h.proc.pid());
    assert!(after < before + 16 * 1024, "peak RSS grew from {before} KiB to {after} KiB");
    h.assert_alive().await;
}
