//! `replay-dlq`'s parts: locally a recorded dead letter goes back on the local queue for its
//! function; in Azure a subscription's dead-letter queue is received (peek-lock), sent to the
//! topic with its message id and label, and completed, against a fake of the REST contract.

use std::sync::Arc;

use healthsync::platform::bus::replay::{self, Filter, ServiceBusReplay};
use sqlx::PgPool;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{header, method, path},
};

use crate::servicebus::FixedToken;

#[sqlx::test]
async fn a_recorded_dead_letter_goes_back_to_its_function_once(pool: PgPool) {
    for (consumer, id) in [("MotivatorNudgeSlice", "m-1"), ("MotivatorWelcome", "m-2")] {
        sqlx::query(
            "INSERT INTO events.dead_letters (consumer, message_id, subject, reason, body, delivery_count) \
             VALUES ($1, $2, 'nudge.batch', 'exhausted', '{\"x\": 1}', 10)",
        )
        .bind(consumer)
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
    }
    let filter = Filter { function: Some("motivatornudgeslice".into()), since: None };
    let rows = replay::recorded(&pool, &filter).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert!(replay::requeue_local(&pool, &rows[0]).await.unwrap());
    let queued: Vec<(String, String)> =
        sqlx::query_as("SELECT function_name, message_id FROM events.local_queue")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(queued, [("MotivatorNudgeSlice".to_string(), "m-1".to_string())]);
    assert!(replay::recorded(&pool, &filter).await.unwrap().is_empty(), "replayed once");
    assert_eq!(replay::recorded(&pool, &Filter::default()).await.unwrap().len(), 1, "the other is left");
}

#[tokio::test]
async fn a_dead_letter_queue_is_received_sent_to_the_topic_and_completed() {
    let server = MockServer::start().await;
    let lock =
        format!("{}/events/subscriptions/motivator-welcome/$deadletterqueue/messages/7/lock-1", server.uri());
    Mock::given(method("POST"))
        .and(path("/events/subscriptions/motivator-welcome/$deadletterqueue/messages/head"))
        .respond_with(
            ResponseTemplate::new(201)
                .insert_header(
                    "BrokerProperties",
                    r#"{"MessageId":"evt-1","Label":"user.registered","EnqueuedTimeUtc":"Sun, 29 Nov 2026 08:00:00 GMT","SequenceNumber":7}"#,
                )
                .insert_header("Location", lock.as_str())
                .set_body_string(r#"{"userId":"01a2291f-88a8-7717-a4be-41998e6bccb7"}"#),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/events/subscriptions/motivator-welcome/$deadletterqueue/messages/head"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/events/messages"))
        .and(header("authorization", "Bearer test-token"))
        .respond_with(ResponseTemplate::new(201))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/events/subscriptions/motivator-welcome/$deadletterqueue/messages/7/lock-1"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let sb = ServiceBusReplay::new(
        url::Url::parse(&format!("{}/", server.uri())).unwrap(),
        "events",
        Arc::new(FixedToken),
    );
    let now =
        chrono::DateTime::parse_from_rfc3339("2026-11-29T12:00:00Z").unwrap().with_timezone(&chrono::Utc);
    let report =
        replay::replay_queue(&sb, "MotivatorWelcome", "motivator-welcome", &Filter::default(), now, &|| {})
            .await
            .unwrap();
    assert_eq!(report.replayed, 1);
    let sent = server.received_requests().await.unwrap();
    let send = sent.iter().find(|r| r.url.path() == "/events/messages").unwrap();
    let broker: serde_json::Value =
        serde_json::from_slice(send.headers["brokerproperties"].as_bytes()).unwrap();
    assert_eq!(broker["MessageId"], "evt-1");
    assert_eq!(broker["Label"], "user.registered");
    assert!(String::from_utf8_lossy(&send.body).contains("userId"));
}
