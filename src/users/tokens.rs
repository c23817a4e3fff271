//! Our own tokens: a short-lived HS256 access JWT whose subject is our user id (key from
//! `AUTH_SIGNING_KEYS`, a Key Vault reference in Azure; `kid` so keys rotate), and an opaque
//! refresh token that is stored only as its SHA-256 hash.

use std::{collections::HashMap, time::Duration};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::platform::cache::ENTRY_OVERHEAD_BYTES;

pub const ISSUER: &str = "healthsync";
pub const AUDIENCE: &str = "healthsync-app";

/// The signing keys: the first signs, all verify (add a new key first, remove the old one once
/// its tokens have expired).
pub struct SigningKeys {
    active_kid: String,
    active: EncodingKey,
    verify: HashMap<String, DecodingKey>,
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeys").field("active_kid", &self.active_kid).finish_non_exhaustive()
    }
}

impl SigningKeys {
    /// Parses `kid:base64url-secret[,kid:secret...]`; each secret at least 32 bytes.
    pub fn parse(raw: &SecretString) -> Result<Self, &'static str> {
        let mut keys = Vec::new();
        for part in raw.expose_secret().split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (kid, secret) = part.split_once(':').ok_or("each key is kid:base64url-secret")?;
            let kid = kid.trim();
            if kid.is_empty() || kid.len() > 64 || !kid.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                return Err("a kid of letters, digits and dashes");
            }
            let secret = URL_SAFE_NO_PAD
                .decode(secret.trim().trim_end_matches('='))
                .map_err(|_| "each secret in base64url")?;
            if secret.len() < 32 {
                return Err("secrets of at least 32 bytes");
            }
            keys.push((kid.to_string(), secret));
        }
        let (active_kid, active_secret) = keys.first().cloned().ok_or("at least one kid:secret")?;
        Ok(SigningKeys {
            active_kid,
            active: EncodingKey::from_secret(&active_secret),
            verify: keys.iter().map(|(k, s)| (k.clone(), DecodingKey::from_secret(s))).collect(),
        })
    }
}

/// Secrets published in this repository (`local.settings.json`): fine on a laptop, a forgery kit
/// anywhere else.
const WELL_KNOWN_SECRETS: &[&str] = &["aGVhbHRoc3luYy1sb2NhbC1kZXZlbG9wbWVudC1rZXktbm90LWEtc2VjcmV0ISE"];

/// Whether any key of `AUTH_SIGNING_KEYS` is a well-known one.
pub fn uses_well_known_key(raw: &SecretString) -> bool {
    raw.expose_secret().split(',').filter_map(|part| part.split_once(':')).any(|(_, secret)| {
        WELL_KNOWN_SECRETS.contains(&secret.trim().trim_end_matches('='))
    })
}

#[derive(Debug, Serialize, Deserialize)]
struct AccessClaims {
    sub: String,
    iss: String,
    aud: String,
    iat: u64,
    exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nbf: Option<u64>,
    jti: String,
    /// The session (refresh-token family) the token was issued in: logging out revokes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sid: Option<Uuid>,
}

/// A valid access token: whose it is, and the session it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub user: Uuid,
    pub session: Option<Uuid>,
}

/// Signs an access token for `user_id` in `session` (its refresh-token family).
pub fn issue_access(
    keys: &SigningKeys,
    user_id: Uuid,
    session: Uuid,
    ttl: Duration,
    now: u64,
) -> anyhow::Result<String> {
    let claims = AccessClaims {
        sub: user_id.to_string(),
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        iat: now,
        exp: now + ttl.as_secs(),
        nbf: None,
        jti: Uuid::new_v4().simple().to_string(),
        sid: Some(session),
    };
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(keys.active_kid.clone());
    Ok(jsonwebtoken::encode(&header, &claims, &keys.active)?)
}

const LEEWAY_SECS: u64 = 30;

/// The user id of a valid access token, or `None`: bad signature, unknown key, any other
/// algorithm, a critical header extension (RFC 7515 §4.1.11: we understand none), wrong issuer or
/// audience, expired, not yet valid (`nbf`), issued in the future, or living longer than
/// `max_lifetime` (what we issue); a token we did not issue cannot name its own lifetime. The
/// app verifies through [`VerifiedTokens::verify`], which remembers valid tokens.
/// `now` is the app's clock in Unix seconds.
#[cfg(test)]
pub fn verify_access(keys: &SigningKeys, token: &str, max_lifetime: Duration, now: u64) -> Option<Verified> {
    verify_access_until(keys, token, max_lifetime, now).map(|(v, _)| v)
}

