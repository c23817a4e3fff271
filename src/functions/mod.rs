//! What a function is, independent of any host or domain: its definition (name and trigger), the
//! invocation it receives and answers, and how it fails. Domains declare their functions with
//! these types; the handler serves them (`invoke`) and the local host plays their triggers
//! (`crate::host`), and neither knows which domain a function belongs to.

pub mod consumer;
pub mod invoke;
pub mod json;
pub mod protocol;

use std::{future::Future, pin::Pin, time::Duration};

pub use consumer::dead_letter;
pub use protocol::{HttpTriggerData, InvocationRequest, InvocationResponse, ServiceBusMessage, TimerInfo};

use crate::platform::bus::{EVENTS_TOPIC, Subscription};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthLevel {
    Anonymous,
    /// A function key is required (operators' endpoints).
    Function,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// Forwarded to the router at `/api/{route}`.
    Http { route: &'static str, methods: &'static [&'static str], auth: AuthLevel },
    /// 6-field NCRONTAB in UTC, or `%SETTING%` naming an app setting that holds one.
    Timer { schedule: &'static str },
    /// A subscription of the events topic, filtered on the event type (`Subject`).
    ServiceBus { topic: &'static str, subscription: &'static str, subjects: &'static [&'static str] },
}

/// A function as the host sees it: a name (its folder) and a trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunctionDef {
    pub name: &'static str,
    pub trigger: Trigger,
}

/// Why an invocation failed.
#[derive(Debug, thiserror::Error)]
pub enum InvocationError {
    /// A dependency failed (database down, timeout): answered non-2xx, so the host retries and
    /// Service Bus redelivers.
    #[error("retryable failure")]
    Retryable(#[source] anyhow::Error),
    /// No retry can help (the input can never be handled): its messages are recorded as dead
    /// letters and the invocation is answered 2xx, so Service Bus does not redeliver it.
    #[error("permanent failure")]
    Permanent(#[source] anyhow::Error),
}

impl From<anyhow::Error> for InvocationError {
    fn from(e: anyhow::Error) -> Self {
        InvocationError::Retryable(e)
    }
}

pub type InvokeFuture = Pin<Box<dyn Future<Output = Result<InvocationResponse, InvocationError>> + Send>>;
/// A function body over its domain's state.
pub type Invoke<S> = fn(S, InvocationRequest) -> InvokeFuture;

/// A domain's function: its definition and, unless it is an HTTP function (served by the
/// router), its body.
pub struct Function<S> {
    pub def: FunctionDef,
    pub invoke: Option<Invoke<S>>,
}

/// Binding names used in every function.json.
pub const HTTP_IN: &str = "req";
pub const HTTP_OUT: &str = "res";
pub const TIMER_IN: &str = "timer";
pub const MESSAGE_IN: &str = "message";
/// The app setting prefix of the Service Bus connection (identity-based in Azure:
/// `ServiceBusConnection__fullyQualifiedNamespace`).
pub const SERVICE_BUS_CONNECTION: &str = "ServiceBusConnection";
pub const ALL_METHODS: &[&str] = &["get", "post", "put", "patch", "delete"];

/// `functionTimeout` in host.json: the host gives up on an invocation after this long.
pub const HOST_FUNCTION_TIMEOUT: Duration = Duration::from_secs(300);
/// Timer and Service Bus invocations stop themselves this long before the host would, so they
/// can answer (and roll back) instead of being cut off.
pub const FUNCTION_TIMEOUT: Duration = Duration::from_secs(290);

impl<S> Function<S> {
    /// An HTTP function forwarded to the router: `route` under `/api/`.
    pub const fn http(name: &'static str, route: &'static str, methods: &'static [&'static str]) -> Self {
        Function {
            def: FunctionDef { name, trigger: Trigger::Http { route, methods, auth: AuthLevel::Anonymous } },
            invoke: None,
        }
    }

    /// The same, behind a function key (operators only).
    pub const fn http_with_key(
        name: &'static str,
        route: &'static str,
        methods: &'static [&'static str],
    ) -> Self {
        Function {
            def: FunctionDef { name, trigger: Trigger::Http { route, methods, auth: AuthLevel::Function } },
            invoke: None,
        }
    }

    pub const fn timer(name: &'static str, schedule: &'static str, invoke: Invoke<S>) -> Self {
        Function { def: FunctionDef { name, trigger: Trigger::Timer { schedule } }, invoke: Some(invoke) }
    }

    /// A consumer of the events topic, subscribed to `subjects` (event types).
    pub const fn service_bus(
        name: &'static str,
        subscription: &'static str,
        subjects: &'static [&'static str],
        invoke: Invoke<S>,
    ) -> Self {
        Function {
            def: FunctionDef {
                name,
                trigger: Trigger::ServiceBus { topic: EVENTS_TOPIC, subscription, subjects },
            },
            invoke: Some(invoke),
        }
    }
}

/// The Service Bus subscriptions among `defs`, for the relay's local sink and the Bicep.
pub fn subscriptions(defs: &[FunctionDef]) -> Vec<Subscription> {
    defs.iter()
        .filter_map(|d| match d.trigger {
            Trigger::ServiceBus { subjects, .. } => Some(Subscription {
                function_name: d.name.to_string(),
                subjects: subjects.iter().map(|s| s.to_string()).collect(),
            }),
            _ => None,
        })
        .collect()
}
