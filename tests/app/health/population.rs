//! The population reference: CP949 and UTF-8 CSVs in the 2024 and older layouts, zipped or not,
//! loaded through COPY; bad rows counted, 999 read as missing, a re-imported year replaced; then a
//! user's latest checkup compared with their sex and age band.

use std::io::Write as _;

use axum::http::{Method, StatusCode};
use healthsync::health::population::import::import_files;
use sqlx::PgPool;

use super::{LOCAL, count, entry, user_with};
use crate::support::spawn_with;

const NEW: &str = "기준년도,가입자일련번호,시도코드,성별코드,연령대코드(5세단위),신장(5cm단위),체중(5kg단위),허리둘레,시력(좌),시력(우),청력(좌),청력(우),수축기혈압,이완기혈압,식전혈당(공복혈당),총콜레스테롤,트리글리세라이드,HDL콜레스테롤,LDL콜레스테롤,혈색소,요단백,혈청크레아티닌,혈청지오티(AST),혈청지피티(ALT),감마지티피,흡연상태,음주여부,구강검진수검여부,치아우식증유무,결손치 유무,치아마모증유무,제3대구치(사랑니) 이상,치석";
const OLD: &str = "기준년도,성별코드,가입자 일련번호,시도코드,연령대 코드(5세단위),신장(5Cm단위),체중(5Kg 단위),허리둘레,시력(좌),시력(우),청력(좌),청력(우),수축기 혈압,이완기 혈압,식전혈당(공복혈당),총 콜레스테롤,트리글리세라이드,HDL 콜레스테롤,LDL 콜레스테롤,혈색소,요단백,혈청크레아티닌,(혈청지오티)AST,(혈청지오티)ALT,감마 지티피,흡연상태,음주여부,구강검진 수검여부,치아우식증유무,치석유무,데이터 기준일자";

/// `n` rows of the 2024 layout: sexes and age bands cycle, systolic spreads 100–159.
fn new_rows(year: i32, n: usize) -> String {
    let mut s = format!("{NEW}\r\n");
    for i in 0..n {
        let (sex, band) = (1 + i % 2, 5 + (i / 2) % 14);
        let sbp = 100 + (i * 7) % 60;
        let waist = if i % 50 == 0 { "999".to_string() } else { format!("{}", 70 + i % 25) };
        let lipids = if i % 3 == 0 {
            ",,,".to_string()
        } else {
            format!("{},{},{},{}", 170 + i % 60, 90 + i % 100, 45 + i % 20, 100 + i % 50)
        };
        s.push_str(&format!(
            "{year},{i},41,{sex},{band},{},{},{waist},1.0,1.0,1,1,{sbp},{},{},{lipids},{},1,0.9,{},{},{},{},{},,,,,,\r\n",
            150 + (i % 8) * 5, 50 + (i % 8) * 5, 60 + sbp / 2, 85 + i % 40, 13.0 + (i % 30) as f64 / 10.0, 20 + i % 30, 18 + i % 40, 15 + i % 70, 1 + i % 3, i % 2
        ));
    }
    s
}

fn cp949(text: &str) -> Vec<u8> {
    encoding_rs::EUC_KR.encode(text).0.into_owned()
}

