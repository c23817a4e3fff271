//! The issuer's JWKS: caching, rotation, outages and the breaker.

use std::time::Duration;

use serde_json::json;
use sqlx::PgPool;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path},
};

use super::{assert_error_shape, assert_refused, build, google, login, signed_in};
use crate::support::app_with;
use crate::support::issuer::{RsaKey, google_claims, google_settings, jwks_answer, jwks_fetches};

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
