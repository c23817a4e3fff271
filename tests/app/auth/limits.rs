//! Abuse limits on sign-in: per address and per account.

use sqlx::PgPool;

use super::{assert_error_shape, google, login_from, signed_in};
use crate::support::issuer::google_claims;

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
