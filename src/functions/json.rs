//! `function.json`, the file the Functions host reads per function, and the host's route
//! templates.

use serde_json::{Value, json};

use super::{
    AuthLevel, FunctionDef, HTTP_IN, HTTP_OUT, MESSAGE_IN, SERVICE_BUS_CONNECTION, TIMER_IN, Trigger,
};

impl FunctionDef {
    /// The function.json the Functions host reads.
    pub fn function_json(&self) -> Value {
        let bindings = match self.trigger {
            Trigger::Http { route, methods, auth } => json!([
                {
                    "type": "httpTrigger",
                    "direction": "in",
                    "name": HTTP_IN,
                    "authLevel": match auth { AuthLevel::Anonymous => "anonymous", AuthLevel::Function => "function" },
                    "methods": methods,
                    "route": route,
                },
                { "type": "http", "direction": "out", "name": HTTP_OUT },
            ]),
            Trigger::Timer { schedule } => json!([
                {
                    "type": "timerTrigger",
                    "direction": "in",
                    "name": TIMER_IN,
                    "schedule": schedule,
                    "runOnStartup": false,
                    "useMonitor": true,
                },
            ]),
            Trigger::ServiceBus { topic, subscription, .. } => json!([
                {
                    "type": "serviceBusTrigger",
                    "direction": "in",
                    "name": MESSAGE_IN,
                    "topicName": topic,
                    "subscriptionName": subscription,
                    "connection": SERVICE_BUS_CONNECTION,
                    "cardinality": "one",
                    "autoCompleteMessages": true,
                },
            ]),
        };
        json!({ "bindings": bindings })
    }

    /// Whether a request path (after `/api/`) is served by this function's route template.
    pub fn http_route_matches(&self, path_after_api: &str) -> bool {
        let Trigger::Http { route, .. } = self.trigger else { return false };
        template_matches(route, path_after_api)
    }

    /// The `%NAME%` app setting a timer's schedule names, if any.
    pub fn schedule_setting(&self) -> Option<&'static str> {
        let Trigger::Timer { schedule } = self.trigger else { return None };
        schedule.strip_prefix('%').and_then(|r| r.strip_suffix('%'))
    }
}

/// Matches the host's route templates as we use them: literal segments, `{name}` for one
/// segment, and a final `{*rest}` for any remainder (including none).
pub fn template_matches(template: &str, path: &str) -> bool {
    let t: Vec<&str> = template.trim_matches('/').split('/').collect();
    let p: Vec<&str> = if path.trim_matches('/').is_empty() {
        Vec::new()
    } else {
        path.trim_matches('/').split('/').collect()
    };
    for (i, seg) in t.iter().enumerate() {
        if seg.starts_with("{*") {
            return true;
        }
        let Some(actual) = p.get(i) else { return false };
        let is_param = seg.starts_with('{') && seg.ends_with('}');
        if !is_param && !seg.eq_ignore_ascii_case(actual) {
            return false;
        }
    }
    t.len() == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_templates_match_literals_params_and_catch_alls() {
        assert!(template_matches("goals/{*path}", "goals"));
        assert!(template_matches("goals/{*path}", "goals/missions/1/complete"));
        assert!(!template_matches("goals/{*path}", "goalsx/a"));
        assert!(template_matches("openapi.json", "openapi.json"));
        assert!(!template_matches("openapi.json", "openapi.json/x"));
        assert!(template_matches("a/{id}", "a/5"));
        assert!(!template_matches("a/{id}", "a"));
    }

    #[test]
    fn a_timer_names_its_schedule_setting() {
        let t = FunctionDef { name: "T", trigger: Trigger::Timer { schedule: "%T_SCHEDULE%" } };
        assert_eq!(t.schedule_setting(), Some("T_SCHEDULE"));
        let fixed = FunctionDef { name: "T", trigger: Trigger::Timer { schedule: "0 0 0 * * *" } };
        assert_eq!(fixed.schedule_setting(), None);
    }
}
