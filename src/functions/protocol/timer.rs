//! A timer trigger's input.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{InvocationRequest, as_bool, as_time, unwrap_encoded};

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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{super::req, *};

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
}
