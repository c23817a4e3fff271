//! The user domain: Google sign-in and our own tokens, onboarding and profile, consents, and
//! data rights. `AuthUser` is what every other domain's protected routes take; `has_consent` is
//! how they check a consent.

pub mod account_routes;
pub mod auth;
pub mod auth_routes;
pub mod events;
pub mod extract;
pub mod functions;
pub mod model;
pub mod oidc;
pub mod rights;
pub mod settings;
pub mod store;
pub mod tokens;

use std::sync::Arc;

pub use extract::{ActiveUser, AuthUser, Verifier};
pub use model::ConsentKind;
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

/// For other domains: whether `user` has granted `kind` in its current version (read now, from
/// the database: what a write checks).
pub async fn has_consent(db: &sqlx::PgPool, user: uuid::Uuid, kind: ConsentKind) -> anyhow::Result<bool> {
    store::has_consent(db, user, kind).await
}

/// For other domains' retention sweeps: users whose answer in force for `kind` is a withdrawal
/// older than `cutoff`, a page at a time: `(record id, user)` after record id `after` (start at 0).
pub async fn withdrawn_before(
    db: &sqlx::PgPool,
    kind: ConsentKind,
    cutoff: chrono::DateTime<chrono::Utc>,
    after: i64,
    limit: i64,
) -> anyhow::Result<Vec<(i64, uuid::Uuid)>> {
    store::withdrawn_before(db, kind, cutoff, after, limit).await
}

/// Whether `kind` is in force for `user`, for reads on every request: kept in the cache for
/// [`CONSENT_TTL`] and dropped the moment the user answers (`PUT /api/users/me/consents`), so a
/// withdrawal takes effect on the next request on every instance.
pub async fn consent_in_force(platform: &Platform, user: uuid::Uuid, kind: ConsentKind) -> anyhow::Result<bool> {
    let key = consent_cache_key(user, kind);
    if let Some(granted) = crate::platform::cache::get_json::<bool>(platform.cache.as_ref(), &key).await {
        return Ok(granted);
    }
    let granted = store::has_consent(&platform.db, user, kind).await?;
    crate::platform::cache::set_json(platform.cache.as_ref(), &key, &granted, CONSENT_TTL).await;
    Ok(granted)
}

/// How long a consent read is kept (an answer drops it at once).
pub const CONSENT_TTL: std::time::Duration = std::time::Duration::from_secs(300);

pub fn consent_cache_key(user: uuid::Uuid, kind: ConsentKind) -> String {
    format!("consent:{}:{user}", kind.as_str())
}

/// Where a user's blobs live: every domain puts a user's files under this prefix, so erasure
/// finds them all.
pub fn blob_prefix(user: uuid::Uuid) -> String {
    rights::blob_prefix(user)
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
        let auth = Arc::new(auth::Auth::new(config)?);
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
                keys.extend(ConsentKind::ALL.map(|k| consent_cache_key(id, k)));
                keys
            },
        })
    }
}
