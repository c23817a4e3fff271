//! Black-box tests of `healthsync serve`: the built binary on a private port with a fresh
//! database, spoken to exactly as the Azure Functions host speaks to a custom handler
//! (DESIGN.md §3): `GET /` until it answers, forwarded HTTP at `/api/...` with an invocation id,
//! and `POST /{FunctionName}` with `{"Data", "Metadata"}` in the host's payload shapes.

use std::{
    process::Command,
    time::{Duration, Instant},
};

use crate::process::{BIN, Proc, Startup, TestDb};
use reqwest::{Method, StatusCode, header::HeaderMap};
use serde_json::{Value, json};
use sqlx::PgPool;

/// The handler process and how to reach it.
pub(crate) struct Handler {
    pub(crate) proc: Proc,
    pub(crate) base: String,
    pub(crate) client: reqwest::Client,
    /// From process start to the first answer to `GET /`.
    ready_in: Duration,
    _dir: tempfile::TempDir,
}

pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Value,
    pub(crate) text: String,
}

pub(crate) fn invocation_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl Handler {
    /// Starts `healthsync serve` as the host does and waits for `GET /` to answer (30 s at most).
    pub(crate) async fn start(database_url: &str, extra: &[(&str, &str)]) -> Handler {
        let client = crate::process::client();
        for _ in 0..3 {
            let dir = tempfile::tempdir().expect("temp dir");
            let port = crate::process::free_port();
            let mut cmd = Command::new(BIN);
            cmd.arg("serve")
                .env_clear()
                .current_dir(dir.path())
                .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
                .env("DATABASE_URL", database_url)
                .env("BLOB_DIR", dir.path().join("blobs"))
                .env("RUST_LOG", "info,sqlx=warn");
            for (k, v) in extra {
                cmd.env(k, v);
            }
            let started = Instant::now();
            let mut proc = Proc::spawn("healthsync serve", cmd, dir.path().join("handler.log"));
            let base = format!("http://127.0.0.1:{port}");
            match crate::process::wait_until_answers(
                &mut proc,
                &client,
                &base,
                started,
                Duration::from_secs(30),
            )
            .await
            {
                Startup::Answered(ready_in) => {
                    return Handler { proc, base, client, ready_in, _dir: dir };
                }
                // Another process took the free port first: try another one.
                Startup::Exited(_) if proc.log_text().contains("binding 127.0.0.1") => continue,
                Startup::Exited(status) => {
                    panic!("the handler exited ({status}):\n{}", proc.log_tail(40))
                }
                Startup::TimedOut => {
                    panic!("the handler did not answer GET / within 30 s:\n{}", proc.log_tail(40))
                }
            }
        }
        panic!("could not start the handler on a free port in three attempts");
    }

    pub(crate) async fn send(&self, req: reqwest::RequestBuilder) -> Answer {
        let res = req.send().await.expect("the handler answers");
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.expect("reading the answer");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer { status, headers, body, text }
    }

    /// A forwarded HTTP request: original path, the host's invocation id header.
    async fn http(&self, method: Method, path: &str, invocation_id: &str) -> Answer {
        let req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("X-Azure-Functions-InvocationId", invocation_id);
        self.send(req).await
    }

    /// `POST /{function}` with a raw body, as the host invokes non-forwarded functions.
    pub(crate) async fn invoke_raw(&self, function: &str, invocation_id: &str, body: Vec<u8>) -> Answer {
        let req = self
            .client
            .post(format!("{}/{function}", self.base))
            .header("X-Azure-Functions-InvocationId", invocation_id)
            .header("Content-Type", "application/json")
            .body(body);
        self.send(req).await
    }

    pub(crate) async fn invoke(&self, function: &str, payload: &Value) -> Answer {
        let id = invocation_id();
        let answer = self.invoke_raw(function, &id, payload.to_string().into_bytes()).await;
        assert_trace(&answer, &id);
        answer
    }

    /// Whether the process is still running and answering the host's ping.
    pub(crate) async fn assert_alive(&mut self) {
        assert!(self.proc.exited().is_none(), "the handler exited:\n{}", self.proc.log_tail(40));
        let ping = self.client.get(format!("{}/", self.base)).send().await;
        assert!(ping.is_ok_and(|r| r.status().is_success()), "GET / no longer answers");
    }

    async fn heartbeat(&self, id: &str) -> Value {
        let answer = self.http(Method::GET, &format!("/api/system/heartbeats/{id}"), &invocation_id()).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        answer.body["data"].clone()
    }

    /// Records a heartbeat over forwarded HTTP and returns its id.
    async fn record_heartbeat(&self) -> String {
        let answer = self.http(Method::POST, "/api/system/heartbeats", &invocation_id()).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
        answer.body["data"]["id"].as_str().expect("heartbeat id").to_string()
    }
}

