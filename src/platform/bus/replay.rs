//! Replaying dead letters (`healthsync replay-dlq`). Two places hold them:
//!
//! - `events.dead_letters`: what a consumer refused for good (answered 2xx, so Service Bus never
//!   dead-letters it), and, locally, what the local host gave up on after `MAX_DELIVERY_COUNT`
//!   deliveries. Locally a replay puts the row back on `events.local_queue` for its function
//!   alone; in Azure it is sent to the topic again.
//! - In Azure, each subscription's dead-letter queue (`$deadletterqueue`): what ran out of
//!   deliveries. It is read with the REST peek-lock receive, sent to the topic again and then
//!   deleted (completed); a message it must leave (older than `--since`, too recent, no id) is
//!   unlocked at once, so no lock it holds can expire during a long run. An unlocked message is the
//!   queue's head again: when the receive hands back one already left in this run, the pass over
//!   that queue ends (what is behind it waits for a later run). A lock found lost (404 on unlock
//!   or complete: it expired) counts as released: Service Bus has put the message back already.
//!
//! A replayed message keeps its message id: consumers that handled it already drop it by their
//! processed-message mark, and the one that failed applies it. The topic's duplicate detection
//! (10 minutes) would drop a message it saw within that window, so younger ones are left for later.

use std::{sync::Arc, time::Duration};

use anyhow::{Context, bail};
use azure_core::credentials::TokenCredential;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgPool;

use super::servicebus::SCOPE;
use crate::platform::http_client::LazyClient;

/// The topic's duplicate-detection window: a message younger than this is not replayed yet.
pub const DUPLICATE_WINDOW: chrono::Duration = chrono::Duration::minutes(10);

/// Which dead letters to replay.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// One consuming function (its name); none: all.
    pub function: Option<String>,
    /// Only dead letters recorded (enqueued) at or after this instant.
    pub since: Option<DateTime<Utc>>,
}

impl Filter {
    fn wants(&self, function: &str, at: Option<DateTime<Utc>>) -> bool {
        self.function.as_deref().is_none_or(|f| f.eq_ignore_ascii_case(function))
            && match (self.since, at) {
                (Some(since), Some(at)) => at >= since,
                _ => true,
            }
    }
}

/// A dead letter of `events.dead_letters`.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub id: i64,
    pub consumer: String,
    pub message_id: String,
    pub subject: Option<String>,
    pub body: Option<Value>,
    pub created_at: DateTime<Utc>,
    /// The users it is about, copied to the local queue when it is replayed there.
    pub data_subjects: Vec<uuid::Uuid>,
}

/// The recorded dead letters not replayed yet that `filter` selects, oldest first. Events the
/// relay could never publish (too large) are not among them: sending them again cannot succeed.
pub async fn recorded(pool: &PgPool, filter: &Filter) -> anyhow::Result<Vec<Recorded>> {
    sqlx::query_as!(
        Recorded,
        "SELECT id, consumer, message_id, subject, body, created_at, data_subjects FROM events.dead_letters \
         WHERE replayed_at IS NULL AND consumer <> $3 AND ($1::text IS NULL OR lower(consumer) = lower($1)) \
           AND ($2::timestamptz IS NULL OR created_at >= $2) \
         ORDER BY created_at, id",
        filter.function.as_deref(),
        filter.since,
        super::RELAY_DEAD_LETTER,
    )
    .fetch_all(pool)
    .await
    .context("reading dead letters")
}

/// Locally: puts a recorded dead letter back on the local queue for its function (delivered
/// afresh) and marks it replayed, in one transaction. `false`: it has no body to deliver.
pub async fn requeue_local(pool: &PgPool, dl: &Recorded) -> anyhow::Result<bool> {
    let Some(body) = &dl.body else { return Ok(false) };
    let mut tx = pool.begin().await?;
    sqlx::query!(
        "INSERT INTO events.local_queue (function_name, message_id, subject, body, data_subjects) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT ON CONSTRAINT local_queue_function_message_key DO UPDATE \
           SET delivery_count = 0, next_attempt_at = now(), locked_until = NULL",
        dl.consumer,
        dl.message_id,
        dl.subject.as_deref().unwrap_or("replayed"),
        body,
        &dl.data_subjects,
    )
    .execute(&mut *tx)
    .await
    .context("requeueing a dead letter")?;
    mark_replayed(&mut tx, dl.id).await?;
    tx.commit().await?;
    Ok(true)
}

async fn mark_replayed(conn: &mut sqlx::PgConnection, id: i64) -> anyhow::Result<()> {
    sqlx::query!("UPDATE events.dead_letters SET replayed_at = now() WHERE id = $1", id)
        .execute(conn)
        .await
        .context("marking a dead letter replayed")?;
    Ok(())
}

/// A message taken from a dead-letter queue (peek-locked).
#[derive(Debug, Clone)]
pub struct Locked {
    pub message_id: Option<String>,
    pub label: Option<String>,
    pub enqueued_at: Option<DateTime<Utc>>,
    /// The broker's sequence number (how a message seen twice in one run is recognised).
    pub sequence: Option<i64>,
    pub body: String,
    /// The lock's URI (complete = DELETE, abandon = PUT).
    pub lock: url::Url,
}

