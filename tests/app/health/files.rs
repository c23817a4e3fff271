//! Result sheets on the folder store and on Azurite: told by their bytes, at most 10 MB, under the
//! user's blob prefix, listed, downloaded and deleted by their owner only; a storage failure is a
//! 503 that leaves no row behind.

use axum::{
    body::Body,
    http::{Method, Request, StatusCode},
};
use healthsync::platform::blob::AzureBlobStore;
use sqlx::PgPool;

use super::{LOCAL, count, user, user_with};
use crate::support::{Answer, TestApp, azurite_container_url, spawn_with};

const PDF: &[u8] = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n";

async fn upload(app: &TestApp, token: &str, bytes: Vec<u8>, name: &str) -> Answer {
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/health/checkup/files?fileName={name}"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/octet-stream")
        .body(Body::from(bytes))
        .unwrap();
    app.send(req).await
}

async fn the_file_lifecycle(app: &TestApp, pool: &PgPool) {
    let u = user(app, "f@example.com").await;
    let a = upload(app, &u.token(), PDF.to_vec(), "2025-result.pdf").await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(a.body["data"]["contentType"], "application/pdf");
    assert_eq!(a.body["data"]["fileName"], "2025-result.pdf");
    assert_eq!(a.body["data"]["sizeBytes"], PDF.len());
    let id = a.body["data"]["id"].as_str().unwrap().to_string();
    let blob: String =
        sqlx::query_scalar("SELECT blob_name FROM health.checkup_files").fetch_one(pool).await.unwrap();
    assert!(blob.starts_with(&format!("users/{}/", u.id)), "{blob}");

    let png = upload(app, &u.token(), super::limits::png(), "sheet.png").await;
    assert_eq!(png.body["data"]["contentType"], "image/png");
    for (bad, why) in [(b"GIF89a....".to_vec(), "not a sheet"), (Vec::new(), "empty")] {
        let r = upload(app, &u.token(), bad, "x.gif").await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{why}");
        assert_eq!(r.body["errors"][0]["field"], "file");
    }
    let mut big = PDF.to_vec();
    big.resize(10 * 1024 * 1024 + 1, b' ');
    assert_eq!(upload(app, &u.token(), big, "big.pdf").await.status, StatusCode::PAYLOAD_TOO_LARGE);

    let list = app.call(&u, Method::GET, "/api/health/checkup/files", None).await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 2);
    let down = app.get(&u, &format!("/api/health/checkup/files/{id}")).await;
    assert_eq!(down.status, StatusCode::OK);
    assert_eq!(down.headers["content-type"], "application/pdf");
    assert_eq!(down.text.as_bytes(), PDF);

    let typed = serde_json::json!({"checkupDate": "2025-09-09", "weight": 70, "height": 170, "fileId": id});
    let c = app.call(&u, Method::POST, "/api/health/checkups", Some(typed)).await;
    assert_eq!(
        (c.status, c.body["data"]["source"].as_str()),
        (StatusCode::CREATED, Some("upload")),
        "{}",
        c.text
    );

    let other = user_with(app, "g@example.com", "FEMALE", "1991-03-03", true).await;
    for m in [Method::GET, Method::DELETE] {
        let r = app.call(&other, m, &format!("/api/health/checkup/files/{id}"), None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
    }
    assert_eq!(
        app.call(&other, Method::GET, "/api/health/checkup/files", None).await.body["data"],
        serde_json::json!([])
    );

    let del = app.call(&u, Method::DELETE, &format!("/api/health/checkup/files/{id}"), None).await;
    assert_eq!(del.status, StatusCode::OK);
    let gone = app.call(&u, Method::GET, &format!("/api/health/checkup/files/{id}"), None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(
        count(pool, "SELECT count(*) FROM health.checkups WHERE file_id IS NULL AND source = 'upload'").await,
        1
    );

    let nc = user_with(app, "nc@example.com", "MALE", "1980-01-01", false).await;
    let r = upload(app, &nc.token(), PDF.to_vec(), "x.pdf").await;
    assert_eq!((r.status, r.body["code"].as_str()), (StatusCode::FORBIDDEN, Some("CONSENT_REQUIRED")));
    assert_eq!(count(pool, "SELECT count(*) FROM health.checkup_files").await, 1);
}

#[sqlx::test]
async fn files_on_the_folder_store(pool: PgPool) {
    let app = spawn_with(pool.clone(), LOCAL);
    the_file_lifecycle(&app, &pool).await;
}

#[sqlx::test]
async fn files_on_azurite(pool: PgPool) {
    let container = format!("health-{}", uuid::Uuid::new_v4().simple());
    let url = azurite_container_url(&container);
    AzureBlobStore::new(&url::Url::parse(&url).unwrap(), None).unwrap().ensure_container().await.unwrap();
    let settings: Vec<(&str, &str)> =
        LOCAL.iter().copied().chain([("BLOB_CONTAINER_URL", url.as_str())]).collect();
    let t = spawn_with(pool.clone(), &settings);
    the_file_lifecycle(&t, &pool).await;
    let left = t.platform.blob.list("users/").await.unwrap();
    assert_eq!(left.len(), 1, "the PNG stays, the deleted PDF is gone: {left:?}");
}

#[sqlx::test]
async fn a_storage_failure_is_a_503_and_leaves_no_row(pool: PgPool) {
    // A container that does not exist: every write fails.
    let url = azurite_container_url("never-created-health");
    let settings: Vec<(&str, &str)> =
        LOCAL.iter().copied().chain([("BLOB_CONTAINER_URL", url.as_str())]).collect();
    let app = spawn_with(pool.clone(), &settings);
    let u = user(&app, "fail@example.com").await;
    let r = upload(&app, &u.token(), PDF.to_vec(), "x.pdf").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
    assert_eq!(count(&pool, "SELECT count(*) FROM health.checkup_files").await, 0);
}
