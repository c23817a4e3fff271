//! The public side of the local host: HTTP on :7071 like `func start`. A request path is checked
//! before anything else (no dot segment, encoded or not; no encoded slash or backslash; under
//! `/api/`), matched against the HTTP functions' route templates and methods, then forwarded to
//! the handler at exactly that path, body streamed, with an invocation id and the peer's address
//! appended to `X-Forwarded-For`, as the platform's front ends do. `/admin/...` offers what the
//! real host's admin API does for local work: host status, and running a timer by hand. Refusals
//! use the API's error shape.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    Json, Router,
    body::Body,
    extract::{ConnectInfo, Path, Request, State},
    http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use futures::TryStreamExt as _;
use serde_json::{Value, json};

use super::{handler::Handler, timers};
use crate::{
    functions::{FunctionDef, Trigger},
    http::{ApiError, context::INVOCATION_ID},
};

/// The Functions host's own limit on a request body (`maxRequestBodySize`, 100 MB).
const MAX_BODY: u64 = 100 << 20;

/// The front's state: the handler it forwards to, the functions it knows and the function key
/// that HTTP functions with authLevel `function` demand.
#[derive(Clone)]
pub struct Front {
    handler: Handler,
    functions: Arc<[FunctionDef]>,
    function_key: Arc<str>,
}

/// The app setting holding the local host's function key (else one is made up at start and
/// printed).
pub const FUNCTION_KEY_SETTING: &str = "LOCAL_FUNCTION_KEY";

pub fn router(handler: Handler, functions: Vec<FunctionDef>, function_key: &str) -> Router {
    Router::new()
        .route("/admin/host/status", get(status))
        .route("/admin/functions/{name}", post(run_function))
        .fallback(forward)
        .with_state(Front { handler, functions: functions.into(), function_key: function_key.into() })
}

