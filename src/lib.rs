//! HealthSync Functions: the backend of the HealthSync health-coaching app, one Rust binary that
//! runs as an Azure Functions custom handler. See docs/ and ../shared/DESIGN.md.
//!
//! Layers, top to bottom (`tests/app/architecture.rs` keeps them): `main` → `app` (composition
//! root and the commands; it runs `host`) → the domains → `domain` (the seam), `functions`, `http` → `platform` → `config`;
//! `host` knows only `functions`, `http`, `platform` and `config`.

pub mod app;
pub mod config;
pub mod domain;
pub mod functions;
pub mod host;
pub mod http;
pub mod platform;

/// Declares each domain's module and lists them in `DOMAINS`, in order: a later domain may use an
/// earlier one's Rust API, never the reverse. Each module exports `pub struct Domain` implementing
/// [`domain::DomainModule`].
macro_rules! domains {
    ($($domain:ident),+ $(,)?) => {
        $(pub mod $domain;)+
        /// Every domain of the app, in order.
        pub const DOMAINS: &[&dyn domain::AnyDomain] = &[$(&domain::Module::<$domain::Domain>::new()),+];
    };
}

domains!(system, users, health, goals, intelligence, motivator);
