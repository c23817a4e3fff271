//! The backbone demonstration, kept small and real: a heartbeat is written over HTTP or by a
//! timer together with its `system.heartbeat` event (one transaction), and a Service
//! Bus-triggered consumer tallies each heartbeat exactly once however often it is delivered.
//! Domain functions follow the same three shapes.

pub mod functions;
pub mod routes;
pub mod store;

pub use functions::functions;
pub use routes::routes;

/// The event every heartbeat announces.
pub const HEARTBEAT_EVENT: &str = "system.heartbeat";
