//! A second OpenID Connect issuer, configured by settings alone.

use axum::http::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use wiremock::MockServer;

use super::{B2C_AUDIENCE, B2C_ISSUER, assert_refused, build, login, profile, signed_in};
use crate::support::issuer::{
    CLIENT_A, GOOGLE_ISSUER, RsaKey, google_claims, google_settings, jwks_fetches, now, serve_jwks,
};

fn b2c_claims(sub: &str) -> Value {
    let now = now();
    json!({
        "iss": B2C_ISSUER,
        "aud": B2C_AUDIENCE,
        "sub": sub,
        "emails": ["someone@example.com"],
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
    })
}

#[sqlx::test]
async fn a_second_issuer_configured_by_settings_signs_users_in_the_same_way(pool: PgPool) {
    let google_server = MockServer::start().await;
    let google_key = RsaKey::generate("google-1");
    serve_jwks(&google_server, &[&google_key]).await;
    let b2c_server = MockServer::start().await;
    let b2c_key = RsaKey::generate("b2c-1");
    serve_jwks(&b2c_server, &[&b2c_key]).await;
    let mut settings = google_settings(&google_server);
    settings.extend([
        ("OIDC_ISSUER".to_string(), B2C_ISSUER.to_string()),
        ("OIDC_JWKS_URL".to_string(), format!("{}/jwks", b2c_server.uri())),
        ("OIDC_AUDIENCES".to_string(), B2C_AUDIENCE.to_string()),
    ]);
    let app = build(pool.clone(), &settings);

    let first = login(&app, &b2c_key.sign(&b2c_claims("shared-sub"))).await;
    let (user, access) = signed_in(&first);
    assert_eq!(first.body["data"]["newUser"], json!(true));
    assert_eq!(profile(&app, Some(&format!("Bearer {access}"))).await.status, StatusCode::OK);
    let again = login(&app, &b2c_key.sign(&b2c_claims("shared-sub"))).await;
    assert_eq!(signed_in(&again).0, user);
    assert_eq!(again.body["data"]["newUser"], json!(false));
    assert_eq!(jwks_fetches(&b2c_server).await, 1);
    assert_eq!(jwks_fetches(&google_server).await, 0);

    // The same subject at Google is somebody else.
    let at_google = login(&app, &google_key.sign(&google_claims("shared-sub"))).await;
    assert_ne!(signed_in(&at_google).0, user);
    let issuers: Vec<String> = sqlx::query_scalar(
        "SELECT issuer FROM users.identities WHERE subject = 'shared-sub' ORDER BY issuer",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(issuers, [GOOGLE_ISSUER, B2C_ISSUER]);

    // Its audience is its own, and its keys are its own.
    let mut google_audience = b2c_claims("b2c-2");
    google_audience["aud"] = json!(CLIENT_A);
    assert_refused(&login(&app, &b2c_key.sign(&google_audience)).await);
    assert_refused(&login(&app, &google_key.sign(&b2c_claims("b2c-2"))).await);
    assert_refused(&login(&app, &b2c_key.sign(&google_claims("b2c-2"))).await);
}
