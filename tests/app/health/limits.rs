//! Limits on costly actions (issue 21): result-sheet uploads per day (count and bytes) and held,
//! counted right under concurrent uploads by one user; NHIS sync starts one open at a time and a
//! few an hour, each a clear refusal that sends nothing; the third party's personal fields gone
//! from the job row however it ends.

use axum::{
    body::Body,
    http::{Method, Request, StatusCode},
};
use serde_json::json;
use sqlx::PgPool;

use super::{LOCAL, count, user};
use crate::support::{Answer, TestApp, spawn_with};

/// A PDF of `size` bytes: header, padding, trailer.
pub fn pdf(size: usize) -> Vec<u8> {
    let mut out = b"%PDF-1.7\n".to_vec();
    let tail = b"\ntrailer <<>>\n%%EOF\n";
    out.resize(size - tail.len(), b' ');
    out.extend_from_slice(tail);
    out
}

/// A whole PNG (1×1): signature, IHDR, IDAT, IEND (CRCs are not checked).
pub fn png() -> Vec<u8> {
    let chunk = |kind: &[u8; 4], data: &[u8]| {
        let mut out = (data.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&[0, 0, 0, 0]);
        out
    };
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(chunk(b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0]));
    out.extend(chunk(b"IDAT", &[0x78, 0x9C, 0x63, 0, 0, 0, 2, 0, 1]));
    out.extend(chunk(b"IEND", &[]));
    out
}

async fn upload(app: &TestApp, token: &str, bytes: Vec<u8>) -> Answer {
    let req = Request::post("/api/health/checkup/files")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/octet-stream")
        .header("content-length", bytes.len())
        .body(Body::from(bytes))
        .unwrap();
    app.send(req).await
}

fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    LOCAL.iter().copied().chain(extra.iter().copied()).collect()
}

#[sqlx::test]
async fn concurrent_uploads_by_one_user_cannot_pass_the_daily_count_together(pool: PgPool) {
    let app = spawn_with(pool.clone(), &with(&[("HEALTH_FILES_PER_DAY", "3")]));
    let u = user(&app, "burst@example.com").await;
    let token = u.token();
    let answers = futures::future::join_all((0..12).map(|_| upload(&app, &token, pdf(64 * 1024)))).await;
    let created = answers.iter().filter(|a| a.status == StatusCode::CREATED).count();
    let limited: Vec<&Answer> =
        answers.iter().filter(|a| a.status == StatusCode::TOO_MANY_REQUESTS).collect();
    assert_eq!(
        (created, limited.len()),
        (3, 9),
        "{:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    for a in limited {
        assert_eq!(a.body["code"], "RATE_LIMITED");
        let after: u64 = a.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=86_400).contains(&after), "until the next Seoul day: {after}");
    }
    assert_eq!(count(&pool, "SELECT count(*) FROM health.checkup_files").await, 3);
    // Deleting a file does not give the day's uploads back.
    let list = app.call(&u, Method::GET, "/api/health/checkup/files", None).await;
    let id = list.body["data"][0]["id"].as_str().unwrap().to_string();
    let del = app.call(&u, Method::DELETE, &format!("/api/health/checkup/files/{id}"), None).await;
    assert_eq!(del.status, StatusCode::OK);
    assert_eq!(upload(&app, &u.token(), pdf(1024)).await.status, StatusCode::TOO_MANY_REQUESTS);
    // Another user has their own day.
    let other = user(&app, "calm@example.com").await;
    assert_eq!(upload(&app, &other.token(), pdf(1024)).await.status, StatusCode::CREATED);
}

#[sqlx::test]
async fn the_bytes_a_user_holds_and_uploads_a_day_are_limited(pool: PgPool) {
    let app =
        spawn_with(pool.clone(), &with(&[("HEALTH_FILE_MB_HELD", "10"), ("HEALTH_FILE_MB_PER_DAY", "20")]));
    let u = user(&app, "big@example.com").await;
    let six = 6 * 1024 * 1024;
    let first = upload(&app, &u.token(), pdf(six)).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    let full = upload(&app, &u.token(), pdf(six)).await;
    assert_eq!(
        (full.status, full.body["code"].as_str()),
        (StatusCode::CONFLICT, Some("STORAGE_QUOTA_EXCEEDED"))
    );
    assert_eq!(count(&pool, "SELECT count(*) FROM health.checkup_files").await, 1);
    // Deleting makes room.
    let id = first.body["data"]["id"].as_str().unwrap();
    app.call(&u, Method::DELETE, &format!("/api/health/checkup/files/{id}"), None).await;
    assert_eq!(upload(&app, &u.token(), pdf(six)).await.status, StatusCode::CREATED);
    // 12 MiB uploaded today: another 6 would pass the day's 20.
    let list = app.call(&u, Method::GET, "/api/health/checkup/files", None).await;
    let id = list.body["data"][0]["id"].as_str().unwrap();
    app.call(&u, Method::DELETE, &format!("/api/health/checkup/files/{id}"), None).await;
    assert_eq!(upload(&app, &u.token(), pdf(six)).await.status, StatusCode::CREATED, "18 MiB today");
    let day = upload(&app, &u.token(), pdf(six)).await;
    assert_eq!(day.status, StatusCode::TOO_MANY_REQUESTS, "{}", day.text);
    assert!(day.headers.contains_key("retry-after"));
    // A refused file's bytes count for the day too; a storage failure's would not (files.rs).
    assert_eq!(count(&pool, "SELECT count(*) FROM health.file_uploads WHERE state = 'RESERVED'").await, 0);
}