/// The response header `x-trace-id` and any JSON body's `traceId` are the invocation id.
fn assert_trace(answer: &Answer, invocation_id: &str) {
    let header = answer.headers.get("x-trace-id").and_then(|v| v.to_str().ok());
    assert_eq!(header, Some(invocation_id), "x-trace-id of {}", answer.text);
    if let Some(trace) = answer.body.get("traceId") {
        assert_eq!(trace, invocation_id, "traceId of {}", answer.text);
    }
}

/// The one error shape: `{success: false, status, code, message, traceId, timestamp}`.
fn assert_error(answer: &Answer, status: StatusCode, code: &str, invocation_id: &str) {
    assert_eq!(answer.status, status, "{}", answer.text);
    let b = &answer.body;
    assert_eq!(b["success"], false, "{}", answer.text);
    assert_eq!(b["status"], status.as_u16(), "{}", answer.text);
    assert_eq!(b["code"], code, "{}", answer.text);
    assert!(b["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", answer.text);
    assert!(b["timestamp"].is_string(), "{}", answer.text);
    assert_trace(answer, invocation_id);
}

/// The invocation answer's shape: `{"Outputs": {}, "Logs": [], "ReturnValue": ...}`.
fn assert_invocation_shape(answer: &Answer) {
    assert!(answer.body["Outputs"].is_object(), "{}", answer.text);
    assert!(answer.body["Logs"].is_array(), "{}", answer.text);
    assert!(answer.body.as_object().is_some_and(|o| o.contains_key("ReturnValue")), "{}", answer.text);
}

/// A JSON string holding `s` JSON-encoded once more, as the host sends strings: `"\"abc\""`.
fn enc(s: &str) -> Value {
    Value::String(Value::String(s.to_string()).to_string())
}

/// What the host's Service Bus trigger sends for one message (`cardinality: one`), with its
/// quirks: strings encoded twice, numbers as strings, properties as a JSON string.
pub(crate) fn service_bus_invocation(message_id: &str, body: Value, delivery_count: u32) -> Value {
    json!({
        "Data": { "message": body },
        "Metadata": {
            "MessageId": enc(message_id),
            "DeliveryCount": delivery_count.to_string(),
            "SequenceNumber": "17",
            "EnqueuedTimeUtc": "2026-11-26T01:02:03.456",
            "ExpiresAtUtc": "9999-12-31T23:59:59.9999999",
            "Subject": enc("system.heartbeat"),
            "Label": enc("system.heartbeat"),
            "ContentType": enc("application/json"),
            "CorrelationId": enc("c0ffee00c0ffee00c0ffee00c0ffee00"),
            "UserProperties": "{\"eventType\":\"system.heartbeat\",\"attempt\":1}",
            "ApplicationProperties": "{\"eventType\":\"system.heartbeat\",\"attempt\":1}",
            "SessionId": null,
            "MessageActions": {},
            "Client": { "FullyQualifiedNamespace": "\"sb-healthsync.servicebus.windows.net\"" },
            "sys": {
                "MethodName": "HeartbeatTally",
                "UtcNow": "2026-11-26T01:02:04.000Z",
                "RandGuid": uuid::Uuid::new_v4().to_string(),
            },
        }
    })
}

/// The outbox event announcing a heartbeat: its id (the message id downstream) and payload.
async fn outbox_event(pool: &PgPool, heartbeat_id: &str) -> (String, Value, Option<String>) {
    let row: (uuid::Uuid, String, Value, Option<String>) = sqlx::query_as(
        "SELECT id, event_type, payload, correlation_id FROM events.outbox \
         WHERE payload->>'heartbeatId' = $1",
    )
    .bind(heartbeat_id)
    .fetch_one(pool)
    .await
    .expect("the heartbeat's outbox event");
    assert_eq!(row.1, "system.heartbeat");
    (row.0.to_string(), row.2, row.3)
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn tally_total(pool: &PgPool, source: &str) -> i64 {
    sqlx::query_scalar("SELECT total FROM ops.heartbeat_tallies WHERE source = $1")
        .bind(source)
        .fetch_optional(pool)
        .await
        .expect("reading the tallies")
        .unwrap_or(0)
}

fn outcomes(answer: &Answer) -> Vec<String> {
    answer.body["ReturnValue"]["outcomes"]
        .as_array()
        .unwrap_or_else(|| panic!("no outcomes in {}", answer.text))
        .iter()
        .map(|o| o.as_str().unwrap_or_default().to_string())
        .collect()
}

/// Backends connected to `db` (counted from another database, so the count is the handler's).
async fn backends_on(db: &str) -> i64 {
    let mut conn =
        <sqlx::PgConnection as sqlx::Connection>::connect(&crate::process::server_url()).await.unwrap();
    sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()")
        .bind(db)
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_instance_opens_its_first_database_connection_before_the_first_request_and_that_request_uses_it()
 {
    let db = TestDb::create().await;
    db.migrate();
    let h = Handler::start(&db.url, &[]).await;
    // No request has reached the API yet (only the host's `GET /`), yet the connection is there.
    let mut opened = 0;
    for _ in 0..250 {
        opened = backends_on(&db.name).await;
        if opened > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(opened, 1, "the handler opened its first connection while starting");
    // The first database-backed request finds it idle and opens no other.
    let ready = h.http(Method::GET, "/api/system/ready", &invocation_id()).await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.text);
    assert_eq!(backends_on(&db.name).await, 1, "the first request used the warm connection");
}

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
async fn a_timer_invocation_with_null_schedule_status_and_past_due_records_one_heartbeat() {
    let db = TestDb::create().await;
    db.migrate();
    let h = Handler::start(&db.url, &[]).await;
    let pool = db.pool().await;

    // As the host sends it after downtime: no schedule status yet, past due.
    let payload = json!({
        "Data": { "timer": {
            "Schedule": { "AdjustForDST": false },
            "ScheduleStatus": null,
            "IsPastDue": true,
        }},
        "Metadata": { "sys": {
            "MethodName": "HeartbeatTimer",
            "UtcNow": "2026-11-26T00:00:07.1234567Z",
            "RandGuid": uuid::Uuid::new_v4().to_string(),
        }}
    });
    let answer = h.invoke("HeartbeatTimer", &payload).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_invocation_shape(&answer);
    let logs = answer.body["Logs"].to_string();
    assert!(logs.contains("past due: true"), "{logs}");
    let hb = answer.body["ReturnValue"]["heartbeatId"].as_str().expect("heartbeatId").to_string();
    let data = h.heartbeat(&hb).await;
    assert_eq!(data["source"], "timer");
    assert_eq!(data["talliedCount"], 0);
    let (_, event_payload, _) = outbox_event(&pool, &hb).await;
    assert_eq!(event_payload["source"], "timer");

    // The whole binding JSON-encoded a second time, with a schedule status and a string flag.
    let encoded = json!({
        "Schedule": { "AdjustForDST": true },
        "ScheduleStatus": {
            "Last": "2026-11-26T00:00:00",
            "Next": "2026-11-26T00:05:00+00:00",
            "LastUpdated": "2026-11-26T00:00:00.0000001+00:00",
        },
        "IsPastDue": "false",
    })
    .to_string();
    let payload = json!({ "Data": { "timer": encoded }, "Metadata": {} });
    let answer = h.invoke("HeartbeatTimer", &payload).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert!(answer.body["Logs"].to_string().contains("past due: false"), "{}", answer.text);

    assert_eq!(count(&pool, "SELECT count(*) FROM ops.heartbeats WHERE source = 'timer'").await, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_bus_message_delivered_again_and_again_is_tallied_once() {
    let db = TestDb::create().await;
    db.migrate();
    let mut h = Handler::start(&db.url, &[]).await;
    let pool = db.pool().await;

    let hb = h.record_heartbeat().await;
    let (message_id, payload, _) = outbox_event(&pool, &hb).await;

    // First delivery: the JSON body as a string, encoded twice over.
    let body = Value::String(payload.to_string()).to_string();
    let first =
        h.invoke("HeartbeatTally", &service_bus_invocation(&message_id, Value::String(body), 1)).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_invocation_shape(&first);
    assert_eq!(outcomes(&first), ["applied"]);
    assert_eq!(h.heartbeat(&hb).await["talliedCount"], 1);

    // Redelivery (the lock was lost, say): same MessageId, the body as an object this time.
    let again = h.invoke("HeartbeatTally", &service_bus_invocation(&message_id, payload.clone(), 2)).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(outcomes(&again), ["duplicate"]);

    // Many concurrent deliveries of the same message: still one effect.
    let deliveries = (0..8).map(|n| {
        let invocation = service_bus_invocation(&message_id, payload.clone(), 3 + n);
        let h = &h;
        async move { h.invoke("HeartbeatTally", &invocation).await }
    });
    for answer in futures::future::join_all(deliveries).await {
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        assert_eq!(outcomes(&answer), ["duplicate"]);
    }

    let data = h.heartbeat(&hb).await;
    assert_eq!(data["talliedCount"], 1);
    assert!(data["talliedAt"].is_string(), "{data}");
    assert_eq!(tally_total(&pool, "http").await, 1);
    assert_eq!(
        count(&pool, "SELECT count(*) FROM events.processed_messages WHERE consumer = 'HeartbeatTally'")
            .await,
        1
    );
    assert_eq!(count(&pool, "SELECT count(*) FROM events.dead_letters").await, 0);

    // A fresh heartbeat delivered concurrently from its first delivery on: applied exactly once.
    let hb2 = h.record_heartbeat().await;
    let (message_id2, payload2, _) = outbox_event(&pool, &hb2).await;
    let deliveries = (0..8).map(|_| {
        let invocation = service_bus_invocation(&message_id2, payload2.clone(), 1);
        let h = &h;
        async move { h.invoke("HeartbeatTally", &invocation).await }
    });
    let mut seen = Vec::new();
    for answer in futures::future::join_all(deliveries).await {
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        seen.extend(outcomes(&answer));
    }
    seen.sort();
    assert_eq!(seen.iter().filter(|o| *o == "applied").count(), 1, "{seen:?}");
    assert_eq!(seen.iter().filter(|o| *o == "duplicate").count(), 7, "{seen:?}");
    assert_eq!(h.heartbeat(&hb2).await["talliedCount"], 1);
    assert_eq!(tally_total(&pool, "http").await, 2);
    h.assert_alive().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cardinality_many_batch_is_read_from_the_array_metadata() {
    let db = TestDb::create().await;
    db.migrate();
    let mut h = Handler::start(&db.url, &[]).await;
    let pool = db.pool().await;

    let (a, b) = (h.record_heartbeat().await, h.record_heartbeat().await);
    let (ma, pa, _) = outbox_event(&pool, &a).await;
    let (mb, pb, _) = outbox_event(&pool, &b).await;
    let poison_id = format!("poison-{}", uuid::Uuid::new_v4().simple());
    let props = "{\"eventType\":\"system.heartbeat\"}";
    let batch = |bodies: Value| {
        json!({
            "Data": { "message": bodies },
            "Metadata": {
                "MessageIdArray": [enc(&ma), mb, enc(&poison_id)],
                "DeliveryCountArray": ["1", 1, "2"],
                "SequenceNumberArray": [1, "2", 3],
                "EnqueuedTimeUtcArray": ["2026-11-26T01:02:03Z", "2026-11-26T01:02:04Z", "2026-11-26T01:02:05Z"],
                "SubjectArray": [enc("system.heartbeat"), "system.heartbeat", enc("system.heartbeat")],
                "CorrelationIdArray": [null, null, null],
                "UserPropertiesArray": [props, props, "{}"],
                "sys": { "MethodName": "HeartbeatTally", "UtcNow": "2026-11-26T01:02:06Z" },
            }
        })
    };
    // One body an object, one a JSON string, one not JSON at all.
    let bodies = json!([pa.clone(), pb.to_string(), "not json"]);
    let answer = h.invoke("HeartbeatTally", &batch(bodies.clone())).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(outcomes(&answer), ["applied", "applied", "deadLettered"]);

    // The same batch again, the whole array JSON-encoded as one string.
    let answer = h.invoke("HeartbeatTally", &batch(Value::String(bodies.to_string()))).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(outcomes(&answer), ["duplicate", "duplicate", "deadLettered"]);

    assert_eq!(h.heartbeat(&a).await["talliedCount"], 1);
    assert_eq!(h.heartbeat(&b).await["talliedCount"], 1);
    assert_eq!(tally_total(&pool, "http").await, 2);
    let dead: Vec<(String, i32)> = sqlx::query_as(
        "SELECT message_id, delivery_count FROM events.dead_letters WHERE consumer = 'HeartbeatTally'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(dead, [(poison_id, 2)]);
    h.assert_alive().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_service_bus_messages_are_dead_lettered_answered_2xx_and_never_crash() {
    let db = TestDb::create().await;
    db.migrate();
    let mut h = Handler::start(&db.url, &[]).await;
    let pool = db.pool().await;

    let unknown_hb = uuid::Uuid::now_v7().to_string();
    let good_body = json!({ "heartbeatId": unknown_hb, "source": "http" });
    let without_message_id = {
        let mut v = service_bus_invocation("x", good_body.clone(), 1);
        v["Metadata"].as_object_mut().unwrap().remove("MessageId");
        v
    };
    let empty_message_id = service_bus_invocation("", good_body.clone(), 1);
    let long_id = "L".repeat(100_000);
    // (case, raw payload, message id of the dead letter ("missing-*": generated, "*": any), reason)
    let cases: Vec<(&str, Vec<u8>, &str, &str)> = vec![
        ("not JSON", b"this is not JSON {".to_vec(), "missing-*", "valid MessageId"),
        ("empty body", Vec::new(), "missing-*", "valid MessageId"),
        ("a JSON array", b"[1, 2, 3]".to_vec(), "missing-*", "valid MessageId"),
        (
            "Data and Metadata null",
            br#"{"Data":null,"Metadata":null}"#.to_vec(),
            "missing-*",
            "valid MessageId",
        ),
        ("no MessageId", without_message_id.to_string().into_bytes(), "missing-*", "valid MessageId"),
        // Recorded under "" today (see the report); any id will do here.
        ("an empty MessageId", empty_message_id.to_string().into_bytes(), "*", "valid MessageId"),
        (
            "heartbeatId not a UUID",
            service_bus_invocation("m-bad-uuid", json!({"heartbeatId": "12345"}), 3).to_string().into_bytes(),
            "m-bad-uuid",
            "no valid heartbeatId",
        ),
        (
            "heartbeatId a number",
            service_bus_invocation("m-number", json!({"heartbeatId": 7}), 1).to_string().into_bytes(),
            "m-number",
            "no valid heartbeatId",
        ),
        (
            "body a plain string",
            service_bus_invocation("m-plain", json!("hello"), 1).to_string().into_bytes(),
            "m-plain",
            "no valid heartbeatId",
        ),
        (
            "body not JSON inside a JSON string",
            service_bus_invocation("m-broken", json!("{\"heartbeatId\": "), 1).to_string().into_bytes(),
            "m-broken",
            "no valid heartbeatId",
        ),
        (
            "a NUL character in the body",
            service_bus_invocation("m-nul", json!({"heartbeatId": "12\u{0}34", "note": "a\u{0}b"}), 1)
                .to_string()
                .into_bytes(),
            "m-nul",
            "no valid heartbeatId",
        ),
        (
            "a MessageId of 100,000 characters",
            service_bus_invocation(&long_id, good_body.clone(), 1).to_string().into_bytes(),
            "long-*",
            "valid MessageId",
        ),
        (
            "a NUL character in the MessageId",
            service_bus_invocation("m\u{0}x", good_body.clone(), 1).to_string().into_bytes(),
            "*",
            "valid MessageId",
        ),
        (
            "an unknown heartbeat",
            service_bus_invocation("m-unknown", Value::String(good_body.to_string()), 1)
                .to_string()
                .into_bytes(),
            "m-unknown",
            "heartbeat does not exist",
        ),
    ];
    let mut expected_rows = 0;
    for (case, raw, message_id, reason) in cases {
        let id = invocation_id();
        let answer = h.invoke_raw("HeartbeatTally", &id, raw).await;
        assert!(answer.status.is_success(), "{case}: {} {}", answer.status, answer.text);
        assert_trace(&answer, &id);
        assert_invocation_shape(&answer);
        assert_eq!(outcomes(&answer), ["deadLettered"], "{case}");
        expected_rows += 1;
        let (dl_id, dl_reason, dl_consumer): (String, String, String) = sqlx::query_as(
            "SELECT message_id, reason, consumer FROM events.dead_letters ORDER BY id DESC LIMIT 1",
        )
        .fetch_one(&pool)
        .await
        .unwrap_or_else(|e| panic!("{case}: no dead letter: {e}"));
        assert_eq!(dl_consumer, "HeartbeatTally", "{case}");
        assert!(dl_reason.contains(reason), "{case}: {dl_reason}");
        match message_id {
            "*" => {}
            "missing-*" => assert!(dl_id.starts_with("missing-"), "{case}: {dl_id}"),
            "long-*" => assert!(dl_id.starts_with("LLLL") && dl_id.chars().count() < 100, "{case}: {dl_id}"),
            exact => assert_eq!(dl_id, exact, "{case}"),
        }
        assert_eq!(count(&pool, "SELECT count(*) FROM events.dead_letters").await, expected_rows, "{case}");
        h.assert_alive().await;
    }
    // The DeliveryCount that arrived as a string is what was recorded.
    assert_eq!(
        count(
            &pool,
            "SELECT delivery_count::bigint FROM events.dead_letters WHERE message_id = 'm-bad-uuid'"
        )
        .await,
        3
    );
    // Poison that PostgreSQL cannot store as given is recorded with NUL replaced, and answered
    // 2xx again when redelivered (it used to fail the insert and loop forever).
    let body: Value = sqlx::query_scalar("SELECT body FROM events.dead_letters WHERE message_id = 'm-nul'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(body["note"], "a\u{FFFD}b", "{body}");
    for _ in 0..2 {
        let again = service_bus_invocation(&long_id, good_body.clone(), 2);
        let answer = h.invoke("HeartbeatTally", &again).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    }
    assert_eq!(count(&pool, "SELECT count(*) FROM events.dead_letters").await, expected_rows);
    // A poison message delivered again stays one dead letter.
    let again = service_bus_invocation("m-bad-uuid", json!({"heartbeatId": "12345"}), 4);
    let answer = h.invoke("HeartbeatTally", &again).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(count(&pool, "SELECT count(*) FROM events.dead_letters").await, expected_rows);
    // Nothing was applied, and nothing was marked handled.
    assert_eq!(count(&pool, "SELECT count(*) FROM events.processed_messages").await, 0);
    assert_eq!(tally_total(&pool, "http").await, 0);
    h.assert_alive().await;
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

#[tokio::test(flavor = "multi_thread")]
async fn with_the_database_down_writes_fail_retryably_while_liveness_stays_fast() {
    // Nothing listens on port 1: every connection attempt is refused.
    let down = "postgres://postgres@127.0.0.1:1/healthsync";
    let mut h = Handler::start(down, &[("DB_ACQUIRE_TIMEOUT_MS", "1000")]).await;
    // Cold start does not wait for the database.
    assert!(h.ready_in < Duration::from_secs(30), "ready in {:?}", h.ready_in);

    // A dependency down is a 503 in the error shape, its cause not in the body.
    let unknown = uuid::Uuid::now_v7();
    for (method, path) in [
        (Method::POST, "/api/system/heartbeats".to_string()),
        (Method::GET, format!("/api/system/heartbeats/{unknown}")),
        (Method::GET, "/api/system/heartbeats".to_string()),
    ] {
        let id = invocation_id();
        let answer = h.http(method, &path, &id).await;
        assert_error(&answer, StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE", &id);
        assert!(!answer.text.contains("127.0.0.1:1"), "the cause leaked: {}", answer.text);
    }

    // A Service Bus delivery fails non-2xx, so that Service Bus redelivers it later.
    let hb = uuid::Uuid::now_v7().to_string();
    let invocation = service_bus_invocation("m-db-down", json!({"heartbeatId": hb}), 1);
    let id = invocation_id();
    let tally = h.invoke_raw("HeartbeatTally", &id, invocation.to_string().into_bytes()).await;
    assert!(!tally.status.is_success(), "{} {}", tally.status, tally.text);
    assert_trace(&tally, &id);

    // Liveness touches nothing else: fast, and 200.
    let started = Instant::now();
    let id = invocation_id();
    let live = h.http(Method::GET, "/api/system/live", &id).await;
    assert_eq!(live.status, StatusCode::OK, "{}", live.text);
    assert_trace(&live, &id);
    assert!(started.elapsed() < Duration::from_secs(2), "live took {:?}", started.elapsed());

    let ready = h.http(Method::GET, "/api/system/ready", &invocation_id()).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE, "{}", ready.text);
    assert_eq!(ready.body["data"]["status"], "DOWN");
    h.assert_alive().await;
}

#[test]
fn the_handler_refuses_to_start_without_a_usable_port_or_database_url() {
    let taken = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("binding a port");
    let taken_port = taken.local_addr().unwrap().port().to_string();
    let db = "postgres://postgres:secret-password@127.0.0.1:5432/postgres";
    type Env<'a> = Vec<(&'a str, &'a str)>;
    // (case, environment, the setting the error must name)
    let cases: Vec<(&str, Env, &str)> = vec![
        ("no port", vec![("DATABASE_URL", db)], "FUNCTIONS_CUSTOMHANDLER_PORT"),
        (
            "port 0",
            vec![("DATABASE_URL", db), ("FUNCTIONS_CUSTOMHANDLER_PORT", "0")],
            "FUNCTIONS_CUSTOMHANDLER_PORT",
        ),
        (
            "port not a number",
            vec![("DATABASE_URL", db), ("FUNCTIONS_CUSTOMHANDLER_PORT", "http")],
            "FUNCTIONS_CUSTOMHANDLER_PORT",
        ),
        (
            "port taken",
            vec![("DATABASE_URL", db), ("FUNCTIONS_CUSTOMHANDLER_PORT", &taken_port)],
            "FUNCTIONS_CUSTOMHANDLER_PORT",
        ),
        ("no database URL", vec![("FUNCTIONS_CUSTOMHANDLER_PORT", "17999")], "DATABASE_URL"),
        (
            "blank database URL",
            vec![("FUNCTIONS_CUSTOMHANDLER_PORT", "17999"), ("DATABASE_URL", "  ")],
            "DATABASE_URL",
        ),
        (
            "database URL of another kind",
            vec![
                ("FUNCTIONS_CUSTOMHANDLER_PORT", "17999"),
                ("DATABASE_URL", "mysql://root:secret-password@db/x"),
            ],
            "DATABASE_URL",
        ),
    ];
    for (case, env, setting) in cases {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut cmd = Command::new(BIN);
        cmd.arg("serve").env_clear().current_dir(dir.path()).env("RUST_LOG", "warn");
        for (k, v) in &env {
            cmd.env(k, v);
        }
        let mut proc = Proc::spawn("healthsync serve", cmd, dir.path().join("out.log"));
        let started = Instant::now();
        let status = loop {
            if let Some(status) = proc.exited() {
                break status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{case}: still running after 10 s:\n{}",
                proc.log_tail(20)
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        let output = proc.log_text();
        assert!(!status.success(), "{case}: exited {status}:\n{output}");
        let error_line = output
            .lines()
            .find(|l| l.starts_with("error: "))
            .unwrap_or_else(|| panic!("{case}: no `error:` line on stderr:\n{output}"));
        assert!(error_line.contains(setting), "{case}: {error_line}");
        assert!(!output.contains("secret-password"), "{case}: a secret was printed:\n{output}");
    }
    drop(taken);
}
