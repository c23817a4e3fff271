//! The composition root: builds the platform, mounts every domain of `crate::DOMAINS` on it, and
//! serves their routes and functions as one router. The catalog (what functions, settings,
//! subscriptions and data parts exist) and the files generated from it live beside it.

pub mod catalog;
pub mod commands;
pub mod contract;
pub mod generate;
pub mod wiring;

use std::sync::Arc;

use axum::{
    Router,
    extract::{DefaultBodyLimit, Request, State},
    middleware::{self, Next},
    response::Response,
    routing::get,
};
use sqlx::PgPool;
use tower_http::catch_panic::CatchPanicLayer;

pub use catalog::Catalog;

use crate::{
    config::{self, Config, ProcessEnv, Source},
    domain::{AnyDomain, Blueprint, Mounted, Platform},
    functions::{
        self, FUNCTION_TIMEOUT,
        invoke::{self, Bound},
    },
    http::{self, ApiError, Routes, context::BodyLimits},
    platform::{bus::FastRelay, db},
};

/// The running app: its platform and the router that serves everything.
pub struct App {
    pub platform: Platform,
    pub router: Router,
    /// The `/api` routes' path templates (for the tests that compare them with the functions).
    pub api_paths: Vec<&'static str>,
    /// What the domains share (a test's own routes take the app's token verifier from here).
    pub wired: wiring::Wired,
}

impl App {
    /// From the process environment, as `healthsync serve` runs. Connects to nothing yet.
    pub fn from_env() -> anyhow::Result<App> {
        Self::from_source(Arc::new(ProcessEnv))
    }

    pub fn from_source(settings: Arc<dyn Source>) -> anyhow::Result<App> {
        let config = Config::from_source(settings.as_ref())?;
        let db = db::lazy_pool(&config)?;
        Self::compose(crate::DOMAINS, config, settings, db)
    }

    /// Around a pool made elsewhere (tests get a fresh database each).
    pub fn with_pool(settings: Arc<dyn Source>, db: PgPool) -> anyhow::Result<App> {
        let config = Config::from_source(settings.as_ref())?;
        Self::compose(crate::DOMAINS, config, settings, db)
    }

    /// The app made of `domains`: `crate::DOMAINS`, wired by [`wiring::mount`].
    pub fn compose(
        domains: &[&dyn AnyDomain],
        config: Config,
        settings: Arc<dyn Source>,
        db: PgPool,
    ) -> anyhow::Result<App> {
        Self::compose_with(domains, config, settings, db, |_, _| Ok(Vec::new()))
    }

    /// The app made of `domains`: `crate::DOMAINS` first, wired by [`wiring::mount`], then the
    /// ones `extra` mounts beside them with what the app's domains share (a test's throwaway
    /// domain).
    pub fn compose_with(
        domains: &[&dyn AnyDomain],
        config: Config,
        settings: Arc<dyn Source>,
        db: PgPool,
        extra: impl FnOnce(&Platform, &wiring::Wired) -> anyhow::Result<Vec<Mounted>>,
    ) -> anyhow::Result<App> {
        let platform = Self::platform(domains, config, settings, db)?;
        Self::mount_with(platform, domains, extra)
    }

    /// The platform `domains` run on: every setting they require in Azure is checked, and the
    /// blueprint (subscriptions, data parts, the OpenAPI document) is taken from them.
    pub fn platform(
        domains: &[&dyn AnyDomain],
        config: Config,
        settings: Arc<dyn Source>,
        db: PgPool,
    ) -> anyhow::Result<Platform> {
        let catalog = Catalog::new(domains);
        config::check_required(settings.as_ref(), &catalog.settings())?;
        let blueprint = Blueprint {
            subscriptions: catalog.subscriptions(),
            data_parts: catalog.data_parts(),
            api_doc: http::openapi::ApiDoc::new(catalog.openapi_fragments()),
        };
        Platform::new(config, settings, db, blueprint)
    }

    /// Mounts the app's domains on `platform` (made elsewhere: tests move its clock or sinks).
    pub fn mount(platform: Platform) -> anyhow::Result<App> {
        Self::mount_with(platform, crate::DOMAINS, |_, _| Ok(Vec::new()))
    }