/// `verify_access`, with the last second at which the token is still accepted.
fn verify_access_until(
    keys: &SigningKeys,
    token: &str,
    max_lifetime: Duration,
    now: u64,
) -> Option<(Verified, u64)> {
    let header = jsonwebtoken::decode_header(token).ok()?;
    if header.alg != Algorithm::HS256 || header.crit.is_some() {
        return None;
    }
    let key = keys.verify.get(header.kid.as_deref()?)?;
    let mut v = Validation::new(Algorithm::HS256);
    v.set_issuer(&[ISSUER]);
    v.set_audience(&[AUDIENCE]);
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub", "iat"]);
    // Expiry and not-before are checked below against the app's clock, not the library's.
    v.validate_exp = false;
    v.validate_nbf = false;
    let claims = jsonwebtoken::decode::<AccessClaims>(token, key, &v).ok()?.claims;
    if claims.exp + LEEWAY_SECS < now
        || claims.nbf.is_some_and(|nbf| nbf > now + LEEWAY_SECS)
        || claims.iat > now + LEEWAY_SECS
        || claims.exp.saturating_sub(claims.iat) > max_lifetime.as_secs()
    {
        return None;
    }
    let user = Uuid::parse_str(&claims.sub).ok()?;
    Some((Verified { user, session: claims.sid }, claims.exp + LEEWAY_SECS))
}

/// Access tokens this process has already verified. An app sends the same access token with
/// every request for its whole lifetime, so its signature, header and claims are checked once
/// and each later request looks the whole token up instead (an exact match: a token differing in
/// any byte is a different key and is verified afresh). An entry lives until the token stops
/// being accepted (its expiry plus the leeway), so nothing is accepted longer than
/// `verify_access` would accept it; only valid tokens are kept, and the memory is bounded.
/// Whether the account still exists, or the session was logged out, is not this cache's
/// business: the caller checks both on every request (`extract`), hits included.
pub struct VerifiedTokens {
    cache: moka::sync::Cache<Box<str>, (Verified, u64)>,
}

/// What the cache may hold, in bytes of memory: token text and each entry's own cost (about
/// 6,500 of our ~330-byte tokens).
const VERIFIED_TOKENS_BYTES: u64 = 4 << 20;

struct UntilAccepted;

/// Evicts an entry when its token stops being accepted, by the machine's time: only memory is at
/// stake here; acceptance itself is decided by the app's clock in [`VerifiedTokens::verify`].
impl moka::Expiry<Box<str>, (Verified, u64)> for UntilAccepted {
    fn expire_after_create(&self, _: &Box<str>, &(_, until): &(Verified, u64), _: std::time::Instant) -> Option<Duration> {
        Some(Duration::from_secs(until.saturating_sub(jsonwebtoken::get_current_timestamp())))
    }
}

/// A token's weight is what its entry costs: its length and the entry's own
/// [`ENTRY_OVERHEAD_BYTES`] (moka hands the key as `&K`, hence the `&Box`).
#[allow(clippy::borrowed_box)]
fn token_weight(token: &Box<str>, _: &(Verified, u64)) -> u32 {
    u32::try_from(token.len() + ENTRY_OVERHEAD_BYTES).unwrap_or(u32::MAX)
}

impl Default for VerifiedTokens {
    fn default() -> Self {
        Self::holding(VERIFIED_TOKENS_BYTES)
    }
}

impl VerifiedTokens {
    /// A cache of at most `bytes` of memory.
    fn holding(bytes: u64) -> Self {
        let cache =
            moka::sync::Cache::builder().max_capacity(bytes).weigher(token_weight).expire_after(UntilAccepted).build();
        Self { cache }
    }

    /// `verify_access`, remembering the answer for valid tokens.
    pub fn verify(&self, keys: &SigningKeys, token: &str, max_lifetime: Duration, now: u64) -> Option<Verified> {
        if let Some((id, until)) = self.cache.get(token)
            && now <= until
        {
            return Some(id);
        }
        let (id, until) = verify_access_until(keys, token, max_lifetime, now)?;
        self.cache.insert(token.into(), (id, until));
        Some(id)
    }
}

