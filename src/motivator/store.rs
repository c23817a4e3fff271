//! SQL of the motivator (schema `motivator`): notifications (the inbox), devices, nudge runs.

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    nudges::Trigger,
    rules::{MotivationType, Priority},
};

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema, sqlx::Encode, sqlx::Decode)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[sqlx(rename_all = "SCREAMING_SNAKE_CASE")]
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
crate::platform::db::text_enum!(Kind);

/// A notification to write.
#[derive(Debug, Clone)]
pub struct NewNotification {
    pub id: Uuid,
    pub user_id: Uuid,
    pub kind: Kind,
    pub title: String,
    pub body: String,
    pub segment: Option<String>,
    pub motivation_type: Option<MotivationType>,
    pub priority: Option<Priority>,
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
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let users: Vec<Uuid> = rows.iter().map(|r| r.user_id).collect();
    let kinds: Vec<Kind> = rows.iter().map(|r| r.kind).collect();
    let titles: Vec<&str> = rows.iter().map(|r| r.title.as_str()).collect();
    let bodies: Vec<&str> = rows.iter().map(|r| r.body.as_str()).collect();
    let segments: Vec<Option<&str>> = rows.iter().map(|r| r.segment.as_deref()).collect();
    let motivations: Vec<Option<MotivationType>> = rows.iter().map(|r| r.motivation_type).collect();
    let priorities: Vec<Option<Priority>> = rows.iter().map(|r| r.priority).collect();
    let days: Vec<Option<NaiveDate>> = rows.iter().map(|r| r.nudge_day).collect();
    let deadlines: Vec<Option<NaiveDate>> = rows.iter().map(|r| r.deadline).collect();
    // The arrays' element types are the casts in the statement; the overrides (`as &[T]`) bind
    // enums and nullable elements, which the macro's checks of array parameters do not cover.
    sqlx::query_scalar!(
        "INSERT INTO motivator.notifications \
           (id, user_id, kind, title, body, segment, motivation_type, priority, nudge_day, deadline, push_batch) \
         SELECT *, $11::uuid FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], \
                              $7::text[], $8::text[], $9::date[], $10::date[]) \
         ON CONFLICT (user_id, nudge_day) WHERE nudge_day IS NOT NULL DO NOTHING \
         RETURNING id",
        &ids[..],
        &users[..],
        &kinds[..] as &[Kind],
        &titles[..] as &[&str],
        &bodies[..] as &[&str],
        &segments[..] as &[Option<&str>],
        &motivations[..] as &[Option<MotivationType>],
        &priorities[..] as &[Option<Priority>],
        &days[..] as &[Option<NaiveDate>],
        &deadlines[..] as &[Option<NaiveDate>],
        batch,
    )
    .fetch_all(&mut *conn)
    .await
    .context("writing notifications")
}

/// A notification as the inbox shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub id: Uuid,
    pub kind: Kind,
    pub title: String,
    pub body: String,
    /// `ACHIEVEMENT`, `HABIT_FORMATION`, `SOCIAL` or `HEALTH_BENEFIT` (daily nudges and
    /// encouragements).
    #[schema(value_type = Option<String>)]
    pub motivation_type: Option<MotivationType>,
    /// `HIGH`, `MEDIUM` or `LOW` (daily nudges and encouragements).
    #[schema(value_type = Option<String>)]
    pub priority: Option<Priority>,
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

/// One page of the inbox, newest first, and the counts.
pub async fn inbox(pool: &PgPool, user: Uuid, offset: i64, limit: i64) -> anyhow::Result<(Vec<Notification>, i64, i64)> {
    let items = sqlx::query_as!(
        Notification,
        r#"SELECT id, kind AS "kind: Kind", title, body, motivation_type AS "motivation_type: MotivationType",
                  priority AS "priority: Priority", nudge_day, deadline, created_at, read_at,
                  read_at IS NOT NULL AS "read!"
           FROM motivator.notifications WHERE user_id = $1
           ORDER BY created_at DESC, id DESC OFFSET $2 LIMIT $3"#,
        user,
        offset,
        limit,
    )
    .fetch_all(pool)
    .await
    .context("reading the inbox")?;
    let counts = sqlx::query!(
        r#"SELECT count(*) AS "total!", count(*) FILTER (WHERE read_at IS NULL) AS "unread!"
           FROM motivator.notifications WHERE user_id = $1"#,
        user,
    )
    .fetch_one(pool)
    .await
    .context("counting the inbox")?;
    Ok((items, counts.total, counts.unread))
}

