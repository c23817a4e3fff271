//! Starting and stopping: the first connection opened before the first request, the database
//! down while liveness stays fast, and the refusal to start without a port or a database URL.

use std::{
    process::Command,
    time::{Duration, Instant},
};

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{Handler, assert_error, assert_trace, backends_on, invocation_id, service_bus_invocation};
use crate::process::{BIN, Proc, TestDb};

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
