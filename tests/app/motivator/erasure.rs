//! Erasure by data subject: a user a nudge batch names among others (in its list, or as a slice's
//! bound) leaves no row in the outbox, the local queue or the dead letters, wherever the batch had
//! moved (relayed to the local queue, dead-lettered after its deliveries, replayed, or refused by
//! the consumer); other users' events stay.

use std::{
    collections::BTreeSet,
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    Router,
    http::{Method, StatusCode},
    routing::post,
};
use healthsync::{
    host::local::{
        handler::Handler,
        queue::{Redelivery, run_delivery},
    },
    motivator::events::{NudgeBatch, Step},
    platform::bus::{self, LocalQueueSink, NewEvent, Subscription, replay},
};
use serde_json::json;
use sqlx::PgPool;
use tokio::sync::Notify;
use uuid::Uuid;

use super::{MORNING, deliver};
use crate::goals::{GoalsApp, at};

const SLICE: &str = "MotivatorNudgeSlice";
const TABLES: [&str; 3] = ["events.outbox", "events.local_queue", "events.dead_letters"];

fn batch(step: Step) -> NudgeBatch {
    let run_at = at(MORNING);
    NudgeBatch { run_id: Uuid::now_v7(), run_at, day: run_at.date_naive(), slice_size: 100, step }
}

async fn publish(pool: &PgPool, batches: &[NudgeBatch]) -> Vec<Uuid> {
    let mut tx = pool.begin().await.unwrap();
    let mut ids = Vec::new();
    for b in batches {
        ids.push(bus::publish(&mut tx, NewEvent::of(b).unwrap()).await.unwrap());
    }
    tx.commit().await.unwrap();
    ids
}

/// The rows of `table` whose JSON form holds `needle`, whatever the column or key.
async fn naming(pool: &PgPool, table: &str, needle: &str) -> Vec<String> {
    sqlx::query_scalar(&format!(
        "SELECT row_to_json(t)::text FROM {table} t WHERE row_to_json(t)::text LIKE $1"
    ))
    .bind(format!("%{needle}%"))
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn ids(pool: &PgPool, sql: &str) -> BTreeSet<String> {
    sqlx::query_scalar::<_, String>(sql).fetch_all(pool).await.unwrap().into_iter().collect()
}

/// A slice consumer that always fails: the local queue dead-letters after one delivery.
async fn failing_handler() -> Handler {
    let app = Router::new().route(&format!("/{SLICE}"), post(async || StatusCode::INTERNAL_SERVER_ERROR));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Handler::attach(&base).unwrap()
}

#[sqlx::test]
async fn a_user_named_in_nudge_batches_among_others_is_erased_from_the_outbox_the_local_queue_and_the_dead_letters(
    pool: PgPool,
) {
    let app = GoalsApp::new(pool.clone(), MORNING);
    let gone = app.user("gone@example.com").await;
    let b = app.user("b@example.com").await;
    let c = app.user("c@example.com").await;
    let (gone_id, b_id, c_id) = (gone.uuid(), b.uuid(), c.uuid());

    // Three batches go through the local queue: the local host relays them, its deliveries fail
    // until they are dead-lettered, and two are replayed onto the queue again.
    let among = batch(Step::Users { user_ids: vec![b_id, gone_id, c_id] });
    let bound = batch(Step::Slice { after: Some(b_id), until: gone_id });
    let others = batch(Step::Users { user_ids: vec![b_id, c_id] });
    let [among_id, bound_id, others_id] = publish(&pool, &[among, bound, others]).await[..] else {
        unreachable!()
    };
    let sink = LocalQueueSink {
        subscriptions: vec![Subscription {
            function_name: SLICE.into(),
            subjects: vec!["nudge.batch".into()],
        }],
    };
    while bus::relay_batch(&pool, &sink, 100).await.unwrap() > 0 {}
    let once = Redelivery { max_delivery_count: 1, wait: Duration::ZERO };
    let delivery =
        tokio::spawn(run_delivery(pool.clone(), failing_handler().await, Arc::new(Notify::new()), once));
    let deadline = Instant::now() + Duration::from_secs(15);
    while ids(&pool, "SELECT message_id FROM events.dead_letters").await.len() < 3 {
        assert!(Instant::now() < deadline, "the local queue dead-letters all three");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    delivery.abort();
    let _ = delivery.await;
    for dl in replay::recorded(&pool, &replay::Filter::default()).await.unwrap() {
        if dl.message_id == among_id.to_string() || dl.message_id == others_id.to_string() {
            assert!(replay::requeue_local(&pool, &dl).await.unwrap());
        }
    }
    // Two more wait in the outbox, unpublished.
    let [among_late, others_late] = publish(
        &pool,
        &[batch(Step::Users { user_ids: vec![c_id, gone_id] }), batch(Step::Users { user_ids: vec![c_id] })],
    )
    .await[..] else {
        unreachable!()
    };
    // Two the consumer refused (a slice size of 0), dead-lettered from the message alone.
    let poison = |users: &[Uuid]| {
        let mut body = serde_json::to_value(batch(Step::Users { user_ids: users.to_vec() })).unwrap();
        body["sliceSize"] = json!(0);
        body
    };
    let (poison_gone, poison_b) = (Uuid::now_v7().to_string(), Uuid::now_v7().to_string());
    for (id, users) in [(&poison_gone, vec![gone_id, b_id]), (&poison_b, vec![b_id])] {
        let a = deliver(&app, SLICE, id, &poison(&users)).await;
        assert!(a.status.is_success(), "{}", a.text);
    }

    let gone_text = gone_id.to_string();
    for table in TABLES {
        assert!(!naming(&pool, table, &gone_text).await.is_empty(), "{table} names the user before");
    }
    assert_eq!(
        ids(&pool, "SELECT message_id FROM events.local_queue").await,
        BTreeSet::from([among_id.to_string(), others_id.to_string()])
    );

    let d = app.call(Some(gone.token().as_str()), Method::DELETE, "/api/users/me", None).await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);

    let mut left = Vec::new();
    for table in TABLES {
        for row in naming(&pool, table, &gone_text).await {
            if !(table == "events.outbox" && row.contains("\"user.deleted\"")) {
                left.push(format!("{table}: {row}"));
            }
        }
    }
    assert!(left.is_empty(), "rows still naming the erased user: {left:#?}");
    let outbox = ids(&pool, "SELECT id::text FROM events.outbox WHERE event_type = 'nudge.batch'").await;
    assert_eq!(outbox, BTreeSet::from([others_id.to_string(), others_late.to_string()]));
    for gone_batch in [among_id, bound_id, among_late] {
        assert!(!outbox.contains(&gone_batch.to_string()));
    }
    assert_eq!(
        ids(&pool, "SELECT message_id FROM events.local_queue").await,
        BTreeSet::from([others_id.to_string()])
    );
    assert_eq!(
        ids(&pool, "SELECT message_id FROM events.dead_letters").await,
        BTreeSet::from([others_id.to_string(), poison_b])
    );
    for other in [b_id, c_id] {
        let registered: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM events.outbox WHERE event_type = 'user.registered' AND $1 = ANY(data_subjects)",
        )
        .bind(other)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(registered, 1, "another user's events stay");
    }
}
