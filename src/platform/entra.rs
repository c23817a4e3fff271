//! Microsoft Entra tokens of the app's managed identity, for the services that take a token as a
//! password (PostgreSQL, Redis). A token is asked for when needed and renewed before it expires;
//! it is never logged.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use azure_core::credentials::TokenCredential;
use secrecy::SecretString;

/// Azure Database for PostgreSQL ("Connect with Microsoft Entra ID": the `oss-rdbms` resource).
pub const POSTGRES_SCOPE: &str = "https://ossrdbms-aad.database.windows.net/.default";
/// Azure Managed Redis ("Use Microsoft Entra ID for cache authentication").
pub const REDIS_SCOPE: &str = "https://redis.azure.com/.default";
/// Renew this long before a token expires. The identity library serves a cached token until it
/// is within 5 minutes of expiry, so asking at 4 minutes gets a fresh one.
pub const RENEW_BEFORE: Duration = Duration::from_secs(4 * 60);
/// Never renew sooner than this after a fetch (a token that claims to expire at once).
const MIN_LIFETIME: Duration = Duration::from_secs(1);

/// A token and when to ask for the next one.
pub struct Token {
    pub secret: SecretString,
    /// How long from now the token should be replaced.
    pub renew_in: Duration,
}

/// The app's managed identity (the user-assigned one when `client_id` is given).
pub fn managed_identity(client_id: Option<&str>) -> anyhow::Result<Arc<dyn TokenCredential>> {
    let credential = azure_identity::ManagedIdentityCredential::new(Some(
        azure_identity::ManagedIdentityCredentialOptions {
            user_assigned_id: client_id.map(|id| azure_identity::UserAssignedId::ClientId(id.to_string())),
            ..Default::default()
        },
    ))
    .map_err(|e| anyhow::anyhow!("{e}").context("creating the managed identity credential"))?;
    Ok(credential)
}

/// A token for `scope`, and when to renew it.
pub async fn token(credential: &dyn TokenCredential, scope: &str) -> anyhow::Result<Token> {
    let token = credential
        .get_token(&[scope], None)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("getting an Entra token for {scope}"))?;
    let left = token.expires_on - azure_core::time::OffsetDateTime::now_utc();
    let left = Duration::try_from(left).unwrap_or(Duration::ZERO);
    let renew_in = left.saturating_sub(RENEW_BEFORE).max(MIN_LIFETIME.min(left));
    Ok(Token { secret: SecretString::from(token.token.secret().to_string()), renew_in })
}

#[cfg(test)]
mod tests {
    use azure_core::{
        credentials::{AccessToken, Secret, TokenRequestOptions},
        time::OffsetDateTime,
    };

    use super::*;

    #[derive(Debug)]
    struct Fixed(i64);

    #[async_trait::async_trait]
    impl TokenCredential for Fixed {
        async fn get_token(
            &self,
            scopes: &[&str],
            _: Option<TokenRequestOptions<'_>>,
        ) -> azure_core::Result<AccessToken> {
            assert_eq!(scopes, [REDIS_SCOPE]);
            Ok(AccessToken::new(
                Secret::new("t"),
                OffsetDateTime::now_utc() + azure_core::time::Duration::seconds(self.0),
            ))
        }
    }

    #[tokio::test]
    async fn a_token_is_renewed_four_minutes_before_it_expires_and_never_in_a_loop() {
        let hour = token(&Fixed(3600), REDIS_SCOPE).await.unwrap();
        assert!((3355..=3360).contains(&hour.renew_in.as_secs()), "{:?}", hour.renew_in);
        let short = token(&Fixed(60), REDIS_SCOPE).await.unwrap();
        assert_eq!(short.renew_in, MIN_LIFETIME);
        let expired = token(&Fixed(-5), REDIS_SCOPE).await.unwrap();
        assert_eq!(expired.renew_in, Duration::ZERO);
    }
}
