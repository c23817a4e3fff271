//! "Now" and "today" for the goals domain. Today is the Asia/Seoul date (UTC+9 all year: Korea
//! has no daylight saving). The clock is one value of the app (`Platform::shared`): production
//! reads the system clock; a test puts its own clock there before the domains are mounted, so the
//! Seoul day boundary is tested through the same code the app runs.

use std::sync::Arc;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};

use crate::domain::Platform;

/// Asia/Seoul.
pub const SEOUL: FixedOffset = match FixedOffset::east_opt(9 * 3600) {
    Some(offset) => offset,
    None => panic!("a valid offset"),
};

/// The app's source of "now".
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>);

impl Clock {
    pub fn system() -> Self {
        Clock(Arc::new(Utc::now))
    }

    /// A clock reading `now` (tests move time with it).
    pub fn from_fn(now: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Self {
        Clock(Arc::new(now))
    }

    pub fn now(&self) -> DateTime<Utc> {
        (self.0)()
    }

    /// Today in Seoul.
    pub fn today(&self) -> NaiveDate {
        seoul_date(self.now())
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Clock").field(&self.now()).finish()
    }
}

/// The app's clock: the one a test put in the platform, else the system clock.
pub fn clock(platform: &Platform) -> anyhow::Result<Clock> {
    platform.shared(|_| Ok(Clock::system()))
}

/// The Seoul date of an instant.
pub fn seoul_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&SEOUL).date_naive()
}

/// The instant a Seoul wall-clock time occurs.
pub fn seoul_instant(day: NaiveDate, time: NaiveTime) -> DateTime<FixedOffset> {
    SEOUL.from_local_datetime(&day.and_time(time)).single().unwrap_or_else(|| {
        // A fixed offset has no gaps or folds; this is never reached.
        SEOUL.from_utc_datetime(&day.and_time(time))
    })
}

/// How long until the next Seoul midnight (at least a second).
pub fn until_seoul_midnight(now: DateTime<Utc>) -> std::time::Duration {
    let next = seoul_instant(seoul_date(now) + Duration::days(1), NaiveTime::MIN).with_timezone(&Utc);
    (next - now).to_std().unwrap_or_default().max(std::time::Duration::from_secs(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_seoul_day_turns_at_15_utc() {
        let d = |s| seoul_date(at(s)).to_string();
        assert_eq!(d("2026-03-10T14:59:00Z"), "2026-03-10", "23:59 KST");
        assert_eq!(d("2026-03-10T15:01:00Z"), "2026-03-11", "00:01 KST the next day");
        assert_eq!(d("2026-12-31T15:00:00Z"), "2027-01-01");
    }

    #[test]
    fn time_until_midnight_is_counted_in_seoul() {
        assert_eq!(until_seoul_midnight(at("2026-03-10T14:59:00Z")).as_secs(), 60);
        assert_eq!(until_seoul_midnight(at("2026-03-10T15:00:00Z")).as_secs(), 24 * 3600);
    }

    #[test]
    fn a_clock_from_a_function_reads_it_every_time() {
        let t = Arc::new(std::sync::Mutex::new(at("2026-03-10T14:59:00Z")));
        let read = t.clone();
        let clock = Clock::from_fn(move || *read.lock().unwrap());
        assert_eq!(clock.today().to_string(), "2026-03-10");
        *t.lock().unwrap() = at("2026-03-10T15:01:00Z");
        assert_eq!(clock.today().to_string(), "2026-03-11");
    }
}
