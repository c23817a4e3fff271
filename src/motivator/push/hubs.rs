//! Azure Notification Hubs over REST, authorised with a SAS token made from the hub's connection
//! string (a Key Vault reference). Devices are **installations**
//! (https://learn.microsoft.com/rest/api/notificationhubs/create-overwrite-installation: `PUT
//! {hub}/installations/{id}`, 200; https://learn.microsoft.com/rest/api/notificationhubs/delete-installation:
//! `DELETE`, 204, also for an id the hub does not know), tagged `user:{id}`; a push goes to the
//! user's tag (https://learn.microsoft.com/rest/api/notificationhubs/send-fcmv1-native-notification,
//! https://learn.microsoft.com/rest/api/notificationhubs/send-apple-native-notification: `POST
//! {hub}/messages/`, 201), so the hub prunes dead handles itself and never reports a device.
//!
//! What a status means: 401 a bad SAS (a rotated key), 404 "no message branch at the URI" (a wrong
//! or recreated hub), 410 the entity is gone: configuration errors, never a device's; 403 "quota
//! exceeded" and 429 throttling: worth trying again after a wait; 400 and 413 (payload too large):
//! our message, refused for good.

use std::time::Duration;

use anyhow::{Context, bail};
use async_trait::async_trait;
use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    motivator::store::{Kind, PushPlatform},
    platform::http_client::LazyClient,
};

const API_VERSION: &str = "api-version=2015-01";

/// A message to push.
#[derive(Debug, Clone)]
pub struct PushMessage {
    pub notification_id: Uuid,
    pub kind: Kind,
    pub title: String,
    pub body: String,
}

/// A device as the hub holds it.
#[derive(Debug, Clone)]
pub struct Installation<'a> {
    pub id: &'a str,
    /// Ours; the hub's names are `fcmv1` and `apns`.
    pub platform: PushPlatform,
    pub token: &'a str,
    pub user: Uuid,
}

/// What one call came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// Throttled, over a quota, the service down or unreachable: try again after a wait
    /// (`Retry-After` when the hub gave one).
    Retry { why: String, after: Option<Duration> },
    /// The hub's name, address or key is wrong: no retry helps until an operator fixes it, and
    /// no device is to blame.
    Misconfigured(String),
    /// Our request refused for good (malformed, too large).
    Refused(String),
}

#[async_trait]
pub trait PushSender: Send + Sync {
    /// Creates or overwrites an installation, tagged `user:{user}`.
    async fn install(&self, installation: &Installation<'_>) -> Outcome;
    /// Deletes an installation (done also when the hub does not know it).
    async fn uninstall(&self, installation_id: &str) -> Outcome;
    /// Sends `message` to every installation of `platform` that carries `tag`.
    async fn send(&self, platform: PushPlatform, tag: &str, message: &PushMessage) -> Outcome;
}

/// The tag of a user's installations.
pub fn user_tag(user: Uuid) -> String {
    format!("user:{user}")
}

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

    /// The hub's name for a platform, and the send's format header.
    pub fn platform(platform: PushPlatform) -> (&'static str, &'static str) {
        match platform {
            PushPlatform::Fcm => ("fcmv1", "fcmv1"),
            PushPlatform::Apns => ("apns", "apple"),
        }
    }

    /// The native payload of a platform.
    pub fn payload(platform: PushPlatform, m: &PushMessage) -> Value {
        let data = json!({ "notificationId": m.notification_id, "kind": m.kind });
        match platform {
            PushPlatform::Fcm => json!({ "message": { "notification": { "title": m.title, "body": m.body }, "data": data } }),
            PushPlatform::Apns => json!({ "aps": { "alert": { "title": m.title, "body": m.body }, "sound": "default" },
                                          "notificationId": m.notification_id, "kind": m.kind }),
        }
    }

    fn url(&self, path: &str) -> url::Url {
        let mut url = self.resource.clone();
        url.set_path(&format!("{}/{path}", url.path()));
        url.set_query(Some(API_VERSION));
        url
    }

