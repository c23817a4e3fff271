//! Push through a local fake of Notification Hubs (wiremock speaking its REST direct send): the
//! SAS token and headers, a gone token removed, a failed push retried without losing the inbox
//! entry.

use axum::http::{Method, StatusCode};
use healthsync::motivator::push::{NotificationHubs, PushMessage, PushOutcome, PushSender as _};
use serde_json::json;
use sqlx::PgPool;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{header, header_exists, method, path, query_param},
};

use super::{MORNING, deliver};
use crate::goals::{GoalsApp, User};

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

#[tokio::test]
async fn a_direct_send_speaks_the_hubs_rest_contract() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/nudges/messages/"))
        .and(query_param("api-version", "2015-04"))
        .and(header("ServiceBusNotification-Format", "fcmv1"))
        .and(header("ServiceBusNotification-DeviceHandle", "fcm-live-token-0123456789"))
        .and(header_exists("authorization"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/nudges/messages/"))
        .respond_with(ResponseTemplate::new(410))
        .mount(&server)
        .await;
    let hubs = NotificationHubs::from_connection_string(&connection(&server), "nudges").unwrap();
    let m = PushMessage {
        notification_id: uuid::Uuid::new_v4(),
        kind: "WELCOME".into(),
        title: "t".into(),
        body: "b".into(),
    };
    assert_eq!(hubs.send("FCM", "fcm-live-token-0123456789", &m).await, PushOutcome::Sent);
    assert_eq!(hubs.send("FCM", "fcm-gone-token-0123456789", &m).await, PushOutcome::Gone);
    let sent = &server.received_requests().await.unwrap()[0];
    let body: serde_json::Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(body["message"]["notification"]["title"], "t");
    assert!(sent.headers["authorization"].to_str().unwrap().starts_with("SharedAccessSignature sr="));
}

/// When the user's welcome notification was pushed (`None`: not yet).
async fn welcome_pushed_at(app: &GoalsApp, u: &User) -> Option<chrono::DateTime<chrono::Utc>> {
    sqlx::query_scalar(
        "SELECT pushed_at FROM motivator.notifications WHERE kind = 'WELCOME' AND user_id = $1",
    )
    .bind(u.uuid())
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

#[sqlx::test]
async fn a_failed_push_keeps_the_inbox_entry_and_a_gone_token_is_removed(pool: PgPool) {
    let server = MockServer::start().await;
    let app = GoalsApp::start(
        pool,
        MORNING,
        &[("NOTIFICATION_HUB_CONNECTION", &connection(&server)), ("NOTIFICATION_HUB_NAME", "nudges")],
    );
    let u = app.user("p@example.com").await;
    for token in ["fcm-live-token-0123456789", "fcm-gone-token-0123456789"] {
        let r = app
            .call(
                Some(&u.token),
                Method::PUT,
                "/api/notifications/devices",
                Some(json!({"platform": "FCM", "token": token})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    // First the hub is down: the welcome stays in the inbox, the invocation fails for a retry.
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    let registered: serde_json::Value = json!({"userId": u.id});
    let id = uuid::Uuid::new_v4().to_string();
    assert!(deliver(&app, "MotivatorWelcome", &id, &registered).await.status.is_success());
    let (event_id, payload): (uuid::Uuid, serde_json::Value) = sqlx::query_as(
        "SELECT id, payload FROM events.outbox WHERE event_type = 'notification.created' ORDER BY created_at DESC LIMIT 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let failed = deliver(&app, "MotivatorPush", &event_id.to_string(), &payload).await;
    assert!(failed.status.is_server_error(), "{} {}", failed.status, failed.text);
    let pushed = welcome_pushed_at(&app, &u).await;
    assert!(pushed.is_none());
    // The redelivery: the hub is back; one token is gone.
    Mock::given(method("POST"))
        .and(header("ServiceBusNotification-DeviceHandle", "fcm-gone-token-0123456789"))
        .respond_with(ResponseTemplate::new(410))
        .mount(&server)
        .await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(201)).mount(&server).await;
    let ok = deliver(&app, "MotivatorPush", &event_id.to_string(), &payload).await;
    assert!(ok.status.is_success(), "{}", ok.text);
    let tokens: Vec<String> =
        sqlx::query_scalar("SELECT token FROM motivator.devices").fetch_all(&app.pool).await.unwrap();
    assert_eq!(tokens, ["fcm-live-token-0123456789"]);
    let pushed = welcome_pushed_at(&app, &u).await;
    assert!(pushed.is_some());
    let inbox = app.get(&u, "/api/notifications").await;
    assert_eq!(inbox.body["data"]["totalCount"], 1, "{}", inbox.text);
}
