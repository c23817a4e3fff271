//! Tilko's NHIS simple-authentication contract (the facts are from its public SDKs, e.g. the
//! repository `Tilkoblet/Node.js`, folder `UnitTest/KR/OR/NHIS/`):
//!
//! 1. `GET api/Auth/GetPublicKey?APIkey=…` → `{Status:"OK", ApiKey, PublicKey}` (base64 X.509).
//! 2. `POST api/v1.0/NhisSimpleAuth/SimpleAuthRequest` with `PrivateAuthType` and the encrypted
//!    `UserName`, `BirthDate` (yyyyMMdd), `UserCellphoneNumber` → `ResultData` {`CxId`, `ReqTxId`,
//!    `Token`, `TxId`}: the user now approves in their app.
//! 3. `POST api/v1.0/NhisSimpleAuth/Ggpab003M0105` with those ids, `PrivateAuthType` and the same
//!    encrypted personal fields → `ResultList` of checkups (`Year`, `CheckUpDate`, `Code`,
//!    `Location`, `Description`, `Inspections[].Illnesses[].Items[]{Name, Value}`).
//!
//! Every request carries `API-KEY` and `ENC-KEY` (see `crypto`). An answer with `Status` other than
//! `OK` is read by its messages: not yet approved (pending), cancelled, expired, or anything else
//! (a rejection the user sees as FAILED). Transport failures, timeouts and 5xx are the dependency
//! being down (503): they count against the breaker, and a pending job stays pending.

pub mod crypto;
pub mod map;

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::RwLock;

use super::{CheckupProvider, Completion, ProviderError, StartOutcome, StartRequest};
use crate::platform::{
    http_client::LazyClient,
    resilience::{Breaker, CallError},
};

#[derive(Clone)]
pub struct TilkoConfig {
    pub api_key: SecretString,
    /// Ends with `/` (`https://api.tilko.net/`).
    pub base_url: url::Url,
    pub timeout: Duration,
}

/// What the second step needs, kept in the job until it ends.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Handle {
    cx_id: String,
    private_auth_type: String,
    req_tx_id: String,
    token: String,
    tx_id: String,
    user_name: String,
    birth_date: String,
    user_cellphone_number: String,
}

pub struct Tilko {
    config: TilkoConfig,
    client: LazyClient,
    breaker: Arc<Breaker>,
    public_key: RwLock<Option<String>>,
}

/// How a call went wrong, for the breaker: only the dependency's own failures count.
#[derive(Debug)]
enum CallFailure {
    /// Timeout, connection failure, 5xx, an unreadable answer.
    Down(anyhow::Error),
    /// 4xx: our request or our key.
    Refused(anyhow::Error),
}

impl CallFailure {
    fn into_provider(self) -> ProviderError {
        match self {
            CallFailure::Down(e) | CallFailure::Refused(e) => ProviderError::Unavailable(e),
        }
    }
}

/// What an answer other than `Status: OK` means, read from its messages.
#[derive(Debug, PartialEq, Eq)]
pub enum NotOk {
    Pending,
    Cancelled,
    Expired,
    Other,
}

