//! Hostile and careless input (issue 21), as regressions: every string field of the OpenAPI
//! document (body, query, path) sent NUL, bidirectional overrides, tag characters, fillers and
//! separators is refused with a 4xx or accepted clean, never a 5xx; and the contract's leftovers
//! (ONBOARDING_REQUIRED and the dev-login's 429 documented, an empty `items=` refused, the local
//! front's `Allow` equal to the handler's, heartbeats written over HTTP only locally).

use std::collections::BTreeMap;

use axum::{
    body::Body,
    http::{Method, Request, StatusCode},
};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::{Answer, TestApp, app_with, call, send, spawn_with};

/// What a careless or hostile client types: NUL, a right-to-left override, a tag letter, Hangul
/// fillers, a zero-width space, a line separator, a lone variation selector and joiner.
const HOSTILE: &[&str] = &[
    "a\u{0}b",
    "invoice\u{202E}gnp.exe",
    "a\u{E0041}b",
    "\u{3164}",
    "\u{115F}\u{1160}",
    "\u{200B}\u{200B}",
    "a\u{2028}b",
    "a\u{FE0F}\u{200D}b",
];

/// Where a string goes in a request.
#[derive(Debug, Clone)]
enum Slot {
    Query(String),
    Path(String),
    /// A JSON pointer into the body (`/consents/0/version`).
    Body(String),
}

#[derive(Debug, Clone)]
struct Operation {
    method: Method,
    path: String,
    secured: bool,
    json_body: bool,
    slots: Vec<Slot>,
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap();
            resolve(doc, &doc["components"]["schemas"][name])
        }
        None => schema,
    }
}

fn is_type(schema: &Value, t: &str) -> bool {
    match &schema["type"] {
        Value::String(s) => s == t,
        Value::Array(ts) => ts.iter().any(|x| x == t),
        _ => false,
    }
}

/// Every string inside a JSON schema, as pointers (arrays through their first item; `oneOf`,
/// `anyOf` and `allOf` through each branch).
fn string_pointers(doc: &Value, schema: &Value, at: &str, out: &mut Vec<String>, depth: usize) {
    let schema = resolve(doc, schema);
    if depth > 6 {
        return;
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        for branch in schema[key].as_array().into_iter().flatten() {
            string_pointers(doc, branch, at, out, depth + 1);
        }
    }
    if is_type(schema, "string") && !out.contains(&at.to_string()) {
        out.push(at.to_string());
    }
    if is_type(schema, "array") {
        string_pointers(doc, &schema["items"], &format!("{at}/0"), out, depth + 1);
    }
    if let Some(props) = schema["properties"].as_object() {
        for (name, prop) in props {
            string_pointers(doc, prop, &format!("{at}/{name}"), out, depth + 1);
        }
    }
}

fn operations(doc: &Value) -> Vec<Operation> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Ok(method) = method.to_uppercase().parse::<Method>() else { continue };
            let mut slots = Vec::new();
            for p in op["parameters"].as_array().into_iter().flatten() {
                let schema = resolve(doc, &p["schema"]);
                let mut strings = Vec::new();
                string_pointers(doc, schema, "", &mut strings, 0);
                if strings.is_empty() {
                    continue;
                }
                let name = p["name"].as_str().unwrap().to_string();
                match p["in"].as_str() {
                    Some("query") => slots.push(Slot::Query(name)),
                    Some("path") => slots.push(Slot::Path(name)),
                    _ => {}
                }
            }
            let json_schema = &op["requestBody"]["content"]["application/json"]["schema"];
            let json_body = !json_schema.is_null();
            if json_body {
                let mut pointers = Vec::new();
                string_pointers(doc, json_schema, "", &mut pointers, 0);
                slots.extend(pointers.into_iter().map(Slot::Body));
            }
            let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
            out.push(Operation { method, path: path.clone(), secured, json_body, slots });
        }
    }
    out
}

