//! Invocations have their own stack: the function timeout instead of the API's, the protocol's
//! answer shape in every case, permanent failures dead-lettered and answered 2xx, and an HTTP
//! bridge that reaches `/api` routes only.

use std::{sync::Arc, time::Duration};

use axum::http::{Method, StatusCode};
use healthsync::{
    DOMAINS,
    domain::{AnyDomain, DomainModule, Module, Platform},
    functions::{
        Function, FunctionDef, InvocationError, InvocationRequest, InvocationResponse, InvokeFuture, Trigger,
        invoke::{self, Bound},
    },
};
use serde_json::json;
use sqlx::PgPool;

use crate::support::{Answer, TestApp, app, call};

mod slow {
    use super::*;

    pub struct Domain;

    fn sleepy(_: (), _: InvocationRequest) -> InvokeFuture {
        Box::pin(async {
            tokio::time::sleep(Duration::from_millis(400)).await;
            Ok(InvocationResponse::default().returning(json!("done")))
        })
    }

    fn refuses(_: (), _: InvocationRequest) -> InvokeFuture {
        Box::pin(async { Err(InvocationError::Permanent(anyhow::anyhow!("the payload names no order"))) })
    }

    impl DomainModule for Domain {
        type State = ();
        type Needs = ();
        const NAME: &'static str = "slow";
        fn state(_: &Platform, (): ()) -> anyhow::Result<()> {
            Ok(())
        }
        fn functions() -> Vec<Function<()>> {
            vec![
                Function::timer("SlowTimer", "0 0 0 * * *", sleepy),
                Function::service_bus("Refuser", "refuser", &["slow.thing"], refuses),
            ]
        }
    }
}

fn slow_app(pool: PgPool, extra: &[(&str, &str)]) -> axum::Router {
    let listed = Box::leak(Box::new(Module::<slow::Domain>::new()));
    let domains: Vec<&dyn AnyDomain> = DOMAINS.iter().copied().chain([&*listed as &dyn AnyDomain]).collect();
    TestApp::builder(pool)
        .domains(&domains, |platform, _| Ok(vec![Module::<slow::Domain>::build(platform, ())?]))
        .settings(extra)
        .spawn()
        .router
}

async fn invoke(app: &axum::Router, function: &str, payload: serde_json::Value) -> Answer {
    call(app, Method::POST, &format!("/{function}"), Some(payload)).await
}

#[sqlx::test]
async fn a_timer_runs_past_the_api_timeout_under_the_function_timeout(pool: PgPool) {
    let app = slow_app(pool, &[("HTTP_TIMEOUT_MS", "100")]);
    let a = invoke(&app, "SlowTimer", json!({"Data": {"timer": {"IsPastDue": false}}, "Metadata": {}})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["ReturnValue"], "done", "answered in the protocol's shape, not cut at 100 ms");
    // The API itself still answers within its own timeout.
    assert_eq!(call(&app, Method::GET, "/api/system/live", None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_invocation_over_the_function_timeout_fails_so_the_host_retries() {
    let pool = sqlx::postgres::PgPoolOptions::new().connect_lazy("postgres://unused@127.0.0.1:1/x").unwrap();
    let never: invoke::BoundInvoke = Arc::new(|_| {
        Box::pin(async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok(InvocationResponse::default())
        })
    });
    let def = FunctionDef { name: "Stuck", trigger: Trigger::Timer { schedule: "0 0 0 * * *" } };
    let router = invoke::router(
        vec![Bound { def, run: never }],
        invoke::Options { timeout: Duration::from_millis(50), db: pool, largest_api_body: 1 << 20 },
    );
    let started = std::time::Instant::now();
    let a = call(&router, Method::POST, "/Stuck", Some(json!({"Data": {}}))).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(a.body["Logs"][0].as_str().unwrap().contains("timed out"), "{}", a.text);
    assert!(a.body.get("Outputs").is_some(), "the protocol's shape, not the API's: {}", a.text);
}

#[sqlx::test]
async fn a_permanent_failure_is_dead_lettered_and_answered_2xx(pool: PgPool) {
    let app = slow_app(pool.clone(), &[]);
    let delivery = json!({
        "Data": {"message": "{\"orderId\": null}"},
        "Metadata": {"MessageId": "\"m-perm\"", "DeliveryCount": "1", "Subject": "slow.thing"}
    });
    let a = invoke(&app, "Refuser", delivery).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert!(a.body["Logs"][0].as_str().unwrap().contains("dead-lettered"), "{}", a.text);
    let (consumer, reason, subject): (String, String, Option<String>) = sqlx::query_as(
        "SELECT consumer, reason, subject FROM events.dead_letters WHERE message_id = 'm-perm'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(consumer, "Refuser");
    assert_eq!(reason, "the payload names no order", "the reason the function gave");
    assert_eq!(subject.as_deref(), Some("slow.thing"));
}

#[sqlx::test]
async fn the_http_bridge_reaches_api_routes_only_so_invocations_cannot_nest(pool: PgPool) {
    let app = app(pool.clone());
    let nested = |url: &str| {
        json!({"Data": {"req": {"Url": url, "Method": "POST", "Headers": {"Content-Type": ["application/json"]},
               "Body": json!({"Data": {"message": "{}"}, "Metadata": {"MessageId": "x"}}).to_string()}}})
    };
    for url in ["/HeartbeatTally", "http://localhost/UserFilesEraser", "/", "/api/../HeartbeatTally"] {
        let a = invoke(&app, "System", nested(url)).await;
        assert_eq!(a.status, StatusCode::OK, "{url}: {}", a.text);
        assert_eq!(a.body["Outputs"]["res"]["statusCode"], 404, "{url}: {}", a.text);
    }
    let dead: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events.dead_letters").fetch_one(&pool).await.unwrap();
    assert_eq!(dead, 0, "no invocation route was reached through the bridge");
    // An /api route still answers through it.
    let live =
        invoke(&app, "System", json!({"Data": {"req": {"Url": "/api/system/live", "Method": "GET"}}})).await;
    assert_eq!(live.body["Outputs"]["res"]["statusCode"], 200, "{}", live.text);
}
