//! Sign-in through the router against a local fake OpenID Connect issuer (wiremock serving a
//! JWKS of RSA keys generated here): Google ID tokens and every way they can be wrong, key
//! rotation and an unreachable issuer, the authorization-code exchange, a second issuer by
//! settings alone, abuse limits, the dev login, and our own access tokens.

use std::time::Duration;

use crate::support::issuer::{
    CLIENT_A, CLIENT_B, GOOGLE_ISSUER, RsaKey, google_claims, google_settings, jwks_answer, jwks_fetches,
    now, serve_jwks, sign_hs256, unsigned,
};
use crate::support::{Answer, TestApp, app_with, call, send};
use axum::{
    Router,
    body::Body,
    http::{Method, Request, StatusCode},
};
use serde_json::{Value, json};
use sqlx::PgPool;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path},
};

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

// ---------------------------------------------------------------------------------------------
// Google ID tokens

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

// ---------------------------------------------------------------------------------------------
// The JWKS: caching, rotation, outages

#[sqlx::test]
async fn the_jwks_is_cached_and_an_unknown_kid_right_after_a_fetch_does_not_refetch(pool: PgPool) {
    let g = google(pool, &[]).await;
    for sub in ["c-1", "c-2", "c-3"] {
        signed_in(&login(&g.app, &g.key.sign(&google_claims(sub))).await);
    }
    assert_eq!(jwks_fetches(&g.server).await, 1, "the JWKS is cached for its max-age");
    // A flood of unknown kids cannot turn into a flood of JWKS requests.
    let stranger = RsaKey::generate("unknown-kid");
    for _ in 0..5 {
        assert_refused(&login(&g.app, &stranger.sign(&google_claims("c-4"))).await);
    }
    assert_eq!(jwks_fetches(&g.server).await, 1);
}

/// The app refetches on an unknown kid at most once per 10 s (`MIN_REFETCH` in src/users/oidc.rs,
/// not configurable), so this test has to wait that long after the first fetch.
#[sqlx::test]
async fn an_unknown_kid_refetches_the_jwks_once_and_accepts_the_rotated_key(pool: PgPool) {
    let server = MockServer::start().await;
    let old = RsaKey::generate("key-a");
    let new = RsaKey::generate("key-b");
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(jwks_answer(&[&old], 3600))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(jwks_answer(&[&old, &new], 3600))
        .with_priority(2)
        .mount(&server)
        .await;
    let app = build(pool, &google_settings(&server));

    signed_in(&login(&app, &old.sign(&google_claims("r-1"))).await);
    assert_eq!(jwks_fetches(&server).await, 1);

    tokio::time::sleep(Duration::from_millis(10_100)).await;
    let rotated = login(&app, &new.sign(&google_claims("r-2"))).await;
    signed_in(&rotated);
    assert_eq!(jwks_fetches(&server).await, 2, "fetched once more for the unknown kid");
    // Both keys now verify without further fetches.
    signed_in(&login(&app, &old.sign(&google_claims("r-1"))).await);
    signed_in(&login(&app, &new.sign(&google_claims("r-2"))).await);
    assert_eq!(jwks_fetches(&server).await, 2);
}

#[sqlx::test]
async fn a_failing_jwks_with_nothing_cached_answers_503_not_500(pool: PgPool) {
    let server = MockServer::start().await;
    Mock::given(path("/jwks")).respond_with(ResponseTemplate::new(500)).mount(&server).await;
    let app = build(pool, &google_settings(&server));
    let key = RsaKey::generate("google-1");
    let a = login(&app, &key.sign(&google_claims("d-1"))).await;
    assert_error_shape(&a, 503, "SERVICE_UNAVAILABLE");
    assert_eq!(jwks_fetches(&server).await, 1);
}

#[sqlx::test]
async fn an_unreachable_jwks_with_nothing_cached_answers_503_not_500(pool: PgPool) {
    let key = RsaKey::generate("google-1");
    let settings = [
        ("GOOGLE_CLIENT_IDS", "client-a"),
        ("GOOGLE_JWKS_URL", "http://127.0.0.1:1/jwks"),
        ("GOOGLE_TOKEN_URL", "http://127.0.0.1:1/token"),
    ];
    let app = app_with(pool, &settings);
    let a = login(&app, &key.sign(&google_claims("d-2"))).await;
    assert_error_shape(&a, 503, "SERVICE_UNAVAILABLE");
}

#[sqlx::test]
async fn a_jwks_that_is_not_a_key_set_or_is_empty_answers_503(pool: PgPool) {
    let server = MockServer::start().await;
    Mock::given(path("/jwks"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>maintenance</html>"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/jwks"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "keys": [] })))
        .with_priority(2)
        .mount(&server)
        .await;
    let app = build(pool, &google_settings(&server));
    let key = RsaKey::generate("google-1");
    for _ in 0..2 {
        assert_error_shape(&login(&app, &key.sign(&google_claims("d-3"))).await, 503, "SERVICE_UNAVAILABLE");
    }
    assert_eq!(jwks_fetches(&server).await, 2);
}

