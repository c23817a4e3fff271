//! HealthSync Functions: the backend of the HealthSync health-coaching app, one Rust binary that
//! runs as an Azure Functions custom handler. See docs/ and ../shared/DESIGN.md.

pub mod app;
pub mod config;
pub mod host;
pub mod http;
pub mod ops;
pub mod platform;
pub mod users;

pub use app::{AppState, app};
