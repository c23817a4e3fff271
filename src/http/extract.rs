//! Extractors whose rejections use the API's error shape instead of axum's plain text.

use axum::{
    extract::{
        FromRequest, FromRequestParts, Request,
        rejection::{BytesRejection, PathRejection, QueryRejection},
    },
    http::request::Parts,
};
use bytes::Bytes;
use serde::de::DeserializeOwned;

use super::error::{ApiError, FieldError};

/// A JSON body. Syntax errors are 400, a body of the wrong shape is 422 with the failing field.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        decode(&json_body(req, state, false).await?).map(ApiJson)
    }
}

/// An optional JSON body: an empty (or blank) body is `None`; anything else is read as
/// [`ApiJson`] reads it (415, 400 `MALFORMED_JSON`, 422 naming the field).
pub struct OptionalJson<T>(pub Option<T>);

impl<T, S> FromRequest<S> for OptionalJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let body = json_body(req, state, true).await?;
        if body.is_empty() {
            return Ok(OptionalJson(None));
        }
        decode(&body).map(|v| OptionalJson(Some(v)))
    }
}

/// `application/json` or any `application/*+json`, parameters aside (what axum's `Json` takes).
fn is_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            let m = m.trim().to_ascii_lowercase();
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        })
}

/// The body of a JSON request: 415 unless it is declared JSON, except a blank body where
/// `blank_is_none` (answered as empty bytes then).
async fn json_body<S: Send + Sync>(req: Request, state: &S, blank_is_none: bool) -> Result<Bytes, ApiError> {
    let json = is_json(req.headers());
    let body = Bytes::from_request(req, state).await.map_err(|rej: BytesRejection| {
        if rej.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::bad_request("BAD_BODY", "요청 본문을 읽을 수 없습니다.")
        }
    })?;
    if blank_is_none && body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Bytes::new());
    }
    if !json {
        return Err(ApiError::UnsupportedMediaType);
    }
    Ok(body)
}

/// The one JSON decoding of the API: serde_path_to_error names the failing field by its JSON
/// path (`consents[0].granted`); the reason, which may quote the input, is not echoed.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(v) => v,
        Err(e) if e.inner().is_data() => return Err(shape_error(&e.path().to_string(), e.inner())),
        Err(_) => return Err(malformed()),
    };
    // Trailing characters after the value are a syntax error, as for `serde_json::from_slice`.
    de.end().map_err(|_| malformed())?;
    Ok(value)
}

fn malformed() -> ApiError {
    ApiError::bad_request("MALFORMED_JSON", "요청 본문이 올바른 JSON이 아닙니다.")
}

/// A body of the wrong shape: 422 naming the failing field (the body as a whole when the path is
/// the root, except a missing top-level field, which serde names).
fn shape_error(path: &str, err: &serde_json::Error) -> ApiError {
    let field = if path != "." && !path.is_empty() {
        path.to_string()
    } else {
        let text = err.to_string();
        text.split_once("missing field `")
            .and_then(|(_, r)| r.split_once('`'))
            .map_or_else(|| "body".to_string(), |(name, _)| name.to_string())
    };
    ApiError::Validation(vec![FieldError::new(field, "형식이 올바르지 않거나 누락되었습니다.")])
}

/// Path parameters; a malformed one (say, not a UUID) is a 400 naming the parameter.
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| ApiPath(v))
            .map_err(|rej: PathRejection| {
                tracing::debug!(reason = %rej.body_text(), "path rejected");
                ApiError::bad_request("BAD_PATH", "주소의 식별자 형식이 올바르지 않습니다.")
            })
    }
}

/// Query parameters; a malformed one is a 400.
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| ApiQuery(v))
            .map_err(|_: QueryRejection| {
                ApiError::bad_request("BAD_QUERY", "쿼리 매개변수 형식이 올바르지 않습니다.")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::decode;
    use crate::http::ApiError;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Answer {
        note: String,
        consents: Vec<Consent>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Consent {
        granted: bool,
    }

    fn field(body: &str) -> String {
        match decode::<Answer>(body.as_bytes()) {
            Err(ApiError::Validation(f)) => f[0].field.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_failing_field_is_named_by_its_json_path_or_the_missing_name() {
        assert_eq!(field(r#"{"note": 5, "consents": []}"#), "note");
        assert_eq!(field(r#"{"consents": []}"#), "note");
        assert_eq!(field(r#"{"note": "n", "consents": [{"granted": "x"}]}"#), "consents[0].granted");
        assert_eq!(field("5"), "body");
        assert!(matches!(decode::<Answer>(b"{"), Err(ApiError::BadRequest { code: "MALFORMED_JSON", .. })));
        assert!(matches!(
            decode::<Answer>(br#"{"note": "n", "consents": []} x"#),
            Err(ApiError::BadRequest { code: "MALFORMED_JSON", .. })
        ));
        assert!(decode::<Answer>(br#" {"note": "n", "consents": []} "#).is_ok());
    }
}
