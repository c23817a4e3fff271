//! The configured model's lifecycle, read from the Models API (`GET /v1/models/{model_id}`,
//! <https://platform.claude.com/docs/en/api/models/retrieve>): `lifecycle` is `active`,
//! `deprecated` (with `retires_at`) or `retired`; an id the API does not know is a 404
//! `not_found_error`. Models are retired on a schedule
//! (<https://platform.claude.com/docs/en/about-claude/model-deprecations>), after which every
//! request naming them fails: a deploy that still names one must show it, not fall silently to the
//! offline coach for months.
//!
//! The answer is kept for [`RECHECK`]; the readiness probe reads it, and the first AI call of a
//! process starts a check without waiting for it. A model known to be gone is not called: the
//! caller gets [`super::AiError::ModelUnavailable`] at once.

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

use serde::Deserialize;

/// How long a lifecycle answer is kept.
pub const RECHECK: Duration = Duration::from_secs(600);

/// What the Models API said of the configured model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelStatus {
    Active,
    /// Still answering; retires at the given instant (RFC 3339), if announced.
    Deprecated {
        retires_at: Option<String>,
    },
    /// The API knows it as retired: requests naming it fail.
    Retired,
    /// The API does not know the id (404).
    NotFound,
    /// The check itself failed (no key, network, 5xx): nothing is known.
    Unknown,
}

impl ModelStatus {
    /// Whether calls naming the model can succeed (as far as is known).
    pub fn usable(&self) -> bool {
        !matches!(self, ModelStatus::Retired | ModelStatus::NotFound)
    }

    pub fn label(&self) -> &'static str {
        match self {
            ModelStatus::Active => "active",
            ModelStatus::Deprecated { .. } => "deprecated",
            ModelStatus::Retired => "retired",
            ModelStatus::NotFound => "not_found",
            ModelStatus::Unknown => "unknown",
        }
    }
}

#[derive(Deserialize)]
pub(super) struct ModelInfo {
    #[serde(default)]
    lifecycle: Option<String>,
    #[serde(default)]
    retires_at: Option<String>,
}

impl ModelInfo {
    pub(super) fn status(self) -> ModelStatus {
        match self.lifecycle.as_deref() {
            Some("retired") => ModelStatus::Retired,
            Some("deprecated") => ModelStatus::Deprecated { retires_at: self.retires_at },
            // Older answers had no `lifecycle`: a model the API describes is one it serves.
            _ => ModelStatus::Active,
        }
    }
}

/// The last answer and when it came; logs a model that is gone once per change.
#[derive(Default)]
pub(super) struct Known {
    inner: Mutex<Option<(Instant, ModelStatus)>>,
}

impl Known {
    /// The kept answer while it is fresh.
    pub(super) fn fresh(&self) -> Option<ModelStatus> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.as_ref().filter(|(at, _)| at.elapsed() < RECHECK).map(|(_, s)| s.clone())
    }

    /// Keeps `status`; a change to a status worth an operator's attention is logged once.
    pub(super) fn set(&self, model: &str, status: ModelStatus) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let changed = inner.as_ref().is_none_or(|(_, s)| *s != status);
        if changed {
            match &status {
                ModelStatus::Retired | ModelStatus::NotFound => tracing::error!(
                    dependency = "claude",
                    model,
                    lifecycle = status.label(),
                    "the configured Claude model cannot answer; every AI answer comes from the offline coach until ANTHROPIC_MODEL names a current model"
                ),
                ModelStatus::Deprecated { retires_at } => tracing::warn!(
                    dependency = "claude",
                    model,
                    retires_at = retires_at.as_deref().unwrap_or("unannounced"),
                    "the configured Claude model is deprecated; move ANTHROPIC_MODEL to its replacement before it retires"
                ),
                _ => {}
            }
        }
        *inner = Some((Instant::now(), status));
    }

    /// Forgets the answer (a 404 from the Messages API replaces it at once).
    #[cfg(test)]
    pub(super) fn clear(&self) {
        *self.inner.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lifecycle_field_decides_and_a_missing_one_means_active() {
        let read = |s: &str| serde_json::from_str::<ModelInfo>(s).unwrap().status();
        assert_eq!(read(r#"{"id":"m","lifecycle":"retired"}"#), ModelStatus::Retired);
        assert_eq!(
            read(r#"{"id":"m","lifecycle":"deprecated","retires_at":"2027-01-05T00:00:00Z"}"#),
            ModelStatus::Deprecated { retires_at: Some("2027-01-05T00:00:00Z".into()) }
        );
        assert_eq!(read(r#"{"id":"m","lifecycle":"active"}"#), ModelStatus::Active);
        assert_eq!(read(r#"{"id":"m","type":"model"}"#), ModelStatus::Active);
        assert!(!ModelStatus::NotFound.usable() && !ModelStatus::Retired.usable());
        assert!(ModelStatus::Unknown.usable());
    }

    #[test]
    fn a_kept_answer_is_fresh_until_cleared() {
        let k = Known::default();
        assert_eq!(k.fresh(), None);
        k.set("m", ModelStatus::NotFound);
        assert_eq!(k.fresh(), Some(ModelStatus::NotFound));
        k.clear();
        assert_eq!(k.fresh(), None);
    }
}