#[sqlx::test]
async fn after_five_failed_fetches_the_breaker_stops_calling_the_jwks(pool: PgPool) {
    let server = MockServer::start().await;
    Mock::given(path("/jwks")).respond_with(ResponseTemplate::new(502)).mount(&server).await;
    let app = build(pool, &google_settings(&server));
    let key = RsaKey::generate("google-1");
    for _ in 0..8 {
        assert_error_shape(&login(&app, &key.sign(&google_claims("d-4"))).await, 503, "SERVICE_UNAVAILABLE");
    }
    assert_eq!(jwks_fetches(&server).await, 5, "the open breaker refuses without calling");
}

#[sqlx::test]
async fn a_jwks_that_hangs_is_given_up_on_and_answers_503(pool: PgPool) {
    let server = MockServer::start().await;
    Mock::given(path("/jwks"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
        .mount(&server)
        .await;
    let app = build(pool, &google_settings(&server));
    let key = RsaKey::generate("google-1");
    let started = std::time::Instant::now();
    let a = login(&app, &key.sign(&google_claims("d-5"))).await;
    assert_error_shape(&a, 503, "SERVICE_UNAVAILABLE");
    assert!(started.elapsed() < Duration::from_secs(8), "took {:?}", started.elapsed());
}

#[sqlx::test]
async fn with_the_jwks_down_cached_keys_keep_signing_people_in(pool: PgPool) {
    let server = MockServer::start().await;
    let key = RsaKey::generate("google-1");
    Mock::given(path("/jwks"))
        .respond_with(jwks_answer(&[&key], 0))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/jwks")).respond_with(ResponseTemplate::new(503)).with_priority(2).mount(&server).await;
    let app = build(pool, &google_settings(&server));

    let (user, _) = signed_in(&login(&app, &key.sign(&google_claims("k-1"))).await);
    // The issuer is down now; the cached key still verifies.
    let again = login(&app, &key.sign(&google_claims("k-1"))).await;
    assert_eq!(signed_in(&again).0, user);
    signed_in(&login(&app, &key.sign(&google_claims("k-2"))).await);
    // With keys cached, a kid that is not among them is a bad token (401), not an outage (503).
    let stranger = RsaKey::generate("not-cached");
    assert_refused(&login(&app, &stranger.sign(&google_claims("k-3"))).await);
    assert_eq!(jwks_fetches(&server).await, 1);
}

#[tokio::test]
async fn with_the_jwks_down_expired_cached_keys_still_verify_after_a_failed_refetch() {
    use healthsync::{
        platform::resilience::Breaker,
        users::oidc::{Provider, ProviderConfig, VerifyError},
    };
    let server = MockServer::start().await;
    let key = RsaKey::generate("google-1");
    Mock::given(path("/jwks"))
        .respond_with(jwks_answer(&[&key], 0))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/jwks")).respond_with(ResponseTemplate::new(503)).with_priority(2).mount(&server).await;
    let provider = Provider::new(
        ProviderConfig {
            canonical_issuer: "https://accounts.google.com".into(),
            issuers: vec!["https://accounts.google.com".into()],
            audiences: vec!["client-a".into()],
            jwks_url: format!("{}/jwks", server.uri()).parse().unwrap(),
            require_email_verified: true,
            // Trust the provider's max-age=0: the cached set is expired at once.
            cache_floor: std::time::Duration::ZERO,
        },
        healthsync::platform::http_client::LazyClient::default(),
        std::sync::Arc::new(Breaker::new("test", 5, std::time::Duration::from_secs(30))),
    );
    let first = provider.verify(&key.sign(&google_claims("s-1"))).await.unwrap();
    assert_eq!(first.subject, "s-1");
    // Expired cache, provider down: the refetch fails and the expired key still verifies.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let again = provider.verify(&key.sign(&google_claims("s-1"))).await.unwrap();
    assert_eq!(again.subject, "s-1");
    assert_eq!(jwks_fetches(&server).await, 2, "the expired set was refetched once, and that failed");
    // A kid the expired set lacks is a bad token, not an outage.
    let stranger = RsaKey::generate("nope");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert!(matches!(
        provider.verify(&stranger.sign(&google_claims("s-2"))).await,
        Err(VerifyError::Invalid(_))
    ));
}

// ---------------------------------------------------------------------------------------------
// The authorization-code exchange

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

// ---------------------------------------------------------------------------------------------
// A second issuer, by settings only

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

// ---------------------------------------------------------------------------------------------
// Abuse limits

#[sqlx::test]
async fn the_fourth_login_a_minute_from_one_address_is_a_429_with_retry_after(pool: PgPool) {
    let g = google(pool, &[("AUTH_RATE_LIMIT_PER_MINUTE", "3")]).await;
    for sub in ["rl-1", "rl-2", "rl-3"] {
        signed_in(&login_from(&g.app, "203.0.113.7", &g.key.sign(&google_claims(sub))).await);
    }
    // A forged first entry changes nothing: the platform appends the real address last.
    let a = login_from(&g.app, "6.6.6.6, 203.0.113.7", &g.key.sign(&google_claims("rl-4"))).await;
    assert_error_shape(&a, 429, "RATE_LIMITED");
    let retry: u64 = a.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // Refused before anything else is looked at: even a garbage token gets the 429.
    assert_error_shape(&login_from(&g.app, "203.0.113.7", "garbage").await, 429, "RATE_LIMITED");

    signed_in(&login_from(&g.app, "198.51.100.9", &g.key.sign(&google_claims("rl-5"))).await);
}

#[sqlx::test]
async fn the_fourth_login_a_minute_to_one_account_is_a_429_whatever_the_address(pool: PgPool) {
    let g = google(pool, &[("AUTH_RATE_LIMIT_PER_MINUTE", "3")]).await;
    for address in ["192.0.2.1", "192.0.2.2", "192.0.2.3"] {
        signed_in(&login_from(&g.app, address, &g.key.sign(&google_claims("victim"))).await);
    }
    let a = login_from(&g.app, "192.0.2.4", &g.key.sign(&google_claims("victim"))).await;
    assert_error_shape(&a, 429, "RATE_LIMITED");
    assert!(a.headers.contains_key("retry-after"));
    signed_in(&login_from(&g.app, "192.0.2.4", &g.key.sign(&google_claims("bystander"))).await);
}

// ---------------------------------------------------------------------------------------------
// The dev login

async fn dev_login(app: &Router, email: &str) -> Answer {
    call(app, Method::POST, "/api/auth/dev-login", Some(json!({ "email": email }))).await
}

#[sqlx::test]
async fn the_dev_login_is_refused_unless_enabled(pool: PgPool) {
    let off = app_with(pool.clone(), &[]);
    assert_error_shape(&dev_login(&off, "a@b.c").await, 404, "NOT_FOUND");
    let off = app_with(pool.clone(), &[("DEV_LOGIN_ENABLED", "false")]);
    assert_error_shape(&dev_login(&off, "a@b.c").await, 404, "NOT_FOUND");
    // Anything but true or false is a configuration error that names the setting.
    let started = TestApp::builder(pool.clone()).settings(&[("DEV_LOGIN_ENABLED", "yes")]).try_spawn();
    let err = started.err().expect("refused");
    assert!(format!("{err:#}").contains("DEV_LOGIN_ENABLED"), "{err:#}");
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users.users").fetch_one(&pool).await.unwrap();
    assert_eq!(users, 0);
}

#[sqlx::test]
async fn the_dev_login_is_refused_in_azure_even_when_enabled(pool: PgPool) {
    for platform in ["WEBSITE_SITE_NAME", "WEBSITE_INSTANCE_ID"] {
        let settings = [
            (platform, "healthsync-prod"),
            ("DEV_LOGIN_ENABLED", "true"),
            ("AUTH_SIGNING_KEYS", SIGNING_KEYS),
        ];
        let azure = app_with(pool.clone(), &settings);
        assert_error_shape(&dev_login(&azure, "a@b.c").await, 404, "NOT_FOUND");
    }
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users.users").fetch_one(&pool).await.unwrap();
    assert_eq!(users, 0);
}

#[sqlx::test]
async fn the_dev_login_works_locally_when_enabled(pool: PgPool) {
    let app = app_with(pool, &[("DEV_LOGIN_ENABLED", "true")]);
    let first = dev_login(&app, "a@b.c").await;
    let (user, access) = signed_in(&first);
    assert_eq!(first.body["data"]["newUser"], json!(true));
    assert_eq!(profile(&app, Some(&format!("Bearer {access}"))).await.status, StatusCode::OK);
    let again = dev_login(&app, " A@B.C ").await;
    assert_eq!(signed_in(&again).0, user);
    assert_eq!(again.body["data"]["newUser"], json!(false));
    for bad in ["not-an-email", "@", "a@", "@b.c", "a@b", "a@@b.c", "a b@c.d", "a@b..c", "a\u{202E}@b.c"] {
        assert_error_shape(&dev_login(&app, bad).await, 422, "VALIDATION_FAILED");
    }
}

// ---------------------------------------------------------------------------------------------
// Our own access tokens

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
