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

/// A subscription's dead-letter queue as the REST API serves it
/// (https://learn.microsoft.com/rest/api/servicebus/peek-lock-message-non-destructive-read,
/// https://learn.microsoft.com/rest/api/servicebus/unlock-message,
/// https://learn.microsoft.com/rest/api/servicebus/delete-message): a peek-lock receive takes the
/// unlocked message with the lowest sequence number (201, its `BrokerProperties` and the lock's
/// `Location`; 204 when none); `PUT` on the lock unlocks it, `DELETE` completes it, each 200, or
/// 404 when the lock is unknown or expired; a send to the topic is 201.
mod dlq {
    use std::sync::{Arc, Mutex};

    use wiremock::{Request, Respond, ResponseTemplate};

    pub struct Msg {
        pub seq: i64,
        pub id: &'static str,
        pub enqueued: &'static str,
        pub lock: Option<String>,
    }

    #[derive(Default)]
    pub struct State {
        pub queue: Vec<Msg>,
        /// In order: "receive 7", "unlock 7", "complete 7", "send evt-1", "lost 7".
        pub log: Vec<String>,
        /// Every lock handed out expires at once (a long run).
        pub locks_expire: bool,
        pub next_lock: u64,
    }

    #[derive(Clone)]
    pub struct Fake {
        pub base: String,
        pub state: Arc<Mutex<State>>,
    }

    impl Respond for Fake {
        fn respond(&self, req: &Request) -> ResponseTemplate {
            let mut s = self.state.lock().unwrap();
            let path = req.url.path().to_string();
            let method = req.method.as_str();
            if method == "POST" && path == "/events/messages" {
                let broker: serde_json::Value =
                    serde_json::from_slice(req.headers["brokerproperties"].as_bytes()).unwrap();
                s.log.push(format!("send {}", broker["MessageId"].as_str().unwrap()));
                return ResponseTemplate::new(201);
            }
            if method == "POST" && path.ends_with("/$deadletterqueue/messages/head") {
                s.next_lock += 1;
                let token = format!("lock-{}", s.next_lock);
                let expire = s.locks_expire;
                let Some(m) = s.queue.iter_mut().filter(|m| m.lock.is_none()).min_by_key(|m| m.seq) else {
                    return ResponseTemplate::new(204);
                };
                if !expire {
                    m.lock = Some(token.clone());
                }
                let (seq, id, enqueued) = (m.seq, m.id, m.enqueued);
                s.log.push(format!("receive {seq}"));
                let location = format!("{}{}/../{seq}/{token}", self.base, path.trim_end_matches("/head"));
                let location = location.replace("/messages/../", "/messages/");
                return ResponseTemplate::new(201)
                    .insert_header(
                        "BrokerProperties",
                        format!(r#"{{"MessageId":"{id}","Label":"user.registered","EnqueuedTimeUtc":"{enqueued}","SequenceNumber":{seq}}}"#)
                            .as_str(),
                    )
                    .insert_header("Location", location.as_str())
                    .set_body_string(r#"{"userId":"01a2291f-88a8-7717-a4be-41998e6bccb7"}"#);
            }
            let mut parts = path.rsplit('/');
            let (token, seq) =
                (parts.next().unwrap().to_string(), parts.next().unwrap().parse::<i64>().unwrap());
            let Some(pos) =
                s.queue.iter().position(|m| m.seq == seq && m.lock.as_deref() == Some(token.as_str()))
            else {
                s.log.push(format!("lost {seq}"));
                return ResponseTemplate::new(404);
            };
            match method {
                "PUT" => {
                    s.queue[pos].lock = None;
                    s.log.push(format!("unlock {seq}"));
                }
                "DELETE" => {
                    s.queue.remove(pos);
                    s.log.push(format!("complete {seq}"));
                }
                _ => return ResponseTemplate::new(405),
            }
            ResponseTemplate::new(200)
        }
    }
}

async fn dlq_fake(queue: Vec<dlq::Msg>, locks_expire: bool) -> (MockServer, dlq::Fake, ServiceBusReplay) {
    let server = MockServer::start().await;
    let fake = dlq::Fake {
        base: server.uri(),
        state: Arc::new(std::sync::Mutex::new(dlq::State { queue, locks_expire, ..Default::default() })),
    };
    Mock::given(wiremock::matchers::any()).respond_with(fake.clone()).mount(&server).await;
    let sb = ServiceBusReplay::new(
        url::Url::parse(&format!("{}/", server.uri())).unwrap(),
        "events",
        Arc::new(FixedToken),
    );
    (server, fake, sb)
}

fn msg(seq: i64, id: &'static str, enqueued: &'static str) -> dlq::Msg {
    dlq::Msg { seq, id, enqueued, lock: None }
}

const NOON: &str = "2026-11-29T12:00:00Z";
const OLD: &str = "Sun, 29 Nov 2026 08:00:00 GMT";
const RECENT: &str = "Sun, 29 Nov 2026 11:55:00 GMT";

#[tokio::test]
async fn a_message_the_replay_leaves_is_released_at_once_and_the_pass_ends_when_it_comes_round() {
    let (_server, fake, sb) =
        dlq_fake(vec![msg(1, "evt-1", OLD), msg(2, "evt-2", RECENT), msg(3, "evt-3", RECENT)], false).await;
    let now = chrono::DateTime::parse_from_rfc3339(NOON).unwrap().with_timezone(&chrono::Utc);
    let report =
        replay::replay_queue(&sb, "MotivatorWelcome", "motivator-welcome", &Filter::default(), now, &|| {})
            .await
            .unwrap();
    assert_eq!((report.replayed, report.left, report.stopped), (1, 1, 1), "{report:?}");
    let log = fake.state.lock().unwrap().log.clone();
    assert_eq!(
        log,
        ["receive 1", "send evt-1", "complete 1", "receive 2", "unlock 2", "receive 2", "unlock 2"],
        "the recent one is unlocked before anything else is received"
    );
    assert!(fake.state.lock().unwrap().queue.iter().all(|m| m.lock.is_none()), "no lock is left held");
}

#[tokio::test]
async fn a_lost_lock_counts_as_released_and_never_aborts_a_replay_after_sends() {
    // Every lock expires at once: completing a sent message and unlocking a left one get 404.
    let (_server, fake, sb) = dlq_fake(vec![msg(1, "evt-1", OLD), msg(2, "evt-2", RECENT)], true).await;
    let now = chrono::DateTime::parse_from_rfc3339(NOON).unwrap().with_timezone(&chrono::Utc);
    let report =
        replay::replay_queue(&sb, "MotivatorWelcome", "motivator-welcome", &Filter::default(), now, &|| {})
            .await
            .expect("a lost lock is no error");
    assert_eq!((report.replayed, report.stopped), (0, 1), "{report:?}");
    let log = fake.state.lock().unwrap().log.clone();
    assert_eq!(
        log,
        ["receive 1", "send evt-1", "lost 1", "receive 1", "lost 1", "receive 1", "lost 1"],
        "sent once; its completion retried once; then left for a later run"
    );
}
