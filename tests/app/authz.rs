//! The authorization matrix: every operation the OpenAPI document protects × (no token, an
//! expired token, a tampered token, a deleted user's token, another user's token). The list of
//! operations is read from the document the app serves, so a new route joins the matrix by
//! being documented (and `catalog.rs` fails a route that is not).
//!
//! The first four are refused with 401 before any handler runs. Another user's token reaches
//! the handlers with the owner's ids everywhere a request can carry them (path, query, body):
//! every answer must be free of the owner's ids and name, an id in the path must be a 404, and
//! at the end the owner's data is exactly as it was.

use axum::{
    body::Body,
    http::{Method, Request, StatusCode},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::issuer::sign_hs256;
use crate::support::{TestApp, User, spawn_with};

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
const SETTINGS: &[(&str, &str)] = &[
    ("DEV_LOGIN_ENABLED", "true"),
    ("SAMPLE_APPROVAL_DELAY_SECS", "0"),
    ("AUTH_SIGNING_KEYS", "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"),
];
const OWNERS_WORDS: &str = "오늘 저녁은 뭘 먹으면 좋을까요?";
const PDF: &[u8] = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n";

/// Signed in, registered as `name`, with every consent granted.
async fn someone(app: &TestApp, email: &str, name: &str) -> User {
    let reg = json!({ "name": name, "birthDate": "1981-04-05", "sex": "FEMALE", "occupation": "사무직" });
    let u = app.sign_in_and_register_as(email, reg).await;
    app.consent(&u, &["HEALTH_DATA", "AI_OVERSEAS_TRANSFER"], true).await;
    u
}

/// The owner's resources: every id a request of another user could name.
struct Owned {
    checkup: String,
    file: String,
    job: String,
    session: String,
    notification: String,
    mission: &'static str,
}

async fn owner_with_everything(app: &TestApp) -> (User, Owned) {
    let a = someone(app, "owner@example.com", "주인공일").await;
    let t = &a;
    let entry = json!({ "checkupDate": "2025-10-01", "height": 160.0, "weight": 55.0, "systolic": 118, "diastolic": 76 });
    let c = app.call(t, Method::POST, "/api/health/checkups", Some(entry)).await;
    assert_eq!(c.status, StatusCode::CREATED, "{}", c.text);
    let checkup = c.body["data"]["id"].as_str().or(c.body["data"]["checkupId"].as_str()).unwrap().to_string();
    let f = app
        .send(
            Request::builder()
                .method(Method::POST)
                .uri("/api/health/checkup/files?fileName=owner.pdf")
                .header("authorization", format!("Bearer {}", a.token()))
                .header("content-type", "application/octet-stream")
                .body(Body::from(PDF.to_vec()))
                .unwrap(),
        )
        .await;
    assert_eq!(f.status, StatusCode::CREATED, "{}", f.text);
    let file = f.body["data"]["id"].as_str().unwrap().to_string();
    let s = app
        .call(
            t,
            Method::POST,
            "/api/health/checkup/sync",
            Some(json!({ "loginType": "KAKAO", "phoneNumber": "010-1234-5678" })),
        )
        .await;
    assert_eq!(s.status, StatusCode::ACCEPTED, "{}", s.text);
    let job = s.body["data"]["jobId"].as_str().unwrap().to_string();
    let mission = "water-8-cups";
    let sel = app
        .call(t, Method::POST, "/api/goals/missions/select", Some(json!({ "selectedMissionIds": [mission] })))
        .await;
    assert!(sel.status.is_success(), "{}", sel.text);
    let chat = app
        .call(
            t,
            Method::POST,
            "/api/intelligence/chat/consultation",
            Some(json!({ "message": OWNERS_WORDS })),
        )
        .await;
    assert_eq!(chat.status, StatusCode::OK, "{}", chat.text);
    let session = chat.body["data"]["sessionId"].as_str().unwrap().to_string();
    let inbox = app.call(t, Method::GET, "/api/notifications", None).await;
    let notification = inbox.body["data"]["notifications"][0]["id"]
        .as_str()
        .map(str::to_string)
        // No notification yet: an id that exists for no one still has to be a 404.
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    (a, Owned { checkup, file, job, session, notification, mission })
}

/// Every operation of the document: (method, path template, security scheme names, its
/// parameters).
fn operations(doc: &Value) -> Vec<(Method, String, Vec<String>, Vec<Value>)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (m, op) in item.as_object().unwrap() {
            let Ok(method) = m.to_uppercase().parse::<Method>() else { continue };
            if !matches!(method, Method::GET | Method::POST | Method::PUT | Method::PATCH | Method::DELETE) {
                continue;
            }
            let schemes = op["security"]
                .as_array()
                .map(|s| s.iter().flat_map(|r| r.as_object().unwrap().keys().cloned()).collect())
                .unwrap_or_default();
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            out.push((method, path.clone(), schemes, params));
        }
    }
    out
}

