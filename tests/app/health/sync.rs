//! NHIS sync through the sample provider (the local default): the two steps, jobs owned by their
//! user, idempotent completion, expiry and its sweep, the event, and the consent gate.

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use super::{LOCAL, count, user, user_with};
use crate::support::spawn_with;

fn start() -> serde_json::Value {
    json!({ "loginType": "KAKAO", "phoneNumber": "010-1234-5678" })
}

#[sqlx::test]
async fn a_sync_waits_for_approval_then_stores_every_checkup_once(pool: PgPool) {
    let app = spawn_with(pool.clone(), LOCAL);
    let u = user(&app, "s@example.com").await;
    let s = app.call(&u, Method::POST, "/api/health/checkup/sync", Some(start())).await;
    assert_eq!(s.status, StatusCode::ACCEPTED, "{}", s.text);
    assert_eq!(s.body["data"]["syncStatus"], "PENDING_APPROVAL");
    assert_eq!(s.body["data"]["readyForAnalysis"], false);
    let job = s.body["data"]["jobId"].as_str().unwrap().to_string();
    let uri = format!("/api/health/checkup/sync/{job}/complete");

    let other = user_with(&app, "o@example.com", "FEMALE", "1990-02-02", true).await;
    let theirs = app.call(&other, Method::POST, &uri, None).await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND, "another user's job");

    let c = app.call(&u, Method::POST, &uri, None).await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.text);
    let d = &c.body["data"];
    assert_eq!(d["syncStatus"], "SUCCESS");
    assert_eq!(d["readyForAnalysis"], true);
    assert!(d["syncedAt"].as_str().is_some());
    let new = d["newCheckups"].as_i64().unwrap();
    assert!(new >= 3, "{new}");
    assert_eq!(count(&pool, "SELECT count(*) FROM health.checkups WHERE source = 'nhis'").await, new);
    assert_eq!(count(&pool, "SELECT count(*) FROM health.sync_jobs WHERE handle IS NOT NULL").await, 0);
    let event: serde_json::Value =
        sqlx::query_scalar("SELECT payload FROM events.outbox WHERE event_type = 'checkup.synced'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(event["newCheckups"], new);
    assert_eq!(event["userId"], u.id.as_str());
    assert!(event["worstGrade"].as_str().is_some());

    let again = app.call(&u, Method::POST, &uri, None).await;
    assert_eq!(
        (again.status, again.body["data"]["newCheckups"].as_i64()),
        (StatusCode::OK, Some(new)),
        "idempotent"
    );

    let s2 = app.call(&u, Method::POST, "/api/health/checkup/sync", Some(start())).await;
    let job2 = s2.body["data"]["jobId"].as_str().unwrap();
    let c2 = app.call(&u, Method::POST, &format!("/api/health/checkup/sync/{job2}/complete"), None).await;
    assert_eq!(
        (c2.body["data"]["syncStatus"].as_str(), c2.body["data"]["newCheckups"].as_i64()),
        (Some("SUCCESS"), Some(0))
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM events.outbox WHERE event_type = 'checkup.synced'").await,
        1
    );

    let h = app.call(&u, Method::GET, "/api/health/checkup/history?maxRecords=50", None).await;
    let recs = h.body["data"]["checkupRecords"].as_array().unwrap();
    assert_eq!(recs.len() as i64, new);
    assert!(recs.iter().all(|r| r["source"] == "nhis" && r["centreJudgement"].as_str().is_some()));
    let theirs = app.call(&other, Method::GET, "/api/health/checkup/history", None).await;
    assert_eq!(theirs.body["data"]["totalRecords"], 0);
}

#[sqlx::test]
async fn pending_expired_and_swept_jobs(pool: PgPool) {
    let slow: Vec<(&str, &str)> = vec![("DEV_LOGIN_ENABLED", "true"), ("SAMPLE_APPROVAL_DELAY_SECS", "600")];
    let app = spawn_with(pool.clone(), &slow);
    let u = user(&app, "p@example.com").await;
    let s = app.call(&u, Method::POST, "/api/health/checkup/sync", Some(start())).await;
    let job = s.body["data"]["jobId"].as_str().unwrap().to_string();
    let uri = format!("/api/health/checkup/sync/{job}/complete");
    let c = app.call(&u, Method::POST, &uri, None).await;
    assert_eq!((c.status, c.body["data"]["syncStatus"].as_str()), (StatusCode::OK, Some("PENDING_APPROVAL")));
    assert_eq!(count(&pool, "SELECT count(*) FROM health.sync_jobs WHERE status = 'PENDING'").await, 1);

    sqlx::query("UPDATE health.sync_jobs SET expires_at = now() - interval '1 second'")
        .execute(&pool)
        .await
        .unwrap();
    let e = app.call(&u, Method::POST, &uri, None).await;
    assert_eq!(e.body["data"]["syncStatus"], "FAILED");
    assert_eq!(e.body["data"]["failureReason"], "APPROVAL_EXPIRED");

    // A job nobody completes is ended by the sweep, and its personal fields go with it.
    let s = app.call(&u, Method::POST, "/api/health/checkup/sync", Some(start())).await;
    assert_eq!(s.status, StatusCode::ACCEPTED);
    let r = super::expire_pending_syncs_and_sweep(&app, &pool).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["ReturnValue"]["expired"], 1);
    assert_eq!(
        count(&pool, "SELECT count(*) FROM health.sync_jobs WHERE handle IS NOT NULL OR status <> 'FAILED'")
            .await,
        0
    );
}

#[sqlx::test]
async fn bad_starts_and_missing_consent_send_nothing(pool: PgPool) {
    let app = spawn_with(pool.clone(), LOCAL);
    let u = user(&app, "v@example.com").await;
    let cases = [
        (json!({"loginType": "KAKAO", "phoneNumber": "0212345678"}), vec!["phoneNumber"]),
        (
            json!({"loginType": "KAKAO", "phoneNumber": "01012345678", "name": "", "birthDate": "19900101"}),
            vec!["name", "birthDate"],
        ),
        (json!({"loginType": "FAX", "phoneNumber": "01012345678"}), vec!["loginType"]),
    ];
    for (body, fields) in cases {
        let a = app.call(&u, Method::POST, "/api/health/checkup/sync", Some(body.clone())).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", a.text);
        let got: Vec<&str> =
            a.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(got, fields, "{body}");
    }
    let nc = user_with(&app, "nc2@example.com", "MALE", "1980-01-01", false).await;
    let a = app.call(&nc, Method::POST, "/api/health/checkup/sync", Some(start())).await;
    assert_eq!((a.status, a.body["code"].as_str()), (StatusCode::FORBIDDEN, Some("CONSENT_REQUIRED")));
    assert_eq!(count(&pool, "SELECT count(*) FROM health.sync_jobs").await, 0);
}
