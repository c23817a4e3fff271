//! The backbone demonstration, kept small and real: a heartbeat is written over HTTP or by a
//! timer together with its `system.heartbeat` event (one transaction), and a Service
//! Bus-triggered consumer tallies each heartbeat exactly once however often it is delivered.
//! Domain functions follow the same three shapes.

pub mod functions;
pub mod routes;
pub mod store;

use serde::{Deserialize, Serialize};

/// The event every heartbeat announces.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeartbeatRecorded {
    pub heartbeat_id: uuid::Uuid,
    /// Where it came from (informative: the consumer reads the row).
    #[serde(default)]
    pub source: Option<store::Source>,
}

impl crate::platform::bus::Event for HeartbeatRecorded {
    const SUBJECT: &'static str = "system.heartbeat";

    /// About no user: a heartbeat is the system's.
    fn data_subjects(&self) -> Vec<uuid::Uuid> {
        Vec::new()
    }
}

pub const HEARTBEAT_EVENT: &str = <HeartbeatRecorded as crate::platform::bus::Event>::SUBJECT;
