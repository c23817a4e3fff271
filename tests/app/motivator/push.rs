//! Push through a fake Notification Hub that speaks the installation API and the tag send
//! (`support::hubs`): devices become installations tagged with their user, a push goes to the
//! user's tag, a token moving accounts moves its installation, at most ten devices a user, the
//! hub's configuration errors touch no device and wait for a retry, throttling is retried with
//! backoff, erasure removes the installations; the notification event carries a reference.

use axum::http::{Method, StatusCode};
use healthsync::motivator::push::{NotificationHubs, installations::installation_id};
use serde_json::{Value, json};
use sqlx::PgPool;
use wiremock::MockServer;

use super::{MORNING, deliver};
use crate::{
    goals::{GoalsApp, User},
    support::hubs::FakeHub,
};

const KEY: &str = "c2VjcmV0LWtleS1mb3ItdGVzdHM=";

fn connection(server: &MockServer) -> String {
    format!("Endpoint={}/;SharedAccessKeyName=app-send;SharedAccessKey={KEY}", server.uri())
}

#[test]
fn the_sas_token_signs_the_lowercased_encoded_uri_and_expiry() {
    let hubs = NotificationHubs::from_connection_string(
        &format!(
            "Endpoint=sb://NS.servicebus.windows.net/;SharedAccessKeyName=app-send;SharedAccessKey={KEY}"
        ),
        "nudges",
    )
    .unwrap();
    let token = hubs.sas_token(1_800_000_000, std::time::Duration::from_secs(600));
    let uri = "https%3A%2F%2Fns%2Eservicebus%2Ewindows%2Enet%2Fnudges";
    assert!(token.starts_with(&format!("SharedAccessSignature sr={uri}&sig=")), "{token}");
    assert!(token.ends_with("&se=1800000600&skn=app%2Dsend"), "{token}");
    // The signature, computed independently.
    use base64::Engine as _;
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(KEY.as_bytes()).unwrap();
    mac.update(format!("{uri}\n1800000600").as_bytes());
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let encoded: String =
        percent_encoding::utf8_percent_encode(&sig, percent_encoding::NON_ALPHANUMERIC).to_string();
    assert!(token.contains(&format!("&sig={encoded}&")), "{token}");
    assert!(NotificationHubs::from_connection_string("Endpoint=sb://x/", "nudges").is_err());
}

async fn hub_app(pool: PgPool, hub_name: &str) -> (GoalsApp, FakeHub, MockServer) {
    let server = MockServer::start().await;
    let hub = FakeHub::mount(&server, "nudges").await;
    let app = GoalsApp::start(
        pool,
        MORNING,
        &[("NOTIFICATION_HUB_CONNECTION", &connection(&server)), ("NOTIFICATION_HUB_NAME", hub_name)],
    );
    (app, hub, server)
}

