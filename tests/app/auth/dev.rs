//! The dev login: only locally, only when enabled.

use axum::http::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use super::{SIGNING_KEYS, assert_error_shape, dev_login, profile, signed_in};
use crate::support::{TestApp, app_with};

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