/// A request each operation accepts (or refuses for a reason other than a string), which the
/// walk then spoils one string at a time.
fn base(
    op: &Operation,
    ids: &BTreeMap<&str, String>,
) -> (Value, BTreeMap<String, String>, BTreeMap<String, String>) {
    let today = chrono::Utc::now().with_timezone(&chrono_tz_seoul()).format("%Y-%m-%d").to_string();
    let body = match (op.method.as_str(), op.path.as_str()) {
        ("POST", "/api/auth/login") => json!({"idToken": "x.y.z"}),
        ("POST", "/api/auth/refresh") | ("POST", "/api/auth/logout") => {
            json!({"refreshToken": "not-a-token"})
        }
        ("POST", "/api/auth/dev-login") => json!({"email": "walk@example.com"}),
        ("POST", "/api/users/register") => {
            json!({"name": "김건강", "birthDate": "1980-01-01", "sex": "FEMALE"})
        }
        ("PATCH", "/api/users/profile") => json!({"name": "김건강", "occupation": "사무직"}),
        ("PUT", "/api/users/me/consents") => {
            json!({"consents": [{"type": "NIGHT_PROMOTIONAL", "granted": true, "version": "2026-11"}]})
        }
        ("POST", "/api/health/checkup/sync") => {
            json!({"loginType": "KAKAO", "phoneNumber": "01012345678", "name": "홍길동", "birthDate": "1970-01-01", "telecom": "SKT"})
        }
        ("POST", "/api/health/checkups") => {
            json!({"checkupDate": "2024-01-02", "weight": 70, "centre": "서울센터"})
        }
        ("POST", "/api/goals/missions/select") => json!({"selectedMissionIds": ["water-8-cups"]}),
        ("POST", "/api/goals/missions/reset") => {
            json!({"reason": "다시 시작", "currentMissionIds": ["water-8-cups"]})
        }
        ("PUT", "/api/goals/missions/{missionId}/complete") => json!({"completed": true, "notes": "메모"}),
        ("POST", "/api/intelligence/missions/recommend") => json!({}),
        ("POST", "/api/intelligence/chat/consultation") => json!({"message": "안녕하세요", "context": "홈"}),
        ("POST", "/api/motivator/notifications/encouragement") => json!({}),
        ("PUT", "/api/notifications/devices") | ("DELETE", "/api/notifications/devices") => {
            json!({"platform": "FCM", "token": "fcm-token-0123456789abcdef"})
        }
        ("POST", "/api/motivator/batch/notifications") => json!({"targetUsers": [uuid::Uuid::nil()]}),
        _ => json!({}),
    };
    let mut query = BTreeMap::new();
    if op.path == "/api/goals/missions/history" {
        query.insert("startDate".to_string(), today.clone());
    }
    let mut path = BTreeMap::new();
    for (name, value) in ids {
        path.insert(name.to_string(), value.clone());
    }
    (body, query, path)
}

/// Seoul (UTC+9, no daylight saving) without a time-zone database.
fn chrono_tz_seoul() -> chrono::FixedOffset {
    chrono::FixedOffset::east_opt(9 * 3600).unwrap()
}

fn set_pointer(body: &mut Value, pointer: &str, value: Value) {
    let mut at = body;
    let parts: Vec<&str> = pointer.trim_start_matches('/').split('/').filter(|p| !p.is_empty()).collect();
    if parts.is_empty() {
        *at = value;
        return;
    }
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let next_is_index = parts.get(i + 1).is_some_and(|p| p.parse::<usize>().is_ok());
        let fresh = || if next_is_index { json!([]) } else { json!({}) };
        at = match part.parse::<usize>() {
            Ok(index) => {
                if !at.is_array() {
                    *at = json!([]);
                }
                let items = at.as_array_mut().unwrap();
                while items.len() <= index {
                    items.push(if last { Value::Null } else { fresh() });
                }
                &mut items[index]
            }
            Err(_) => {
                if !at.is_object() {
                    *at = json!({});
                }
                let map = at.as_object_mut().unwrap();
                if !map.contains_key(*part) || !(last || map[*part].is_object() || map[*part].is_array()) {
                    map.insert(part.to_string(), if last { Value::Null } else { fresh() });
                }
                map.get_mut(*part).unwrap()
            }
        };
    }
    *at = value;
}

fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn request(
    op: &Operation,
    token: &str,
    body: &Value,
    query: &BTreeMap<String, String>,
    path: &BTreeMap<String, String>,
) -> Request<Body> {
    let mut uri = op.path.clone();
    for (name, value) in path {
        uri = uri.replace(&format!("{{{name}}}"), &encode(value));
    }
    if !query.is_empty() {
        let q: Vec<String> = query.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
        uri = format!("{uri}?{}", q.join("&"));
    }
    let mut b = Request::builder().method(op.method.clone()).uri(uri);
    if op.secured {
        b = b.header("authorization", format!("Bearer {token}"));
    }
    if op.json_body {
        b.header("content-type", "application/json").body(Body::from(body.to_string())).unwrap()
    } else {
        b.body(Body::empty()).unwrap()
    }
}