/// Whether a request carries `key` as the Functions host accepts it: the `x-functions-key`
/// header or the `code` query parameter.
pub fn has_function_key(headers: &HeaderMap, query: Option<&str>, key: &str) -> bool {
    let equal = |given: &[u8]| {
        given.len() == key.len()
            && given.iter().zip(key.as_bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    };
    if headers.get_all("x-functions-key").iter().any(|v| equal(v.as_bytes())) {
        return true;
    }
    query
        .into_iter()
        .flat_map(|q| url::form_urlencoded::parse(q.as_bytes()))
        .any(|(k, v)| k == "code" && equal(v.as_bytes()))
}

async fn status(State(Front { handler: h, functions, .. }): State<Front>) -> Json<Value> {
    Json(json!({
        "state": if h.is_ready() { "Running" } else { "Initialized" },
        "handlerPid": h.pid(),
        "handlerPort": h.port,
        "handlerRestarts": h.restarts(),
        "functions": functions.iter().map(|d| d.name).collect::<Vec<_>>(),
    }))
}

/// `POST /admin/functions/{name}`: runs a timer function now. Consumers get their messages from
/// the queue only, and HTTP functions are called at their route.
async fn run_function(State(front): State<Front>, Path(name): Path<String>) -> Response {
    let Some(def) = front.functions.iter().find(|d| d.name.eq_ignore_ascii_case(&name)) else {
        return ApiError::not_found("그런 함수가 없습니다.").into_response();
    };
    if !matches!(def.trigger, Trigger::Timer { .. }) {
        return ApiError::bad_request("NOT_A_TIMER", "타이머 함수만 직접 실행할 수 있습니다.")
            .into_response();
    }
    let now = chrono::Utc::now();
    timers::fire(&front.handler, def.name, timers::timer_invocation(None, now, false)).await;
    StatusCode::ACCEPTED.into_response()
}

/// Why a path is refused before routing.
#[derive(Debug, PartialEq, Eq)]
pub enum PathRefusal {
    /// A dot segment, an encoded slash or backslash, a NUL or an empty segment.
    Unsafe,
    /// Not under `/api/`.
    NotApi,
}

/// Checks a raw request path the way the platform must before routing: every segment
/// percent-decoded, and none of them may be `.` or `..` or hold a slash, a backslash or a NUL;
/// the path must stay under `/api/`. A path that passes is forwarded as it is, so what was
/// matched is what the handler sees.
pub fn check_path(raw: &str) -> Result<(), PathRefusal> {
    let rest = raw.strip_prefix('/').ok_or(PathRefusal::Unsafe)?;
    for (i, segment) in rest.split('/').enumerate() {
        let decoded = percent_encoding::percent_decode_str(segment).collect::<Vec<u8>>();
        let unsafe_segment =
            decoded == b"." || decoded == b".." || decoded.iter().any(|b| matches!(b, b'/' | b'\\' | 0));
        let empty_inside = segment.is_empty() && i + 1 < rest.split('/').count();
        if unsafe_segment || empty_inside {
            return Err(PathRefusal::Unsafe);
        }
    }
    if raw == "/api" || raw.starts_with("/api/") { Ok(()) } else { Err(PathRefusal::NotApi) }
}

/// The function serving `method` at `path` (under `/api/`), or the methods the path allows.
pub fn route_for(
    defs: &[FunctionDef],
    method: &Method,
    path: &str,
) -> Result<&'static str, Vec<&'static str>> {
    let rest = path.strip_prefix("/api/").or_else(|| (path == "/api").then_some("")).unwrap_or(path);
    // HEAD is GET without a body, as everywhere.
    let wanted = if method == Method::HEAD { "get" } else { method.as_str() };
    let mut allowed = Vec::new();
    for def in defs {
        if let Trigger::Http { methods, .. } = def.trigger
            && def.http_route_matches(rest)
        {
            if methods.iter().any(|m| m.eq_ignore_ascii_case(wanted)) {
                return Ok(def.name);
            }
            allowed.extend(methods.iter().copied());
        }
    }
    Err(allowed)
}

/// The `Allow` value for a function's methods, written as the handler's router writes it (axum):
/// upper case, comma-separated without spaces, `HEAD` right after `GET`, each once.
pub fn allow_value(allowed: &[&str]) -> String {
    let mut out: Vec<String> = Vec::new();
    for m in allowed {
        let m = m.to_ascii_uppercase();
        let implied = (m == "GET").then(|| "HEAD".to_string());
        for m in std::iter::once(m).chain(implied) {
            if !out.contains(&m) {
                out.push(m);
            }
        }
    }
    out.join(",")
}

fn method_not_allowed(allowed: &[&str]) -> Response {
    let mut res = ApiError::MethodNotAllowed.into_response();
    if let Ok(v) = HeaderValue::from_str(&allow_value(allowed)) {
        res.headers_mut().insert(header::ALLOW, v);
    }
    res
}

/// `X-Forwarded-For` as the platform passes it on: whatever the client sent, then the peer.
fn forwarded_for(headers: &HeaderMap, peer: Option<SocketAddr>) -> Option<HeaderValue> {
    let peer = peer?.ip().to_string();
    let sent: Vec<&str> = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect();
    let value = if sent.is_empty() { peer } else { format!("{}, {peer}", sent.join(", ")) };
    HeaderValue::from_str(&value).ok()
}

async fn forward(
    State(Front { handler: h, functions, function_key }): State<Front>,
    req: Request,
) -> Response {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    let (parts, body) = req.into_parts();
    let path = parts.uri.path();
    match check_path(path) {
        Ok(()) => {}
        Err(PathRefusal::Unsafe) => {
            return ApiError::bad_request("BAD_PATH", "요청 주소가 올바르지 않습니다.").into_response();
        }
        Err(PathRefusal::NotApi) => {
            return ApiError::not_found("요청한 주소를 찾을 수 없습니다.").into_response();
        }
    }
    match route_for(&functions, &parts.method, path) {
        Ok(name) => {
            let keyed = functions.iter().any(|d| {
                d.name == name
                    && matches!(d.trigger, Trigger::Http { auth: crate::functions::AuthLevel::Function, .. })
            });
            if keyed && !has_function_key(&parts.headers, parts.uri.query(), &function_key) {
                return ApiError::Unauthorized {
                    code: "FUNCTION_KEY_REQUIRED",
                    message: "함수 키가 필요합니다 (x-functions-key 헤더 또는 code 쿼리).".into(),
                }
                .into_response();
            }
        }
        Err(allowed) if allowed.is_empty() => {
            return ApiError::not_found("요청한 주소를 찾을 수 없습니다.").into_response();
        }
        Err(allowed) => return method_not_allowed(&allowed),
    }
    let announced = parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok());
    if announced.and_then(|v| v.parse::<u64>().ok()).is_some_and(|n| n > MAX_BODY) {
        return ApiError::PayloadTooLarge.into_response();
    }
    if !h.wait_ready(Duration::from_secs(30)).await {
        return ApiError::Unavailable { dependency: "handler", source: None }.into_response();
    }
    let target = format!("{}{}", h.base, parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or(path));
    // The body is streamed, never held whole; past the host's limit the stream fails.
    let limited = http_body_util::Limited::new(body, MAX_BODY as usize);
    let stream = http_body_util::BodyDataStream::new(limited);
    let mut out = h.client().request(parts.method.clone(), target).body(reqwest::Body::wrap_stream(stream));
    for (k, v) in &parts.headers {
        // The invocation id is the host's to set, and X-Forwarded-For the platform's to extend.
        if !is_hop_by_hop(k) && k.as_str() != INVOCATION_ID && k.as_str() != "x-forwarded-for" {
            out = out.header(k, v);
        }
    }
    if let Some(xff) = forwarded_for(&parts.headers, peer) {
        out = out.header("x-forwarded-for", xff);
    }
    out = out.header(INVOCATION_ID, uuid::Uuid::new_v4().to_string());
    match out.timeout(Duration::from_secs(230)).send().await {
        Ok(res) => {
            let mut answer = Response::builder().status(res.status());
            for (k, v) in res.headers() {
                if !is_hop_by_hop(k) {
                    answer = answer.header(k, v);
                }
            }
            let stream = res.bytes_stream().map_err(std::io::Error::other);
            answer.body(Body::from_stream(stream)).unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
        }
        Err(err) if err.is_body() || err.is_request() => ApiError::PayloadTooLarge.into_response(),
        // The real host answers 500 when the handler cannot be reached.
        Err(_) => ApiError::from(anyhow::anyhow!("the handler could not be reached")).into_response(),
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
            | "proxy-connection"
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
    fn a_function_key_is_read_from_the_header_or_the_code_parameter() {
        let mut h = HeaderMap::new();
        assert!(!has_function_key(&h, None, "k3y"));
        assert!(has_function_key(&h, Some("a=1&code=k3y"), "k3y"));
        assert!(!has_function_key(&h, Some("code=k3"), "k3y"));
        h.insert("x-functions-key", HeaderValue::from_static("k3y"));
        assert!(has_function_key(&h, None, "k3y"));
        h.insert("x-functions-key", HeaderValue::from_static("k3yy"));
        assert!(!has_function_key(&h, None, "k3y"));
    }

    #[test]
    fn requests_are_matched_to_functions_by_template_and_method() {
        let defs = [
            http("System", "system/{*path}", &["get", "post"]),
            http("OpenApi", "openapi.json", &["get"]),
            FunctionDef { name: "HeartbeatTally", trigger: Trigger::Timer { schedule: "0 0 0 * * *" } },
        ];
        assert_eq!(route_for(&defs, &Method::GET, "/api/system/live"), Ok("System"));
        assert_eq!(route_for(&defs, &Method::HEAD, "/api/openapi.json"), Ok("OpenApi"));
        assert_eq!(route_for(&defs, &Method::DELETE, "/api/openapi.json"), Err(vec!["get"]));
        assert_eq!(route_for(&defs, &Method::GET, "/api/nothing/here"), Err(vec![]));
        assert_eq!(route_for(&defs, &Method::POST, "/HeartbeatTally"), Err(vec![]));
    }

    #[test]
    fn paths_that_could_leave_api_are_refused_before_routing() {
        for bad in [
            "/api/users/../../UserFilesEraser",
            "/api/users/%2e%2e/%2e%2e/UserFilesEraser",
            "/api/users/%2E%2e/x",
            "/api/./users",
            "/api/users/%2f..%2fx",
            "/api/users/..%5c..%5cx",
            "/api//users",
            "/api/users/%00",
        ] {
            assert_eq!(check_path(bad), Err(PathRefusal::Unsafe), "{bad}");
        }
        assert_eq!(check_path("/UserFilesEraser"), Err(PathRefusal::NotApi));
        assert_eq!(check_path("/apix/users"), Err(PathRefusal::NotApi));
        for good in ["/api/users/profile", "/api/health/checkups/5%20x", "/api/users/", "/api"] {
            assert_eq!(check_path(good), Ok(()), "{good}");
        }
    }
}