pub fn classify(answer: &Value) -> NotOk {
    let text: String = ["Message", "TargetMessage", "ErrorLog"]
        .iter()
        .filter_map(|k| answer.get(*k).and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    let has = |w: &str| text.contains(w);
    if has("취소") || has("거절") {
        NotOk::Cancelled
    } else if has("만료") || (has("시간") && has("초과")) {
        NotOk::Expired
    } else if (has("승인") || has("인증")) && (has("대기") || has("완료되지") || has("진행") || has("미완료")) {
        NotOk::Pending
    } else {
        NotOk::Other
    }
}

impl Tilko {
    pub fn new(config: TilkoConfig, client: LazyClient) -> Self {
        Self {
            config,
            client,
            breaker: Arc::new(Breaker::new("tilko", 5, Duration::from_secs(30))),
            public_key: RwLock::new(None),
        }
    }

    fn url(&self, path: &str) -> anyhow::Result<url::Url> {
        Ok(self.config.base_url.join(path)?)
    }

    /// One HTTP exchange; 502/503/504 and connection failures are retried once with jitter when
    /// `retry` (reads only: a repeated start would push a second approval to the user's phone).
    async fn exchange(&self, req: impl Fn() -> reqwest::RequestBuilder, retry: bool) -> Result<Value, CallFailure> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let res = req().timeout(self.config.timeout).send().await;
            let transient = match &res {
                Err(e) => e.is_connect(),
                Ok(r) => matches!(r.status().as_u16(), 502..=504),
            };
            if transient && retry && attempt == 1 {
                let wait = rand::rng().random_range(100..300);
                tokio::time::sleep(Duration::from_millis(wait)).await;
                continue;
            }
            let res = res.map_err(|e| CallFailure::Down(anyhow::Error::new(e).context("calling Tilko")))?;
            let status = res.status();
            if status.is_server_error() {
                return Err(CallFailure::Down(anyhow::anyhow!("Tilko answered {status}")));
            }
            if !status.is_success() {
                return Err(CallFailure::Refused(anyhow::anyhow!("Tilko refused the request: {status}")));
            }
            return res.json::<Value>().await.map_err(|e| CallFailure::Down(anyhow::Error::new(e).context("reading Tilko's answer")));
        }
    }

    async fn call(&self, req: impl Fn() -> reqwest::RequestBuilder, retry: bool) -> Result<Value, ProviderError> {
        self.breaker
            .call(|f: &CallFailure| matches!(f, CallFailure::Down(_)), || self.exchange(req, retry))
            .await
            .map_err(|e| match e {
                CallError::Open(open) => ProviderError::Unavailable(anyhow::Error::new(open)),
                CallError::Failed(f) => f.into_provider(),
            })
    }

    async fn public_key(&self) -> Result<String, ProviderError> {
        if let Some(k) = self.public_key.read().await.clone() {
            return Ok(k);
        }
        let mut url = self.url("api/Auth/GetPublicKey").map_err(ProviderError::Unavailable)?;
        url.query_pairs_mut().append_pair("APIkey", self.config.api_key.expose_secret());
        let answer = self.call(|| self.client.get().get(url.clone()), true).await?;
        let public = answer
            .get("PublicKey")
            .and_then(Value::as_str)
            .filter(|_| answer.get("Status").and_then(Value::as_str) == Some("OK"))
            .ok_or_else(|| ProviderError::Unavailable(anyhow::anyhow!("Tilko served no public key")))?
            .to_string();
        *self.public_key.write().await = Some(public.clone());
        Ok(public)
    }

    /// POSTs `plain` fields as they are and `secret` fields encrypted under a fresh key.
    async fn post(&self, path: &str, plain: &[(&str, &str)], secret: &[(&str, &str)], retry: bool) -> Result<Value, ProviderError> {
        let cipher = crypto::RequestCipher::new(&self.public_key().await?).map_err(ProviderError::Unavailable)?;
        let mut body = serde_json::Map::new();
        for (k, v) in plain {
            body.insert(k.to_string(), json!(v));
        }
        for (k, v) in secret {
            body.insert(k.to_string(), json!(cipher.encrypt(v).map_err(ProviderError::Unavailable)?));
        }
        let url = self.url(path).map_err(ProviderError::Unavailable)?;
        let body = Value::Object(body);
        self.call(
            || {
                self.client
                    .get()
                    .post(url.clone())
                    .header("API-KEY", self.config.api_key.expose_secret())
                    .header("ENC-KEY", &cipher.enc_key_header)
                    .json(&body)
            },
            retry,
        )
        .await
    }
}

fn ok(answer: &Value) -> bool {
    answer.get("Status").and_then(Value::as_str).is_some_and(|s| s.eq_ignore_ascii_case("OK"))
}

fn reason(kind: NotOk) -> &'static str {
    match kind {
        NotOk::Cancelled => "USER_CANCELLED",
        NotOk::Expired => "APPROVAL_EXPIRED",
        NotOk::Pending | NotOk::Other => "AGGREGATOR_REJECTED",
    }
}

