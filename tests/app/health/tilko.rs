//! The Tilko adapter against a local fake speaking its public contract: the public key, the
//! simple-auth request, then the checkup list with the returned ids; personal fields AES-encrypted
//! under a fresh key that travels RSA-wrapped in `ENC-KEY`. Pending, approved, cancelled, expired,
//! rejected, a timeout and a 5xx, and malformed values.

use aws_lc_rs::{
    cipher::{AES_128, DecryptionContext, PaddedBlockDecryptingKey, UnboundCipherKey},
    encoding::AsDer,
    iv::FixedLength,
    rsa::{KeySize, Pkcs1PrivateDecryptingKey, PrivateDecryptingKey},
};
use axum::http::{Method, StatusCode};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use serde_json::{Value, json};
use sqlx::PgPool;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{header, method, path, query_param},
};

use super::{count, user, user_with};
use crate::support::{TestApp, spawn_with};

const KEY: &str = "test-api-key";
const AUTH: &str = "/api/v1.0/NhisSimpleAuth/SimpleAuthRequest";
const LIST: &str = "/api/v1.0/NhisSimpleAuth/Ggpab003M0105";

struct Fake {
    server: MockServer,
    private: Pkcs1PrivateDecryptingKey,
}

impl Fake {
    async fn start() -> Fake {
        let server = MockServer::start().await;
        let private = PrivateDecryptingKey::generate(KeySize::Rsa2048).unwrap();
        let public = STANDARD.encode(private.public_key().as_der().unwrap().as_ref());
        Mock::given(method("GET"))
            .and(path("/api/Auth/GetPublicKey"))
            .and(query_param("APIkey", KEY))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"Status": "OK", "ApiKey": KEY, "PublicKey": public})),
            )
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path(AUTH))
            .and(header("API-KEY", KEY))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "Status": "OK", "Message": "성공",
                "ResultData": {"CxId": "cx-1", "PrivateAuthType": "0", "ReqTxId": "req-1", "Token": "tok-1", "TxId": "tx-1"}
            })))
            .mount(&server)
            .await;
        Fake { server, private: Pkcs1PrivateDecryptingKey::new(private).unwrap() }
    }

    fn settings(&self) -> Vec<(&'static str, String)> {
        vec![
            ("DEV_LOGIN_ENABLED", "true".into()),
            ("TILKO_API_KEY", KEY.into()),
            ("TILKO_BASE_URL", format!("{}/", self.server.uri())),
            ("TILKO_TIMEOUT_MS", "500".into()),
        ]
    }

    /// The list endpoint answers `body`: the first `times` calls (before the others), or always.
    async fn list(&self, status: u16, body: Value, times: Option<u64>) {
        Mock::given(method("POST"))
            .and(path(LIST))
            .and(header("API-KEY", KEY))
            .respond_with(ResponseTemplate::new(status).set_body_json(body.clone()))
            .up_to_n_times(times.unwrap_or(u64::MAX))
            .with_priority(if times.is_some() { 1 } else { 5 })
            .mount(&self.server)
            .await;
    }

    /// A request field, decrypted with the key its `ENC-KEY` header wraps.
    fn open(&self, req: &wiremock::Request, field: &str) -> String {
        let wrapped = STANDARD.decode(req.headers.get("ENC-KEY").unwrap().to_str().unwrap()).unwrap();
        let mut out = vec![0u8; self.private.min_output_size()];
        let key = self.private.decrypt(&wrapped, &mut out).unwrap().to_vec();
        let body: Value = serde_json::from_slice(&req.body).unwrap();
        let mut data = STANDARD.decode(body[field].as_str().unwrap()).unwrap();
        let aes =
            PaddedBlockDecryptingKey::cbc_pkcs7(UnboundCipherKey::new(&AES_128, &key).unwrap()).unwrap();
        let plain = aes.decrypt(&mut data, DecryptionContext::Iv128(FixedLength::from([0u8; 16]))).unwrap();
        String::from_utf8(plain.to_vec()).unwrap()
    }

    async fn requests(&self, p: &str) -> Vec<wiremock::Request> {
        self.server.received_requests().await.unwrap().into_iter().filter(|r| r.url.path() == p).collect()
    }
}

