//! Withdrawing the health-data consent stops the processing of health data (개인정보보호법 §37):
//! no read of checkups, files or anything derived from them, on any route and in any later
//! domain, and no cached copy served; export, deletion and re-consent stay open
//! (docs/privacy.md).

use axum::http::{Method, StatusCode};
use healthsync::health::api as health;
use serde_json::json;
use sqlx::PgPool;

use super::{LOCAL, entry, user};
use crate::support::{TestApp, spawn_with};

#[sqlx::test]
async fn after_withdrawal_every_health_read_is_refused_and_export_deletion_and_reconsent_stay_open(
    pool: PgPool,
) {
    let app = spawn_with(pool, LOCAL);
    let u = user(&app, "withdraw@example.com").await;
    let id: uuid::Uuid = u.id.parse().unwrap();
    let m = app.call(&u, Method::POST, "/api/health/checkups", Some(entry("2026-10-01"))).await;
    assert_eq!(m.status, StatusCode::CREATED, "{}", m.text);
    let checkup = m.body["data"]["id"].as_str().unwrap().to_string();
    let reads = [
        "/api/health/checkup/history".to_string(),
        "/api/health/trends".to_string(),
        "/api/health/peers".to_string(),
        format!("/api/health/checkups/{checkup}"),
        "/api/health/checkup/files".to_string(),
        "/api/intelligence/health/diagnosis".to_string(),
    ];
    for uri in &reads {
        let a = app.call(&u, Method::GET, uri, None).await;
        assert_eq!(a.status, StatusCode::OK, "{uri}: {}", a.text);
    }
    let before = app.call(&u, Method::POST, "/api/intelligence/missions/recommend", None).await;
    let generic =
        |b: &serde_json::Value| b["data"]["recommendationReason"].as_str().unwrap().starts_with("부담 없이");
    assert!(!generic(&before.body), "picks read the checkup while consent holds: {}", before.text);
    // Everything cached: the rendered history, the latest checkup, the explanation.
    assert!(health::latest_checkup(&app.platform, id).await.unwrap().is_some());
    let cached = |key: String| {
        let c = app.platform.cache.clone();
        async move { c.get(&key).await.unwrap().is_some() }
    };
    assert!(cached(health::history_view_key(id)).await && cached(health::latest_key(id)).await);

    let w = json!({"consents": [{"type": "HEALTH_DATA", "granted": false, "version": "2026-11"}]});
    assert_eq!(app.call(&u, Method::PUT, "/api/users/me/consents", Some(w)).await.status, StatusCode::OK);

    for uri in &reads {
        let a = app.call(&u, Method::GET, uri, None).await;
        assert_eq!(
            (a.status, a.body["code"].clone()),
            (StatusCode::FORBIDDEN, json!("CONSENT_REQUIRED")),
            "{uri}: {}",
            a.text
        );
        // The trace id is random hex: it may spell 142 by chance.
        let mut body = a.body.clone();
        body["traceId"] = json!(null);
        assert!(!body.to_string().contains("142"), "{uri} showed a value");
    }
    // No cached copy survives, and the later domains' accessor reads nothing.
    for key in [health::history_view_key(id), health::latest_key(id), health::history_key(id)] {
        assert!(!cached(key.clone()).await, "{key} survived the withdrawal");
    }
    assert!(!cached(healthsync::intelligence::diagnosis::cache_key(id)).await);
    assert!(health::latest_checkup(&app.platform, id).await.unwrap().is_none());
    assert!(health::history(&app.platform, id).await.unwrap().is_none());
    // Picks and the reset no longer read the checkup (no attention items from it).
    let r = app.call(&u, Method::POST, "/api/intelligence/missions/recommend", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(generic(&r.body), "picks still read the checkup: {}", r.text);
    // Writes are refused too.
    let again = app.call(&u, Method::POST, "/api/health/checkups", Some(entry("2026-11-01"))).await;
    assert_eq!(again.status, StatusCode::FORBIDDEN);

    // What stays open: export (with the health data), deleting a checkup, and re-consent.
    let e = app.call(&u, Method::GET, "/api/users/me/export", None).await;
    assert_eq!(e.status, StatusCode::OK);
    assert!(e.body["data"]["data"]["health"].to_string().contains("2026-10-01"), "{}", e.text);
    let back = json!({"consents": [{"type": "HEALTH_DATA", "granted": true, "version": "2026-11"}]});
    assert_eq!(app.call(&u, Method::PUT, "/api/users/me/consents", Some(back)).await.status, StatusCode::OK);
    let h = app.call(&u, Method::GET, "/api/health/checkup/history", None).await;
    assert_eq!(h.status, StatusCode::OK, "re-consent resumes: {}", h.text);
    let w = json!({"consents": [{"type": "HEALTH_DATA", "granted": false, "version": "2026-11"}]});
    app.call(&u, Method::PUT, "/api/users/me/consents", Some(w)).await;
    let d = app.call(&u, Method::DELETE, &format!("/api/health/checkups/{checkup}"), None).await;
    assert_eq!(d.status, StatusCode::OK, "erasure stays open: {}", d.text);
}

/// A well-formed one-page PDF (header, objects, trailer).
const SHEET: &[u8] = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Count 0/Kids[]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n";

async fn with_sheet(app: &TestApp, email: &str) -> (super::User, uuid::Uuid) {
    let u = user(app, email).await;
    let m = app.call(&u, Method::POST, "/api/health/checkups", Some(entry("2026-10-01"))).await;
    assert_eq!(m.status, StatusCode::CREATED, "{}", m.text);
    let req = axum::http::Request::builder()
        .method(Method::POST)
        .uri("/api/health/checkup/files?fileName=sheet.pdf")
        .header("authorization", format!("Bearer {}", u.token()))
        .header("content-type", "application/octet-stream")
        .body(axum::body::Body::from(SHEET))
        .unwrap();
    let f = app.send(req).await;
    assert_eq!(f.status, StatusCode::CREATED, "{}", f.text);
    let id = u.id.parse().unwrap();
    (u, id)
}

async fn withdraw(app: &TestApp, pool: &PgPool, token: &str, user: uuid::Uuid, days_ago: i32) {
    let w = json!({"consents": [{"type": "HEALTH_DATA", "granted": false, "version": "2026-11"}]});
    assert_eq!(app.call(&token, Method::PUT, "/api/users/me/consents", Some(w)).await.status, StatusCode::OK);
    sqlx::query(
        "UPDATE users.consents SET recorded_at = now() - make_interval(days => $2) WHERE user_id = $1",
    )
    .bind(user)
    .bind(days_ago)
    .execute(pool)
    .await
    .unwrap();
}

async fn held(app: &TestApp, pool: &PgPool, user: uuid::Uuid) -> (i64, usize) {
    let rows: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM health.checkups WHERE user_id = $1) + (SELECT count(*) FROM health.checkup_files WHERE user_id = $1)",
    )
    .bind(user)
    .fetch_one(pool)
    .await
    .unwrap();
    (rows, app.platform.blob.list(&format!("users/{user}/health/")).await.unwrap().len())
}

