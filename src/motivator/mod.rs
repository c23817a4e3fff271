//! The motivator domain: daily nudges fanned out over Service Bus (`nudges`), messages on events
//! (`messages`), the inbox and push devices (`routes`, `store`), push delivery (`push`). Its
//! rules are in `rules`, its texts behind `wording`. It reads progress through `goals::api`, the
//! assessment through `health::api` and consents through `users::has_consent`.

pub mod events;
pub mod messages;
pub mod nudges;
pub mod push;
pub mod routes;
pub mod rules;
pub mod store;
pub mod wording;

use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Utc};
use utoipa::OpenApi as _;

use crate::{
    config::Setting,
    domain::{DataPart, DomainModule, DomainState, Platform},
    functions::Function,
    http::Routes,
    platform::bus::Event,
    users::api::Verifier,
};

pub const NUDGE_SCHEDULE: Setting = Setting::new(
    "NUDGE_SCHEDULE",
    "6-field NCRONTAB (UTC) of `MotivatorDailyNudges`, the daily nudge run (00:00 UTC = 09:00 KST)",
)
.default("0 0 0 * * *");
pub const NUDGE_SLICE_SIZE: Setting =
    Setting::new("NUDGE_SLICE_SIZE", "users per `nudge.batch` slice (one Service Bus message each), 10–10000")
        .default("1000");
pub const NOTIFICATION_HUB_CONNECTION: Setting = Setting::new(
    "NOTIFICATION_HUB_CONNECTION",
    "connection string of the Notification Hub (Key Vault reference); unset: no push, the inbox only",
)
.secret();
pub const NOTIFICATION_HUB_NAME: Setting =
    Setting::new("NOTIFICATION_HUB_NAME", "the notification hub's name (with NOTIFICATION_HUB_CONNECTION)");

pub const NOTIFICATION_DEVICES_PER_USER: Setting = Setting::new(
    "NOTIFICATION_DEVICES_PER_USER",
    "push devices kept per user; registering one more forgets the one registered or refreshed longest ago",
)
.default("10");
pub const SETTINGS: &[Setting] = &[
    NUDGE_SCHEDULE,
    NUDGE_SLICE_SIZE,
    NOTIFICATION_HUB_CONNECTION,
    NOTIFICATION_HUB_NAME,
    NOTIFICATION_DEVICES_PER_USER,
];

/// The motivator's state.
pub type MotivatorState = DomainState<Motivator>;

pub struct Motivator {
    pub verifier: Verifier,
    pub slice_size: u32,
    /// How many users' progress a slice reads at once (the pool's size).
    pub concurrency: usize,
    pub push: Option<Arc<dyn push::PushSender>>,
    /// Push devices kept per user (the newest registration forgets the stalest).
    pub devices_per_user: u32,
    schedule: Option<String>,
}

impl AsRef<Verifier> for Motivator {
    fn as_ref(&self) -> &Verifier {
        &self.verifier
    }
}

impl Motivator {
    pub fn new(platform: &Platform, verifier: Verifier, push: Option<Arc<dyn push::PushSender>>) -> anyhow::Result<Self> {
        let src = platform.settings.as_ref();
        Ok(Motivator {
            verifier,
            slice_size: NUDGE_SLICE_SIZE.number(src, "a whole number from 10 to 10000", 10..=10_000)?,
            concurrency: (platform.config.db_pool_max as usize).max(1),
            push,
            devices_per_user: NOTIFICATION_DEVICES_PER_USER.number(src, "devices from 1 to 100", 1..=100)?,
            schedule: NUDGE_SCHEDULE.read(src),
        })
    }

    /// When the daily timer fires next after `now`.
    pub fn next_daily_run(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        use croner::parser::{CronParser, Seconds, Year};
        let cron = CronParser::builder()
            .seconds(Seconds::Required)
            .year(Year::Disallowed)
            .build()
            .parse(self.schedule.as_deref()?)
            .ok()?;
        let now = chrono::DurationRound::duration_trunc(now, chrono::TimeDelta::seconds(1)).ok()?;
        cron.find_next_occurrence(&now, false).ok()
    }
}