/// A new refresh token and the hash under which it is stored.
pub fn new_refresh() -> (String, Vec<u8>) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_refresh(&token);
    (token, hash)
}

pub fn hash_refresh(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(raw: &str) -> SigningKeys {
        SigningKeys::parse(&SecretString::from(raw)).unwrap()
    }

    const TTL: Duration = Duration::from_secs(900);
    const K1: &str = "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY";
    const K2: &str = "k2:ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA";

    #[test]
    fn a_token_verifies_with_its_key_and_after_rotation_but_not_with_a_stranger() {
        let now = jsonwebtoken::get_current_timestamp();
        let user = Uuid::new_v4();
        let old = keys(K1);
        let session = Uuid::new_v4();
        let token = issue_access(&old, user, session, Duration::from_secs(60), now).unwrap();
        let v = Some(Verified { user, session: Some(session) });
        assert_eq!(verify_access(&old, &token, TTL, now), v);
        // Rotation: the new key signs, the old one still verifies.
        let rotated = keys(&format!("{K2},{K1}"));
        assert_eq!(verify_access(&rotated, &token, TTL, now), v);
        assert_eq!(verify_access(&keys(K2), &token, TTL, now), None);
        let mut tampered = token.clone();
        tampered.push('x');
        assert_eq!(verify_access(&old, &tampered, TTL, now), None);
    }

    #[test]
    fn expired_tokens_are_refused() {
        let k = keys(K1);
        let now = jsonwebtoken::get_current_timestamp();
        let claims = AccessClaims {
            sub: Uuid::new_v4().to_string(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat: now - 600,
            exp: now - 120,
            nbf: None,
            jti: "x".into(),
            sid: None,
        };
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some("k1".into());
        let token = jsonwebtoken::encode(&h, &claims, &k.active).unwrap();
        assert_eq!(verify_access(&k, &token, TTL, now), None);
    }

    fn signed(k: &SigningKeys, header: Header, iat: u64, exp: u64, nbf: Option<u64>) -> String {
        let claims = AccessClaims {
            sub: Uuid::new_v4().to_string(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat,
            exp,
            nbf,
            jti: "x".into(),
            sid: None,
        };
        jsonwebtoken::encode(&header, &claims, &k.active).unwrap()
    }

    #[test]
    fn well_signed_tokens_that_are_not_yet_valid_critical_or_too_long_lived_are_refused() {
        let k = keys(K1);
        let now = jsonwebtoken::get_current_timestamp();
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some("k1".into());
        assert!(verify_access(&k, &signed(&k, h.clone(), now, now + 900, None), TTL, now).is_some());
        assert!(verify_access(&k, &signed(&k, h.clone(), now, now + 900, Some(now + 3600)), TTL, now).is_none());
        assert!(verify_access(&k, &signed(&k, h.clone(), now + 3600, now + 4000, None), TTL, now).is_none());
        let year_2100 = 4_102_444_800;
        assert!(verify_access(&k, &signed(&k, h.clone(), now, year_2100, None), TTL, now).is_none());
        let mut crit = h.clone();
        crit.crit = Some(vec!["exp".into()]);
        assert!(verify_access(&k, &signed(&k, crit, now, now + 900, None), TTL, now).is_none());
    }

    #[test]
    fn the_verified_tokens_cache_is_bounded_in_bytes_of_memory_not_only_of_token_text() {
        // The load bench's soak found this cache growing for as long as new tokens arrived: its
        // bound counted token text only, about half of what an entry costs.
        let (k, now) = (keys(K1), jsonwebtoken::get_current_timestamp());
        let tokens: Vec<String> = (0..12_000)
            .map(|_| issue_access(&k, Uuid::new_v4(), Uuid::new_v4(), Duration::from_secs(900), now).unwrap())
            .collect();
        let held_by = |bound: u64| {
            let (cache, bytes) = crate::platform::test_alloc::held_by(|| {
                let cache = VerifiedTokens::holding(bound);
                for t in &tokens {
                    assert!(cache.verify(&k, t, TTL, now).is_some());
                }
                cache.cache.run_pending_tasks();
                cache
            });
            (cache.cache.entry_count(), bytes)
        };
        // What one entry costs is what the weight says (the overhead measured on this moka).
        let (all, bytes) = held_by(1 << 40);
        assert_eq!(all, 12_000);
        let per_entry = bytes / 12_000;
        let weight = (tokens[0].len() + ENTRY_OVERHEAD_BYTES) as isize;
        assert!(per_entry <= weight * 11 / 10, "an entry holds {per_entry} bytes, weighed {weight}");
        // So a bound holds in memory (give or take the cache's channels and sketch, ~300 KiB).
        let bound = 2 << 20;
        let (kept, bytes) = held_by(bound);
        assert!(kept > 1_000, "the cache keeps tokens ({kept})");
        assert!(bytes <= bound as isize * 5 / 4, "{kept} tokens hold {bytes} bytes against a bound of {bound}");
    }

    #[test]
    fn the_verified_tokens_cache_keeps_valid_tokens_until_they_expire_and_nothing_else() {
        let now = jsonwebtoken::get_current_timestamp();
        let k = keys(K1);
        let cache = VerifiedTokens::default();
        let id = Uuid::new_v4();
        let user = Verified { user: id, session: Some(Uuid::new_v4()) };
        let token = issue_access(&k, id, user.session.unwrap(), Duration::from_secs(60), now).unwrap();
        assert_eq!(cache.verify(&k, &token, TTL, now), Some(user));
        assert_eq!(cache.verify(&k, &token, TTL, now), Some(user));
        cache.cache.run_pending_tasks();
        assert_eq!(cache.cache.entry_count(), 1, "the valid token is remembered");
        // A hit is an exact match of the whole token: one more byte is a stranger, verified (and refused).
        let mut tampered = token.clone();
        tampered.push('x');
        assert_eq!(cache.verify(&k, &tampered, TTL, now), None);
        // Refusals are not remembered.
        let expired = {
            let mut h = Header::new(Algorithm::HS256);
            h.kid = Some("k1".into());
            signed(&k, h, now - 600, now - 120, None)
        };
        assert_eq!(cache.verify(&k, &expired, TTL, now), None);
        cache.cache.run_pending_tasks();
        assert_eq!(cache.cache.entry_count(), 1);
        // An entry past its last accepted second is not used: the token is verified again.
        cache.cache.insert(expired.clone().into(), (user, now - 1));
        assert_eq!(cache.verify(&k, &expired, TTL, now), None);
        // While it is within its time, the entry is what answers (no second verification).
        cache.cache.insert("not-a-jwt".into(), (user, now + 60));
        assert_eq!(cache.verify(&k, "not-a-jwt", TTL, now), Some(user));
        // An entry expires when its token stops being accepted (a second may pass meanwhile).
        let lives = moka::Expiry::expire_after_create(&UntilAccepted, &"t".into(), &(user, now + 90), std::time::Instant::now());
        assert!(matches!(lives.map(|d| d.as_secs()), Some(89 | 90)), "{lives:?}");
    }

    #[test]
    fn weak_or_malformed_keys_are_refused() {
        for bad in
            ["", "nokid", "k1:c2hvcnQ", "bad kid:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY", "k1:!!!"]
        {
            assert!(SigningKeys::parse(&SecretString::from(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn refresh_tokens_are_random_and_stored_hashed() {
        let (a, ha) = new_refresh();
        let (b, _) = new_refresh();
        assert_ne!(a, b);
        assert_eq!(hash_refresh(&a), ha);
        assert_eq!(ha.len(), 32);
    }
}

#[cfg(test)]
mod clock_tests {
    use super::*;

    #[test]
    fn tokens_live_by_the_apps_clock_not_the_machines() {
        let k = SigningKeys::parse(&SecretString::from("k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY")).unwrap();
        let ttl = Duration::from_secs(900);
        // A clock a year ahead of the machine: its tokens verify by it, and expire by it.
        let later = jsonwebtoken::get_current_timestamp() + 365 * 86_400;
        let token = issue_access(&k, Uuid::new_v4(), Uuid::new_v4(), ttl, later).unwrap();
        assert!(verify_access(&k, &token, ttl, later + 60).is_some());
        assert!(verify_access(&k, &token, ttl, later + 900 + LEEWAY_SECS + 1).is_none(), "expired by the app's clock");
        assert!(verify_access(&k, &token, ttl, later - 3600).is_none(), "issued in the app's future");
    }
}