async fn register(app: &GoalsApp, u: &User, platform: &str, token: &str) {
    let r = app
        .call(
            &u,
            Method::PUT,
            "/api/notifications/devices",
            Some(json!({"platform": platform, "token": token})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

/// Writes a welcome for `u` (through its consumer) and returns its notification.created event.
async fn welcome(app: &GoalsApp, u: &User) -> (String, Value) {
    let registered = json!({"userId": u.id});
    let a = deliver(app, "MotivatorWelcome", &uuid::Uuid::new_v4().to_string(), &registered).await;
    assert!(a.status.is_success(), "{}", a.text);
    let (id, payload): (uuid::Uuid, Value) = sqlx::query_as(
        "SELECT id, payload FROM events.outbox WHERE event_type = 'notification.created' ORDER BY created_at DESC LIMIT 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    (id.to_string(), payload)
}

async fn pushed(app: &GoalsApp, u: &User) -> bool {
    sqlx::query_scalar(
        "SELECT bool_and(pushed_at IS NOT NULL) FROM motivator.notifications WHERE user_id = $1",
    )
    .bind(u.uuid())
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

async fn count(app: &GoalsApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&app.pool).await.unwrap()
}

#[sqlx::test]
async fn devices_become_installations_tagged_with_their_user_and_a_push_goes_to_the_users_tag(pool: PgPool) {
    let (app, hub, _server) = hub_app(pool, "nudges").await;
    let u = app.user("p@example.com").await;
    register(&app, &u, "FCM", "fcm-live-token-0123456789").await;
    register(&app, &u, "APNS", "apns-live-token-0123456789").await;
    let (event_id, payload) = welcome(&app, &u).await;
    assert!(
        payload["pushBatch"].is_string() && payload.get("notificationIds").is_none(),
        "a reference: {payload}"
    );
    let ok = deliver(&app, "MotivatorPush", &event_id, &payload).await;
    assert!(ok.status.is_success(), "{}", ok.text);

    let tag = format!("user:{}", u.id);
    let installed = hub.installations();
    assert_eq!(installed.len(), 2);
    let fcm = &installed[&installation_id("fcm-live-token-0123456789")];
    assert_eq!((fcm.platform.as_str(), fcm.push_channel.as_str()), ("fcmv1", "fcm-live-token-0123456789"));
    assert_eq!(fcm.tags, std::slice::from_ref(&tag));
    assert_eq!(installed[&installation_id("apns-live-token-0123456789")].platform, "apns");
    let delivered = hub.delivered();
    let mut formats: Vec<&str> = delivered.iter().map(|d| d.format.as_str()).collect();
    formats.sort();
    assert_eq!(formats, ["apple", "fcmv1"], "one send per platform, to the user's tag");
    assert!(delivered.iter().all(|d| d.tag == tag && d.installations.len() == 1));
    let fcm_body = &delivered.iter().find(|d| d.format == "fcmv1").unwrap().body;
    assert_eq!(fcm_body["message"]["data"]["kind"], "WELCOME");
    assert!(pushed(&app, &u).await);
    // A redelivery pushes nothing twice and installs nothing again.
    let calls = hub.calls().len();
    assert!(deliver(&app, "MotivatorPush", &event_id, &payload).await.status.is_success());
    assert_eq!(hub.calls().len(), calls);
}

#[sqlx::test]
async fn a_token_that_moves_to_another_account_moves_its_installation(pool: PgPool) {
    let (app, hub, _server) = hub_app(pool, "nudges").await;
    let a = app.user("a@example.com").await;
    let b = app.user("b@example.com").await;
    register(&app, &a, "FCM", "fcm-shared-phone-0123456789").await;
    let (id, payload) = welcome(&app, &a).await;
    assert!(deliver(&app, "MotivatorPush", &id, &payload).await.status.is_success());
    let phone = installation_id("fcm-shared-phone-0123456789");
    assert_eq!(hub.installations()[&phone].tags, [format!("user:{}", a.id)]);

    // The phone signs in as b; a gets a phone of its own.
    register(&app, &b, "FCM", "fcm-shared-phone-0123456789").await;
    register(&app, &a, "FCM", "fcm-new-phone-of-a-0123456789").await;
    let (id, payload) = welcome(&app, &a).await;
    assert!(deliver(&app, "MotivatorPush", &id, &payload).await.status.is_success());
    let installed = hub.installations();
    assert_eq!(installed[&phone].tags, [format!("user:{}", b.id)], "re-tagged for its new account");
    let last = hub.delivered().last().unwrap().clone();
    assert_eq!(last.tag, format!("user:{}", a.id));
    assert_eq!(
        last.installations,
        [installation_id("fcm-new-phone-of-a-0123456789")],
        "a's push misses b's phone"
    );
    assert_eq!(count(&app, "SELECT count(*) FROM motivator.devices").await, 2, "no device row touched");
}

#[sqlx::test]
async fn at_most_the_ten_newest_devices_of_a_user_are_installed(pool: PgPool) {
    let (app, hub, _server) = hub_app(pool, "nudges").await;
    let u = app.user("many@example.com").await;
    let tokens: Vec<String> = (0..12).map(|i| format!("fcm-device-{i:02}-0123456789")).collect();
    for t in &tokens {
        register(&app, &u, "FCM", t).await;
    }
    let (id, payload) = welcome(&app, &u).await;
    assert!(deliver(&app, "MotivatorPush", &id, &payload).await.status.is_success());
    let installed = hub.installations();
    assert_eq!(installed.len(), 10);
    for old in &tokens[..2] {
        assert!(!installed.contains_key(&installation_id(old)), "the two oldest are not installed");
    }
    assert_eq!(hub.delivered().last().unwrap().installations.len(), 10);
}

#[sqlx::test]
async fn the_hubs_configuration_errors_touch_no_device_and_wait_for_a_retry(pool: PgPool) {
    // A wrong hub name: the hub answers 404 ("no message branch at the URI").
    let (app, hub, _server) = hub_app(pool, "nudgess").await;
    let u = app.user("cfg@example.com").await;
    register(&app, &u, "FCM", "fcm-live-token-0123456789").await;
    let (id, payload) = welcome(&app, &u).await;
    let failed = deliver(&app, "MotivatorPush", &id, &payload).await;
    assert!(
        failed.status.is_server_error(),
        "for Service Bus to redeliver: {} {}",
        failed.status,
        failed.text
    );
    assert_eq!(count(&app, "SELECT count(*) FROM motivator.devices").await, 1, "the device stays");
    assert!(!pushed(&app, &u).await);
    assert!(hub.installations().is_empty());
    // A deleted hub (410) and a rotated key (401) alike.
    for status in [410, 401] {
        let (app2, hub2, _s) = hub_app(app.pool.clone(), "nudges").await;
        hub2.always(Some(status));
        let failed = deliver(&app2, "MotivatorPush", &id, &payload).await;
        assert!(failed.status.is_server_error(), "{status}: {}", failed.text);
        assert_eq!(
            count(&app2, "SELECT count(*) FROM motivator.devices").await,
            1,
            "{status}: the device stays"
        );
        assert_eq!(hub2.calls().len(), 1, "{status}: one call, no hammering");
        assert!(!pushed(&app2, &u).await);
    }
    // Fixed: the redelivery (or the replay of the dead letter) pushes it.
    let (fixed, hub3, _s) = hub_app(app.pool.clone(), "nudges").await;
    assert!(deliver(&fixed, "MotivatorPush", &id, &payload).await.status.is_success());
    assert_eq!(hub3.delivered().len(), 1);
    assert!(pushed(&fixed, &u).await);
}

#[sqlx::test]
async fn throttling_and_quota_are_retried_with_backoff(pool: PgPool) {
    let (app, hub, _server) = hub_app(pool, "nudges").await;
    let u = app.user("busy@example.com").await;
    register(&app, &u, "FCM", "fcm-live-token-0123456789").await;
    let (id, payload) = welcome(&app, &u).await;
    hub.answer_next(&[429, 403]);
    let started = std::time::Instant::now();
    let ok = deliver(&app, "MotivatorPush", &id, &payload).await;
    assert!(ok.status.is_success(), "{}", ok.text);
    assert!(started.elapsed() >= std::time::Duration::from_millis(500), "it waited between tries");
    assert!(pushed(&app, &u).await);
    // Throttled for longer than the tries: the message goes back for redelivery, nothing lost.
    let (id, payload) = welcome(&app, &u).await;
    hub.answer_next(&[429; 4]);
    let failed = deliver(&app, "MotivatorPush", &id, &payload).await;
    assert!(failed.status.is_server_error(), "{}", failed.text);
    assert!(!pushed(&app, &u).await);
    assert!(deliver(&app, "MotivatorPush", &id, &payload).await.status.is_success());
    assert!(pushed(&app, &u).await);
}

#[sqlx::test]
async fn erasure_deletes_the_users_installations_from_the_hub(pool: PgPool) {
    let (app, hub, _server) = hub_app(pool, "nudges").await;
    let u = app.user("gone@example.com").await;
    register(&app, &u, "FCM", "fcm-live-token-0123456789").await;
    let (id, payload) = welcome(&app, &u).await;
    assert!(deliver(&app, "MotivatorPush", &id, &payload).await.status.is_success());
    assert_eq!(hub.installations().len(), 1);
    let d = app.call(&u, Method::DELETE, "/api/users/me", None).await;
    assert!(d.status.is_success(), "{}", d.text);
    let tokens = count(&app, "SELECT count(*) FROM motivator.installations WHERE token IS NOT NULL").await;
    assert_eq!(tokens, 0, "the erasure keeps no token");
    let deleted: Value = sqlx::query_scalar(
        "SELECT payload FROM events.outbox WHERE event_type = 'user.deleted' ORDER BY created_at DESC LIMIT 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let r = deliver(&app, "MotivatorInstallationsEraser", &uuid::Uuid::new_v4().to_string(), &deleted).await;
    assert!(r.status.is_success(), "{}", r.text);
    assert_eq!(r.body["ReturnValue"]["installationsRemoved"], 1, "{}", r.text);
    assert!(hub.installations().is_empty());
    assert_eq!(count(&app, "SELECT count(*) FROM motivator.installations").await, 0);
}
