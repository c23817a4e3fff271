//! `replay-dlq`'s parts: locally a recorded dead letter goes back on the local queue for its
//! function; in Azure a subscription's dead-letter queue is received (peek-lock), sent to the
//! topic with its message id and label, and completed, against a fake of the REST contract.

use healthsync::platform::bus::replay::{self, Filter, ServiceBusReplay};
use sqlx::PgPool;

use crate::support::broker::{DeadLetter, FakeBroker, FakeCredential, STANDARD};

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

/// The Service Bus fake with `queue` in motivator-welcome's dead-letter queue, and a replay
/// client for it.
async fn dlq_fake(queue: Vec<DeadLetter>) -> (FakeBroker, ServiceBusReplay) {
    let broker = FakeBroker::start("events", STANDARD).await;
    broker.dead_letters("motivator-welcome", queue);
    let sb = ServiceBusReplay::new(broker.base(), "events", FakeCredential::service_bus());
    (broker, sb)
}

fn msg(seq: i64, id: &'static str, enqueued: &'static str) -> DeadLetter {
    let body = r#"{"userId":"01a2291f-88a8-7717-a4be-41998e6bccb7"}"#;
    DeadLetter { seq, id, label: "user.registered", enqueued, body }
}

#[tokio::test]
async fn a_dead_letter_queue_is_received_sent_to_the_topic_and_completed() {
    let (broker, sb) = dlq_fake(vec![msg(7, "evt-1", OLD)]).await;
    let now = chrono::DateTime::parse_from_rfc3339(NOON).unwrap().with_timezone(&chrono::Utc);
    let report =
        replay::replay_queue(&sb, "MotivatorWelcome", "motivator-welcome", &Filter::default(), now, &|| {})
            .await
            .unwrap();
    assert_eq!(report.replayed, 1);
    assert_eq!(broker.log(), ["receive 7", "send evt-1", "complete 7"]);
    assert!(broker.queue("motivator-welcome").is_empty());
    let sent = broker.taken();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["BrokerProperties"]["MessageId"], "evt-1");
    assert_eq!(sent[0]["BrokerProperties"]["Label"], "user.registered");
    assert!(sent[0]["Body"].as_str().unwrap().contains("userId"));
}

const NOON: &str = "2026-11-29T12:00:00Z";
const OLD: &str = "Sun, 29 Nov 2026 08:00:00 GMT";
const RECENT: &str = "Sun, 29 Nov 2026 11:55:00 GMT";

#[tokio::test]
async fn a_message_the_replay_leaves_is_released_at_once_and_the_pass_ends_when_it_comes_round() {
    let (broker, sb) =
        dlq_fake(vec![msg(1, "evt-1", OLD), msg(2, "evt-2", RECENT), msg(3, "evt-3", RECENT)]).await;
    let now = chrono::DateTime::parse_from_rfc3339(NOON).unwrap().with_timezone(&chrono::Utc);
    let report =
        replay::replay_queue(&sb, "MotivatorWelcome", "motivator-welcome", &Filter::default(), now, &|| {})
            .await
            .unwrap();
    assert_eq!((report.replayed, report.left, report.stopped), (1, 1, 1), "{report:?}");
    assert_eq!(
        broker.log(),
        ["receive 1", "send evt-1", "complete 1", "receive 2", "unlock 2", "receive 2", "unlock 2"],
        "the recent one is unlocked before anything else is received"
    );
    assert!(broker.queue("motivator-welcome").iter().all(|(_, locked)| !locked), "no lock is left held");
}

#[tokio::test]
async fn a_lost_lock_counts_as_released_and_never_aborts_a_replay_after_sends() {
    // Every lock expires at once: completing a sent message and unlocking a left one get 404.
    let (broker, sb) = dlq_fake(vec![msg(1, "evt-1", OLD), msg(2, "evt-2", RECENT)]).await;
    broker.expire_locks();
    let now = chrono::DateTime::parse_from_rfc3339(NOON).unwrap().with_timezone(&chrono::Utc);
    let report =
        replay::replay_queue(&sb, "MotivatorWelcome", "motivator-welcome", &Filter::default(), now, &|| {})
            .await
            .expect("a lost lock is no error");
    assert_eq!((report.replayed, report.stopped), (0, 1), "{report:?}");
    assert_eq!(
        broker.log(),
        ["receive 1", "send evt-1", "lost 1", "receive 1", "lost 1", "receive 1", "lost 1"],
        "sent once; its completion retried once; then left for a later run"
    );
}
