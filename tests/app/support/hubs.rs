//! A fake Notification Hub that speaks the installation API and the tag send, as strict as the
//! public REST reference:
//!
//! - Create or overwrite an installation
//!   (https://learn.microsoft.com/rest/api/notificationhubs/create-overwrite-installation):
//!   `PUT /{hub}/installations/{id}?api-version=2015-01`, a SAS `Authorization`, a JSON body whose
//!   `installationId` is the one in the path, `platform` one the hub knows (`fcmv1`, `apns`, ...),
//!   a `pushChannel` and at most 60 tags; 200.
//! - Delete an installation (https://learn.microsoft.com/rest/api/notificationhubs/delete-installation):
//!   `DELETE`, 204, also for an id it does not hold.
//! - Send a native notification to a tag expression
//!   (https://learn.microsoft.com/rest/api/notificationhubs/send-fcmv1-native-notification,
//!   https://learn.microsoft.com/rest/api/notificationhubs/send-apple-native-notification):
//!   `POST /{hub}/messages/?api-version=2015-01` with `ServiceBusNotification-Format` and
//!   `ServiceBusNotification-Tags`; 201. It reaches the installations of that format's platform
//!   carrying the tag; the answer never says which (the hub prunes dead handles itself).
//! - Statuses: 401 without a SAS, 404 for another hub's path ("no message branch at the URI"),
//!   400 for a malformed body; and, on demand, 410 (gone), 403 (quota) or 429 (throttled).

use std::{
    collections::{BTreeMap, VecDeque},
    sync::{Arc, Mutex},
};

use serde_json::Value;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers::any};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installation {
    pub platform: String,
    pub push_channel: String,
    pub tags: Vec<String>,
}

/// A push the hub fanned out: to which installations, with which body.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub tag: String,
    pub format: String,
    pub installations: Vec<String>,
    pub body: Value,
}

#[derive(Default)]
pub struct State {
    pub installations: BTreeMap<String, Installation>,
    pub delivered: Vec<Delivered>,
    /// Every request, as `METHOD path`.
    pub calls: Vec<String>,
    /// Statuses to answer next, whatever the request (then normal service resumes).
    pub next: VecDeque<u16>,
    /// Answer this to everything while set (a deleted hub: 410; a wrong key: 401).
    pub always: Option<u16>,
}

#[derive(Clone)]
pub struct FakeHub {
    hub: String,
    pub state: Arc<Mutex<State>>,
}

impl FakeHub {
    pub async fn mount(server: &MockServer, hub: &str) -> Self {
        let fake = FakeHub { hub: hub.to_string(), state: Arc::default() };
        Mock::given(any()).respond_with(fake.clone()).mount(server).await;
        fake
    }

    pub fn installations(&self) -> BTreeMap<String, Installation> {
        self.state.lock().unwrap().installations.clone()
    }

    pub fn delivered(&self) -> Vec<Delivered> {
        self.state.lock().unwrap().delivered.clone()
    }

    pub fn calls(&self) -> Vec<String> {
        self.state.lock().unwrap().calls.clone()
    }

    pub fn answer_next(&self, statuses: &[u16]) {
        self.state.lock().unwrap().next.extend(statuses);
    }

    pub fn always(&self, status: Option<u16>) {
        self.state.lock().unwrap().always = status;
    }
}

fn platform_of_format(format: &str) -> Option<&'static str> {
    match format {
        "fcmv1" => Some("fcmv1"),
        "apple" => Some("apns"),
        "gcm" => Some("gcm"),
        _ => None,
    }
}

impl Respond for FakeHub {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut s = self.state.lock().unwrap();
        let path = req.url.path().to_string();
        s.calls.push(format!("{} {path}", req.method));
        let sas = req.headers.get("authorization").and_then(|v| v.to_str().ok()).is_some_and(|v| {
            v.starts_with("SharedAccessSignature sr=") && v.contains("&sig=") && v.contains("&skn=")
        });
        if !sas {
            return ResponseTemplate::new(401);
        }
        if let Some(status) = s.always {
            return ResponseTemplate::new(status);
        }
        if let Some(status) = s.next.pop_front() {
            return ResponseTemplate::new(status);
        }
        let Some(rest) = path.strip_prefix(&format!("/{}/", self.hub)) else {
            return ResponseTemplate::new(404);
        };
        if !req.url.query_pairs().any(|(k, v)| k == "api-version" && v == "2015-01") {
            return ResponseTemplate::new(400);
        }
        let method = req.method.as_str();
        if let Some(id) = rest.strip_prefix("installations/") {
            return match method {
                "PUT" => {
                    let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
                        return ResponseTemplate::new(400);
                    };
                    let tags: Vec<String> = body["tags"]
                        .as_array()
                        .map(|t| t.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
                        .unwrap_or_default();
                    let platform = body["platform"].as_str().unwrap_or_default().to_ascii_lowercase();
                    let channel = body["pushChannel"].as_str().unwrap_or_default().to_string();
                    let valid = body["installationId"].as_str() == Some(id)
                        && ["fcmv1", "apns", "gcm", "wns", "mpns", "adm", "baidu"]
                            .contains(&platform.as_str())
                        && !channel.is_empty()
                        && tags.len() <= 60;
                    if !valid {
                        return ResponseTemplate::new(400);
                    }
                    s.installations
                        .insert(id.to_string(), Installation { platform, push_channel: channel, tags });
                    ResponseTemplate::new(200)
                }
                "DELETE" => {
                    s.installations.remove(id);
                    ResponseTemplate::new(204)
                }
                _ => ResponseTemplate::new(405),
            };
        }
        if rest == "messages/" && method == "POST" {
            let header = |name: &str| req.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
            let (Some(format), Some(tag)) =
                (header("servicebusnotification-format"), header("servicebusnotification-tags"))
            else {
                return ResponseTemplate::new(400);
            };
            let (Some(platform), Ok(body)) =
                (platform_of_format(&format), serde_json::from_slice::<Value>(&req.body))
            else {
                return ResponseTemplate::new(400);
            };
            let installations = s
                .installations
                .iter()
                .filter(|(_, i)| i.platform == platform && i.tags.contains(&tag))
                .map(|(id, _)| id.clone())
                .collect();
            s.delivered.push(Delivered { tag, format, installations, body });
            return ResponseTemplate::new(201);
        }
        ResponseTemplate::new(404)
    }
}