/// A signed-in, registered user with every consent and a goal.
async fn walker(app: &TestApp) -> String {
    let reg = json!({"name": "걷는이", "birthDate": "1980-01-01", "sex": "FEMALE"});
    let u = app.sign_in_and_register_as("walker@example.com", reg).await;
    app.consent(&u, &["HEALTH_DATA", "AI_OVERSEAS_TRANSFER", "NIGHT_PROMOTIONAL"], true).await;
    let select = json!({"selectedMissionIds": ["water-8-cups"]});
    let s = app.post(&u, "/api/goals/missions/select", Some(select)).await;
    assert_eq!(s.status, StatusCode::CREATED, "{}", s.text);
    u.token()
}

#[sqlx::test]
async fn every_string_field_takes_hostile_text_without_a_server_error(pool: PgPool) {
    let t = spawn_with(
        pool.clone(),
        &[
            ("DEV_LOGIN_ENABLED", "true"),
            ("SAMPLE_APPROVAL_DELAY_SECS", "600"),
            ("AUTH_RATE_LIMIT_PER_MINUTE", "10000"),
            ("CHAT_RATE_LIMIT_PER_MINUTE", "1000"),
            ("GOALS_RESET_RATE_LIMIT_PER_HOUR", "1000"),
            ("HEALTH_SYNC_STARTS_PER_HOUR", "100"),
            ("HEALTH_FILES_PER_DAY", "1000"),
        ],
    );
    let app = &t.router;
    let token = walker(&t).await;
    let doc = call(app, Method::GET, "/api/openapi.json", None).await.body;
    let ids: BTreeMap<&str, String> = [
        ("id", uuid::Uuid::now_v7().to_string()),
        ("jobId", uuid::Uuid::now_v7().to_string()),
        ("job_id", uuid::Uuid::now_v7().to_string()),
        ("missionId", "water-8-cups".to_string()),
    ]
    .into_iter()
    .collect();
    let ops = operations(&doc);
    let mut tried = 0;
    let mut failures = Vec::new();
    // The account's erasure last: everything else runs as the walker.
    let (last, first): (Vec<&Operation>, Vec<&Operation>) =
        ops.iter().partition(|o| o.method == Method::DELETE && o.path == "/api/users/me");
    for op in first.into_iter().chain(last) {
        for slot in &op.slots {
            for hostile in HOSTILE {
                let (mut body, mut query, mut path) = base(op, &ids);
                match slot {
                    Slot::Body(pointer) => set_pointer(&mut body, pointer, json!(hostile)),
                    Slot::Query(name) => {
                        query.insert(name.clone(), hostile.to_string());
                    }
                    Slot::Path(name) => {
                        path.insert(name.clone(), hostile.to_string());
                    }
                }
                let a: Answer = send(app, request(op, &token, &body, &query, &path)).await;
                tried += 1;
                let echoed = a.text.contains(hostile) || a.text.contains(&json!(hostile).to_string()[1..]);
                if a.status.is_server_error() || (a.status.is_success() && echoed && hostile.len() > 1) {
                    failures.push(format!(
                        "{} {} {slot:?} {hostile:?}: {} {}",
                        op.method, op.path, a.status, a.text
                    ));
                }
            }
        }
    }
    assert!(tried > 200, "the walk reached the string fields: {tried}");
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
    let kinds: Vec<String> = ops
        .iter()
        .flat_map(|o| o.slots.iter().map(move |s| format!("{} {} {s:?}", o.method, o.path)))
        .collect();
    for expected in ["/fileName", "/centre", "/reason", "/notes", "/message", "/telecom"] {
        let name = expected.trim_start_matches('/');
        assert!(kinds.iter().any(|k| k.contains(name)), "{name} is among the walked fields: {kinds:#?}");
    }
}

#[sqlx::test]
async fn an_empty_trends_item_is_refused(pool: PgPool) {
    let t = spawn_with(pool, &[("DEV_LOGIN_ENABLED", "true")]);
    let token = walker(&t).await;
    for q in ["items=", "items=,", "items=bmi,,bloodPressure"] {
        let req = Request::get(format!("/api/health/trends?{q}"))
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        let a = send(&t.router, req).await;
        assert_eq!(
            (a.status, a.body["errors"][0]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("items")),
            "{q}: {}",
            a.text
        );
    }
    let req = Request::get("/api/health/trends?items=bmi")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&t.router, req).await.status, StatusCode::OK);
}

