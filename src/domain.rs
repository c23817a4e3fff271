//! The seam a domain implements to join the app. A domain is a folder that declares, in one
//! [`DomainModule`] impl, its name, its settings, how it builds its state from the shared
//! [`Platform`] and what earlier domains hand it (its `Needs`, passed by the composition root's
//! `app::wiring`), its HTTP routes and their OpenAPI fragment, its functions (HTTP catch-all,
//! timers, Service Bus consumers) and its part of a user's data (export and erase). The crate root
//! lists the domains once, in order; everything that is a list (routes, the OpenAPI document,
//! `functions/`, the Bicep's subscriptions and timers, app settings, data rights) is derived from
//! that list by `crate::app`.

use std::{marker::PhantomData, ops::Deref, sync::Arc};

use anyhow::Context;
use futures::future::BoxFuture;
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{
    config::{BlobConfig, Config, Setting, Source},
    functions::{Function, FunctionDef, invoke::BoundInvoke},
    http::{Routes, openapi::ApiDoc},
    platform::{
        ai::{Claude, ClaudeConfig},
        blob::{AzureBlobStore, BlobStore, FolderBlobStore},
        bus::{
            self, EventSink, LocalQueueSink, Subscription, eventhubs::EventHubSink,
            servicebus::ServiceBusSink,
        },
        cache::{Cache, MemoryCache, NearCache, RedisCache},
        time::Clock,
    },
};

/// What a domain implements. Everything but `NAME`, `Needs` and `state` has a default of "nothing".
pub trait DomainModule: 'static {
    /// What the domain's handlers and functions are given: cheap to clone (usually a
    /// [`DomainState`]).
    type State: Clone + Send + Sync + 'static;
    /// What the domain takes from the domains before it (the token verifier, say), handed over
    /// as a constructor argument by the composition root (`app::wiring`); `()` for nothing.
    type Needs;
    /// Lower case; also the domain's database schema.
    const NAME: &'static str;
    /// The app settings the domain reads (read them in [`DomainModule::state`]).
    const SETTINGS: &'static [Setting] = &[];

    /// Builds the state from the platform and what it needs, without connecting to anything.
    fn state(platform: &Platform, needs: Self::Needs) -> anyhow::Result<Self::State>;

    /// The `/api/...` routes.
    fn routes() -> Routes<Self::State> {
        Routes::new()
    }

    /// The routes' OpenAPI fragment (paths, schemas, tags), merged into the document.
    fn openapi() -> utoipa::openapi::OpenApi {
        utoipa::openapi::OpenApi::default()
    }

    /// The functions: an HTTP catch-all for the routes' prefix, timers, consumers.
    fn functions() -> Vec<Function<Self::State>> {
        Vec::new()
    }

    /// The domain's share of a user's data, if it holds any.
    fn data() -> Option<DataPart> {
        None
    }
}

/// One domain's share of a user's data (개인정보보호법 §35, §35-2, §36).
#[derive(Clone, Copy)]
pub struct DataPart {
    /// The key of this part in an export.
    pub name: &'static str,
    /// The schema holding the data (a test checks every schema with a `user_id` column has a part).
    pub schema: &'static str,
    pub export: for<'a> fn(&'a Platform, Uuid) -> BoxFuture<'a, anyhow::Result<Value>>,
    /// Runs inside the erasure's transaction.
    pub erase: for<'a> fn(&'a mut PgConnection, Uuid) -> BoxFuture<'a, anyhow::Result<()>>,
    /// Cache keys that may hold the user's data, dropped after the erasure commits.
    pub cache_keys: fn(Uuid) -> Vec<String>,
}

/// What every domain builds its state from. Cheap to clone; nothing connects until used.
#[derive(Clone)]
pub struct Platform {
    pub config: Arc<Config>,
    /// The settings source, for each domain's own settings.
    pub settings: Arc<dyn Source>,
    pub db: PgPool,
    pub cache: Arc<dyn Cache>,
    pub blob: Arc<dyn BlobStore>,
    /// Where the outbox relay publishes.
    pub events: Arc<dyn EventSink>,
    /// The one Claude client (its breaker and the model's lifecycle count for every caller).
    pub ai: Arc<Claude>,
    /// Every domain's data part, in domain order.
    pub data_parts: Arc<[DataPart]>,
    /// The OpenAPI document of the whole app.
    pub api_doc: Arc<ApiDoc>,
    /// The app's one clock: every domain's "now" and Seoul "today" (tests replace it before the
    /// domains are mounted).
    pub clock: Clock,
}

/// What the composition root knows of the whole app before building anything.
pub struct Blueprint {
    pub subscriptions: Vec<Subscription>,
    pub data_parts: Vec<DataPart>,
    pub api_doc: ApiDoc,
}

