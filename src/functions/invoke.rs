//! `POST /{FunctionName}`: the invocation endpoints of every function, and the bridge that lets
//! the host invoke an HTTP function through the protocol instead of forwarding it.
//!
//! Invocations have their own stack, apart from the API's: the function timeout (aligned with
//! host.json's `functionTimeout`, not the API's request timeout), the invocation id as trace id,
//! and the protocol's answer shape in every case, failures included.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use axum::{
    Json, Router,
    body::{Body, Bytes},
    extract::DefaultBodyLimit,
    http::{HeaderMap, HeaderValue, Request, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
};
use base64::Engine as _;
use serde_json::{Value, json};
use sqlx::PgPool;
use tower::ServiceExt as _;
use tracing::Instrument as _;

use super::{
    Function, FunctionDef, HTTP_IN, HTTP_OUT, InvocationError, InvocationRequest, InvocationResponse,
    InvokeFuture, MESSAGE_IN, ServiceBusMessage, Trigger,
};
use crate::http::context;

/// A function body bound to its domain's state.
pub type BoundInvoke = Arc<dyn Fn(InvocationRequest) -> InvokeFuture + Send + Sync>;

/// A function ready to be invoked.
#[derive(Clone)]
pub struct Bound {
    pub def: FunctionDef,
    pub run: BoundInvoke,
}

impl<S: Clone + Send + Sync + 'static> Function<S> {
    /// The body bound to `state`; `None` for HTTP functions, which the router serves.
    pub fn bind(&self, state: &S) -> Option<BoundInvoke> {
        let invoke = self.invoke?;
        let state = state.clone();
        Some(Arc::new(move |req| invoke(state.clone(), req)))
    }
}

/// A timer's invocation is a few hundred bytes of schedule status.
pub const TIMER_PAYLOAD_LIMIT: usize = 64 << 10;
/// A Service Bus message is at most 256 KB on the Standard tier (our events are far smaller);
/// with its metadata and a second JSON encoding it stays under this.
pub const MESSAGE_PAYLOAD_LIMIT: usize = 1 << 20;
/// The largest response the HTTP bridge reads back from the router.
const BRIDGE_RESPONSE_LIMIT: usize = 16 << 20;

pub struct Options {
    /// How long a timer or Service Bus invocation may run ([`super::FUNCTION_TIMEOUT`]).
    pub timeout: Duration,
    /// Where permanently failed messages are recorded as dead letters.
    pub db: PgPool,
    /// The largest request body any `/api` route accepts; an HTTP function invoked through the
    /// protocol carries it base64-encoded.
    pub largest_api_body: usize,
}

impl Options {
    /// The most the host can send for a function of this trigger; anything larger did not come
    /// from the host and is refused before it is read.
    pub fn payload_limit(&self, trigger: &Trigger) -> usize {
        match trigger {
            Trigger::Timer { .. } => TIMER_PAYLOAD_LIMIT,
            Trigger::ServiceBus { .. } => MESSAGE_PAYLOAD_LIMIT,
            Trigger::Http { .. } => self.largest_api_body / 3 * 4 + (256 << 10),
        }
    }
}

pub fn router(functions: Vec<Bound>, options: Options) -> Router {
    let options = Arc::new(options);
    let mut r = Router::new();
    for bound in functions {
        let options = options.clone();
        r = r.route(
            &format!("/{}", bound.def.name),
            post(move |req: axum::extract::Request| dispatch(bound.clone(), options.clone(), req)),
        );
    }
    // Each route reads its own body, to its trigger's limit.
    r.layer(DefaultBodyLimit::disable())
}

/// Headers the Functions host never puts on an invocation, but that every request from outside
/// carries once a front end (Azure's, Front Door, the local host's) has passed it on. The host
/// forwards HTTP requests at the path .NET's `Uri.AbsolutePath` gives, which resolves dot
/// segments: `/api/users/%2e%2e/%2e%2e/UserFilesEraser` would arrive as `/UserFilesEraser`. A
/// request to an invocation route that came from outside is refused as not found, whatever front
/// let it through.
const FORWARDED_ONLY: &[&str] = &[
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "forwarded",
    "x-original-url",
    "x-original-host",
    "x-waws-unencoded-url",
    "x-arr-log-id",
    "x-arr-ssl",
    "disguised-host",
    "client-ip",
    "x-client-ip",
    "x-azure-clientip",
    "x-azure-socketip",
    "x-azure-fdid",
    "x-azure-ref",
    "authorization",
    "cookie",
    "origin",
    "referer",
];

/// Whether a request to an invocation route came from outside rather than from the host.
pub fn came_from_outside(headers: &HeaderMap) -> bool {
    FORWARDED_ONLY.iter().any(|h| headers.contains_key(*h))
}

async fn dispatch(bound: Bound, options: Arc<Options>, req: axum::extract::Request) -> Response {
    let (parts, body) = req.into_parts();
    if came_from_outside(&parts.headers) {
        tracing::warn!(function = bound.def.name, "a forwarded request reached an invocation route; refused");
        return crate::http::ApiError::not_found("요청한 주소를 찾을 수 없습니다.").into_response();
    }
    let limit = options.payload_limit(&bound.def.trigger);
    let announced = parts.headers.get(axum::http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok());
    if announced.and_then(|v| v.parse::<usize>().ok()).is_some_and(|n| n > limit) {
        return crate::http::ApiError::PayloadTooLarge.into_response();
    }
    let Ok(body) = axum::body::to_bytes(body, limit).await else {
        return crate::http::ApiError::PayloadTooLarge.into_response();
    };
    let headers = parts.headers;
    let invocation_id = context::trace_id_from(&headers);
    let mut res = run(bound, options, invocation_id.clone(), body).await;
    if let Ok(v) = HeaderValue::from_str(&invocation_id) {
        res.headers_mut().insert(context::TRACE_HEADER, v);
    }
    res
}

