//! HTTP conventions shared by every domain: the envelope, the error shape, extractors, the
//! request context, limits, OpenAPI and the operations routes.

pub mod context;
pub mod envelope;
pub mod error;
pub mod extract;
pub mod openapi;
pub mod system;

use axum::{Router, routing::MethodRouter};

pub use envelope::Success;
pub use error::{ApiError, ApiResult, FieldError};
pub use extract::{ApiJson, ApiPath, ApiQuery};

/// A router that remembers the path templates it serves, so tests can prove each one is
/// reachable through a function's route and documented in OpenAPI.
pub struct Routes<S> {
    router: Router<S>,
    paths: Vec<&'static str>,
}

impl<S: Clone + Send + Sync + 'static> Default for Routes<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Clone + Send + Sync + 'static> Routes<S> {
    pub fn new() -> Self {
        Self { router: Router::new(), paths: Vec::new() }
    }

    pub fn route(mut self, path: &'static str, method_router: MethodRouter<S>) -> Self {
        self.router = self.router.route(path, method_router);
        self.paths.push(path);
        self
    }

    pub fn merge(mut self, other: Routes<S>) -> Self {
        self.router = self.router.merge(other.router);
        self.paths.extend(other.paths);
        self
    }

    pub fn paths(&self) -> &[&'static str] {
        &self.paths
    }

    pub fn into_router(self) -> Router<S> {
        self.router
    }
}
