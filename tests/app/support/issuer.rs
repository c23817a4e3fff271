//! A fake OpenID Connect issuer for the sign-in tests: RSA keys generated in the test, a JWKS
//! served by wiremock with a `Cache-Control: max-age`, and ID tokens signed with those keys (or
//! forged in the ways an attacker would).
#![allow(dead_code)]

use aws_lc_rs::{
    encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der},
    rsa::{KeyPair, KeySize},
    signature::KeyPair as _,
};
use base64::{
    Engine as _,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path},
};

pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";
pub const CLIENT_A: &str = "client-a";
pub const CLIENT_B: &str = "client-b";

/// An RSA signing key of the fake issuer, with its public half as a JWK.
pub struct RsaKey {
    pub kid: String,
    encoding: EncodingKey,
    /// The public modulus and exponent, big-endian without leading zeros.
    pub n: Vec<u8>,
    pub e: Vec<u8>,
    /// The public key as X.509 SubjectPublicKeyInfo DER, and as PEM.
    pub public_der: Vec<u8>,
    pub public_pem: String,
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> =
        body.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).expect("base64 is ASCII")).collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}

impl RsaKey {
    /// A fresh 2048-bit key named `kid`.
    pub fn generate(kid: &str) -> Self {
        let pair = KeyPair::generate(KeySize::Rsa2048).expect("generating an RSA key");
        let private: Pkcs8V1Der<'static> = pair.as_der().expect("PKCS#8 DER");
        let encoding = EncodingKey::from_rsa_pem(pem("PRIVATE KEY", private.as_ref()).as_bytes())
            .expect("the PKCS#8 PEM is accepted");
        let public = pair.public_key();
        let public_der: PublicKeyX509Der<'static> = public.as_der().expect("SPKI DER");
        let public_der = public_der.as_ref().to_vec();
        RsaKey {
            kid: kid.to_string(),
            encoding,
            n: public.modulus().big_endian_without_leading_zero().to_vec(),
            e: public.exponent().big_endian_without_leading_zero().to_vec(),
            public_pem: pem("PUBLIC KEY", &public_der),
            public_der,
        }
    }

    pub fn jwk(&self) -> Value {
        json!({
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(&self.n),
            "e": URL_SAFE_NO_PAD.encode(&self.e),
        })
    }

    /// An RS256 token over `claims` naming this key's kid.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_as(&self.kid, claims)
    }

    /// An RS256 token over `claims` signed with this key but naming `kid`.
    pub fn sign_as(&self, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_string());
        self.sign_with(&header, claims)
    }

    /// A token over `claims` with exactly `header`, signed with this key.
    pub fn sign_with(&self, header: &Header, claims: &Value) -> String {
        jsonwebtoken::encode(header, claims, &self.encoding).expect("signing a token")
    }
}

/// A token signed with HMAC-SHA256 under `secret`, naming `kid` (the algorithm-confusion attack).
pub fn sign_hs256(secret: &[u8], kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).expect("signing a token")
}

/// An unsigned token: the header says `alg: none` and the signature is empty.
pub fn unsigned(kid: &str, claims: &Value) -> String {
    let header = json!({ "alg": "none", "typ": "JWT", "kid": kid });
    format!("{}.{}.", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()))
}

pub fn jwks(keys: &[&RsaKey]) -> Value {
    json!({ "keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>() })
}

/// A JWKS answer as Google gives it: public and cacheable for `max_age` seconds.
pub fn jwks_answer(keys: &[&RsaKey], max_age: u64) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("cache-control", format!("public, max-age={max_age}, must-revalidate").as_str())
        .set_body_json(jwks(keys))
}

/// Serves `keys` at `/jwks` for every request.
pub async fn serve_jwks(server: &MockServer, keys: &[&RsaKey]) {
    Mock::given(method("GET")).and(path("/jwks")).respond_with(jwks_answer(keys, 3600)).mount(server).await;
}

/// How many times the app fetched `/jwks` from `server`.
pub async fn jwks_fetches(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .expect("request recording is on")
        .iter()
        .filter(|r| r.url.path() == "/jwks")
        .count()
}

pub fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

/// The claims of a Google ID token for `sub`, valid for an hour, for client A.
pub fn google_claims(sub: &str) -> Value {
    let now = now();
    json!({
        "iss": GOOGLE_ISSUER,
        "azp": CLIENT_A,
        "aud": CLIENT_A,
        "sub": sub,
        "email": format!("{sub}@gmail.com"),
        "email_verified": true,
        "iat": now,
        "exp": now + 3600,
    })
}

/// The settings that point the app's Google sign-in at `server`.
pub fn google_settings(server: &MockServer) -> Vec<(String, String)> {
    vec![
        ("GOOGLE_CLIENT_IDS".into(), format!("{CLIENT_A},{CLIENT_B}")),
        ("GOOGLE_JWKS_URL".into(), format!("{}/jwks", server.uri())),
        ("GOOGLE_TOKEN_URL".into(), format!("{}/token", server.uri())),
    ]
}