async fn run(bound: Bound, options: Arc<Options>, invocation_id: String, body: Bytes) -> Response {
    let def = bound.def;
    let span = tracing::info_span!("invocation", function = def.name, invocation_id = %invocation_id);
    // The host always sends an object; anything else is read as an empty invocation, which each
    // function then treats as it treats missing input (a timer runs, a message is dead-lettered).
    let mut req: InvocationRequest = serde_json::from_slice(&body).unwrap_or_else(|_| {
        tracing::warn!(parent: &span, "invocation payload is not a JSON object; reading it as empty");
        InvocationRequest::default()
    });
    req.invocation_id = invocation_id;
    // Kept to dead-letter the messages should the function fail permanently.
    let messages = match def.trigger {
        Trigger::ServiceBus { .. } => ServiceBusMessage::from_invocation(&req, MESSAGE_IN),
        _ => Vec::new(),
    };
    let started = std::time::Instant::now();
    let run = (bound.run)(req);
    let result = tokio::time::timeout(options.timeout, run).instrument(span.clone()).await;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let _entered = span.enter();
    let failed = |log: &str| {
        // Non-2xx: the host records a failure and retries (Service Bus: redelivers).
        let body = InvocationResponse::default().log(log);
        (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
    };
    match result {
        Ok(Ok(resp)) => {
            tracing::debug!(elapsed_ms, "invocation succeeded");
            (StatusCode::OK, Json(resp)).into_response()
        }
        Ok(Err(InvocationError::Retryable(err))) => {
            tracing::error!(elapsed_ms, error = format!("{err:#}"), "invocation failed; the host will retry");
            failed("invocation failed; it will be retried")
        }
        Ok(Err(InvocationError::Permanent(err))) => {
            tracing::warn!(elapsed_ms, error = format!("{err:#}"), "invocation failed for good");
            let reason = format!("{err}");
            for msg in &messages {
                if let Err(record) = super::dead_letter(&options.db, def.name, msg, &reason).await {
                    tracing::error!(
                        error = format!("{record:#}"),
                        "recording the dead letter failed; retrying"
                    );
                    return failed("invocation failed; it will be retried");
                }
            }
            let body = InvocationResponse::default()
                .log(format!("invocation failed for good; {} message(s) dead-lettered", messages.len()));
            (StatusCode::OK, Json(body)).into_response()
        }
        Err(_) => {
            tracing::error!(elapsed_ms, "invocation timed out; the host will retry");
            failed("invocation timed out; it will be retried")
        }
    }
}

/// The body of every HTTP function: runs the request that arrived as invocation data through
/// `api` (the `/api` routes only, so an invocation can never reach another invocation) and
/// returns the response as the `res` output binding.
pub fn http_bridge(api: Router) -> BoundInvoke {
    Arc::new(move |req| {
        let api = api.clone();
        Box::pin(async move { Ok(bridge(api, req).await) })
    })
}

fn res(status: u16, code: &str, message: &str) -> InvocationResponse {
    let body = json!({"success": false, "status": status, "code": code, "message": message});
    let res = json!({ "statusCode": status, "headers": {"Content-Type": "application/json"}, "body": body.to_string() });
    InvocationResponse::default().output(HTTP_OUT, res)
}

async fn bridge(api: Router, mut req: InvocationRequest) -> InvocationResponse {
    let Some(http) = super::HttpTriggerData::take(&mut req, HTTP_IN) else {
        return res(400, "BAD_INVOCATION", "HTTP 요청 데이터가 없습니다.");
    };
    let target = http.path_and_query();
    if !target.starts_with("/api/") {
        return res(404, "NOT_FOUND", "요청한 주소를 찾을 수 없습니다.");
    }
    // The routed request carries this invocation's id, so its logs and its traceId match.
    let mut builder = Request::builder()
        .method(http.method.as_str())
        .uri(target)
        .header(context::INVOCATION_ID, &req.invocation_id);
    for (k, v) in &http.headers {
        // Hop-by-hop and length headers describe the host's connection, not ours; the
        // invocation id is the host's to set, not the caller's.
        if matches!(
            k.to_ascii_lowercase().as_str(),
            "content-length" | "transfer-encoding" | "connection" | "host" | context::INVOCATION_ID
        ) {
            continue;
        }
        builder = builder.header(k.as_str(), v.as_str());
    }
    let Ok(request) = builder.body(Body::from(http.body)) else {
        return res(400, "BAD_REQUEST_LINE", "요청 주소나 헤더가 올바르지 않습니다.");
    };
    let response = api.oneshot(request).await.unwrap_or_else(|e| match e {});
    let status = response.status().as_u16();
    let mut headers = BTreeMap::new();
    for (k, v) in response.headers() {
        if let Ok(v) = v.to_str() {
            headers.insert(k.as_str().to_string(), Value::String(v.to_string()));
        }
    }
    let bytes = match axum::body::to_bytes(response.into_body(), BRIDGE_RESPONSE_LIMIT).await {
        Ok(b) => b,
        Err(_) => return res(500, "INTERNAL_ERROR", "응답을 만들지 못했습니다."),
    };
    let body = match std::str::from_utf8(&bytes) {
        Ok(text) => Value::String(text.to_string()),
        Err(_) => Value::String(base64::engine::general_purpose::STANDARD.encode(&bytes)),
    };
    let res = json!({ "statusCode": status, "headers": headers, "body": body });
    InvocationResponse::default().output(HTTP_OUT, res)
}
