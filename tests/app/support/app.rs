//! The app under test (zero2prod's `TestApp`): composed once per test around its fresh database
//! (`#[sqlx::test]`), with request helpers and a signed-in, registered user. Every test that
//! needs the app builds it through [`Spawn::try_spawn`], the one place that composes it.

use std::sync::{Arc, Mutex};

use axum::{
    Router,
    body::Body,
    http::{HeaderMap, Method, Request, StatusCode},
};
use chrono::{DateTime, Utc};
use healthsync::{
    DOMAINS,
    app::App,
    app::wiring::Wired,
    config::Config,
    domain::{AnyDomain, Mounted, Platform},
    platform::{bus::EventSink, time::Clock},
};
use serde_json::{Value, json};
use sqlx::PgPool;
use tower::ServiceExt as _;

use super::settings;

/// The app under test: its router, the platform it runs on and its database.
pub struct TestApp {
    pub router: Router,
    pub platform: Platform,
    pub pool: PgPool,
    /// The `/api` path templates the router serves.
    pub api_paths: Vec<&'static str>,
    /// What the app's domains share (its one token verifier, for a test's own routes).
    pub wired: Wired,
    /// The app's clock when the test holds it ([`Spawn::at`]).
    time: Option<Arc<Mutex<DateTime<Utc>>>>,
}

/// Mounts a test's own domains beside the app's, with what the app's domains share.
pub type MountExtra = Box<dyn FnOnce(&Platform, &Wired) -> anyhow::Result<Vec<Mounted>>>;

/// How to compose a [`TestApp`]: the crate's domains with the in-process cache and a temporary
/// blob folder, unless told otherwise.
pub struct Spawn<'d> {
    pool: PgPool,
    settings: Vec<(String, String)>,
    domains: &'d [&'d dyn AnyDomain],
    extra: Option<MountExtra>,
    at: Option<DateTime<Utc>>,
    events: Option<Arc<dyn EventSink>>,
}

impl TestApp {
    pub fn builder(pool: PgPool) -> Spawn<'static> {
        Spawn { pool, settings: Vec::new(), domains: DOMAINS, extra: None, at: None, events: None }
    }
}

impl<'d> Spawn<'d> {
    /// Extra settings (later ones win).
    pub fn settings(mut self, extra: &[(&str, &str)]) -> Self {
        self.settings.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        self
    }

    /// These domains instead of the crate's list: the crate's, then the ones `extra` mounts.
    pub fn domains<'e>(
        self,
        domains: &'e [&'e dyn AnyDomain],
        extra: impl FnOnce(&Platform, &Wired) -> anyhow::Result<Vec<Mounted>> + 'static,
    ) -> Spawn<'e> {
        let Spawn { pool, settings, at, events, .. } = self;
        Spawn { pool, settings, domains, extra: Some(Box::new(extra)), at, events }
    }

    /// The app's one clock in the test's hand, at `rfc3339` until [`TestApp::set_time`] moves it.
    pub fn at(mut self, rfc3339: &str) -> Self {
        self.at = Some(at(rfc3339));
        self
    }

    /// The relay publishes through `sink` (a fake of Service Bus or Event Hubs).
    pub fn events(mut self, sink: Arc<dyn EventSink>) -> Self {
        self.events = Some(sink);
        self
    }

    /// Composes the app: the platform from the settings, the test's replacements, the domains
    /// mounted on it. The error is the app's refusal to start.
    pub fn try_spawn(self) -> anyhow::Result<TestApp> {
        let pairs: Vec<(&str, &str)> = self.settings.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let source = Arc::new(settings(&pairs));
        let config = Config::from_source(source.as_ref())?;
        let mut platform = App::platform(self.domains, config, source, self.pool.clone())?;
        let time = self.at.map(|start| Arc::new(Mutex::new(start)));
        if let Some(time) = &time {
            let read = time.clone();
            platform.clock = Clock::from_fn(move || *read.lock().unwrap());
        }
        if let Some(sink) = self.events {
            platform.events = sink;
        }
        let extra = self.extra.unwrap_or_else(|| Box::new(|_, _| Ok(Vec::new())));
        let app = App::mount_with(platform, self.domains, extra)?;
        Ok(TestApp {
            router: app.router,
            platform: app.platform,
            pool: self.pool,
            api_paths: app.api_paths,
            wired: app.wired,
            time,
        })
    }

    pub fn spawn(self) -> TestApp {
        self.try_spawn().expect("the test app")
    }
}