    /// Mounts the app's domains and what `extra` mounts beside them on `platform`; together they
    /// must be `domains`, in order (what the platform's catalog was made of).
    pub fn mount_with(
        platform: Platform,
        domains: &[&dyn AnyDomain],
        extra: impl FnOnce(&Platform, &wiring::Wired) -> anyhow::Result<Vec<Mounted>>,
    ) -> anyhow::Result<App> {
        let (mut mounted, wired) = wiring::mount(&platform)?;
        mounted.extend(extra(&platform, &wired)?);
        let names: Vec<&str> = mounted.iter().map(|m| m.name).collect();
        let listed: Vec<&str> = domains.iter().map(|d| d.name()).collect();
        anyhow::ensure!(names == listed, "the wiring mounts {names:?}, the catalog lists {listed:?}");
        Self::serve(mounted, wired, platform)
    }

    /// Builds the router once around the mounted domains.
    fn serve(mounted: Vec<Mounted>, wired: wiring::Wired, platform: Platform) -> anyhow::Result<App> {
        let mut routes = Routes::new();
        let mut bodies = Vec::new();
        for m in mounted {
            routes = routes.merge(m.routes);
            bodies.extend(m.functions);
        }
        let api_paths = routes.paths().to_vec();
        let routes_limit = routes.body_limits().iter().map(|(_, l)| *l).max().unwrap_or(0);
        let api = api_router(routes, &platform, fast_relay(&platform));
        let bridge = invoke::http_bridge(api.clone());
        let bound = bodies
            .into_iter()
            .map(|(def, run)| Bound { def, run: run.unwrap_or_else(|| bridge.clone()) })
            .collect();
        let largest_api_body = routes_limit.max(platform.config.http_body_limit);
        let options =
            invoke::Options { timeout: FUNCTION_TIMEOUT, db: platform.db.clone(), largest_api_body };
        let mut invocations = invoke::router(bound, options);
        // Requests and invocations publish the events they committed before answering (Service
        // Bus; within OUTBOX_PUBLISH_BUDGET_MS); the OutboxRelay sweep catches the rest.
        if let Some(fast) = fast_relay(&platform) {
            invocations = invocations.layer(middleware::from_fn_with_state(fast, publish_after));
        }
        let router = Router::new()
            // The host polls `GET /` until the handler answers: answer at once.
            .route("/", get(|| async { "ok" }))
            .merge(invocations)
            .fallback_service(api)
            .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
            .layer(CatchPanicLayer::custom(http::error::panic_response));
        Ok(App { platform, router, api_paths, wired })
    }
}

/// The `/api` routes with the API's own stack: request context and timeout, body limits, the
/// route template on the span, and the error shape for what matches nothing.
fn api_router(routes: Routes<()>, platform: &Platform, fast: Option<FastRelay>) -> Router {
    let limits = Arc::new(BodyLimits {
        default: platform.config.http_body_limit,
        per_route: routes.body_limits().iter().copied().collect(),
        streamed: routes.streamed_routes().iter().copied().collect(),
    });
    let timeouts = Arc::new(http::context::Timeouts {
        default: platform.config.http_timeout,
        long: platform.config.http_long_timeout,
        long_routes: routes.long_routes().iter().copied().collect(),
    });
    let mut router = routes.into_router();
    if let Some(fast) = fast {
        router = router.route_layer(middleware::from_fn_with_state(fast, publish_after));
    }
    router
        // After routing, so each route's own limit applies; the extractors' limit is ours.
        .route_layer(middleware::from_fn_with_state(limits, http::context::limit_body))
        .route_layer(middleware::from_fn(http::context::record_route))
        .layer(DefaultBodyLimit::disable())
        .fallback(|| async { ApiError::not_found("요청한 주소를 찾을 수 없습니다.") })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(CatchPanicLayer::custom(http::error::panic_response))
        .layer(middleware::from_fn(http::context::no_store_by_default))
        .layer(middleware::from_fn_with_state(timeouts, http::context::request_context))
}

fn fast_relay(platform: &Platform) -> Option<FastRelay> {
    FastRelay::new(platform.db.clone(), platform.events.clone(), platform.config.outbox_publish_budget)
}

/// Publishes what the request committed before its answer goes out (`platform::bus::fast`).
async fn publish_after(State(fast): State<FastRelay>, req: Request, next: Next) -> Response {
    fast.around(next.run(req)).await
}

/// Every function of the app, for the local host.
pub fn functions() -> Vec<functions::FunctionDef> {
    Catalog::app().functions()
}