#[sqlx::test]
async fn every_layout_loads_through_copy_and_a_year_is_replaced_not_doubled(pool: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = new_rows(2024, 2000);
    csv.push_str("2024,x,41,1,9,170\r\n"); // short row
    csv.push_str("2024,1,41,3,9,170,70,80,1.0,1.0,1,1,120,80,90,,,,,14,1,0.9,20,20,20,1,0,,,,,,\r\n"); // sex 3
    csv.push_str("2023,1,41,1,9,170,70,80,1.0,1.0,1,1,120,80,90,,,,,14,1,0.9,20,20,20,1,0,,,,,,\r\n"); // other year
    let plain = dir.path().join("nhis_2024.csv");
    std::fs::write(&plain, cp949(&csv)).unwrap();

    let old_rows: String = (0..300)
        .map(|i| format!("2019,{},{i},11,{},170,70,,1.0,1.0,1,1,{},80,95,200,120,55,120,14.5,1,1.0,25,999,30,1,1,1,0,0,2020-12-31\n", 1 + i % 2, 5 + i % 14, 110 + i % 30))
        .collect();
    let zipped = dir.path().join("nhis_2019.zip");
    let mut z = zip::ZipWriter::new(std::fs::File::create(&zipped).unwrap());
    z.start_file("국민건강보험공단_건강검진정보_2019.CSV", zip::write::SimpleFileOptions::default()).unwrap();
    z.write_all(format!("{OLD}\n{old_rows}").as_bytes()).unwrap();
    z.finish().unwrap();

    let reports = import_files(&pool, &[plain.clone(), zipped], false).await.unwrap();
    assert_eq!(reports.len(), 2);
    let r = &reports[0];
    assert_eq!((r.year, r.encoding.as_str(), r.columns), (Some(2024), "CP949", 33));
    assert_eq!((r.rows_read, r.rows_loaded, r.bad_rows, r.sentinels), (2003, 2000, 3, 40));
    assert_eq!(r.bad_examples.len(), 3);
    assert!(r.bad_examples[0].starts_with("line 2002:"), "{:?}", r.bad_examples);
    let old = &reports[1];
    assert_eq!(
        (old.year, old.encoding.as_str(), old.columns, old.rows_loaded, old.bad_rows),
        (Some(2019), "UTF-8", 31, 300, 0)
    );
    assert_eq!(old.sentinels, 300, "ALT 999 in every row");
    assert_eq!(count(&pool, "SELECT count(*) FROM health.population_checkups WHERE year = 2024").await, 2000);
    assert_eq!(
        count(&pool, "SELECT count(*) FROM health.population_checkups WHERE year = 2024 AND waist IS NULL")
            .await,
        40
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM health.population_checkups WHERE year = 2019 AND alt IS NULL")
            .await,
        300
    );
    // 16 items for 2 sexes and 14 bands, less the ones a band lacks.
    assert!(r.percentile_groups > 400, "{}", r.percentile_groups);
    let p: Vec<f32> = sqlx::query_scalar(
        "SELECT p FROM health.population_percentiles WHERE year = 2024 AND item = 'systolic' AND sex = 1 AND age_band = 5",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(p.len(), 99);
    assert!(p.windows(2).all(|w| w[0] <= w[1]) && p[0] >= 100.0 && p[98] <= 159.0, "{p:?}");

    std::fs::write(&plain, cp949(&new_rows(2024, 500))).unwrap();
    let again = import_files(&pool, &[plain], false).await.unwrap();
    assert_eq!(again[0].rows_loaded, 500);
    assert_eq!(count(&pool, "SELECT count(*) FROM health.population_checkups WHERE year = 2024").await, 500);
    assert_eq!(count(&pool, "SELECT count(*) FROM health.population_checkups").await, 800);
    assert_eq!(
        count(&pool, "SELECT rows_loaded FROM health.population_imports WHERE year = 2024").await,
        500
    );

    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "이름,나이\n홍길동,30\n").unwrap();
    assert!(
        import_files(&pool, &[bad], false).await.is_err(),
        "a file without the year, sex and age band is refused"
    );
}

#[sqlx::test]
async fn peers_place_the_latest_values_in_the_users_sex_and_age_band(pool: PgPool) {
    let app = spawn_with(pool.clone(), LOCAL);
    // Born 1978: 47 at a 2025 checkup, band 10 (45–49).
    let u = user_with(&app, "peer@example.com", "MALE", "1978-05-20", true).await;
    let none = app.call(&u, Method::GET, "/api/health/peers", None).await;
    assert_eq!((none.status, none.body["data"]["available"].as_bool()), (StatusCode::OK, Some(false)));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("2024.csv");
    std::fs::write(&file, cp949(&new_rows(2024, 4000))).unwrap();
    import_files(&pool, &[file], false).await.unwrap();
    let a = app.call(&u, Method::POST, "/api/health/checkups", Some(entry("2025-06-01"))).await;
    assert_eq!(a.status, StatusCode::CREATED);

    let p = app.call(&u, Method::GET, "/api/health/peers", None).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text);
    let d = &p.body["data"];
    assert_eq!(d["available"], true, "{d}");
    assert_eq!(d["referenceYear"], 2024);
    assert_eq!(d["ageBand"]["code"], 10);
    assert_eq!(d["ageBand"]["label"], "45–49세");
    let sbp = d["items"].as_array().unwrap().iter().find(|i| i["item"] == "systolic").unwrap();
    // Systolic spreads evenly over 100–159: 142 sits near the 70th percentile.
    let pct = sbp["percentile"].as_u64().unwrap();
    assert!((62..=78).contains(&pct), "{pct}");
    assert!(sbp["sampleSize"].as_i64().unwrap() > 100);
    assert!(d["items"].as_array().unwrap().len() >= 12);
}
