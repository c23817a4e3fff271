//! Manual entry, detail, deletion, history, trends, the cache and isolation between users.

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use super::{LOCAL, count, entry, user, user_with};
use crate::support::spawn_with;

#[sqlx::test]
async fn without_the_health_data_consent_nothing_is_stored(pool: PgPool) {
    let app = spawn_with(pool.clone(), LOCAL);
    let u = user_with(&app, "nc@example.com", "FEMALE", "1985-01-01", false).await;
    let a = app.call(&u, Method::POST, "/api/health/checkups", Some(entry("2025-10-14"))).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.text);
    assert_eq!(a.body["code"], "CONSENT_REQUIRED");
    assert_eq!(count(&pool, "SELECT count(*) FROM health.checkups").await, 0);
    assert_eq!(count(&pool, "SELECT count(*) FROM events.outbox WHERE event_type LIKE 'checkup.%'").await, 0);
}

#[sqlx::test]
async fn a_typed_checkup_is_stored_once_and_answered_with_its_assessment(pool: PgPool) {
    let app = spawn_with(pool.clone(), LOCAL);
    let u = user(&app, "m@example.com").await;
    let a = app.call(&u, Method::POST, "/api/health/checkups", Some(entry("2026-02-10"))).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let d = &a.body["data"];
    assert!(d["id"].as_str().is_some());
    assert_eq!(d["bloodPressure"], "142/88");
    assert_eq!(d["bmi"], 26.5);
    assert_eq!(d["vision"], "1.0/1.2");
    assert_eq!(d["hearing"], "정상/정상");
    assert_eq!(d["source"], "manual");
    let s = &d["assessment"];
    assert_eq!(s["ruleVersion"], "MOHW-2026-6");
    assert_eq!(s["overall"], "SUSPECTED_HTN_DM_DYSLIPIDEMIA");
    let bp = s["items"].as_array().unwrap().iter().find(|i| i["item"] == "bloodPressure").unwrap();
    assert_eq!(
        (bp["value"].as_str(), bp["grade"].as_str(), bp["label"].as_str()),
        (Some("142/88"), Some("SUSPECTED"), Some("질환의심"))
    );
    assert!(bp["statement"].as_str().unwrap().contains("국가검진 기준상 ‘질환의심’ 범위"));
    assert_eq!(s["metabolicSyndrome"]["count"], 5);
    assert_eq!(s["flags"][0]["code"], "CONFIRMATORY_VISIT");
    assert_eq!(s["flags"][0]["deadline"], "2027-01-31");
    assert_eq!(
        count(&pool, "SELECT count(*) FROM events.outbox WHERE event_type = 'checkup.recorded'").await,
        1
    );

    let again = app.call(&u, Method::POST, "/api/health/checkups", Some(entry("2026-02-10"))).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
    assert_eq!(again.body["code"], "CHECKUP_EXISTS");
    assert_eq!(count(&pool, "SELECT count(*) FROM health.checkups").await, 1);
}