#[sqlx::test]
async fn health_data_withdrawn_longer_than_the_retention_period_is_destroyed_and_nothing_else(pool: PgPool) {
    let app = spawn_with(pool.clone(), LOCAL);
    let (old, old_id) = with_sheet(&app, "old@example.com").await;
    let (recent, recent_id) = with_sheet(&app, "recent@example.com").await;
    let (back, back_id) = with_sheet(&app, "back@example.com").await;
    let (_, kept_id) = with_sheet(&app, "kept@example.com").await;
    withdraw(&app, &pool, &old.token(), old_id, 8).await;
    withdraw(&app, &pool, &recent.token(), recent_id, 6).await;
    withdraw(&app, &pool, &back.token(), back_id, 40).await;
    let again = json!({"consents": [{"type": "HEALTH_DATA", "granted": true, "version": "2026-11"}]});
    assert_eq!(
        app.call(&back, Method::PUT, "/api/users/me/consents", Some(again)).await.status,
        StatusCode::OK
    );
    for id in [old_id, recent_id, back_id, kept_id] {
        assert_eq!(held(&app, &pool, id).await, (2, 1));
    }

    let timer = json!({"Data": {"timer": {"ScheduleStatus": null, "IsPastDue": false}}, "Metadata": {}});
    let r = app.call(None, Method::POST, "/HealthSyncSweep", Some(timer.clone())).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["ReturnValue"]["erasedWithdrawn"], 1, "{}", r.text);
    assert_eq!(held(&app, &pool, old_id).await, (0, 0), "rows and the result sheet are gone");
    for id in [recent_id, back_id, kept_id] {
        assert_eq!(held(&app, &pool, id).await, (2, 1), "within the period, taken back, or never withdrawn");
    }
    // The account stays, with its other data; the export now holds no health data.
    let e = app.call(&old, Method::GET, "/api/users/me/export", None).await;
    assert_eq!(e.status, StatusCode::OK, "{}", e.text);
    assert_eq!(e.body["data"]["data"]["health"]["checkups"], json!([]));
    assert_eq!(e.body["data"]["files"], json!([]));
    // A second run finds nothing more to do.
    let r = app.call(None, Method::POST, "/HealthSyncSweep", Some(timer)).await;
    assert_eq!(r.body["ReturnValue"]["erasedWithdrawn"], 0);
}
