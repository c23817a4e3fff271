//! Google ID tokens: the claims, signatures and shapes that are refused, and the account one
//! subject keeps.

use axum::http::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use super::{B2C_ISSUER, assert_error_shape, assert_refused, google, login, profile, signed_in};
use crate::support::issuer::{CLIENT_B, GOOGLE_ISSUER, RsaKey, google_claims, now, sign_hs256, unsigned};

#[sqlx::test]
async fn a_valid_google_token_signs_up_then_signs_in_the_same_user(pool: PgPool) {
    let g = google(pool.clone(), &[]).await;
    let token = g.key.sign(&google_claims("g-100"));

    let first = login(&g.app, &token).await;
    let (user, access) = signed_in(&first);
    let d = &first.body["data"];
    assert_eq!(d["newUser"], json!(true), "{d}");
    assert!(d["refreshToken"].as_str().is_some_and(|t| t.len() >= 32), "{d}");
    assert_eq!(d["expiresIn"], json!(900), "{d}");
    assert_eq!(d["tokenType"], json!("Bearer"), "{d}");
    assert!(uuid::Uuid::parse_str(&user).is_ok(), "{user}");

    let p = profile(&g.app, Some(&format!("Bearer {access}"))).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text);

    let again = login(&g.app, &g.key.sign(&google_claims("g-100"))).await;
    let (same, _) = signed_in(&again);
    assert_eq!(again.body["data"]["newUser"], json!(false), "{}", again.text);
    assert_eq!(same, user);
    assert_ne!(again.body["data"]["refreshToken"], d["refreshToken"]);

    let (issuer, email): (String, Option<String>) = sqlx::query_as(
        "SELECT i.issuer, u.email FROM users.identities i JOIN users.users u ON u.id = i.user_id \
         WHERE i.subject = 'g-100'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(issuer, GOOGLE_ISSUER);
    assert_eq!(email.as_deref(), Some("g-100@gmail.com"));
}

#[sqlx::test]
async fn both_spellings_of_googles_issuer_and_both_client_ids_are_the_same_account(pool: PgPool) {
    let g = google(pool, &[]).await;
    let (user, _) = signed_in(&login(&g.app, &g.key.sign(&google_claims("g-200"))).await);

    let mut bare = google_claims("g-200");
    bare["iss"] = json!("accounts.google.com");
    let a = login(&g.app, &g.key.sign(&bare)).await;
    assert_eq!(signed_in(&a).0, user);
    assert_eq!(a.body["data"]["newUser"], json!(false));

    let mut other_client = google_claims("g-200");
    other_client["aud"] = json!(CLIENT_B);
    assert_eq!(signed_in(&login(&g.app, &g.key.sign(&other_client)).await).0, user);
}

#[sqlx::test]
async fn an_expired_google_token_is_refused(pool: PgPool) {
    let g = google(pool, &[]).await;
    let mut claims = google_claims("g-300");
    // Past the 60 s leeway.
    claims["iat"] = json!(now() - 3720);
    claims["exp"] = json!(now() - 120);
    assert_refused(&login(&g.app, &g.key.sign(&claims)).await);
    // The same token, unexpired, is accepted: the expiry alone was the reason.
    signed_in(&login(&g.app, &g.key.sign(&google_claims("g-300"))).await);
}

#[sqlx::test]
async fn a_token_for_another_audience_is_refused(pool: PgPool) {
    let g = google(pool, &[]).await;
    for aud in [json!("client-z"), json!(["client-z"]), json!("client"), json!("")] {
        let mut claims = google_claims("g-400");
        claims["aud"] = aud.clone();
        assert_refused(&login(&g.app, &g.key.sign(&claims)).await);
    }
    let mut missing = google_claims("g-400");
    missing.as_object_mut().unwrap().remove("aud");
    assert_refused(&login(&g.app, &g.key.sign(&missing)).await);
    signed_in(&login(&g.app, &g.key.sign(&google_claims("g-400"))).await);
}

#[sqlx::test]
async fn a_token_from_another_issuer_is_refused_even_with_a_good_signature(pool: PgPool) {
    let g = google(pool, &[]).await;
    for iss in [
        json!("https://evil.example"),
        json!("https://accounts.google.com.evil.example"),
        json!("http://accounts.google.com"),
        json!(B2C_ISSUER),
        json!(""),
    ] {
        let mut claims = google_claims("g-500");
        claims["iss"] = iss.clone();
        assert_refused(&login(&g.app, &g.key.sign(&claims)).await);
    }
    let mut missing = google_claims("g-500");
    missing.as_object_mut().unwrap().remove("iss");
    assert_refused(&login(&g.app, &g.key.sign(&missing)).await);
    signed_in(&login(&g.app, &g.key.sign(&google_claims("g-500"))).await);
}