/// The app with default settings around `pool`.
pub fn spawn(pool: PgPool) -> TestApp {
    TestApp::builder(pool).spawn()
}

pub fn spawn_with(pool: PgPool, extra: &[(&str, &str)]) -> TestApp {
    TestApp::builder(pool).settings(extra).spawn()
}

/// Just the router.
pub fn app(pool: PgPool) -> Router {
    spawn(pool).router
}

pub fn app_with(pool: PgPool, extra: &[(&str, &str)]) -> Router {
    spawn_with(pool, extra).router
}

pub fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).expect("a test time").with_timezone(&Utc)
}

/// What the app answered.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

/// Who sends a request: nobody (`None`), a bearer token, or a [`User`].
pub trait Caller {
    fn bearer(&self) -> Option<String>;
    /// The signed-in user, whose tokens the app may renew as the mobile app does.
    fn user(&self) -> Option<&User> {
        None
    }
}

impl Caller for Option<&str> {
    fn bearer(&self) -> Option<String> {
        self.map(str::to_string)
    }
}

impl Caller for str {
    fn bearer(&self) -> Option<String> {
        Some(self.to_string())
    }
}

impl Caller for String {
    fn bearer(&self) -> Option<String> {
        Some(self.clone())
    }
}

impl Caller for User {
    fn bearer(&self) -> Option<String> {
        Some(self.token())
    }
    fn user(&self) -> Option<&User> {
        Some(self)
    }
}

impl<T: Caller + ?Sized> Caller for &T {
    fn bearer(&self) -> Option<String> {
        (**self).bearer()
    }
    fn user(&self) -> Option<&User> {
        (**self).user()
    }
}

/// A signed-in user: their id and tokens (renewed when a request finds the access token expired
/// by the app's clock, as the mobile app renews it).
pub struct User {
    pub id: String,
    tokens: Mutex<(String, String)>,
}

impl User {
    pub fn new(id: String, token: String, refresh: String) -> Self {
        User { id, tokens: Mutex::new((token, refresh)) }
    }

    pub fn uuid(&self) -> uuid::Uuid {
        self.id.parse().unwrap()
    }

    /// The access token.
    pub fn token(&self) -> String {
        self.tokens.lock().unwrap().0.clone()
    }

    /// The refresh token.
    pub fn refresh(&self) -> String {
        self.tokens.lock().unwrap().1.clone()
    }
}

/// A registration the app takes.
pub fn registration() -> Value {
    json!({ "name": "김건강", "birthDate": "1988-03-15", "sex": "FEMALE", "occupation": "교사", "heightCm": 162.5 })
}

impl TestApp {
    /// Moves the clock the test holds ([`Spawn::at`]).
    pub fn set_time(&self, rfc3339: &str) {
        *self.time.as_ref().expect("a test clock: spawn with `at`").lock().unwrap() = at(rfc3339);
    }

    pub async fn send(&self, req: Request<Body>) -> Answer {
        send(&self.router, req).await
    }

