//! Fires timer functions on their 6-field NCRONTAB schedules (UTC, seconds first), resolving
//! `%SETTING%` schedules from the app settings as the Functions host does.

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use croner::{
    Cron,
    parser::{CronParser, Seconds, Year},
};
use serde_json::{Value, json};

use super::handler::Handler;
use crate::functions::{FunctionDef, TIMER_IN, Trigger};

/// A schedule, with `%NAME%` replaced by the setting `NAME`.
pub fn resolve_schedule(raw: &str, setting: impl Fn(&str) -> Option<String>) -> anyhow::Result<String> {
    match raw.strip_prefix('%').and_then(|r| r.strip_suffix('%')) {
        Some(name) => setting(name).with_context(|| format!("timer schedule setting {name} is not set")),
        None => Ok(raw.to_string()),
    }
}

/// Parses a 6-field NCRONTAB expression (`sec min hour day month weekday`).
pub fn parse_schedule(expr: &str) -> anyhow::Result<Cron> {
    anyhow::ensure!(
        expr.split_whitespace().count() == 6,
        "a timer schedule has six fields (seconds first), got {expr:?}"
    );
    CronParser::builder()
        .seconds(Seconds::Required)
        .year(Year::Disallowed)
        .build()
        .parse(expr)
        .with_context(|| format!("parsing the schedule {expr:?}"))
}

/// The timer binding's data for one run.
pub fn timer_invocation(last: Option<DateTime<Utc>>, next: DateTime<Utc>, past_due: bool) -> Value {
    json!({
        "Data": { TIMER_IN: {
            "Schedule": { "AdjustForDST": false },
            "ScheduleStatus": last.map(|l| json!({ "Last": l.to_rfc3339(), "Next": next.to_rfc3339(), "LastUpdated": l.to_rfc3339() })),
            "IsPastDue": past_due,
        }},
        "Metadata": { "sys": { "UtcNow": Utc::now().to_rfc3339(), "RandGuid": uuid::Uuid::new_v4() } }
    })
}

/// Starts one task per timer function. A schedule that cannot be resolved or parsed is an error
/// at start-up, as in the real host.
pub fn start(
    handler: Handler,
    functions: &[FunctionDef],
    setting: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<()> {
    for def in functions.iter().copied() {
        let Trigger::Timer { schedule } = def.trigger else { continue };
        let expr = resolve_schedule(schedule, &setting).with_context(|| format!("timer {}", def.name))?;
        let cron = parse_schedule(&expr).with_context(|| format!("timer {}", def.name))?;
        tracing::info!(function = def.name, schedule = %expr, "timer scheduled");
        let handler = handler.clone();
        tokio::spawn(async move {
            let mut last: Option<DateTime<Utc>> = None;
            loop {
                let now = Utc::now();
                let Ok(next) = cron.find_next_occurrence(&now, false) else {
                    tracing::warn!(function = def.name, "timer has no next occurrence");
                    return;
                };
                let wait = (next - now).to_std().unwrap_or(Duration::ZERO);
                tokio::time::sleep(wait).await;
                let past_due = (Utc::now() - next).num_seconds() > 5;
                let after = cron.find_next_occurrence(&next, false).unwrap_or(next);
                fire(&handler, def.name, timer_invocation(last, after, past_due)).await;
                last = Some(next);
            }
        });
    }
    Ok(())
}

/// Invokes a function once; timer failures are logged, not retried (as in the real host).
pub async fn fire(handler: &Handler, name: &str, payload: Value) {
    if !handler.wait_ready(Duration::from_secs(30)).await {
        tracing::warn!(function = name, "handler not ready; timer run skipped");
        return;
    }
    let res = handler
        .client()
        .post(format!("{}/{}", handler.base, name))
        .header("X-Azure-Functions-InvocationId", uuid::Uuid::new_v4().to_string())
        .json(&payload)
        .timeout(Duration::from_secs(300))
        .send()
        .await;
    match res {
        Ok(r) if r.status().is_success() => tracing::debug!(function = name, "timer run succeeded"),
        Ok(r) => tracing::warn!(function = name, status = r.status().as_u16(), "timer run failed"),
        Err(err) => tracing::warn!(function = name, error = %err, "timer run failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_resolve_from_settings_and_need_six_fields() {
        let s = resolve_schedule("%HB%", |n| (n == "HB").then(|| "*/5 * * * * *".to_string())).unwrap();
        assert_eq!(s, "*/5 * * * * *");
        assert!(resolve_schedule("%MISSING%", |_| None).is_err());
        assert!(parse_schedule("0 0 0 * * *").is_ok());
        assert!(parse_schedule("0 0 * * *").is_err());
        assert!(parse_schedule("0 0 0 * * * *").is_err());
    }

    #[test]
    fn nine_in_the_morning_in_seoul_is_midnight_utc() {
        let cron = parse_schedule("0 0 0 * * *").unwrap();
        let from: DateTime<Utc> = "2026-11-26T04:00:00Z".parse().unwrap();
        let next = cron.find_next_occurrence(&from, false).unwrap();
        assert_eq!(next.to_rfc3339(), "2026-11-27T00:00:00+00:00");
    }
}
