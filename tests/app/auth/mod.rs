//! Sign-in through the router against a local fake OpenID Connect issuer (wiremock serving a
//! JWKS of RSA keys generated here): Google ID tokens and every way they can be wrong, key
//! rotation and an unreachable issuer, the authorization-code exchange, a second issuer by
//! settings alone, abuse limits, the dev login, and our own access tokens.

mod access_tokens;
mod code;
mod dev;
mod google;
mod jwks;
mod limits;
mod second_issuer;

use crate::support::issuer::{RsaKey, google_settings, serve_jwks};
use crate::support::{Answer, app_with, call, send};
use axum::{
    Router,
    body::Body,
    http::{Method, Request, StatusCode},
};
use serde_json::{Value, json};
use sqlx::PgPool;
use wiremock::MockServer;

/// Our own access-token key, so tests can forge tokens with it and around it.
const SIGNING_KEYS: &str = "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY";
const SIGNING_SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

const B2C_ISSUER: &str = "https://login.example-b2c.test/tenant/v2.0/";
const B2C_AUDIENCE: &str = "b2c-app";

fn assert_error_shape(a: &Answer, status: u16, code: &str) {
    assert_eq!(a.status.as_u16(), status, "{}", a.text);
    let body = &a.body;
    assert_eq!(body["success"], json!(false), "{body}");
    assert_eq!(body["status"], json!(status), "{body}");
    assert_eq!(body["code"], json!(code), "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    assert!(body["traceId"].as_str().is_some_and(|t| t.len() >= 8), "{body}");
}

fn assert_refused(a: &Answer) {
    assert_error_shape(a, 401, "INVALID_CREDENTIAL");
}

fn build(pool: PgPool, settings: &[(String, String)]) -> Router {
    let pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    app_with(pool, &pairs)
}

/// A fake Google serving one key (`google-1`) and the app pointed at it.
struct Google {
    server: MockServer,
    key: RsaKey,
    app: Router,
}

async fn google(pool: PgPool, extra: &[(&str, &str)]) -> Google {
    let server = MockServer::start().await;
    let key = RsaKey::generate("google-1");
    serve_jwks(&server, &[&key]).await;
    let mut settings = google_settings(&server);
    settings.push(("AUTH_SIGNING_KEYS".into(), SIGNING_KEYS.into()));
    settings.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Google { app: build(pool, &settings), server, key }
}

async fn login(app: &Router, id_token: &str) -> Answer {
    call(app, Method::POST, "/api/auth/login", Some(json!({ "idToken": id_token }))).await
}

async fn login_body(app: &Router, body: Value) -> Answer {
    call(app, Method::POST, "/api/auth/login", Some(body)).await
}

async fn login_from(app: &Router, address: &str, id_token: &str) -> Answer {
    let req = Request::post("/api/auth/login")
        .header("content-type", "application/json")
        .header("x-forwarded-for", address)
        .body(Body::from(json!({ "idToken": id_token }).to_string()))
        .unwrap();
    send(app, req).await
}

/// Asserts a successful sign-in and returns (user id, access token).
fn signed_in(a: &Answer) -> (String, String) {
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["success"], json!(true), "{}", a.text);
    let d = &a.body["data"];
    let user = d["userId"].as_str().expect("userId").to_string();
    let access = d["accessToken"].as_str().expect("accessToken").to_string();
    (user, access)
}

async fn profile(app: &Router, authorization: Option<&str>) -> Answer {
    let mut b = Request::get("/api/users/profile");
    if let Some(value) = authorization {
        b = b.header("authorization", value);
    }
    send(app, b.body(Body::empty()).unwrap()).await
}

async fn fetches(server: &MockServer, at: &str) -> Vec<wiremock::Request> {
    server.received_requests().await.expect("recording").into_iter().filter(|r| r.url.path() == at).collect()
}

async fn dev_login(app: &Router, email: &str) -> Answer {
    call(app, Method::POST, "/api/auth/dev-login", Some(json!({ "email": email }))).await
}