fn app(fake: &Fake, pool: &PgPool) -> TestApp {
    let s = fake.settings();
    let pairs: Vec<(&str, &str)> = s.iter().map(|(k, v)| (*k, v.as_str())).collect();
    spawn_with(pool.clone(), &pairs)
}

fn start() -> Value {
    json!({ "loginType": "KAKAO", "phoneNumber": "01012345678" })
}

/// Starts a sync and answers the completion URI.
async fn started(app: &TestApp, token: &str) -> String {
    let s = app.call(&token, Method::POST, "/api/health/checkup/sync", Some(start())).await;
    assert_eq!(s.status, StatusCode::ACCEPTED, "{}", s.text);
    assert_eq!(s.body["data"]["syncStatus"], "PENDING_APPROVAL", "{}", s.text);
    format!("/api/health/checkup/sync/{}/complete", s.body["data"]["jobId"].as_str().unwrap())
}

fn pending() -> Value {
    json!({"Status": "Error", "ErrorCode": 9999, "Message": "간편인증 승인 대기 중입니다. 인증 앱에서 승인해 주세요."})
}

fn checkups() -> Value {
    json!({"Status": "OK", "Message": "성공", "ResultList": [
        {"Year": "2024년", "CheckUpDate": "10/02", "Code": "고∙당", "Location": "한빛내과의원", "Description": "혈압 관리 필요",
         "Inspections": [
            {"Gubun": "계측검사", "Illnesses": [{"Name": "비만", "Items": [
                {"Name": "신장", "Value": "170.2", "ItemReferences": []}, {"Name": "체중", "Value": "72"},
                {"Name": "허리둘레", "Value": ""}, {"Name": "혈압(최고/최저)", "Value": "145/92"},
                {"Name": "시력(좌/우)", "Value": "0.8/1.0"}]}]},
            {"Gubun": "혈액검사", "Illnesses": [{"Name": "당뇨병", "Items": [
                {"Name": "공복혈당", "Value": "131"}, {"Name": "혈색소", "Value": "15.0"},
                {"Name": "총콜레스테롤", "Value": ""}, {"Name": "감마지티피(γ-GTP)", "Value": "9999"}]}]}]},
        {"Year": "2022", "CheckUpDate": "0915", "Code": "정A", "waists": "88.5", "bloodPressure": "120/80",
         "fastingBloodGlucose": "의심", "hemoglobin": "14.1"},
        {"Year": "2020", "CheckUpDate": "", "Code": "정B"}
    ]})
}