#[sqlx::test]
async fn implausible_values_name_every_failing_field(pool: PgPool) {
    let app = spawn_with(pool.clone(), LOCAL);
    let u = user(&app, "bad@example.com").await;
    let future = (chrono::Utc::now() + chrono::Duration::days(3)).format("%Y-%m-%d").to_string();
    let cases = [
        (json!({"checkupDate": "2025-01-01", "systolic": 20, "diastolic": 70}), vec!["systolic"]),
        (json!({"checkupDate": "2025-01-01", "fastingGlucose": 5000}), vec!["fastingGlucose"]),
        (json!({"checkupDate": future, "weight": 60}), vec!["checkupDate"]),
        (
            json!({"checkupDate": "2025-13-01", "urineProtein": 9, "hearingLeft": 3, "smoking": 0}),
            vec!["checkupDate", "urineProtein", "hearingLeft", "smoking"],
        ),
        (json!({"checkupDate": "2025-01-01"}), vec!["body"]),
        (json!({"checkupDate": "2025-01-01", "systolic": 120, "diastolic": 130}), vec!["diastolic"]),
        (json!({"checkupDate": "2025-01-01", "weight": 60, "fileId": uuid::Uuid::new_v4()}), vec!["fileId"]),
    ];
    for (body, fields) in cases {
        let a = app.call(&u, Method::POST, "/api/health/checkups", Some(body.clone())).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", a.text);
        let got: Vec<&str> =
            a.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(got, fields, "{body}");
    }
    let typed = app.call(&u, Method::POST, "/api/health/checkups", Some(json!({"checkupDate": 5}))).await;
    assert_eq!(typed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(count(&pool, "SELECT count(*) FROM health.checkups").await, 0);
}

#[sqlx::test]
async fn careless_entries_are_refused_by_field_and_odd_lipids_are_flagged(pool: PgPool) {
    let app = spawn_with(pool.clone(), LOCAL);
    let u = user(&app, "slips@example.com").await;
    let cases = [
        (json!({"checkupDate": "+002024-03-01", "weight": 60}), "checkupDate"),
        (json!({"checkupDate": "2024-3-2", "weight": 60}), "checkupDate"),
        (json!({"checkupDate": " 2024-03-03 ", "weight": 60}), "checkupDate"),
        (json!({"checkupDate": "2024-03-03", "drinking": false}), "body"),
        (json!({"checkupDate": "2024-03-03", "smoking": 1, "drinking": true}), "body"),
        (
            json!({"checkupDate": "2024-03-03", "weight": 60, "treatedFor": ["DIABETES", "HYPERTENSION", "DIABETES"]}),
            "treatedFor",
        ),
        (json!({"checkupDate": "2024-03-03", "weight": 60, "centre": "invoice\u{202E}gnp.exe"}), "centre"),
        (json!({"checkupDate": "2024-03-03", "weight": 60, "centre": "\u{200B}\u{200B}"}), "centre"),
        (json!({"checkupDate": "2024-03-03", "weight": 60, "centre": "검진\u{0}센터"}), "centre"),
    ];
    for (body, field) in cases {
        let a = app.call(&u, Method::POST, "/api/health/checkups", Some(body.clone())).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", a.text);
        assert_eq!(a.body["errors"][0]["field"], field, "{body}");
    }
    assert_eq!(
        count(&pool, "SELECT count(*) FROM health.checkups").await,
        0,
        "no answers-only checkup is the latest"
    );
    // LDL + HDL above the total: kept (the sheet may say so) and flagged for the user to check.
    let odd = json!({"checkupDate": "2024-03-03", "totalCholesterol": 180, "hdl": 60, "ldl": 150, "centre": " 서울센터 "});
    let a = app.call(&u, Method::POST, "/api/health/checkups", Some(odd)).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(a.body["data"]["warnings"], json!(["LDL_HDL_ABOVE_TOTAL"]));
    assert_eq!(a.body["data"]["centre"], "서울센터");
    let fine = app.call(&u, Method::POST, "/api/health/checkups", Some(entry("2025-03-03"))).await;
    assert_eq!(fine.body["data"]["warnings"], json!([]));
}

#[sqlx::test]
async fn history_is_newest_first_with_the_contract_fields_and_a_second_user_sees_none(pool: PgPool) {
    let app = spawn_with(pool.clone(), LOCAL);
    let u = user(&app, "h@example.com").await;
    for date in ["2020-05-01", "2022-05-01", "2024-05-01", "2025-11-01"] {
        let mut e = entry(date);
        e["weight"] = json!(70 + date[2..4].parse::<i32>().unwrap() - 20);
        let a = app.call(&u, Method::POST, "/api/health/checkups", Some(e)).await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    }
    let h = app.call(&u, Method::GET, "/api/health/checkup/history?maxRecords=3", None).await;
    assert_eq!(h.status, StatusCode::OK, "{}", h.text);
    let d = &h.body["data"];
    assert_eq!(d["userInfo"]["name"], "김건강");
    assert_eq!(d["userInfo"]["gender"], "MALE");
    assert_eq!(d["userInfo"]["occupation"], "사무직");
    assert!(d["userInfo"]["age"].as_u64().unwrap() >= 47);
    let recs = d["checkupRecords"].as_array().unwrap();
    let years: Vec<i64> = recs.iter().map(|r| r["year"].as_i64().unwrap()).collect();
    assert_eq!(years, [2025, 2024, 2022]);
    assert_eq!(recs[0]["month"], 11);
    assert_eq!(recs[0]["bloodTest"]["fastingGlucose"], 104.0);
    assert!(recs[0]["assessment"]["items"].as_array().unwrap().len() >= 14);
    assert_eq!(d["totalRecords"], 4);
    assert_eq!(d["chartData"]["chartType"], "line");
    assert_eq!(d["chartData"]["bmiTrend"].as_array().unwrap().len(), 3);
    let waist = d["normalRangeReference"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["item"] == "waist")
        .unwrap()
        .clone();
    assert_eq!((waist["normalA"].as_str(), waist["suspected"].as_str()), (Some("<90"), Some("≥90")));
    let default = app.call(&u, Method::GET, "/api/health/checkup/history", None).await;
    assert_eq!(default.body["data"]["checkupRecords"].as_array().unwrap().len(), 4);
    for bad in ["0", "51", "x"] {
        let a =
            app.call(&u, Method::GET, &format!("/api/health/checkup/history?maxRecords={bad}"), None).await;
        assert!(a.status == StatusCode::UNPROCESSABLE_ENTITY || a.status == StatusCode::BAD_REQUEST, "{bad}");
    }

    let trends =
        app.call(&u, Method::GET, "/api/health/trends?items=bloodPressure,fastingGlucose", None).await;
    assert_eq!(trends.status, StatusCode::OK, "{}", trends.text);
    let series = trends.body["data"]["items"].as_array().unwrap();
    assert_eq!(series.len(), 2);
    assert_eq!(series[0]["item"], "bloodPressure");
    let points = series[0]["points"].as_array().unwrap();
    assert_eq!(points.len(), 4);
    assert_eq!(points[0]["year"], 2020, "oldest first");
    assert_eq!((points[0]["systolic"].as_f64(), points[0]["diastolic"].as_f64()), (Some(142.0), Some(88.0)));
    let unknown = app.call(&u, Method::GET, "/api/health/trends?items=bloodPressure,mood", None).await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(unknown.body["errors"][0]["field"], "items");

    let other = user_with(&app, "other@example.com", "FEMALE", "1990-01-01", true).await;
    let theirs = app.call(&other, Method::GET, "/api/health/checkup/history", None).await;
    assert_eq!(theirs.body["data"]["checkupRecords"].as_array().unwrap().len(), 0);
    assert_eq!(theirs.body["data"]["totalRecords"], 0);
    let id = recs[0]["id"].as_str().unwrap();
    for method in [Method::GET, Method::DELETE] {
        let a = app.call(&other, method, &format!("/api/health/checkups/{id}"), None).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND);
    }
    let mine = app.call(&u, Method::GET, &format!("/api/health/checkups/{id}"), None).await;
    assert_eq!(mine.status, StatusCode::OK);
    assert_eq!(mine.body["data"]["raw"]["checkupDate"], "2025-11-01");
    let gone = app.call(&u, Method::DELETE, &format!("/api/health/checkups/{id}"), None).await;
    assert_eq!(gone.status, StatusCode::OK);
    let after = app.call(&u, Method::GET, "/api/health/checkup/history", None).await;
    assert_eq!(after.body["data"]["totalRecords"], 3, "the deletion reached the cached history");
}

