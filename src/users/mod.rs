//! The user domain: Google sign-in and our own tokens, onboarding and profile, consents, and
//! data rights. `AuthUser` is what every other domain's protected routes take.

pub mod account_routes;
pub mod auth;
pub mod auth_routes;
pub mod extract;
pub mod functions;
pub mod model;
pub mod oidc;
pub mod rights;
pub mod store;
pub mod tokens;

pub use extract::{ActiveUser, AuthUser};
pub use functions::functions;
pub use model::ConsentKind;

use crate::{app::AppState, http::Routes};

pub fn routes() -> Routes<AppState> {
    auth_routes::routes().merge(account_routes::routes())
}

/// For other domains: whether `user` has granted `kind` in its current version.
pub async fn has_consent(state: &AppState, user: uuid::Uuid, kind: ConsentKind) -> anyhow::Result<bool> {
    store::has_consent(&state.db, user, kind).await
}
