//! HTTP conventions shared by every domain: the envelope, the error shape, extractors, the
//! request context, limits and the base of the OpenAPI document.

pub mod context;
pub mod envelope;
pub mod error;
pub mod extract;
pub mod openapi;
pub mod text;

use axum::{Router, routing::MethodRouter};

pub use envelope::Success;
pub use error::{ApiError, ApiResult, FieldError, ResultExt};
pub use extract::{ApiJson, ApiPath, ApiQuery, OptionalJson};

/// The caller's address, as the configured front end reports it, without a port. Only the
/// header the platform itself sets is read, so a client cannot choose its own address.
pub fn client_address(headers: &axum::http::HeaderMap, source: crate::config::ClientIpHeader) -> String {
    use crate::config::ClientIpHeader;
    let value = match source {
        ClientIpHeader::FrontDoor => {
            headers.get("x-azure-clientip").and_then(|v| v.to_str().ok()).map(str::trim)
        }
        ClientIpHeader::ForwardedFor => headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .rfind(|s| !s.is_empty()),
    };
    value.map(strip_port).filter(|s| !s.is_empty()).unwrap_or("unknown").to_string()
}

fn strip_port(addr: &str) -> &str {
    if let Some(rest) = addr.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match addr.matches(':').count() {
        1 => addr.split(':').next().unwrap_or(addr),
        _ => addr,
    }
}

/// A router that remembers the path templates it serves, so tests can prove each one is
/// reachable through a function's route and documented in OpenAPI.
pub struct Routes<S> {
    router: Router<S>,
    paths: Vec<&'static str>,
    /// Routes whose request bodies may be larger (or must be smaller) than the default limit.
    body_limits: Vec<(&'static str, usize)>,
    /// Routes whose handlers read their bodies as streams: held to their limit as they are read,
    /// never buffered first.
    streamed: Vec<&'static str>,
    /// Routes that may wait for a slow dependency (Claude): they get the long timeout.
    long: Vec<&'static str>,
}

impl<S: Clone + Send + Sync + 'static> Default for Routes<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Clone + Send + Sync + 'static> Routes<S> {
    pub fn new() -> Self {
        Self {
            router: Router::new(),
            paths: Vec::new(),
            body_limits: Vec::new(),
            streamed: Vec::new(),
            long: Vec::new(),
        }
    }

    pub fn route(mut self, path: &'static str, method_router: MethodRouter<S>) -> Self {
        self.router = self.router.route(path, method_router);
        self.paths.push(path);
        self
    }

    /// A route whose request bodies are held to `limit` bytes instead of the app's default.
    pub fn route_with_body_limit(
        mut self,
        path: &'static str,
        method_router: MethodRouter<S>,
        limit: usize,
    ) -> Self {
        self.body_limits.push((path, limit));
        self.route(path, method_router)
    }

    /// A route whose handler streams its body (an upload): held to `limit` bytes as it is read,
    /// instead of being read whole before the handler runs.
    pub fn route_streaming(
        mut self,
        path: &'static str,
        method_router: MethodRouter<S>,
        limit: usize,
    ) -> Self {
        self.streamed.push(path);
        self.route_with_body_limit(path, method_router, limit)
    }

    /// A route that may wait for Claude: it gets `HTTP_LONG_TIMEOUT_MS` instead of the default.
    pub fn route_long(mut self, path: &'static str, method_router: MethodRouter<S>) -> Self {
        self.long.push(path);
        self.route(path, method_router)
    }

    pub fn merge(mut self, other: Routes<S>) -> Self {
        self.router = self.router.merge(other.router);
        self.paths.extend(other.paths);
        self.body_limits.extend(other.body_limits);
        self.streamed.extend(other.streamed);
        self.long.extend(other.long);
        self
    }

    pub fn long_routes(&self) -> &[&'static str] {
        &self.long
    }

    pub fn paths(&self) -> &[&'static str] {
        &self.paths
    }

    pub fn body_limits(&self) -> &[(&'static str, usize)] {
        &self.body_limits
    }

    pub fn streamed_routes(&self) -> &[&'static str] {
        &self.streamed
    }

    pub fn into_router(self) -> Router<S> {
        self.router
    }

    /// The same routes with their state provided.
    pub fn with_state(self, state: S) -> Routes<()> {
        Routes {
            router: self.router.with_state(state),
            paths: self.paths,
            body_limits: self.body_limits,
            streamed: self.streamed,
            long: self.long,
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderMap;

    use super::client_address;
    use crate::config::ClientIpHeader;

    #[test]
    fn the_client_address_is_the_platforms_entry_without_its_port() {
        let mut h = HeaderMap::new();
        h.append("x-forwarded-for", "6.6.6.6, 10.0.0.1".parse().unwrap());
        h.append("x-forwarded-for", "203.0.113.9:51234".parse().unwrap());
        h.insert("x-azure-clientip", "198.51.100.4".parse().unwrap());
        assert_eq!(client_address(&h, ClientIpHeader::ForwardedFor), "203.0.113.9");
        assert_eq!(client_address(&h, ClientIpHeader::FrontDoor), "198.51.100.4");
        let mut v6 = HeaderMap::new();
        v6.insert("x-forwarded-for", "[2001:db8::1]:443".parse().unwrap());
        assert_eq!(client_address(&v6, ClientIpHeader::ForwardedFor), "2001:db8::1");
        v6.insert("x-forwarded-for", "2001:db8::2".parse().unwrap());
        assert_eq!(client_address(&v6, ClientIpHeader::ForwardedFor), "2001:db8::2");
        assert_eq!(client_address(&HeaderMap::new(), ClientIpHeader::FrontDoor), "unknown");
    }
}