impl Platform {
    /// Builds the platform around `db` from configuration, without opening any connection.
    pub fn new(
        config: Config,
        settings: Arc<dyn Source>,
        db: PgPool,
        blueprint: Blueprint,
    ) -> anyhow::Result<Self> {
        let cache: Arc<dyn Cache> = match &config.redis_url {
            Some(url) => {
                let redis = RedisCache::for_config(url, &config, "hs:")?;
                match config.redis_near_cache_bytes {
                    0 => Arc::new(redis),
                    bytes => Arc::new(NearCache::new(redis, bytes)),
                }
            }
            None => Arc::new(MemoryCache::new(100_000)),
        };
        let blob: Arc<dyn BlobStore> = match &config.blob {
            BlobConfig::Folder(dir) => Arc::new(FolderBlobStore::new(dir)),
            BlobConfig::Azure { container_url } => Arc::new(
                AzureBlobStore::new(container_url, config.managed_identity_client_id.as_deref())
                    .context("configuring Azure Blob")?,
            ),
        };
        let mut events: Arc<dyn EventSink> = match &config.service_bus_namespace {
            Some(ns) => Arc::new(
                ServiceBusSink::for_config(ns, bus::EVENTS_TOPIC, &config)
                    .context("configuring Service Bus")?,
            ),
            None => Arc::new(LocalQueueSink { subscriptions: blueprint.subscriptions }),
        };
        if let Some((base, hub)) = &config.event_hub {
            let credential =
                crate::platform::entra::managed_identity(config.managed_identity_client_id.as_deref())?;
            events = Arc::new(
                EventHubSink::with_limit(base, hub, credential, events, config.event_hub_max_batch_bytes)
                    .context("configuring Event Hubs")?,
            );
        }
        let ai = Arc::new(Claude::new(ClaudeConfig::from_source(settings.as_ref())?));
        let clock = Clock::from_source(settings.as_ref(), config.environment)?;
        Ok(Platform {
            config: Arc::new(config),
            ai,
            settings,
            db,
            cache,
            blob,
            events,
            data_parts: blueprint.data_parts.into(),
            api_doc: Arc::new(blueprint.api_doc),
            clock,
        })
    }
}

/// A domain's state: the platform and the domain's own parts `T`, behind one `Arc` (every
/// request clones the state; one counter is cheaper than the dozen inside). `state.db`,
/// `state.clock` and the other platform fields read through; the domain's parts are `state.own`.
pub struct DomainState<T>(Arc<Parts<T>>);

/// What a [`DomainState`] holds.
pub struct Parts<T> {
    pub platform: Platform,
    pub own: T,
}

impl<T> DomainState<T> {
    pub fn new(platform: &Platform, own: T) -> Self {
        DomainState(Arc::new(Parts { platform: platform.clone(), own }))
    }
}

impl<T> Clone for DomainState<T> {
    fn clone(&self) -> Self {
        DomainState(self.0.clone())
    }
}

impl<T> Deref for DomainState<T> {
    type Target = Parts<T>;

    fn deref(&self) -> &Parts<T> {
        &self.0
    }
}

impl<T> Deref for Parts<T> {
    type Target = Platform;

    fn deref(&self) -> &Platform {
        &self.platform
    }
}

/// A domain mounted on a platform: its routes with their state, and its function bodies.
pub struct Mounted {
    /// The domain's name (the composition root mounts them in the crate root's order).
    pub name: &'static str,
    pub routes: Routes<()>,
    /// Every function's definition; `None` for HTTP functions (the router serves them).
    pub functions: Vec<(FunctionDef, Option<BoundInvoke>)>,
}

/// A domain as the composition root handles it, whatever its state type.
pub trait AnyDomain: Sync {
    fn name(&self) -> &'static str;
    fn settings(&self) -> &'static [Setting];
    fn functions(&self) -> Vec<FunctionDef>;
    fn openapi(&self) -> utoipa::openapi::OpenApi;
    /// The same as a function, for a document built later.
    fn openapi_fn(&self) -> fn() -> utoipa::openapi::OpenApi;
    fn data(&self) -> Option<DataPart>;
}

/// Turns a [`DomainModule`] into an [`AnyDomain`]; the `domains!` list in the crate root makes one
/// per domain.
pub struct Module<D>(PhantomData<fn() -> D>);

impl<D> Module<D> {
    pub const fn new() -> Self {
        Module(PhantomData)
    }
}

impl<D: DomainModule> Module<D> {
    /// The domain's routes and function bodies around its built state.
    pub fn mount(state: D::State) -> Mounted {
        let functions = D::functions().iter().map(|f| (f.def, f.bind(&state))).collect();
        Mounted { name: D::NAME, routes: D::routes().with_state(state), functions }
    }

    /// Builds the state from the platform and what it needs, then mounts it.
    pub fn build(platform: &Platform, needs: D::Needs) -> anyhow::Result<Mounted> {
        let state = D::state(platform, needs).with_context(|| format!("building the {} domain", D::NAME))?;
        Ok(Self::mount(state))
    }
}

impl<D> Default for Module<D> {
    fn default() -> Self {
        Self::new()
    }
}

impl<D: DomainModule> AnyDomain for Module<D> {
    fn name(&self) -> &'static str {
        D::NAME
    }

    fn settings(&self) -> &'static [Setting] {
        D::SETTINGS
    }

    fn functions(&self) -> Vec<FunctionDef> {
        D::functions().iter().map(|f| f.def).collect()
    }

    fn openapi(&self) -> utoipa::openapi::OpenApi {
        D::openapi()
    }

    fn openapi_fn(&self) -> fn() -> utoipa::openapi::OpenApi {
        D::openapi
    }

    fn data(&self) -> Option<DataPart> {
        D::data()
    }
}
