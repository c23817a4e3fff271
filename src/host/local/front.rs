//! The public side of the local host: HTTP on :7071 like `func start`. `/api/...` requests are
//! matched against the HTTP functions' route templates and methods, then forwarded to the handler
//! at their original path with an invocation id. `/admin/...` offers what the real host's admin
//! API does for local work: host status, and running a non-HTTP function by hand.

use std::{sync::Arc, time::Duration};

use axum::{
    Json, Router,
    body::{Body, Bytes},
    extract::{Path, State},
    http::{HeaderMap, HeaderName, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::{Value, json};

use super::{handler::Handler, timers};
use crate::functions::{FunctionDef, Trigger};

const MAX_BODY: usize = 100 << 20;

/// The front's state: the handler it forwards to and the functions it knows.
#[derive(Clone)]
pub struct Front {
    handler: Handler,
    functions: Arc<[FunctionDef]>,
}

pub fn router(handler: Handler, functions: Vec<FunctionDef>) -> Router {
    Router::new()
        .route("/admin/host/status", get(status))
        .route("/admin/functions/{name}", post(run_function))
        .fallback(forward)
        .with_state(Front { handler, functions: functions.into() })
}

async fn status(State(Front { handler: h, functions }): State<Front>) -> Json<Value> {
    Json(json!({
        "state": if h.is_ready() { "Running" } else { "Initialized" },
        "handlerPid": h.pid(),
        "handlerPort": h.port,
        "handlerRestarts": h.restarts(),
        "functions": functions.iter().map(|d| d.name).collect::<Vec<_>>(),
    }))
}

/// `POST /admin/functions/{name}`: runs a timer function now.
async fn run_function(State(front): State<Front>, Path(name): Path<String>) -> Response {
    let Some(def) = front.functions.iter().find(|d| d.name.eq_ignore_ascii_case(&name)) else {
        return (StatusCode::NOT_FOUND, Json(json!({"error": "no such function"}))).into_response();
    };
    if matches!(def.trigger, Trigger::Http { .. }) {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": "call HTTP functions at their route"})))
            .into_response();
    }
    let now = chrono::Utc::now();
    timers::fire(&front.handler, def.name, timers::timer_invocation(None, now, false)).await;
    StatusCode::ACCEPTED.into_response()
}

fn route_for(defs: &[FunctionDef], method: &Method, path: &str) -> Option<(&'static str, bool)> {
    let rest = path.strip_prefix("/api/").or_else(|| (path == "/api").then_some(""))?;
    let mut path_matched = None;
    for def in defs {
        if let Trigger::Http { methods, .. } = def.trigger
            && def.http_route_matches(rest)
        {
            let allowed = methods.iter().any(|m| m.eq_ignore_ascii_case(method.as_str()));
            if allowed {
                return Some((def.name, true));
            }
            path_matched = Some((def.name, false));
        }
    }
    path_matched
}

async fn forward(
    State(Front { handler: h, functions }): State<Front>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let path = uri.path();
    match route_for(&functions, &method, path) {
        None => return StatusCode::NOT_FOUND.into_response(),
        Some((_, false)) => return StatusCode::METHOD_NOT_ALLOWED.into_response(),
        Some((_, true)) => {}
    }
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    if !h.wait_ready(Duration::from_secs(30)).await {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let target = format!("{}{}", h.base, uri.path_and_query().map(|p| p.as_str()).unwrap_or(path));
    let mut req = h.client().request(method, target).body(body);
    for (k, v) in &headers {
        // The invocation id is the host's to set, as in the real host.
        if !is_hop_by_hop(k) && k.as_str() != crate::http::context::INVOCATION_ID {
            req = req.header(k, v);
        }
    }
    req = req.header("X-Azure-Functions-InvocationId", uuid::Uuid::new_v4().to_string());
    match req.timeout(Duration::from_secs(230)).send().await {
        Ok(res) => {
            let status = res.status();
            let headers = res.headers().clone();
            let bytes: Bytes = res.bytes().await.unwrap_or_default();
            let mut out = Response::builder().status(status);
            for (k, v) in &headers {
                if !is_hop_by_hop(k) {
                    out = out.header(k, v);
                }
            }
            out.body(Body::from(bytes)).unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
        }
        // The real host answers 500 when the handler cannot be reached.
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "transfer-encoding"
            | "upgrade"
            | "host"
            | "content-length"
            | "te"
            | "trailer"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::functions::AuthLevel;

    fn http(name: &'static str, route: &'static str, methods: &'static [&'static str]) -> FunctionDef {
        FunctionDef { name, trigger: Trigger::Http { route, methods, auth: AuthLevel::Anonymous } }
    }

    #[test]
    fn requests_are_matched_to_functions_by_template_and_method() {
        let defs = [
            http("System", "system/{*path}", &["get", "post"]),
            http("OpenApi", "openapi.json", &["get"]),
            FunctionDef { name: "HeartbeatTally", trigger: Trigger::Timer { schedule: "0 0 0 * * *" } },
        ];
        assert_eq!(route_for(&defs, &Method::GET, "/api/system/live"), Some(("System", true)));
        assert_eq!(route_for(&defs, &Method::GET, "/api/openapi.json"), Some(("OpenApi", true)));
        assert_eq!(route_for(&defs, &Method::DELETE, "/api/openapi.json"), Some(("OpenApi", false)));
        assert_eq!(route_for(&defs, &Method::GET, "/api/nothing/here"), None);
        assert_eq!(route_for(&defs, &Method::GET, "/HeartbeatTally"), None);
    }
}