#[sqlx::test]
async fn the_latest_checkup_is_cached_in_redis_invalidated_on_change_and_redis_down_is_only_slower(
    pool: PgPool,
) {
    let redis = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let settings: Vec<(&str, &str)> = LOCAL.iter().copied().chain([("REDIS_URL", redis.as_str())]).collect();
    let t = spawn_with(pool.clone(), &settings);
    let u = user(&t, "c@example.com").await;
    let id = uuid::Uuid::parse_str(&u.id).unwrap();
    assert!(healthsync::health::api::latest_checkup(&t.platform, id).await.unwrap().is_none());
    let key = healthsync::health::api::latest_key(id);
    assert!(t.platform.cache.get(&key).await.unwrap().is_some(), "the miss was cached");
    let a = t.call(&u, Method::POST, "/api/health/checkups", Some(entry("2025-03-01"))).await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert!(t.platform.cache.get(&key).await.unwrap().is_none(), "a change drops the cached entry");
    let latest = healthsync::health::api::latest_checkup(&t.platform, id).await.unwrap().unwrap();
    assert_eq!(latest.checkup_date.to_string(), "2025-03-01");
    // Served from Redis: a row changed behind the app's back is not seen until the next change.
    sqlx::query("UPDATE health.checkups SET systolic = 100, diastolic = 60").execute(&pool).await.unwrap();
    let cached = healthsync::health::api::latest_checkup(&t.platform, id).await.unwrap().unwrap();
    assert_eq!(cached.blood_pressure.as_deref(), Some("142/88"));

    let down: Vec<(&str, &str)> = LOCAL
        .iter()
        .copied()
        .chain([("REDIS_URL", "redis://127.0.0.1:1"), ("READY_CHECK_TIMEOUT_MS", "100")])
        .collect();
    let d = spawn_with(pool.clone(), &down);
    let u2 = user(&d, "down@example.com").await;
    let a = d.call(&u2, Method::POST, "/api/health/checkups", Some(entry("2025-03-01"))).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let h = d.call(&u2, Method::GET, "/api/health/checkup/history", None).await;
    assert_eq!(h.status, StatusCode::OK);
    assert_eq!(h.body["data"]["totalRecords"], 1);
}

