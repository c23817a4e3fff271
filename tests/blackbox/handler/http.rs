//! Forwarded HTTP and HTTP functions invoked through the protocol: the host's ping, the
//! invocation id as trace id, and the `res` output.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{
    Answer, Handler, assert_error, assert_invocation_shape, assert_trace, invocation_id, outbox_event,
};
use crate::process::TestDb;

#[tokio::test(flavor = "multi_thread")]
async fn the_host_ping_and_forwarded_http_are_answered_with_the_invocation_id_as_trace_id() {
    let db = TestDb::create().await;
    db.migrate();
    let h = Handler::start(&db.url, &[]).await;
    // The host gives up after 30 s; the handler connects lazily and starts in milliseconds.
    assert!(h.ready_in < Duration::from_secs(30), "ready in {:?}", h.ready_in);
    eprintln!("cold start: GET / answered {:?} after the process started", h.ready_in);
    let ping = h.client.get(format!("{}/", h.base)).send().await.unwrap();
    assert_eq!(ping.status(), StatusCode::OK);

    let id = invocation_id();
    let live = h.http(Method::GET, "/api/system/live", &id).await;
    assert_eq!(live.status, StatusCode::OK, "{}", live.text);
    assert_trace(&live, &id);
    assert_eq!(live.body["success"], true);
    assert_eq!(live.body["data"]["status"], "UP");

    let id = invocation_id();
    let created = h.http(Method::POST, "/api/system/heartbeats", &id).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_trace(&created, &id);
    let data = &created.body["data"];
    assert_eq!(created.body["success"], true);
    assert_eq!(data["source"], "http");
    assert_eq!(data["talliedCount"], 0);
    let hb = data["id"].as_str().expect("id").to_string();
    assert!(uuid::Uuid::parse_str(&hb).is_ok(), "{hb}");

    // The event was written with the heartbeat, correlated with the invocation that wrote it.
    let pool = db.pool().await;
    let (_, payload, correlation) = outbox_event(&pool, &hb).await;
    assert_eq!(payload["source"], "http");
    assert_eq!(correlation.as_deref(), Some(id.as_str()));

    let id = invocation_id();
    let one = h.http(Method::GET, &format!("/api/system/heartbeats/{hb}"), &id).await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.text);
    assert_trace(&one, &id);
    assert_eq!(one.body["data"]["id"], hb.as_str());
    assert_eq!(one.body["data"]["talliedCount"], 0);

    let summary = h.http(Method::GET, "/api/system/heartbeats", &invocation_id()).await;
    assert_eq!(summary.status, StatusCode::OK, "{}", summary.text);
    assert_eq!(
        summary.body["data"],
        json!([
            {"source": "http", "recorded": 1, "tallied": 0},
            {"source": "timer", "recorded": 0, "tallied": 0},
        ])
    );

    // Client mistakes: their status, a stable code, and the invocation id as trace id.
    let unknown = uuid::Uuid::now_v7();
    let cases = [
        (Method::GET, format!("/api/system/heartbeats/{unknown}"), StatusCode::NOT_FOUND, "NOT_FOUND"),
        (Method::GET, "/api/system/heartbeats/not-a-uuid".into(), StatusCode::BAD_REQUEST, "BAD_PATH"),
        (Method::GET, "/api/no/such/route".into(), StatusCode::NOT_FOUND, "NOT_FOUND"),
        (Method::DELETE, "/api/system/live".into(), StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED"),
    ];
    for (method, path, status, code) in cases {
        let id = invocation_id();
        let answer = h.http(method.clone(), &path, &id).await;
        assert_error(&answer, status, code, &id);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_http_function_invoked_through_the_protocol_answers_in_its_res_output() {
    let db = TestDb::create().await;
    db.migrate();
    let mut h = Handler::start(&db.url, &[]).await;

    let http_data = |method: &str, url: &str, query: Value, body: Value| {
        let headers = json!({
            "Accept": ["application/json"],
            "Content-Type": ["application/json; charset=utf-8"],
            "X-Many": ["1", "2"],
            "Host": ["localhost:7071"],
            "Content-Length": ["2"],
        });
        json!({
            "Data": { "req": {
                "Url": url, "Method": method, "Query": query, "Headers": headers,
                "Params": {"path": "heartbeats"}, "Identities": [], "Body": body,
            }},
            "Metadata": { "Query": query, "Headers": headers, "sys": {
                "MethodName": "System", "UtcNow": "2026-11-26T01:02:03Z",
                "RandGuid": uuid::Uuid::new_v4().to_string(),
            }}
        })
    };
    let res = |answer: &Answer| -> (u64, Value) {
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        assert_invocation_shape(answer);
        let res = &answer.body["Outputs"]["res"];
        let status = res["statusCode"].as_u64().unwrap_or_else(|| panic!("{}", answer.text));
        let body = res["body"].as_str().unwrap_or_else(|| panic!("{}", answer.text));
        (status, serde_json::from_str(body).unwrap_or(Value::Null))
    };

    // POST with the Query as an object and the method in lower case.
    let answer = h
        .invoke(
            "System",
            &http_data("post", "http://localhost:7071/api/system/heartbeats", json!({"a": "1"}), json!("{}")),
        )
        .await;
    let (status, body) = res(&answer);
    assert_eq!(status, 201, "{}", answer.text);
    assert_eq!(body["success"], true);
    assert_eq!(body["data"]["source"], "http");
    let hb = body["data"]["id"].as_str().expect("id").to_string();
    let headers = &answer.body["Outputs"]["res"]["headers"];
    assert!(headers["content-type"].as_str().is_some_and(|c| c.starts_with("application/json")), "{headers}");

    // GET with the Query as a string, as older hosts send it.
    let url = format!("http://localhost:7071/api/system/heartbeats/{hb}");
    let answer = h.invoke("System", &http_data("GET", &url, json!("?x=1&y=two"), Value::Null)).await;
    let (status, body) = res(&answer);
    assert_eq!(status, 200, "{}", answer.text);
    assert_eq!(body["data"]["id"], hb.as_str());
    assert_eq!(body["data"]["talliedCount"], 0);

    // A path only, with the Query as an object; and the whole req JSON-encoded once more.
    let mut data = http_data("GET", "/api/system/live", json!({"probe": "yes"}), Value::Null);
    data["Data"]["req"] = Value::String(data["Data"]["req"].to_string());
    let (status, body) = res(&h.invoke("System", &data).await);
    assert_eq!(status, 200);
    assert_eq!(body["data"]["status"], "UP");

    // Errors of the routed request come back in the output, in the error shape.
    let (status, body) = res(&h
        .invoke("System", &http_data("GET", "/api/system/heartbeats/nope", json!({}), Value::Null))
        .await);
    assert_eq!(status, 400);
    assert_eq!(body["code"], "BAD_PATH");
    let (status, body) =
        res(&h.invoke("System", &http_data("GET", "/api/unknown/thing", json!({}), Value::Null)).await);
    assert_eq!(status, 404);
    assert_eq!(body["success"], false);

    // An invocation without its `req` is answered, not failed.
    let (status, body) = res(&h.invoke("System", &json!({"Data": {}, "Metadata": {}})).await);
    assert_eq!(status, 400);
    assert_eq!(body["code"], "BAD_INVOCATION");
    h.assert_alive().await;
}

/// The invocation id ties an invocation's logs together (DESIGN.md §3), but an HTTP function
/// invoked through the protocol is routed as a new request inside the handler
/// (`host/invoke.rs`, `invoke_http`), which takes a fresh trace id: the client sees a `traceId`
/// that appears in no log line of the invocation.
#[tokio::test(flavor = "multi_thread")]
async fn an_http_function_invoked_through_the_protocol_reports_the_invocation_id_as_trace_id() {
    let db = TestDb::create().await;
    db.migrate();
    let h = Handler::start(&db.url, &[]).await;
    let payload = json!({
        "Data": { "req": {
            "Url": "http://localhost:7071/api/system/live", "Method": "GET", "Query": {},
            "Headers": { "Accept": ["application/json"] }, "Body": null,
        }},
        "Metadata": {}
    });
    let id = invocation_id();
    let answer = h.invoke_raw("System", &id, payload.to_string().into_bytes()).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_trace(&answer, &id);
    let res = &answer.body["Outputs"]["res"];
    assert_eq!(res["headers"]["x-trace-id"], id.as_str(), "{res}");
    let body: Value = serde_json::from_str(res["body"].as_str().unwrap_or_default()).unwrap_or_default();
    assert_eq!(body["traceId"], id.as_str(), "{res}");
}
