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

#[derive(Debug, Serialize, Deserialize)]
struct AccessClaims {
    sub: String,
    iss: String,
    aud: String,
    iat: u64,
    exp: u64,
    jti: String,
}

/// Signs an access token for `user_id`.
pub fn issue_access(keys: &SigningKeys, user_id: Uuid, ttl: Duration) -> anyhow::Result<String> {
    let now = jsonwebtoken::get_current_timestamp();
    let claims = AccessClaims {
        sub: user_id.to_string(),
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        iat: now,
        exp: now + ttl.as_secs(),
        jti: Uuid::new_v4().simple().to_string(),
    };
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(keys.active_kid.clone());
    Ok(jsonwebtoken::encode(&header, &claims, &keys.active)?)
}

/// The user id of a valid access token, or `None` (bad signature, unknown key, expired, wrong
/// issuer or audience, any other algorithm).
pub fn verify_access(keys: &SigningKeys, token: &str) -> Option<Uuid> {
    let header = jsonwebtoken::decode_header(token).ok()?;
    if header.alg != Algorithm::HS256 {
        return None;
    }
    let key = keys.verify.get(header.kid.as_deref()?)?;
    let mut v = Validation::new(Algorithm::HS256);
    v.set_issuer(&[ISSUER]);
    v.set_audience(&[AUDIENCE]);
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    v.leeway = 30;
    let data = jsonwebtoken::decode::<AccessClaims>(token, key, &v).ok()?;
    Uuid::parse_str(&data.claims.sub).ok()
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

    const K1: &str = "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY";
    const K2: &str = "k2:ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA";

    #[test]
    fn a_token_verifies_with_its_key_and_after_rotation_but_not_with_a_stranger() {
        let user = Uuid::new_v4();
        let old = keys(K1);
        let token = issue_access(&old, user, Duration::from_secs(60)).unwrap();
        assert_eq!(verify_access(&old, &token), Some(user));
        // Rotation: the new key signs, the old one still verifies.
        let rotated = keys(&format!("{K2},{K1}"));
        assert_eq!(verify_access(&rotated, &token), Some(user));
        assert_eq!(verify_access(&keys(K2), &token), None);
        let mut tampered = token.clone();
        tampered.push('x');
        assert_eq!(verify_access(&old, &tampered), None);
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
            jti: "x".into(),
        };
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some("k1".into());
        let token = jsonwebtoken::encode(&h, &claims, &k.active).unwrap();
        assert_eq!(verify_access(&k, &token), None);
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
