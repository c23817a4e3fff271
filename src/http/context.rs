//! Per-request context: the trace id, the span, the timeout, and the one place where internal
//! failures are logged.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    body::HttpBody as _,
    extract::{MatchedPath, Request, State},
    http::{HeaderMap, HeaderValue},
    middleware::Next,
    response::{IntoResponse, Response},
};
use tracing::{Instrument, field::Empty};

use super::error::{ApiError, LoggedCause};

tokio::task_local! {
    static TRACE_ID: String;
}

/// The trace id of the request being served, or a fresh one outside a request.
pub fn trace_id() -> String {
    TRACE_ID.try_with(Clone::clone).unwrap_or_else(|_| uuid::Uuid::new_v4().simple().to_string())
}

pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub const INVOCATION_ID: &str = "x-azure-functions-invocationid";
pub const TRACE_HEADER: &str = "x-trace-id";

/// The id that ties a request's logs together: the Functions host's invocation id, else the
/// W3C `traceparent` trace id, else a new one. Only well-formed ids are taken from outside.
pub fn trace_id_from(headers: &HeaderMap) -> String {
    let valid =
        |s: &str| (8..=64).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if let Some(id) = headers.get(INVOCATION_ID).and_then(|v| v.to_str().ok()).filter(|s| valid(s)) {
        return id.to_string();
    }
    if let Some(tp) = headers.get("traceparent").and_then(|v| v.to_str().ok()) {
        let parts: Vec<&str> = tp.split('-').collect();
        if parts.len() == 4
            && parts[1].len() == 32
            && parts[1].chars().all(|c| c.is_ascii_hexdigit())
            && parts[1] != "00000000000000000000000000000000"
        {
            return parts[1].to_ascii_lowercase();
        }
    }
    uuid::Uuid::new_v4().simple().to_string()
}

/// How long a request may take: a default, and a longer one for the routes (by path template)
/// that may wait for Claude.
#[derive(Debug, Clone, Default)]
pub struct Timeouts {
    pub default: Duration,
    pub long: Duration,
    pub long_routes: std::collections::HashSet<&'static str>,
}

impl Timeouts {
    fn for_request(&self, req: &Request) -> Duration {
        match req.extensions().get::<MatchedPath>() {
            Some(p) if self.long_routes.contains(p.as_str()) => self.long,
            _ => self.default,
        }
    }
}

/// Outermost middleware: trace id, span, timeout, access log and error log.
pub async fn request_context(State(timeouts): State<Arc<Timeouts>>, req: Request, next: Next) -> Response {
    let timeout = timeouts.for_request(&req);
    let trace = trace_id_from(req.headers());
    let span = tracing::info_span!(
        "request",
        trace_id = %trace,
        method = %req.method(),
        route = Empty,
        status = Empty,
    );
    let started = Instant::now();
    let fut = async move {
        let mut res = match tokio::time::timeout(timeout, next.run(req)).await {
            Ok(res) => res,
            Err(_) => ApiError::Timeout.into_response(),
        };
        let status = res.status();
        tracing::Span::current().record("status", status.as_u16());
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        if let Some(LoggedCause(cause)) = res.extensions_mut().remove::<LoggedCause>() {
            // `{:#}` prints the whole context chain; causes carry no personal data by rule.
            tracing::error!(elapsed_ms, error = format!("{cause:#}"), "request failed");
        } else if status.is_server_error() {
            tracing::warn!(elapsed_ms, "request answered with a server error");
        } else {
            tracing::debug!(elapsed_ms, "request served");
        }
        res
    };
    let mut res = TRACE_ID.scope(trace.clone(), fut.instrument(span)).await;
    if let Ok(v) = HeaderValue::from_str(&trace) {
        res.headers_mut().insert(TRACE_HEADER, v);
    }
    res
}

/// The request body limits: a default, and the routes (by path template) that differ.
#[derive(Debug, Clone, Default)]
pub struct BodyLimits {
    pub default: usize,
    pub per_route: HashMap<&'static str, usize>,
    /// Routes whose handlers stream their bodies (`Routes::route_streaming`).
    pub streamed: std::collections::HashSet<&'static str>,
}

impl BodyLimits {
    fn for_request(&self, req: &Request) -> usize {
        req.extensions()
            .get::<MatchedPath>()
            .and_then(|p| self.per_route.get(p.as_str()))
            .copied()
            .unwrap_or(self.default)
    }

    fn streams(&self, req: &Request) -> bool {
        req.extensions().get::<MatchedPath>().is_some_and(|p| self.streamed.contains(p.as_str()))
    }
}

