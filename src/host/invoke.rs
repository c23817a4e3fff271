//! `POST /{FunctionName}`: the invocation endpoints of every function, and the bridge that lets
//! the host invoke an HTTP function through the protocol instead of forwarding it.

use std::collections::BTreeMap;

use axum::{
    Json, Router,
    body::{Body, Bytes},
    extract::{DefaultBodyLimit, State},
    http::{HeaderMap, Request, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
};
use base64::Engine as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use super::{
    protocol::{HttpTriggerData, InvocationRequest, InvocationResponse},
    registry::{FunctionDef, HTTP_IN, HTTP_OUT, InvocationError, InvokeFuture},
};
use crate::{app::AppState, http::context};

/// The host's own limit on request bodies is 100 MB; invocation payloads carry them base64'd.
const INVOCATION_BODY_LIMIT: usize = 140 << 20;

pub fn router(defs: &[FunctionDef]) -> Router<AppState> {
    let mut r = Router::new();
    for def in defs {
        let def = *def;
        r = r.route(
            &format!("/{}", def.name),
            post(move |State(state): State<AppState>, headers: HeaderMap, body: Bytes| {
                dispatch(state, def, headers, body)
            }),
        );
    }
    r.layer(DefaultBodyLimit::max(INVOCATION_BODY_LIMIT))
}

async fn dispatch(state: AppState, def: FunctionDef, headers: HeaderMap, body: Bytes) -> Response {
    let invocation_id = context::trace_id_from(&headers);
    let span = tracing::info_span!("invocation", function = def.name, invocation_id = %invocation_id);
    // The host always sends an object; anything else is read as an empty invocation, which each
    // function then treats as it treats missing input (a timer runs, a message is dead-lettered).
    let req: InvocationRequest = serde_json::from_slice(&body).unwrap_or_else(|_| {
        tracing::warn!(function = def.name, "invocation payload is not a JSON object; reading it as empty");
        InvocationRequest::default()
    });
    let started = std::time::Instant::now();
    let result = tracing::Instrument::instrument((def.invoke)(state, req), span.clone()).await;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let _entered = span.enter();
    match result {
        Ok(resp) => {
            tracing::info!(elapsed_ms, "invocation succeeded");
            (StatusCode::OK, Json(resp)).into_response()
        }
        Err(InvocationError::Retryable(err)) => {
            // Non-2xx: the host records a failure and retries (Service Bus: redelivers).
            tracing::error!(elapsed_ms, error = format!("{err:#}"), "invocation failed; the host will retry");
            let body = InvocationResponse::default().log("invocation failed; it will be retried");
            (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
        }
    }
}

/// Runs an HTTP request that arrived as invocation data through the app's router and returns
/// the response as the `res` output binding.
pub fn invoke_http(state: AppState, req: InvocationRequest) -> InvokeFuture {
    Box::pin(async move {
        let Some(http) = HttpTriggerData::from_invocation(&req, HTTP_IN) else {
            let res = json!({ "statusCode": 400, "headers": {"Content-Type": "application/json"},
                "body": json!({"success": false, "code": "BAD_INVOCATION", "message": "HTTP 요청 데이터가 없습니다."}).to_string() });
            return Ok(InvocationResponse::default().output(HTTP_OUT, res));
        };
        // The routed request carries this invocation's id, so its logs and its traceId match.
        let mut builder = Request::builder()
            .method(http.method.as_str())
            .uri(http.path_and_query())
            .header(context::INVOCATION_ID, context::trace_id());
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
        let request = match builder.body(Body::from(http.body)) {
            Ok(r) => r,
            Err(_) => {
                let res = json!({"statusCode": 400, "body": json!({"success": false, "code": "BAD_REQUEST_LINE", "message": "요청 주소나 헤더가 올바르지 않습니다."}).to_string()});
                return Ok(InvocationResponse::default().output(HTTP_OUT, res));
            }
        };
        let response = crate::app::app(state).oneshot(request).await.unwrap_or_else(|e| match e {});
        let status = response.status().as_u16();
        let mut headers = BTreeMap::new();
        for (k, v) in response.headers() {
            if let Ok(v) = v.to_str() {
                headers.insert(k.as_str().to_string(), Value::String(v.to_string()));
            }
        }
        let bytes = axum::body::to_bytes(response.into_body(), INVOCATION_BODY_LIMIT)
            .await
            .map_err(|e| anyhow::anyhow!("reading the routed response: {e}"))?;
        let body = match std::str::from_utf8(&bytes) {
            Ok(text) => Value::String(text.to_string()),
            Err(_) => Value::String(base64::engine::general_purpose::STANDARD.encode(&bytes)),
        };
        let res = json!({ "statusCode": status, "headers": headers, "body": body });
        Ok(InvocationResponse::default().output(HTTP_OUT, res))
    })
}
