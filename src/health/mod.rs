//! The health domain: national health checkups in (NHIS sync through an aggregator, manual entry,
//! result-sheet files), judged by the national checkup's rules (`judge`, pure), and out (history,
//! detail, trends, where a value stands among peers of the same sex and age band from the NHIS
//! open data). Later domains use [`api`].

pub mod api;
pub mod events;
pub mod functions;
pub mod judge;
pub mod model;
pub mod population;
pub mod provider;
pub mod routes;
pub mod settings;
pub mod sheets;
pub mod store;
pub mod trends;
pub mod views;

use std::{sync::Arc, time::Duration};

use utoipa::OpenApi as _;

use crate::{
    config::{Environment, Setting},
    domain::{DataPart, DomainModule, DomainState, Platform},
    functions::{ALL_METHODS, Function},
    http::Routes,
    platform::http_client::LazyClient,
    users::api::Verifier,
};
use provider::{CheckupProvider, NotConfigured, sample::Sample, tilko};
use crate::platform::time::Clock;

/// The health domain's state.
pub type HealthState = DomainState<Health>;

pub struct Health {
    pub verifier: Verifier,
    pub provider: Arc<dyn CheckupProvider>,
    pub job_ttl: Duration,
    pub withdrawn_retention: Duration,
    pub uploads: store::uploads::UploadLimits,
    pub sync_starts_per_hour: u32,
}

impl AsRef<Verifier> for Health {
    fn as_ref(&self) -> &Verifier {
        &self.verifier
    }
}

/// Tilko when a key is set; otherwise the sample locally, and nothing in Azure (people must never
/// be shown sample data as theirs).
fn provider(config: &settings::HealthConfig, env: Environment, clock: &Clock) -> Arc<dyn CheckupProvider> {
    match (&config.tilko_api_key, env) {
        (Some(key), _) => Arc::new(tilko::Tilko::new(
            tilko::TilkoConfig {
                api_key: key.clone(),
                base_url: config.tilko_base_url.clone(),
                timeout: config.tilko_timeout,
            },
            LazyClient::default(),
        )),
        (None, Environment::Local) => Arc::new(Sample { approval_delay: config.sample_delay, clock: clock.clone() }),
        (None, Environment::Azure) => Arc::new(NotConfigured),
    }
}

pub struct Domain;

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        routes::checkups::record_checkup,
        routes::checkups::checkup_detail,
        routes::checkups::delete_checkup,
        routes::history::checkup_history,
        routes::history::health_trends,
        routes::history::health_peers,
        routes::sync::start_sync,
        routes::sync::complete_sync,
        routes::files::upload_file,
        routes::files::list_files,
        routes::files::download_file,
        routes::files::delete_file,
    ),
    tags((name = "health", description = "건강검진: 불러오기(NHIS), 직접 입력, 결과지 파일, 이력, 추이, 또래 비교"))
)]
struct Api;

/// What a created checkup, sync job or result sheet leads to.
const LINKS: &[crate::http::openapi::Link] = &[
    crate::http::openapi::Link { from: "recordCheckup", status: "201", name: "GetCheckup", to: "getCheckup",
        parameters: &[("checkupId", "$response.body#/data/id")], description: "the checkup just recorded, with its raw entry" },
    crate::http::openapi::Link { from: "recordCheckup", status: "201", name: "DeleteCheckup", to: "deleteCheckup",
        parameters: &[("checkupId", "$response.body#/data/id")], description: "delete the checkup just recorded" },
    crate::http::openapi::Link { from: "startCheckupSync", status: "202", name: "CompleteCheckupSync", to: "completeCheckupSync",
        parameters: &[("jobId", "$response.body#/data/jobId")], description: "complete the sync once the user approved it" },
    crate::http::openapi::Link { from: "uploadCheckupFile", status: "201", name: "DownloadCheckupFile", to: "downloadCheckupFile",
        parameters: &[("fileId", "$response.body#/data/id")], description: "the result sheet just uploaded" },
    crate::http::openapi::Link { from: "uploadCheckupFile", status: "201", name: "DeleteCheckupFile", to: "deleteCheckupFile",
        parameters: &[("fileId", "$response.body#/data/id")], description: "delete the result sheet just uploaded" },
];

impl DomainModule for Domain {
    type State = HealthState;
    type Needs = Verifier;
    const NAME: &'static str = "health";
    const SETTINGS: &'static [Setting] = settings::SETTINGS;

    fn state(platform: &Platform, verifier: Verifier) -> anyhow::Result<HealthState> {
        let config = settings::HealthConfig::from_source(platform.settings.as_ref())?;
        Ok(DomainState::new(
            platform,
            Health {
                verifier,
                provider: provider(&config, platform.config.environment, &platform.clock),
                job_ttl: config.job_ttl,
                withdrawn_retention: config.withdrawn_retention,
                uploads: config.uploads,
                sync_starts_per_hour: config.sync_starts_per_hour,
            },
        ))
    }

    fn routes() -> Routes<HealthState> {
        routes::routes()
    }

    fn openapi() -> utoipa::openapi::OpenApi {
        let mut doc = Api::openapi();
        crate::http::openapi::add_links(&mut doc, LINKS);
        doc
    }

    fn functions() -> Vec<Function<HealthState>> {
        vec![
            Function::http("Health", "health/{*path}", ALL_METHODS),
            Function::timer(functions::SWEEP, "%HEALTH_SYNC_SWEEP_SCHEDULE%", functions::sweep),
        ]
    }

    fn data() -> Option<DataPart> {
        Some(DataPart {
            name: "health",
            schema: "health",
            export: |p, id| Box::pin(routes::rights::export(p, id)),
            erase: |conn, id| Box::pin(store::erase(conn, id)),
            cache_keys: api::cache_keys,
        })
    }
}
