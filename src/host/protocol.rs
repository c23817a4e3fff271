//! The custom-handler invocation protocol: `POST /{FunctionName}` with `{"Data", "Metadata"}`,
//! answered with `{"Outputs", "Logs", "ReturnValue"}`.
//!
//! The host's payloads have quirks, all parsed tolerantly here and nowhere else: strings may
//! arrive JSON-encoded a second time, numbers as strings, the HTTP `Query` as an object or (older
//! hosts) a string, `Headers` as an object of string arrays, binary bodies as base64, a timer's
//! `ScheduleStatus` as null, and with `cardinality: many` every key with an `Array` suffix.

use std::collections::BTreeMap;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Default, Deserialize)]
pub struct InvocationRequest {
    #[serde(rename = "Data", default, deserialize_with = "object_or_empty")]
    pub data: Map<String, Value>,
    #[serde(rename = "Metadata", default, deserialize_with = "object_or_empty")]
    pub metadata: Map<String, Value>,
}

fn object_or_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Map<String, Value>, D::Error> {
    Ok(match unwrap_encoded(Value::deserialize(d)?) {
        Value::Object(m) => m,
        _ => Map::new(),
    })
}

/// The answer to an invocation. `Logs` reach the host's log stream only on a 2xx answer.
#[derive(Debug, Clone, Default, Serialize)]
pub struct InvocationResponse {
    #[serde(rename = "Outputs")]
    pub outputs: Map<String, Value>,
    #[serde(rename = "Logs")]
    pub logs: Vec<String>,
    #[serde(rename = "ReturnValue")]
    pub return_value: Value,
}

impl InvocationResponse {
    pub fn log(mut self, line: impl Into<String>) -> Self {
        self.logs.push(line.into());
        self
    }

    pub fn returning(mut self, value: Value) -> Self {
        self.return_value = value;
        self
    }

    pub fn output(mut self, name: &str, value: Value) -> Self {
        self.outputs.insert(name.to_string(), value);
        self
    }
}

/// Undoes the host's second JSON encoding: a string that itself holds a JSON string, object or
/// array becomes that value (at most two layers). Other strings stay as they are.
pub fn unwrap_encoded(mut v: Value) -> Value {
    for _ in 0..2 {
        let Value::String(s) = &v else { break };
        let t = s.trim_start();
        if !(t.starts_with('"') || t.starts_with('{') || t.starts_with('[')) {
            break;
        }
        match serde_json::from_str::<Value>(s) {
            Ok(inner @ (Value::String(_) | Value::Object(_) | Value::Array(_))) => v = inner,
            _ => break,
        }
    }
    v
}

/// A field read from Data or Metadata: decoded, and looked up under its `Array` name too.
pub fn field<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key).or_else(|| map.get(&format!("{key}Array")))
}

