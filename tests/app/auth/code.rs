//! The authorization-code exchange (PKCE) with Google's token endpoint.

use serde_json::{Value, json};
use sqlx::PgPool;
use wiremock::{
    Mock, ResponseTemplate,
    matchers::{method, path},
};

use super::{assert_error_shape, assert_refused, fetches, google, login_body, signed_in};
use crate::support::issuer::{CLIENT_A, CLIENT_B, google_claims, jwks_fetches};

fn code_request() -> Value {
    json!({
        "authorizationCode": "4/0AfJohXn-code",
        "codeVerifier": "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
        "redirectUri": "com.healthsync.app:/oauth2redirect",
    })
}

#[sqlx::test]
async fn an_authorization_code_is_exchanged_with_its_pkce_verifier(pool: PgPool) {
    let g = google(pool, &[]).await;
    let id_token = g.key.sign(&google_claims("code-1"));
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "ya29.google",
            "expires_in": 3599,
            "token_type": "Bearer",
            "id_token": id_token,
        })))
        .mount(&g.server)
        .await;

    let a = login_body(&g.app, code_request()).await;
    signed_in(&a);
    assert_eq!(a.body["data"]["newUser"], json!(true));

    let sent = fetches(&g.server, "/token").await;
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/x-www-form-urlencoded")
    );
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(&sent[0].body).into_owned().collect();
    let expected = [
        ("grant_type", "authorization_code"),
        ("code", "4/0AfJohXn-code"),
        ("code_verifier", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
        ("redirect_uri", "com.healthsync.app:/oauth2redirect"),
        ("client_id", CLIENT_A),
    ];
    for (k, v) in expected {
        assert_eq!(form.get(k).map(String::as_str), Some(v), "{k} in {form:?}");
    }
    assert!(!form.contains_key("client_secret"), "no secret is configured: {form:?}");

    // The exchanged token is verified like any other: the same account signs in again.
    let again = login_body(&g.app, code_request()).await;
    assert_eq!(signed_in(&again).0, a.body["data"]["userId"].as_str().unwrap());
}

#[sqlx::test]
async fn the_client_id_and_secret_sent_with_a_code_are_the_configured_ones(pool: PgPool) {
    let g = google(pool, &[("GOOGLE_CLIENT_SECRET", "shh-secret")]).await;
    let mut claims = google_claims("code-2");
    claims["aud"] = json!(CLIENT_B);
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "id_token": g.key.sign(&claims) })))
        .mount(&g.server)
        .await;
    let mut req = code_request();
    req["clientId"] = json!(CLIENT_B);
    signed_in(&login_body(&g.app, req).await);
    let sent = fetches(&g.server, "/token").await;
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(&sent[0].body).into_owned().collect();
    assert_eq!(form.get("client_id").map(String::as_str), Some(CLIENT_B));
    assert_eq!(form.get("client_secret").map(String::as_str), Some("shh-secret"));

    // A client id we do not know is refused without asking Google.
    let mut stranger = code_request();
    stranger["clientId"] = json!("client-z");
    assert_refused(&login_body(&g.app, stranger).await);
    assert_eq!(fetches(&g.server, "/token").await.len(), 1);
}

#[sqlx::test]
async fn a_code_google_refuses_is_a_401(pool: PgPool) {
    let g = google(pool, &[]).await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({ "error": "invalid_grant", "error_description": "Bad Request" })),
        )
        .mount(&g.server)
        .await;
    assert_refused(&login_body(&g.app, code_request()).await);
    assert_eq!(fetches(&g.server, "/token").await.len(), 1);
}

#[sqlx::test]
async fn a_token_endpoint_answer_without_an_id_token_is_a_401(pool: PgPool) {
    let g = google(pool, &[]).await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "access_token": "ya29.only" })))
        .mount(&g.server)
        .await;
    assert_refused(&login_body(&g.app, code_request()).await);
}

#[sqlx::test]
async fn a_token_endpoint_that_is_down_is_a_503(pool: PgPool) {
    let g = google(pool, &[]).await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&g.server)
        .await;
    assert_error_shape(&login_body(&g.app, code_request()).await, 503, "SERVICE_UNAVAILABLE");
    assert_eq!(fetches(&g.server, "/token").await.len(), 1);
}

#[sqlx::test]
async fn a_busy_or_slow_token_endpoint_is_a_503_not_a_refused_code(pool: PgPool) {
    for status in [429, 408] {
        let g = google(pool.clone(), &[]).await;
        Mock::given(method("POST"))
            .and(path("/token"))
            .respond_with(ResponseTemplate::new(status).set_body_json(json!({"error": "rate_limited"})))
            .mount(&g.server)
            .await;
        assert_error_shape(&login_body(&g.app, code_request()).await, 503, "SERVICE_UNAVAILABLE");
    }
}

#[sqlx::test]
async fn a_code_without_its_verifier_or_redirect_uri_is_a_422_naming_them(pool: PgPool) {
    let g = google(pool, &[]).await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&g.server)
        .await;

    for (drop, field) in [("codeVerifier", "codeVerifier"), ("redirectUri", "redirectUri")] {
        let mut req = code_request();
        req.as_object_mut().unwrap().remove(drop);
        let a = login_body(&g.app, req).await;
        assert_error_shape(&a, 422, "VALIDATION_FAILED");
        let fields: Vec<&str> =
            a.body["errors"].as_array().unwrap().iter().filter_map(|e| e["field"].as_str()).collect();
        assert_eq!(fields, [field], "{}", a.text);
    }
    let mut empty = code_request();
    empty["codeVerifier"] = json!("");
    let a = login_body(&g.app, empty).await;
    assert_error_shape(&a, 422, "VALIDATION_FAILED");
    assert_eq!(a.body["errors"][0]["field"], json!("codeVerifier"), "{}", a.text);
    assert_eq!(fetches(&g.server, "/token").await.len(), 0, "nothing is sent to Google");
}

#[sqlx::test]
async fn both_or_neither_of_id_token_and_code_is_a_422(pool: PgPool) {
    let g = google(pool, &[]).await;
    let mut both = code_request();
    both["idToken"] = json!(g.key.sign(&google_claims("both-1")));
    let a = login_body(&g.app, both).await;
    assert_error_shape(&a, 422, "VALIDATION_FAILED");
    assert_eq!(a.body["errors"][0]["field"], json!("idToken"), "{}", a.text);

    let a = login_body(&g.app, json!({})).await;
    assert_error_shape(&a, 422, "VALIDATION_FAILED");
    assert_eq!(fetches(&g.server, "/token").await.len(), 0);
    assert_eq!(jwks_fetches(&g.server).await, 0);
}
