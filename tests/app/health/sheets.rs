//! Hostile and careless result sheets (issue 21): a sheet is stored only when its structure holds
//! from the first byte to the last; its name follows the text rules; a download is an attachment
//! that no browser sniffs into a page; a body streamed without a length is held to the limit as it
//! arrives and leaves nothing behind.

use axum::{
    body::Body,
    http::{Method, Request, StatusCode},
};
use sqlx::PgPool;

use super::{
    LOCAL, count,
    limits::{pdf, png},
    user,
};
use crate::support::{Answer, TestApp, spawn_with};

async fn upload_named(app: &TestApp, token: &str, bytes: Vec<u8>, query: &str) -> Answer {
    let req = Request::post(format!("/api/health/checkup/files{query}"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/octet-stream")
        .body(Body::from(bytes))
        .unwrap();
    app.send(req).await
}

#[sqlx::test]
async fn a_sheet_is_stored_only_when_its_structure_holds_to_the_end(pool: PgPool) {
    let t = spawn_with(pool.clone(), LOCAL);
    let u = user(&t, "sheets@example.com").await;
    let mut png_then_html = png()[..8].to_vec();
    png_then_html.extend_from_slice(b"<html><script>alert(document.cookie)</script></html>");
    let mut png_with_page_after = png();
    png_with_page_after.extend_from_slice(b"<html></html>");
    let mut cut_pdf = pdf(4096);
    cut_pdf.truncate(2000);
    for (bad, why) in [
        (png_then_html, "a PNG signature, then a page"),
        (png_with_page_after, "a page after IEND"),
        (vec![0xFF, 0xD8, 0xFF], "three JPEG bytes"),
        ([&[0xFF, 0xD8, 0xFF, 0xE0][..], &[0x41; 100]].concat(), "a JPEG without its end"),
        (cut_pdf, "half a PDF"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>".to_vec(), "markup"),
    ] {
        let a = upload_named(&t, &u.token(), bad, "").await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{why}: {}", a.text);
        assert_eq!(a.body["errors"][0]["field"], "file", "{why}");
    }
    assert_eq!(count(&pool, "SELECT count(*) FROM health.checkup_files").await, 0);
    assert_eq!(
        t.platform.blob.list("users/").await.unwrap(),
        Vec::<String>::new(),
        "no blob of a refused file"
    );
    let jpeg = [&[0xFF, 0xD8, 0xFF, 0xE0, 0, 16][..], b"JFIF\0 data", &[0xFF, 0xD9]].concat();
    for (good, kind) in [(png(), "image/png"), (jpeg, "image/jpeg"), (pdf(5000), "application/pdf")] {
        let a = upload_named(&t, &u.token(), good, "").await;
        assert_eq!(
            (a.status, a.body["data"]["contentType"].as_str()),
            (StatusCode::CREATED, Some(kind)),
            "{}",
            a.text
        );
    }
}

#[sqlx::test]
async fn file_names_follow_the_text_rules(pool: PgPool) {
    let app = spawn_with(pool.clone(), LOCAL);
    let u = user(&app, "names@example.com").await;
    for bad in [
        "invoice%E2%80%AEgnp.exe",
        "%E2%80%8B%E2%80%8B",
        "%3Cimg%20src%3Dx%3E.pdf",
        "..%2F..%2Fetc%2Fpasswd",
        "a%00b.pdf",
        "%F3%A0%81%81x.pdf",
        ".htaccess",
    ] {
        let a = upload_named(&app, &u.token(), pdf(1024), &format!("?fileName={bad}")).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {}", a.text);
        assert_eq!(a.body["errors"][0]["field"], "fileName", "{bad}");
    }
    assert_eq!(count(&pool, "SELECT count(*) FROM health.checkup_files").await, 0);
    let long = "가".repeat(201);
    let a = upload_named(&app, &u.token(), pdf(1024), &format!("?fileName={}", urlencode(&long))).await;
    assert!(
        a.body["errors"][0]["message"].as_str().unwrap().contains("200자"),
        "too long says so: {}",
        a.text
    );
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[sqlx::test]
async fn a_download_is_an_attachment_with_its_name_and_no_sniffing(pool: PgPool) {
    let app = spawn_with(pool.clone(), LOCAL);
    let u = user(&app, "down@example.com").await;
    let a = upload_named(&app, &u.token(), pdf(1024), &format!("?fileName={}", urlencode("2025 결과지.pdf")))
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let id = a.body["data"]["id"].as_str().unwrap();
    let d = app.call(&u, Method::GET, &format!("/api/health/checkup/files/{id}"), None).await;
    assert_eq!(d.status, StatusCode::OK);
    assert_eq!(d.headers["x-content-type-options"], "nosniff");
    assert_eq!(d.headers["content-type"], "application/pdf");
    assert_eq!(
        d.headers["content-disposition"],
        "attachment; filename=\"2025____.pdf\"; filename*=UTF-8''2025%20%EA%B2%B0%EA%B3%BC%EC%A7%80.pdf"
    );
}

#[sqlx::test]
async fn a_body_streamed_without_a_length_is_held_to_the_limit_as_it_arrives(pool: PgPool) {
    let t = spawn_with(pool.clone(), LOCAL);
    let u = user(&t, "stream@example.com").await;
    let streamed = |bytes: Vec<u8>| {
        let chunks: Vec<Result<bytes::Bytes, std::io::Error>> =
            bytes.chunks(64 * 1024).map(|c| Ok(bytes::Bytes::copy_from_slice(c))).collect();
        Body::from_stream(futures::stream::iter(chunks))
    };
    let req = |body| {
        Request::post("/api/health/checkup/files")
            .header("authorization", format!("Bearer {}", u.token()))
            .header("content-type", "application/octet-stream")
            .body(body)
            .unwrap()
    };
    let over = t.send(req(streamed(pdf(10 * 1024 * 1024 + 4096)))).await;
    assert_eq!(
        (over.status, over.body["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("PAYLOAD_TOO_LARGE"))
    );
    assert_eq!(count(&pool, "SELECT count(*) FROM health.checkup_files").await, 0);
    assert_eq!(t.platform.blob.list("users/").await.unwrap(), Vec::<String>::new(), "nothing half-written");
    let ok = t.send(req(streamed(pdf(3 * 1024 * 1024)))).await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.text);
    assert_eq!(ok.body["data"]["sizeBytes"], 3 * 1024 * 1024);
    let id = ok.body["data"]["id"].as_str().unwrap();
    let d = t.call(&u, Method::GET, &format!("/api/health/checkup/files/{id}"), None).await;
    assert_eq!(d.text.len(), 3 * 1024 * 1024, "stored whole");
    assert_eq!(
        count(&pool, "SELECT count(*) FROM health.file_uploads WHERE state = 'RESERVED'").await,
        0,
        "every reservation settled"
    );
}
