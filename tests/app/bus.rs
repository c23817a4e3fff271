//! The outbox, the relay and the exactly-once consumer helper, against real PostgreSQL.

use crate::support::{app, call};
use axum::http::{Method, StatusCode};
use healthsync::{
    app::Catalog,
    platform::bus::{self, LocalQueueSink, NewEvent},
};
use serde_json::{Value, json};
use sqlx::PgPool;

#[sqlx::test]
async fn an_event_rolled_back_with_its_transaction_is_never_published(pool: PgPool) {
    let mut tx = pool.begin().await.unwrap();
    bus::publish(&mut tx, NewEvent::new("system.heartbeat", json!({}))).await.unwrap();
    tx.rollback().await.unwrap();
    let sink = LocalQueueSink { subscriptions: Catalog::app().subscriptions() };
    assert_eq!(bus::relay_batch(&pool, &sink, 100).await.unwrap(), 0);
}

#[sqlx::test]
async fn the_relay_enqueues_each_event_once_per_subscriber_and_marks_it_published(pool: PgPool) {
    let app = app(pool.clone());
    for _ in 0..3 {
        assert_eq!(
            call(&app, Method::POST, "/api/system/heartbeats", None).await.status,
            StatusCode::CREATED
        );
    }
    let mut tx = pool.begin().await.unwrap();
    bus::publish(&mut tx, NewEvent::new("nobody.listens", json!({}))).await.unwrap();
    tx.commit().await.unwrap();

    let sink = LocalQueueSink { subscriptions: Catalog::app().subscriptions() };
    assert_eq!(bus::relay_batch(&pool, &sink, 2).await.unwrap(), 2);
    assert_eq!(bus::relay_batch(&pool, &sink, 100).await.unwrap(), 2);
    assert_eq!(bus::relay_batch(&pool, &sink, 100).await.unwrap(), 0);
    let queued: Vec<(String, String)> =
        sqlx::query_as("SELECT function_name, subject FROM events.local_queue ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(queued.len(), 3);
    assert!(queued.iter().all(|(f, s)| f == "HeartbeatTally" && s == "system.heartbeat"));
    let unpublished: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events.outbox WHERE published_at IS NULL")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(unpublished, 0);
}

#[sqlx::test]
async fn two_relays_at_once_never_publish_the_same_row(pool: PgPool) {
    for _ in 0..50 {
        let mut tx = pool.begin().await.unwrap();
        bus::publish(
            &mut tx,
            NewEvent::new("system.heartbeat", json!({"heartbeatId": uuid::Uuid::new_v4()})),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    let sink = std::sync::Arc::new(LocalQueueSink { subscriptions: Catalog::app().subscriptions() });
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (pool, sink) = (pool.clone(), sink.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0;
            loop {
                let k = bus::relay_batch(&pool, sink.as_ref(), 7).await.unwrap();
                if k == 0 {
                    return n;
                }
                n += k;
            }
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    assert_eq!(total, 50);
    let queued: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events.local_queue").fetch_one(&pool).await.unwrap();
    assert_eq!(queued, 50);
}

async fn invoke(app: &axum::Router, function: &str, payload: Value) -> crate::support::Answer {
    call(app, Method::POST, &format!("/{function}"), Some(payload)).await
}

fn delivery(message_id: &str, heartbeat_id: &str, count: u32) -> Value {
    json!({
        "Data": { "message": json!({ "heartbeatId": heartbeat_id }).to_string() },
        "Metadata": { "MessageId": format!("\"{message_id}\""), "DeliveryCount": count.to_string(), "Subject": "system.heartbeat" }
    })
}

#[sqlx::test]
async fn a_redelivered_message_is_applied_once(pool: PgPool) {
    let app = app(pool.clone());
    let hb = call(&app, Method::POST, "/api/system/heartbeats", None).await;
    let id = hb.body["data"]["id"].as_str().unwrap().to_string();
    for n in 1..=3 {
        let a = invoke(&app, "HeartbeatTally", delivery("m-1", &id, n)).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        let expected = if n == 1 { "applied" } else { "duplicate" };
        assert_eq!(a.body["ReturnValue"]["outcomes"][0], json!(expected));
    }
    let got = call(&app, Method::GET, &format!("/api/system/heartbeats/{id}"), None).await;
    assert_eq!(got.body["data"]["talliedCount"], json!(1));
}

#[sqlx::test]
async fn concurrent_duplicates_apply_the_effect_exactly_once(pool: PgPool) {
    let app = app(pool.clone());
    let hb = call(&app, Method::POST, "/api/system/heartbeats", None).await;
    let id = hb.body["data"]["id"].as_str().unwrap().to_string();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (app, id) = (app.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            invoke(&app, "HeartbeatTally", delivery("same", &id, 1)).await.status
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::OK);
    }
    let (count,): (i32,) =
        sqlx::query_as("SELECT tallied_count FROM ops.heartbeats").fetch_one(&pool).await.unwrap();
    assert_eq!(count, 1);
    let total: i64 = sqlx::query_scalar("SELECT total FROM ops.heartbeat_tallies WHERE source = 'http'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(total, 1);
}

#[sqlx::test]
async fn poison_messages_are_recorded_and_answered_2xx_so_they_are_not_retried(pool: PgPool) {
    let app = app(pool.clone());
    let cases = [
        ("no-id", json!({"Data": {"message": "{}"}, "Metadata": {}})),
        ("bad-uuid", delivery("p-1", "not-a-uuid", 1)),
        ("unknown", delivery("p-2", "0190f5c2-0000-7000-8000-000000000000", 1)),
        ("not-an-object", json!([1, 2, 3])),
    ];
    for (name, payload) in cases {
        let a = invoke(&app, "HeartbeatTally", payload).await;
        assert_eq!(a.status, StatusCode::OK, "{name}: {}", a.text);
        assert_eq!(a.body["ReturnValue"]["outcomes"][0], json!("deadLettered"), "{name}");
    }
    let reasons: Vec<String> = sqlx::query_scalar("SELECT reason FROM events.dead_letters ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    // The unknown heartbeat's "handled" mark was rolled back with it: a replay can still apply.
    let marks: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events.processed_messages").fetch_one(&pool).await.unwrap();
    assert_eq!(marks, 0);
}

#[sqlx::test]
async fn a_consumer_whose_database_is_down_fails_so_the_message_is_redelivered(pool: PgPool) {
    pool.close().await;
    let app = app(pool);
    let a = invoke(&app, "HeartbeatTally", delivery("m-9", "0190f5c2-0000-7000-8000-000000000000", 1)).await;
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(a.body["Logs"].is_array());
}

#[sqlx::test]
async fn the_timer_records_a_heartbeat_even_when_past_due_with_no_schedule_status(pool: PgPool) {
    let app = app(pool.clone());
    let payload = json!({"Data": {"timer": {"Schedule": {"AdjustForDST": true}, "ScheduleStatus": null, "IsPastDue": true}}, "Metadata": {}});
    let a = invoke(&app, "HeartbeatTimer", payload).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert!(a.body["Logs"][0].as_str().unwrap().contains("past due: true"));
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM ops.heartbeats WHERE source = 'timer'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 1);
}

#[sqlx::test]
async fn an_http_function_invoked_through_the_protocol_answers_in_its_output_binding(pool: PgPool) {
    let app = app(pool);
    let payload = json!({"Data": {"req": {
        "Url": "http://localhost:7071/api/system/live", "Method": "GET",
        "Query": "", "Headers": {"Accept": ["application/json"]}, "Body": null
    }}, "Metadata": {}});
    let a = invoke(&app, "System", payload).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let res = &a.body["Outputs"]["res"];
    assert_eq!(res["statusCode"], json!(200));
    let body: Value = serde_json::from_str(res["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["data"]["status"], json!("UP"));
}

#[sqlx::test]
async fn the_sweep_prunes_old_published_events_and_old_marks_but_never_unpublished_ones(pool: PgPool) {
    for _ in 0..3 {
        let mut tx = pool.begin().await.unwrap();
        bus::publish(&mut tx, NewEvent::new("system.heartbeat", json!({}))).await.unwrap();
        tx.commit().await.unwrap();
    }
    // One old and published, one recent and published, one old and never published.
    let ids: Vec<uuid::Uuid> =
        sqlx::query_scalar("SELECT id FROM events.outbox ORDER BY id").fetch_all(&pool).await.unwrap();
    sqlx::query("UPDATE events.outbox SET published_at = now() - interval '8 days' WHERE id = $1")
        .bind(ids[0])
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE events.outbox SET published_at = now() WHERE id = $1")
        .bind(ids[1])
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE events.outbox SET created_at = now() - interval '60 days' WHERE id = $1")
        .bind(ids[2])
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO events.processed_messages (consumer, message_id, processed_at) \
         VALUES ('C', 'old', now() - interval '31 days'), ('C', 'recent', now() - interval '13 days')",
    )
    .execute(&pool)
    .await
    .unwrap();

    assert_eq!(bus::prune(&pool).await.unwrap(), 2);
    let left: Vec<uuid::Uuid> =
        sqlx::query_scalar("SELECT id FROM events.outbox ORDER BY id").fetch_all(&pool).await.unwrap();
    assert_eq!(left, vec![ids[1], ids[2]]);
    let marks: Vec<String> = sqlx::query_scalar("SELECT message_id FROM events.processed_messages")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(marks, vec!["recent".to_string()]);
    assert_eq!(bus::prune(&pool).await.unwrap(), 0);
}