#[sqlx::test]
async fn onboarding_and_the_dev_logins_limit_are_documented_where_they_answer(pool: PgPool) {
    let t = spawn_with(pool, &[("DEV_LOGIN_ENABLED", "true"), ("AUTH_RATE_LIMIT_PER_MINUTE", "2")]);
    let app = t.router.clone();
    let doc = call(&app, Method::GET, "/api/openapi.json", None).await.body;
    // A signed-in account that has not registered: every secured operation that answers it 403
    // ONBOARDING_REQUIRED documents that answer.
    let token = t.sign_in("pending@example.com").await.token();
    let ids: BTreeMap<&str, String> = [
        ("id", uuid::Uuid::nil().to_string()),
        ("jobId", uuid::Uuid::nil().to_string()),
        ("job_id", uuid::Uuid::nil().to_string()),
        ("missionId", "water-8-cups".to_string()),
    ]
    .into_iter()
    .collect();
    let mut answered = 0;
    for op in operations(&doc)
        .iter()
        .filter(|o| o.secured && !(o.method == Method::DELETE && o.path == "/api/users/me"))
    {
        let (body, query, path) = base(op, &ids);
        let res = send(&app, request(op, &token, &body, &query, &path)).await;
        if res.body["code"] == "ONBOARDING_REQUIRED" {
            answered += 1;
            let documented =
                &doc["paths"][&op.path][op.method.as_str().to_lowercase()]["responses"]["403"]["description"];
            assert!(
                documented.as_str().is_some_and(|d| d.contains("ONBOARDING_REQUIRED")),
                "{} {} answers 403 ONBOARDING_REQUIRED undocumented: {documented}",
                op.method,
                op.path
            );
        }
    }
    assert!(answered >= 10, "most operations need a registered account: {answered}");
    let dev = &doc["paths"]["/api/auth/dev-login"]["post"]["responses"];
    assert!(dev.get("429").is_some(), "{dev}");
    for _ in 0..2 {
        call(&app, Method::POST, "/api/auth/dev-login", Some(json!({"email": "again@example.com"}))).await;
    }
    let limited =
        call(&app, Method::POST, "/api/auth/dev-login", Some(json!({"email": "again@example.com"}))).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS, "{}", limited.text);
}

#[sqlx::test]
async fn the_local_fronts_allow_header_is_the_handlers(pool: PgPool) {
    use healthsync::{functions::Trigger, host::local::front};
    let app = app_with(pool, &[]);
    let mut compared = 0;
    for def in healthsync::app::functions() {
        let Trigger::Http { methods, route, .. } = def.trigger else { continue };
        if methods.len() >= 5 {
            continue; // every method: the front never answers 405 for it
        }
        if route.contains('{') {
            continue;
        }
        let wrong = if methods.iter().any(|m| m.eq_ignore_ascii_case("delete")) {
            Method::PATCH
        } else {
            Method::DELETE
        };
        let a = send(
            &app,
            Request::builder().method(wrong).uri(format!("/api/{route}")).body(Body::empty()).unwrap(),
        )
        .await;
        assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED, "{route}: {}", a.text);
        assert_eq!(a.headers["allow"].to_str().unwrap(), front::allow_value(methods), "{route}");
        compared += 1;
    }
    assert!(compared >= 2, "{compared}");
}

#[sqlx::test]
async fn heartbeats_are_written_over_http_only_outside_azure(pool: PgPool) {
    const SIGNING_KEYS: &str = "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY";
    let azure =
        app_with(pool.clone(), &[("WEBSITE_INSTANCE_ID", "abc"), ("AUTH_SIGNING_KEYS", SIGNING_KEYS)]);
    let a = call(&azure, Method::POST, "/api/system/heartbeats", None).await;
    assert_eq!((a.status, a.body["code"].as_str()), (StatusCode::NOT_FOUND, Some("NOT_FOUND")), "{}", a.text);
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM ops.heartbeats").fetch_one(&pool).await.unwrap();
    assert_eq!(rows, 0);
    let local = app_with(pool.clone(), &[]);
    assert_eq!(call(&local, Method::POST, "/api/system/heartbeats", None).await.status, StatusCode::CREATED);
}