#[sqlx::test]
async fn the_two_step_contract_pending_then_approved_with_malformed_values(pool: PgPool) {
    let fake = Fake::start().await;
    fake.list(200, pending(), Some(1)).await;
    fake.list(200, checkups(), None).await;
    let app = app(&fake, &pool);
    let u = user(&app, "t@example.com").await;
    let uri = started(&app, &u.token()).await;

    let auth = fake.requests(AUTH).await;
    assert_eq!(auth.len(), 1);
    let body: Value = serde_json::from_slice(&auth[0].body).unwrap();
    assert_eq!(body["PrivateAuthType"], "0");
    assert_ne!(body["UserName"], "김건강", "personal fields travel encrypted");
    assert_eq!(fake.open(&auth[0], "UserName"), "김건강");
    assert_eq!(fake.open(&auth[0], "BirthDate"), "19780520");
    assert_eq!(fake.open(&auth[0], "UserCellphoneNumber"), "01012345678");

    let p = app.call(&u, Method::POST, &uri, None).await;
    assert_eq!(
        (p.status, p.body["data"]["syncStatus"].as_str()),
        (StatusCode::OK, Some("PENDING_APPROVAL")),
        "{}",
        p.text
    );
    let c = app.call(&u, Method::POST, &uri, None).await;
    assert_eq!(c.body["data"]["syncStatus"], "SUCCESS", "{}", c.text);
    assert_eq!(
        (c.body["data"]["receivedCheckups"].as_i64(), c.body["data"]["newCheckups"].as_i64()),
        (Some(2), Some(2))
    );

    let list = fake.requests(LIST).await;
    assert_eq!(list.len(), 2);
    let body: Value = serde_json::from_slice(&list[1].body).unwrap();
    for (k, v) in [
        ("CxId", "cx-1"),
        ("ReqTxId", "req-1"),
        ("Token", "tok-1"),
        ("TxId", "tx-1"),
        ("PrivateAuthType", "0"),
    ] {
        assert_eq!(body[k], v, "{k}");
    }
    assert_eq!(fake.open(&list[1], "UserName"), "김건강");
    assert_ne!(list[0].headers.get("ENC-KEY"), list[1].headers.get("ENC-KEY"), "a fresh key per request");

    let h = app.call(&u, Method::GET, "/api/health/checkup/history", None).await;
    let recs = h.body["data"]["checkupRecords"].as_array().unwrap();
    assert_eq!(recs.len(), 2);
    let (new, old) = (&recs[0], &recs[1]);
    assert_eq!(new["checkupDate"], "2024-10-02");
    assert_eq!((new["bloodPressure"].as_str(), new["waist"].as_f64()), (Some("145/92"), None));
    assert_eq!(new["bloodTest"]["ggt"], Value::Null, "9999 is implausible: dropped, kept raw");
    assert_eq!(
        (new["centreJudgement"].as_str(), new["centreCategory"].as_str()),
        (Some("고∙당"), Some("SUSPECTED_HTN_DM"))
    );
    // Judged by the rules in force in 2024: the category without dyslipidaemia, as the centre said.
    assert_eq!(new["assessment"]["overall"], "SUSPECTED_HTN_DM");
    assert_eq!(new["assessment"]["ruleVersion"], "MOHW-BEFORE-2026");
    assert_eq!(old["waist"], 88.5, "`waists` is an alias");
    assert_eq!(old["bloodPressure"], "120/80");
    assert_eq!(old["bloodTest"]["fastingGlucose"], Value::Null, "a word where a number belongs is blank");
    assert_eq!(
        (old["centreJudgement"].as_str(), old["centreCategory"].as_str()),
        (Some("정A"), Some("NORMAL_A"))
    );
    let id = new["id"].as_str().unwrap();
    let detail = app.call(&u, Method::GET, &format!("/api/health/checkups/{id}"), None).await;
    assert_eq!(detail.body["data"]["raw"]["Inspections"][1]["Illnesses"][0]["Items"][3]["Value"], "9999");
    assert_eq!(
        count(&pool, "SELECT count(*) FROM events.outbox WHERE event_type = 'checkup.synced'").await,
        1
    );
}