/// Service Bus over REST for the replay: peek-lock from a subscription's dead-letter queue,
/// send to the topic, complete or unlock.
pub struct ServiceBusReplay {
    base: url::Url,
    topic: String,
    credential: Arc<dyn TokenCredential>,
    client: LazyClient,
}

impl ServiceBusReplay {
    /// `base`: `https://{namespace}/` (or a local fake).
    pub fn new(base: url::Url, topic: &str, credential: Arc<dyn TokenCredential>) -> Self {
        ServiceBusReplay { base, topic: topic.to_string(), credential, client: LazyClient::default() }
    }

    async fn token(&self) -> anyhow::Result<String> {
        let t = self
            .credential
            .get_token(&[SCOPE], None)
            .await
            .map_err(|e| anyhow::anyhow!("{e}").context("getting a Service Bus token"))?;
        Ok(t.token.secret().to_string())
    }

    /// The next unlocked message of `subscription`'s dead-letter queue, locked; `None`: empty.
    pub async fn receive(&self, subscription: &str) -> anyhow::Result<Option<Locked>> {
        let url = self
            .base
            .join(&format!(
                "{}/subscriptions/{subscription}/$deadletterqueue/messages/head?timeout=5",
                self.topic
            ))
            .context("building the dead-letter queue's address")?;
        let res = self
            .client
            .get()
            .post(url)
            .timeout(Duration::from_secs(30))
            .bearer_auth(self.token().await?)
            .header(reqwest::header::CONTENT_LENGTH, "0")
            .send()
            .await
            .context("receiving from a dead-letter queue")?;
        match res.status().as_u16() {
            201 | 200 => {}
            204 => return Ok(None),
            s => bail!("Service Bus answered {s} to a dead-letter receive"),
        }
        let broker: Value = res
            .headers()
            .get("BrokerProperties")
            .and_then(|v| serde_json::from_slice(v.as_bytes()).ok())
            .unwrap_or_default();
        let lock = res
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| url::Url::parse(v).ok())
            .context("a received message without its lock's Location")?;
        let text = |k: &str| broker.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let enqueued_at = text("EnqueuedTimeUtc")
            .and_then(|t| DateTime::parse_from_rfc2822(&t).ok())
            .map(|t| t.with_timezone(&Utc));
        Ok(Some(Locked {
            message_id: text("MessageId"),
            label: text("Label"),
            enqueued_at,
            sequence: broker.get("SequenceNumber").and_then(Value::as_i64),
            body: res.text().await.context("reading a dead-lettered message")?,
            lock,
        }))
    }

    /// Sends a message to the topic with its original id and label.
    pub async fn send(&self, message_id: &str, label: Option<&str>, body: &str) -> anyhow::Result<()> {
        let url =
            self.base.join(&format!("{}/messages", self.topic)).context("building the topic's address")?;
        let mut broker = serde_json::json!({ "MessageId": message_id, "ContentType": "application/json" });
        if let Some(l) = label {
            broker["Label"] = Value::from(l);
        }
        let res = self
            .client
            .get()
            .post(url)
            .timeout(Duration::from_secs(30))
            .bearer_auth(self.token().await?)
            .header("BrokerProperties", broker.to_string())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .context("sending a replayed message")?;
        if res.status() != reqwest::StatusCode::CREATED {
            bail!("Service Bus answered {} to a replayed message", res.status());
        }
        Ok(())
    }

    /// Completes (deletes) a locked message. `false`: its lock was lost (it expired), so the
    /// message is back in the queue and will be received again.
    pub async fn complete(&self, m: &Locked) -> anyhow::Result<bool> {
        self.settle(reqwest::Method::DELETE, m).await
    }

    /// Unlocks a message, leaving it in the queue. A lost lock is as good: the message is
    /// unlocked already.
    pub async fn unlock(&self, m: &Locked) -> anyhow::Result<()> {
        self.settle(reqwest::Method::PUT, m).await.map(|_| ())
    }

    /// `Ok(false)`: 404, "no message was found with the specified MessageId or LockToken"
    /// (https://learn.microsoft.com/rest/api/servicebus/unlock-message,
    /// https://learn.microsoft.com/rest/api/servicebus/delete-message): the lock is gone.
    async fn settle(&self, method: reqwest::Method, m: &Locked) -> anyhow::Result<bool> {
        let res = self
            .client
            .get()
            .request(method.clone(), m.lock.clone())
            .timeout(Duration::from_secs(30))
            .bearer_auth(self.token().await?)
            .header(reqwest::header::CONTENT_LENGTH, "0")
            .send()
            .await
            .context("settling a dead-lettered message")?;
        if res.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(false);
        }
        if !res.status().is_success() {
            bail!("Service Bus answered {} to {method} of a lock", res.status());
        }
        Ok(true)
    }
}