/// Marks the user's notification read (reading twice keeps the first time). `None`: no such
/// notification of this user.
pub async fn mark_read(pool: &PgPool, user: Uuid, id: Uuid) -> anyhow::Result<Option<Notification>> {
    sqlx::query_as!(
        Notification,
        r#"UPDATE motivator.notifications SET read_at = coalesce(read_at, now())
           WHERE id = $1 AND user_id = $2
           RETURNING id, kind AS "kind: Kind", title, body, motivation_type AS "motivation_type: MotivationType",
                     priority AS "priority: Priority", nudge_day, deadline, created_at, read_at,
                     read_at IS NOT NULL AS "read!""#,
        id,
        user,
    )
    .fetch_optional(pool)
    .await
    .context("marking a notification read")
}

pub async fn unread_count(pool: &PgPool, user: Uuid) -> anyhow::Result<i64> {
    sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM motivator.notifications WHERE user_id = $1 AND read_at IS NULL"#, user)
        .fetch_one(pool)
        .await
        .context("counting unread notifications")
}

/// A notification to push, with where to.
#[derive(Debug, Clone)]
pub struct Pending {
    pub id: Uuid,
    pub user_id: Uuid,
    pub title: String,
    pub body: String,
    pub kind: Kind,
}

/// Of `ids`, the notifications not pushed yet whose user has a device.
pub async fn pending_push(pool: &PgPool, ids: &[Uuid]) -> anyhow::Result<Vec<Pending>> {
    sqlx::query_as!(
        Pending,
        r#"SELECT n.id, n.user_id, n.title, n.body, n.kind AS "kind: Kind" FROM motivator.notifications n
           WHERE n.id = ANY($1) AND n.pushed_at IS NULL
             AND EXISTS (SELECT 1 FROM motivator.devices d WHERE d.user_id = n.user_id)
           ORDER BY n.id"#,
        ids,
    )
    .fetch_all(pool)
    .await
    .context("reading notifications to push")
}

/// The notifications of push batch `batch` not pushed yet whose user has a device.
pub async fn pending_push_batch(pool: &PgPool, batch: Uuid) -> anyhow::Result<Vec<Pending>> {
    sqlx::query_as!(
        Pending,
        r#"SELECT n.id, n.user_id, n.title, n.body, n.kind AS "kind: Kind" FROM motivator.notifications n
           WHERE n.push_batch = $1 AND n.pushed_at IS NULL
             AND EXISTS (SELECT 1 FROM motivator.devices d WHERE d.user_id = n.user_id)
           ORDER BY n.id"#,
        batch,
    )
    .fetch_all(pool)
    .await
    .context("reading a push batch")
}

/// Keeps an operator's targets of run `run` (sorted, distinct).
pub async fn add_targets(conn: &mut PgConnection, run: Uuid, users: &[Uuid]) -> anyhow::Result<()> {
    sqlx::query!(
        "INSERT INTO motivator.nudge_targets (run_id, user_id) SELECT $1, u FROM unnest($2::uuid[]) AS u \
         ON CONFLICT ON CONSTRAINT nudge_targets_pkey DO NOTHING",
        run,
        users,
    )
    .execute(conn)
    .await
    .context("keeping an operator's targets")?;
    Ok(())
}

/// The targets of run `run` in `(after, until]`, in order.
pub async fn targets(pool: &PgPool, run: Uuid, after: Option<Uuid>, until: Uuid) -> anyhow::Result<Vec<Uuid>> {
    sqlx::query_scalar!(
        "SELECT user_id FROM motivator.nudge_targets WHERE run_id = $1 \
           AND ($2::uuid IS NULL OR user_id > $2) AND user_id <= $3 ORDER BY user_id",
        run,
        after,
        until,
    )
    .fetch_all(pool)
    .await
    .context("reading an operator's targets")
}

pub async fn mark_pushed(pool: &PgPool, id: Uuid) -> anyhow::Result<()> {
    sqlx::query!("UPDATE motivator.notifications SET pushed_at = now() WHERE id = $1", id)
        .execute(pool)
        .await
        .context("marking a notification pushed")?;
    Ok(())
}

// Where a device receives pushes: `motivator.devices.platform`, `motivator.installations.platform`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, ToSchema, sqlx::Encode, sqlx::Decode)]
pub enum PushPlatform {
    /// Firebase Cloud Messaging (Android).
    #[serde(rename = "FCM")]
    #[sqlx(rename = "FCM")]
    Fcm,
    /// Apple Push Notification service (iOS).
    #[serde(rename = "APNS")]
    #[sqlx(rename = "APNS")]
    Apns,
}
crate::platform::db::text_enum!(PushPlatform);

/// A push device.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    #[serde(skip)]
    pub token: String,
    /// `FCM` or `APNS`.
    #[schema(value_type = String)]
    pub platform: PushPlatform,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Registers (or moves to `user`) a device token, and keeps the user's `cap` devices registered
