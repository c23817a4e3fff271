//! SQL of the motivator (schema `motivator`): notifications (the inbox), devices, nudge runs.

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[sqlx(type_name = "text", rename_all = "SCREAMING_SNAKE_CASE")]
#[schema(as = NotificationKind)]
pub enum Kind {
    Welcome,
    ResultsReady,
    ConfirmatoryVisit,
    Celebration,
    DailyNudge,
    Comeback,
    Encouragement,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Welcome => "WELCOME",
            Kind::ResultsReady => "RESULTS_READY",
            Kind::ConfirmatoryVisit => "CONFIRMATORY_VISIT",
            Kind::Celebration => "CELEBRATION",
            Kind::DailyNudge => "DAILY_NUDGE",
            Kind::Comeback => "COMEBACK",
            Kind::Encouragement => "ENCOURAGEMENT",
        }
    }
}

/// A notification to write.
#[derive(Debug, Clone)]
pub struct NewNotification {
    pub id: Uuid,
    pub user_id: Uuid,
    pub kind: Kind,
    pub title: String,
    pub body: String,
    pub segment: Option<String>,
    pub motivation_type: Option<&'static str>,
    pub priority: Option<&'static str>,
    pub nudge_day: Option<NaiveDate>,
    pub deadline: Option<NaiveDate>,
}

impl NewNotification {
    pub fn new(user_id: Uuid, kind: Kind, title: String, body: String) -> Self {
        NewNotification {
            id: Uuid::now_v7(),
            user_id,
            kind,
            title,
            body,
            segment: None,
            motivation_type: None,
            priority: None,
            nudge_day: None,
            deadline: None,
        }
    }
}

/// Writes `rows` in one statement, all in push batch `batch` (what their `notification.created`
/// event names); a daily message for a user and day that already has one is dropped by the
/// unique index. Returns the ids written.
pub async fn insert_many(conn: &mut PgConnection, rows: &[NewNotification], batch: Uuid) -> anyhow::Result<Vec<Uuid>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let col = |f: fn(&NewNotification) -> Option<String>| rows.iter().map(f).collect::<Vec<_>>();
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let users: Vec<Uuid> = rows.iter().map(|r| r.user_id).collect();
    let days: Vec<Option<NaiveDate>> = rows.iter().map(|r| r.nudge_day).collect();
    let deadlines: Vec<Option<NaiveDate>> = rows.iter().map(|r| r.deadline).collect();
    sqlx::query_scalar(
        "INSERT INTO motivator.notifications \
           (id, user_id, kind, title, body, segment, motivation_type, priority, nudge_day, deadline, push_batch) \
         SELECT *, $11::uuid FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], \
                              $7::text[], $8::text[], $9::date[], $10::date[]) \
         ON CONFLICT (user_id, nudge_day) WHERE nudge_day IS NOT NULL DO NOTHING \
         RETURNING id",
    )
    .bind(&ids)
    .bind(&users)
    .bind(col(|r| Some(r.kind.as_str().to_string())))
    .bind(col(|r| Some(r.title.clone())))
    .bind(col(|r| Some(r.body.clone())))
    .bind(col(|r| r.segment.clone()))
    .bind(col(|r| r.motivation_type.map(str::to_string)))
    .bind(col(|r| r.priority.map(str::to_string)))
    .bind(&days)
    .bind(&deadlines)
    .bind(batch)
    .fetch_all(&mut *conn)
    .await
    .context("writing notifications")
}

/// A notification as the inbox shows it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub id: Uuid,
    #[schema(value_type = Kind)]
    #[sqlx(try_from = "String")]
    pub kind: KindText,
    pub title: String,
    pub body: String,
    /// `ACHIEVEMENT`, `HABIT_FORMATION`, `SOCIAL` or `HEALTH_BENEFIT` (daily nudges and
    /// encouragements).
    pub motivation_type: Option<String>,
    /// `HIGH`, `MEDIUM` or `LOW` (daily nudges and encouragements).
    pub priority: Option<String>,
    /// The Seoul day a daily nudge was for.
    #[schema(format = Date)]
    pub nudge_day: Option<NaiveDate>,
    /// The last day of what the message points to (the free confirmatory visit).
    #[schema(format = Date)]
    pub deadline: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
    pub read: bool,
}

/// The kind as stored (the database's check keeps it one of [`Kind`]).
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct KindText(pub String);

impl From<String> for KindText {
    fn from(s: String) -> Self {
        KindText(s)
    }
}

const COLUMNS: &str = "id, kind, title, body, motivation_type, priority, nudge_day, deadline, created_at, read_at, \
                       read_at IS NOT NULL AS read";

