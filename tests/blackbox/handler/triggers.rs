//! Timer and Service Bus invocations in the host's payload shapes: a past-due timer, redelivered
//! and batched messages, and malformed ones dead-lettered without a crash.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{
    Handler, assert_invocation_shape, assert_trace, count, enc, invocation_id, outbox_event, outcomes,
    service_bus_invocation, tally_total,
};
use crate::process::TestDb;

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