/// What a replay did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub replayed: u64,
    /// Selected, but younger than the duplicate-detection window or without a body.
    pub left: u64,
    /// Passes over a queue that ended at a message they had to leave (what is behind it was not
    /// reached in this run).
    pub stopped: u64,
}

/// Replays `subscription`'s dead-letter queue into the topic (Azure). `on_each` is called per
/// replayed message (the progress bar).
pub async fn replay_queue(
    sb: &ServiceBusReplay,
    function: &str,
    subscription: &str,
    filter: &Filter,
    now: DateTime<Utc>,
    on_each: &dyn Fn(),
) -> anyhow::Result<Report> {
    let mut report = Report::default();
    let mut left_behind = std::collections::HashSet::new();
    // Sent, but the lock was lost before the completion: the message came back to the queue.
    let mut sent = std::collections::HashSet::new();
    while let Some(m) = sb.receive(subscription).await? {
        if m.sequence.is_some_and(|s| left_behind.contains(&s)) {
            // The head is a message this run left: nothing new can come before it.
            sb.unlock(&m).await?;
            report.stopped += 1;
            break;
        }
        if let Some(seq) = m.sequence.filter(|s| sent.contains(s)) {
            // Sent already: complete it, never send it twice; a second lost lock leaves it.
            if sb.complete(&m).await? {
                report.replayed += 1;
                on_each();
            } else {
                left_behind.insert(seq);
            }
            continue;
        }
        let young = m.enqueued_at.is_some_and(|at| now - at < DUPLICATE_WINDOW);
        match (&m.message_id, filter.wants(function, m.enqueued_at) && !young) {
            (Some(id), true) => {
                sb.send(id, m.label.as_deref(), &m.body).await?;
                if sb.complete(&m).await? {
                    report.replayed += 1;
                    on_each();
                } else {
                    // The lock expired: the message is back in the queue although it was sent.
                    // (Were it sent again, the topic's duplicate detection would drop it.)
                    match m.sequence {
                        Some(seq) => {
                            sent.insert(seq);
                        }
                        None => {
                            report.stopped += 1;
                            break;
                        }
                    }
                }
            }
            _ => {
                if young || m.message_id.is_none() {
                    report.left += 1;
                }
                // Released at once: a lock held to the end of a long run would expire first.
                sb.unlock(&m).await?;
                match m.sequence {
                    Some(s) => {
                        left_behind.insert(s);
                    }
                    // Without a sequence number it cannot be recognised when it comes back.
                    None => {
                        report.stopped += 1;
                        break;
                    }
                }
            }
        }
    }
    Ok(report)
}

/// Replays recorded dead letters into the topic (Azure).
pub async fn replay_recorded_to_topic(
    pool: &PgPool,
    sb: &ServiceBusReplay,
    rows: &[Recorded],
    now: DateTime<Utc>,
    on_each: &dyn Fn(),
) -> anyhow::Result<Report> {
    let mut report = Report::default();
    for dl in rows {
        let Some(body) = dl.body.as_ref().filter(|_| now - dl.created_at >= DUPLICATE_WINDOW) else {
            report.left += 1;
            continue;
        };
        sb.send(&dl.message_id, dl.subject.as_deref(), &body.to_string()).await?;
        let mut conn = pool.acquire().await?;
        mark_replayed(&mut conn, dl.id).await?;
        report.replayed += 1;
        on_each();
    }
    Ok(report)
}

/// Parses `--since`: an RFC 3339 instant, a date (midnight UTC), or an age such as `30m`, `6h`,
/// `2d` before `now`.
pub fn parse_since(raw: &str, now: DateTime<Utc>) -> anyhow::Result<DateTime<Utc>> {
    let raw = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight").and_utc());
    }
    let (n, unit) = raw.split_at(raw.len().saturating_sub(1));
    let n: i64 = n
        .parse()
        .with_context(|| format!("--since {raw:?}: an RFC 3339 instant, a date or an age like 6h"))?;
    let age = match unit {
        "m" => chrono::Duration::minutes(n),
        "h" => chrono::Duration::hours(n),
        "d" => chrono::Duration::days(n),
        _ => bail!("--since {raw:?}: an age ends in m, h or d"),
    };
    Ok(now - age)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_reads_instants_dates_and_ages() {
        let now = DateTime::parse_from_rfc3339("2026-12-01T12:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(parse_since("6h", now).unwrap(), now - chrono::Duration::hours(6));
        assert_eq!(parse_since("2d", now).unwrap(), now - chrono::Duration::days(2));
        assert_eq!(parse_since("2026-11-30", now).unwrap().to_rfc3339(), "2026-11-30T00:00:00+00:00");
        assert_eq!(
            parse_since("2026-11-30T09:00:00+09:00", now).unwrap().to_rfc3339(),
            "2026-11-30T00:00:00+00:00"
        );
        assert!(parse_since("yesterday", now).is_err());
        assert!(parse_since("5y", now).is_err());
    }
}
