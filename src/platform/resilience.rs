//! One circuit breaker per external dependency, with observable state. Calls are not retried
//! in-process: the JWKS is refetched on the next sign-in, Service Bus sends on the next sweep.

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

/// Opens after `threshold` consecutive failures; after `cool_down` lets one trial call through
/// (half-open); a success closes it, a failure opens it again.
pub struct Breaker {
    name: &'static str,
    threshold: u32,
    cool_down: Duration,
    inner: Mutex<Inner>,
}

struct Inner {
    failures: u32,
    opened_at: Option<Instant>,
    trial_in_flight: bool,
}

/// The breaker refused the call without trying.
#[derive(Debug, thiserror::Error)]
#[error("circuit breaker for {0} is open")]
pub struct BreakerOpen(pub &'static str);

impl Breaker {
    pub fn new(name: &'static str, threshold: u32, cool_down: Duration) -> Self {
        Self {
            name,
            threshold,
            cool_down,
            inner: Mutex::new(Inner { failures: 0, opened_at: None, trial_in_flight: false }),
        }
    }

    pub fn state(&self) -> BreakerState {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        match inner.opened_at {
            None => BreakerState::Closed,
            Some(at) if at.elapsed() >= self.cool_down => BreakerState::HalfOpen,
            Some(_) => BreakerState::Open,
        }
    }

    /// Whether a call may go ahead now, and whether it is the half-open trial.
    fn admit(&self) -> Result<bool, BreakerOpen> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        match inner.opened_at {
            None => Ok(false),
            Some(at) if at.elapsed() >= self.cool_down && !inner.trial_in_flight => {
                inner.trial_in_flight = true;
                Ok(true)
            }
            Some(_) => Err(BreakerOpen(self.name)),
        }
    }

    fn record(&self, ok: bool, trial: bool) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if trial {
            inner.trial_in_flight = false;
        }
        if ok {
            inner.failures = 0;
            if inner.opened_at.take().is_some() {
                tracing::info!(dependency = self.name, "circuit breaker closed");
            }
        } else {
            inner.failures += 1;
            if inner.failures >= self.threshold {
                if inner.opened_at.is_none() {
                    // Alert rules look for this line (dependency + breaker_open).
                    tracing::warn!(dependency = self.name, event = "breaker_open", "circuit breaker opened");
                }
                inner.opened_at = Some(Instant::now());
            }
        }
    }

    /// Runs `call` through the breaker. `is_failure` says which errors count against the
    /// dependency (a 4xx answer is the caller's problem, not the dependency's).
    pub async fn call<T, E, F, Fut>(
        &self,
        is_failure: impl Fn(&E) -> bool,
        call: F,
    ) -> Result<T, CallError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, E>>,
    {
        let trial = self.admit().map_err(CallError::Open)?;
        // If the caller is cancelled mid-trial, the guard counts it as failed, so the breaker
        // cannot stay half-open with a trial that never ends.
        let mut guard = TrialGuard { breaker: self, armed: trial };
        let result = call().await;
        guard.armed = false;
        match &result {
            Ok(_) => self.record(true, trial),
            Err(e) => self.record(!is_failure(e), trial),
        }
        result.map_err(CallError::Failed)
    }
}

struct TrialGuard<'a> {
    breaker: &'a Breaker,
    armed: bool,
}

impl Drop for TrialGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.breaker.record(false, true);
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CallError<E> {
    #[error(transparent)]
    Open(BreakerOpen),
    #[error("dependency call failed")]
    Failed(#[source] E),
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn fail(b: &Breaker) -> bool {
        matches!(b.call(|_: &()| true, || async { Err::<(), ()>(()) }).await, Err(CallError::Open(_)))
    }

    #[tokio::test]
    async fn the_breaker_opens_after_the_threshold_and_half_opens_after_the_cool_down() {
        let b = Breaker::new("test", 3, Duration::from_millis(50));
        for _ in 0..3 {
            assert!(!fail(&b).await, "calls go through while closed");
        }
        assert_eq!(b.state(), BreakerState::Open);
        assert!(fail(&b).await, "an open breaker refuses without calling");
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(b.state(), BreakerState::HalfOpen);
        let ok = b.call(|_: &()| true, || async { Ok::<_, ()>(1) }).await;
        assert!(ok.is_ok());
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[tokio::test]
    async fn a_trial_call_that_is_cancelled_does_not_leave_the_breaker_stuck() {
        let b = Breaker::new("test", 1, Duration::from_millis(20));
        assert!(!fail(&b).await);
        tokio::time::sleep(Duration::from_millis(30)).await;
        // The trial hangs and its caller gives up.
        let hung = b.call(|_: &()| true, std::future::pending::<Result<(), ()>>);
        assert!(tokio::time::timeout(Duration::from_millis(20), hung).await.is_err());
        assert_eq!(b.state(), BreakerState::Open, "the abandoned trial counts as a failure");
        tokio::time::sleep(Duration::from_millis(30)).await;
        let ok = b.call(|_: &()| true, || async { Ok::<_, ()>(()) }).await;
        assert!(ok.is_ok(), "a new trial is admitted after the cool-down");
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[tokio::test]
    async fn errors_that_are_not_the_dependencys_fault_do_not_open_it() {
        let b = Breaker::new("test", 1, Duration::from_secs(60));
        let _ = b.call(|_: &()| false, || async { Err::<(), ()>(()) }).await;
        assert_eq!(b.state(), BreakerState::Closed);
    }
}