/// The concrete request for `path` naming the owner's resources wherever it can.
fn aimed_at(owner: &User, owned: &Owned, path: &str, params: &[Value]) -> (String, Value) {
    let mut uri = path.to_string();
    for p in params.iter().filter(|p| p["in"] == "path") {
        let name = p["name"].as_str().unwrap();
        let value = match name {
            "missionId" => owned.mission.to_string(),
            "jobId" | "job_id" => owned.job.clone(),
            _ if path.contains("/checkups/") => owned.checkup.clone(),
            _ if path.contains("/files/") => owned.file.clone(),
            _ if path.contains("/notifications/") => owned.notification.clone(),
            other => panic!("a path parameter this matrix does not know how to aim: {other} in {path}"),
        };
        uri = uri.replace(&format!("{{{name}}}"), &value);
    }
    let query: Vec<String> = params
        .iter()
        .filter(|p| p["in"] == "query")
        .filter_map(|p| match p["name"].as_str().unwrap() {
            "sessionId" => Some(format!("sessionId={}", owned.session)),
            "userId" => Some(format!("userId={}", owner.id)),
            "checkupId" => Some(format!("checkupId={}", owned.checkup)),
            _ => None,
        })
        .collect();
    if !query.is_empty() {
        uri = format!("{uri}?{}", query.join("&"));
    }
    let body = json!({
        "userId": owner.id, "sessionId": owned.session, "checkupId": owned.checkup, "fileId": owned.file,
        "jobId": owned.job, "goalId": owned.checkup, "missionId": owned.mission, "message": "안녕하세요",
        "selectedMissionIds": [owned.mission], "reason": "다시 고를래요", "completed": true,
    });
    (uri, body)
}

/// What the owner can see of their own data, minus the moments it was read.
async fn owners_view(app: &TestApp, owner: &User, owned: &Owned) -> Vec<(String, StatusCode, Value)> {
    let mut seen = Vec::new();
    for uri in [
        "/api/users/profile".to_string(),
        format!("/api/health/checkups/{}", owned.checkup),
        "/api/health/checkup/history".to_string(),
        "/api/health/checkup/files".to_string(),
        "/api/goals/missions/active".to_string(),
        format!("/api/intelligence/chat/history?sessionId={}", owned.session),
        "/api/notifications".to_string(),
        "/api/users/me/consents".to_string(),
    ] {
        let a = app.call(&owner, Method::GET, &uri, None).await;
        let mut body = a.body.clone();
        strip_times(&mut body);
        seen.push((uri, a.status, body));
    }
    let f = app.call(&owner, Method::GET, &format!("/api/health/checkup/files/{}", owned.file), None).await;
    seen.push(("file".into(), f.status, json!(f.text.len())));
    seen
}

