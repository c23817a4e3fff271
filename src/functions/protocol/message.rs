//! A Service Bus trigger's input: one message, or several with `cardinality: many`.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::{InvocationRequest, as_i64, as_string, as_time, unwrap_encoded};

/// One Service Bus message as a trigger delivers it.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceBusMessage {
    pub message_id: Option<String>,
    pub subject: Option<String>,
    pub correlation_id: Option<String>,
    pub delivery_count: i64,
    pub sequence_number: Option<i64>,
    pub enqueued_time: Option<DateTime<Utc>>,
    pub session_id: Option<String>,
    pub application_properties: Map<String, Value>,
    /// The body, decoded: an object for JSON messages, a string otherwise.
    pub body: Value,
}

impl ServiceBusMessage {
    /// The messages of an invocation: one, or several with `cardinality: many`.
    pub fn from_invocation(req: &InvocationRequest, binding: &str) -> Vec<Self> {
        let meta = &req.metadata;
        let body = req.data.get(binding).or_else(|| req.data.get(&format!("{binding}Array")));
        let many = req.data.contains_key(&format!("{binding}Array")) || meta.contains_key("MessageIdArray");
        let pick = |key: &str, i: usize| -> Option<Value> {
            if many {
                meta.get(&format!("{key}Array"))
                    .or_else(|| meta.get(key))
                    .map(|v| unwrap_encoded(v.clone()))
                    .and_then(|v| v.as_array().and_then(|a| a.get(i).cloned()))
            } else {
                meta.get(key).cloned()
            }
        };
        let bodies: Vec<Value> = match body.cloned().map(unwrap_encoded) {
            Some(Value::Array(items)) if many => items.into_iter().map(unwrap_encoded).collect(),
            Some(v) => vec![v],
            None => vec![Value::Null],
        };
        bodies
            .into_iter()
            .enumerate()
            .map(|(i, body)| {
                let props = pick("ApplicationProperties", i)
                    .or_else(|| pick("UserProperties", i))
                    .map(unwrap_encoded)
                    .and_then(|v| v.as_object().cloned())
                    .unwrap_or_default();
                ServiceBusMessage {
                    message_id: pick("MessageId", i).as_ref().and_then(as_string),
                    subject: pick("Subject", i).or_else(|| pick("Label", i)).as_ref().and_then(as_string),
                    correlation_id: pick("CorrelationId", i).as_ref().and_then(as_string),
                    delivery_count: pick("DeliveryCount", i).as_ref().and_then(as_i64).unwrap_or(1),
                    sequence_number: pick("SequenceNumber", i).as_ref().and_then(as_i64),
                    enqueued_time: pick("EnqueuedTimeUtc", i).as_ref().and_then(as_time),
                    session_id: pick("SessionId", i).as_ref().and_then(as_string),
                    application_properties: props,
                    body,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{super::req, *};

    #[test]
    fn a_service_bus_message_reads_its_metadata_whatever_the_encoding() {
        let r = req(json!({
            "Data": {"message": "{\"heartbeatId\":\"x\"}"},
            "Metadata": {
                "MessageId": "\"m-1\"", "DeliveryCount": "2", "SequenceNumber": 7,
                "EnqueuedTimeUtc": "2026-11-26T01:02:03Z", "Label": "\"system.heartbeat\"",
                "CorrelationId": null, "UserProperties": "{\"a\":\"b\"}", "SessionId": null
            }
        }));
        let m = &ServiceBusMessage::from_invocation(&r, "message")[0];
        assert_eq!(m.message_id.as_deref(), Some("m-1"));
        assert_eq!(m.delivery_count, 2);
        assert_eq!(m.sequence_number, Some(7));
        assert_eq!(m.subject.as_deref(), Some("system.heartbeat"));
        assert_eq!(m.application_properties.get("a"), Some(&json!("b")));
        assert_eq!(m.body, json!({"heartbeatId": "x"}));
        assert!(m.enqueued_time.is_some());
    }

    #[test]
    fn cardinality_many_yields_one_message_per_array_item() {
        let r = req(json!({
            "Data": {"messageArray": [{"a": 1}, "{\"a\":2}"]},
            "Metadata": {"MessageIdArray": ["m1", "m2"], "DeliveryCountArray": ["1", 3], "SubjectArray": ["s", "t"]}
        }));
        let ms = ServiceBusMessage::from_invocation(&r, "message");
        assert_eq!(ms.len(), 2);
        assert_eq!(ms[1].message_id.as_deref(), Some("m2"));
        assert_eq!(ms[1].delivery_count, 3);
        assert_eq!(ms[1].subject.as_deref(), Some("t"));
        assert_eq!(ms[1].body, json!({"a": 2}));
    }
}