#[async_trait]
impl CheckupProvider for Tilko {
    fn name(&self) -> &'static str {
        "tilko"
    }

    async fn start(&self, req: &StartRequest) -> Result<StartOutcome, ProviderError> {
        let auth_type = req.login_type.tilko_code();
        let birth = req.birth_date.format("%Y%m%d").to_string();
        let personal = [("UserName", req.name.as_str()), ("BirthDate", birth.as_str()), ("UserCellphoneNumber", req.phone.as_str())];
        let answer = self
            .post("api/v1.0/NhisSimpleAuth/SimpleAuthRequest", &[("PrivateAuthType", auth_type)], &personal, false)
            .await?;
        if !ok(&answer) {
            return Ok(StartOutcome::Rejected(reason(classify(&answer)).into()));
        }
        let data = answer.get("ResultData").unwrap_or(&Value::Null);
        let field = |k: &str| data.get(k).and_then(Value::as_str).map(str::to_string);
        let (Some(cx_id), Some(req_tx_id), Some(token), Some(tx_id)) =
            (field("CxId"), field("ReqTxId"), field("Token"), field("TxId"))
        else {
            return Err(ProviderError::Unavailable(anyhow::anyhow!("Tilko's simple-auth answer lacks its ids")));
        };
        let handle = Handle {
            cx_id,
            private_auth_type: auth_type.into(),
            req_tx_id,
            token,
            tx_id,
            user_name: req.name.clone(),
            birth_date: birth,
            user_cellphone_number: req.phone.clone(),
        };
        Ok(StartOutcome::Waiting(serde_json::to_value(handle).map_err(|e| ProviderError::Unavailable(e.into()))?))
    }

    async fn complete(&self, handle: &Value) -> Result<Completion, ProviderError> {
        let h: Handle = serde_json::from_value(handle.clone())
            .map_err(|e| ProviderError::Unavailable(anyhow::Error::new(e).context("a malformed Tilko handle")))?;
        let plain = [
            ("CxId", h.cx_id.as_str()),
            ("PrivateAuthType", h.private_auth_type.as_str()),
            ("ReqTxId", h.req_tx_id.as_str()),
            ("Token", h.token.as_str()),
            ("TxId", h.tx_id.as_str()),
        ];
        let personal = [
            ("UserName", h.user_name.as_str()),
            ("BirthDate", h.birth_date.as_str()),
            ("UserCellphoneNumber", h.user_cellphone_number.as_str()),
        ];
        let answer = self.post("api/v1.0/NhisSimpleAuth/Ggpab003M0105", &plain, &personal, true).await?;
        if !ok(&answer) {
            return Ok(match classify(&answer) {
                NotOk::Pending => Completion::Pending,
                NotOk::Cancelled => Completion::Cancelled,
                NotOk::Expired => Completion::Expired,
                NotOk::Other => Completion::Rejected(reason(NotOk::Other).into()),
            });
        }
        let list = answer.get("ResultList").and_then(Value::as_array).cloned().unwrap_or_default();
        Ok(Completion::Approved(map::map_list(&list)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_that_are_not_ok_are_read_by_their_messages() {
        let m = |s: &str| json!({"Status": "Error", "Message": s});
        assert_eq!(classify(&m("간편인증 승인 대기 중입니다.")), NotOk::Pending);
        assert_eq!(classify(&m("간편인증이 완료되지 않았습니다.")), NotOk::Pending);
        assert_eq!(classify(&m("사용자가 인증을 취소하였습니다.")), NotOk::Cancelled);
        assert_eq!(classify(&m("인증 요청 시간이 초과되었습니다.")), NotOk::Expired);
        assert_eq!(classify(&json!({"Status": "Error", "TargetMessage": "인증 유효시간이 만료되었습니다"})), NotOk::Expired);
        assert_eq!(classify(&m("입력하신 정보가 일치하지 않습니다.")), NotOk::Other);
    }
}
