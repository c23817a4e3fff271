//! Our own access tokens: forged, expired and garbage ones, and the bearer scheme.

use axum::{
    body::Body,
    http::{Request, StatusCode},
};
use serde_json::{Value, json};
use sqlx::PgPool;

use super::{SIGNING_KEYS, SIGNING_SECRET, assert_error_shape, dev_login, profile, signed_in};
use crate::support::issuer::{CLIENT_A, RsaKey, now, sign_hs256, unsigned};
use crate::support::{app_with, send};

fn access_claims(user: &str, iat: u64, exp: u64) -> Value {
    json!({ "sub": user, "iss": "healthsync", "aud": "healthsync-app", "iat": iat, "exp": exp, "jti": "t" })
}

#[sqlx::test]
async fn access_tokens_that_are_forged_expired_or_garbage_are_refused(pool: PgPool) {
    let app = app_with(pool, &[("DEV_LOGIN_ENABLED", "true"), ("AUTH_SIGNING_KEYS", SIGNING_KEYS)]);
    let (user, access) = signed_in(&dev_login(&app, "owner@example.com").await);
    assert_eq!(profile(&app, Some(&format!("Bearer {access}"))).await.status, StatusCode::OK);

    // Forged with the right key, the token works: the refusals below are for what they change.
    let now = now();
    let good = sign_hs256(SIGNING_SECRET, "k1", &access_claims(&user, now, now + 300));
    assert_eq!(profile(&app, Some(&format!("Bearer {good}"))).await.status, StatusCode::OK);

    let other_key =
        sign_hs256(b"another-secret-of-at-least-32-bytes!", "k1", &access_claims(&user, now, now + 300));
    let expired = sign_hs256(SIGNING_SECRET, "k1", &access_claims(&user, now - 900, now - 120));
    let unknown_kid = sign_hs256(SIGNING_SECRET, "k9", &access_claims(&user, now, now + 300));
    let rsa = RsaKey::generate("k1").sign(&access_claims(&user, now, now + 300));
    let none = unsigned("k1", &access_claims(&user, now, now + 300));
    let mut wrong_aud = access_claims(&user, now, now + 300);
    wrong_aud["aud"] = json!(CLIENT_A);
    let wrong_aud = sign_hs256(SIGNING_SECRET, "k1", &wrong_aud);
    // Signed with the right key, and still wrong: not valid yet, issued in the future, a lifetime
    // we never issue, a critical extension nobody here understands.
    let mut not_yet = access_claims(&user, now, now + 300);
    not_yet["nbf"] = json!(now + 3600);
    let not_yet = sign_hs256(SIGNING_SECRET, "k1", &not_yet);
    let future_iat = sign_hs256(SIGNING_SECRET, "k1", &access_claims(&user, now + 3600, now + 3900));
    let year_2100 = sign_hs256(SIGNING_SECRET, "k1", &access_claims(&user, now, 4_102_444_800));
    let no_iat = {
        let mut c = access_claims(&user, now, now + 300);
        c.as_object_mut().unwrap().remove("iat");
        sign_hs256(SIGNING_SECRET, "k1", &c)
    };
    let crit = {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        h.kid = Some("k1".into());
        h.crit = Some(vec!["exp".into()]);
        let key = jsonwebtoken::EncodingKey::from_secret(SIGNING_SECRET);
        jsonwebtoken::encode(&h, &access_claims(&user, now, now + 300), &key).unwrap()
    };
    for token in [
        other_key,
        expired,
        unknown_kid,
        rsa,
        none,
        wrong_aud,
        not_yet,
        future_iat,
        year_2100,
        no_iat,
        crit,
        "garbage".into(),
        "a.b.c".into(),
    ] {
        let a = profile(&app, Some(&format!("Bearer {token}"))).await;
        assert_error_shape(&a, 401, "INVALID_TOKEN");
    }
}

#[sqlx::test]
async fn the_bearer_scheme_is_case_insensitive_and_two_authorization_headers_are_refused(pool: PgPool) {
    let app = app_with(pool, &[("DEV_LOGIN_ENABLED", "true")]);
    let (_, access) = signed_in(&dev_login(&app, "owner@example.com").await);
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let a = profile(&app, Some(&format!("{scheme} {access}"))).await;
        assert_eq!(a.status, StatusCode::OK, "{scheme}: {}", a.text);
    }
    let (_, other) = signed_in(&dev_login(&app, "other@example.com").await);
    for (first, second) in [(&access, &other), (&access, &access)] {
        let req = Request::get("/api/users/profile")
            .header("authorization", format!("Bearer {first}"))
            .header("authorization", format!("Bearer {second}"))
            .body(Body::empty())
            .unwrap();
        assert_error_shape(&send(&app, req).await, 401, "AMBIGUOUS_CREDENTIALS");
    }
}

#[sqlx::test]
async fn a_request_without_a_bearer_token_is_unauthenticated(pool: PgPool) {
    let app = app_with(pool, &[("DEV_LOGIN_ENABLED", "true")]);
    let (_, access) = signed_in(&dev_login(&app, "owner@example.com").await);
    assert_error_shape(&profile(&app, None).await, 401, "UNAUTHENTICATED");
    assert_error_shape(&profile(&app, Some(&format!("Basic {access}"))).await, 401, "UNAUTHENTICATED");
    assert_error_shape(&profile(&app, Some(&access)).await, 401, "UNAUTHENTICATED");
    assert_eq!(profile(&app, Some(&format!("Bearer {access}"))).await.status, StatusCode::OK);
}
