//! Outgoing HTTP clients built on first use. Building one loads TLS roots, which takes
//! milliseconds that a cold start should not pay for a dependency it may never call.

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

/// A cheaply cloned handle to one client, built when first needed. Every request should still set
/// its own timeout; these are the outer bounds.
#[derive(Clone, Default)]
pub struct LazyClient(Arc<OnceLock<reqwest::Client>>);

impl LazyClient {
    pub fn get(&self) -> &reqwest::Client {
        self.0.get_or_init(|| {
            reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(3))
                .timeout(Duration::from_secs(15))
                .build()
                // Building fails only if the TLS backend cannot start; the default client would
                // fail the same way, loudly.
                .unwrap_or_default()
        })
    }
}
