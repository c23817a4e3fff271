//! The local host's Service Bus stand-in against a fake handler: Service Bus metadata on every
//! delivery, redelivery after a failure, dead-lettering after the max delivery count.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{Json, Router, extract::State, http::StatusCode, routing::post};
use healthsync::{
    functions::{InvocationRequest, ServiceBusMessage},
    host::local::{
        handler::Handler,
        queue::{Redelivery, run_delivery},
    },
    platform::bus::{self, LocalQueueSink, NewEvent, Subscription},
};
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::sync::Notify;

#[derive(Clone, Default)]
struct Fake {
    seen: Arc<Mutex<Vec<Value>>>,
    fail_first: usize,
}

async fn fake_function(State(f): State<Fake>, Json(body): Json<Value>) -> StatusCode {
    let n = {
        let mut seen = f.seen.lock().unwrap();
        seen.push(body);
        seen.len()
    };
    if n <= f.fail_first { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::OK }
}

async fn start_fake(fail_first: usize) -> (Fake, Handler) {
    let fake = Fake { seen: Arc::default(), fail_first };
    let app = Router::new().route("/Flaky", post(fake_function)).with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (fake, Handler::attach(&base).unwrap())
}

async fn enqueue_one(pool: &PgPool) -> uuid::Uuid {
    let mut tx = pool.begin().await.unwrap();
    let id = bus::publish(&mut tx, NewEvent::new("test.flaky", json!({"n": 1})).correlated("corr-1"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let sink = LocalQueueSink {
        subscriptions: vec![Subscription {
            function_name: "Flaky".into(),
            subjects: vec!["test.flaky".into()],
        }],
    };
    assert_eq!(bus::relay_batch(pool, &sink, 10).await.unwrap(), 1);
    id
}

const FAST: Redelivery = Redelivery { max_delivery_count: 3, wait: Duration::ZERO };

async fn until<F: AsyncFn() -> bool>(what: &str, f: F) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn queued(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events.local_queue").fetch_one(pool).await.unwrap()
}

#[sqlx::test]
async fn a_failed_delivery_is_redelivered_with_service_bus_metadata_until_it_succeeds(pool: PgPool) {
    let event_id = enqueue_one(&pool).await;
    let (fake, handler) = start_fake(2).await;
    let task = tokio::spawn(run_delivery(pool.clone(), handler, Arc::new(Notify::new()), FAST));
    until("the third delivery to succeed", async || queued(&pool).await == 0).await;
    task.abort();

    let seen = fake.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    for (i, payload) in seen.iter().enumerate() {
        let req: InvocationRequest = serde_json::from_value(payload.clone()).unwrap();
        let msg = &ServiceBusMessage::from_invocation(&req, "message")[0];
        assert_eq!(msg.message_id.as_deref(), Some(event_id.to_string().as_str()));
        assert_eq!(msg.delivery_count, i as i64 + 1);
        assert_eq!(msg.subject.as_deref(), Some("test.flaky"));
        assert_eq!(msg.correlation_id.as_deref(), Some("corr-1"));
        assert!(msg.enqueued_time.is_some() && msg.sequence_number.is_some());
        assert_eq!(msg.body, json!({"n": 1}));
    }
    let dead: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events.dead_letters").fetch_one(&pool).await.unwrap();
    assert_eq!(dead, 0);
}

#[sqlx::test]
async fn a_message_that_always_fails_is_dead_lettered_after_the_max_delivery_count(pool: PgPool) {
    let event_id = enqueue_one(&pool).await;
    let (fake, handler) = start_fake(usize::MAX).await;
    let task = tokio::spawn(run_delivery(pool.clone(), handler, Arc::new(Notify::new()), FAST));
    until("the message to leave the queue", async || queued(&pool).await == 0).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    task.abort();

    assert_eq!(fake.seen.lock().unwrap().len(), 3, "delivered exactly max_delivery_count times");
    let (consumer, message_id, reason, count): (String, String, String, i32) =
        sqlx::query_as("SELECT consumer, message_id, reason, delivery_count FROM events.dead_letters")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(consumer, "Flaky");
    assert_eq!(message_id, event_id.to_string());
    assert!(reason.starts_with("MaxDeliveryCountExceeded"), "{reason}");
    assert_eq!(count, 3);
}

#[sqlx::test]
async fn an_unreachable_handler_loses_nothing(pool: PgPool) {
    enqueue_one(&pool).await;
    // Nothing listens on this port: every delivery fails to connect and is abandoned.
    let handler = Handler::attach("http://127.0.0.1:1").unwrap();
    let slow = Redelivery { max_delivery_count: 10, wait: Duration::from_millis(50) };
    let task = tokio::spawn(run_delivery(pool.clone(), handler, Arc::new(Notify::new()), slow));
    tokio::time::sleep(Duration::from_millis(300)).await;
    task.abort();
    assert_eq!(queued(&pool).await, 1, "the message waits for the handler to come back");
}

#[sqlx::test]
async fn by_default_a_failed_message_is_redelivered_at_once_up_to_ten_times_as_service_bus_does(
    pool: PgPool,
) {
    let event_id = enqueue_one(&pool).await;
    let (fake, handler) = start_fake(usize::MAX).await;
    let policy = Redelivery::default();
    assert_eq!((policy.max_delivery_count, policy.wait), (10, Duration::ZERO));
    let started = Instant::now();
    let task = tokio::spawn(run_delivery(pool.clone(), handler, Arc::new(Notify::new()), policy));
    until("the message to leave the queue", async || queued(&pool).await == 0).await;
    let took = started.elapsed();
    tokio::time::sleep(Duration::from_millis(100)).await;
    task.abort();
    assert_eq!(fake.seen.lock().unwrap().len(), 10, "delivered exactly MaxDeliveryCount times");
    // Ten deliveries with the old backoff (0.1 s doubling to 5 s) took over 15 s.
    assert!(took < Duration::from_secs(5), "redelivered at once: {took:?}");
    let (message_id, count): (String, i32) =
        sqlx::query_as("SELECT message_id, delivery_count FROM events.dead_letters")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((message_id, count), (event_id.to_string(), 10));
}
