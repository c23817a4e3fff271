//! The user domain: Google sign-in and our own tokens, onboarding and profile, consents, and
//! data rights. Other domains see only [`api`]: `AuthUser`/`ActiveUser` for their protected
//! routes, the consent checks, the profile fields they need and the events.

mod account_routes;
pub mod api;
mod auth;
mod auth_routes;
mod events;
mod extract;
mod functions;
mod model;
/// Public for its own tests (tests/app/auth); other domains cannot name it (tests/app/architecture.rs).
pub mod oidc;
pub(crate) mod rights;
mod settings;
mod store;
mod tokens;

use std::sync::Arc;

use extract::Verifier;
use model::ConsentKind;
use utoipa::OpenApi as _;

use crate::{
    config::Setting,
    domain::{DataPart, DomainModule, DomainState, Platform},
    functions::{ALL_METHODS, Function},
    http::Routes,
};

/// The user domain's state: the platform, the sign-in machinery and the token verifier (which
/// the composition root hands every other domain).
pub type UsersState = DomainState<Users>;

pub struct Users {
    pub auth: Arc<auth::Auth>,
    pub verifier: Verifier,
}

impl AsRef<Verifier> for Users {
    fn as_ref(&self) -> &Verifier {
        &self.verifier
    }
}

pub struct Domain;

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        auth_routes::login,
        auth_routes::refresh,
        auth_routes::logout,
        auth_routes::dev_login,
        account_routes::register,
        account_routes::profile,
        account_routes::update_profile,
        account_routes::consents,
        account_routes::put_consents,
        account_routes::export,
        account_routes::delete_me,
    ),
    tags(
        (name = "auth", description = "로그인, 토큰 갱신, 로그아웃"),
        (name = "users", description = "가입, 프로필, 동의, 내 정보 내려받기와 삭제"),
    )
)]
struct Api;

impl DomainModule for Domain {
    type State = UsersState;
    type Needs = ();
    const NAME: &'static str = "users";
    const SETTINGS: &'static [Setting] = settings::SETTINGS;

    fn state(platform: &Platform, (): ()) -> anyhow::Result<UsersState> {
        let config = settings::AuthConfig::from_source(platform.settings.as_ref(), platform.config.environment)?;
        let auth = Arc::new(auth::Auth::new(config, platform.clock.clone())?);
        Ok(DomainState::new(platform, Users { verifier: Verifier::new(platform, auth.clone()), auth }))
    }

    fn routes() -> Routes<UsersState> {
        auth_routes::routes().merge(account_routes::routes())
    }

    fn openapi() -> utoipa::openapi::OpenApi {
        Api::openapi()
    }

    fn functions() -> Vec<Function<UsersState>> {
        vec![
            Function::http("Auth", "auth/{*path}", &["post"]),
            Function::http("Users", "users/{*path}", ALL_METHODS),
            Function::service_bus(
                functions::FILES_ERASER,
                "user-files-eraser",
                &[<events::UserDeleted as crate::platform::bus::Event>::SUBJECT],
                functions::erase_files,
            ),
        ]
    }

    fn data() -> Option<DataPart> {
        Some(DataPart {
            name: "users",
            schema: "users",
            export: |p, id| Box::pin(store::export(&p.db, id)),
            erase: |conn, id| Box::pin(store::erase(conn, id)),
            cache_keys: |id| {
                let mut keys = vec![extract::status_cache_key(id)];
                keys.extend(ConsentKind::ALL.map(|k| api::consent_cache_key(id, k)));
                keys
            },
        })
    }
}