#[sqlx::test]
async fn cancelled_expired_and_rejected_approvals_fail_the_job_and_forget_its_handle(pool: PgPool) {
    for (answer, reason) in [
        (json!({"Status": "Error", "Message": "사용자가 인증을 취소하였습니다."}), "USER_CANCELLED"),
        (
            json!({"Status": "Error", "Message": "오류", "TargetMessage": "인증 요청 시간이 초과되었습니다."}),
            "APPROVAL_EXPIRED",
        ),
        (json!({"Status": "Error", "Message": "조회 결과가 없습니다."}), "AGGREGATOR_REJECTED"),
    ] {
        let fake = Fake::start().await;
        fake.list(200, answer.clone(), None).await;
        let app = app(&fake, &pool);
        let u = user(&app, &format!("{}@example.com", reason.to_lowercase())).await;
        let uri = started(&app, &u.token()).await;
        let c = app.call(&u, Method::POST, &uri, None).await;
        assert_eq!(c.status, StatusCode::OK, "{answer}: {}", c.text);
        assert_eq!(
            (c.body["data"]["syncStatus"].as_str(), c.body["data"]["failureReason"].as_str()),
            (Some("FAILED"), Some(reason))
        );
        let again = app.call(&u, Method::POST, &uri, None).await;
        assert_eq!(again.body["data"]["failureReason"], reason);
        assert_eq!(fake.requests(LIST).await.len(), 1, "a finished job does not call the aggregator again");
    }
    assert_eq!(count(&pool, "SELECT count(*) FROM health.sync_jobs WHERE handle IS NOT NULL").await, 0);
    assert_eq!(count(&pool, "SELECT count(*) FROM health.checkups").await, 0);
}

#[sqlx::test]
async fn a_5xx_or_a_timeout_is_a_503_and_the_job_stays_pending(pool: PgPool) {
    let fake = Fake::start().await;
    Mock::given(method("POST"))
        .and(path(LIST))
        .respond_with(ResponseTemplate::new(500).set_body_string("boom"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("POST"))
        .and(path(LIST))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(pending()).set_delay(std::time::Duration::from_secs(2)),
        )
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&fake.server)
        .await;
    fake.list(200, checkups(), None).await;
    let app = app(&fake, &pool);
    let u = user(&app, "down@example.com").await;
    let uri = started(&app, &u.token()).await;
    for what in ["5xx", "timeout"] {
        let c = app.call(&u, Method::POST, &uri, None).await;
        assert_eq!(c.status, StatusCode::SERVICE_UNAVAILABLE, "{what}: {}", c.text);
        assert!(!c.text.contains("boom"));
        assert_eq!(
            count(
                &pool,
                "SELECT count(*) FROM health.sync_jobs WHERE status = 'PENDING' AND handle IS NOT NULL"
            )
            .await,
            1,
            "{what}"
        );
    }
    let c = app.call(&u, Method::POST, &uri, None).await;
    assert_eq!(c.body["data"]["syncStatus"], "SUCCESS", "{}", c.text);
}

#[sqlx::test]
async fn a_refused_start_is_failed_and_without_consent_nothing_is_sent(pool: PgPool) {
    let fake = Fake::start().await;
    let first = app(&fake, &pool);
    let nc = user_with(&first, "nc@example.com", "MALE", "1980-01-01", false).await;
    let a = first.call(&nc, Method::POST, "/api/health/checkup/sync", Some(start())).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(fake.server.received_requests().await.unwrap().is_empty(), "no byte reached the aggregator");

    let refusing = MockServer::start().await;
    let f2 = Fake { server: refusing, private: fake.private };
    let public = {
        let p = PrivateDecryptingKey::generate(KeySize::Rsa2048).unwrap();
        STANDARD.encode(p.public_key().as_der().unwrap().as_ref())
    };
    Mock::given(method("GET"))
        .and(path("/api/Auth/GetPublicKey"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"Status": "OK", "ApiKey": KEY, "PublicKey": public})),
        )
        .mount(&f2.server)
        .await;
    Mock::given(method("POST"))
        .and(path(AUTH))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"Status": "Error", "Message": "입력하신 정보가 일치하지 않습니다."})),
        )
        .mount(&f2.server)
        .await;
    let app2 = app(&f2, &pool);
    let u = user(&app2, "r@example.com").await;
    let s = app2.call(&u, Method::POST, "/api/health/checkup/sync", Some(start())).await;
    assert_eq!(s.status, StatusCode::ACCEPTED, "{}", s.text);
    assert_eq!(
        (s.body["data"]["syncStatus"].as_str(), s.body["data"]["failureReason"].as_str()),
        (Some("FAILED"), Some("AGGREGATOR_REJECTED"))
    );
}