pub fn as_string(v: &Value) -> Option<String> {
    match unwrap_encoded(v.clone()) {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub fn as_i64(v: &Value) -> Option<i64> {
    match unwrap_encoded(v.clone()) {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().trim_matches('"').parse().ok(),
        _ => None,
    }
}

pub fn as_bool(v: &Value) -> Option<bool> {
    match unwrap_encoded(v.clone()) {
        Value::Bool(b) => Some(b),
        Value::String(s) => match s.trim().trim_matches('"').to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

pub fn as_time(v: &Value) -> Option<DateTime<Utc>> {
    let s = as_string(v)?;
    DateTime::parse_from_rfc3339(&s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
        // The host sometimes writes UTC times without an offset.
        .or_else(|| format!("{s}Z").parse::<DateTime<Utc>>().ok())
}

/// A timer trigger's input.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TimerInfo {
    pub is_past_due: bool,
    pub last: Option<DateTime<Utc>>,
    pub next: Option<DateTime<Utc>>,
}

impl TimerInfo {
    pub fn from_invocation(req: &InvocationRequest, binding: &str) -> Self {
        let v = req.data.get(binding).cloned().map(unwrap_encoded).unwrap_or(Value::Null);
        let status = v.get("ScheduleStatus").cloned().map(unwrap_encoded).unwrap_or(Value::Null);
        TimerInfo {
            is_past_due: v.get("IsPastDue").and_then(as_bool).unwrap_or(false),
            last: status.get("Last").and_then(as_time),
            next: status.get("Next").and_then(as_time),
        }
    }
}

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

/// An HTTP request delivered through the invocation protocol (a function that is not forwarded).
#[derive(Debug, Clone, PartialEq)]
pub struct HttpTriggerData {
    pub method: String,
    pub url: String,
    pub query: BTreeMap<String, String>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpTriggerData {
    pub fn from_invocation(req: &InvocationRequest, binding: &str) -> Option<Self> {
        let v = unwrap_encoded(req.data.get(binding)?.clone());
        let obj = v.as_object()?;
        let method =
            obj.get("Method").and_then(as_string).unwrap_or_else(|| "GET".into()).to_ascii_uppercase();
        let url = obj.get("Url").and_then(as_string).unwrap_or_else(|| "/".into());
        let mut headers = Vec::new();
        if let Some(Value::Object(h)) = obj.get("Headers").cloned().map(unwrap_encoded) {
            for (name, values) in h {
                match unwrap_encoded(values) {
                    Value::Array(items) => {
                        headers.extend(items.iter().filter_map(as_string).map(|s| (name.clone(), s)))
                    }
                    other => headers.extend(as_string(&other).map(|s| (name.clone(), s))),
                }
            }
        }
        let query = match obj.get("Query").cloned().map(unwrap_encoded) {
            Some(Value::Object(q)) => {
                q.into_iter().filter_map(|(k, v)| as_string(&v).map(|s| (k, s))).collect()
            }
            Some(Value::String(s)) => url::form_urlencoded::parse(s.trim_start_matches('?').as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
            _ => BTreeMap::new(),
        };
        let content_type = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| v.to_ascii_lowercase())
            .unwrap_or_default();
        let body = match obj.get("Body") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) if is_binary(&content_type) => base64::engine::general_purpose::STANDARD
                .decode(s.trim())
                .unwrap_or_else(|_| s.as_bytes().to_vec()),
            Some(Value::String(s)) => s.as_bytes().to_vec(),
            // Older hosts hand a JSON body over already parsed.
            Some(other) => serde_json::to_vec(other).unwrap_or_default(),
        };
        Some(HttpTriggerData { method, url, query, headers, body })
    }

    /// Path and query of the original request, for routing.
    pub fn path_and_query(&self) -> String {
        let (path, url_query) = match url::Url::parse(&self.url) {
            Ok(u) => (u.path().to_string(), u.query().map(str::to_string)),
            Err(_) => {
                let (p, q) =
                    self.url.split_once('?').map_or((self.url.as_str(), None), |(p, q)| (p, Some(q)));
                (p.to_string(), q.map(str::to_string))
            }
        };
        let query = url_query.filter(|q| !q.is_empty()).or_else(|| {
            (!self.query.is_empty()).then(|| {
                url::form_urlencoded::Serializer::new(String::new()).extend_pairs(self.query.iter()).finish()
            })
        });
        match query {
            Some(q) => format!("{path}?{q}"),
            None => path,
        }
    }
}

fn is_binary(content_type: &str) -> bool {
    content_type.starts_with("application/octet-stream") || content_type.starts_with("multipart/")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn req(v: Value) -> InvocationRequest {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn double_encoded_strings_are_unwrapped_once_or_twice_but_plain_strings_stay() {
        assert_eq!(unwrap_encoded(json!("\"abc\"")), json!("abc"));
        assert_eq!(unwrap_encoded(json!("\"{\\\"a\\\":1}\"")), json!({"a": 1}));
        assert_eq!(unwrap_encoded(json!("{\"a\":1}")), json!({"a": 1}));
        assert_eq!(unwrap_encoded(json!("abc")), json!("abc"));
        assert_eq!(unwrap_encoded(json!("42")), json!("42"));
        assert_eq!(unwrap_encoded(json!("{not json")), json!("{not json"));
    }

    #[test]
    fn numbers_and_booleans_are_read_from_strings_too() {
        assert_eq!(as_i64(&json!("3")), Some(3));
        assert_eq!(as_i64(&json!("\"3\"")), Some(3));
        assert_eq!(as_i64(&json!(3)), Some(3));
        assert_eq!(as_i64(&json!("x")), None);
        assert_eq!(as_bool(&json!("True")), Some(true));
        assert_eq!(as_bool(&json!(false)), Some(false));
    }

    #[test]
    fn missing_or_non_object_data_and_metadata_are_empty_not_errors() {
        let r = req(json!({}));
        assert!(r.data.is_empty() && r.metadata.is_empty());
        let r = req(json!({"Data": null, "Metadata": "\"{}\""}));
        assert!(r.data.is_empty() && r.metadata.is_empty());
    }

    #[test]
    fn a_timer_with_null_schedule_status_and_past_due_parses() {
        let r = req(
            json!({"Data": {"timer": {"Schedule": {"AdjustForDST": true}, "ScheduleStatus": null, "IsPastDue": true}}, "Metadata": {}}),
        );
        let t = TimerInfo::from_invocation(&r, "timer");
        assert!(t.is_past_due);
        assert_eq!(t.last, None);
        let r = req(
            json!({"Data": {"timer": "{\"ScheduleStatus\":{\"Last\":\"2026-11-26T00:00:00\",\"Next\":\"2026-11-27T00:00:00+00:00\"},\"IsPastDue\":\"false\"}"}}),
        );
        let t = TimerInfo::from_invocation(&r, "timer");
        assert!(!t.is_past_due);
        assert_eq!(t.last.unwrap().to_rfc3339(), "2026-11-26T00:00:00+00:00");
        assert!(t.next.is_some());
    }

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

    #[test]
    fn http_data_accepts_query_as_object_or_string_header_arrays_and_base64_bodies() {
        let r = req(json!({"Data": {"req": {
            "Url": "http://localhost:7071/api/system/live", "Method": "post",
            "Query": {"a": "1"}, "Headers": {"Content-Type": ["application/octet-stream"], "X-Many": ["1", "2"]},
            "Body": "AAEC"
        }}}));
        let h = HttpTriggerData::from_invocation(&r, "req").unwrap();
        assert_eq!(h.method, "POST");
        assert_eq!(h.body, vec![0, 1, 2]);
        assert_eq!(h.headers.iter().filter(|(k, _)| k == "X-Many").count(), 2);
        assert_eq!(h.path_and_query(), "/api/system/live?a=1");
        let r = req(
            json!({"Data": {"req": {"Url": "/api/x", "Method": "GET", "Query": "?b=2&c=3", "Headers": {}, "Body": "{\"k\":1}"}}}),
        );
        let h = HttpTriggerData::from_invocation(&r, "req").unwrap();
        assert_eq!(h.path_and_query(), "/api/x?b=2&c=3");
        assert_eq!(h.body, b"{\"k\":1}");
    }
}