#[sqlx::test]
async fn the_limits_are_settings(pool: PgPool) {
    for (name, bad) in [
        ("HEALTH_FILES_PER_DAY", "0"),
        ("HEALTH_FILE_MB_HELD", "lots"),
        ("HEALTH_SYNC_STARTS_PER_HOUR", "-1"),
    ] {
        let err = TestApp::builder(pool.clone()).settings(&[(name, bad)]).try_spawn().err().expect("refused");
        assert!(format!("{err:#}").contains(name), "{err:#}");
    }
}

fn start(phone: &str, name: &str) -> serde_json::Value {
    json!({ "loginType": "KAKAO", "phoneNumber": phone, "name": name, "birthDate": "1970-01-01" })
}

#[sqlx::test]
async fn a_user_has_one_open_sync_and_a_few_starts_an_hour(pool: PgPool) {
    let slow = [
        ("DEV_LOGIN_ENABLED", "true"),
        ("SAMPLE_APPROVAL_DELAY_SECS", "600"),
        ("HEALTH_SYNC_STARTS_PER_HOUR", "2"),
    ];
    let app = spawn_with(pool.clone(), &slow);
    let u = user(&app, "sync@example.com").await;
    // Thirty starts at once for thirty people: one goes to a phone.
    let answers = futures::future::join_all((0..30).map(|i| {
        let body = start(&format!("010-5555-{i:04}"), &format!("홍길동{i}"));
        app.call(&u, Method::POST, "/api/health/checkup/sync", Some(body))
    }))
    .await;
    let accepted = answers.iter().filter(|a| a.status == StatusCode::ACCEPTED).count();
    let refused: Vec<&Answer> = answers.iter().filter(|a| a.status == StatusCode::CONFLICT).collect();
    assert_eq!(
        (accepted, refused.len()),
        (1, 29),
        "{:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    assert!(refused.iter().all(|a| a.body["code"] == "SYNC_ALREADY_PENDING"));
    assert_eq!(count(&pool, "SELECT count(*) FROM health.sync_jobs").await, 1);

    // Once it ended, a second start is accepted; the third this hour is refused before it sends.
    sqlx::query("UPDATE health.sync_jobs SET expires_at = now() - interval '1 second'")
        .execute(&pool)
        .await
        .unwrap();
    let second =
        app.call(&u, Method::POST, "/api/health/checkup/sync", Some(start("01011112222", "임꺽정"))).await;
    assert_eq!(second.status, StatusCode::ACCEPTED, "{}", second.text);
    sqlx::query(
        "UPDATE health.sync_jobs SET expires_at = now() - interval '1 second' WHERE status = 'PENDING'",
    )
    .execute(&pool)
    .await
    .unwrap();
    let third =
        app.call(&u, Method::POST, "/api/health/checkup/sync", Some(start("01033334444", "장길산"))).await;
    assert_eq!(
        (third.status, third.body["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("RATE_LIMITED"))
    );
    assert!(third.headers.contains_key("retry-after"));
    assert_eq!(
        count(&pool, "SELECT count(*) FROM health.sync_jobs").await,
        2,
        "the refused start left no job"
    );
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM health.sync_jobs WHERE status IN ('STARTING', 'PENDING', 'FETCHING')"
        )
        .await,
        0,
        "the expired jobs were ended, not left open"
    );
}

#[sqlx::test]
async fn a_sync_jobs_personal_fields_go_when_it_ends_however_it_ends(pool: PgPool) {
    let fast = spawn_with(pool.clone(), LOCAL);
    let u = user(&fast, "ends@example.com").await;
    let personal = "SELECT count(*) FROM health.sync_jobs WHERE handle IS NOT NULL \
                    OR handle::text LIKE '%홍길동%' OR failure_reason LIKE '%홍길동%'";
    let open = "SELECT count(*) FROM health.sync_jobs WHERE handle::text LIKE '%홍길동%'";
    // Success.
    let s =
        fast.call(&u, Method::POST, "/api/health/checkup/sync", Some(start("01012345678", "홍길동"))).await;
    assert_eq!(s.status, StatusCode::ACCEPTED, "{}", s.text);
    assert_eq!(count(&pool, open).await, 1, "the handle holds the name while the job is open");
    let job = s.body["data"]["jobId"].as_str().unwrap();
    let c = fast.call(&u, Method::POST, &format!("/api/health/checkup/sync/{job}/complete"), None).await;
    assert_eq!(c.body["data"]["syncStatus"], "SUCCESS", "{}", c.text);
    assert_eq!(count(&pool, personal).await, 0, "after success");
    // Failure (expired at completion).
    let s =
        fast.call(&u, Method::POST, "/api/health/checkup/sync", Some(start("01012345678", "홍길동"))).await;
    let job = s.body["data"]["jobId"].as_str().unwrap();
    sqlx::query(
        "UPDATE health.sync_jobs SET expires_at = now() - interval '1 second' WHERE status = 'PENDING'",
    )
    .execute(&pool)
    .await
    .unwrap();
    let c = fast.call(&u, Method::POST, &format!("/api/health/checkup/sync/{job}/complete"), None).await;
    assert_eq!(c.body["data"]["syncStatus"], "FAILED");
    assert_eq!(count(&pool, personal).await, 0, "after failure");
    // Expiry through the sweep.
    let s =
        fast.call(&u, Method::POST, "/api/health/checkup/sync", Some(start("01012345678", "홍길동"))).await;
    assert_eq!(s.status, StatusCode::ACCEPTED);
    assert_eq!(super::expire_pending_syncs_and_sweep(&fast, &pool).await.status, StatusCode::OK);
    assert_eq!(count(&pool, personal).await, 0, "after expiry");
    assert_eq!(count(&pool, "SELECT count(*) FROM health.sync_jobs").await, 3);
}