/// One page of the inbox, newest first, and the counts.
pub async fn inbox(pool: &PgPool, user: Uuid, offset: i64, limit: i64) -> anyhow::Result<(Vec<Notification>, i64, i64)> {
    let items: Vec<Notification> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM motivator.notifications WHERE user_id = $1 \
         ORDER BY created_at DESC, id DESC OFFSET $2 LIMIT $3"
    ))
    .bind(user)
    .bind(offset)
    .bind(limit)
    .fetch_all(pool)
    .await
    .context("reading the inbox")?;
    let (total, unread): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE read_at IS NULL) FROM motivator.notifications WHERE user_id = $1",
    )
    .bind(user)
    .fetch_one(pool)
    .await
    .context("counting the inbox")?;
    Ok((items, total, unread))
}

/// Marks the user's notification read (reading twice keeps the first time). `None`: no such
/// notification of this user.
pub async fn mark_read(pool: &PgPool, user: Uuid, id: Uuid) -> anyhow::Result<Option<Notification>> {
    sqlx::query_as(&format!(
        "UPDATE motivator.notifications SET read_at = coalesce(read_at, now()) \
         WHERE id = $1 AND user_id = $2 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(user)
    .fetch_optional(pool)
    .await
    .context("marking a notification read")
}

pub async fn unread_count(pool: &PgPool, user: Uuid) -> anyhow::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM motivator.notifications WHERE user_id = $1 AND read_at IS NULL")
        .bind(user)
        .fetch_one(pool)
        .await
        .context("counting unread notifications")
}

/// A notification to push, with where to.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Pending {
    pub id: Uuid,
    pub user_id: Uuid,
    pub title: String,
    pub body: String,
    pub kind: String,
}

/// Of `ids`, the notifications not pushed yet whose user has a device.
pub async fn pending_push(pool: &PgPool, ids: &[Uuid]) -> anyhow::Result<Vec<Pending>> {
    sqlx::query_as(
        "SELECT n.id, n.user_id, n.title, n.body, n.kind FROM motivator.notifications n \
         WHERE n.id = ANY($1) AND n.pushed_at IS NULL \
           AND EXISTS (SELECT 1 FROM motivator.devices d WHERE d.user_id = n.user_id) \
         ORDER BY n.id",
    )
    .bind(ids)
    .fetch_all(pool)
    .await
    .context("reading notifications to push")
}

/// The notifications of push batch `batch` not pushed yet whose user has a device.
pub async fn pending_push_batch(pool: &PgPool, batch: Uuid) -> anyhow::Result<Vec<Pending>> {
    sqlx::query_as(
        "SELECT n.id, n.user_id, n.title, n.body, n.kind FROM motivator.notifications n \
         WHERE n.push_batch = $1 AND n.pushed_at IS NULL \
           AND EXISTS (SELECT 1 FROM motivator.devices d WHERE d.user_id = n.user_id) \
         ORDER BY n.id",
    )
    .bind(batch)
    .fetch_all(pool)
    .await
    .context("reading a push batch")
}

/// Keeps an operator's targets of run `run` (sorted, distinct).
pub async fn add_targets(conn: &mut PgConnection, run: Uuid, users: &[Uuid]) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO motivator.nudge_targets (run_id, user_id) SELECT $1, u FROM unnest($2::uuid[]) AS u \
         ON CONFLICT ON CONSTRAINT nudge_targets_pkey DO NOTHING",
    )
    .bind(run)
    .bind(users)
    .execute(conn)
    .await
    .context("keeping an operator's targets")?;
    Ok(())
}

/// The targets of run `run` in `(after, until]`, in order.
pub async fn targets(pool: &PgPool, run: Uuid, after: Option<Uuid>, until: Uuid) -> anyhow::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "SELECT user_id FROM motivator.nudge_targets WHERE run_id = $1 \
           AND ($2::uuid IS NULL OR user_id > $2) AND user_id <= $3 ORDER BY user_id",
    )
    .bind(run)
    .bind(after)
    .bind(until)
    .fetch_all(pool)
    .await
    .context("reading an operator's targets")
}

