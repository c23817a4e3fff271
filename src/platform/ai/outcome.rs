//! The AI outcomes an operator is paged for. Each is logged as one WARN line with the field
//! `ai_outcome` set to one of [`ALERTING`] (and `dependency = "claude"`); the alert
//! `healthsync-claude-refused` (infra/modules/alerts.bicep) counts exactly those lines, three in
//! 15 minutes. The line carries names, a status code and counts, never a prompt, an answer or a
//! health value.
//!
//! - [`NOT_FOUND`]: the Messages API answered 404 `not_found_error` (the model is retired or
//!   unknown); one line per such answer.
//! - [`MODEL_UNAVAILABLE`]: a call not sent because the model is known to be gone (until the
//!   lifecycle answer is 10 minutes old). Such calls cost nothing and may come by the thousand, so
//!   they are logged at most once per [`BLOCKED_LINE_EVERY`] per process, each line with the
//!   number of blocked calls it stands for (`blocked`). An instance that keeps being asked, at
//!   least once a minute, writes a line at least every two minutes: 7 or more in any 15 minutes,
//!   over the alert's three; any three blocked calls a minute or more apart write three lines.
//! - [`REFUSAL`]: the model declined to answer (`stop_reason: refusal`); one line per refusal.
//! - [`REQUEST_REFUSED`]: a 4xx the API will not retry (a wrong or revoked key, a model the key
//!   may not use, a request a breaking change refuses); one line per call.

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

/// A call not sent: the configured model is known to be retired or unknown.
pub const MODEL_UNAVAILABLE: &str = "model_unavailable";
/// The Messages API answered 404 `not_found_error` for the configured model.
pub const NOT_FOUND: &str = "not_found";
/// The model declined (`stop_reason: refusal`).
pub const REFUSAL: &str = "refusal";
/// A 4xx the API will not retry.
pub const REQUEST_REFUSED: &str = "request_refused";
/// Every value of `ai_outcome`: the ones the alert counts, and the only ones the client logs.
pub const ALERTING: [&str; 4] = [MODEL_UNAVAILABLE, NOT_FOUND, REFUSAL, REQUEST_REFUSED];

/// Blocked calls write at most one line this often per process.
pub const BLOCKED_LINE_EVERY: Duration = Duration::from_secs(60);

/// At most one line per `every`: the first event logs, the next ones within `every` are counted
/// and reported by the next line.
pub struct Throttle {
    every: Duration,
    /// When the last line was written, and the events since (that one included).
    state: Mutex<Option<(Instant, u64)>>,
}

impl Throttle {
    pub fn new(every: Duration) -> Self {
        Throttle { every, state: Mutex::new(None) }
    }

    /// An event at `now`: `Some(n)` when a line is due, standing for `n` events (this one and the
    /// ones left unlogged since the last line); `None` to stay silent.
    pub fn admit(&self, now: Instant) -> Option<u64> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match state.as_mut() {
            Some((last, unlogged)) if now.saturating_duration_since(*last) < self.every => {
                *unlogged += 1;
                None
            }
            Some((last, unlogged)) => {
                let n = *unlogged;
                *last = now;
                *unlogged = 0;
                Some(n + 1)
            }
            None => {
                *state = Some((now, 0));
                Some(1)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_per_interval_standing_for_the_events_since_the_last() {
        let t = Throttle::new(Duration::from_secs(60));
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert_eq!(t.admit(at(0)), Some(1));
        assert_eq!(t.admit(at(1)), None);
        assert_eq!(t.admit(at(59)), None);
        assert_eq!(t.admit(at(60)), Some(3), "this one and the two left unlogged");
        assert_eq!(t.admit(at(200)), Some(1));
    }

    #[test]
    fn the_outcomes_are_distinct_lowercase_names() {
        let mut names = ALERTING.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALERTING.len());
        assert!(ALERTING.iter().all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_')));
    }
}