/// Holds every request body to its route's limit, before any handler runs: a body announced
/// larger is refused unread, and a body without a length (chunked) is read up to the limit and
/// refused the same way when it goes past it. Either way a 413 in the API's error shape. A route
/// that streams its body gets it unread, wrapped so that reading past the limit fails
/// (`http_body_util::LengthLimitError`), and answers the 413 itself.
pub async fn limit_body(State(limits): State<Arc<BodyLimits>>, req: Request, next: Next) -> Response {
    let limit = limits.for_request(&req);
    let announced = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match announced {
        Some(n) if n > limit as u64 => return ApiError::PayloadTooLarge.into_response(),
        Some(_) => return next.run(req).await,
        None => {}
    }
    if limits.streams(&req) {
        let (parts, body) = req.into_parts();
        let limited = axum::body::Body::new(http_body_util::Limited::new(body, limit));
        return next.run(Request::from_parts(parts, limited)).await;
    }
    let (parts, body) = req.into_parts();
    if body.size_hint().upper() == Some(0) {
        return next.run(Request::from_parts(parts, body)).await;
    }
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => next.run(Request::from_parts(parts, axum::body::Body::from(bytes))).await,
        Err(err) => {
            if err.into_inner().is::<http_body_util::LengthLimitError>() {
                ApiError::PayloadTooLarge.into_response()
            } else {
                ApiError::bad_request("BAD_BODY", "요청 본문을 읽을 수 없습니다.").into_response()
            }
        }
    }
}

/// Answers that say nothing of their caching are not to be stored anywhere (RFC 9111 §5.2.2.5):
/// tokens (RFC 6749 §5.1), profiles, exports, health data. A route that may be cached says so.
pub async fn no_store_by_default(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    res.headers_mut()
        .entry(axum::http::header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    res
}

/// Records the matched route template (never the raw path, which can hold ids) on the span.
pub async fn record_route(req: Request, next: Next) -> Response {
    if let Some(path) = req.extensions().get::<MatchedPath>() {
        tracing::Span::current().record("route", path.as_str());
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use axum::{Router, body::Body, middleware, routing::get};
    use tower::ServiceExt as _;

    use super::*;

    async fn answer(router: Router, uri: &str) -> (axum::http::StatusCode, serde_json::Value) {
        let res = router.oneshot(axum::http::Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or_default())
    }

    fn timeouts(default: Duration, long: Duration, long_routes: &[&'static str]) -> Arc<Timeouts> {
        Arc::new(Timeouts { default, long, long_routes: long_routes.iter().copied().collect() })
    }

    fn sleeping(ms: u64) -> axum::routing::MethodRouter {
        get(move || async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            "late"
        })
    }

    #[tokio::test]
    async fn a_request_over_its_time_is_cut_off_with_a_503_in_the_error_shape() {
        let t = timeouts(Duration::from_millis(50), Duration::from_secs(9), &[]);
        let router = Router::new()
            .route("/slow", sleeping(5000))
            .layer(middleware::from_fn_with_state(t, request_context));
        let started = Instant::now();
        let (status, body) = answer(router, "/slow").await;
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(status, 503);
        assert_eq!(body["code"], "TIMEOUT");
        assert_eq!(body["traceId"].as_str().map(str::len), Some(32));
    }

    #[tokio::test]
    async fn a_long_route_gets_the_long_timeout_and_the_others_keep_the_default() {
        let t = timeouts(Duration::from_millis(100), Duration::from_millis(2000), &["/ai/{x}"]);
        let router = Router::new()
            .route("/ai/{x}", sleeping(300))
            .route("/plain", sleeping(300))
            .layer(middleware::from_fn_with_state(t, request_context));
        assert_eq!(answer(router.clone(), "/ai/one").await.0, 200);
        assert_eq!(answer(router, "/plain").await.0, 503);
    }

    #[tokio::test]
    async fn a_panicking_handler_is_an_opaque_500_not_a_dropped_connection() {
        let router = Router::new()
            .route("/boom", get(|| async { if true { panic!("secret detail") } else { "never" } }))
            .layer(tower_http::catch_panic::CatchPanicLayer::custom(crate::http::error::panic_response))
            .layer(middleware::from_fn_with_state(
                timeouts(Duration::from_secs(5), Duration::from_secs(5), &[]),
                request_context,
            ));
        let (status, body) = answer(router, "/boom").await;
        assert_eq!(status, 500);
        assert_eq!(body["code"], "INTERNAL_ERROR");
        assert!(!body.to_string().contains("secret"));
    }

    #[test]
    fn the_invocation_id_wins_over_traceparent() {
        let mut h = HeaderMap::new();
        h.insert(INVOCATION_ID, "6f1c2d3e-aaaa-bbbb-cccc-1234567890ab".parse().unwrap());
        h.insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap());
        assert_eq!(trace_id_from(&h), "6f1c2d3e-aaaa-bbbb-cccc-1234567890ab");
        h.remove(INVOCATION_ID);
        assert_eq!(trace_id_from(&h), "4bf92f3577b34da6a3ce929d0e0e4736");
    }

    #[test]
    fn malformed_ids_are_replaced_not_echoed() {
        let mut h = HeaderMap::new();
        h.insert(INVOCATION_ID, "<script>".parse().unwrap());
        h.insert("traceparent", "00-zz-00-01".parse().unwrap());
        let id = trace_id_from(&h);
        assert_eq!(id.len(), 32);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
