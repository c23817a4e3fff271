//! Black-box tests of `healthsync serve`: the built binary on a private port with a fresh
//! database, spoken to exactly as the Azure Functions host speaks to a custom handler
//! (DESIGN.md §3): `GET /` until it answers, forwarded HTTP at `/api/...` with an invocation id,
//! and `POST /{FunctionName}` with `{"Data", "Metadata"}` in the host's payload shapes.

mod http;
mod lifecycle;
mod triggers;

use std::{
    process::Command,
    time::{Duration, Instant},
};

use crate::process::{BIN, Proc, Startup};
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
