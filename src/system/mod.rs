//! The system domain: what operations need, kept out of every other domain's prefix. Liveness and
//! readiness, the OpenAPI document and its page, the `OutboxRelay` timer that publishes events,
//! and the backbone demonstration (a heartbeat through HTTP, a timer, the outbox and a consumer).

pub mod heartbeat;
pub mod probes;
pub mod relay;

use utoipa::OpenApi as _;

use crate::{
    config::Setting,
    domain::{DomainModule, DomainState, Platform},
    functions::Function,
    http::Routes,
};

pub const HEARTBEAT_SCHEDULE: Setting =
    Setting::new("HEARTBEAT_SCHEDULE", "6-field NCRONTAB (UTC) of the `HeartbeatTimer` function")
        .default("0 */5 * * * *");
pub const OUTBOX_RELAY_SCHEDULE: Setting = Setting::new(
    "OUTBOX_RELAY_SCHEDULE",
    "6-field NCRONTAB (UTC) of the `OutboxRelay` sweep: publishes what requests did not, prunes old events",
)
.default("0 * * * * *");

/// The system domain's state: the platform itself.
pub type SystemState = DomainState<()>;

pub struct Domain;

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        probes::live,
        probes::ready,
        heartbeat::routes::record,
        heartbeat::routes::summary,
        heartbeat::routes::one,
    ),
    tags((name = "system", description = "운영: 상태 확인, 문서, 백본 시연"))
)]
struct Api;

/// What a recorded heartbeat leads to.
const LINKS: &[crate::http::openapi::Link] = &[
    crate::http::openapi::Link { from: "recordHeartbeat", status: "201", name: "GetHeartbeat", to: "getHeartbeat",
        parameters: &[("heartbeatId", "$response.body#/data/id")], description: "the heartbeat just recorded" },
];

impl DomainModule for Domain {
    type State = SystemState;
    type Needs = ();
    const NAME: &'static str = "system";
    const SETTINGS: &'static [Setting] = &[HEARTBEAT_SCHEDULE, OUTBOX_RELAY_SCHEDULE];

    fn state(platform: &Platform, (): ()) -> anyhow::Result<SystemState> {
        Ok(DomainState::new(platform, ()))
    }

    fn routes() -> Routes<SystemState> {
        probes::routes().merge(heartbeat::routes::routes())
    }

    fn openapi() -> utoipa::openapi::OpenApi {
        let mut doc = Api::openapi();
        crate::http::openapi::add_links(&mut doc, LINKS);
        doc
    }

    fn functions() -> Vec<Function<SystemState>> {
        vec![
            Function::http("System", "system/{*path}", crate::functions::ALL_METHODS),
            Function::http("OpenApi", "openapi.json", &["get"]),
            Function::http("Docs", "docs", &["get"]),
            Function::timer("OutboxRelay", "%OUTBOX_RELAY_SCHEDULE%", relay::run),
            Function::timer("HeartbeatTimer", "%HEARTBEAT_SCHEDULE%", heartbeat::functions::timer),
            Function::service_bus(
                heartbeat::functions::CONSUMER,
                "heartbeat-tally",
                &[heartbeat::HEARTBEAT_EVENT],
                heartbeat::functions::tally,
            ),
        ]
    }
}