pub struct Domain;

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        routes::inbox,
        routes::read,
        routes::register_device,
        routes::remove_device,
        routes::encouragement,
        routes::batch,
    ),
    modifiers(&FunctionKey),
    tags((name = "motivator", description = "알림함, 푸시 기기, 응원 메시지, 운영자용 알림 배치"))
)]
struct Api;

/// The operators' function key, as the Functions host reads it.
struct FunctionKey;

impl utoipa::Modify for FunctionKey {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "functionKey",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "x-functions-key",
                "Azure Functions 함수 키 (운영자 전용)",
            ))),
        );
    }
}

/// What the inbox leads to (notifications are created by the server, on events and daily nudges).
const LINKS: &[crate::http::openapi::Link] = &[
    crate::http::openapi::Link { from: "listNotifications", status: "200", name: "MarkNotificationRead", to: "markNotificationRead",
        parameters: &[("notificationId", "$response.body#/data/notifications/0/id")],
        description: "mark the newest notification read" },
];

impl DomainModule for Domain {
    type State = MotivatorState;
    type Needs = Verifier;
    const NAME: &'static str = "motivator";
    const SETTINGS: &'static [Setting] = SETTINGS;

    fn state(platform: &Platform, verifier: Verifier) -> anyhow::Result<MotivatorState> {
        let src = platform.settings.as_ref();
        let push = push::sender(NOTIFICATION_HUB_CONNECTION.read(src), NOTIFICATION_HUB_NAME.read(src))
            .context("configuring Notification Hubs")?;
        Ok(DomainState::new(platform, Motivator::new(platform, verifier, push)?))
    }

    fn routes() -> Routes<MotivatorState> {
        routes::routes()
    }

    fn openapi() -> utoipa::openapi::OpenApi {
        let mut doc = Api::openapi();
        crate::http::openapi::add_links(&mut doc, LINKS);
        doc
    }

    fn functions() -> Vec<Function<MotivatorState>> {
        use crate::{
            goals::api::events::GoalAchieved,
            health::api::events::CheckupSynced,
            users::api::events::{UserDeleted, UserRegistered},
        };
        vec![
            Function::http("Notifications", "notifications/{*path}", &["get", "post", "put", "delete"]),
            Function::http("MotivatorEncouragement", "motivator/notifications/encouragement", &["post"]),
            Function::http_with_key("MotivatorBatch", "motivator/batch/notifications", &["post"]),
            Function::timer(nudges::TIMER, "%NUDGE_SCHEDULE%", nudges::timer),
            Function::service_bus(nudges::CONSUMER, "motivator-nudge-slice", &[events::NudgeBatch::SUBJECT], nudges::consume),
            Function::service_bus(messages::WELCOME, "motivator-welcome", &[UserRegistered::SUBJECT], messages::welcome),
            Function::service_bus(messages::CHECKUP, "motivator-checkup", &[CheckupSynced::SUBJECT], messages::checkup),
            Function::service_bus(messages::CELEBRATION, "motivator-celebration", &[GoalAchieved::SUBJECT], messages::celebration),
            Function::service_bus(push::CONSUMER, "motivator-push", &[events::NotificationCreated::SUBJECT], push::consume),
            Function::service_bus(push::ERASER, "motivator-installations-eraser", &[UserDeleted::SUBJECT], push::erase),
        ]
    }

    fn data() -> Option<DataPart> {
        Some(DataPart {
            name: "motivator",
            schema: "motivator",
            export: |p, id| Box::pin(store::export(&p.db, id)),
            erase: |conn, id| Box::pin(store::erase(conn, id)),
            cache_keys: |_| Vec::new(),
        })
    }
}
