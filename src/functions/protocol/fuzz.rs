//! Property tests of the invocation payload parser (a fixed budget of cases): whatever the host,
//! or something pretending to be it, sends — arbitrary bytes, arbitrary JSON under the keys the
//! protocol reads, strings that hold JSON once or twice encoded, `Array`-suffixed keys — parsing
//! it and reading every trigger's input never panics.

use super::{HttpTriggerData, InvocationRequest, ServiceBusMessage, TimerInfo, unwrap_encoded};
use crate::functions::{HTTP_IN, MESSAGE_IN, TIMER_IN};
use proptest::prelude::*;
use serde_json::{Map, Value};

/// Keys the protocol reads, so generated payloads reach its branches, and some that it doesn't.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "Data",
            "Metadata",
            "req",
            "message",
            "messageArray",
            "timer",
            "Method",
            "Url",
            "Query",
            "Headers",
            "Body",
            "Params",
            "Identities",
            "ScheduleStatus",
            "IsPastDue",
            "Last",
            "Next",
            "LastUpdated",
            "MessageId",
            "Subject",
            "Label",
            "CorrelationId",
            "DeliveryCount",
            "SequenceNumber",
            "EnqueuedTimeUtc",
            "SessionId",
            "ApplicationProperties",
            "UserProperties",
            "sys",
            "MessageIdArray",
            "DeliveryCountArray",
            "UserPropertiesArray",
            "content-type",
            "Content-Type",
        ])
        .prop_map(str::to_string),
        "[A-Za-z]{0,8}",
    ]
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        prop::sample::select(vec![
            "",
            "true",
            "FALSE",
            "12",
            "-1",
            "1e400",
            "2026-12-07T00:00:00",
            "aGk=",
            "{",
            "\"\""
        ])
        .prop_map(Value::from),
        ".{0,24}".prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 96, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner.clone()), 0..8)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
            // The host's quirk: a value sent JSON-encoded once more.
            inner.prop_map(|v| Value::String(v.to_string())),
        ]
    })
}

fn read_everything(req: &mut InvocationRequest) {
    let _ = HttpTriggerData::from_invocation(req, HTTP_IN);
    let _ = ServiceBusMessage::from_invocation(req, MESSAGE_IN);
    let _ = TimerInfo::from_invocation(req, TIMER_IN);
    let _ = HttpTriggerData::take(req, HTTP_IN);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(mut req) = serde_json::from_slice::<InvocationRequest>(&bytes) {
            read_everything(&mut req);
        }
    }

    #[test]
    fn arbitrary_payloads_under_the_protocols_keys_never_panic(data in json(), metadata in json(), twice in any::<bool>()) {
        let mut payload = serde_json::json!({ "Data": data, "Metadata": metadata });
        if twice {
            payload["Data"] = Value::String(payload["Data"].to_string());
        }
        let mut req: InvocationRequest = serde_json::from_value(payload).expect("any object is an invocation");
        read_everything(&mut req);
    }

    #[test]
    fn unwrapping_encoded_strings_terminates_and_never_panics(v in json()) {
        let _ = unwrap_encoded(Value::String(Value::String(v.to_string()).to_string()));
    }
}
