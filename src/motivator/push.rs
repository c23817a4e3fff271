//! Push delivery. The inbox entry is written first (with its `notification.created` event, in
//! one transaction); pushing is a consumer of that event, so a failed push never loses the entry
//! and is retried by redelivery. Azure: Notification Hubs' REST direct send, authorised with a SAS
//! token made from the hub's connection string (a Key Vault reference). Locally: no push, the
//! inbox only.

use std::{
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use anyhow::{Context, bail};
use async_trait::async_trait;
use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::{MotivatorState, events::NotificationCreated, store};
use crate::{
    functions::{self, InvocationError, InvocationRequest, InvocationResponse, InvokeFuture, MESSAGE_IN, ServiceBusMessage},
    platform::{bus::Handled, http_client::LazyClient},
};

pub const CONSUMER: &str = "MotivatorPush";

/// A message to push.
#[derive(Debug, Clone)]
pub struct PushMessage {
    pub notification_id: uuid::Uuid,
    pub kind: String,
    pub title: String,
    pub body: String,
}

/// What the push service said about one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    Sent,
    /// The token is no longer valid (the app was removed, the token rotated): forget it.
    Gone,
    /// Refused for good (a malformed token, say): no retry helps.
    Refused(String),
    /// Worth trying again later (throttled, the service down).
    Retry(String),
}

#[async_trait]
pub trait PushSender: Send + Sync {
    /// `platform`: `FCM` or `APNS`.
    async fn send(&self, platform: &str, token: &str, message: &PushMessage) -> PushOutcome;
}

/// Azure Notification Hubs, direct send
/// (`POST https://{namespace}/{hub}/messages/?direct&api-version=2015-04`).
pub struct NotificationHubs {
    /// `https://{namespace}/{hub}` (an `http://` fake in tests).
    resource: url::Url,
    key_name: String,
    key: SecretString,
    client: LazyClient,
}

impl NotificationHubs {
    /// From the hub's connection string
    /// (`Endpoint=sb://{namespace}/;SharedAccessKeyName=…;SharedAccessKey=…`) and its name.
    pub fn from_connection_string(connection: &str, hub: &str) -> anyhow::Result<Self> {
        let mut endpoint = None;
        let mut key_name = None;
        let mut key = None;
        for part in connection.split(';').filter(|p| !p.trim().is_empty()) {
            let (k, v) = part.split_once('=').context("a connection string part without '='")?;
            match k.trim() {
                "Endpoint" => endpoint = Some(v.trim().to_string()),
                "SharedAccessKeyName" => key_name = Some(v.trim().to_string()),
                "SharedAccessKey" => key = Some(v.trim().to_string()),
                _ => {}
            }
        }
        let (Some(endpoint), Some(key_name), Some(key)) = (endpoint, key_name, key) else {
            bail!("the Notification Hubs connection string needs Endpoint, SharedAccessKeyName and SharedAccessKey");
        };
        // `sb://` is how the portal writes the namespace; REST is HTTPS. A fake may say http://.
        let endpoint = match endpoint.strip_prefix("sb://") {
            Some(rest) => format!("https://{rest}"),
            None => endpoint,
        };
        let mut base = url::Url::parse(&endpoint).context("the connection string's Endpoint is not a URL")?;
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        if hub.is_empty() || !hub.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
            bail!("the notification hub's name is not valid");
        }
        let resource = base.join(hub).context("building the hub's address")?;
        Ok(NotificationHubs { resource, key_name, key: SecretString::from(key), client: LazyClient::default() })
    }

    /// The SAS token for the hub, valid for `ttl` from `now` (seconds since the epoch):
    /// `SharedAccessSignature sr={uri}&sig={HMAC-SHA256(key, uri + "\n" + expiry)}&se={expiry}&skn={name}`,
    /// the URI lower-cased and URL-encoded.
    pub fn sas_token(&self, now: u64, ttl: Duration) -> String {
        let expiry = now + ttl.as_secs();
        let uri = encode(&self.resource.as_str().to_lowercase());
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, self.key.expose_secret().as_bytes());
        let sig = aws_lc_rs::hmac::sign(&key, format!("{uri}\n{expiry}").as_bytes());
        let sig = base64::engine::general_purpose::STANDARD.encode(sig.as_ref());
        format!("SharedAccessSignature sr={uri}&sig={}&se={expiry}&skn={}", encode(&sig), encode(&self.key_name))
    }

    /// The payload and format header for a platform.
    pub fn payload(platform: &str, m: &PushMessage) -> Option<(&'static str, Value)> {
        let data = json!({ "notificationId": m.notification_id, "kind": m.kind });
        match platform {
            "FCM" => Some((
                "fcmv1",
                json!({ "message": { "notification": { "title": m.title, "body": m.body }, "data": data } }),
            )),
            "APNS" => Some((
                "apple",
                json!({ "aps": { "alert": { "title": m.title, "body": m.body }, "sound": "default" },
                        "notificationId": m.notification_id, "kind": m.kind }),
            )),
            _ => None,
        }
    }
}

fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[async_trait]
impl PushSender for NotificationHubs {
    async fn send(&self, platform: &str, token: &str, message: &PushMessage) -> PushOutcome {
        let Some((format, body)) = Self::payload(platform, message) else {
            return PushOutcome::Refused(format!("unknown platform {platform}"));
        };
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
        let mut url = self.resource.clone();
        url.set_path(&format!("{}/messages/", url.path()));
        url.set_query(Some("direct&api-version=2015-04"));
        let sent = self
            .client
            .get()
            .post(url)
            .timeout(Duration::from_secs(10))
            .header(reqwest::header::AUTHORIZATION, self.sas_token(now, Duration::from_secs(600)))
            .header(reqwest::header::CONTENT_TYPE, "application/json;charset=utf-8")
            .header("ServiceBusNotification-Format", format)
            .header("ServiceBusNotification-DeviceHandle", token)
            .body(body.to_string())
            .send()
            .await;
        match sent {
            Ok(res) => match res.status().as_u16() {
                200..=299 => PushOutcome::Sent,
                404 | 410 => PushOutcome::Gone,
                400 | 403 | 413 => PushOutcome::Refused(format!("Notification Hubs answered {}", res.status())),
                _ => PushOutcome::Retry(format!("Notification Hubs answered {}", res.status())),
            },
            Err(err) => PushOutcome::Retry(format!("Notification Hubs could not be reached: {}", err.without_url())),
        }
    }
}

/// The sender as configured: Notification Hubs when a connection string and hub name are set (an
/// unresolved Key Vault reference counts as unset), else none (the inbox only).
pub fn sender(connection: Option<String>, hub: Option<String>) -> anyhow::Result<Option<Arc<dyn PushSender>>> {
    let connection = connection.filter(|c| !c.trim().is_empty() && !c.starts_with("@Microsoft.KeyVault("));
    match (connection, hub.filter(|h| !h.is_empty())) {
        (Some(c), Some(h)) => Ok(Some(Arc::new(NotificationHubs::from_connection_string(&c, &h)?))),
        _ => Ok(None),
    }
}

/// `MotivatorPush`: pushes new notifications to their users' devices. A notification is marked
/// pushed once every device took it or was found gone (gone tokens are removed); a device the
/// service could not take now fails the invocation, so the message is redelivered and only the
/// notifications not yet marked are pushed again.
pub fn consume(state: MotivatorState, req: InvocationRequest) -> InvokeFuture {
    Box::pin(async move {
        let mut outcomes = Vec::new();
        for msg in ServiceBusMessage::from_invocation(&req, MESSAGE_IN) {
            let Some(NotificationCreated { notification_ids, .. }) = msg.payload() else {
                outcomes.push(functions::dead_letter(&state.db, CONSUMER, &msg, "body has no notificationIds").await?);
                continue;
            };
            let Some(sender) = state.push.clone() else {
                outcomes.push(Handled::Applied);
                continue;
            };
            push_all(&state, sender.as_ref(), &notification_ids).await.map_err(InvocationError::Retryable)?;
            outcomes.push(Handled::Applied);
        }
        Ok(InvocationResponse::default().returning(json!({ "outcomes": outcomes })))
    })
}

/// Pushes the notifications of `ids` not pushed yet. Errs when a device should be tried again.
pub async fn push_all(state: &MotivatorState, sender: &dyn PushSender, ids: &[uuid::Uuid]) -> anyhow::Result<()> {
    let mut retry = None;
    for n in store::pending_push(&state.db, ids).await? {
        let message = PushMessage { notification_id: n.id, kind: n.kind, title: n.title, body: n.body };
        let mut all_done = true;
        for device in store::devices_of(&state.db, n.user_id).await? {
            match sender.send(&device.platform, &device.token, &message).await {
                PushOutcome::Sent => {}
                PushOutcome::Gone => store::forget_token(&state.db, &device.token).await?,
                PushOutcome::Refused(why) => tracing::warn!(reason = why, "a push was refused"),
                PushOutcome::Retry(why) => {
                    all_done = false;
                    retry = Some(why);
                }
            }
        }
        if all_done {
            store::mark_pushed(&state.db, n.id).await?;
        }
    }
    match retry {
        Some(why) => bail!("a push is to be retried: {why}"),
        None => Ok(()),
    }
}