    /// A signature valid for ten minutes from now by the machine's time, which is what the
    /// service judges it by (`platform::entra::azure_now`), whatever the app's clock says.
    fn auth(&self) -> String {
        self.sas_token(crate::platform::entra::azure_now(), Duration::from_secs(600))
    }

    async fn call(&self, request: reqwest::RequestBuilder) -> Outcome {
        let sent = request
            .timeout(Duration::from_secs(10))
            .header(reqwest::header::AUTHORIZATION, self.auth())
            .header("x-ms-version", "2015-01")
            .send()
            .await;
        match sent {
            Ok(res) => {
                let after = res
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                classify(res.status().as_u16(), after)
            }
            Err(err) => Outcome::Retry {
                why: format!("Notification Hubs could not be reached: {}", err.without_url()),
                after: None,
            },
        }
    }
}

/// What a status of the hub means for us (see the module's documentation).
pub fn classify(status: u16, after: Option<Duration>) -> Outcome {
    let said = |what: &str| format!("Notification Hubs answered {status} ({what})");
    match status {
        200..=299 => Outcome::Done,
        401 => Outcome::Misconfigured(said("authorization failed: the SAS key or its name is wrong")),
        404 => Outcome::Misconfigured(said("no such hub at this address: a wrong or recreated hub")),
        410 => Outcome::Misconfigured(said("the hub is gone")),
        403 => Outcome::Retry { why: said("quota exceeded"), after },
        429 => Outcome::Retry { why: said("throttled"), after },
        400 | 413 => Outcome::Refused(said("the request was refused")),
        _ => Outcome::Retry { why: said("unavailable"), after },
    }
}

fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[async_trait]
impl PushSender for NotificationHubs {
    async fn install(&self, i: &Installation<'_>) -> Outcome {
        let (platform, _) = Self::platform(i.platform);
        let body = json!({
            "installationId": i.id,
            "platform": platform,
            "pushChannel": i.token,
            "tags": [user_tag(i.user)],
        });
        let request = self
            .client
            .get()
            .put(self.url(&format!("installations/{}", i.id)))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        self.call(request).await
    }

    async fn uninstall(&self, installation_id: &str) -> Outcome {
        let request = self.client.get().delete(self.url(&format!("installations/{installation_id}")));
        self.call(request).await
    }

    async fn send(&self, platform: PushPlatform, tag: &str, message: &PushMessage) -> Outcome {
        let (_, format) = Self::platform(platform);
        let body = Self::payload(platform, message);
        let request = self
            .client
            .get()
            .post(self.url("messages/"))
            .header(reqwest::header::CONTENT_TYPE, "application/json;charset=utf-8")
            .header("ServiceBusNotification-Format", format)
            .header("ServiceBusNotification-Tags", tag)
            .body(body.to_string());
        self.call(request).await
    }
}

/// Tries `call` up to [`ATTEMPTS`] times while it asks for a retry, waiting longer each time
/// (with jitter; `Retry-After` when given, up to [`MAX_WAIT`]).
pub async fn with_backoff<F, Fut>(mut call: F) -> Outcome
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Outcome>,
{
    let mut attempt = 0;
    loop {
        let outcome = call().await;
        attempt += 1;
        match &outcome {
            Outcome::Retry { after, .. } if attempt < ATTEMPTS => {
                let base = FIRST_WAIT.saturating_mul(1 << (attempt - 1));
                let jitter = Duration::from_millis((Uuid::new_v4().as_u128() % 100) as u64);
                tokio::time::sleep(after.unwrap_or(base + jitter).min(MAX_WAIT)).await;
            }
            _ => return outcome,
        }
    }
}

/// Calls to the hub per push before giving the message back to Service Bus for redelivery.
pub const ATTEMPTS: u32 = 4;
const FIRST_WAIT: Duration = Duration::from_millis(200);
const MAX_WAIT: Duration = Duration::from_secs(5);
