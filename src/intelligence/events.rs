//! The events the intelligence domain announces.

use serde::{Deserialize, Serialize};

use super::{
    Engine,
    engine::{Offline, Purpose},
};
use crate::platform::bus::Event;

/// One answer of the AI layer, for analytics (Event Hubs in Azure): who answered, with which model,
/// the tokens and time it took, whether it came from the cache, and the outcome. No text and no
/// user id: nothing here is personal.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AiCall {
    /// `diagnosis`, `recommend`, `chat` or `nudge`.
    pub purpose: Purpose,
    pub engine: Engine,
    pub model: Option<String>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub latency_ms: u64,
    pub cache_hit: bool,
    /// HTTP attempts made (retries included); 0 without a call.
    pub attempts: u32,
    pub outcome: Outcome,
}

/// `ok`, or why the offline coach answered (`not_configured`, `no_consent`, `budget`, `red_flag`,
/// `breaker_open`, `timeout`, `unavailable`, `malformed`, `invalid_answer`, …: [`Offline`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    #[serde(untagged)]
    Offline(Offline),
}

impl From<Offline> for Outcome {
    fn from(why: Offline) -> Self {
        Outcome::Offline(why)
    }
}

impl Event for AiCall {
    const SUBJECT: &'static str = "ai.call";

    /// About no user: the payload names none.
    fn data_subjects(&self) -> Vec<uuid::Uuid> {
        Vec::new()
    }
}
