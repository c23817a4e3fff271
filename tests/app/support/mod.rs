//! Shared support of the in-process tests: the app around a fresh database (`#[sqlx::test]`
//! gives each test its own) with its request helpers, fakes of the services that cannot run here,
//! and an account SAS for Azurite.
#![allow(dead_code)]

pub mod app;
pub mod broker;
pub mod claude;
pub mod hubs;
pub mod issuer;

use std::collections::HashMap;

pub use app::{Answer, TestApp, User, app, app_with, call, registration, request, send, spawn, spawn_with};

pub fn settings(extra: &[(&str, &str)]) -> HashMap<String, String> {
    let mut s: HashMap<String, String> = HashMap::new();
    s.insert("DATABASE_URL".into(), "postgres://unused@127.0.0.1/unused".into());
    let dir = tempfile::tempdir().expect("temp dir").keep();
    s.insert("BLOB_DIR".into(), dir.to_string_lossy().into_owned());
    for (k, v) in extra {
        s.insert(k.to_string(), v.to_string());
    }
    s
}

/// An account SAS for Azurite's well-known development account (signed here with its
/// published key, as any client would).
pub fn azurite_sas() -> String {
    use base64::{Engine as _, engine::general_purpose::STANDARD};
    use hmac::{Hmac, Mac};
    const ACCOUNT: &str = "devstoreaccount1";
    const KEY: &str =
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
    const VERSION: &str = "2025-11-05";
    let fmt = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let now = chrono::Utc::now();
    let (sp, ss, srt, spr) = ("rwdlac", "b", "sco", "https,http");
    let (st, se) = (fmt(now - chrono::Duration::minutes(5)), fmt(now + chrono::Duration::hours(2)));
    // Account SAS string-to-sign (sv >= 2020-12-06): ten fields and a trailing newline.
    let to_sign = format!("{ACCOUNT}\n{sp}\n{ss}\n{srt}\n{st}\n{se}\n\n{spr}\n{VERSION}\n\n");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&STANDARD.decode(KEY).unwrap()).unwrap();
    mac.update(to_sign.as_bytes());
    let sig = STANDARD.encode(mac.finalize().into_bytes());
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("sv", VERSION)
        .append_pair("ss", ss)
        .append_pair("srt", srt)
        .append_pair("sp", sp)
        .append_pair("st", &st)
        .append_pair("se", &se)
        .append_pair("spr", spr)
        .append_pair("sig", &sig)
        .finish()
}

/// A container URL on Azurite with a fresh container name and an account SAS.
pub fn azurite_container_url(container: &str) -> String {
    let base = std::env::var("AZURITE_BLOB_URL")
        .unwrap_or_else(|_| "http://127.0.0.1:10000/devstoreaccount1".into());
    format!("{base}/{container}?{}", azurite_sas())
}
