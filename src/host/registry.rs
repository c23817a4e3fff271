//! Every function of the app, declared once. `functions/<Name>/function.json` is generated from
//! here (`healthsync functions --write`) and a test fails when the two drift apart.

use std::{future::Future, pin::Pin};

use serde_json::{Value, json};

use super::protocol::{InvocationRequest, InvocationResponse};
use crate::app::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthLevel {
    Anonymous,
    /// A function key is required (operators' endpoints).
    Function,
}

#[derive(Debug, Clone, Copy)]
pub enum Trigger {
    /// Forwarded to the router at `/api/{route}`.
    Http { route: &'static str, methods: &'static [&'static str], auth: AuthLevel },
    /// 6-field NCRONTAB in UTC, or `%SETTING%` naming an app setting that holds one.
    Timer { schedule: &'static str },
    /// A subscription of the events topic, filtered on the event type (`Subject`).
    ServiceBus { topic: &'static str, subscription: &'static str, subjects: &'static [&'static str] },
}

/// Why an invocation failed. Only failures a retry can fix are answered non-2xx.
#[derive(Debug, thiserror::Error)]
pub enum InvocationError {
    /// A dependency failed (database down, timeout): the host retries, Service Bus redelivers.
    #[error("retryable failure")]
    Retryable(#[source] anyhow::Error),
}

impl From<anyhow::Error> for InvocationError {
    fn from(e: anyhow::Error) -> Self {
        InvocationError::Retryable(e)
    }
}

pub type InvokeFuture = Pin<Box<dyn Future<Output = Result<InvocationResponse, InvocationError>> + Send>>;
pub type Invoke = fn(AppState, InvocationRequest) -> InvokeFuture;

#[derive(Clone, Copy)]
pub struct FunctionDef {
    pub name: &'static str,
    pub trigger: Trigger,
    /// Serves `POST /{name}`. HTTP functions are normally forwarded and reach the router
    /// directly; this is their path when the host invokes them instead.
    pub invoke: Invoke,
}

/// Binding names used in every function.json.
pub const HTTP_IN: &str = "req";
pub const HTTP_OUT: &str = "res";
pub const TIMER_IN: &str = "timer";
pub const MESSAGE_IN: &str = "message";
/// The app setting prefix of the Service Bus connection (identity-based in Azure:
/// `ServiceBusConnection__fullyQualifiedNamespace`).
pub const SERVICE_BUS_CONNECTION: &str = "ServiceBusConnection";

const ALL_METHODS: &[&str] = &["get", "post", "put", "patch", "delete"];

const fn http(name: &'static str, route: &'static str, methods: &'static [&'static str]) -> FunctionDef {
    FunctionDef {
        name,
        trigger: Trigger::Http { route, methods, auth: AuthLevel::Anonymous },
        invoke: super::invoke::invoke_http,
    }
}

/// All functions, in a stable order.
pub fn all() -> Vec<FunctionDef> {
    let mut defs = vec![
        http("Auth", "auth/{*path}", &["post"]),
        http("Users", "users/{*path}", ALL_METHODS),
        http("Health", "health/{*path}", ALL_METHODS),
        http("Goals", "goals/{*path}", ALL_METHODS),
        http("Intelligence", "intelligence/{*path}", ALL_METHODS),
        http("Notifications", "notifications/{*path}", ALL_METHODS),
        http("Motivator", "motivator/{*path}", ALL_METHODS),
        http("System", "system/{*path}", ALL_METHODS),
        http("OpenApi", "openapi.json", &["get"]),
        http("Docs", "docs", &["get"]),
    ];
    defs.extend(crate::ops::functions());
    defs.extend(crate::users::functions());
    defs.extend(crate::platform::bus::sweep::functions());
    defs
}

pub fn find(name: &str) -> Option<FunctionDef> {
    all().into_iter().find(|d| d.name.eq_ignore_ascii_case(name))
}

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

/// The Service Bus subscriptions the registry declares, for the local host and the Bicep.
pub fn subscriptions() -> Vec<crate::platform::bus::relay::Subscription> {
    all()
        .into_iter()
        .filter_map(|d| match d.trigger {
            Trigger::ServiceBus { subjects, .. } => Some(crate::platform::bus::relay::Subscription {
                function_name: d.name.to_string(),
                subjects: subjects.iter().map(|s| s.to_string()).collect(),
            }),
            _ => None,
        })
        .collect()
}

/// Compares `dir/<Name>/function.json` with the registry and returns what differs (missing,
/// changed, or a folder with no function). With `write`, brings the folder in line: writes every
/// function.json and removes folders that hold nothing but a stale function.json.
pub fn sync_folders(dir: &std::path::Path, write: bool) -> anyhow::Result<Vec<String>> {
    use anyhow::Context;
    let defs = all();
    let mut differences = Vec::new();
    for def in &defs {
        let path = dir.join(def.name).join("function.json");
        let want = serde_json::to_string_pretty(&def.function_json())? + "\n";
        let have = std::fs::read_to_string(&path).ok();
        if have.as_deref() != Some(want.as_str()) {
            differences.push(def.name.to_string());
            if write {
                std::fs::create_dir_all(path.parent().unwrap_or(dir))
                    .context("creating a function folder")?;
                std::fs::write(&path, want).with_context(|| format!("writing {}", path.display()))?;
            }
        }
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if entry.path().is_dir() && !defs.iter().any(|d| d.name == name) {
                differences.push(format!("{name} (no such function)"));
                if write {
                    let only_json = std::fs::read_dir(entry.path())
                        .map(|e| e.flatten().all(|f| f.file_name() == "function.json"))
                        .unwrap_or(false);
                    if only_json {
                        std::fs::remove_dir_all(entry.path()).context("removing a stale function folder")?;
                    }
                }
            }
        }
    }
    Ok(differences)
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
    fn function_names_are_unique_and_valid_folder_names() {
        let defs = all();
        let mut names: Vec<_> = defs.iter().map(|d| d.name.to_ascii_lowercase()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), defs.len());
        assert!(defs.iter().all(|d| d.name.chars().all(|c| c.is_ascii_alphanumeric())));
    }
}
