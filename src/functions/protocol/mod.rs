//! The custom-handler invocation protocol: `POST /{FunctionName}` with `{"Data", "Metadata"}`,
//! answered with `{"Outputs", "Logs", "ReturnValue"}`.
//!
//! The host's payloads have quirks, all parsed tolerantly here and nowhere else: strings may
//! arrive JSON-encoded a second time, numbers as strings, the HTTP `Query` as an object or (older
//! hosts) a string, `Headers` as an object of string arrays, binary bodies as base64, a timer's
//! `ScheduleStatus` as null, and with `cardinality: many` every key with an `Array` suffix.

mod http;
mod message;
mod timer;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use http::HttpTriggerData;
pub use message::ServiceBusMessage;
pub use timer::TimerInfo;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct InvocationRequest {
    #[serde(rename = "Data", default, deserialize_with = "object_or_empty")]
    pub data: Map<String, Value>,
    #[serde(rename = "Metadata", default, deserialize_with = "object_or_empty")]
    pub metadata: Map<String, Value>,
    /// The host's `X-Azure-Functions-InvocationId` (set by the dispatcher, not the payload).
    #[serde(skip)]
    pub invocation_id: String,
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
#[cfg(test)]
mod fuzz;

#[cfg(test)]
pub(crate) fn req(v: Value) -> InvocationRequest {
    serde_json::from_value(v).unwrap()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

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
}