    /// A request from `who` with an optional JSON body. Where the test holds the clock and has moved
    /// it past a user's access token, the user refreshes once and asks again, as the mobile app does.
    pub async fn call(&self, who: impl Caller, method: Method, uri: &str, json: Option<Value>) -> Answer {
        let a = request(&self.router, &who, method.clone(), uri, json.as_ref()).await;
        // Only where the test holds the clock: elsewhere an expired token is a finding, not a renewal.
        let Some(user) = who.user().filter(|_| self.time.is_some()) else { return a };
        if a.status != StatusCode::UNAUTHORIZED || a.body["code"] != "INVALID_TOKEN" {
            return a;
        }
        let body = json!({ "refreshToken": user.refresh() });
        let r = request(&self.router, None, Method::POST, "/api/auth/refresh", Some(&body)).await;
        if r.status != StatusCode::OK {
            return a;
        }
        let text = |k: &str| r.body["data"][k].as_str().unwrap_or_default().to_string();
        *user.tokens.lock().unwrap() = (text("accessToken"), text("refreshToken"));
        request(&self.router, &who, method, uri, json.as_ref()).await
    }

    pub async fn get(&self, who: impl Caller, uri: &str) -> Answer {
        self.call(who, Method::GET, uri, None).await
    }

    pub async fn post(&self, who: impl Caller, uri: &str, json: Option<Value>) -> Answer {
        self.call(who, Method::POST, uri, json).await
    }

    pub async fn put(&self, who: impl Caller, uri: &str, json: Option<Value>) -> Answer {
        self.call(who, Method::PUT, uri, json).await
    }

    pub async fn delete(&self, who: impl Caller, uri: &str) -> Answer {
        self.call(who, Method::DELETE, uri, None).await
    }

    /// Signed in with the dev login (the account is PENDING until it registers).
    pub async fn sign_in(&self, email: &str) -> User {
        let a = self.post(None, "/api/auth/dev-login", Some(json!({ "email": email }))).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        let data = &a.body["data"];
        let text = |k: &str| data[k].as_str().unwrap_or_else(|| panic!("{k} in {}", a.text)).to_string();
        User::new(text("userId"), text("accessToken"), text("refreshToken"))
    }

    /// Registers `u` with `body`; the answer is the new ACTIVE profile.
    pub async fn register(&self, u: &User, body: Value) -> Answer {
        let r = self.post(u, "/api/users/register", Some(body)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert_eq!(r.body["data"]["status"], "ACTIVE", "{}", r.text);
        r
    }

    /// A signed-in, ACTIVE user registered with [`registration`].
    pub async fn sign_in_and_register(&self, email: &str) -> User {
        self.sign_in_and_register_as(email, registration()).await
    }

    /// A signed-in, ACTIVE user registered with `body`.
    pub async fn sign_in_and_register_as(&self, email: &str, body: Value) -> User {
        let u = self.sign_in(email).await;
        self.register(&u, body).await;
        u
    }

    /// Answers `kinds` (`HEALTH_DATA`, ...) of the current version with `granted`.
    pub async fn consent(&self, u: &User, kinds: &[&str], granted: bool) {
        let list: Vec<Value> =
            kinds.iter().map(|k| json!({"type": k, "granted": granted, "version": "2026-11"})).collect();
        let c = self.put(u, "/api/users/me/consents", Some(json!({ "consents": list }))).await;
        assert_eq!(c.status, StatusCode::OK, "{}", c.text);
    }

    /// One number from the database.
    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(&self.pool).await.unwrap()
    }
}

pub async fn send(app: &Router, req: Request<Body>) -> Answer {
    let res = app.clone().oneshot(req).await.expect("infallible");
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = axum::body::to_bytes(res.into_body(), 64 << 20).await.expect("body");
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer { status, headers, body, text }
}

/// A request to any router from `who`, with an optional JSON body.
pub async fn request(
    app: &Router,
    who: impl Caller,
    method: Method,
    uri: &str,
    json: Option<&Value>,
) -> Answer {
    let mut b = Request::builder().method(method).uri(uri);
    if let Some(t) = who.bearer() {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    let body = match json {
        Some(v) => {
            b = b.header("content-type", "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    send(app, b.body(body).expect("request")).await
}

/// A request without a token.
pub async fn call(app: &Router, method: Method, uri: &str, json: Option<Value>) -> Answer {
    request(app, None, method, uri, json.as_ref()).await
}