pub async fn mark_pushed(pool: &PgPool, id: Uuid) -> anyhow::Result<()> {
    sqlx::query("UPDATE motivator.notifications SET pushed_at = now() WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await
        .context("marking a notification pushed")?;
    Ok(())
}

/// A push device.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    #[serde(skip)]
    pub token: String,
    /// `FCM` or `APNS`.
    pub platform: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Registers (or moves to `user`) a device token, and keeps the user's `cap` devices registered
/// or refreshed most recently: a new phone replaces the one unused longest (an app refreshes its
/// token on every start). Under a per-user lock, so concurrent registrations cannot overshoot.
pub async fn upsert_device(pool: &PgPool, user: Uuid, platform: &str, token: &str, cap: u32) -> anyhow::Result<Device> {
    let mut tx = pool.begin().await.context("starting a device registration")?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('motivator.devices:' || $1::text, 0))")
        .bind(user)
        .execute(&mut *tx)
        .await
        .context("locking the user's devices")?;
    let device: Device = sqlx::query_as(
        "INSERT INTO motivator.devices (token, platform, user_id) VALUES ($1, $2, $3) \
         ON CONFLICT ON CONSTRAINT devices_pkey DO UPDATE \
           SET platform = EXCLUDED.platform, user_id = EXCLUDED.user_id, updated_at = now() \
         RETURNING token, platform, created_at, updated_at",
    )
    .bind(token)
    .bind(platform)
    .bind(user)
    .fetch_one(&mut *tx)
    .await
    .context("registering a device")?;
    sqlx::query(
        "DELETE FROM motivator.devices WHERE user_id = $1 AND token NOT IN \
           (SELECT token FROM motivator.devices WHERE user_id = $1 \
             ORDER BY token = $2 DESC, updated_at DESC, created_at DESC LIMIT $3)",
    )
    .bind(user)
    .bind(token)
    .bind(i64::from(cap))
    .execute(&mut *tx)
    .await
    .context("forgetting the user's stalest devices")?;
    tx.commit().await.context("committing a device registration")?;
    Ok(device)
}

/// Removes the user's device token; `false` when the user has no such token.
pub async fn delete_device(pool: &PgPool, user: Uuid, token: &str) -> anyhow::Result<bool> {
    let n = sqlx::query("DELETE FROM motivator.devices WHERE token = $1 AND user_id = $2")
        .bind(token)
        .bind(user)
        .execute(pool)
        .await
        .context("removing a device")?
        .rows_affected();
    Ok(n > 0)
}

pub async fn devices_of(pool: &PgPool, user: Uuid) -> anyhow::Result<Vec<Device>> {
    sqlx::query_as(
        "SELECT token, platform, created_at, updated_at FROM motivator.devices WHERE user_id = $1 ORDER BY created_at",
    )
    .bind(user)
    .fetch_all(pool)
    .await
    .context("reading devices")
}

/// Starts a run.
pub async fn create_run(
    conn: &mut PgConnection,
    id: Uuid,
    run_at: DateTime<Utc>,
    day: NaiveDate,
    trigger: &str,
    slice_size: u32,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO motivator.nudge_runs (id, run_at, day, trigger, slice_size) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(run_at)
    .bind(day)
    .bind(trigger)
    .bind(slice_size as i32)
    .execute(conn)
    .await
    .context("starting a nudge run")?;
    Ok(())
}

/// Adds one slice's figures to its run.
pub async fn add_to_run(conn: &mut PgConnection, id: Uuid, processed: i64, created: i64, skipped: i64) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE motivator.nudge_runs SET slices = slices + 1, processed = processed + $2, created = created + $3, \
         skipped = skipped + $4, updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(processed as i32)
    .bind(created as i32)
    .bind(skipped as i32)
    .execute(conn)
    .await
    .context("counting a slice")?;
    Ok(())
}

/// The user's notifications and devices (개인정보보호법 §35, §35-2). Tokens are the user's data too.
pub async fn export(pool: &PgPool, user: Uuid) -> anyhow::Result<Value> {
    let notifications: Vec<Notification> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM motivator.notifications WHERE user_id = $1 ORDER BY created_at, id"
    ))
    .bind(user)
    .fetch_all(pool)
    .await
    .context("exporting notifications")?;
    let devices = devices_of(pool, user).await?;
    Ok(json!({
        "notifications": notifications,
        "devices": devices.iter().map(|d| json!({
            "platform": d.platform, "token": d.token, "createdAt": d.created_at, "updatedAt": d.updated_at,
        })).collect::<Vec<_>>(),
    }))
}

pub async fn erase(conn: &mut PgConnection, user: Uuid) -> anyhow::Result<()> {
    for sql in [
        "DELETE FROM motivator.notifications WHERE user_id = $1",
        "DELETE FROM motivator.devices WHERE user_id = $1",
        "DELETE FROM motivator.nudge_targets WHERE user_id = $1",
        // The hub's copies go after the commit (`MotivatorInstallationsEraser` on user.deleted);
        // until then the rows keep only the installation ids, never the tokens.
        "UPDATE motivator.installations SET token = NULL, erased_at = now() WHERE user_id = $1 AND erased_at IS NULL",
    ] {
        sqlx::query(sql).bind(user).execute(&mut *conn).await.context("erasing a user's notifications")?;
    }
    Ok(())
}
