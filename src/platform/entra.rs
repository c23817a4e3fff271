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

/// An operator's command (`replay-dlq`): the managed identity where there is one (in Azure), else
/// the identity the Azure CLI is signed in with (`az login`), so an operator can run it from their
/// own machine with their own rights.
pub fn operator_credential(client_id: Option<&str>) -> anyhow::Result<Arc<dyn TokenCredential>> {
    let cli = azure_identity::AzureCliCredential::new(None)
        .map_err(|e| anyhow::anyhow!("{e}").context("creating the Azure CLI credential"))?;
    Ok(Arc::new(Chain::new(vec![
        ("managed identity", managed_identity(client_id)?),
        ("Azure CLI (az login)", cli),
    ])))
}

/// Credentials tried in order: the first that hands out a token is used from then on.
/// (azure_identity 1.0 has no chain of its own beyond its developer-tools one.)
pub struct Chain {
    sources: Vec<(&'static str, Arc<dyn TokenCredential>)>,
    chosen: std::sync::OnceLock<usize>,
}

/// How long one source may take before the next is tried: off Azure the managed identity's
/// endpoint may not answer at all.
const SOURCE_TIMEOUT: Duration = Duration::from_secs(5);

impl Chain {
    pub fn new(sources: Vec<(&'static str, Arc<dyn TokenCredential>)>) -> Self {
        Chain { sources, chosen: std::sync::OnceLock::new() }
    }
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.sources.iter().map(|(n, _)| n)).finish()
    }
}

#[async_trait::async_trait]
impl TokenCredential for Chain {
    async fn get_token(
        &self,
        scopes: &[&str],
        options: Option<azure_core::credentials::TokenRequestOptions<'_>>,
    ) -> azure_core::Result<azure_core::credentials::AccessToken> {
        if let Some(&i) = self.chosen.get() {
            return self.sources[i].1.get_token(scopes, options).await;
        }
        let mut why = Vec::new();
        for (i, (name, source)) in self.sources.iter().enumerate() {
            match tokio::time::timeout(SOURCE_TIMEOUT, source.get_token(scopes, options.clone())).await {
                Ok(Ok(token)) => {
                    let _ = self.chosen.set(i);
                    tracing::debug!(credential = name, "signed in");
                    return Ok(token);
                }
                Ok(Err(err)) => why.push(format!("{name}: {err}")),
                Err(_) => why.push(format!("{name}: no answer within {} s", SOURCE_TIMEOUT.as_secs())),
            }
        }
        Err(azure_core::Error::with_message(
            azure_core::error::ErrorKind::Credential,
            format!("no credential could sign in ({})", why.join("; ")),
        ))
    }
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

/// Now by the machine's time, in Unix seconds: for credentials an Azure service signs or judges by
/// its own time (a Notification Hubs SAS signature's expiry). The app's own decisions read the
/// app's clock (`platform::time::Clock`) instead; in Azure the two agree.
pub fn azure_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
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

    #[derive(Debug)]
    struct Source(&'static str, bool, std::sync::atomic::AtomicUsize);

    #[async_trait::async_trait]
    impl TokenCredential for Source {
        async fn get_token(
            &self,
            _: &[&str],
            _: Option<TokenRequestOptions<'_>>,
        ) -> azure_core::Result<AccessToken> {
            self.2.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if !self.1 {
                return Err(azure_core::Error::with_message(
                    azure_core::error::ErrorKind::Credential,
                    "unavailable",
                ));
            }
            Ok(AccessToken::new(
                Secret::new(self.0),
                OffsetDateTime::now_utc() + azure_core::time::Duration::hours(1),
            ))
        }
    }

    #[tokio::test]
    async fn the_chain_falls_back_to_the_next_credential_and_keeps_the_one_that_worked() {
        let mi = Arc::new(Source("mi", false, Default::default()));
        let cli = Arc::new(Source("cli", true, Default::default()));
        let chain = Chain::new(vec![("managed identity", mi.clone()), ("Azure CLI", cli.clone())]);
        for _ in 0..3 {
            assert_eq!(chain.get_token(&["s"], None).await.unwrap().token.secret(), "cli");
        }
        assert_eq!(mi.2.load(std::sync::atomic::Ordering::SeqCst), 1, "tried once, then skipped");
        assert_eq!(cli.2.load(std::sync::atomic::Ordering::SeqCst), 3);
        let none = Chain::new(vec![("managed identity", mi.clone())]);
        let err = none.get_token(&["s"], None).await.unwrap_err().to_string();
        assert!(err.contains("managed identity: unavailable"), "{err}");
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
