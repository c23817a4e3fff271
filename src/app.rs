//! The application state and the router every entry point serves.

use std::sync::Arc;

use anyhow::Context;
use axum::{Router, extract::DefaultBodyLimit, middleware, routing::get};
use sqlx::PgPool;
use tower_http::catch_panic::CatchPanicLayer;

use crate::{
    config::{BlobConfig, Config},
    host,
    http::{self, ApiError, Routes},
    ops,
    platform::{
        blob::{AzureBlobStore, BlobStore, FolderBlobStore},
        bus::{self, EventSink, LocalQueueSink, servicebus::ServiceBusSink},
        cache::{Cache, MemoryCache, RedisCache},
        db,
    },
    users,
};

/// Everything a request or an invocation needs. Cheap to clone; nothing connects until used.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: PgPool,
    pub cache: Arc<dyn Cache>,
    pub blob: Arc<dyn BlobStore>,
    pub auth: Arc<users::auth::Auth>,
    /// Where the outbox relay publishes.
    pub events: Arc<dyn EventSink>,
}

impl AppState {
    /// Builds the state from configuration without opening any connection.
    pub fn from_config(config: Config) -> anyhow::Result<Self> {
        let db = db::lazy_pool(&config)?;
        Self::with_pool(config, db)
    }

    /// The same, around a pool made elsewhere (tests get a fresh database each).
    pub fn with_pool(config: Config, db: PgPool) -> anyhow::Result<Self> {
        let cache: Arc<dyn Cache> = match &config.redis_url {
            Some(url) => Arc::new(RedisCache::new(url, config.ready_check_timeout, "hs:")?),
            None => Arc::new(MemoryCache::new(100_000)),
        };
        let blob: Arc<dyn BlobStore> = match &config.blob {
            BlobConfig::Folder(dir) => Arc::new(FolderBlobStore::new(dir)),
            BlobConfig::Azure { container_url } => Arc::new(
                AzureBlobStore::new(container_url, config.managed_identity_client_id.as_deref())
                    .context("configuring Azure Blob")?,
            ),
        };
        let auth = Arc::new(users::auth::Auth::new(config.auth.clone())?);
        let events: Arc<dyn EventSink> = match &config.service_bus_namespace {
            Some(ns) => Arc::new(
                ServiceBusSink::for_namespace(
                    ns,
                    bus::EVENTS_TOPIC,
                    config.managed_identity_client_id.as_deref(),
                )
                .context("configuring Service Bus")?,
            ),
            None => Arc::new(LocalQueueSink { subscriptions: host::registry::subscriptions() }),
        };
        Ok(Self { config: Arc::new(config), db, cache, blob, auth, events })
    }
}

/// Every `/api` route of every domain.
pub fn api_routes() -> Routes<AppState> {
    http::system::routes().merge(ops::routes()).merge(users::routes())
}

/// The whole app: `/api` routes, the function invocation endpoints and the host's ping.
pub fn app(state: AppState) -> Router {
    let timeout = state.config.http_timeout;
    let body_limit = state.config.http_body_limit;
    let api = api_routes()
        .into_router()
        .route_layer(middleware::from_fn(http::context::record_route))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(body_limit, http::context::limit_body));
    Router::new()
        // The host polls `GET /` until the handler answers: answer at once.
        .route("/", get(|| async { "ok" }))
        .merge(api)
        .merge(host::invoke::router(&host::registry::all()))
        .fallback(|| async { ApiError::not_found("요청한 주소를 찾을 수 없습니다.") })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(CatchPanicLayer::custom(http::error::panic_response))
        .layer(middleware::from_fn_with_state(timeout, http::context::request_context))
        .with_state(state)
}