/// or refreshed most recently: a new phone replaces the one unused longest (an app refreshes its
/// token on every start). Under a per-user lock, so concurrent registrations cannot overshoot.
pub async fn upsert_device(
    pool: &PgPool,
    user: Uuid,
    platform: PushPlatform,
    token: &str,
    cap: u32,
) -> anyhow::Result<Device> {
    let mut tx = pool.begin().await.context("starting a device registration")?;
    sqlx::query!("SELECT pg_advisory_xact_lock(hashtextextended('motivator.devices:' || $1::uuid::text, 0))", user)
        .execute(&mut *tx)
        .await
        .context("locking the user's devices")?;
    let device = sqlx::query_as!(
        Device,
        r#"INSERT INTO motivator.devices (token, platform, user_id) VALUES ($1, $2, $3)
           ON CONFLICT ON CONSTRAINT devices_pkey DO UPDATE
             SET platform = EXCLUDED.platform, user_id = EXCLUDED.user_id, updated_at = now()
           RETURNING token, platform AS "platform: PushPlatform", created_at, updated_at"#,
        token,
        platform as PushPlatform,
        user,
    )
    .fetch_one(&mut *tx)
    .await
    .context("registering a device")?;
    sqlx::query!(
        "DELETE FROM motivator.devices WHERE user_id = $1 AND token NOT IN \
           (SELECT token FROM motivator.devices WHERE user_id = $1 \
             ORDER BY token = $2 DESC, updated_at DESC, created_at DESC LIMIT $3)",
        user,
        token,
        i64::from(cap),
    )
    .execute(&mut *tx)
    .await
    .context("forgetting the user's stalest devices")?;
    tx.commit().await.context("committing a device registration")?;
    Ok(device)
}

/// Removes the user's device token; `false` when the user has no such token.
pub async fn delete_device(pool: &PgPool, user: Uuid, token: &str) -> anyhow::Result<bool> {
    let n = sqlx::query!("DELETE FROM motivator.devices WHERE token = $1 AND user_id = $2", token, user)
        .execute(pool)
        .await
        .context("removing a device")?
        .rows_affected();
    Ok(n > 0)
}

pub async fn devices_of(pool: &PgPool, user: Uuid) -> anyhow::Result<Vec<Device>> {
    sqlx::query_as!(
        Device,
        r#"SELECT token, platform AS "platform: PushPlatform", created_at, updated_at
           FROM motivator.devices WHERE user_id = $1 ORDER BY created_at"#,
        user,
    )
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
    trigger: Trigger,
    slice_size: u32,
) -> anyhow::Result<()> {
    sqlx::query!(
        "INSERT INTO motivator.nudge_runs (id, run_at, day, trigger, slice_size) VALUES ($1, $2, $3, $4, $5)",
        id,
        run_at,
        day,
        trigger as Trigger,
        slice_size as i32,
    )
    .execute(conn)
    .await
    .context("starting a nudge run")?;
    Ok(())
}

/// Adds one slice's figures to its run.
pub async fn add_to_run(conn: &mut PgConnection, id: Uuid, processed: i64, created: i64, skipped: i64) -> anyhow::Result<()> {
    sqlx::query!(
        "UPDATE motivator.nudge_runs SET slices = slices + 1, processed = processed + $2, created = created + $3, \
         skipped = skipped + $4, updated_at = now() WHERE id = $1",
        id,
        processed as i32,
        created as i32,
        skipped as i32,
    )
    .execute(conn)
    .await
    .context("counting a slice")?;
    Ok(())
}

/// The user's notifications and devices (개인정보보호법 §35, §35-2). Tokens are the user's data too.
pub async fn export(pool: &PgPool, user: Uuid) -> anyhow::Result<Value> {
    let notifications = sqlx::query_as!(
        Notification,
        r#"SELECT id, kind AS "kind: Kind", title, body, motivation_type AS "motivation_type: MotivationType",
                  priority AS "priority: Priority", nudge_day, deadline, created_at, read_at,
                  read_at IS NOT NULL AS "read!"
           FROM motivator.notifications WHERE user_id = $1 ORDER BY created_at, id"#,
        user,
    )
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
    sqlx::query!("DELETE FROM motivator.notifications WHERE user_id = $1", user)
        .execute(&mut *conn)
        .await
        .context("erasing a user's notifications")?;
    sqlx::query!("DELETE FROM motivator.devices WHERE user_id = $1", user)
        .execute(&mut *conn)
        .await
        .context("erasing a user's devices")?;
    sqlx::query!("DELETE FROM motivator.nudge_targets WHERE user_id = $1", user)
        .execute(&mut *conn)
        .await
        .context("erasing a user's nudge targets")?;
    // The hub's copies go after the commit (`MotivatorInstallationsEraser` on user.deleted);
    // until then the rows keep only the installation ids, never the tokens.
    sqlx::query!(
        "UPDATE motivator.installations SET token = NULL, erased_at = now() WHERE user_id = $1 AND erased_at IS NULL",
        user,
    )
    .execute(&mut *conn)
    .await
    .context("marking a user's installations erased")?;
    Ok(())
}
