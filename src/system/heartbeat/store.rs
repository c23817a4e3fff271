//! SQL of the heartbeat demonstration (schema `ops`).

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

use super::HeartbeatRecorded;
use crate::platform::bus::{self, NewEvent};

/// Where a heartbeat came from.
// Stored as text (`ops.heartbeats.source`), spelled as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema, sqlx::Encode, sqlx::Decode)]
#[serde(rename_all = "lowercase")]
#[sqlx(rename_all = "lowercase")]
pub enum Source {
    Http,
    Timer,
}
crate::platform::db::text_enum!(Source);

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Heartbeat {
    pub id: Uuid,
    #[schema(value_type = String)]
    pub source: Source,
    pub created_at: DateTime<Utc>,
    /// How many times the consumer applied this heartbeat: 1 once tallied, never more.
    pub tallied_count: i32,
    pub tallied_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SourceTally {
    pub source: String,
    pub recorded: i64,
    pub tallied: i64,
}

/// Writes a heartbeat and its event in one transaction.
pub async fn record(pool: &PgPool, source: Source, correlation_id: &str) -> anyhow::Result<Heartbeat> {
    let mut tx = pool.begin().await.context("starting the heartbeat transaction")?;
    let id = Uuid::now_v7();
    let hb = sqlx::query_as!(
        Heartbeat,
        r#"INSERT INTO ops.heartbeats (id, source) VALUES ($1, $2)
           RETURNING id, source AS "source: Source", created_at, tallied_count, tallied_at"#,
        id,
        source as _,
    )
    .fetch_one(&mut *tx)
    .await
    .context("inserting a heartbeat")?;
    bus::publish(
        &mut tx,
        NewEvent::of(&HeartbeatRecorded { heartbeat_id: id, source: Some(source) })?.correlated(correlation_id),
    )
    .await?;
    tx.commit().await.context("committing the heartbeat")?;
    Ok(hb)
}

/// Applies one heartbeat event inside the consumer's exactly-once transaction. `false` when
/// the heartbeat does not exist (the event is then a dead letter).
pub async fn tally(conn: &mut PgConnection, id: Uuid) -> anyhow::Result<bool> {
    let source = sqlx::query_scalar!(
        "UPDATE ops.heartbeats SET tallied_count = tallied_count + 1, tallied_at = now(), updated_at = now() \
         WHERE id = $1 RETURNING source",
        id,
    )
    .fetch_optional(&mut *conn)
    .await
    .context("marking a heartbeat tallied")?;
    let Some(source) = source else { return Ok(false) };
    sqlx::query!(
        "INSERT INTO ops.heartbeat_tallies (source, total) VALUES ($1, 1) \
         ON CONFLICT ON CONSTRAINT heartbeat_tallies_pkey \
         DO UPDATE SET total = ops.heartbeat_tallies.total + 1, updated_at = now()",
        source,
    )
    .execute(&mut *conn)
    .await
    .context("counting a tallied heartbeat")?;
    Ok(true)
}

pub async fn get(pool: &PgPool, id: Uuid) -> anyhow::Result<Option<Heartbeat>> {
    sqlx::query_as!(
        Heartbeat,
        r#"SELECT id, source AS "source: Source", created_at, tallied_count, tallied_at FROM ops.heartbeats
           WHERE id = $1"#,
        id,
    )
    .fetch_optional(pool)
    .await
    .context("reading a heartbeat")
}

/// Per source: heartbeats recorded, and tallies applied by the consumer.
pub async fn summary(pool: &PgPool) -> anyhow::Result<Vec<SourceTally>> {
    sqlx::query_as!(
        SourceTally,
        r#"SELECT s.source AS "source!",
                  (SELECT count(*) FROM ops.heartbeats h WHERE h.source = s.source) AS "recorded!",
                  coalesce((SELECT total FROM ops.heartbeat_tallies t WHERE t.source = s.source), 0) AS "tallied!"
           FROM (VALUES ('http'), ('timer')) AS s(source) ORDER BY s.source"#,
    )
    .fetch_all(pool)
    .await
    .context("summarising heartbeats")
}