#[sqlx::test]
async fn a_token_signed_by_another_key_under_a_known_kid_is_refused(pool: PgPool) {
    let g = google(pool, &[]).await;
    let stranger = RsaKey::generate("stranger");
    assert_refused(&login(&g.app, &stranger.sign_as(&g.key.kid, &google_claims("g-600"))).await);

    // A genuine token whose payload was swapped keeps a signature that no longer matches.
    let genuine = g.key.sign(&google_claims("g-600"));
    let forged_payload = {
        use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
        URL_SAFE_NO_PAD.encode(google_claims("someone-else").to_string())
    };
    let parts: Vec<&str> = genuine.split('.').collect();
    let tampered = format!("{}.{forged_payload}.{}", parts[0], parts[2]);
    assert_refused(&login(&g.app, &tampered).await);

    signed_in(&login(&g.app, &genuine).await);
}

#[sqlx::test]
async fn an_unsigned_alg_none_token_is_refused(pool: PgPool) {
    let g = google(pool, &[]).await;
    let claims = google_claims("g-700");
    assert_refused(&login(&g.app, &unsigned(&g.key.kid, &claims)).await);
    // Also with a genuine signature left on: the header still says none.
    let genuine = g.key.sign(&claims);
    let signature = genuine.rsplit('.').next().unwrap();
    let with_sig = format!("{}{signature}", unsigned(&g.key.kid, &claims));
    assert_refused(&login(&g.app, &with_sig).await);
    signed_in(&login(&g.app, &genuine).await);
}

#[sqlx::test]
async fn an_hs256_token_keyed_with_the_rsa_public_key_is_refused(pool: PgPool) {
    use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
    let g = google(pool, &[]).await;
    let claims = google_claims("g-800");
    let n_b64 = URL_SAFE_NO_PAD.encode(&g.key.n);
    let secrets: [&[u8]; 4] = [&g.key.n, n_b64.as_bytes(), &g.key.public_der, g.key.public_pem.as_bytes()];
    for secret in secrets {
        assert_refused(&login(&g.app, &sign_hs256(secret, &g.key.kid, &claims)).await);
    }
    signed_in(&login(&g.app, &g.key.sign(&claims)).await);
}

#[sqlx::test]
async fn an_unverified_email_is_refused(pool: PgPool) {
    let g = google(pool, &[]).await;
    for verified in [json!(false), json!("false"), Value::Null] {
        let mut claims = google_claims("g-900");
        claims["email_verified"] = verified;
        assert_refused(&login(&g.app, &g.key.sign(&claims)).await);
    }
    let mut missing = google_claims("g-900");
    missing.as_object_mut().unwrap().remove("email_verified");
    assert_refused(&login(&g.app, &g.key.sign(&missing)).await);
    signed_in(&login(&g.app, &g.key.sign(&google_claims("g-900"))).await);
}

#[sqlx::test]
async fn a_token_issued_in_the_future_or_without_iat_is_refused(pool: PgPool) {
    let g = google(pool, &[]).await;
    let mut future = google_claims("g-1000");
    future["iat"] = json!(now() + 600);
    future["exp"] = json!(now() + 4200);
    assert_refused(&login(&g.app, &g.key.sign(&future)).await);
    let mut no_iat = google_claims("g-1000");
    no_iat.as_object_mut().unwrap().remove("iat");
    assert_refused(&login(&g.app, &g.key.sign(&no_iat)).await);
    signed_in(&login(&g.app, &g.key.sign(&google_claims("g-1000"))).await);
}

#[sqlx::test]
async fn tokens_that_are_not_jwts_or_lack_a_kid_are_refused_not_failed(pool: PgPool) {
    let g = google(pool, &[]).await;
    for junk in ["", "garbage", "a.b.c", "....", &"x".repeat(5000)] {
        assert_refused(&login(&g.app, junk).await);
    }
    let no_kid = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    assert_refused(&login(&g.app, &g.key.sign_with(&no_kid, &google_claims("g-1100"))).await);
    assert_refused(&login(&g.app, &g.key.sign_as("", &google_claims("g-1100"))).await);
    // RS384 from the same key is not RS256.
    let mut rs384 = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS384);
    rs384.kid = Some(g.key.kid.clone());
    assert_refused(&login(&g.app, &g.key.sign_with(&rs384, &google_claims("g-1100"))).await);
    signed_in(&login(&g.app, &g.key.sign(&google_claims("g-1100"))).await);
    let too_long = login(&g.app, &"x".repeat(9000)).await;
    assert_error_shape(&too_long, 422, "VALIDATION_FAILED");
}