#[sqlx::test]
async fn export_holds_checkups_assessments_files_and_jobs_and_erasure_leaves_nothing(pool: PgPool) {
    let app = spawn_with(pool.clone(), LOCAL);
    let u = user(&app, "rights@example.com").await;
    let a = app.call(&u, Method::POST, "/api/health/checkups", Some(entry("2025-04-04"))).await;
    assert_eq!(a.status, StatusCode::CREATED);
    let s = app
        .call(
            &u,
            Method::POST,
            "/api/health/checkup/sync",
            Some(json!({"loginType": "NAVER", "phoneNumber": "01099998888"})),
        )
        .await;
    assert_eq!(s.status, StatusCode::ACCEPTED);
    let req = axum::http::Request::builder()
        .method(Method::POST)
        .uri("/api/health/checkup/files")
        .header("authorization", format!("Bearer {}", u.token()))
        .body(axum::body::Body::from(&b"%PDF-1.4 sheet\n%%EOF\n"[..]))
        .unwrap();
    assert_eq!(app.send(req).await.status, StatusCode::CREATED);
    let other = user_with(&app, "keep@example.com", "FEMALE", "1982-02-02", true).await;
    let kept = app.call(&other, Method::POST, "/api/health/checkups", Some(entry("2025-04-04"))).await;
    assert_eq!(kept.status, StatusCode::CREATED);

    let e = app.call(&u, Method::GET, "/api/users/me/export", None).await;
    assert_eq!(e.status, StatusCode::OK, "{}", e.text);
    let h = &e.body["data"]["data"]["health"];
    assert_eq!(h["checkups"].as_array().unwrap().len(), 1);
    assert_eq!(h["checkups"][0]["assessment"]["ruleVersion"], "MOHW-BEFORE-2026");
    assert_eq!(h["checkups"][0]["raw"]["checkupDate"], "2025-04-04");
    assert_eq!(h["files"].as_array().unwrap().len(), 1);
    assert_eq!(h["syncJobs"][0]["status"], "PENDING");
    assert!(!e.text.contains("01099998888"), "a job's handle is not exported");
    assert_eq!(e.body["data"]["files"].as_array().unwrap().len(), 1, "the sheet is under the user's prefix");

    let d = app.call(&u, Method::DELETE, "/api/users/me", None).await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    let me = uuid::Uuid::parse_str(&u.id).unwrap();
    for table in ["checkups", "checkup_files", "sync_jobs"] {
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM health.{table} WHERE user_id = $1"))
            .bind(me)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(n, 0, "{table}");
    }
    assert!(app.platform.blob.list(&format!("users/{me}/")).await.unwrap().is_empty());
    assert_eq!(
        count(&pool, "SELECT count(*) FROM health.checkups").await,
        1,
        "the other user's checkup stays"
    );
}