fn strip_times(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|k, _| !matches!(k.as_str(), "timestamp" | "traceId" | "generatedAt" | "servedAt"));
            m.values_mut().for_each(strip_times);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_times),
        _ => {}
    }
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[sqlx::test]
async fn every_protected_operation_refuses_bad_tokens_and_never_serves_another_users_data(pool: PgPool) {
    let app = spawn_with(pool, SETTINGS);
    let doc = app.get(None, "/api/openapi.json").await.body;
    let ops = operations(&doc);
    let bearer: Vec<_> = ops.iter().filter(|o| o.2.iter().any(|s| s == "bearer")).collect();
    assert!(bearer.len() >= 25, "the document protects {} operations", bearer.len());

    let (owner, owned) = owner_with_everything(&app).await;
    let other = someone(&app, "other@example.com", "다른사람이").await;
    let gone = someone(&app, "gone@example.com", "떠난사람이").await;
    let bye = app.call(&gone, Method::DELETE, "/api/users/me", None).await;
    assert!(bye.status.is_success(), "{}", bye.text);

    // The owner's own token, re-signed with the right key but an expiry in the past; and with the
    // subject changed to the other user's id but the owner's signature kept.
    let now = chrono::Utc::now().timestamp();
    let mut c = claims_of(&owner.token());
    c["iat"] = json!(now - 1800);
    c["exp"] = json!(now - 900);
    let expired = sign_hs256(SECRET, "k1", &c);
    let mut parts: Vec<String> = owner.token().split('.').map(str::to_string).collect();
    let mut c = claims_of(&owner.token());
    c["sub"] = json!(other.id);
    parts[1] = URL_SAFE_NO_PAD.encode(c.to_string());
    let tampered = parts.join(".");

    let before = owners_view(&app, &owner, &owned).await;
    let mut tried = 0;
    for (method, path, _, params) in &bearer {
        let (uri, body) = aimed_at(&owner, &owned, path, params);
        let body = (*method != Method::GET).then_some(&body);
        for (case, token) in
            [("no token", None), ("expired", Some(expired.as_str())), ("tampered", Some(tampered.as_str()))]
        {
            let a = app.call(token, method.clone(), &uri, body.cloned()).await;
            assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{case}: {method} {path}: {}", a.text);
            assert!(a.headers.contains_key("www-authenticate"), "{case}: {method} {path}");
            tried += 1;
        }
        let a = app.call(&gone, method.clone(), &uri, body.cloned()).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "a deleted user's token: {method} {path}: {}", a.text);
        tried += 1;
    }

    // Another user's token, aimed at the owner's resources. Operations that end the caller's own
    // account or session go last: they act on the caller by construction.
    let mut order: Vec<_> = bearer.iter().collect();
    order.sort_by_key(|(m, p, _, _)| (*m == Method::DELETE && p == "/api/users/me") as u8);
    // A chat session id is a name the app chooses, per user: the same string from another user
    // names that user's own (empty) conversation, so it may come back; the owner's words may not.
    let markers = [&owner.id, &owned.checkup, &owned.file, &owned.job];
    for (method, path, _, params) in order {
        let (uri, body) = aimed_at(&owner, &owned, path, params);
        let body = (*method != Method::GET).then_some(&body);
        let a = app.call(&other, method.clone(), &uri, body.cloned()).await;
        assert!(!a.status.is_server_error(), "{method} {path}: {} {}", a.status, a.text);
        for m in markers {
            assert!(
                !a.text.contains(m.as_str()),
                "{method} {path} answered with the owner's {m}: {}",
                a.text
            );
        }
        assert!(!a.text.contains("주인공일"), "{method} {path} answered with the owner's name");
        assert!(!a.text.contains(OWNERS_WORDS), "{method} {path} answered with the owner's chat");
        // A mission id names a catalogue entry, not the owner's: the caller acts on its own goal.
        let names_a_resource = params.iter().any(|p| p["in"] == "path" && p["name"] != "missionId");
        if names_a_resource {
            assert_eq!(a.status, StatusCode::NOT_FOUND, "{method} {path} with the owner's id: {}", a.text);
        }
        tried += 1;
    }
    let after = owners_view(&app, &owner, &owned).await;
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b, a, "the owner's {} changed under another user's requests", b.0);
    }
    assert!(before.iter().all(|(_, s, _)| s.is_success()), "{before:?}");

    // Operator operations take a function key, which the Functions host (and `healthsync dev`'s
    // front) checks before the handler sees the request: their bindings must demand it.
    let operator: Vec<_> = ops.iter().filter(|o| o.2.iter().any(|s| s == "functionKey")).collect();
    assert!(!operator.is_empty());
    for (_, path, _, _) in operator {
        let route = path.trim_start_matches("/api/");
        let bound = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/functions"))
            .unwrap()
            .map(|e| std::fs::read_to_string(e.unwrap().path().join("function.json")).unwrap_or_default())
            .filter_map(|t| serde_json::from_str::<Value>(&t).ok())
            .flat_map(|f| f["bindings"].as_array().cloned().unwrap_or_default())
            .find(|b| b["type"] == "httpTrigger" && b["route"] == route)
            .unwrap_or_else(|| panic!("no function binds {path}"));
        assert_eq!(bound["authLevel"], "function", "{path} is documented behind a function key");
    }
    assert!(tried >= 125, "{tried} requests");
}
