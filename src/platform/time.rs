//! "Now" and "today" for the whole app. Today is the Asia/Seoul date (UTC+9 all year: Korea has
//! no daylight saving). The clock is one explicit field of the platform (`Platform::clock`), read
//! by every domain for every "now" it acts on (expiries, ages, checkup dates, the Seoul day of a
//! mission, the daily run): production reads the system clock; locally `CLOCK_START` starts it at
//! another instant; a test sets its own before the domains are mounted, so every domain's day
//! boundary is tested through the same code the app runs.

use std::sync::Arc;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};

use crate::config::{Environment, Source};

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

    /// The system clock moved to start at `start` and run on from there.
    pub fn starting_at(start: DateTime<Utc>) -> Self {
        let offset = start - Utc::now();
        Clock(Arc::new(move || Utc::now() + offset))
    }

    /// The app's clock from its settings: the system clock, or, outside Azure, the one
    /// `CLOCK_START` names.
    pub fn from_source(src: &dyn Source, environment: Environment) -> anyhow::Result<Self> {
        match crate::config::settings::CLOCK_START.read(src) {
            Some(start) if environment != Environment::Azure => {
                let start = DateTime::parse_from_rfc3339(start.trim())
                    .map_err(|_| anyhow::anyhow!("CLOCK_START is not an RFC 3339 instant"))?;
                Ok(Clock::starting_at(start.with_timezone(&Utc)))
            }
            _ => Ok(Clock::system()),
        }
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
